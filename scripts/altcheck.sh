#!/usr/bin/env bash
# Round 6's second-generator check, the reproducible part: the ten traces of
# `scripts/alt_traces.py all` plus two phase traces whose commands were recorded (a
# minimal reproducer and one sweep point), replayed without warming under LRU and the
# default policy at 32…4,096 entries, and through the acceptance grid (L1 64/128/512,
# TTL none and 3 s), with the pools' structure too where the generator writes a pairs file,
# and in the production regime (L1 8,192, TTL 3 s). Prints the policy and acceptance
# summaries (docs/simulation.md, round 6; pairs and production since round 17), then where
# "+3 over lru/topn" is missed and what is left there (round 14).
#   scripts/altcheck.sh [OUT_DIR]        (default: target/altcheck; 3-5 minutes, most of
#                                         it Python writing the traces)
#   scripts/altcheck.sh --set SET [OUT_DIR]
#                                        the same on a named set of `alt_traces.py` instead
#                                        (fresh or phase-sweep, round 12; draws, round 13;
#                                        default OUT_DIR target/altcheck-SET); `third`
#                                        replays the traces of scripts/gen3_traces.py, a
#                                        third generator written apart (round 17), and
#                                        `third-seeds` the same drawn with other seeds;
#                                        `fourth` replays scripts/gen4_traces.py, a fourth
#                                        generator written apart (round 21), and
#                                        `fourth-seeds` the same drawn with other seeds
set -euo pipefail
cd "$(dirname "$0")/.."
SET=""
if [ "${1:-}" = "--set" ]; then
  SET="${2:?--set takes a set name: fresh, phase-sweep, draws, third, third-seeds, fourth or fourth-seeds}"
  shift 2
fi
OUT="${1:-target/altcheck${SET:+-$SET}}"
mkdir -p "$OUT/traces" "$OUT/results"
cargo build --release -q -p pairwarm-cli
BIN=target/release/pairwarm
export ALT_TRACES_OUT="$OUT/traces"
# Every trace of generator $1 drawn again with its own seed, from $2 up in `list` order.
redraw() {
  local seed=$2
  for name in $(python3 "$1" list | awk '{print $1}'); do
    python3 "$1" one "$name" "$ALT_TRACES_OUT" seed=$seed
    seed=$((seed + 1))
  done
}
if [ "$SET" = third ]; then
  # A third generator, written apart from the other two (scripts/gen3_traces.py).
  python3 scripts/gen3_traces.py all "$ALT_TRACES_OUT"
elif [ "$SET" = third-seeds ]; then
  # The same ten mechanisms drawn again, seeds 2001-2010.
  redraw scripts/gen3_traces.py 2001
elif [ "$SET" = fourth ]; then
  # A fourth generator, written apart from the other three (scripts/gen4_traces.py).
  python3 scripts/gen4_traces.py all "$ALT_TRACES_OUT"
elif [ "$SET" = fourth-seeds ]; then
  # The same twelve mechanisms drawn again, seeds 3001-3012.
  redraw scripts/gen4_traces.py 3001
elif [ -n "$SET" ]; then
  python3 scripts/alt_traces.py set "$SET"
else
  python3 scripts/alt_traces.py all
  python3 scripts/alt_traces.py one min-e phase seed=300 hot=450 period_s=45 zs=0.0 chains=2 \
    dur_s=150 reads=40000 updates=0 pools=1000 p_bg=0.0
  python3 scripts/alt_traces.py one sw3-phase-h900-p60-z0-s202 phase seed=202 hot=900 \
    period_s=60 zs=0 chains=3
fi
for trace in "$OUT"/traces/*.csv.gz; do
  name=$(basename "$trace" .csv.gz)
  echo "== $name" >&2
  $BIN simulate --trace "$trace" --l2-latency-us 250 --quiet \
    --l1 32,64,128,256,512,1024,4096 --strategy none --l1-policy lru,default \
    --json "$OUT/results/$name.policies.json" >/dev/null
  for ttl in none 3000; do
    ttl_arg=(); [ "$ttl" = none ] || ttl_arg=(--l1-ttl-ms "$ttl")
    $BIN simulate --trace "$trace" --l2-latency-us 250 --quiet "${ttl_arg[@]}" \
      --l1 64,128,512 --strategy none,topn,default,perfect-lfu,belady --l1-policy lru,default \
      --json "$OUT/results/$name.accept-ttl$ttl.json" >/dev/null
    # With the pools' structure, where the generator writes a pairs file.
    if [ -f "$OUT/traces/$name.pairs.csv" ]; then
      $BIN simulate --trace "$trace" --pairs "$OUT/traces/$name.pairs.csv" --l2-latency-us 250 \
        --quiet "${ttl_arg[@]}" --l1 64,128,512 --strategy none,default,structure \
        --l1-policy lru,default --json "$OUT/results/$name.pairs-ttl$ttl.json" >/dev/null
    fi
  done
  # The production regime: an L1 that holds every pool, prices expiring after 3 s.
  $BIN simulate --trace "$trace" --l2-latency-us 250 --quiet --l1-ttl-ms 3000 --l1 8192 \
    --strategy none,topn,default,oracle --l1-policy default \
    --json "$OUT/results/$name.prod.json" >/dev/null
done
python3 - "$OUT/results" <<'EOF'
import glob, json, os, sys

def rows(path):
    out = {}
    for r in json.load(open(path))["results"]:
        out[(r["l1"], r["l1_policy"], r["strategy"])] = r["hit_rate"] * 100
    return out

res = sys.argv[1]
pol = []
for f in sorted(glob.glob(f"{res}/*.policies.json")):
    name = os.path.basename(f).removesuffix(".policies.json")
    r = rows(f)
    for (l1, p, s), v in r.items():
        if p == "default":
            pol.append((v - r[(l1, "lru", s)], name, l1))
pol.sort()
mean = sum(d for d, _, _ in pol) / len(pol)
print("| trace | " + " | ".join(str(s) for s in (32, 64, 128, 256, 512, 1024, 4096)) + " |")
print("|---" * 8 + "|")
by = {}
for d, n, l1 in pol:
    by.setdefault(n, {})[l1] = d
for n in sorted(by):
    print(f"| {n} | " + " | ".join(f"{by[n][s]:+.2f}" for s in sorted(by[n])) + " |")
print(f"\ndefault policy vs LRU, no warming: {len(pol)} points, mean {mean:+.2f}, "
      f"worst {pol[0][0]:+.2f} ({pol[0][1]} @ {pol[0][2]}), "
      f"{sum(d < -0.5 for d, _, _ in pol)} more than 0.5 below")
below, plus3, strat = [], [], []
for f in sorted(glob.glob(f"{res}/*.accept-ttl*.json")):
    name = os.path.basename(f).replace(".json", "")
    r = rows(f)
    for l1 in (64, 128, 512):
        d = r[(l1, "default", "default")] - r[(l1, "lru", "none")]
        below.append((d, name, l1))
        for p in ("lru", "default"):
            strat.append((r[(l1, p, "default")] - r[(l1, p, "none")], name, l1, p))
        if l1 in (128, 512):
            plus3.append(r[(l1, "default", "default")] - r[(l1, "lru", "topn")])
below.sort()
print(f"default/default >= lru/none: {sum(d >= 0 for d, _, _ in below)}/{len(below)}, "
      f"{sum(d < -0.1 for d, _, _ in below)} below -0.1, worst {below[0][0]:+.2f} "
      f"({below[0][1]} @ {below[0][2]})")
strat.sort()
print(f"strategy default >= none - 0.2 under the same policy (under a TTL, default "
      f"includes refresh-ahead): "
      f"{sum(d >= -0.2 for d, *_ in strat)}/{len(strat)}, worst {strat[0][0]:+.2f} "
      f"({strat[0][1]} @ {strat[0][2]}, {strat[0][3]})")
print(f"default/default >= lru/topn + 3 at 128/512: {sum(d >= 3 for d in plus3)}/{len(plus3)}")
pairs = []
for f in sorted(glob.glob(f"{res}/*.pairs-ttl*.json")):
    name = os.path.basename(f).replace(".json", "")
    r = rows(f)
    for l1 in (64, 128, 512):
        for p in ("lru", "default"):
            pairs.append((r[(l1, p, "default")] - r[(l1, p, "none")], name, l1, p))
if pairs:
    pairs.sort()
    print(f"with the pairs file: strategy default >= none - 0.2 under the same policy: "
          f"{sum(d >= -0.2 for d, *_ in pairs)}/{len(pairs)}, worst {pairs[0][0]:+.2f} "
          f"({pairs[0][1]} @ {pairs[0][2]}, {pairs[0][3]}), mean {sum(d for d, *_ in pairs) / len(pairs):+.2f}")
prod = []
for f in sorted(glob.glob(f"{res}/*.prod.json")):
    by = {r["strategy"]: r for r in json.load(open(f))["results"]}
    none, default = by["none"], by["default"]
    gain = (default["hit_rate"] - none["hit_rate"]) * 100
    trips = default["l2_round_trips"] / max(1, none["l2_round_trips"])
    oracle = (by["oracle"]["hit_rate"] - none["hit_rate"]) * 100
    prod.append((gain, trips, oracle, os.path.basename(f).removesuffix(".prod.json")))
if prod:
    ok = sum(g >= 10 and t <= 1.5 for g, t, _, _ in prod)
    worst = min(prod)
    print(f"production (L1 8192, TTL 3 s): default >= none + 10 with round trips <= 1.5x none's: "
          f"{ok}/{len(prod)}; lowest gain {worst[0]:+.2f} ({worst[3]}, oracle {worst[2]:+.2f}); "
          f"round trips {min(t for _, t, _, _ in prod):.2f}-{max(t for _, t, _, _ in prod):.2f}x none's")
EOF
echo
python3 scripts/hitrate_report.py headroom "$OUT/results"
