#!/usr/bin/env bash
# run_micro.sh: bulb's loop micro-benchmarks against a C floor (libevent driven directly) and,
# as context, asyncio and uvloop, in the same run.
#
# 1. builds bench_micro and bench_floor_libevent in a release build dir (BUILD_DIR, default
#    build-bench);
# 2. makes sure Debian's python3 can import uvloop (apt-get install python3-uvloop if not);
# 3. runs the shared asyncio/uvloop runner ($SHARED_BENCH/micro/run_micro.sh), then bench_micro,
#    both pinned to the same CPU (taskset -c $MICRO_CPU);
#    then bench_micro --warm (every run on one loop after a warm-up: the steady state) and
#    bench_floor_libevent (warm too);
# 4. prints the steady-state table first (bulb warm vs the libevent floor, page faults per run
#    beside each figure), then the cold comparison with the Python loops (uvloop/bulb ratio).
#    Why both: cold runs on a fresh loop mostly measure page faults (Python returns its memory
#    between runs, bulb's pools keep theirs), so the "x times uvloop" ratio follows the host's
#    page-fault cost; the warm figures against the C floor measure the loop.
#
# Environment:
#   QUICK=1         a tenth of the operations (both sides)            (default 0)
#   MICRO_REPEAT    runs per benchmark and loop, each on a new loop    (default 3)
#   MICRO_CPU       CPU to pin to                                      (default 1)
#   SHARED_BENCH    the shared harness folder                          (default <repo>/../shared/bench)
#   PY              interpreter for the Python side                    (default /usr/bin/python3)
#   GC_MODES        Python GC tables to make ("off", "off on")         (default off; the comparison
#                   always uses the GC-off figures)
#   BUILD_DIR       release build dir                                  (default <repo>/build-bench)
#   SKIP_BUILD=1    use the bench_micro already in BUILD_DIR
#   NO_APT=1        never run apt-get (asyncio only if uvloop is missing)
#   TARGET          required uvloop/bulb ratio for (a), (b), (c)       (default 20)
#   LOG_DIR         where raw outputs go            (default $BUILD_DIR/logs/<date-time>)
# The report goes to stdout, progress to stderr. Exit status 1 if a side failed to run.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

QUICK="${QUICK:-0}"
REPEAT="${MICRO_REPEAT:-3}"
CPU="${MICRO_CPU:-1}"
PY="${PY:-/usr/bin/python3}"
GC_MODES="${GC_MODES:-off}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-bench}"
TARGET="${TARGET:-20}"
if [[ -z "${SHARED_BENCH:-}" ]]; then
    SHARED_BENCH="$ROOT/../shared/bench"
    [[ -d "$SHARED_BENCH" ]] || SHARED_BENCH=/work/shared/bench
fi
SHARED_BENCH="$(cd "$SHARED_BENCH" 2>/dev/null && pwd)" || {
    echo "run_micro: SHARED_BENCH folder not found" >&2
    exit 1
}
LOG_DIR="${LOG_DIR:-$BUILD_DIR/logs/$(date +%Y%m%d-%H%M%S)}"

log() { echo "run_micro: $*" >&2; }

# --- 1. build -------------------------------------------------------------------------------
BIN="$BUILD_DIR/bench/bench_micro"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
        opts=(--buildtype=release)
        # the tests are not needed here; only pass the option if the project has it
        if grep -qs "option('tests'" "$ROOT/meson_options.txt" "$ROOT/meson.options"; then
            opts+=(-Dtests=false)
        fi
        log "meson setup $BUILD_DIR ${opts[*]}"
        meson setup "$BUILD_DIR" "$ROOT" "${opts[@]}" >&2 || exit 1
    fi
    log "building bench_micro bench_floor_libevent"
    ninja -C "$BUILD_DIR" bench/bench_micro bench/bench_floor_libevent >&2 || exit 1
fi
[[ -x "$BIN" ]] || {
    log "$BIN missing"
    exit 1
}
mkdir -p "$LOG_DIR" || exit 1

# --- 2. uvloop ------------------------------------------------------------------------------
if ! "$PY" -c 'import uvloop' 2>/dev/null; then
    if [[ "${NO_APT:-0}" != 1 && "$PY" == /usr/bin/python3* ]] && command -v apt-get >/dev/null; then
        log "$PY cannot import uvloop: apt-get install -y python3-uvloop"
        SUDO=()
        [[ "$(id -u)" != 0 ]] && SUDO=(sudo -n)
        if ! "${SUDO[@]}" apt-get install -y python3-uvloop >&2; then
            "${SUDO[@]}" apt-get update >&2 && "${SUDO[@]}" apt-get install -y python3-uvloop >&2
        fi
    fi
    "$PY" -c 'import uvloop' 2>/dev/null || log "still no uvloop for $PY: the uvloop column will be empty"
fi

# --- 3. run ---------------------------------------------------------------------------------
PIN=(taskset -c "$CPU")
if ! command -v taskset >/dev/null || ! taskset -c "$CPU" true 2>/dev/null; then
    log "cannot pin to CPU $CPU: running unpinned"
    PIN=()
fi

status=0
log "asyncio/uvloop: $SHARED_BENCH/micro/run_micro.sh (QUICK=$QUICK, repeat $REPEAT, CPU $CPU)"
PY="$PY" MICRO_CPU="$CPU" MICRO_REPEAT="$REPEAT" QUICK="$QUICK" GC_MODES="$GC_MODES" \
    bash "$SHARED_BENCH/micro/run_micro.sh" >"$LOG_DIR/python.md" 2>"$LOG_DIR/python.err" || status=1

log "bulb: bench_micro (repeat $REPEAT, CPU $CPU)"
bulb_args=(--repeat "$REPEAT")
[[ "$QUICK" == 1 ]] && bulb_args+=(--quick)
"${PIN[@]}" "$BIN" "${bulb_args[@]}" >"$LOG_DIR/bulb.txt" 2>"$LOG_DIR/bulb.err" || {
    log "bench_micro failed: $(tail -n 1 "$LOG_DIR/bulb.err")"
    status=1
}

log "bulb warm: bench_micro --warm; C floor: bench_floor_libevent (repeat $REPEAT, CPU $CPU)"
"${PIN[@]}" "$BIN" "${bulb_args[@]}" --warm --no-table >"$LOG_DIR/bulb_warm.txt" 2>"$LOG_DIR/bulb_warm.err" || status=1
FLOOR="$BUILD_DIR/bench/bench_floor_libevent"
floor_args=(--repeat "$REPEAT")
[[ "$QUICK" == 1 ]] && floor_args+=(--quick)
"${PIN[@]}" "$FLOOR" "${floor_args[@]}" >"$LOG_DIR/floor.txt" 2>"$LOG_DIR/floor.err" || status=1

# --- 4. report ------------------------------------------------------------------------------
kv() {
    local re="(^| )$1=([^ ]*)"
    [[ "$2" =~ $re ]] && echo "${BASH_REMATCH[2]}"
}
trim() {
    local s="$1"
    s="${s#"${s%%[![:space:]]*}"}"
    echo "${s%"${s##*[![:space:]]}"}"
}

BENCHES=(call_soon call_later tasks call_soon_chain)
declare -A LABEL=([call_soon]="(a)" [call_later]="(b)" [tasks]="(c)" [call_soon_chain]="(extra)")
declare -A WHAT=(
    [call_soon]="(a) call_soon callbacks, scheduled then run"
    [call_later]="(b) call_later timers 0-100 ms, half cancelled"
    [tasks]="(c) tasks, 2x sleep(0) each, gathered"
    [call_soon_chain]="(extra) chained call_soon, 1 per loop iteration"
)
declare -A B_MED=() B_BEST=() N=() METRIC=() A_MED=() A_BEST=() U_MED=() U_BEST=()
declare -A W_MED=() W_BEST=() W_FLT=() F_MED=() F_BEST=() F_FLT=() B_FLT=()
while read -r line; do
    [[ "$line" == MICRO* ]] || continue
    b="$(kv bench "$line")"
    W_MED[$b]="$(kv median_ns_per_op "$line")"
    W_BEST[$b]="$(kv best_ns_per_op "$line")"
    W_FLT[$b]="$(kv faults_per_run "$line")"
done <"$LOG_DIR/bulb_warm.txt"
while read -r line; do
    [[ "$line" == MICRO* ]] || continue
    b="$(kv bench "$line")"
    F_MED[$b]="$(kv median_ns_per_op "$line")"
    F_BEST[$b]="$(kv best_ns_per_op "$line")"
    F_FLT[$b]="$(kv faults_per_run "$line")"
done <"$LOG_DIR/floor.txt"

while read -r line; do
    [[ "$line" == MICRO* ]] || continue
    b="$(kv bench "$line")"
    B_MED[$b]="$(kv median_ns_per_op "$line")"
    B_BEST[$b]="$(kv best_ns_per_op "$line")"
    N[$b]="$(kv n "$line")"
    B_FLT[$b]="$(kv faults_per_run "$line")"
    METRIC[$b]="$(kv metric "$line")"
done <"$LOG_DIR/bulb.txt"

# The shared runner's GC-off table: | what | n | asyncio best | asyncio median | uvloop best | uvloop median | ...
in_off=0
while IFS= read -r line; do
    if [[ "$line" == "### "* ]]; then
        [[ "$line" == *"GC off"* ]] && in_off=1 || in_off=0
        continue
    fi
    ((in_off)) || continue
    [[ "$line" == "| ("* ]] || continue
    IFS='|' read -r _ what _n abest amed ubest umed _ <<<"$line"
    what="$(trim "$what")"
    for b in "${BENCHES[@]}"; do
        [[ "$what" == "${LABEL[$b]} "* ]] || continue
        A_BEST[$b]="$(trim "$abest")"
        A_MED[$b]="$(trim "$amed")"
        U_BEST[$b]="$(trim "$ubest")"
        U_MED[$b]="$(trim "$umed")"
    done
done <"$LOG_DIR/python.md"

isnum() { [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
ratio() { isnum "$1" && isnum "$2" && awk -v u="$1" -v b="$2" 'BEGIN { printf "%.1f", u / b }'; }
cell() { isnum "${1:-}" && echo "$1 ($2)" || echo "${1:-n/a}"; }

pyver="$("$PY" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo '?')"
uvver="$("$PY" -c 'import uvloop; print(uvloop.__version__)' 2>/dev/null || echo none)"
{
    echo "## bulb vs uvloop vs asyncio: loop micro-benchmarks, $(date '+%Y-%m-%d %H:%M:%S %Z')"
    echo
    echo "- $(uname -sr), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')); pinned to CPU $CPU"
    echo "- bulb $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?') (release build, $BUILD_DIR); Python $pyver ($PY), uvloop $uvver; Python cyclic GC off while timing"
    echo "- $REPEAT runs per benchmark and loop, each on a new loop; figures are **median (best)** ns per operation;"
    echo "  metric: wall time per operation, except (b): process CPU time per timer (the run waits ~100 ms)"
    [[ "$QUICK" == 1 ]] && echo "- QUICK=1: a tenth of the operations"
    echo
    echo "### Steady state: bulb against the C floor (warm runs on one loop; page faults per run)"
    echo
    echo "| bench | n | metric | bulb warm ns/op | faults/run | libevent floor ns/op | faults/run | bulb/floor (median) |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|"
    for b in "${BENCHES[@]}"; do
        r="$(ratio "${W_MED[$b]:-}" "${F_MED[$b]:-}")"
        echo "| ${WHAT[$b]} | ${N[$b]:-?} | ${METRIC[$b]:-?} | $(cell "${W_MED[$b]:-}" "${W_BEST[$b]:-}") | ${W_FLT[$b]:-?} |" \
            "$(cell "${F_MED[$b]:-}" "${F_BEST[$b]:-}") | ${F_FLT[$b]:-n/a} | ${r:-n/a} |"
    done
    echo
    echo "### Cold runs (a new loop per run) with the Python loops as context"
    echo
    echo "| bench | n | metric | bulb ns/op | faults/run | uvloop ns/op | asyncio ns/op | uvloop/bulb ratio (median) | target ${TARGET}x |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|---|"
    for b in "${BENCHES[@]}"; do
        r="$(ratio "${U_MED[$b]:-}" "${B_MED[$b]:-}")"
        t="-"
        if [[ "$b" != call_soon_chain ]]; then
            if [[ -n "$r" ]]; then
                awk -v r="$r" -v t="$TARGET" 'BEGIN { exit !(r >= t) }' && t="met" || t="missed"
            else
                t="n/a"
            fi
        fi
        echo "| ${WHAT[$b]} | ${N[$b]:-?} | ${METRIC[$b]:-?} | $(cell "${B_MED[$b]:-}" "${B_BEST[$b]:-}") | ${B_FLT[$b]:-?} |" \
            "$(cell "${U_MED[$b]:-}" "${U_BEST[$b]:-}") | $(cell "${A_MED[$b]:-}" "${A_BEST[$b]:-}") | ${r:-n/a} | $t |"
    done
    echo
    echo "### asyncio / uvloop ($SHARED_BENCH/micro/run_micro.sh)"
    echo
    sed -n '/^###/,$p' "$LOG_DIR/python.md"
    echo "### bulb (bench_micro; then --warm) and the libevent floor"
    echo
    echo '```'
    cat "$LOG_DIR/bulb.txt" "$LOG_DIR/bulb_warm.txt" "$LOG_DIR/floor.txt"
    echo '```'
    echo
    echo "Raw outputs: $LOG_DIR"
} | tee "$LOG_DIR/report.md"
exit $status
