#!/usr/bin/env bash
# The demo command: bash scripts/demo.sh [TAXI_SIM_OPTIONS...]
#
# On a fresh Debian 12 machine (as root) it installs what is missing, builds bulb in build/ and
# runs the taxi fleet simulation (examples/taxi_sim.cpp: one coroutine task per taxi, timers
# on the real clock) so that it finishes in a few seconds. Options replace the defaults, e.g.
#     bash scripts/demo.sh --taxis 5 --trips 2 --virtual
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

export LANG=${LANG:-C.UTF-8}
args=("$@")
[ "${#args[@]}" -gt 0 ] || args=(--taxis 3 --trips 3 --seed 7 --time-scale 0.05)

log "dependencies"
ensure_packages "${BULB_PACKAGES[@]}"

log "build (build/)"
# The same options as the normal build of scripts/test.sh, so the two share build/.
setup_builddir build -Dtests=true -Db_sanitize=none
meson compile -C build taxi_sim </dev/null

log "build/examples/taxi_sim ${args[*]}"
exec build/examples/taxi_sim "${args[@]}" </dev/null
