#!/usr/bin/env bash
# Fuzzes every decoder of libbulb-protocols with libFuzzer (clang, -fsanitize=fuzzer,address,undefined):
#     bash scripts/fuzz.sh [SECONDS]          (default 60 per target)
# Targets and seed corpora are in tests/protocols/fuzz/ (fuzz_TARGET.cpp, corpus/TARGET/). Builds
# into $BULB_FUZZ_DIR (default build-fuzz/); new inputs go to $BULB_FUZZ_DIR/corpus/TARGET, a
# crash to $BULB_FUZZ_DIR/crash-TARGET-* (add it to the seed corpus and as a regression test).
# Exits 1 when a target fails; 77 (skipped) when clang or libFuzzer is missing outside Debian
# (on Debian, scripts/lib.sh's BULB_PACKAGES installs clang and libfuzzer-14-dev).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-60}
out=${BULB_FUZZ_DIR:-build-fuzz}
fuzz=tests/protocols/fuzz
targets=(line netstring length_prefixed resp http_request http_response)
sources=(frame_error line_codec netstring_codec length_prefixed_codec resp_decode resp_encode resp_value http/message http/parser)
cxx=${BULB_FUZZ_CXX:-clang++}
flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -Iinclude -Iprotocols/include -Wno-missing-field-initializers)
sanitize=address,undefined

missing() {
    echo "fuzz: $1" >&2
    if command -v dpkg-query >/dev/null 2>&1; then
        echo "fuzz: install clang and libfuzzer-14-dev (scripts/lib.sh lists them in BULB_PACKAGES)" >&2
        exit 1
    fi
    echo "fuzz: skipped (not Debian)" >&2
    exit 77
}

command -v "$cxx" >/dev/null 2>&1 || missing "$cxx not found"
mkdir -p "$out/obj"
probe=$out/obj/probe
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' >"$probe.cpp"
"$cxx" -fsanitize=fuzzer "$probe.cpp" -o "$probe" >/dev/null 2>&1 || missing "$cxx cannot link -fsanitize=fuzzer (libFuzzer)"

# Objects of the codec sources (plain C++: no libbulb, no loop), rebuilt when a source or header is newer.
newest_header=$(find include protocols/include "$fuzz" -name '*.hpp' -printf '%T@\n' | sort -n | tail -1)
stale() {  # stale OUTPUT INPUT...: true when OUTPUT is missing or older than an input or a header
    [ -e "$1" ] || return 0
    local t f
    t=$(stat -c %Y "$1")
    [ "${newest_header%.*}" -lt "$t" ] || return 0
    for f in "${@:2}"; do [ "$(stat -c %Y "$f")" -lt "$t" ] || return 0; done
    return 1
}
objects=()
for s in "${sources[@]}"; do
    o=$out/obj/${s//\//_}.o
    if stale "$o" "protocols/src/$s.cpp"; then
        "$cxx" "${flags[@]}" -fsanitize=fuzzer-no-link,$sanitize -c "protocols/src/$s.cpp" -o "$o"
    fi
    objects+=("$o")
done

failed=0
for t in "${targets[@]}"; do
    bin=$out/fuzz_$t
    if stale "$bin" "$fuzz/fuzz_$t.cpp" "${objects[@]}"; then
        "$cxx" "${flags[@]}" -fsanitize=fuzzer,$sanitize "$fuzz/fuzz_$t.cpp" "${objects[@]}" -o "$bin"
    fi
    mkdir -p "$out/corpus/$t"
    log=$out/fuzz_$t.log
    rc=0
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
        "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
        -artifact_prefix="$out/crash-$t-" "$out/corpus/$t" "$fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    [ -n "$runs" ] || runs=$(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    if [ "$rc" -eq 0 ]; then
        echo "fuzz_$t: ok, ${runs:-?} inputs in ${seconds} s"
    else
        failed=1
        echo "fuzz_$t: FAILED (exit status $rc); the input is in $out/crash-$t-*; the log ($log) ends:"
        tail -30 "$log"
    fi
done
exit "$failed"
