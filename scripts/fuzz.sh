#!/usr/bin/env bash
# Runs the cargo-fuzz targets one after another, each for SECONDS (default 60),
# starting from the tracked seeds and regression inputs; new inputs go to
# fuzz/corpus/<target>/ (not tracked), crashes to fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh 600                 # every target, 10 minutes each
#   scripts/fuzz.sh 30 command frame    # just these
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). libFuzzer's flags are
# nightly-only, so stable rustc runs with RUSTC_BOOTSTRAP=1. Set
# NSQ_FUZZ_TARGET_DIR to build elsewhere than fuzz/target, and
# NSQ_FUZZ_FLAGS for more libFuzzer flags (CI: "-seed=1 -runs=N").
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
export RUSTC_BOOTSTRAP=1
target_dir="${NSQ_FUZZ_TARGET_DIR:-fuzz/target}"
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
cargo fuzz build --target-dir "$target_dir"
failed=()
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    dirs=("fuzz/corpus/$t")
    for d in "fuzz/seeds/$t" "fuzz/regressions/$t"; do
        [ -d "$d" ] && dirs+=("$d")
    done
    log="fuzz/artifacts/$t/last-run.log"
    echo "== $t: ${secs}s"
    if cargo fuzz run --target-dir "$target_dir" "$t" "${dirs[@]}" -- \
        -max_total_time="$secs" -timeout=10 -print_final_stats=1 ${NSQ_FUZZ_FLAGS:-} >"$log" 2>&1; then
        grep -E "^Done [0-9]+ runs|stat::number_of_executed_units|stat::new_units_added" "$log" | tr '\n' ' '
        echo
    else
        echo "!! $t failed; see $log"
        grep -E "panicked at|ERROR: libFuzzer|Test unit written" "$log" | head -5 || true
        failed+=("$t")
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "failing targets: ${failed[*]}"
    exit 1
fi
