#!/usr/bin/env python3
"""A second, independent trace generator for `pairwarm simulate` (stdlib only).

Its families are shapes the project's own `pairwarm trace generate` models do not produce;
round 6 of docs/simulation.md used them as a held-out check (written apart from the
project's generators and not tuned on). Same CSV format as docs/trace-format.md.

Families (each a function fam_*): stack, phase, raw, zipfscan, bursty, loop.
Usage:
  scripts/alt_traces.py all                       # the default set of traces into $ALT_TRACES_OUT (default target/alt-traces)
  scripts/alt_traces.py one NAME FAMILY k=v ...   # a single trace with overrides
  scripts/alt_traces.py set SET                   # a named set: fresh, phase-sweep (round 12) or draws (round 13)
"""
import bisect
import gzip
import math
import os
import random
import sys

T0 = 1735689600000000
OUT = os.environ.get("ALT_TRACES_OUT", "target/alt-traces")
BLOCK_US = {"ethereum": 12_000_000, "bsc": 3_000_000, "polygon": 2_000_000,
            "arbitrum": 250_000, "base": 2_000_000, "optimism": 2_000_000}
CHAINS_ALL = ["ethereum", "bsc", "polygon", "arbitrum", "base", "optimism"]


class World:
    """Pools on chains, grouped into token pairs (siblings on a chain, twins across chains)."""

    def __init__(self, rng, n_pools, chains, n_tokpairs=None):
        self.rng = rng
        self.chains = chains
        n_tokpairs = n_tokpairs or max(1, n_pools // 6)
        self.pools = []  # (chain, addr)
        self.tp = []  # token pair of pool i
        seen = set()
        for i in range(n_pools):
            c = chains[i % len(chains)] if i < len(chains) else rng.choice(chains)
            while True:
                a = "0x%040x" % rng.getrandbits(160)
                if a not in seen:
                    seen.add(a)
                    break
            self.pools.append((c, a))
            self.tp.append(rng.randrange(n_tokpairs))
        self.by_tp = {}
        for i, t in enumerate(self.tp):
            self.by_tp.setdefault(t, []).append(i)

    def siblings(self, i):
        c = self.pools[i][0]
        return [j for j in self.by_tp[self.tp[i]] if j != i and self.pools[j][0] == c]

    def twins(self, i):
        c = self.pools[i][0]
        return [j for j in self.by_tp[self.tp[i]] if self.pools[j][0] != c]

    def chain(self, i):
        return self.pools[i][0]


def zipf_cum(n, s):
    w = [1.0 / (k + 1) ** s for k in range(n)]
    cum, acc = [], 0.0
    for x in w:
        acc += x
        cum.append(acc)
    return cum


def draw(rng, cum):
    return bisect.bisect_left(cum, rng.random() * cum[-1])


def block_align(t, chain, rng, jitter_us=30_000):
    b = BLOCK_US[chain]
    return ((t // b) + 1) * b + rng.randrange(jitter_us)


def updates_background(rng, w, n, dur, s=1.0, perm=None, blocks=True, pool_subset=None):
    """n updates over dur; pool popularity Zipf(s) over a random permutation; block aligned."""
    idx = pool_subset if pool_subset is not None else list(range(len(w.pools)))
    order = idx[:] if perm is None else perm
    if perm is None:
        rng.shuffle(order)
    cum = zipf_cum(len(order), s)
    ev = []
    for _ in range(n):
        p = order[draw(rng, cum)]
        t = rng.randrange(dur)
        if blocks:
            t = block_align(t, w.chain(p), rng)
        if t < dur:
            ev.append((t, "u", p))
    return ev


def write(name, w, ev, meta):
    ev.sort(key=lambda e: (e[0], 0 if e[1] == "u" else 1))
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name + ".csv.gz")
    nu = sum(1 for e in ev if e[1] == "u")
    nr = len(ev) - nu
    used = len({e[2] for e in ev})
    with gzip.open(path, "wt", compresslevel=1, newline="\n") as f:
        f.write("ts_us,op,chain,pair\n")
        for t, op, p in ev:
            c, a = w.pools[p]
            f.write("%d,%s,%s,%s\n" % (T0 + t, op, c, a))
    dur_s = (ev[-1][0] - ev[0][0]) / 1e6 if ev else 0
    print("%-28s updates=%6d reads=%6d pools=%5d chains=%d dur=%5.0fs  %s"
          % (name, nu, nr, used, len(w.chains), dur_s, meta), flush=True)
    return path


# ---------------------------------------------------------------- families

def fam_stack(name, seed=1, pools=5000, chains=4, dur_s=900, reads=250_000, updates=55_000,
              depth_mean=60, p_new=0.12, ws=600, drift_per_s=1.0, upd_follow=0.5, upd_s=0.8):
    """Recency-heavy: each read re-reads the pool at stack depth ~ Geometric(mean depth_mean)
    of the detector's own LRU stack with prob 1-p_new, else a new pool from a working set
    window of `ws` pools sliding along a permutation at drift_per_s pools/s.  Updates: a
    fraction upd_follow hit pools near the top of the read stack (same geometric depth), the rest
    Zipf(upd_s) background over all pools; block aligned."""
    rng = random.Random(seed)
    w = World(rng, pools, CHAINS_ALL[:chains])
    dur = dur_s * 1_000_000
    perm = list(range(pools))
    rng.shuffle(perm)
    stack = perm[:ws][:]  # most recent at the end
    ev = []
    times = sorted(rng.randrange(dur) for _ in range(reads))
    q = 1.0 / depth_mean
    lq = math.log(1 - q)
    utimes = sorted(rng.randrange(dur) for _ in range(int(updates * upd_follow)))
    ui = 0
    for t in times:
        while ui < len(utimes) and utimes[ui] <= t:
            d = int(math.log(1 - rng.random()) / lq)
            if d < len(stack):
                p = stack[-1 - d]
                tt = block_align(utimes[ui], w.chain(p), rng)
                if tt < dur:
                    ev.append((tt, "u", p))
            ui += 1
        if rng.random() < p_new:
            start = int(t / 1e6 * drift_per_s)
            p = perm[(start + rng.randrange(ws)) % pools]
        else:
            d = int(math.log(1 - rng.random()) / lq)
            if d >= len(stack):
                d = len(stack) - 1
            p = stack[-1 - d]
        try:
            stack.remove(p)
        except ValueError:
            pass
        stack.append(p)
        if len(stack) > 6000:
            del stack[0]
        ev.append((t, "r", p))
    ev += updates_background(rng, w, updates - int(updates * upd_follow), dur, s=upd_s)
    return write(name, w, ev, "stack depth_mean=%s p_new=%s ws=%s drift=%s" %
                 (depth_mean, p_new, ws, drift_per_s))


def fam_phase(name, seed=2, pools=5000, chains=5, dur_s=900, reads=250_000, updates=55_000,
              hot=300, period_s=30, zs=0.9, p_bg=0.1, upd_hot=0.7, jitter_period=0.5):
    """Phase changes: a hot set of `hot` pools (a fresh random choice) switches abruptly every
    period_s*(1±jitter) seconds; reads Zipf(zs) inside the hot set, p_bg uniform background.
    Updates: upd_hot of them on the current hot set (Zipf), the rest background; block aligned."""
    rng = random.Random(seed)
    w = World(rng, pools, CHAINS_ALL[:chains])
    dur = dur_s * 1_000_000
    bounds = [0]
    while bounds[-1] < dur:
        bounds.append(bounds[-1] + int(period_s * 1e6 * (1 + jitter_period * (2 * rng.random() - 1))))
    hots = [rng.sample(range(pools), hot) for _ in bounds]
    cum = zipf_cum(hot, zs)
    ev = []
    for _ in range(reads):
        t = rng.randrange(dur)
        ph = bisect.bisect_right(bounds, t) - 1
        p = rng.randrange(pools) if rng.random() < p_bg else hots[ph][draw(rng, cum)]
        ev.append((t, "r", p))
    nh = int(updates * upd_hot)
    for _ in range(nh):
        t = rng.randrange(dur)
        ph = bisect.bisect_right(bounds, t) - 1
        p = hots[ph][draw(rng, cum)]
        t = block_align(t, w.chain(p), rng)
        if t < dur:
            ev.append((t, "u", p))
    ev += updates_background(rng, w, updates - nh, dur, s=0.6)
    return write(name, w, ev, "phase hot=%d period=%ss zs=%s p_bg=%s" % (hot, period_s, zs, p_bg))


def fam_raw(name, seed=3, pools=5000, chains=4, dur_s=900, updates=55_000, upd_s=1.0,
            n_tokpairs=700, p_self=0.9, self_lag=(20, 400), sib_max=3, twin_max=3,
            p_twin_lead=0.5, reads_target=250_000, extra_reads_s=1.0):
    """Read-after-write + siblings + cross-chain twins.  Updates block-aligned, Zipf(upd_s)
    over pools.  For each update of pool p at t: read p after U(self_lag) µs (p_self), read up
    to sib_max same-chain siblings right after, read up to twin_max cross-chain twins at
    t + U(0, block interval of the twin's chain).  With prob p_twin_lead the move also shows
    up as an update of each twin at t + U(0, twin block) (the lead), read right after.
    Remaining reads to reach reads_target: Zipf(extra_reads_s) over pools."""
    rng = random.Random(seed)
    w = World(rng, pools, CHAINS_ALL[:chains], n_tokpairs=n_tokpairs)
    dur = dur_s * 1_000_000
    ev = []
    order = list(range(pools))
    rng.shuffle(order)
    cum = zipf_cum(pools, upd_s)
    nu = 0
    while nu < updates:
        p = order[draw(rng, cum)]
        t = block_align(rng.randrange(dur), w.chain(p), rng)
        if t >= dur:
            continue
        ev.append((t, "u", p)); nu += 1
        tt = t
        if rng.random() < p_self:
            tt = t + rng.randint(*self_lag)
            ev.append((tt, "r", p))
        for s in w.siblings(p)[:sib_max]:
            tt += rng.randint(20, 200)
            ev.append((tt, "r", s))
        lead = rng.random() < p_twin_lead
        for q in w.twins(p)[:twin_max]:
            lag = rng.randrange(BLOCK_US[w.chain(q)])
            ev.append((t + lag, "r", q))
            if lead and nu < updates:
                ev.append((t + lag - 1 if lag else t, "u", q)); nu += 1
    nr = sum(1 for e in ev if e[1] == "r")
    ocum = zipf_cum(pools, extra_reads_s)
    for _ in range(max(0, reads_target - nr)):
        ev.append((rng.randrange(dur), "r", order[draw(rng, ocum)]))
    ev = [e for e in ev if e[0] < dur]
    return write(name, w, ev, "raw tokpairs=%d sib_max=%d twin_max=%d lead=%s"
                 % (n_tokpairs, sib_max, twin_max, p_twin_lead))


def fam_zipfscan(name, seed=4, pools=5000, chains=3, dur_s=900, reads=250_000, updates=55_000,
                 zs=0.9, scan_every_s=60, scan_n=3000, scan_len_ms=800, upd_s=0.9):
    """IRM Zipf(zs) reads over a random permutation, plus every scan_every_s a sequential
    scan of scan_n pools (a fixed random set) spread over scan_len_ms.  Updates Zipf(upd_s) over
    the same popularity order (correlated with reads), block aligned."""
    rng = random.Random(seed)
    w = World(rng, pools, CHAINS_ALL[:chains])
    dur = dur_s * 1_000_000
    order = list(range(pools))
    rng.shuffle(order)
    scan_set = rng.sample(range(pools), scan_n)
    ev = []
    n_scans = dur_s // scan_every_s
    for k in range(1, n_scans + 1):
        t0 = k * scan_every_s * 1_000_000 - scan_len_ms * 1000
        for j, p in enumerate(scan_set):
            ev.append((t0 + j * scan_len_ms * 1000 // scan_n, "r", p))
    cum = zipf_cum(pools, zs)
    for _ in range(max(0, reads - len(ev))):
        ev.append((rng.randrange(dur), "r", order[draw(rng, cum)]))
    ev += updates_background(rng, w, updates, dur, s=upd_s, perm=order)
    return write(name, w, ev, "zipfscan zs=%s scan_every=%ss scan_n=%d" % (zs, scan_every_s, scan_n))


def fam_bursty(name, seed=5, pools=5000, chains=6, dur_s=600, updates=55_000, upd_s=1.1,
               det_us=(20, 200), sib_max=4, twin_max=2, p_read_self=0.8, reads_target=250_000,
               drift_s=120, regime_frac=0.3):
    """Updates arrive in bursts at block times per chain (the chain's share of updates ~ its
    blocks/s, capped); each burst lists swaps with popularity Zipf(upd_s) over the chain's
    pools (the popularity order re-ranks a fraction regime_frac every drift_s).  A single-threaded
    detector processes the updates in order, each taking U(det_us) µs per read, reading the
    pool (p_read_self), its siblings and cross-chain twins.  Remaining reads: Zipf over
    the current popularity order."""
    rng = random.Random(seed)
    cs = CHAINS_ALL[:chains]
    w = World(rng, pools, cs, n_tokpairs=pools // 5)
    dur = dur_s * 1_000_000
    per_chain = {c: [i for i in range(pools) if w.chain(i) == c] for c in cs}
    for c in cs:
        rng.shuffle(per_chain[c])
    # updates per chain: weight ~ sqrt(blocks per s)
    wt = {c: math.sqrt(1e6 / BLOCK_US[c]) for c in cs}
    tot = sum(wt.values())
    ups = []
    for c in cs:
        n_c = int(updates * wt[c] / tot)
        nblocks = dur // BLOCK_US[c]
        per_block = n_c / nblocks
        cum = zipf_cum(len(per_chain[c]), upd_s)
        order = per_chain[c][:]
        for b in range(1, nblocks + 1):
            tb = b * BLOCK_US[c]
            if tb // (drift_s * 1_000_000) != (tb - BLOCK_US[c]) // (drift_s * 1_000_000):
                k = int(len(order) * regime_frac)
                head = order[:k]
                rng.shuffle(head)
                order = order[k:k + k] + head + order[2 * k:]
            k = int(per_block) + (1 if rng.random() < per_block - int(per_block) else 0)
            # burst: the block's swaps land within ~5 ms
            for _ in range(k):
                ups.append((tb + rng.randrange(5000), "u", order[draw(rng, cum)]))
    ups.sort()
    ev = list(ups)
    busy = 0
    for t, _, p in ups:
        tt = max(t, busy)
        reads = ([p] if rng.random() < p_read_self else []) + w.siblings(p)[:sib_max] + w.twins(p)[:twin_max]
        for q in reads:
            tt += rng.randint(*det_us)
            ev.append((tt, "r", q))
        busy = tt
    nr = len(ev) - len(ups)
    allorder = list(range(pools))
    rng.shuffle(allorder)
    cum = zipf_cum(pools, 1.0)
    for _ in range(max(0, reads_target - nr)):
        ev.append((rng.randrange(dur), "r", allorder[draw(rng, cum)]))
    return write(name, w, ev, "bursty chains=%d det_us=%s sib_max=%d twin_max=%d" % (chains, det_us, sib_max, twin_max))


def fam_loop(name, seed=6, pools=5000, chains=3, dur_s=900, reads=250_000, updates=55_000,
             loop_n=150, p_loop=0.8, loop_noise=0.05, upd_on_loop=0.5, other_s=1.0):
    """Cyclic reads: with prob p_loop the next read is the next pool of a fixed cycle of loop_n
    pools (with prob loop_noise a pool of the cycle is skipped); else Zipf(other_s) over the rest.
    Updates: upd_on_loop of them uniformly on the cycle, the rest Zipf background."""
    rng = random.Random(seed)
    w = World(rng, pools, CHAINS_ALL[:chains])
    dur = dur_s * 1_000_000
    cyc = rng.sample(range(pools), loop_n)
    rest = [i for i in range(pools) if i not in set(cyc)]
    rng.shuffle(rest)
    cum = zipf_cum(len(rest), other_s)
    times = sorted(rng.randrange(dur) for _ in range(reads))
    ev = []
    k = 0
    for t in times:
        if rng.random() < p_loop:
            if rng.random() < loop_noise:
                k += 1
            ev.append((t, "r", cyc[k % loop_n]))
            k += 1
        else:
            ev.append((t, "r", rest[draw(rng, cum)]))
    nl = int(updates * upd_on_loop)
    for _ in range(nl):
        p = rng.choice(cyc)
        t = block_align(rng.randrange(dur), w.chain(p), rng)
        if t < dur:
            ev.append((t, "u", p))
    ev += updates_background(rng, w, updates - nl, dur, s=0.8, perm=rest[:], pool_subset=rest)
    return write(name, w, ev, "loop n=%d p_loop=%s" % (loop_n, p_loop))


FAMILIES = {"stack": fam_stack, "phase": fam_phase, "raw": fam_raw, "zipfscan": fam_zipfscan,
            "bursty": fam_bursty, "loop": fam_loop}

DEFAULT_SET = [
    ("stack-d60", "stack", dict(seed=11, depth_mean=60)),
    ("stack-d300-drift", "stack", dict(seed=12, depth_mean=300, p_new=0.2, ws=1500, drift_per_s=3.0, chains=2)),
    ("phase-30s-h300", "phase", dict(seed=21, hot=300, period_s=30)),
    ("phase-20s-h1200", "phase", dict(seed=22, hot=1200, period_s=20, zs=0.6, chains=3)),
    ("raw-twins", "raw", dict(seed=31)),
    ("zipf06-scan", "zipfscan", dict(seed=41, zs=0.6, scan_every_s=45, scan_n=3000)),
    ("zipf12-scan", "zipfscan", dict(seed=42, zs=1.2, scan_every_s=30, scan_n=2000, chains=5)),
    ("bursty-6ch", "bursty", dict(seed=51)),
    ("loop-150", "loop", dict(seed=61, loop_n=150)),
    ("loop-600", "loop", dict(seed=62, loop_n=600, chains=4)),
]


def parse_val(v):
    if "," in v:
        return tuple(parse_val(x) for x in v.split(","))
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


# Round 12's check sets (docs/simulation.md): twelve traces with parameters no earlier
# round used, two per family, and a sweep of the phase family (hot sets replaced every
# 15-90 s), where a longer frequency history costs most.
FRESH_SET = [
    ("f-stack-d30", "stack", dict(seed=101, depth_mean=30, chains=3)),
    ("f-stack-d120-drift", "stack", dict(seed=102, depth_mean=120, p_new=0.3, drift_per_s=2.0, chains=5)),
    ("f-phase-45s-h600", "phase", dict(seed=103, hot=600, period_s=45, zs=0.7, chains=4)),
    ("f-phase-10s-h200", "phase", dict(seed=104, hot=200, period_s=10, zs=1.1, chains=2)),
    ("f-raw-lagged", "raw", dict(seed=105, self_lag=(100, 1500), chains=3)),
    ("f-raw-flat", "raw", dict(seed=106, n_tokpairs=1500, p_twin_lead=0.8, chains=5)),
    ("f-zipf08-scan", "zipfscan", dict(seed=107, zs=0.8, scan_every_s=20, scan_n=1000, chains=4)),
    ("f-zipf10-noscan", "zipfscan", dict(seed=108, zs=1.0, scan_every_s=400, scan_n=500, chains=2)),
    ("f-bursty-slow", "bursty", dict(seed=109, det_us=(200, 3000), chains=4)),
    ("f-bursty-fast", "bursty", dict(seed=110, det_us=(5, 50), sib_max=6, chains=3)),
    ("f-loop-300", "loop", dict(seed=111, loop_n=300, p_loop=0.6, chains=5)),
    ("f-loop-80", "loop", dict(seed=112, loop_n=80, p_loop=0.9, loop_noise=0.2, chains=2)),
]


def phase_sweep():
    out, i = [], 0
    for hot in (150, 450, 900, 2000):
        for period in (15, 40, 90):
            i += 1
            zs = (0.0, 0.6, 0.9, 1.2)[i % 4]
            chains = i % 4 + 2
            out.append(("ph-h%d-p%d-z%s-c%d" % (hot, period, zs, chains), "phase",
                        dict(seed=500 + i, hot=hot, period_s=period, zs=zs, chains=chains)))
    return out


def random_draws(n=18, seed=2026):
    """Round 13's check: `n` traces whose parameters are drawn at random (a fixed seed, so the
    set is reproducible) over wider ranges than any earlier set, shared ones included (pool
    count 1,000-20,000, 2-6 chains, read targets of 40k-300k): a check on workloads nobody
    chose."""
    rng = random.Random(seed)
    fams = ["stack", "phase", "raw", "zipfscan", "bursty", "loop"]
    out = []
    for i in range(n):
        fam = fams[i % len(fams)]
        kw = dict(seed=700 + i, chains=rng.randint(2, 6),
                  pools=rng.choice((1000, 2500, 5000, 5000, 10000, 20000)))
        reads = rng.choice((40_000, 100_000, 250_000, 300_000))
        updates = rng.choice((20_000, 55_000, 100_000))
        if fam == "stack":
            kw.update(reads=reads, updates=updates, depth_mean=rng.choice((15, 40, 90, 200, 500)),
                      p_new=rng.uniform(0.03, 0.35), ws=rng.choice((200, 600, 2000)),
                      drift_per_s=rng.uniform(0.2, 4.0))
        elif fam == "phase":
            kw.update(reads=reads, updates=updates, hot=rng.choice((100, 300, 800, 1500, 3000)),
                      period_s=rng.choice((8, 20, 45, 100, 240)), zs=rng.uniform(0.0, 1.3),
                      p_bg=rng.uniform(0.0, 0.3))
        elif fam == "raw":
            kw.update(updates=updates, reads_target=reads, n_tokpairs=rng.choice((300, 700, 2000)),
                      p_self=rng.uniform(0.5, 1.0), p_twin_lead=rng.uniform(0.0, 1.0),
                      self_lag=rng.choice(((5, 100), (20, 400), (200, 3000))))
        elif fam == "zipfscan":
            kw.update(reads=reads, updates=updates, zs=rng.uniform(0.4, 1.4),
                      scan_every_s=rng.choice((10, 30, 90, 600)),
                      scan_n=rng.choice((300, 1000, 3000)))
        elif fam == "bursty":
            kw.update(updates=updates, reads_target=reads, upd_s=rng.uniform(0.7, 1.4),
                      det_us=rng.choice(((5, 50), (20, 200), (200, 2000))),
                      regime_frac=rng.uniform(0.0, 0.6))
        else:
            kw.update(reads=reads, updates=updates, loop_n=rng.choice((40, 120, 400, 1200)),
                      p_loop=rng.uniform(0.3, 0.95), loop_noise=rng.uniform(0.0, 0.3))
        # Enough pools for the hot set, the loop and the scan (a scan samples distinct
        # pools). Where the scans add up to more than `reads` (d03: 3,000 pools every
        # 10 s), the trace is scans only: a corner case kept on purpose.
        kw["pools"] = max(kw["pools"], 2 * kw.get("hot", 0), 2 * kw.get("loop_n", 0),
                          kw.get("scan_n", 0))
        if "n_tokpairs" in kw:
            kw["n_tokpairs"] = min(kw["n_tokpairs"], kw["pools"] // 2)
        out.append(("d%02d-%s" % (i, fam), fam, kw))
    return out


SETS = {"fresh": FRESH_SET, "phase-sweep": phase_sweep(), "draws": random_draws()}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "set":
        if sys.argv[2] not in SETS:
            sys.exit("unknown set %r: one of %s" % (sys.argv[2], ", ".join(SETS)))
        for name, fam, kw in SETS[sys.argv[2]]:
            FAMILIES[fam](name, **kw)
    elif len(sys.argv) >= 2 and sys.argv[1] == "all":
        only = set(sys.argv[2:])
        for name, fam, kw in DEFAULT_SET:
            if not only or name in only:
                FAMILIES[fam](name, **kw)
    elif len(sys.argv) >= 4 and sys.argv[1] == "one":
        kw = dict(a.split("=", 1) for a in sys.argv[4:])
        kw = {k: parse_val(v) for k, v in kw.items()}
        FAMILIES[sys.argv[3]](sys.argv[2], **kw)
    else:
        print(__doc__)
