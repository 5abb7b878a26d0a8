#!/usr/bin/env python3
"""Summarises `pairwarm simulate --json` results written by scripts/hitrate.sh.

Standard library only. Usage:
  hitrate_report.py policies DIR      # L1 policy robustness table (strategy none)
  hitrate_report.py strategies DIR    # acceptance table per trace (policy x strategy)
  hitrate_report.py plot-policies DIR OUT.svg   # hit rate vs L1 size per policy, one panel per trace
"""
import json
import os
import sys


def load(dirname, suffix):
    out = {}
    for name in sorted(os.listdir(dirname)):
        if name.endswith(suffix):
            with open(os.path.join(dirname, name)) as f:
                out[name[: -len(suffix)]] = json.load(f)
    return out


def rate(rows, strategy, policy, l1):
    for r in rows:
        if r["strategy"] == strategy and r["l1_policy"] == policy and r["l1"] == l1:
            return r
    return None


def policies_table(dirname):
    runs = load(dirname, ".policies.json")
    if not runs:
        sys.exit(f"no *.policies.json in {dirname}")
    first = next(iter(runs.values()))["results"]
    policies = []
    sizes = []
    for r in first:
        if r["l1_policy"] not in policies:
            policies.append(r["l1_policy"])
        if r["l1"] not in sizes:
            sizes.append(r["l1"])
    others = [p for p in policies if p != "lru"]
    print("Hit rate (%) with no warming, per trace and L1 size; `vs LRU` columns in points.\n")
    worst = {p: (1e9, "") for p in others}
    total = {p: [] for p in others}
    for trace, data in runs.items():
        rows = data["results"]
        print(f"#### {trace}\n")
        head = ["L1", "lru"] + [f"{p} (vs LRU)" for p in others] + ["belady"]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for l1 in sizes:
            lru = rate(rows, "none", "lru", l1)["hit_rate"] * 100
            cells = [str(l1), f"{lru:.2f}"]
            for p in others:
                r = rate(rows, "none", p, l1)
                v = r["hit_rate"] * 100
                d = v - lru
                cells.append(f"{v:.2f} ({d:+.2f})")
                total[p].append(d)
                if d < worst[p][0]:
                    worst[p] = (d, f"{trace} @ {l1}")
            b = rate(rows, "belady", "lru", l1)
            cells.append(f"{b['hit_rate'] * 100:.2f}" if b else "")
            print("| " + " | ".join(cells) + " |")
        print()
    print("#### Robustness summary (all traces x sizes)\n")
    print("| policy | mean vs LRU (pt) | worst vs LRU (pt) | where |")
    print("|---|---|---|---|")
    for p in others:
        mean = sum(total[p]) / max(len(total[p]), 1)
        print(f"| {p} | {mean:+.2f} | {worst[p][0]:+.2f} | {worst[p][1]} |")


def plot_policies(dirname, out):
    runs = load(dirname, ".policies.json")
    names = list(runs)
    cols = 2
    rows_n = (len(names) + cols - 1) // cols
    w, h = 460, 300
    colors = ["#000000", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{cols * w}" height="{rows_n * h + 40}" font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="20" font-size="15">L1 hit rate vs L1 size per policy (no warming); x: log2 entries</text>']
    for k, trace in enumerate(names):
        rows = runs[trace]["results"]
        ox, oy = (k % cols) * w + 50, (k // cols) * h + 50
        pw, ph = w - 80, h - 70
        sizes = sorted({r["l1"] for r in rows})
        pols = []
        for r in rows:
            if r["l1_policy"] not in pols and r["strategy"] == "none":
                pols.append(r["l1_policy"])
        vals = [r["hit_rate"] for r in rows if r["strategy"] == "none"]
        lo, hi = min(vals) - 0.02, min(1.0, max(vals) + 0.02)
        import math
        lx = [math.log2(s) for s in sizes]
        x0, x1 = min(lx), max(lx)
        X = lambda s: ox + (math.log2(s) - x0) / max(x1 - x0, 1e-9) * pw
        Y = lambda v: oy + ph - (v - lo) / max(hi - lo, 1e-9) * ph
        svg.append(f'<rect x="{ox}" y="{oy}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
        svg.append(f'<text x="{ox}" y="{oy - 6}" font-size="13">{trace}</text>')
        for s in sizes:
            svg.append(f'<text x="{X(s) - 8:.1f}" y="{oy + ph + 14}">{s}</text>')
        for t in range(5):
            v = lo + (hi - lo) * t / 4
            svg.append(f'<text x="{ox - 42}" y="{Y(v) + 4:.1f}">{v * 100:.0f}%</text>')
        for i, p in enumerate(pols):
            pts = [(X(r["l1"]), Y(r["hit_rate"])) for r in rows if r["l1_policy"] == p and r["strategy"] == "none"]
            c = colors[i % len(colors)]
            svg.append('<polyline fill="none" stroke="%s" stroke-width="%s" points="%s"/>' % (
                c, 2.5 if p in ("lru", "wtinylfu") else 1.2, " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)))
            svg.append(f'<text x="{ox + pw - 120}" y="{oy + ph - 10 - 12 * (len(pols) - i)}" fill="{c}">{p}</text>')
    svg.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "policies":
        policies_table(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "plot-policies":
        plot_policies(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
