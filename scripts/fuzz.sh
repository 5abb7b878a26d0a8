#!/usr/bin/env bash
# Runs the cargo-fuzz targets one after the other, each for SECONDS (libFuzzer's
# -max_total_time), on stable (`-s none`, no sanitizer), and prints a summary table.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     # default: 300 s, every target of `cargo fuzz list`
#
# Each target's working corpus is fuzz/corpus/<t> (git-ignored, kept between runs); it is
# seeded from the committed minimised corpus fuzz/corpora/<t> and the hand-written seeds
# fuzz/seeds/<t>, which libFuzzer only reads (it writes new inputs into the first
# directory). Crashes go to fuzz/artifacts/<t>/ and each run's log to
# fuzz/logs/<t>.log (git-ignored). Exits non-zero when any target crashed or failed to run.
# Needs cargo-fuzz (`cargo install cargo-fuzz`). Shrink and commit the corpora afterwards
# with scripts/fuzz-cmin.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-300}
case $seconds in
  '' | *[!0-9]*)
    echo "usage: $0 [SECONDS] [TARGET...]  (SECONDS: a whole number, got '$seconds')" >&2
    exit 2
    ;;
esac
[ $# -gt 0 ] && shift

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: cargo-fuzz is missing: cargo install cargo-fuzz" >&2
  exit 1
fi

all_targets=$(cargo fuzz list)
if [ $# -gt 0 ]; then
  targets=("$@")
  for t in "${targets[@]}"; do
    grep -qx -- "$t" <<<"$all_targets" || {
      echo "fuzz.sh: no fuzz target '$t'; targets: $(echo $all_targets)" >&2
      exit 2
    }
  done
else
  mapfile -t targets <<<"$all_targets"
fi

# Build once, so the time per target is fuzzing, not compiling.
echo "fuzz.sh: building ${#targets[@]} target(s) (release, -s none)" >&2
for t in "${targets[@]}"; do
  cargo fuzz build -s none "$t"
done

mkdir -p fuzz/logs
rows=()
failed=0
n=0
for t in "${targets[@]}"; do
  n=$((n + 1))
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  dirs=("fuzz/corpus/$t")
  for extra in "fuzz/corpora/$t" "fuzz/seeds/$t"; do
    [ -d "$extra" ] && dirs+=("$extra")
  done
  crashes_before=$(find "fuzz/artifacts/$t" -type f | wc -l)
  log="fuzz/logs/$t.log"
  echo "[$n/${#targets[@]}] $t: ${seconds}s from ${dirs[*]} ($(date -u +%H:%M:%S) UTC)" >&2
  status=0
  started=$SECONDS
  cargo fuzz run -s none "$t" "${dirs[@]}" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  # libFuzzer's own figure; the wall time (with start-up) when it stopped early.
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  took=${took:-$((SECONDS - started))}
  files=$(find "fuzz/corpus/$t" -type f | wc -l)
  crashes=$(($(find "fuzz/artifacts/$t" -type f | wc -l) - crashes_before))
  verdict=ok
  if [ "$status" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    verdict="FAILED (exit $status, see $log)"
    failed=1
  fi
  echo "[$n/${#targets[@]}] $t: ${took}s, ${execs:-?} execs, $files corpus files, $crashes crashes: $verdict" >&2
  rows+=("$t $took ${execs:-?} $files $crashes")
done

echo
printf '%-18s %8s %12s %8s %8s\n' target seconds execs corpus crashes
for row in "${rows[@]}"; do
  # shellcheck disable=SC2086 # a row is five words
  printf '%-18s %8s %12s %8s %8s\n' $row
done
exit "$failed"
