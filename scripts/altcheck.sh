#!/usr/bin/env bash
# Round 6's second-generator check, the reproducible part: the ten traces of
# `scripts/alt_traces.py all` plus two phase traces whose commands were recorded (a
# minimal reproducer and one sweep point), replayed without warming under LRU and the
# default policy at 32…4,096 entries, and through the acceptance grid (L1 64/128/512,
# TTL none and 3 s). Prints the policy and acceptance summaries (docs/simulation.md,
# round 6), then where "+3 over lru/topn" is missed and what is left there (round 14).
#   scripts/altcheck.sh [OUT_DIR]        (default: target/altcheck; 2-4 minutes, most of
#                                         it Python writing the traces)
#   scripts/altcheck.sh --set SET [OUT_DIR]
#                                        the same on a named set of `alt_traces.py` instead
#                                        (fresh or phase-sweep, round 12; draws, round 13;
#                                        default OUT_DIR target/altcheck-SET)
set -euo pipefail
cd "$(dirname "$0")/.."
SET=""
if [ "${1:-}" = "--set" ]; then
  SET="${2:?--set takes a set name: fresh, phase-sweep or draws}"
  shift 2
fi
OUT="${1:-target/altcheck${SET:+-$SET}}"
mkdir -p "$OUT/traces" "$OUT/results"
cargo build --release -q -p pairwarm-cli
BIN=target/release/pairwarm
export ALT_TRACES_OUT="$OUT/traces"
if [ -n "$SET" ]; then
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
  done
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
EOF
echo
python3 scripts/hitrate_report.py headroom "$OUT/results"
