#!/usr/bin/env bash
# Reproduces every hit-rate figure of docs/simulation.md with one command:
#   scripts/hitrate.sh [OUT_DIR]        (default: target/hitrate)
# 1. writes the twenty-six evaluation workloads (pairwarm trace workloads: the eight of round 2,
#    ten robustness variants of round 3 (seeds, 1k/20k pools, no cascades, Poisson blocks,
#    slow chains with a regime change, steep fan-out, sweep-only reads) and eight DEX
#    variants of round 5 first used as a held-out check),
# 2. replays each under every L1 policy at 32..4096 entries (no warming, with Belady),
# 3. the acceptance grid: L1 64/128/512, with and without an L1 TTL of 3 s, LRU and the
#    default policy, strategies none / topn (the original's) / default / oracle / belady /
#    perfect-lfu without a pairs file, topn:reads+guarded (lead-time-aware read learning,
#    --min-lead-ms 1) in a run of its own (the flag applies to every run that learns from
#    reads, default's miss learning included), then structure and default (structural
#    neighbours first) with the pairs file,
# 4. warm start: a restart 300 s in, hit rate over the next 60 s without and with it,
# 5. the production regime: L1 8192 with TTLs of 1, 3 and 10 s,
# 6. prints the tables (scripts/hitrate_report.py) and draws docs-ready SVGs.
# Takes about 8 minutes on an idle 2-core machine; progress is printed per trace.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-target/hitrate}"
# The report reads every result in $OUT/results: start from an empty one.
rm -rf "$OUT/results"
mkdir -p "$OUT/traces" "$OUT/results"
cargo build --release -q -p pairwarm-cli
BIN=target/release/pairwarm
# HITRATE_TRACES=DIR: replay the traces already in DIR (NAME.csv.gz + NAME.pairs.csv)
# instead of writing the evaluation workloads (scripts/heldout.sh uses it).
# Paths are relative to the repository root.
if [ -n "${HITRATE_TRACES:-}" ]; then
  if [ "$(realpath "$HITRATE_TRACES")" != "$(realpath "$OUT/traces")" ]; then
    rm -f "$OUT"/traces/*.csv.gz "$OUT"/traces/*.pairs.csv
    cp "$HITRATE_TRACES"/*.csv.gz "$HITRATE_TRACES"/*.pairs.csv "$OUT/traces/"
  fi
else
  rm -f "$OUT"/traces/*.csv.gz "$OUT"/traces/*.pairs.csv
  $BIN trace workloads --out-dir "$OUT/traces"
fi
SIM=(--l2-latency-us 250 --quiet)
for trace in "$OUT"/traces/*.csv.gz; do
  name=$(basename "$trace" .csv.gz)
  echo "== $name" >&2
  $BIN simulate --trace "$trace" "${SIM[@]}" --l1 32,64,128,256,512,1024,4096 \
    --strategy none,belady --l1-policy lru,quickcache,quickcache-adaptive,s3fifo,wtinylfu,wtinylfu-climber,wtinylfu-fixed \
    --json "$OUT/results/$name.policies.json" >/dev/null
  for ttl in none 3000; do
    ttl_arg=(); [ "$ttl" = none ] || ttl_arg=(--l1-ttl-ms "$ttl")
    # Without the pairs file (no token metadata), then with it (structure, and `default`
    # warming structural neighbours first as serve does with the feed's tokens).
    # The lead-aware read learner on its own run: `--min-lead-ms` applies to every run that
    # learns from reads, and `default` learns from misses, which `serve` does without it.
    $BIN simulate --trace "$trace" "${SIM[@]}" "${ttl_arg[@]}" \
      --l1 64,128,512 --strategy none,topn,default,oracle,belady,perfect-lfu \
      --l1-policy lru,default \
      --json "$OUT/results/$name.accept-ttl$ttl.json" >/dev/null
    $BIN simulate --trace "$trace" "${SIM[@]}" "${ttl_arg[@]}" \
      --l1 64,128,512 --strategy topn:reads+guarded --l1-policy lru,default --min-lead-ms 1 \
      --json "$OUT/results/$name.accept-lead-ttl$ttl.json" >/dev/null
    $BIN simulate --trace "$trace" --pairs "$OUT/traces/$name.pairs.csv" "${SIM[@]}" "${ttl_arg[@]}" \
      --l1 64,128,512 --strategy structure,default --l1-policy lru,default \
      --json "$OUT/results/$name.accept-pairs-ttl$ttl.json" >/dev/null
  done
  $BIN simulate --trace "$trace" "${SIM[@]}" --l1 128,512,8192 --cold-start 300 \
    --strategy none,warmstart --l1-policy default \
    --json "$OUT/results/$name.cold.json" >/dev/null
  # The same restart without the L1 policy's saved window (a new tuner at LRU).
  $BIN simulate --trace "$trace" "${SIM[@]}" --l1 128,512,8192 --cold-start 300 \
    --strategy none,warmstart --l1-policy default --cold-start-policy fresh \
    --json "$OUT/results/$name.cold-fresh.json" >/dev/null
  for ttl in 1000 3000 10000; do
    $BIN simulate --trace "$trace" "${SIM[@]}" --l1-ttl-ms "$ttl" --l1 8192 \
      --strategy none,topn,refresh,default,oracle --l1-policy default \
      --json "$OUT/results/$name.prod-ttl$ttl.json" >/dev/null
  done
done
# Hit rate over time per warming strategy (docs/hitrate/dex-base-ttl3000-l1-128.svg).
if [ -f "$OUT/traces/dex-base.csv.gz" ]; then
  $BIN simulate --trace "$OUT/traces/dex-base.csv.gz" "${SIM[@]}" --l1-ttl-ms 3000 --l1 128 \
    --strategy none,topn,refresh,default,oracle --l1-policy default \
    --plot "$OUT/dex-base-ttl3000-l1-128.svg" >/dev/null
fi
python3 scripts/hitrate_report.py all "$OUT/results" | tee "$OUT/report.md"
python3 scripts/hitrate_report.py plot-policies "$OUT/results" "$OUT/policies.svg"
echo "wrote $OUT/report.md and the SVGs in $OUT" >&2
