#!/usr/bin/env bash
# NSQ's bench pattern against one nsqd: bench_writer for --runfor, then
# bench_reader for --runfor (its SUB creates the channel, as in NSQ's
# bench.sh where the channel-creating curl calls miss in v1.3.0).
# Prints per run: PUB and SUB ops/s, nsqd RSS after PUB, and nsqd CPU time
# (user+sys) per message for each phase; then the medians.
#
#   scripts/bench.sh [runs] [nsqd flags...]
#   NSQD=/path/to/other/nsqd scripts/bench.sh 3 --mem-queue-size=1000000
#
# Env: NSQD (default target/release/nsqd), BENCH_WRITER, BENCH_READER (default
# target/release/bench_writer, bench_reader; NSQ's Go tools work too), RUNFOR (10s),
# SIZE (200), BATCH (200),
# PUB_RUNFOR (default RUNFOR: a longer PUB leaves SUB enough backlog to show
# what it can consume, since a SUB run can only consume what PUB wrote).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}; shift || true
NSQD=${NSQD:-target/release/nsqd}
RUNFOR=${RUNFOR:-10s}; PUB_RUNFOR=${PUB_RUNFOR:-$RUNFOR}; SIZE=${SIZE:-200}; BATCH=${BATCH:-200}
W=${BENCH_WRITER:-target/release/bench_writer}; R=${BENCH_READER:-target/release/bench_reader}
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
rm -f /tmp/bench.$$.*
for i in $(seq 1 "$runs"); do
  dir=$(mktemp -d); log=$dir/nsqd.log
  "$NSQD" --tcp-address=127.0.0.1:0 --http-address=127.0.0.1:0 --data-path="$dir" "$@" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q 'TCP: listening on' "$log" && break; sleep 0.05; done
  addr=$(grep -o 'TCP: listening on [^ ]*' "$log" | head -1 | awk '{print $4}')
  c0=$(cpu $pid)
  pub=$($W --nsqd-tcp-address="$addr" --runfor="$PUB_RUNFOR" --size="$SIZE" --batch-size="$BATCH" 2>&1 | grep -o '[0-9.]*ops/s' | tr -d 'ops/')
  c1=$(cpu $pid); rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  sub=$($R --nsqd-tcp-address="$addr" --runfor="$RUNFOR" --size="$SIZE" 2>&1 | grep -o '[0-9.]*ops/s' | tr -d 'ops/')
  c2=$(cpu $pid)
  kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
  rm -rf "$dir"
  secs=${RUNFOR%s}; pub_secs=${PUB_RUNFOR%s}
  pub_us=$(awk -v c=$((c1-c0)) -v t=$tck -v r=$pub -v s=$pub_secs 'BEGIN {printf "%.3f", c/t*1e6/(r*s)}')
  sub_us=$(awk -v c=$((c2-c1)) -v t=$tck -v r=$sub -v s=$secs 'BEGIN {printf "%.3f", c/t*1e6/(r*s)}')
  printf 'run %d: PUB %.0f msg/s (%.3f us cpu/msg)  SUB %.0f msg/s (%.3f us cpu/msg)  RSS after PUB %d MB\n' \
    "$i" "$pub" "$pub_us" "$sub" "$sub_us" $((rss/1024))
  echo "$pub" >>/tmp/bench.$$.pub; echo "$sub" >>/tmp/bench.$$.sub; echo $((rss/1024)) >>/tmp/bench.$$.rss
  echo "$pub_us" >>/tmp/bench.$$.pubus; echo "$sub_us" >>/tmp/bench.$$.subus
done
printf 'median of %d: PUB %.0f msg/s  SUB %.0f msg/s  RSS %s MB  cpu/msg PUB %s us SUB %s us\n' "$runs" \
  "$(median </tmp/bench.$$.pub)" "$(median </tmp/bench.$$.sub)" "$(median </tmp/bench.$$.rss)" \
  "$(median </tmp/bench.$$.pubus)" "$(median </tmp/bench.$$.subus)"
rm -f /tmp/bench.$$.*
