#!/usr/bin/env bash
# Server CPU per request of echo_server --workers 1 vs --workers 2 (bench/README.md, "All the
# cores"), alternating runs so that load drifts hit both alike. The load client is
# ../shared/bench/echo_client.c (one thread, epoll), built here; it reads the server's CPU time
# from /proc. The client is pinned to CPU $CLIENT_CPU (default 1; "" leaves it free): the server's
# loops share the CPUs with it, which changes wall time, not the server's CPU per request.
# Usage: [CLIENT_CPU=N] bench/run_group_echo.sh [BUILDDIR] [ROUNDS] [SECONDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build} rounds=${2:-3} secs=${3:-4}
client_cpu=${CLIENT_CPU-1}
pin=()
[[ -n $client_cpu ]] && pin=(taskset -c "$client_cpu")
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); client on CPU ${client_cpu:-any}; $build"
client=$(mktemp /tmp/bulb_group_echo_client.XXXXXX)
pid=
trap 'rm -f "$client"; [[ -n $pid ]] && kill "$pid" 2>/dev/null; true' EXIT
cc -O2 -o "$client" ../../shared/bench/echo_client.c -lssl -lcrypto 2>/dev/null ||
    cc -O2 -o "$client" /work/shared/bench/echo_client.c -lssl -lcrypto
for r in $(seq "$rounds"); do
    for w in 1 2; do
        out=$(mktemp)
        "$build/examples/echo_server" --port 0 --workers "$w" >"$out" &
        pid=$!
        for _ in $(seq 50); do grep -q listening "$out" && break; sleep 0.1; done
        port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$out" | head -1)
        printf 'round %s workers %s: ' "$r" "$w"
        "${pin[@]}" "$client" --port "$port" --conns 20 --size 64 --duration "$secs" --warmup 1 --server-pid "$pid" | tr '\n' ' '
        echo
        kill -TERM "$pid"; wait "$pid" || true; pid=
        rm -f "$out"
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
