#!/usr/bin/env bash
# Soak: mixed echo, streams, chat and TLS load with churn for MINUTES (RELIABILITY.md test 31, T2).
#
#     bash scripts/soak.sh MINUTES [BUILDDIR] [--seed N]
#
# Bounded and self-stopping: the driver (scripts/soak.py) stops its clients at the deadline, and
# `timeout` ends everything 3 minutes after it regardless. RSS and descriptor counts of every
# server are printed every 10 s; the run fails if they drift over the second half, if any
# well-behaved exchange was not byte-exact, or if a server does not exit cleanly.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
minutes=${1:?usage: soak.sh MINUTES [BUILDDIR] [--seed N]}
build=${2:-build}
shift $(( $# >= 2 ? 2 : 1 ))
seconds=$(python3 -c "print(int(float('$minutes') * 60))")
exec timeout --kill-after=10 $((seconds + 180)) python3 scripts/soak.py "$build" "$seconds" "$@"
