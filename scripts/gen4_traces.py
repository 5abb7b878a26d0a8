#!/usr/bin/env python3
"""gen4_traces.py - held-out DEX price-cache workloads (standard library only, deterministic).

A fourth workload generator for the pairwarm cache simulator (round 21), written apart from
the other three: its author saw only the trace and pairs formats (docs/trace-format.md), the
address and chain-name rules (crates/pairwarm/src/pair.rs) and a built `pairwarm` binary for
validation, not the other generators, the simulation docs, the reports or the cache code. It
was asked for access structures the third generator (scripts/gen3_traces.py) does not model.
Replayed by `scripts/altcheck.sh --set fourth` (and `--set fourth-seeds`, seeds 3001-3012).

Design note
===========
Each trace models one access structure of an arbitrage detector that reads DEX pool prices
from an L1 cache (tens to thousands of entries) in front of Redis. Updates (`u`) are price
writes after an on-chain swap (they write through to L1); reads (`r`) are detector reads.
Update timestamps are aligned to the block boundaries of each chain (plus 20-60 ms of
delivery), reads come at detector time. All traces: 1k-20k pools, ~30-80k updates, ~150-300k
reads, 10-12 minutes. Every trace takes `seed`, `pools`, `updates`, `reads`, `span_s` plus the
mechanism knobs listed below (override with key=value on the `one` command line).

Block times (s): ethereum 12, bsc 3, polygon 2, arbitrum 0.25, base 2, optimism 2, avalanche 2.

 1. leadlag_xchain - cross-chain lead-lag. Token-pair *families* exist on arbitrum and on 1-5
    slower chains (base, optimism, polygon, bsc, ethereum). A price move starts on a fast
    chain (arbitrum mostly); the detector immediately reads the family's pools on every chain
    (stale prices there); each slower chain follows with probability `follow_p` within one of
    its block intervals (update at its block boundary), with a read of the lagging pool while
    it is still stale (`stale_poll_p`) and reads of the lagging + leading pools right after
    the follow update. Knobs: families, fam_zipf, follow_p, stale_poll_p.
 2. pollers_fixed - fixed-period pollers. Detectors each loop over their own pool set every
    P s in a fixed order, either all at once (`b`urst) or evenly spread (`s`). Spec
    `pollers=period:size:mode,...`, default 0.2 s x 24, 0.5 x 40, 1.5 x 100, 4 x 220,
    12 x 500, 30 x 1500, 60 x 2600: some loops fit 64-512 entries, others are just larger
    (LRU's cyclic worst case). `align=CHAIN` ticks right after that chain's blocks. Poll sets are drawn with Zipf
    weights (popular pools are in several sets). Halfway, one poller replaces half its set.
    Updates: Zipf(upd_zipf), block aligned, independent of the polls.
 3. regime_aba - abrupt regime switches. A hot set of `hot` pools (Zipf hot_zipf inside)
    takes 1-bg_frac of the reads; at exponential intervals (mean mean_regime_s) 10%, 50% or
    100% of it is replaced (`replace` weights), or with probability return_p an *earlier* hot
    set comes back exactly (A-B-A). Part of the reads react to hot-set updates.
 4. bursty_reads - read bursts. A pool is read burst_min-burst_max times (Pareto
    burst_alpha) within burst_window_ms, then not again for a heavy-tailed gap (Pareto
    gap_alpha, mean set by its Zipf weight; bursts thinned to the read budget). Some bursts
    are triggered by an update just before (trig_p); noise_frac of reads are uniform
    one-offs over all pools.
 5. core_churn_onehit - a small stable hot core (`core` hub pools, core_frac of reads) plus a
    warm set of `warm` pools whose members die and are replaced (exponential lifetime
    warm_life_s; warm_frac of reads, Zipf 0.5 over slots), plus tail_frac reads to a large
    tail cycled in a shuffled order (each tail pool read a handful of times, minutes apart:
    one-hit wonders for any cache).
 6. rate_cycle - rate modulation. Event rate follows a compressed daily cycle (period day_s,
    amplitude amp) times gas spikes (every ~spike_every_s, x2.5-5 for 8-30 s). The hot set
    depends on the rate: at low rate reads concentrate on n_quiet blue-chip pools, at high
    rate they spread over up to n_busy pools in a different (memecoin) ranking; each spike
    adds its own launch token's pools.
 7. tenants_mixed - independent tenants share one cache: hft (16 pools, very hot), stat-arb
    (260 pools, Zipf 1.1, pauses for 90 s), long-tail scanner (6000 pools uniform, active in
    40 s windows every 120 s), loop monitor (700 pools in fixed order, doubles its speed in
    the middle third), event follower (reads a pool 1-30 ms after its update). Fractions of
    reads: hft_frac, stat_frac, scan_frac, loop_frac, event_frac.
 8. mempool_preread - reads before the update. A pending swap is seen in the mempool; the
    detector reads the pool and 0-3 route neighbours (pools sharing a token) 5-80 ms later;
    the swap lands in the next block (ethereum: 1-3 blocks) as an update (dropped with
    drop_p); confirm read right after the update (post_p); settlement re-check 10-400 s
    later (late_p, Pareto). bg_frac of reads are unrelated Zipf reads.
 9. growing_hotset - the watched set grows exponentially from s0 to s1 pools over the trace;
    new pools enter the popularity ranking at random (mostly low) positions; reads are a
    power law over the current set; react_frac of watched-pool updates are read 1-20 ms later.
    A cache that fits at the start and not at the end.
10. token_fanout - token-level shocks. A token's price moves: every pool containing it (for
    long-tail tokens 1-8 pools; for hub tokens a Pareto-sized fan-out of 5-400 pools, over
    several blocks) is read right away at detection (stale), each with its USD route pool
    (quote token vs a stable, route_p); the others are updated over the next blocks
    (realign_p) and read after their update; half the group is re-read 1-5 s later
    (reread_p). Correlated groups from tiny to far larger than the cache. Knobs: hub_p,
    fan_alpha, fan_max, tok_zipf, route_p, realign_p, reread_p.
11. update_flood - write pollution. Memecoin frenzies (bursts of 50-800 swaps on a fresh
    token's pools within 20-60 s) produce flood_frac of the updates on pools the detector
    almost never reads (flood_read_frac); the detector reads a stable Zipf watch set by timer,
    not triggered by updates. Low reads/update ratio (~2).
12. mixture_timescales - different mechanisms per chain at different time scales: ethereum
    block-aligned pollers (12 s / 60 s / 1 s), arbitrum+base+optimism lead-lag, bsc fast
    regime switches (mean 25 s), polygon growing hot set, avalanche bursty reads.

Usage:
    python3 gen4_traces.py list
    python3 gen4_traces.py all OUT_DIR
    python3 gen4_traces.py one NAME OUT_DIR [key=value ...]
"""

import bisect
import gzip
import math
import os
import random
import sys
import time

# ----------------------------------------------------------------------------------------
# Chains, DEXes, tokens
# ----------------------------------------------------------------------------------------

BLOCK = {
    "ethereum": 12.0, "bsc": 3.0, "polygon": 2.0, "arbitrum": 0.25,
    "base": 2.0, "optimism": 2.0, "avalanche": 2.0,
}
DEXES = {
    "ethereum": ["uniswap-v2", "uniswap-v3", "sushiswap", "curve", "balancer-v2", "pancakeswap-v3"],
    "bsc": ["pancakeswap-v2", "pancakeswap-v3", "biswap", "apeswap", "thena", "uniswap-v3"],
    "polygon": ["quickswap", "uniswap-v3", "sushiswap", "balancer-v2", "dfyn"],
    "arbitrum": ["uniswap-v3", "camelot", "sushiswap", "ramses", "traderjoe-v2"],
    "base": ["uniswap-v3", "aerodrome", "baseswap", "sushiswap", "uniswap-v2"],
    "optimism": ["velodrome", "uniswap-v3", "sushiswap", "beethoven-x"],
    "avalanche": ["traderjoe-v2", "pangolin", "uniswap-v3", "sushiswap"],
}
HUBS = {
    "ethereum": ["WETH", "USDC", "USDT", "WBTC", "DAI"],
    "bsc": ["WBNB", "USDT", "USDC", "BUSD", "WETH", "BTCB"],
    "polygon": ["WMATIC", "USDC", "USDT", "WETH", "WBTC", "DAI"],
    "arbitrum": ["WETH", "USDC", "USDT", "ARB", "WBTC"],
    "base": ["WETH", "USDC", "cbETH", "DAI"],
    "optimism": ["WETH", "USDC", "OP", "USDT"],
    "avalanche": ["WAVAX", "USDC", "USDT", "WETH", "BTC.b"],
}
HUB_W = [0.42, 0.28, 0.14, 0.08, 0.05, 0.03]
KNOWN_TAIL = (
    "LINK UNI AAVE CRV LDO MKR PEPE SHIB GMX RDNT PENDLE SNX COMP FXS RPL BAL SUSHI YFI "
    "1INCH ENS APE BLUR WLD FET RNDR INJ GRT MAGIC JOE CAKE XVS BONK DEGEN BRETT TOSHI AERO "
    "VELO QUICK GHST STG MIM FRAX LUSD ONDO ENA ETHFI EIGEN MOG TURBO FLOKI WIF SPX NEIRO "
    "PNUT GNS DPX JONES VRTX HEGIC KNC BAND ALPHA AXL ZRO"
).split()
SYL = ["ba", "zo", "ki", "mu", "ra", "te", "lo", "ny", "qu", "xe", "do", "fi", "gu", "pe",
       "sa", "vo", "wa", "ji", "ko", "ze", "chi", "mo", "ne", "ru"]
DEX_COUNT_W = [0.55, 0.28, 0.12, 0.05]

T0_BASE = 1735689600 * 1_000_000  # 2025-01-01T00:00:00Z in us


class Universe:
    """Pools (dense ids) with chain/dex/tokens/address, plus token indexes."""

    def __init__(self, rng):
        self.rng = rng
        self.addr, self.chain, self.dex, self.t0, self.t1 = [], [], [], [], []
        self._addrs = set()
        self._tokens = set(HUB for c in HUBS.values() for HUB in c)
        self.tail_tokens = []           # long-tail tokens in creation order
        self.known_left = list(KNOWN_TAIL)
        rng.shuffle(self.known_left)
        self.off = {c: rng.random() * BLOCK[c] for c in BLOCK}
        self.by_token = {}              # (chain, token) -> [pid]
        self.by_pair = {}               # (chain, t0, t1) -> [pid]

    def n(self):
        return len(self.addr)

    def new_address(self):
        while True:
            a = "0x%040x" % self.rng.getrandbits(160)
            if a not in self._addrs:
                self._addrs.add(a)
                return a

    def new_token(self):
        rng = self.rng
        if self.known_left and rng.random() < 0.5:
            t = self.known_left.pop()
            self._tokens.add(t)
            self.tail_tokens.append(t)
            return t
        while True:
            t = "".join(rng.choice(SYL) for _ in range(rng.randint(2, 3))).upper()
            if rng.random() < 0.15:
                t += rng.choice(["INU", "AI", "X", "2", "DAO"])
            if t not in self._tokens:
                self._tokens.add(t)
                self.tail_tokens.append(t)
                return t

    def add(self, chain, dex, a, b):
        if b < a:
            a, b = b, a
        pid = len(self.addr)
        self.addr.append(self.new_address())
        self.chain.append(chain)
        self.dex.append(dex)
        self.t0.append(a)
        self.t1.append(b)
        self.by_token.setdefault((chain, a), []).append(pid)
        self.by_token.setdefault((chain, b), []).append(pid)
        self.by_pair.setdefault((chain, a, b), []).append(pid)
        return pid

    def add_pair_pools(self, chain, a, b, k):
        """k pools of token pair a/b on k distinct DEXes of chain (skip DEXes used)."""
        used = set(self.dex[p] for p in self.by_pair.get((chain, min(a, b), max(a, b)), []))
        free = [d for d in DEXES[chain] if d not in used]
        self.rng.shuffle(free)
        return [self.add(chain, d, a, b) for d in free[:k]]

    def populate(self, chain, n, share_p=0.1):
        """About n pools on chain: hub-hub pairs first (blue chips), then long-tail tokens
        quoted in 1-2 hubs on 1-4 DEXes. share_p: reuse a long-tail token of another chain
        (a bridged token: a cross-chain twin). Returns pids in liquidity order."""
        rng = self.rng
        hubs = HUBS[chain]
        pids = []
        for i, a in enumerate(hubs):
            for b in hubs[i + 1:]:
                k = rng.choices([1, 2, 3], [0.3, 0.4, 0.3])[0] if i < 2 else 1
                pids += self.add_pair_pools(chain, a, b, k)
        while len(pids) < n:
            tok = None
            if self.tail_tokens and rng.random() < share_p:
                cand = self.tail_tokens[rng.randrange(len(self.tail_tokens))]
                if (chain, cand) not in self.by_token:
                    tok = cand
            if tok is None:
                tok = self.new_token()
            nq = 1 if rng.random() < 0.75 else 2
            quotes = []
            while len(quotes) < nq:
                q = rng.choices(hubs, HUB_W[:len(hubs)])[0]
                if q not in quotes:
                    quotes.append(q)
            for q in quotes:
                k = rng.choices([1, 2, 3, 4], DEX_COUNT_W)[0]
                pids += self.add_pair_pools(chain, tok, q, k)
        return pids

    def blk(self, chain, t):
        """Delivery time of an update caused at time t: next block boundary + 20-60 ms."""
        bt = BLOCK[chain]
        off = self.off[chain]
        k = math.ceil((t - off) / bt)
        return off + k * bt + 0.02 + 0.04 * self.rng.random()


class Events:
    def __init__(self, span):
        self.span = span
        self.ev = []

    def u(self, t, p):
        if 0.0 <= t < self.span:
            self.ev.append((t, 0, p))

    def r(self, t, p):
        if 0.0 <= t < self.span:
            self.ev.append((t, 1, p))


# ----------------------------------------------------------------------------------------
# Random helpers
# ----------------------------------------------------------------------------------------

def pl_rank(rng, n, s):
    """Rank in [0, n) from a continuous power law x^-s on [1, n+1)."""
    if n <= 1:
        return 0
    u = rng.random()
    if abs(s - 1.0) < 1e-9:
        x = (n + 1) ** u
    else:
        e = 1.0 - s
        x = (1.0 + u * ((n + 1) ** e - 1.0)) ** (1.0 / e)
    r = int(x) - 1
    return n - 1 if r >= n else (0 if r < 0 else r)


def zipf_cum(n, s):
    cw, acc = [], 0.0
    for i in range(n):
        acc += 1.0 / (i + 1) ** s
        cw.append(acc)
    return cw


def poisson(rng, mean):
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, int(round(rng.gauss(mean, math.sqrt(mean)))))
    l, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= l:
            return k
        k += 1


def pareto_trunc(rng, xmin, alpha, xmax):
    while True:
        x = xmin * rng.paretovariate(alpha)
        if x <= xmax:
            return x


def times_from_profile(rng, fn, span, n, dt=0.1):
    """n event times in [0, span) with density proportional to fn(t) (piecewise constant)."""
    nb = max(1, int(span / dt))
    cw, acc = [], 0.0
    for i in range(nb):
        acc += max(0.0, fn((i + 0.5) * dt))
        cw.append(acc)
    bins = rng.choices(range(nb), cum_weights=cw, k=n)
    return [(b + rng.random()) * dt for b in bins]


def weighted_sample(rng, items, weights, k):
    """k distinct items, weighted (Efraimidis-Spirakis)."""
    keyed = [(rng.random() ** (1.0 / w), i) for i, w in zip(items, weights)]
    keyed.sort(reverse=True)
    return [i for _, i in keyed[:k]]


def chains_of(p):
    return [c for c in p["chains"].split("+") if c]


def split_pools(total, chains, weights=None):
    weights = weights or [1.0] * len(chains)
    s = sum(weights)
    return [max(30, int(total * w / s)) for w in weights]


# ----------------------------------------------------------------------------------------
# Generators: gen(U, rng, p, ev)
# ----------------------------------------------------------------------------------------

def populate_chains(U, p):
    """The trace's chains and the pools created on them (`pools` split across the chains)."""
    chains = chains_of(p)
    pids = []
    for c, n in zip(chains, split_pools(p["pools"], chains)):
        pids += U.populate(c, n)
    return chains, pids


def gen_leadlag(U, rng, p, ev):
    chains = chains_of(p)
    lead, slow = chains[0], chains[1:]
    nf = p["families"]
    fams = []
    for f in range(nf):
        if f < 8:
            a, b = [("WETH", "USDC"), ("WETH", "USDT"), ("WBTC", "WETH"), ("WBTC", "USDC"),
                    ("USDC", "USDT"), ("DAI", "USDC"), ("WETH", "DAI"), ("LINK", "WETH")][f]
        else:
            a = U.new_token()
            b = rng.choices(["WETH", "USDC", "USDT"], [0.55, 0.35, 0.10])[0]
        pop = 1.0 - f / nf  # popular families are on more chains / DEXes
        k_other = min(len(slow), max(1, int(round(1 + pop * (len(slow) - 1) * rng.random() * 1.6))))
        cs = [lead] + rng.sample(slow, k_other)
        pools = {}
        for c in cs:
            k = rng.choices([1, 2, 3], [0.55 - 0.3 * pop, 0.3, 0.15 + 0.3 * pop])[0]
            pl = U.add_pair_pools(c, a, b, k)
            if pl:
                pools[c] = pl
        fams.append(pools)
    cw = zipf_cum(nf, p["fam_zipf"])
    order = list(range(nf))
    target_u = p["updates"]
    span = ev.span
    nu = 0
    follow_p, stale_p = p["follow_p"], p["stale_poll_p"]
    while nu < target_u:
        f = rng.choices(order, cum_weights=cw)[0]
        fam = fams[f]
        cs = list(fam)
        t = rng.random() * span
        lc = lead if rng.random() < p["lead_frac"] else rng.choice(cs)
        t0 = U.blk(lc, t)
        lp = rng.choice(fam[lc])
        ev.u(t0, lp)
        nu += 1
        if len(fam[lc]) > 1 and rng.random() < 0.4:
            sp = rng.choice(fam[lc])
            if sp != lp:
                ev.u(t0 + 0.0003, sp)
                nu += 1
        # detector: cross-chain spread check, reads every pool of the family
        td = t0 + 0.001 + 0.004 * rng.random()
        for c in cs:
            for q in fam[c]:
                td += 0.00005
                ev.r(td, q)
        for c in cs:
            if c == lc or rng.random() > follow_p:
                continue
            lag = rng.random() * BLOCK[c]
            tc = U.blk(c, t0 + lag)
            fp = rng.choice(fam[c])
            if stale_p and rng.random() < stale_p and tc - t0 > 0.05:
                ev.r(t0 + (tc - t0) * rng.random(), fp)
            ev.u(tc, fp)
            nu += 1
            if len(fam[c]) > 1 and rng.random() < 0.3:
                ev.u(tc + 0.0002, rng.choice(fam[c]))
                nu += 1
            tr = tc + 0.001 + 0.01 * rng.random()
            ev.r(tr, fp)
            ev.r(tr + 0.0001, lp)
            if rng.random() < 0.35:
                for q in fam[c]:
                    if q != fp:
                        ev.r(tr + 0.0002, q)


def parse_pollers(spec):
    out = []
    for item in spec.split(","):
        per, size, mode = item.split(":")
        out.append((float(per), int(size), mode))
    return out


def gen_pollers(U, rng, p, ev):
    chains, pids = populate_chains(U, p)
    # popularity: liquidity order per chain interleaved (hub pools are popular)
    rng2 = random.Random(rng.random())
    rank = list(pids)
    rng2.shuffle(rank)
    rank.sort(key=lambda q: 0 if U.t0[q] in HUBS[U.chain[q]] and U.t1[q] in HUBS[U.chain[q]] else 1)
    w = [1.0 / (i + 1) ** p["set_zipf"] for i in range(len(rank))]
    span = ev.span
    pollers = parse_pollers(p["pollers"])
    align_chain = p.get("align", "")
    for j, (per, size, mode) in enumerate(pollers):
        size = min(size, len(rank))
        pset = weighted_sample(rng, rank, w, size)
        rng.shuffle(pset)
        phase = rng.random() * per
        switch_at = span / 2 if j == p["reconfig"] else None
        k = 0
        while True:
            if align_chain:
                tick = U.off[align_chain] + k * per + 0.15 + phase * 0.02
            else:
                tick = phase + k * per + 0.003 * rng.random()
            k += 1
            if tick >= span:
                break
            if switch_at is not None and tick >= switch_at:
                keep = pset[: size // 2]
                have = set(keep)
                extra = [q for q in weighted_sample(rng, rank, w, size * 2) if q not in have]
                pset = keep + extra[: size - len(keep)]
                rng.shuffle(pset)
                switch_at = None
            if mode == "b":
                t = tick
                for q in pset:
                    ev.r(t, q)
                    t += 0.00002
            else:
                step = per / len(pset)
                for i, q in enumerate(pset):
                    ev.r(tick + i * step, q)
    # updates: Zipf over a (different) activity ranking, block aligned
    act = list(pids)
    rng.shuffle(act)
    act.sort(key=lambda q: 0 if U.t0[q] in HUBS[U.chain[q]] and U.t1[q] in HUBS[U.chain[q]] else 1)
    cw = zipf_cum(len(act), p["upd_zipf"])
    for q in rng.choices(act, cum_weights=cw, k=p["updates"]):
        ev.u(U.blk(U.chain[q], rng.random() * span), q)


def gen_regime(U, rng, p, ev):
    chains, pids = populate_chains(U, p)
    span = ev.span
    H = min(p["hot"], len(pids) // 3)
    bg_order = list(pids)
    rng.shuffle(bg_order)
    bg_cw = zipf_cum(len(bg_order), 0.6)
    reps = [(float(a), float(b)) for a, b in (x.split(":") for x in p["replace"].split(","))]
    hot = rng.sample(pids, H)
    regimes = [(0.0, hot)]
    history = [hot]
    t = 0.0
    while True:
        t += max(8.0, rng.expovariate(1.0 / p["mean_regime_s"]))
        if t >= span:
            break
        cur = regimes[-1][1]
        if len(history) >= 2 and rng.random() < p["return_p"]:
            cands = [h for h in history[-4:] if h is not cur]
            new = rng.choice(cands)
        else:
            frac = rng.choices([a for a, _ in reps], [b for _, b in reps])[0]
            m = max(1, int(round(frac * H)))
            new = list(cur)
            cs = set(cur)
            idx = rng.sample(range(H), m)
            for i in idx:
                while True:
                    q = pids[rng.randrange(len(pids))]
                    if q not in cs:
                        break
                cs.add(q)
                new[i] = q
            history.append(new)
        regimes.append((t, new))
    starts = [s for s, _ in regimes]

    def hot_at(t):
        return regimes[bisect.bisect_right(starts, t) - 1][1]

    hz = p["hot_zipf"]
    react = p["react_frac"]
    n_react = int(p["reads"] * react)
    hot_updates = []
    for _ in range(p["updates"]):
        t = rng.random() * span
        if rng.random() < p["upd_hot"]:
            q = hot_at(t)[pl_rank(rng, H, hz)]
            tu = U.blk(U.chain[q], t)
            ev.u(tu, q)
            hot_updates.append((tu, q))
        else:
            q = rng.choices(bg_order, cum_weights=bg_cw)[0]
            ev.u(U.blk(U.chain[q], t), q)
    for _ in range(p["reads"] - n_react):
        t = rng.random() * span
        if rng.random() < p["bg_frac"]:
            q = rng.choices(bg_order, cum_weights=bg_cw)[0]
        else:
            q = hot_at(t)[pl_rank(rng, H, hz)]
        ev.r(t, q)
    k = 0
    while k < n_react and hot_updates:
        tu, q = hot_updates[rng.randrange(len(hot_updates))]
        tr = tu + 0.002 + 0.028 * rng.random()
        ev.r(tr, q)
        k += 1
        if k < n_react:
            h = hot_at(tr)
            ev.r(tr + 0.0005, h[pl_rank(rng, H, hz)])
            k += 1


def gen_bursty(U, rng, p, ev):
    chains, pids = populate_chains(U, p)
    span = ev.span
    order = list(pids)
    rng.shuffle(order)
    bmin, bmax, ba = p["burst_min"], p["burst_max"], p["burst_alpha"]
    srng = random.Random(12345)
    mean_b = sum(int(pareto_trunc(srng, bmin, ba, bmax + 0.999)) for _ in range(20000)) / 20000
    burst_reads = p["reads"] * (1.0 - p["noise_frac"])
    episodes = burst_reads / mean_b
    ws = [1.0 / (i + 1) ** p["zipf"] for i in range(len(order))]
    sw = sum(ws)
    ga = p["gap_alpha"]
    win = p["burst_window_ms"] / 1000.0
    # heavy-tailed renewal per pool; a finite horizon truncates the long gaps, so more
    # bursts come out than span/mean: thin them afterwards to the read budget
    eps = []
    for q, w in zip(order, ws):
        g = span / (episodes * w / sw)          # mean gap between this pool's bursts
        xmin = g * (ga - 1.0) / ga
        t = rng.random() * g
        while t < span:
            eps.append((t, q, int(pareto_trunc(rng, bmin, ba, bmax + 0.999))))
            t += xmin * rng.paretovariate(ga)
    keep = min(1.0, burst_reads / max(1, sum(e[2] for e in eps)))
    nu = 0
    for t, q, k in eps:
        if rng.random() >= keep:
            continue
        if rng.random() < p["trig_p"]:
            ev.u(t - 0.0005 - 0.004 * rng.random(), q)
            nu += 1
        offs = sorted(rng.random() * win for _ in range(k))
        for o in offs:
            ev.r(t + o, q)
        if rng.random() < 0.2:
            ev.u(U.blk(U.chain[q], t), q)
            nu += 1
    for _ in range(int(p["reads"] * p["noise_frac"])):
        ev.r(rng.random() * span, pids[rng.randrange(len(pids))])
    cw = zipf_cum(len(order), p["zipf"])
    for q in rng.choices(order, cum_weights=cw, k=max(0, p["updates"] - nu)):
        ev.u(U.blk(U.chain[q], rng.random() * span), q)


def gen_core_churn(U, rng, p, ev):
    chains, pids = populate_chains(U, p)
    span = ev.span
    hubpools = [q for q in pids if U.t0[q] in HUBS[U.chain[q]] and U.t1[q] in HUBS[U.chain[q]]]
    hs = set(hubpools)
    rest = [q for q in pids if q not in hs]
    rng.shuffle(hubpools)
    rng.shuffle(rest)
    core = (hubpools + rest)[: p["core"]]
    cs = set(core)
    others = [q for q in hubpools + rest if q not in cs]
    rng.shuffle(others)
    W = p["warm"]
    life = p["warm_life_s"]
    n_reserve = min(len(others) // 2, int(W * (1 + span / life) * 1.1))
    reserve, tail = others[:n_reserve], others[n_reserve:]
    slot_pool = reserve[:W]
    res_i = W
    slot_death = [rng.expovariate(1.0 / life) for _ in range(W)]
    nr, nu = p["reads"], p["updates"]
    items = [(rng.random() * span, 1) for _ in range(nr)] + [(rng.random() * span, 0) for _ in range(nu)]
    items.sort()
    core_cw = zipf_cum(len(core), 0.8)
    tail_i = 0
    for t, isread in items:
        x = rng.random()
        if isread:
            a, b = p["core_frac"], p["core_frac"] + p["warm_frac"]
        else:
            a, b = p["upd_core"], p["upd_core"] + p["upd_warm"]
        if x < a:
            q = rng.choices(core, cum_weights=core_cw)[0]
        elif x < b:
            s = pl_rank(rng, W, 0.5)
            while t > slot_death[s]:
                slot_death[s] += rng.expovariate(1.0 / life)
                slot_pool[s] = reserve[res_i % len(reserve)]
                res_i += 1
            q = slot_pool[s]
        else:
            if isread:
                q = tail[tail_i % len(tail)]
                tail_i += 1
            else:
                q = tail[rng.randrange(len(tail))]
        if isread:
            ev.r(t, q)
        else:
            ev.u(U.blk(U.chain[q], t), q)


def gen_rate_cycle(U, rng, p, ev):
    chains, pids = populate_chains(U, p)
    span = ev.span
    quiet = sorted(pids, key=lambda q: (0 if U.t0[q] in HUBS[U.chain[q]] and U.t1[q] in HUBS[U.chain[q]] else 1,
                                        rng.random()))
    busy = list(pids)
    rng.shuffle(busy)
    amp, day = p["amp"], p["day_s"]
    phase = rng.random() * 2 * math.pi
    spikes = []
    t = rng.expovariate(1.0 / p["spike_every_s"])
    tail_pids = quiet[len(quiet) // 3:]
    while t < span:
        dur = 8 + 22 * rng.random()
        mult = 2.5 + 2.5 * rng.random()
        spikes.append((t, t + dur, mult, rng.sample(tail_pids, rng.randint(20, 120))))
        t += dur + rng.expovariate(1.0 / p["spike_every_s"])

    def base(t):
        return 1.0 + amp * math.sin(2 * math.pi * t / day + phase)

    def spike_at(t):
        for s in spikes:
            if s[0] <= t < s[1]:
                return s
        return None

    def inten(t):
        s = spike_at(t)
        return base(t) * (s[2] if s else 1.0)

    nq, nb, z = p["n_quiet"], p["n_busy"], p["zipf"]

    def pick(t):
        s = spike_at(t)
        if s and rng.random() < 0.4:
            return s[3][pl_rank(rng, len(s[3]), 0.8)]
        x = (base(t) - (1 - amp)) / (2 * amp) if amp > 0 else 0.5  # 0 at trough, 1 at peak
        if s:
            x = min(1.0, x + 0.3)
        n = int(nq * (nb / nq) ** x)
        if rng.random() < x ** 1.2:
            return busy[pl_rank(rng, n, z)]
        return quiet[pl_rank(rng, n, z)]

    for t in times_from_profile(rng, inten, span, p["updates"]):
        q = pick(t)
        tu = U.blk(U.chain[q], t)
        ev.u(tu, q)
        if rng.random() < p["react_p"]:
            ev.r(tu + 0.001 + 0.01 * rng.random(), q)
    n_rest = p["reads"] - int(p["updates"] * p["react_p"])
    for t in times_from_profile(rng, inten, span, max(0, n_rest)):
        ev.r(t, pick(t))


def gen_tenants(U, rng, p, ev):
    chains = chains_of(p)
    pids = []
    for c, n in zip(chains, split_pools(p["pools"], chains)):
        pids += U.populate(c, n, share_p=0.15)
    span = ev.span
    order = list(pids)
    rng.shuffle(order)
    order.sort(key=lambda q: 0 if U.t0[q] in HUBS[U.chain[q]] and U.t1[q] in HUBS[U.chain[q]] else 1)
    hft = order[: p["hft_n"]]
    stat = order[p["hft_n"] // 2: p["hft_n"] // 2 + p["stat_n"]]
    rest = order[p["hft_n"] // 2 + p["stat_n"]:]
    rng.shuffle(rest)
    loop = rest[: p["loop_n"]]
    scan = rest[p["loop_n"] // 3: p["loop_n"] // 3 + p["scan_n"]]
    R = p["reads"]
    pause0 = rng.random() * (span - 90)
    scan_ph = rng.random() * 120

    def prof_stat(t):
        return 0.0 if pause0 <= t < pause0 + 90 else 1.0

    def prof_scan(t):
        return 1.0 if ((t + scan_ph) % 120.0) < 40.0 else 0.0

    def prof_loop(t):
        return 2.0 if span / 3 <= t < 2 * span / 3 else 1.0

    for t in times_from_profile(rng, lambda t: 1.0, span, int(R * p["hft_frac"])):
        ev.r(t, hft[rng.randrange(len(hft))])
    scw = zipf_cum(len(stat), p["stat_zipf"])
    for t in times_from_profile(rng, prof_stat, span, int(R * p["stat_frac"])):
        ev.r(t, rng.choices(stat, cum_weights=scw)[0])
    for t in times_from_profile(rng, prof_scan, span, int(R * p["scan_frac"])):
        ev.r(t, scan[rng.randrange(len(scan))])
    lt = sorted(times_from_profile(rng, prof_loop, span, int(R * p["loop_frac"]), dt=0.05))
    for i, t in enumerate(lt):
        ev.r(t, loop[i % len(loop)])
    # updates: hub/stat pools most active, everything else Zipf-ish
    act = list(order)
    cw = zipf_cum(len(act), p["upd_zipf"])
    ups = []
    for q in rng.choices(act, cum_weights=cw, k=p["updates"]):
        tu = U.blk(U.chain[q], rng.random() * span)
        ev.u(tu, q)
        ups.append((tu, q))
    for _ in range(int(R * p["event_frac"])):
        tu, q = ups[rng.randrange(len(ups))]
        ev.r(tu + 0.001 + 0.029 * rng.random(), q)


def gen_mempool(U, rng, p, ev):
    chains = chains_of(p)
    cws = [float(x) for x in p["chain_w"].split(",")][: len(chains)]
    span = ev.span
    per_chain = {}
    for c, n in zip(chains, split_pools(p["pools"], chains, cws)):
        pl = U.populate(c, n)
        rng.shuffle(pl)
        pl.sort(key=lambda q: 0 if U.t0[q] in HUBS[c] and U.t1[q] in HUBS[c] else 1)
        per_chain[c] = (pl, zipf_cum(len(pl), p["zipf"]))
    allp = [q for c in chains for q in per_chain[c][0]]
    nu_target = p["updates"]
    nu = 0
    bg = 0
    nr = 0
    while nu < nu_target:
        c = rng.choices(chains, cws)[0]
        pl, cw = per_chain[c]
        q = rng.choices(pl, cum_weights=cw)[0]
        tm = rng.random() * span
        # pre-read of the pool and a few route neighbours sharing a token
        tr = tm + 0.005 + 0.075 * rng.random()
        ev.r(tr, q)
        nr += 1
        kn = min(3, poisson(rng, p["neigh_mean"]))
        for j in range(kn):
            tok = U.t0[q] if rng.random() < 0.5 else U.t1[q]
            grp = U.by_token[(c, tok)]
            nb = grp[pl_rank(rng, min(len(grp), 50), 0.7)] if tok in HUBS[c] else rng.choice(grp)
            ev.r(tr + 0.0002 * (j + 1), nb)
            nr += 1
        if rng.random() < p["drop_p"]:
            continue
        if c == "ethereum":
            tb = U.blk(c, tm + 0.5 + BLOCK[c] * rng.choices([0, 1, 2], [0.7, 0.22, 0.08])[0])
        else:
            tb = U.blk(c, tm + 0.2)
        ev.u(tb, q)
        nu += 1
        if rng.random() < p["post_p"]:
            ev.r(tb + 0.002 + 0.038 * rng.random(), q)
            nr += 1
        if rng.random() < p["late_p"]:
            ev.r(tb + pareto_trunc(rng, 10.0, 1.1, 400.0), q)
            nr += 1
    # unrelated background reads (Zipf over all chains)
    nbg = int(nr * p["bg_frac"] / (1 - p["bg_frac"]))
    order = list(allp)
    rng.shuffle(order)
    cw = zipf_cum(len(order), 0.8)
    for q in rng.choices(order, cum_weights=cw, k=nbg):
        ev.r(rng.random() * span, q)


def gen_growing(U, rng, p, ev):
    chains, pids = populate_chains(U, p)
    span = ev.span
    join = list(pids)
    rng.shuffle(join)
    s0, s1 = p["s0"], min(p["s1"], len(pids))
    active = []
    ji = 0
    items = [(rng.random() * span, 1) for _ in range(p["reads"])]
    items += [(rng.random() * span, 0) for _ in range(p["updates"])]
    items.sort()
    z = p["zipf"]
    for t, isread in items:
        size = int(s0 * (s1 / s0) ** (t / span))
        while len(active) < size and ji < len(join):
            pos = int(len(active) * (0.15 + 0.85 * rng.random() ** 0.6))
            active.insert(pos, join[ji])
            ji += 1
        if isread:
            ev.r(t, active[pl_rank(rng, len(active), z)])
        elif rng.random() < p["upd_active"]:
            q = active[pl_rank(rng, len(active), z)]
            tu = U.blk(U.chain[q], t)
            ev.u(tu, q)
            if rng.random() < p["react_frac"]:
                ev.r(tu + 0.001 + 0.019 * rng.random(), q)
        else:
            q = pids[rng.randrange(len(pids))]
            ev.u(U.blk(U.chain[q], t), q)


def gen_token_fanout(U, rng, p, ev):
    chains = chains_of(p)
    for c, n in zip(chains, split_pools(p["pools"], chains)):
        U.populate(c, n, share_p=0.2)
    span = ev.span
    # long-tail token groups (chain, token) and hub groups
    tail_groups, hub_groups = [], []
    for (c, tok), grp in U.by_token.items():
        if c not in chains:
            continue
        (hub_groups if tok in HUBS[c] else tail_groups).append((c, tok))
    rng.shuffle(tail_groups)
    tcw = zipf_cum(len(tail_groups), p["tok_zipf"])
    hub_w = [len(U.by_token[g]) ** 0.5 for g in hub_groups]
    route_cache = {}

    def route_pool(c, tok):
        if (c, tok) not in route_cache:
            r = None
            for st in ("USDC", "USDT", "BUSD", "DAI"):
                if st != tok:
                    grp = U.by_pair.get((c, min(tok, st), max(tok, st)))
                    if grp:
                        r = grp[0]
                        break
            route_cache[(c, tok)] = r
        return route_cache[(c, tok)]
    nu = 0
    while nu < p["updates"]:
        t = rng.random() * span
        if rng.random() < p["hub_p"]:
            c, tok = rng.choices(hub_groups, hub_w)[0]
            grp = U.by_token[(c, tok)]
            m = min(len(grp), int(pareto_trunc(rng, 5, p["fan_alpha"], p["fan_max"])))
            # liquid pools (early ids: hub pairs) first, then random others
            head = grp[: m // 2]
            tailp = rng.sample(grp[m // 2:], min(len(grp) - m // 2, m - len(head)))
            moved = head + tailp
            nblocks = 1 + int(m / 60)
        else:
            c, tok = rng.choices(tail_groups, cum_weights=tcw)[0]
            moved = list(U.by_token[(c, tok)])
            nblocks = 1
        t1 = U.blk(c, t)
        # detection: the first pool moves, the detector reads the whole group (stale)
        ev.u(t1, moved[0])
        nu += 1
        td = t1 + 0.002
        for i, q in enumerate(moved):
            ev.r(td + i * 0.00003, q)
            # price the other leg in USD: the main pool of the quote token with a stable
            route = route_pool(c, U.t1[q] if U.t0[q] == tok else U.t0[q])
            if route is not None and rng.random() < p["route_p"]:
                ev.r(td + i * 0.00003 + 0.00001, route)
        # arbitrage re-aligns the other pools over the next blocks; read after each
        for q in moved[1:]:
            if rng.random() < p["realign_p"]:
                tu = U.blk(c, t1 + BLOCK[c] * rng.randrange(nblocks) + 0.001)
                ev.u(tu, q)
                nu += 1
                ev.r(tu + 0.001 + 0.01 * rng.random(), q)
        if rng.random() < p["reread_p"]:
            tr = t1 + 1.0 + 4.0 * rng.random()
            for i, q in enumerate(moved[: max(1, len(moved) // 2)]):
                ev.r(tr + i * 0.00003, q)


def gen_update_flood(U, rng, p, ev):
    chains = chains_of(p)
    span = ev.span
    watch_all = []
    for c, n in zip(chains, split_pools(p["pools"] - p["flood_pools"], chains)):
        watch_all += U.populate(c, n)
    rng.shuffle(watch_all)
    watch_all.sort(key=lambda q: 0 if U.t0[q] in HUBS[U.chain[q]] and U.t1[q] in HUBS[U.chain[q]] else 1)
    watch = watch_all[: p["watch"]]
    # flood tokens: fresh launches on the flood chains (bsc, base by default)
    fchains = [c for c in p["flood_chains"].split("+") if c in chains] or chains
    n_flood_u = int(p["updates"] * p["flood_frac"])
    frenzies = []
    made = 0
    while made < p["flood_pools"]:
        c = rng.choice(fchains)
        tok = U.new_token()
        k = rng.choices([1, 2, 3], [0.6, 0.3, 0.1])[0]
        q = rng.choices(HUBS[c][:2], [0.7, 0.3])[0]
        pl = U.add_pair_pools(c, tok, q, k)
        made += len(pl)
        frenzies.append(pl)
    sizes = [pareto_trunc(rng, 1.0, 1.2, 16.0) for _ in frenzies]
    ss = sum(sizes)
    flood_reads = []
    for pl, s in zip(frenzies, sizes):
        n = max(1, int(n_flood_u * s / ss))
        t0 = rng.random() * span
        dur = 20 + 40 * rng.random()
        c = U.chain[pl[0]]
        for _ in range(n):
            q = pl[0] if rng.random() < 0.7 else rng.choice(pl)
            ev.u(U.blk(c, t0 + dur * rng.random() ** 1.5), q)
        flood_reads.append((t0, pl))
    cw = zipf_cum(len(watch), p["watch_zipf"])
    for q in rng.choices(watch, cum_weights=cw, k=p["updates"] - n_flood_u):
        ev.u(U.blk(U.chain[q], rng.random() * span), q)
    # background updates of unwatched (non-flood) pools
    others = watch_all[p["watch"]:]
    for q in others:
        ev.u(U.blk(U.chain[q], rng.random() * span), q)
    nfr = int(p["reads"] * p["flood_read_frac"])
    for _ in range(nfr):
        t0, pl = flood_reads[rng.randrange(len(flood_reads))]
        ev.r(t0 + 60 * rng.random(), rng.choice(pl))
    for q in rng.choices(watch, cum_weights=cw, k=p["reads"] - nfr):
        ev.r(rng.random() * span, q)


def gen_mixture(U, rng, p, ev):
    """Sub-workloads on disjoint chains, each with its own time scale."""
    R, Up, P = p["reads"], p["updates"], p["pools"]
    parts = [
        (gen_pollers, dict(TRACES["pollers_fixed"][1], chains="ethereum", pools=int(P * 0.22),
                           pollers="12:420:b,60:1300:s,1:28:s", align="ethereum", reconfig=1,
                           updates=int(Up * 0.12))),
        (gen_leadlag, dict(TRACES["leadlag_xchain"][1], chains="arbitrum+base+optimism",
                           families=int(P * 0.06), updates=int(Up * 0.28))),
        (gen_regime, dict(TRACES["regime_aba"][1], chains="bsc", pools=int(P * 0.2), hot=120,
                          mean_regime_s=25.0, updates=int(Up * 0.22), reads=int(R * 0.22))),
        (gen_growing, dict(TRACES["growing_hotset"][1], chains="polygon", pools=int(P * 0.15),
                           s0=20, s1=900, updates=int(Up * 0.18), reads=int(R * 0.16))),
        (gen_bursty, dict(TRACES["bursty_reads"][1], chains="avalanche", pools=int(P * 0.15),
                          updates=int(Up * 0.2), reads=int(R * 0.16))),
    ]
    for fn, sub in parts:
        fn(U, random.Random(rng.random()), sub, ev)


# ----------------------------------------------------------------------------------------
# Registry: name -> (generator, defaults, description)
# ----------------------------------------------------------------------------------------

COMMON = dict(seed=1, span_s=720.0)
TRACES = {
    "leadlag_xchain": (gen_leadlag, dict(COMMON, chains="arbitrum+base+optimism+polygon+bsc+ethereum",
                                         families=1300, fam_zipf=0.95, follow_p=0.7, stale_poll_p=0.5,
                                         lead_frac=0.7, updates=52000, reads=200000),
                       "cross-chain lead-lag: fast-chain move, slower chains follow within a block"),
    "pollers_fixed": (gen_pollers, dict(COMMON, span_s=600.0, chains="bsc+polygon", pools=4000,
                                        pollers="0.2:24:b,0.5:40:b,1.5:100:s,4:220:b,12:500:s,30:1500:s,60:2600:b",
                                        set_zipf=0.8, upd_zipf=1.0, reconfig=4, align="",
                                        updates=45000, reads=0),
                      "fixed-period pollers (0.5-60 s, 24-2600 pools), loops around cache size"),
    "regime_aba": (gen_regime, dict(COMMON, chains="ethereum+arbitrum+base", pools=5000, hot=220,
                                    hot_zipf=0.9, bg_frac=0.15, mean_regime_s=45.0, return_p=0.3,
                                    replace="0.1:0.4,0.5:0.35,1.0:0.25", react_frac=0.3, upd_hot=0.65,
                                    updates=50000, reads=200000),
                   "abrupt hot-set switches (10/50/100%), with A-B-A returns"),
    "bursty_reads": (gen_bursty, dict(COMMON, chains="bsc+polygon+arbitrum", pools=6000, zipf=0.8,
                                      burst_min=5, burst_max=50, burst_alpha=1.3, burst_window_ms=100.0,
                                      gap_alpha=1.2, noise_frac=0.3, trig_p=0.3,
                                      updates=40000, reads=220000),
                     "read bursts of 5-50 within 100 ms, heavy-tailed gaps, uniform noise"),
    "core_churn_onehit": (gen_core_churn, dict(COMMON, chains="ethereum+arbitrum+base+optimism",
                                               pools=14000, core=40, core_frac=0.35, warm=450,
                                               warm_life_s=90.0, warm_frac=0.40, upd_core=0.4,
                                               upd_warm=0.35, updates=55000, reads=210000),
                          "stable hot core + churning warm set + one-hit tail reads"),
    "rate_cycle": (gen_rate_cycle, dict(COMMON, chains="ethereum+arbitrum+bsc+polygon", pools=7000,
                                        day_s=240.0, amp=0.8, spike_every_s=100.0, n_quiet=120,
                                        n_busy=3000, zipf=0.9, react_p=0.3,
                                        updates=60000, reads=220000),
                   "compressed daily cycle + gas spikes; hot set size/ranking follow the rate"),
    "tenants_mixed": (gen_tenants, dict(COMMON, span_s=660.0, chains="base+arbitrum+optimism+ethereum+bsc",
                                        pools=9000, hft_n=16, stat_n=260, stat_zipf=1.1, scan_n=6000,
                                        loop_n=700, hft_frac=0.22, stat_frac=0.30, scan_frac=0.20,
                                        loop_frac=0.15, event_frac=0.13, upd_zipf=0.9,
                                        updates=45000, reads=230000),
                      "five tenants (16..6000 pools, loop, scanner, event follower) share L1"),
    "mempool_preread": (gen_mempool, dict(COMMON, chains="ethereum+bsc+polygon", chain_w="0.35,0.4,0.25",
                                          pools=5000, zipf=0.9, neigh_mean=1.2, drop_p=0.15, post_p=0.5,
                                          late_p=0.3, bg_frac=0.15, updates=50000),
                        "mempool pre-reads before the update, confirm after, late settlement checks"),
    "growing_hotset": (gen_growing, dict(COMMON, chains="arbitrum+base+polygon", pools=4000, s0=40,
                                         s1=2200, zipf=0.75, upd_active=0.8, react_frac=0.25,
                                         updates=45000, reads=190000),
                       "watched set grows 40 -> 2200 pools: fits the cache early, not late"),
    "token_fanout": (gen_token_fanout, dict(COMMON, chains="ethereum+arbitrum+bsc+base+polygon",
                                            pools=8000, hub_p=0.04, fan_alpha=1.1, fan_max=400.0, route_p=0.7, realign_p=0.6,
                                            tok_zipf=1.0, reread_p=0.3, updates=55000),
                     "token shocks fan out to every pool of the token (1 to 400 pools)"),
    "update_flood": (gen_update_flood, dict(COMMON, span_s=600.0, chains="bsc+base+ethereum", pools=9000,
                                            flood_pools=6500, flood_chains="bsc+base", watch=420,
                                            watch_zipf=0.9, flood_frac=0.72, flood_read_frac=0.04,
                                            updates=80000, reads=170000),
                     "memecoin update floods on unread pools pollute L1; timer-driven watch reads"),
    "mixture_timescales": (gen_mixture, dict(COMMON, span_s=840.0, pools=8000, updates=60000, reads=210000),
                           "per-chain mix: eth block pollers, L2 lead-lag, bsc regimes, polygon growth, avax bursts"),
}
ORDER = list(TRACES)


# ----------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------

def write_trace(name, U, ev, out_dir, t0_us):
    evs = ev.ev
    rows = [(t0_us + int(t * 1e6), op, q) for t, op, q in evs]
    rows.sort()
    used = sorted(set(q for _, _, q in rows))
    tail = [None] * U.n()
    for q in used:
        tail[q] = "," + U.chain[q] + "," + U.addr[q] + "\n"
    ops = (",u", ",r")
    parts = ["ts_us,op,chain,pair\n"]
    parts += [str(ts) + ops[op] + tail[q] for ts, op, q in rows]
    data = "".join(parts).encode()
    path = os.path.join(out_dir, name + ".csv.gz")
    with open(path, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=6) as gz:
            gz.write(data)
    with open(os.path.join(out_dir, name + ".pairs.csv"), "w") as f:
        f.write("pair,chain,dex,token0,token1\n")
        for q in used:
            f.write(f"{U.addr[q]},{U.chain[q]},{U.dex[q]},{U.t0[q]},{U.t1[q]}\n")
    nu = sum(1 for r in rows if r[1] == 0)
    span = (rows[-1][0] - rows[0][0]) / 1e6 if rows else 0.0
    chains = len(set(U.chain[q] for q in used))
    return len(used), nu, len(rows) - nu, span, chains


def parse_value(default, text):
    if isinstance(default, bool):
        return text.lower() in ("1", "true", "yes")
    if isinstance(default, int):
        return int(float(text))
    if isinstance(default, float):
        return float(text)
    return text


def run_one(name, out_dir, overrides):
    fn, defaults, _ = TRACES[name]
    p = dict(defaults)
    for k, v in overrides.items():
        if k not in p:
            raise SystemExit(f"{name}: unknown parameter {k!r} (known: {', '.join(sorted(p))})")
        p[k] = parse_value(p[k], v)
    t_start = time.time()
    rng = random.Random(f"gen4:{name}:{p['seed']}")
    U = Universe(rng)
    ev = Events(p["span_s"])
    fn(U, rng, p, ev)
    os.makedirs(out_dir, exist_ok=True)
    t0_us = T0_BASE + (ORDER.index(name) + 1) * 86_400_000_000 + 3_600_000_000 * (p["seed"] % 24)
    pools, nu, nr, span, chains = write_trace(name, U, ev, out_dir, t0_us)
    print(f"{name:20s} pools={pools:6d} updates={nu:6d} reads={nr:6d} r/u={nr / max(1, nu):4.1f} "
          f"chains={chains} span={span:6.1f}s gen={time.time() - t_start:5.1f}s", flush=True)


def main(argv):
    if len(argv) < 2 or argv[1] not in ("list", "all", "one"):
        print(__doc__.split("Usage:")[1].strip() if "Usage:" in __doc__ else __doc__)
        return 2
    if argv[1] == "list":
        for n in ORDER:
            print(f"{n:20s}  {TRACES[n][2]}")
        return 0
    if argv[1] == "all":
        if len(argv) != 3:
            print("usage: gen4_traces.py all OUT_DIR")
            return 2
        t = time.time()
        for n in ORDER:
            run_one(n, argv[2], {})
        print(f"all: {len(ORDER)} traces in {time.time() - t:.1f}s")
        return 0
    if len(argv) < 4 or argv[2] not in TRACES:
        print("usage: gen4_traces.py one NAME OUT_DIR [key=value ...]; names: " + ", ".join(ORDER))
        return 2
    ov = {}
    for kv in argv[4:]:
        k, _, v = kv.partition("=")
        ov[k] = v
    run_one(argv[2], argv[3], ov)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
