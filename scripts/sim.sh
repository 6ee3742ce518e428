#!/usr/bin/env bash
# Deterministic cluster simulation (madsim): the production nsqd and
# nsqlookupd under crashes, partitions and slow or failing disks.
#
#   scripts/sim.sh short                 CI: runtime-sim's own tests and sim-tests' teardown test, every scenario x SIM_SEEDS (30) seeds,
#                                        a replay of seed 7 in a second process, then the
#                                        determinism check on SIM_DET_SEEDS (2) seeds
#   scripts/sim.sh long [N] [FIRST]      N (10000) seeds per scenario from FIRST (1000000),
#                                        release build, progress bar, summary of failures
#   scripts/sim.sh replay SCENARIO SEED  replays one seed, with the whole log (SIM_LOG, default info)
#   scripts/sim.sh determinism [N]       runs N (5) seeds of every scenario twice and compares
#   scripts/sim.sh list                  the scenarios
#
# Env: SIM_JOBS (parallel runs, default: CPUs), SIM_SCENARIO (one scenario only),
#      CARGO_TARGET_DIR (madsim builds go to its madsim/ subdir). Any extra arguments go to the `sim` runner
#      (sim-tests/src/bin/sim.rs: --scenario, --seed, --seeds, --jobs, --check-determinism, --verbose).
set -euo pipefail
cd "$(dirname "$0")/.."
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
    sim=$(build release)
    "$sim" "${only[@]}" --seeds "${1:-10000}" --seed "${2:-1000000}" --jobs "$jobs"
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
    sed -n '2,18p' "$0" >&2
    exit 2
    ;;
esac
