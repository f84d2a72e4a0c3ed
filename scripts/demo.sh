#!/usr/bin/env bash
# The demo command: bash scripts/demo.sh
#
# On a fresh Debian 12 machine (as root) it installs what is missing, builds bulb in build/,
# runs a short taxi fleet simulation (coroutines on the virtual clock), shows an echo round trip
# (examples/echo_server + echo_client over loopback), then runs the chat server on
# 127.0.0.1:8888 in the foreground and says how to join it from two terminals. Ctrl-C stops it.
# BULB_DEMO_CHAT=0 skips the chat server (for unattended runs).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

export LANG=${LANG:-C.UTF-8}

log "dependencies"
ensure_packages "${BULB_PACKAGES[@]}"

log "build (build/)"
# The same options as the normal build of scripts/test.sh, so the two share build/.
setup_builddir build -Dtests=true -Db_sanitize=none
meson compile -C build taxi_sim echo_server echo_client chat_server chat_client </dev/null

log "taxi_sim --taxis 3 --trips 2 --virtual"
build/examples/taxi_sim --taxis 3 --trips 2 --seed 7 --virtual </dev/null

log "echo round trip"
build/examples/echo_server --port 0 > /tmp/bulb-demo-echo.$$ &
echo_pid=$!
trap 'kill "$echo_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening /tmp/bulb-demo-echo.$$ && break; sleep 0.1; done
port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' /tmp/bulb-demo-echo.$$ | head -n 1)
build/examples/echo_client --port "$port" --message "hello from bulb" </dev/null
kill -TERM "$echo_pid"; wait "$echo_pid" || true
rm -f /tmp/bulb-demo-echo.$$
trap - EXIT

if [ "${BULB_DEMO_CHAT:-1}" = 0 ]; then exit 0; fi
log "chat server on 127.0.0.1:8888 -- join from two other terminals with:"
log "    build/examples/chat_client --port 8888     (or: nc 127.0.0.1 8888)"
log "pick a nickname, then chat; /nick NAME, /list, /me ACTION, /quit. Ctrl-C stops the server."
exec build/examples/chat_server --port 8888 --motd "welcome to the bulb demo" </dev/null
