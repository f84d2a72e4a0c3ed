#!/usr/bin/env bash
# The test command: bash scripts/test.sh
#
# On a fresh Debian 12 machine (as root) it installs what is missing, then builds and runs the
# whole meson test suite twice -- a normal build with g++ (build/) and an ASan+UBSan build with
# clang++-16 (build-asan/), so both compilers stay supported -- and the 'tsan' suite in a
# ThreadSanitizer build with g++ (build-tsan/). The last line of its output
# is always the total over all builds, alone on its line:
#     N passed, N failed
# counting doctest test cases of each test executable, and every other meson test (install,
# headers, ...) as one. Exits non-zero when anything failed.
#
# Environment: BULB_TEST_BUILDS="normal asan tsan" (a subset runs fewer builds),
#              BULB_TEST_JOBS=2 (meson test --num-processes).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

export LANG=${LANG:-C.UTF-8}
builds=${BULB_TEST_BUILDS:-normal asan tsan}
jobs=${BULB_TEST_JOBS:-2}
start=$SECONDS

total_passed=0 total_failed=0
report=()

# The summary is printed on every exit, also when something above it failed (set -e): the
# last line is always "N passed, N failed", and an error outside the tests counts as a failure.
finish() {
    local rc=$?
    trap - EXIT
    if [ "$rc" -ne 0 ] && [ "$total_failed" -eq 0 ]; then
        total_failed=1
        report+=("the test script itself failed (exit status $rc) before the tests could finish")
    fi
    printf '\n=== summary (%ss)\n' "$((SECONDS - start))"
    local line
    for line in "${report[@]}"; do printf '  %s\n' "$line"; done
    printf '%d passed, %d failed\n' "$total_passed" "$total_failed"
    [ "$total_failed" -eq 0 ] || exit 1
    exit "$rc"
}
trap finish EXIT

# count_results BUILDDIR: reads meson's testlog.json and prints "passed failed skipped notes".
count_results() {
    python3 - "$1/meson-logs/testlog.json" <<'PY'
import json, re, sys
summary = re.compile(r"\[doctest\] test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed"
                     r"(?:\s*\|\s*(\d+) skipped)?")
passed = failed = skipped = 0
notes = []
try:
    lines = open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines()
except OSError:
    lines = []
for line in lines:
    if not line.strip():
        continue
    t = json.loads(line)
    name, result = t.get("name", "?"), t.get("result", "?")
    ok = result in ("OK", "EXPECTEDFAIL")
    found = summary.findall((t.get("stdout") or "") + "\n" + (t.get("stderr") or ""))
    if found:
        p = sum(int(m[1]) for m in found)
        f = sum(int(m[2]) for m in found)
        s = sum(int(m[3] or 0) for m in found)
        if not ok and f == 0:
            f = 1  # the cases passed but the process failed (sanitizer report at exit, ...)
            notes.append(f"{name}: {result} after its test cases passed")
        if p + f + s == 0:
            notes.append(f"{name}: ran no test case (check its filter)")
        passed, failed, skipped = passed + p, failed + f, skipped + s
    elif result == "SKIP":
        skipped += 1
    elif ok:
        passed += 1
    else:
        failed += 1
        notes.append(f"{name}: {result}")
print(passed, failed, skipped, "; ".join(notes))
PY
}

# run_build NAME BUILDDIR: configure with the options in `setup`, compile, run meson test with
# `test_args` in the environment `test_env`, and add its counts to the totals.
run_build() {
    local name=$1 dir=$2 rc=0
    log "[$name] meson setup $dir ${setup[*]}${setup_env[*]:+ (${setup_env[*]})}"
    if ! (for kv in "${setup_env[@]}"; do export "${kv?}"; done; setup_builddir "$dir" "${setup[@]}"); then
        total_failed=$((total_failed + 1)); report+=("$name: meson setup failed"); return 0
    fi
    rm -f "$dir/meson-logs/testlog.json"

    log "[$name] compile"
    if [ "$name" = tsan ]; then
        # Only what the 'tsan' tests need: the rest of the tree is checked by the other builds.
        local targets
        mapfile -t targets < <(tsan_targets "$dir")
        if [ "${#targets[@]}" -eq 0 ]; then
            report+=("$name: no test in suite 'tsan' -- nothing to run"); return 0
        fi
        ninja -C "$dir" "${targets[@]}" </dev/null || rc=$?
    else
        meson compile -C "$dir" </dev/null || rc=$?
    fi
    if [ "$rc" -ne 0 ]; then
        total_failed=$((total_failed + 1)); report+=("$name: the build failed"); return 0
    fi

    log "[$name] meson test ${test_args[*]}${test_env[*]:+ (${test_env[*]})}"
    env "${test_env[@]}" meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes "$jobs" \
        "${test_args[@]}" </dev/null || rc=$?

    local p f s notes
    if ! read -r p f s notes < <(count_results "$dir"); then
        p=0 f=0 s=0 notes="cannot read $dir/meson-logs/testlog.json"
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1; notes="${notes:+$notes; }meson test exited with status $rc"
    fi
    total_passed=$((total_passed + p)) total_failed=$((total_failed + f))
    report+=("$name: $p passed, $f failed, $s skipped${notes:+ ($notes)}")
}

# The files to build for the tests of the 'tsan' suite: their executables and depends.
tsan_targets() {
    meson introspect --tests --targets "$1" | python3 -c '
import json, os, sys
info = json.load(sys.stdin)
build = os.path.realpath(sys.argv[1])
ids = {t["id"]: t for t in info["targets"]}
out = []
for t in info["tests"]:
    if not any(s == "tsan" or s.endswith(":tsan") for s in t["suite"]):
        continue
    files = [t["cmd"][0]] if t["cmd"] and t["cmd"][0].startswith(build + os.sep) else []
    for d in t.get("depends", []):
        files += ids[d]["filename"] if d in ids else []
    out += [os.path.relpath(f, build) for f in files]
for f in dict.fromkeys(out):
    print(f)
' "$1"
}

# A TSan runtime that cannot map its shadow memory (some kernels' ASLR settings) fails every
# program the same way: check once with a tiny program and skip the build instead.
tsan_usable() {
    local tmp rc=0
    tmp=$(mktemp -d)
    printf '#include <thread>\nint x; int main() { std::thread t([] { x = 1; }); t.join(); return x - 1; }\n' >"$tmp/t.cpp"
    { c++ -std=c++20 -fsanitize=thread "$tmp/t.cpp" -o "$tmp/t" && "$tmp/t"; } >"$tmp/log" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || { echo "(ThreadSanitizer does not work here:)"; head -5 "$tmp/log"; }
    rm -rf "$tmp"
    return "$rc"
}

log "dependencies"
ensure_packages "${BULB_PACKAGES[@]}"

for b in $builds; do
    setup=(-Dtests=true) setup_env=() test_args=() test_env=()
    case $b in
    normal)
        setup+=(-Db_sanitize=none)
        run_build normal build
        ;;
    asan)
        # clang: the compiler recommended for coroutine code (README, "Compilers"); its
        # libstdc++ is the system's, its sanitizer runtimes come from libclang-rt-16-dev.
        setup_env=("CXX=$(command -v ccache >/dev/null && echo 'ccache ')$BULB_CLANGXX")
        setup+=("-Db_sanitize=address,undefined" -Db_lundef=false)
        test_args=(--timeout-multiplier 3)
        test_env=(ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:print_stacktrace=1
                  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1)
        run_build asan build-asan
        ;;
    tsan)
        # Runs only the suite 'tsan': tag a test with it (suite : ['core', 'tsan']) to run it
        # under ThreadSanitizer too.
        if tsan_usable; then
            setup+=(-Db_sanitize=thread -Db_lundef=false)
            test_args=(--suite tsan --timeout-multiplier 5)
            test_env=(TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1)
            run_build tsan build-tsan
        else
            report+=("tsan: skipped, ThreadSanitizer does not run on this machine")
        fi
        ;;
    *) echo "unknown build '$b' in BULB_TEST_BUILDS" >&2; exit 2 ;;
    esac
done
