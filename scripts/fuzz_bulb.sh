#!/usr/bin/env bash
# Runs one of libbulb's own libFuzzer targets (tests/reliability/fuzz/: the transport-operation
# and TLS record-feed fuzzers) for a bounded time:
#     bash scripts/fuzz_bulb.sh BINARY [SECONDS] [SEED_CORPUS_DIR]     (default 60 s)
# The targets are built by the clang ASan+UBSan meson build (build-asan/tests/reliability/
# fuzz_*; `ninja -C build-asan tests/reliability/fuzz_transport_ops`), which also runs them for
# 10 s each (after replaying the committed seed corpus) in the test command. New inputs go to
# $BULB_FUZZ_DIR/corpus (default build-fuzz-bulb/), a crash to $BULB_FUZZ_DIR/crash-NAME-*:
# triage it (BULB_FUZZ_TRACE=1 BINARY CRASH prints the operations) and add it to the seed corpus.
# BULB_FUZZ_FRESH=1 empties $BULB_FUZZ_DIR/corpus first, so the replay stays as short as the
# seed corpus however often the run is repeated (the test command sets it).
set -euo pipefail

bin=$1
seconds=${2:-60}
seeds=${3:-}
name=$(basename "$bin")
out=${BULB_FUZZ_DIR:-build-fuzz-bulb}
[ "${BULB_FUZZ_FRESH:-0}" = 1 ] && rm -rf "$out/corpus"
mkdir -p "$out/corpus"
log=$out/$name.log
dirs=("$out/corpus")
[ -n "$seeds" ] && [ -d "$seeds" ] && dirs+=("$seeds")
rc=0
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:detect_leaks=1 \
    "$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=4096 \
    -artifact_prefix="$out/crash-$name-" "${dirs[@]}" >"$log" 2>&1 || rc=$?
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
[ -n "$runs" ] || runs=$(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#')
if [ "$rc" -eq 0 ]; then
    echo "$name: ok, ${runs:-?} inputs in $seconds s"
    grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -1
else
    echo "$name: FAILED (exit status $rc); the input is in $out/crash-$name-*; the log ($log) ends:"
    tail -40 "$log"
fi
exit "$rc"
