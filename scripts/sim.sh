#!/usr/bin/env bash
# Deterministic cluster simulation (madsim): the production nsqd and
# nsqlookupd under crashes, partitions and slow or failing disks.
#
#   scripts/sim.sh short                 CI: runtime-sim's own tests and sim-tests' teardown test, every scenario x SIM_SEEDS (30) seeds,
#                                        a replay of seed 7 in a second process, then the
#                                        determinism check on SIM_DET_SEEDS (2) seeds
#   scripts/sim.sh long [N] [FIRST] [--resume]
#                                        N (10000) seeds per scenario from FIRST (1000000),
#                                        release build, progress bar, summary of failures;
#                                        every finished run is appended to a results file
#                                        (SIM_RESULTS, default $CARGO_TARGET_DIR/madsim/sim-results/
#                                        long-[SCENARIO-]FIRST-LAST.tsv); --resume goes on with
#                                        an interrupted sweep (skips the runs the file holds).
#                                        Shards: `long 2500 1000000`, `long 2500 1002500`, ...
#   scripts/sim.sh summary [FILE...]     runs, failures (with replay commands) and wall time of
#                                        results files (default: the newest one); no simulation build
#   scripts/sim.sh replay SCENARIO SEED  replays one seed, with the whole log (SIM_LOG, default info)
#   scripts/sim.sh determinism [N]       runs N (5) seeds of every scenario twice and compares
#   scripts/sim.sh list                  the scenarios
#
# Env: SIM_JOBS (parallel runs, default: CPUs), SIM_SCENARIO (one scenario only), SIM_RESULTS (long's
#      results file), CARGO_TARGET_DIR (madsim builds go to its madsim/ subdir). Any extra arguments go
#      to the `sim` runner (sim-tests/src/bin/sim.rs: --scenario, --seed, --seeds, --jobs,
#      --check-determinism, --verbose, --results FILE, --resume, --summary FILE...).
set -euo pipefail
cd "$(dirname "$0")/.."
plain_rustflags="${RUSTFLAGS:-}"
plain_target="${CARGO_TARGET_DIR:-target}"
export RUSTFLAGS="${RUSTFLAGS:-} --cfg madsim"
# Its own target dir: other RUSTFLAGS would otherwise rebuild the normal build's cache.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/madsim"
jobs=${SIM_JOBS:-$(nproc)}
only=()
if [ -n "${SIM_SCENARIO:-}" ]; then only=(--scenario "$SIM_SCENARIO"); fi

build() { # profile
  if [ "$1" = release ]; then
    cargo build --release -q -p nsq-sim-tests --bin sim
    echo "$CARGO_TARGET_DIR/release/sim"
  else
    cargo build -q -p nsq-sim-tests --bin sim
    echo "$CARGO_TARGET_DIR/debug/sim"
  fi
}

cmd=${1:-short}; shift || true
case "$cmd" in
  short)
    cargo test -q -p nsq-runtime-sim
    cargo test -q -p nsq-sim-tests --test teardown
    sim=$(build debug)
    "$sim" "${only[@]}" --seed "${SIM_SEED:-1}" --seeds "${SIM_SEEDS:-30}" --jobs "$jobs" "$@"
    # A replay happens in another process: the outcome must not depend on it.
    a=$("$sim" "${only[@]}" --seed 7 --verbose 2>/dev/null || true)
    b=$("$sim" "${only[@]}" --seed 7 --verbose 2>/dev/null || true)
    if [ "$a" != "$b" ]; then
      echo "determinism: seed 7 ended differently in two processes:"; echo "$a"; echo "$b"; exit 1
    fi
    echo "seed 7 replays identically in a second process"
    "$sim" "${only[@]}" --seed "${SIM_SEED:-1}" --seeds "${SIM_DET_SEEDS:-2}" --jobs "$jobs" --check-determinism
    ;;
  long)
    n=10000; first=1000000
    if [[ "${1:-}" =~ ^[0-9]+$ ]]; then n=$1; shift; fi
    if [[ "${1:-}" =~ ^[0-9]+$ ]]; then first=$1; shift; fi
    results=${SIM_RESULTS:-$CARGO_TARGET_DIR/sim-results/long-${SIM_SCENARIO:+$SIM_SCENARIO-}$first-$((first + n - 1)).tsv}
    sim=$(build release)
    # A later --results among the extra arguments wins.
    "$sim" "${only[@]}" --seeds "$n" --seed "$first" --jobs "$jobs" --results "$results" "$@"
    ;;
  summary)
    if [ $# -eq 0 ]; then
      newest=$(ls -t "$CARGO_TARGET_DIR"/sim-results/*.tsv 2>/dev/null | head -n 1 || true)
      [ -n "$newest" ] || { echo "summary: no results in $CARGO_TARGET_DIR/sim-results; name the files" >&2; exit 2; }
      set -- "$newest"
    fi
    # The summary is plain std: a build without madsim, which takes seconds.
    RUSTFLAGS="$plain_rustflags" CARGO_TARGET_DIR="$plain_target" \
      cargo run -q -p nsq-sim-tests --bin sim -- --summary "$@"
    ;;
  replay)
    [ $# -ge 2 ] || { echo "usage: scripts/sim.sh replay SCENARIO SEED" >&2; exit 2; }
    sim=$(build debug)
    SIM_LOG=${SIM_LOG:-info} "$sim" --scenario "$1" --seed "$2" --seeds 1 --verbose
    ;;
  determinism)
    sim=$(build debug)
    "$sim" "${only[@]}" --seeds "${1:-5}" --jobs "$jobs" --check-determinism
    ;;
  list)
    sim=$(build debug)
    "$sim" --list
    ;;
  *)
    sed -n '2,25p' "$0" >&2
    exit 2
    ;;
esac
