#!/usr/bin/env bash
# run_echo.sh: bulb's examples/echo_server next to the shared echo peers (raw epoll, libevent,
# Boost.Asio, asyncio, uvloop), in the same run of the shared harness.
#
# 1. builds echo_server in a release build dir (BUILD_DIR, default build-bench: the one
#    run_micro.sh uses too);
# 2. installs what the shared harness needs when it is missing (apt-get: libevent-dev, libssl-dev,
#    libboost-dev, python3-uvloop, pkg-config; NO_APT=1 never runs apt-get);
# 3. copies the shared harness ($SHARED_BENCH) to $BUILD_DIR/echo-harness (it builds its client
#    and peers and writes its logs beside itself; the shared folder is left untouched) and runs
#    its run_echo.sh with "bulb=<echo_server> --port {port}" added to its servers;
# 4. prints the harness's report, then bulb's targets: server CPU per request as a ratio to
#    epoll_echo (median over REPEAT runs; each ratio from runs of the same round of the same
#    case, which the harness interleaves across servers; and the ratio of the best runs, which
#    a host that slows down in bursts cannot make look better than it is) and KiB of RSS per
#    idle connection.
#
# Environment (everything else, e.g. ONLY, CASES, IDLE_CONNS, SKIP_MEM, SERVER_CPU, goes to the
# shared run_echo.sh unchanged; see its README):
#   QUICK=1         the harness's quick mode (2 s runs, 2 cases, 2000 idle connections)
#   REPEAT          runs per case and server                          (default 3)
#   DURATION, WARMUP seconds per run                                  (default 2 and 0.5 with
#                   REPEAT > 1, as the shared README recommends for comparisons; else its own)
#   SHARED_BENCH    the shared harness folder                         (default <repo>/../shared/bench)
#   BUILD_DIR       release build dir                                 (default <repo>/build-bench)
#   SKIP_BUILD=1    use the echo_server already in BUILD_DIR
#   NO_APT=1        never run apt-get
#   CPU_TARGET      required bulb/epoll_echo server CPU-per-request ratio  (default 1.10)
#   MEM_TARGET      required KiB per idle connection                      (default 0.5)
#   LOG_DIR         the harness's raw logs              (default $BUILD_DIR/echo-harness/build/logs/<date-time>)
#   REPORT_FROM=DIR run nothing: print the report of an earlier run's log DIR again
# The report goes to stdout (and $LOG_DIR/report.md), progress to stderr. Exit status: 1 if a run
# failed, 0 otherwise (missed targets are reported, not failures).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

export REPEAT="${REPEAT:-3}"
if ((REPEAT > 1)); then
    export DURATION="${DURATION:-2}" WARMUP="${WARMUP:-0.5}"
fi
BUILD_DIR="${BUILD_DIR:-$ROOT/build-bench}"
CPU_TARGET="${CPU_TARGET:-1.10}"
MEM_TARGET="${MEM_TARGET:-0.5}"
if [[ -z "${SHARED_BENCH:-}" ]]; then
    SHARED_BENCH="$ROOT/../shared/bench"
    [[ -d "$SHARED_BENCH" ]] || SHARED_BENCH=/work/shared/bench
fi
SHARED_BENCH="$(cd "$SHARED_BENCH" 2>/dev/null && pwd)" || {
    echo "run_echo: SHARED_BENCH folder not found" >&2
    exit 1
}
[[ -x "$SHARED_BENCH/run_echo.sh" || -r "$SHARED_BENCH/run_echo.sh" ]] || {
    echo "run_echo: $SHARED_BENCH has no run_echo.sh" >&2
    exit 1
}

log() { echo "run_echo: $*" >&2; }

if [[ -n "${REPORT_FROM:-}" ]]; then
    LOG_DIR="$REPORT_FROM"
    [[ -r "$LOG_DIR/shared-report.md" ]] || {
        echo "run_echo: $LOG_DIR has no shared-report.md from bench/run_echo.sh" >&2
        exit 1
    }
    status=0
    run_header="$(grep -E '^- (bulb|REPEAT)' "$LOG_DIR/report.md" 2>/dev/null)"
else
    # --- 1. build -------------------------------------------------------------------------------
    SERVER="$BUILD_DIR/examples/echo_server"
    if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
        if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
            opts=(--buildtype=release)
            if grep -qs "option('tests'" "$ROOT/meson_options.txt" "$ROOT/meson.options"; then
                opts+=(-Dtests=false)
            fi
            log "meson setup $BUILD_DIR ${opts[*]}"
            meson setup "$BUILD_DIR" "$ROOT" "${opts[@]}" >&2 || exit 1
        fi
        log "building echo_server (release)"
        ninja -C "$BUILD_DIR" examples/echo_server >&2 || exit 1
    fi
    [[ -x "$SERVER" ]] || {
        log "$SERVER missing"
        exit 1
    }
    buildtype="$(meson introspect "$BUILD_DIR" --buildoptions 2>/dev/null |
        /usr/bin/python3 -c 'import json, sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"))' 2>/dev/null)"
    [[ "$buildtype" == release ]] || log "warning: $BUILD_DIR is a '${buildtype:-?}' build, not release"

    # --- 2. what the harness needs ----------------------------------------------------------------
    missing=()
    pkg-config --exists libevent 2>/dev/null || missing+=(libevent-dev)
    pkg-config --atleast-version=3.0 openssl 2>/dev/null || missing+=(libssl-dev)
    echo '#include <boost/asio/version.hpp>' | g++ -std=c++20 -E -x c++ - >/dev/null 2>&1 || missing+=(libboost-dev)
    /usr/bin/python3 -c 'import uvloop' 2>/dev/null || missing+=(python3-uvloop)
    command -v pkg-config >/dev/null || missing+=(pkg-config)
    if ((${#missing[@]})); then
        if [[ "${NO_APT:-0}" == 1 ]] || ! command -v apt-get >/dev/null; then
            log "missing ${missing[*]} (NO_APT=1 or no apt-get): the harness will skip or fail what needs them"
        else
            SUDO=()
            [[ "$(id -u)" != 0 ]] && SUDO=(sudo -n)
            log "apt-get install -y ${missing[*]}"
            if ! DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y "${missing[@]}" >&2; then
                DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get update >&2
                DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y "${missing[@]}" >&2 || log "apt-get failed"
            fi
        fi
    fi

    # --- 3. run the harness -----------------------------------------------------------------------
    HARNESS="$BUILD_DIR/echo-harness"
    mkdir -p "$HARNESS" || exit 1
    # Sources only (not the shared build/); files stay newer-or-equal so build.sh rebuilds on change.
    (cd "$SHARED_BENCH" && tar --exclude=./build -cf - .) | (cd "$HARNESS" && tar -xpf - --no-same-owner) || exit 1
    chmod -R u+w "$HARNESS"
    export LOG_DIR="${LOG_DIR:-$HARNESS/build/logs/$(date +%Y%m%d-%H%M%S)}"
    mkdir -p "$LOG_DIR" || exit 1
    log "shared harness: $SHARED_BENCH (copied to $HARNESS); logs: $LOG_DIR"
    status=0
    bash "$HARNESS/run_echo.sh" "bulb=$SERVER --port {port}" >"$LOG_DIR/shared-report.md" || status=1
fi

# --- 4. report --------------------------------------------------------------------------------
targets() {
    # load.tsv: name size conns rep rc rps mibps p50 p99 max client_cpu server_cpu errors note ...
    awk -F'\t' -v target="$CPU_TARGET" '
    function median(arr, n,    i, j, t) {
        for (i = 2; i <= n; i++) for (j = i; j > 1 && arr[j - 1] > arr[j]; j--) { t = arr[j]; arr[j] = arr[j - 1]; arr[j - 1] = t }
        return (n % 2) ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
    }
    $5 == 0 && $6 > 0 && $12 != "" && $12 >= 0 {
        c = $2 "x" $3
        if (!(c in seen)) { seen[c] = 1; C[++nc] = c }
        us[$1, c, $4] = $12 * 10000 / $6   # server CPU % of one core -> us per request
        rps[$1, c, $4] = $6
        reps[c, $4] = 1
    }
    END {
        print "| case (size x conns) | bulb us/req | epoll_echo us/req | bulb / epoll_echo (median of per-round ratios) | min-max ratio | bulb best us/req | epoll_echo best us/req | best / best | bulb req/s | epoll_echo req/s | target <= " target " |"
        print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        for (k = 1; k <= nc; k++) {
            c = C[k]; nb = ne = nr = 0
            delete B; delete E; delete R; delete BR; delete ER
            for (key in reps) {
                split(key, kk, SUBSEP); if (kk[1] != c) continue; r = kk[2]
                if (("bulb", c, r) in us) { B[++nb] = us["bulb", c, r]; BR[nb] = rps["bulb", c, r] }
                if (("epoll_echo", c, r) in us) { E[++ne] = us["epoll_echo", c, r]; ER[ne] = rps["epoll_echo", c, r] }
                if ((("bulb", c, r) in us) && (("epoll_echo", c, r) in us)) R[++nr] = us["bulb", c, r] / us["epoll_echo", c, r]
            }
            if (nb == 0 || ne == 0 || nr == 0) { printf "| %s | %s | %s | n/a | | | | | | | n/a |\n", c, (nb ? sprintf("%.2f", median(B, nb)) : "-"), (ne ? sprintf("%.2f", median(E, ne)) : "-"); continue }
            mb = median(B, nb); me = median(E, ne); mr = median(R, nr)   # median() sorts in place
            lo = R[1]; hi = R[nr]
            printf "| %s | %.2f | %.2f | **%.3f** | %.3f-%.3f | %.2f | %.2f | %.3f | %.0f | %.0f | %s |\n", c, mb, me, mr, lo, hi, B[1], E[1], B[1] / E[1], median(BR, nb), median(ER, ne), (mr <= target ? "met" : "missed")
        }
    }' "$LOG_DIR/load.tsv"
}
mem_targets() {
    # memory.tsv: name rc rss_before rss_after kib_per_conn setup errors note conns
    awk -F'\t' -v target="$MEM_TARGET" '
    NR == 1 { print "| server | idle conns | RSS before (KiB) | RSS after (KiB) | KiB per idle conn | target <= " target " KiB (bulb) |"; print "|---|---:|---:|---:|---:|---|" }
    $2 == 0 && $5 != "" {
        t = ($1 == "bulb") ? (($5 <= target) ? "met" : "missed") : ""
        printf "| %s | %s | %d | %d | %.3f | %s |\n", $1, $9, $3, $4, $5, t
    }' "$LOG_DIR/memory.tsv"
}
{
    echo "## bulb echo_server vs the shared peers, $(date '+%Y-%m-%d %H:%M:%S %Z')"
    echo
    if [[ -n "${REPORT_FROM:-}" ]]; then
        echo "${run_header:-- (no header from that run)}"
    else
        echo "- bulb $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?') (${buildtype:-?} build, $SERVER)"
        echo "- REPEAT=$REPEAT${DURATION:+ DURATION=$DURATION}${WARMUP:+ WARMUP=$WARMUP}${QUICK:+ QUICK=$QUICK}; raw logs: $LOG_DIR"
    fi
    echo
    if [[ -s "$LOG_DIR/load.tsv" ]]; then
        echo "### Targets: server CPU per request, bulb vs epoll_echo (same run)"
        echo
        targets
        echo
    fi
    if [[ -s "$LOG_DIR/memory.tsv" ]]; then
        echo "### Targets: server memory per idle connection"
        echo
        mem_targets
        echo
    fi
    echo "### The shared harness's report"
    echo
    cat "$LOG_DIR/shared-report.md"
} | tee "$LOG_DIR/report.md"
exit $status
