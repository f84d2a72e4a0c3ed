#!/bin/sh
# SPDX-License-Identifier: MIT
# Subprocess benchmarks, every peer in the same run, ROUNDS rounds (default 5), medians:
#  - spawn-and-reap: N (default 2000) runs of /bin/true, 64 at a time: bulb's callback API with
#    its clone path and with posix_spawn (BULB_SUBPROCESS_SPAWN=posix_spawn), the C floor
#    (posix_spawn + waitpid), asyncio and uvloop create_subprocess_exec;
#  - pipe throughput: cat of a generated file of SIZE_MB (default 4096) MiB through a bulb
#    Process's stdout against `cat FILE > /dev/null` and a bare C pipe reader (pipe_floor, timed
#    as bulb is), and asyncio/uvloop the same unless PY_PIPE=0 (they take minutes at 4 GiB).
# The load average is printed before and after: the machine is shared.
# usage: bench/run_subprocess.sh [BUILD_DIR]   (BUILD_DIR default build-bench, made -O3 if missing)
set -eu
cd "$(dirname "$0")/.."
B=${1:-build-bench}
[ -d "$B" ] || meson setup "$B" -Dtests=false -Db_sanitize=none -Dbuildtype=release >/dev/null
ninja -C "$B" bench/bench_subprocess bench/spawn_floor bench/pipe_floor >/dev/null
ROUNDS=${ROUNDS:-5}; N=${N:-2000}; PAR=64; SIZE_MB=${SIZE_MB:-4096}
PY=/usr/bin/python3; PY_PIPE=${PY_PIPE:-1}
echo "load average before: $(cut -d" " -f1-3 /proc/loadavg)"
FILE=$(mktemp /tmp/bulb_pipe_bench.XXXXXX)
trap 'rm -f "$FILE"' EXIT
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > "$FILE"
cat "$FILE" > /dev/null   # into the page cache
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
T=$(mktemp -d)
PIPE_PEERS="shell cpipe bulb"; [ "$PY_PIPE" = 0 ] || PIPE_PEERS="$PIPE_PEERS asyncio uvloop"
for r in $(seq "$ROUNDS"); do
  for peer in floor bulb bulb_ps asyncio uvloop; do
    case $peer in
      floor) out=$("$B/bench/spawn_floor" "$N" $PAR) ;;
      bulb) out=$("$B/bench/bench_subprocess" spawn "$N" $PAR) ;;
      bulb_ps) out=$(BULB_SUBPROCESS_SPAWN=posix_spawn "$B/bench/bench_subprocess" spawn "$N" $PAR) ;;
      *) out=$($PY bench/subprocess_peers.py $peer spawn "$N" $PAR) ;;
    esac
    echo "$out" | field wall_s >> "$T/spawn_${peer}_wall"; echo "$out" | field cpu_s >> "$T/spawn_${peer}_cpu"
  done
  for peer in $PIPE_PEERS; do
    case $peer in
      shell) out=$("$B/bench/pipe_floor" null "$FILE") ;;
      cpipe) out=$("$B/bench/pipe_floor" pipe "$FILE") ;;
      bulb) out=$("$B/bench/bench_subprocess" pipe "$FILE") ;;
      *) out=$($PY bench/subprocess_peers.py $peer pipe "$FILE") ;;
    esac
    echo "$out" | field wall_s >> "$T/pipe_${peer}_wall"; echo "$out" | field cpu_s >> "$T/pipe_${peer}_cpu"
  done
done
echo "spawn-and-reap: $N x /bin/true, $PAR at a time, median of $ROUNDS rounds (seconds; CPU = the parent's)"
fw=$(median < "$T/spawn_floor_wall"); fc=$(median < "$T/spawn_floor_cpu")
for peer in floor bulb bulb_ps asyncio uvloop; do
  w=$(median < "$T/spawn_${peer}_wall"); c=$(median < "$T/spawn_${peer}_cpu")
  printf '  %-8s wall %7.3f (%.2fx floor)  cpu %7.3f (%.2fx floor)\n' $peer "$w" "$(echo "$w / $fw" | bc -l)" "$c" "$(echo "$c / $fc" | bc -l)"
done
echo "pipe throughput: cat of $SIZE_MB MiB, median of $ROUNDS rounds"
sw=$(median < "$T/pipe_shell_wall")
for peer in $PIPE_PEERS; do
  w=$(median < "$T/pipe_${peer}_wall"); c=$(median < "$T/pipe_${peer}_cpu")
  printf '  %-8s %7.3f s  %8.0f MiB/s  (%.2fx the shell)  cpu %7.3f\n' $peer "$w" "$(echo "$SIZE_MB / $w" | bc -l)" "$(echo "$sw / $w" | bc -l)" "$c"
done
echo "load average after: $(cut -d" " -f1-3 /proc/loadavg)"
rm -rf "$T"
