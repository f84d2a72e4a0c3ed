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
#    and "bulb_streams=<echo_server> --streams --port {port}" (the coroutine-streams server)
#    added to its servers; with TLS=1 the harness's TLS mode, both with --tls-cert/--tls-key;
# 4. prints the harness's report, then bulb's targets: server CPU per request as a ratio to
#    the baseline (epoll_echo; TLS: openssl_epoll), the median over REPEAT runs, each ratio
#    from runs of the same round of the same case, which the harness interleaves across
#    servers; and the ratio of the best runs, which a host that slows down in bursts cannot
#    make look better than it is; KiB of RSS per idle connection; with TLS, server CPU per
#    handshake.
#
# Targets: bulb (callback API) CPU/request <= 1.10x epoll_echo, <= 0.5 KiB per idle connection;
# bulb_streams <= 1.30x, <= 2 KiB; over TLS, CPU/request and CPU/handshake <= 1.10x
# openssl_epoll (bulb_streams is reported against the same bound), <= 15 KiB per idle
# connection.
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
#   TLS=1           the harness's TLS mode (bulb serves with the run's certificate)
#   STREAMS=0       leave bulb_streams out
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
TLS="${TLS:-0}"
STREAMS="${STREAMS:-1}"
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
    tls_args=""
    [[ "$TLS" == 1 ]] && tls_args=" --tls-cert {cert} --tls-key {key}"
    servers=("bulb=$SERVER --port {port}$tls_args")
    [[ "$STREAMS" == 1 ]] && servers+=("bulb_streams=$SERVER --streams --port {port}$tls_args")
    TLS="$TLS" bash "$HARNESS/run_echo.sh" "${servers[@]}" >"$LOG_DIR/shared-report.md" || status=1
fi

# --- 4. report --------------------------------------------------------------------------------
if [[ -n "${REPORT_FROM:-}" ]] && grep -q '^- TLS:' "$LOG_DIR/header.md" 2>/dev/null; then TLS=1; fi
if [[ "$TLS" == 1 ]]; then
    BASE=openssl_epoll
    declare -A CPU_TARGET=([bulb]=1.10 [bulb_streams]=1.10) MEM_TARGET=([bulb]=15 [bulb_streams]=15)
else
    BASE=epoll_echo
    declare -A CPU_TARGET=([bulb]=1.10 [bulb_streams]=1.30) MEM_TARGET=([bulb]=0.5 [bulb_streams]=2)
fi

# ratio_table FILE NAME CASE_FIELDS US_EXPR RATE_FIELD UNIT: NAME vs $BASE, per case and round.
# The awk program gets the row's case key from CASE_FIELDS ("2 3": size x conns) and the server
# CPU in us per operation from the server CPU % ($12) over the rate (RATE_FIELD: req/s, or
# handshakes/s).
ratio_table() {
    local file="$1" name="$2" case_fields="$3" rate_field="$4" rep_field="$5" rc_field="$6" cpu_field="$7" unit="$8"
    awk -F'\t' -v name="$name" -v base="$BASE" -v target="${CPU_TARGET[$name]}" -v cf="$case_fields" \
        -v rf="$rate_field" -v pf="$rep_field" -v qf="$rc_field" -v uf="$cpu_field" -v unit="$unit" '
    function median(arr, n,    i, j, t) {
        for (i = 2; i <= n; i++) for (j = i; j > 1 && arr[j - 1] > arr[j]; j--) { t = arr[j]; arr[j] = arr[j - 1]; arr[j - 1] = t }
        return (n % 2) ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
    }
    BEGIN { nf = split(cf, F, " ") }
    $qf == 0 && $rf > 0 && $uf != "" && $uf >= 0 && ($1 == name || $1 == base) {
        c = $(F[1]); for (k = 2; k <= nf; k++) c = c "x" $(F[k])
        if (!(c in seen)) { seen[c] = 1; C[++nc] = c }
        us[$1, c, $pf] = $uf * 10000 / $rf   # server CPU % of one core -> us per operation
        rate[$1, c, $pf] = $rf
        reps[c, $pf] = 1
    }
    END {
        printf "| case | %s us/%s | %s us/%s | %s / %s (median of per-round ratios) | min-max ratio | %s best | %s best | best / best | %s %s/s | %s %s/s | target <= %s |\n", name, unit, base, unit, name, base, name, base, name, unit, base, unit, target
        print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        for (k = 1; k <= nc; k++) {
            c = C[k]; nb = ne = nr = 0
            delete B; delete E; delete R; delete BR; delete ER
            for (key in reps) {
                split(key, kk, SUBSEP); if (kk[1] != c) continue; r = kk[2]
                if ((name, c, r) in us) { B[++nb] = us[name, c, r]; BR[nb] = rate[name, c, r] }
                if ((base, c, r) in us) { E[++ne] = us[base, c, r]; ER[ne] = rate[base, c, r] }
                if (((name, c, r) in us) && ((base, c, r) in us)) R[++nr] = us[name, c, r] / us[base, c, r]
            }
            if (nb == 0 || ne == 0 || nr == 0) { printf "| %s | %s | %s | n/a | | | | | | | n/a |\n", c, (nb ? sprintf("%.2f", median(B, nb)) : "-"), (ne ? sprintf("%.2f", median(E, ne)) : "-"); continue }
            mb = median(B, nb); me = median(E, ne); mr = median(R, nr)   # median() sorts in place
            printf "| %s | %.2f | %.2f | **%.3f** | %.3f-%.3f | %.2f | %.2f | %.3f | %.0f | %.0f | %s |\n", c, mb, me, mr, R[1], R[nr], B[1], E[1], B[1] / E[1], median(BR, nb), median(ER, ne), (mr <= target ? "met" : "missed")
        }
    }' "$file"
}
mem_targets() {
    # memory.tsv: name rc rss_before rss_after kib_per_conn setup errors note conns
    awk -F'\t' -v t1="${MEM_TARGET[bulb]}" -v t2="${MEM_TARGET[bulb_streams]}" '
    NR == 1 { print "| server | idle conns | RSS before (KiB) | RSS after (KiB) | KiB per idle conn | target (bulb <= " t1 ", bulb_streams <= " t2 " KiB) |"; print "|---|---:|---:|---:|---:|---|" }
    $2 == 0 && $5 != "" {
        t = ($1 == "bulb") ? t1 : ($1 == "bulb_streams") ? t2 : ""
        v = (t == "") ? "" : (($5 <= t) ? "met" : "missed")
        printf "| %s | %s | %d | %d | %.3f | %s |\n", $1, $9, $3, $4, $5, v
    }' "$LOG_DIR/memory.tsv"
}
{
    echo "## bulb echo_server vs the shared peers, $(date '+%Y-%m-%d %H:%M:%S %Z')"
    echo
    if [[ -n "${REPORT_FROM:-}" ]]; then
        echo "${run_header:-- (no header from that run)}"
    else
        echo "- bulb $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?') (${buildtype:-?} build, $SERVER)"
        echo "- REPEAT=$REPEAT${DURATION:+ DURATION=$DURATION}${WARMUP:+ WARMUP=$WARMUP}${QUICK:+ QUICK=$QUICK} TLS=$TLS; raw logs: $LOG_DIR"
    fi
    echo
    for name in bulb bulb_streams; do
        grep -q "^$name	" "$LOG_DIR/load.tsv" 2>/dev/null || continue
        echo "### Targets: server CPU per request, $name vs $BASE (same run)"
        echo
        # load.tsv: name size conns rep rc rps mibps p50 p99 max client_cpu server_cpu ...
        ratio_table "$LOG_DIR/load.tsv" "$name" "2 3" 6 4 5 12 req
        echo
    done
    if [[ "$TLS" == 1 && -s "$LOG_DIR/handshakes.tsv" ]]; then
        for name in bulb bulb_streams; do
            grep -q "^$name	" "$LOG_DIR/handshakes.tsv" || continue
            echo "### Targets: server CPU per TLS handshake, $name vs $BASE (same run)"
            echo
            # handshakes.tsv: name conns rep rc hs_per_s handshakes elapsed p50 p99 max client_cpu server_cpu ...
            ratio_table "$LOG_DIR/handshakes.tsv" "$name" "2" 5 3 4 12 hs
            echo
        done
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
