#!/usr/bin/env bash
# A held-out check: four DEX-model traces whose parameters none of the 26 evaluation
# workloads use and which no choice was tuned on (generated after round 5's fixes), replayed
# through the same grid as scripts/hitrate.sh.
#   scripts/heldout.sh [OUT_DIR]        (default: target/heldout; about 1 minute)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-target/heldout}"
mkdir -p "$OUT/generated"
cargo build --release -q -p pairwarm-cli
BIN=target/release/pairwarm
gen() {
  local name=$1
  shift
  $BIN trace generate --quiet --events 300000 --out "$OUT/generated/$name.csv.gz" \
    --pairs-out "$OUT/generated/$name.pairs.csv" "$@" >/dev/null
}
gen heldout-4chains-flat --chains 4 --tokens 250 --dexes 2 --zipf 0.6 --cascade 0.05 \
  --extra-reads 0.2 --detector-us 80 --detector-jitter-us 40 --seed 41
gen heldout-6chains-steep-regime --chains 6 --tokens 100 --dexes 4 --zipf 1.4 --cascade 0.5 \
  --swaps-scale 2 --noise-swaps 0.2 --regime-at 0.5 --seed 43
gen heldout-bsc-polygon --chains bsc,polygon --tokens 180 --dexes 3 --zipf 1.0 \
  --swaps-scale 0.5 --extra-reads 0.4 --seed 47
gen heldout-5chains-tiny-fast --chains 5 --tokens 30 --dexes 5 --zipf 0.9 --cascade 0.3 \
  --detector-us 10 --detector-jitter-us 2 --seed 53
HITRATE_TRACES="$OUT/generated" scripts/hitrate.sh "$OUT"
