#!/usr/bin/env python3
"""gen3_traces: a third, independent workload generator for the pairwarm cache simulator.

Written independently of the project's other generators, from first principles, as a held-out
test of cache policies tuned on those: its author did not read the project's trace generators
(`pairwarm trace generate` / `trace workloads`, trace/generate*, scripts/alt_traces.py), the
simulation and hit-rate docs, scripts/*.sh or the cache code. Only the file format was used
(the trace module's docs and parsers, docs/trace-format.md, the address and chain-name rules of
crates/pairwarm/src/pair.rs, `pairwarm simulate/trace --help`). Python 3 standard library only;
deterministic given a seed. Defaults of every parameter: the TRACES table at the end.

Usage
-----
    python3 scripts/gen3_traces.py list
    python3 scripts/gen3_traces.py all OUT_DIR
    python3 scripts/gen3_traces.py one NAME OUT_DIR [key=value ...]

Each trace NAME is written as OUT_DIR/NAME.csv.gz (`ts_us,op,chain,pair`, gzip level 1, mtime 0
so that reruns are byte-identical) and OUT_DIR/NAME.pairs.csv (`pair,chain,dex,token0,token1`).
Every pool of the pairs file appears in the trace at least once and vice versa (a pool that no
mechanism touched gets one update at a random time while it exists: a rare swap; their number is
printed as `fillers`). Events past `duration_s` are dropped. Timestamps are
Unix microseconds from 2025-03-01 00:00 UTC, non-decreasing; at equal timestamps updates come
before reads.

The market model (shared by all traces)
---------------------------------------
Chains and their block times: ethereum 12 s, bsc 3 s, polygon 2 s, arbitrum 0.25 s, base 2 s,
optimism 2 s, avalanche 2 s. Each chain has a random block phase; the logs of one block reach
the detector in a burst spread over a chain-specific window (4 ms on ethereum ... 0.4 ms on
arbitrum). A transaction sent at time t lands in the next block; during a chain halt it is
queued to the first blocks after the halt.

Tokens: per chain a few hub tokens (WETH, USDC, USDT, WBTC, DAI and the chain's native wrapper:
WBNB, WMATIC, WAVAX, plus ARB/OP, USDC.e, BTCB, ...), ~20-30 mid-cap tokens (LINK, UNI, PEPE,
CAKE, AERO, GMX ...; the widely bridged ones keep the same symbol on every chain, so the same
token pair exists on several chains) and long-tail tokens with generated symbols (mostly on one
"home" chain, ~8% bridged to a second one). Pools: every hub-hub pair on most DEXes of the
chain (concentrated-liquidity DEXes get 1-3 fee tiers, i.e. several pools with the same dex and
tokens), each mid token against 2-4 hubs on 1-4 DEXes, each long-tail token against 1-2 hubs
(mostly the native wrapper) on 1-3 DEXes, occasionally against a mid token. Pool addresses are
random 160-bit values; token0/token1 are ordered by a per-chain token address (as on-chain), so
the order of the same two symbols can differ between chains. Pool activity weights are heavy
tailed: tier base (hub-hub 10-60, hub-mid 2-4, mid-mid 1, long tail 0.25 x Pareto(1.2)) x DEX
liquidity factor x lognormal noise (fee tiers after the first x 0.3).

Structure used by the simulated detectors: siblings (same token pair, same chain, other
DEX/fee tier), twins (same token pair on another chain, the busiest pool there) and triangle
legs (for a pool A/B, the busiest A/C and C/B pools on the chain for a third token C; triangles
ranked by their weaker leg, at most 24 kept per pool).

Traces and mechanisms (parameters in brackets, override with key=value)
-----------------------------------------------------------------------
Common parameters: seed, duration_s, pools (exact pool count of the universe), chains
(comma-separated), update_rate (updates/s over the whole trace before multipliers).

1. sibling_detectors -- `detectors` (5) detectors, each watching 2-4 chains and a random,
   overlapping subset of the pools there (all hub pairs, ~2 x `watch_frac` of mid pools,
   `watch_frac` of long-tail ones). Each pool's log price is a random walk whose step (bps) is
   `calm_sigma_bps` x pool volatility (long tail 3x) x `vol_mult` in volatile regimes. Each
   chain alternates calm / volatile regimes (exponential dwell `calm_dwell_s` / `vol_dwell_s`);
   volatile regimes multiply the update rate by `vol_rate_mult`. When a watched pool's price
   has moved more than the detector's threshold (`thr_bps` x U(0.6,1.8)) since that detector
   last reacted to it, the detector reads, after its own latency (median U(0.5,2) x
   `lat_med_us`), the pool itself (prob. `self_read`) and its watched siblings (at most
   `max_sib`), and also its cross-chain twins if the move exceeds `twin_factor` x threshold.
2. triangle_legs -- after an update of a pool (one leg), the detector (latency lognormal,
   median `lat_med_us`, clipped to [`lat_lo_us`, `lat_hi_us`]) reads the pool (prob.
   `self_read`) and, with prob. `tri_prob`, the other two legs of up to `max_tri` triangles
   (weighted sampling without replacement, favouring deep legs); with prob. `recheck_p` it
   re-reads the legs of the best triangle `recheck_lo_ms`-`recheck_hi_ms` later. Pools without
   triangles get their siblings read instead.
3. pool_churn -- pool births and deaths. A fraction `born_frac` of the long-tail (token, chain)
   groups are launched during the trace (uniform launch time; the first pool at launch, the
   group's other pools `list_delay_s` (exponential mean) later). A new pool has, on top of its
   steady rate, a launch burst of `hot_rate` (per s, x lognormal) decaying with time constant
   `hot_tau_s`. With prob. `rug_frac` a launched token is rugged after Exp(`rug_tau_s`): one
   final update, then silence. A fraction `death_frac` of pre-existing long-tail groups go quiet
   at a uniform time. Detector (latency median `lat_med_us`): per update, the pool (prob.
   `self_read`) and up to `fanout` siblings/triangle legs that are born and not dead for more
   than `forget_s`; snipers poll every pool of `sniper_frac` of the launches every
   ~`sniper_period_s` during their first `sniper_window_s` seconds.
4. news_waves -- news events arrive every Exp(`news_gap_s`); each multiplies the update rate by
   up to U(`amp_lo`,`amp_hi`) (linear rise over `rise_s`, exponential decay `decay_s`) and
   concerns 1-3 tokens (mostly mid caps); a share `focus` of the extra activity (updates and
   polls) goes to the pools of those tokens on all chains, so the hot set moves to them.
   Detector: reactive reads after ~`lat_med_us` (pool with prob. `self_read`, `fanout`
   siblings/legs) plus a poller reading `poll_rate` x multiplier pools/s (weight^0.6
   popularity, or the news pools).
5. scan_plus_targeted -- a slow full-scan detector reads its `scan_size` pools in a fixed
   order (chain, address) every U(`scan_lo_s`,`scan_hi_s`) s, in RPC batches of `scan_batch`
   reads `scan_batch_gap_ms` apart (keeping each pool with prob. 0.97); a fast targeted
   detector watches the `targeted_pools` busiest pools and their siblings: on their updates it
   reads the pool and up to `fanout` siblings/legs after ~`lat_med_us`, and polls each watched
   pool every ~`poll_s` s (0: never).
6. block_bursts_halt -- the detector processes each block as a batch: `proc_lat_us` after the
   block's last log it reads, for every updated pool, the pool (prob. `self_read`) and a
   chain-specific fan-out (`fanouts`, ethereum 16 ... arbitrum 2) of siblings, triangle legs
   and twins, deduplicated per block, `gap_us` apart; `pass_lo_ms`-`pass_hi_ms` later it
   re-reads the first `second_pass` share of that list (re-pricing the best candidates before
   submitting). Chain `halt_chain` halts at `halt_at_s` for `halt_s` seconds; its queued
   transactions land in a catch-up burst over the first `catchup_blocks` blocks afterwards;
   meanwhile a monitor polls its `mon_pools` busiest pools every `mon_period_s` s.
7. drifting_zipf -- update popularity Zipf(`zipf_s`) over a random ranking, read popularity
   `read_corr` x update log-popularity + (1-`read_corr`) x its own Zipf ranking; both drift
   continuously: every `epoch_s` each pool's log-popularity follows an Ornstein-Uhlenbeck step
   (stationary std `drift_std`, time constant `drift_tau_s`). Reads are an independent Poisson
   stream (`read_rate`/s) plus, with prob. `react_p` per update, 1-2 reactive sibling/leg reads
   after ~`lat_med_us`.
8. mev_bundles -- `n_bundles` routes of `bundle_min`-`bundle_max` pools (a walk through the
   token graph of one chain, sometimes with a cross-DEX sibling) fire at `bundle_rate`/s in
   total (Zipf(`bundle_zipf`) over bundles): all their pools are updated within one block as
   consecutive logs. `searchers` searchers each (prob. `search_p`) read the bundle's pools
   U(`read_lat_lo_us`,`read_lat_hi_us`) after it, sometimes siblings (`sib_p`) and a
   re-simulation 5-30 ms later (`resim_p`); on mempool chains (ethereum, bsc) with prob.
   `pre_read_p` one searcher reads the pools 0.2-2 s before the block. Background single-pool
   updates (`bg_update_rate`) get `bg_fanout` reactive reads.
9. uniform_sprawl -- many pools, little locality: Poisson updates and independent Poisson reads
   (`read_rate`) over nearly uniform, unrelated popularities (lognormal `spread_sigma`), not
   block aligned; with prob. `react_p` an update triggers one sibling/leg read.
10. chain_mixture -- one universe, a different mechanism per chain (`assign`, e.g.
   ethereum:triangle,bsc:churn,...); each mechanism runs with its own trace's default
   parameters, rate and size parameters (update/read/poll/bundle rates, bundle count, scan
   size, targeted pools) scaled by its pool count / that trace's `pools` x `rate_scale` (0.85).

Progress: one line per trace with pools, events, updates, reads, reads/update, span, fillers,
chains and generation time. `all` takes ~15 s on one core.
"""

import bisect
import gzip
import hashlib
import heapq
import math
import os
import random
import sys
import time
from itertools import accumulate

BASE_EPOCH_US = 1_740_787_200_000_000  # 2025-03-01 00:00:00 UTC
RBIT = 1 << 23  # read flag in an event key
PMASK = RBIT - 1  # pool index in an event key
INF = 1 << 62

# --------------------------------------------------------------------------------------------
# Chains, DEXes, tokens
# --------------------------------------------------------------------------------------------

CH = {
    "ethereum": dict(bt=12.0, spread=4000, act=1.0, mempool=True,
                     hubs=["WETH", "USDC", "USDT", "WBTC", "DAI"], native="WETH",
                     stables={"USDC", "USDT", "DAI"},
                     dexes=[("uniswap-v3", 6), ("uniswap-v2", 4), ("sushiswap", 2), ("curve", 2),
                            ("balancer-v2", 1.5), ("pancakeswap-v3", 1)],
                     mids=["MKR", "LDO", "RPL", "ENS", "BLUR", "ONDO", "EIGEN", "ENA", "wstETH",
                           "rETH", "stETH", "APE", "SAND", "MANA", "YFI", "COMP", "SNX", "BAL",
                           "FXS", "IMX"]),
    "bsc": dict(bt=3.0, spread=2000, act=1.6, mempool=True,
                hubs=["WBNB", "USDT", "USDC", "BUSD", "BTCB", "ETH"], native="WBNB",
                stables={"USDT", "USDC", "BUSD"},
                dexes=[("pancakeswap-v2", 6), ("pancakeswap-v3", 5), ("biswap", 2), ("apeswap", 1),
                       ("uniswap-v3", 1.5), ("thena", 1)],
                mids=["CAKE", "XVS", "ALPACA", "BAKE", "TWT", "SFP", "ALPHA", "FLOKI", "BABYDOGE",
                      "DOGE", "ADA", "XRP", "DOT", "LTC", "FIL", "AXS"]),
    "polygon": dict(bt=2.0, spread=1000, act=0.7, mempool=False,
                    hubs=["WMATIC", "USDC", "USDC.e", "USDT", "WETH", "WBTC", "DAI"], native="WMATIC",
                    stables={"USDC", "USDC.e", "USDT", "DAI"},
                    dexes=[("quickswap", 5), ("uniswap-v3", 5), ("sushiswap", 2), ("balancer-v2", 1),
                           ("retro", 0.7)],
                    mids=["QUICK", "GHST", "SAND", "MANA", "stMATIC", "MaticX", "TEL", "VOXEL",
                          "GNS", "SUSHI"]),
    "arbitrum": dict(bt=0.25, spread=400, act=1.4, mempool=False,
                     hubs=["WETH", "USDC", "USDC.e", "USDT", "WBTC", "ARB", "DAI"], native="WETH",
                     stables={"USDC", "USDC.e", "USDT", "DAI"},
                     dexes=[("uniswap-v3", 6), ("camelot", 3), ("sushiswap", 2), ("ramses", 1.5),
                            ("traderjoe-v2", 1), ("pancakeswap-v3", 1)],
                     mids=["GMX", "MAGIC", "PENDLE", "RDNT", "GRAIL", "JONES", "DPX", "STG", "wstETH",
                           "rETH", "weETH", "GNS"]),
    "base": dict(bt=2.0, spread=1200, act=1.6, mempool=False,
                 hubs=["WETH", "USDC", "USDbC", "DAI", "cbETH"], native="WETH",
                 stables={"USDC", "USDbC", "DAI"},
                 dexes=[("aerodrome", 6), ("uniswap-v3", 5), ("baseswap", 2), ("sushiswap", 1),
                        ("pancakeswap-v3", 1)],
                 mids=["AERO", "BRETT", "DEGEN", "TOSHI", "VIRTUAL", "MOG", "WELL", "weETH",
                       "wstETH", "cbBTC"]),
    "optimism": dict(bt=2.0, spread=800, act=0.5, mempool=False,
                     hubs=["WETH", "USDC", "USDT", "OP", "DAI", "WBTC"], native="WETH",
                     stables={"USDC", "USDT", "DAI"},
                     dexes=[("velodrome", 6), ("uniswap-v3", 5), ("beethoven-x", 1), ("sushiswap", 1)],
                     mids=["VELO", "SNX", "PERP", "LYRA", "THALES", "wstETH", "rETH", "sUSD"]),
    "avalanche": dict(bt=2.0, spread=800, act=0.5, mempool=False,
                      hubs=["WAVAX", "USDC", "USDT", "WETH.e", "BTC.b", "DAI.e"], native="WAVAX",
                      stables={"USDC", "USDT", "DAI.e"},
                      dexes=[("traderjoe-v2", 5), ("pangolin", 3), ("uniswap-v3", 2), ("pharaoh", 1)],
                      mids=["JOE", "PNG", "QI", "GMX", "sAVAX", "BENQI", "COQ", "STG"]),
}
# Widely bridged mid caps: present on a chain with prob. 0.55, same symbol everywhere.
COMMON_MIDS = ["LINK", "UNI", "AAVE", "CRV", "PEPE", "SHIB", "GRT", "RNDR", "FET", "INJ", "1INCH",
               "SUSHI", "LDO", "FRAX", "MKR", "WLD", "ARKM", "DYDX", "FLOKI", "USDe", "EURC", "TUSD"]
LT_CHAIN_SHARE = {"ethereum": 0.2, "bsc": 0.25, "polygon": 0.1, "arbitrum": 0.12, "base": 0.22,
                  "optimism": 0.05, "avalanche": 0.06}
CL_DEXES = ("uniswap-v3", "pancakeswap-v3", "traderjoe-v2", "ramses", "pharaoh")  # fee tiers


def _taddr(sym, chain):
    """Per-chain token 'address' used only to order token0 < token1 like on chain."""
    return hashlib.blake2b(f"{sym}@{chain}".encode(), digest_size=8).digest()


class Universe:
    """The pools of a trace and their structure (siblings, twins, triangle legs)."""

    def __init__(self, rng):
        self.rng = rng
        self.chain, self.dex, self.t0, self.t1, self.addr = [], [], [], [], []
        self.w, self.tier, self.subj = [], [], []  # activity weight, tier 0-3, subject token
        self._addrs = set()

    def __len__(self):
        return len(self.chain)

    def add(self, c, dex, a, b, w, tier, subj):
        if _taddr(a, c) > _taddr(b, c):
            a, b = b, a
        while True:
            ad = "0x%040x" % self.rng.getrandbits(160)
            if (c, ad) not in self._addrs:
                break
        self._addrs.add((c, ad))
        self.chain.append(c); self.dex.append(dex); self.t0.append(a); self.t1.append(b)
        self.addr.append(ad); self.w.append(w); self.tier.append(tier); self.subj.append(subj)

    def finalize(self):
        n = len(self)
        w = self.w
        self.birth = [0] * n
        self.death = [INF] * n
        by_pair = {}
        for i in range(n):
            a, b = self.t0[i], self.t1[i]
            key = (self.chain[i],) + ((a, b) if a < b else (b, a))
            by_pair.setdefault(key, []).append(i)
        for lst in by_pair.values():
            lst.sort(key=lambda i: -w[i])
        self.by_pair = by_pair
        self.sib = [None] * n
        best_by_xpair = {}
        for key, lst in by_pair.items():
            for i in lst:
                self.sib[i] = [j for j in lst if j != i]
            best_by_xpair.setdefault(key[1:], []).append(lst[0])
        self.twins = [None] * n
        for key, lst in by_pair.items():
            others = [j for j in best_by_xpair[key[1:]] if self.chain[j] != key[0]]
            others.sort(key=lambda j: -w[j])
            for i in lst:
                self.twins[i] = others
        adj = {}
        for key, lst in by_pair.items():
            c, a, b = key
            adj.setdefault((c, a), {})[b] = lst[0]
            adj.setdefault((c, b), {})[a] = lst[0]
        self.adj = adj
        self._tri = {}
        self.by_chain = {}
        for i in range(n):
            self.by_chain.setdefault(self.chain[i], []).append(i)
        self.tok_pools = {}
        for i in range(n):
            self.tok_pools.setdefault(self.t0[i], []).append(i)
            self.tok_pools.setdefault(self.t1[i], []).append(i)
        self.groups = {}  # (subject token, chain) -> pools, long tail only
        for i in range(n):
            if self.tier[i] == 3:
                self.groups.setdefault((self.subj[i], self.chain[i]), []).append(i)

    def tri(self, i):
        """Triangles through pool i: list of (weaker leg weight, leg1, leg2), best first."""
        r = self._tri.get(i)
        if r is None:
            c, a, b = self.chain[i], self.t0[i], self.t1[i]
            A, B = self.adj.get((c, a), {}), self.adj.get((c, b), {})
            if len(A) > len(B):
                A, B = B, A
                a, b = b, a
            w = self.w
            r = []
            for x, pa in A.items():
                if x == b:
                    continue
                pb = B.get(x)
                if pb is not None:
                    r.append((min(w[pa], w[pb]), pa, pb))
            r.sort(reverse=True)
            r = r[:24]
            self._tri[i] = r
        return r


def build_universe(rng, chains, n_pools):
    U = Universe(rng)
    lognorm = lambda s: math.exp(rng.gauss(0, s))
    dexmax = {c: max(x[1] for x in CH[c]["dexes"]) for c in chains}

    def dexes_for(c, k):
        ds = CH[c]["dexes"]
        names = [d for d, _ in ds]
        ws = [x for _, x in ds]
        out = []
        for _ in range(k * 3):
            d = rng.choices(names, ws)[0]
            if d not in out:
                out.append(d)
            if len(out) >= k:
                break
        return out

    def add_pair(c, a, b, base, tier, subj, ndex):
        for d in dexes_for(c, ndex):
            dw = (dict(CH[c]["dexes"])[d] / dexmax[c]) ** 0.7
            tiers = 1
            if d in CL_DEXES and tier <= 1:
                tiers = 1 + (rng.random() < 0.5) + (rng.random() < 0.2)
            for f in range(tiers):
                U.add(c, d, a, b, base * dw * lognorm(0.6) * (0.3 if f else 1.0), tier, subj)

    # hub-hub
    for c in chains:
        hubs = CH[c]["hubs"]
        st = CH[c]["stables"]
        nd = len(CH[c]["dexes"])
        for i in range(len(hubs)):
            for j in range(i + 1, len(hubs)):
                a, b = hubs[i], hubs[j]
                both_st = a in st and b in st
                native = CH[c]["native"] in (a, b)
                base = 60 if native else (10 if both_st else 15)
                k = max(1, min(nd, int(nd * (0.8 if native else 0.5) + rng.random())))
                add_pair(c, a, b, base, 0, None, k)
    # mid caps
    mids_on = {}
    for c in chains:
        ms = list(CH[c]["mids"]) + [m for m in COMMON_MIDS if rng.random() < 0.55]
        seen = set(CH[c]["hubs"])
        ms = [m for m in ms if not (m in seen or seen.add(m))]
        mids_on[c] = ms
        for m in ms:
            hubs = CH[c]["hubs"]
            partners = [CH[c]["native"]] + rng.sample([h for h in hubs if h != CH[c]["native"]],
                                                      rng.randint(1, 3))
            for h in partners:
                add_pair(c, m, h, 4 * (1.0 if h == CH[c]["native"] else 0.5), 1, m,
                         rng.choices([1, 2, 3, 4], [3, 4, 2, 1])[0])
        for _ in range(len(ms) // 3):  # a few mid-mid pairs
            a, b = rng.sample(ms, 2)
            add_pair(c, a, b, 1.0, 2, a, 1)
    if len(U) > n_pools:
        raise SystemExit(f"pools={n_pools} is below the {len(U)} hub/mid pools of chains {chains}")
    # long tail until exactly n_pools
    share = [LT_CHAIN_SHARE[c] for c in chains]
    syll = ["ba", "ko", "zu", "mi", "ra", "to", "pe", "xi", "lu", "qa", "no", "fi", "de", "vo",
            "sa", "gy", "ha", "ju", "we", "ny"]
    used = set()
    k = 0
    while len(U) < n_pools:
        k += 1
        while True:
            sym = "".join(rng.choice(syll) for _ in range(rng.randint(2, 3))).upper()
            if rng.random() < 0.2:
                sym += str(rng.randint(2, 99))
            if sym not in used:
                used.add(sym)
                break
        home = rng.choices(chains, share)[0]
        tchains = [home]
        if len(chains) > 1 and rng.random() < 0.08:
            tchains.append(rng.choice([c for c in chains if c != home]))
        heat = min(150.0, 0.25 * rng.paretovariate(1.2))
        for c in tchains:
            hubs = CH[c]["hubs"]
            nat = CH[c]["native"]
            st = sorted(CH[c]["stables"])
            partners = [nat if rng.random() < 0.75 else rng.choice(st)]
            if rng.random() < 0.35:
                h = rng.choice(hubs)
                if h not in partners:
                    partners.append(h)
            if rng.random() < 0.05 and mids_on[c]:
                partners.append(rng.choice(mids_on[c]))
            for h in partners:
                for d in dexes_for(c, rng.choices([1, 2, 3], [6, 3, 1])[0]):
                    if len(U) >= n_pools:
                        break
                    dw = (dict(CH[c]["dexes"])[d] / dexmax[c]) ** 0.7
                    U.add(c, d, sym, h, heat * dw * lognorm(0.5) * (1 if h == partners[0] else 0.4),
                          3, sym)
    U.finalize()
    return U


# --------------------------------------------------------------------------------------------
# Time: blocks, randomness helpers
# --------------------------------------------------------------------------------------------

class Clock:
    def __init__(self, rng, chains, T):
        self.rng, self.T = rng, T
        self.bt = {c: int(CH[c]["bt"] * 1e6) for c in chains}
        self.ph = {c: rng.randrange(self.bt[c]) for c in chains}
        self.spread = {c: CH[c]["spread"] for c in chains}
        self.halt = {}

    def block_at(self, c, t):
        """Arrival time of the block that includes a transaction sent at t."""
        bt, ph = self.bt[c], self.ph[c]
        tb = ph + (-((ph - t) // bt)) * bt
        h = self.halt.get(c)
        if h and h[0] <= tb < h[1]:
            tb = ph + (-((ph - h[1]) // bt)) * bt + self.rng.randrange(4) * bt
        return tb

    def arrival(self, c, t):
        return self.block_at(c, t) + self.rng.randrange(self.spread[c])

    def blocks(self, c, t0=0, t1=None):
        t1 = self.T if t1 is None else t1
        bt, ph = self.bt[c], self.ph[c]
        tb = ph + (-((ph - t0) // bt)) * bt
        h = self.halt.get(c)
        while tb < t1:
            if not (h and h[0] <= tb < h[1]):
                yield tb
            tb += bt


def poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam < 30:
        L = math.exp(-lam)
        k, p = 0, rng.random()
        while p > L:
            k += 1
            p *= rng.random()
        return k
    return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))


def lat(rng, med, sigma=0.5, lo=1, hi=None):
    v = med * math.exp(sigma * rng.gauss(0, 1))
    if hi is not None and v > hi:
        v = hi
    return int(max(lo, v))


def es_sample(rng, items, k, wkey):
    """Weighted sample without replacement (Efraimidis-Spirakis)."""
    if len(items) <= k:
        return list(items)
    rnd = rng.random
    return heapq.nlargest(k, items, key=lambda e: rnd() ** (1.0 / max(wkey(e), 1e-9)))


class Ctx:
    def __init__(self, U, rng, T, clock):
        self.U, self.rng, self.T, self.clock = U, rng, T, clock
        self.E = []

    def up(self, ts, p):
        self.E.append((ts << 24) | p)

    def rd(self, ts, p):
        self.E.append((ts << 24) | RBIT | p)

    def alive(self, p, t, forget=0):
        U = self.U
        return U.birth[p] <= t and t < U.death[p] + forget

    def related(self, p, t, fanout, kinds="sl", forget=30_000_000, ntri=None):
        """Up to `fanout` pools related to p, alive at t: siblings (s), legs (l), twins (w)."""
        U, rng = self.U, self.rng
        out = []
        if fanout <= 0:
            return out
        for kind in kinds:
            if kind == "s":
                cand = U.sib[p]
            elif kind == "w":
                cand = U.twins[p]
            else:
                tr = U.tri(p)
                if not tr:
                    continue
                k = ntri if ntri is not None else (fanout - len(out) + 1) // 2
                cand = []
                for _, a, b in es_sample(rng, tr, max(1, k), lambda e: e[0]):
                    cand.append(a)
                    cand.append(b)
            for q in cand:
                if self.alive(q, t, forget) and q != p:
                    out.append(q)
                    if len(out) >= fanout:
                        return out
        return out

    def emit_reads(self, t, pools, gap_lo=2, gap_hi=15):
        rng = self.rng
        for q in pools:
            self.rd(t, q)
            t += rng.randint(gap_lo, gap_hi)
        return t


def chain_groups(U, pools):
    g = {}
    for p in pools:
        g.setdefault(U.chain[p], []).append(p)
    return g


def block_updates(ctx, pools, rate, mult=None, pick=None, backlog_blocks=6, weights=None):
    """Block-synchronous updates of `pools` at `rate`/s (x mult(c, t)); returns blocks as
    (chain, block time, [(ts, pool), ...]) in time order per chain, and appends the updates."""
    U, rng, clock = ctx.U, ctx.rng, ctx.clock
    w = weights or U.w
    groups = chain_groups(U, pools)
    tot = sum(CH[c]["act"] * len(ps) for c, ps in groups.items())
    blocks = []
    E = ctx.E
    for c in sorted(groups):
        ps = groups[c]
        cw = list(accumulate(w[p] for p in ps))
        rate_c = rate * CH[c]["act"] * len(ps) / tot
        bt_s = clock.bt[c] / 1e6
        spread = clock.spread[c]
        h = clock.halt.get(c)
        backlog = rate_c * (h[1] - h[0]) / 1e6 if h else 0.0
        per_block_backlog = backlog / backlog_blocks
        lam0 = rate_c * bt_s
        for tb in clock.blocks(c):
            lam = lam0 * (mult(c, tb) if mult else 1.0)
            if h and tb >= h[1] and backlog > 0:
                extra = min(backlog, per_block_backlog)
                backlog -= extra
                lam += extra
            n = poisson(rng, lam)
            if not n:
                continue
            chosen = pick(c, tb, n) if pick else rng.choices(ps, cum_weights=cw, k=n)
            evs = []
            for p in chosen:
                ts = tb + rng.randrange(spread)
                evs.append((ts, p))
                E.append((ts << 24) | p)
            evs.sort()
            blocks.append((c, tb, evs))
    return blocks


def flat(blocks):
    out = [e for _, _, evs in blocks for e in evs]
    out.sort()
    return out


# --------------------------------------------------------------------------------------------
# Mechanisms
# --------------------------------------------------------------------------------------------

def regimes(rng, T, calm_s, vol_s):
    """Alternating calm/volatile intervals: sorted starts and flags."""
    starts, flags = [], []
    t, vol = 0, rng.random() < vol_s / (calm_s + vol_s)
    while t < T:
        starts.append(t)
        flags.append(vol)
        t += int(rng.expovariate(1.0 / (vol_s if vol else calm_s)) * 1e6) + 1
        vol = not vol
    return starts, flags


def mech_siblings(ctx, pools, P):
    U, rng, T = ctx.U, ctx.rng, ctx.T
    chains = sorted(set(U.chain[p] for p in pools))
    reg = {c: regimes(rng, T, P["calm_dwell_s"], P["vol_dwell_s"]) for c in chains}
    def volatile(c, t):
        s, f = reg[c]
        return f[bisect.bisect_right(s, t) - 1]

    vrm = P["vol_rate_mult"]
    blocks = block_updates(ctx, pools, P["update_rate"],
                           mult=lambda c, t: vrm if volatile(c, t) else 1.0)
    n = len(U)
    dets = []
    for d in range(P["detectors"]):
        k = rng.randint(min(2, len(chains)), min(4, len(chains)))
        cs = set(rng.sample(chains, k))
        if d == P["detectors"] - 1:  # make sure every chain has a watcher
            cs |= set(chains) - set().union(*[x["chains"] for x in dets]) if dets else set()
        watched = bytearray(n)
        wf = P["watch_frac"]
        for p in pools:
            if U.chain[p] in cs:
                pr = 1.0 if U.tier[p] == 0 else (min(1.0, 2 * wf) if U.tier[p] <= 2 else wf)
                if rng.random() < pr:
                    watched[p] = 1
        dets.append(dict(chains=cs, watched=watched, thr=P["thr_bps"] * rng.uniform(0.6, 1.8),
                         lat=P["lat_med_us"] * rng.uniform(0.5, 2.0), last={}))
    volf = [(3.0 if t == 3 else 1.5 if t in (1, 2) else 1.0) for t in U.tier]
    price = {}
    sig0, vm = P["calm_sigma_bps"], P["vol_mult"]
    selfp, msib, tf = P["self_read"], P["max_sib"], P["twin_factor"]
    for c, tb, evs in sorted(blocks, key=lambda b: b[1]):
        sig = sig0 * (vm if volatile(c, tb) else 1.0)
        for ts, p in evs:
            x = price.get(p, 0.0) + rng.gauss(0, sig * volf[p])
            price[p] = x
            for d in dets:
                wd = d["watched"]
                if not wd[p]:
                    continue
                last = d["last"]
                mv = abs(x - last.get(p, 0.0))
                if mv <= d["thr"]:
                    continue
                last[p] = x
                t = ts + lat(rng, d["lat"], 0.4, 30)
                rs = [p] if rng.random() < selfp else []
                rs += [q for q in U.sib[p] if wd[q]][:msib]
                if mv > tf * d["thr"]:
                    rs += [q for q in U.twins[p] if wd[q]][:3]
                ctx.emit_reads(t, rs)


def mech_triangle(ctx, pools, P):
    rng = ctx.rng
    ups = flat(block_updates(ctx, pools, P["update_rate"]))
    U = ctx.U
    lo, hi, med = P["lat_lo_us"], P["lat_hi_us"], P["lat_med_us"]
    for ts, p in ups:
        t = ts + lat(rng, med, 0.6, lo, hi)
        rs = [p] if rng.random() < P["self_read"] else []
        tris = []
        if rng.random() < P["tri_prob"]:
            tr = [x for x in U.tri(p) if ctx.alive(x[1], ts) and ctx.alive(x[2], ts)]
            if tr:
                tris = es_sample(rng, tr, P["max_tri"], lambda e: e[0])
                tris.sort(reverse=True)
                for _, a, b in tris:
                    rs += (a, b)
            else:
                rs += ctx.related(p, ts, 2, "s")
        ctx.emit_reads(t, rs, 3, 12)
        if tris and rng.random() < P["recheck_p"]:
            t2 = ts + int(rng.uniform(P["recheck_lo_ms"], P["recheck_hi_ms"]) * 1000)
            ctx.emit_reads(t2, [tris[0][1], tris[0][2]], 3, 12)


def mech_churn(ctx, pools, P):
    U, rng, T, clock = ctx.U, ctx.rng, ctx.T, ctx.clock
    pset = set(pools)
    groups = [(k, g) for k, g in U.groups.items() if all(p in pset for p in g)]
    groups.sort()
    rng.shuffle(groups)
    nb = int(len(groups) * P["born_frac"])
    born, old = groups[:nb], groups[nb:]
    S = 1e6
    launches = []
    for _, g in born:
        tb = int(rng.uniform(0.02, 0.92) * T)
        g = sorted(g, key=lambda p: -U.w[p])
        for i, p in enumerate(g):
            bp = tb if i == 0 else tb + int(rng.expovariate(1 / P["list_delay_s"]) * S)
            U.birth[p] = min(bp, T - 2_000_000)
        if rng.random() < P["rug_frac"]:
            td = tb + int(rng.expovariate(1 / P["rug_tau_s"]) * S)
            for p in g:
                U.death[p] = max(td, U.birth[p] + 1)
        launches.append((tb, g))
    for _, g in old:
        if rng.random() < P["death_frac"]:
            td = int(rng.uniform(0.05, 0.95) * T)
            for p in g:
                U.death[p] = td
    # per-pool update times: steady Poisson + decaying launch burst
    W = sum(U.w[p] for p in pools if U.birth[p] == 0)
    r0 = P["update_rate"] / W
    ups = []
    for p in pools:
        b, d = U.birth[p], min(U.death[p], T)
        if b >= T or d <= b:
            continue
        L = (d - b) / S
        n = poisson(rng, r0 * U.w[p] * L)
        times = [b + rng.random() * (d - b) for _ in range(n)]
        if b > 0:
            hr = P["hot_rate"] * math.exp(rng.gauss(0, 0.7))
            tau = P["hot_tau_s"]
            tot = 1 - math.exp(-L / tau)
            for _ in range(poisson(rng, hr * tau * tot)):
                times.append(b - tau * S * math.log(1 - rng.random() * tot))
        if U.death[p] < T:
            times.append(U.death[p] - 1)  # the liquidity removal itself
        c = U.chain[p]
        for x in times:
            ts = clock.arrival(c, int(x))
            if ts < T:
                ups.append((ts, p))
                ctx.up(ts, p)
    ups.sort()
    fan, med, forget = P["fanout"], P["lat_med_us"], int(P["forget_s"] * S)
    for ts, p in ups:
        rs = [p] if rng.random() < P["self_read"] else []
        rs += ctx.related(p, ts, fan, "sl", forget)
        ctx.emit_reads(ts + lat(rng, med, 0.5, 40), rs)
    for tb, g in launches:
        if rng.random() >= P["sniper_frac"]:
            continue
        per = P["sniper_period_s"] * rng.uniform(0.5, 1.5) * S
        t = tb + rng.uniform(0.05, 1.0) * S
        end = tb + P["sniper_window_s"] * rng.uniform(0.6, 1.4) * S
        while t < end and t < T:
            ti = int(t)
            ctx.emit_reads(ti, [p for p in g if U.birth[p] <= ti < U.death[p]], 5, 30)
            t += per * rng.uniform(0.8, 1.2)


def mech_news(ctx, pools, P):
    U, rng, T = ctx.U, ctx.rng, ctx.T
    S = 1e6
    pset = set(pools)
    # candidate news tokens: non-hub tokens with >= 2 pools in the subset
    hubs = set(h for c in CH for h in CH[c]["hubs"])
    cands = []
    for tok, ps in U.tok_pools.items():
        ps2 = [p for p in ps if p in pset]
        if len(ps2) >= 2 and tok not in hubs:
            cands.append((tok, ps2, sum(U.w[p] for p in ps2)))
    cands.sort()
    hub_cands = [h for h in ("WBTC", "ARB", "OP", "BTCB", "cbETH") if h in U.tok_pools]
    events = []
    t = rng.uniform(10, P["news_gap_s"]) * S
    while t < T:
        toks = set()
        for _ in range(rng.choices([1, 2, 3], [5, 3, 2])[0]):
            if hub_cands and rng.random() < 0.15:
                toks.add(rng.choice(hub_cands))
            else:
                toks.add(rng.choices(cands, [math.sqrt(x[2]) + 0.3 for x in cands])[0][0])
        eps = sorted(set(p for tk in toks for p in U.tok_pools[tk] if p in pset))
        bych = chain_groups(U, eps)
        events.append(dict(t=t, amp=rng.uniform(P["amp_lo"], P["amp_hi"]),
                           rise=P["rise_s"] * rng.uniform(0.5, 1.5) * S,
                           decay=P["decay_s"] * rng.uniform(0.6, 1.4) * S,
                           pools=eps, cw=list(accumulate(U.w[p] ** 0.7 for p in eps)),
                           bych={c: (ps, list(accumulate(U.w[p] ** 0.7 for p in ps)))
                                 for c, ps in bych.items()}))
        t += rng.expovariate(1 / P["news_gap_s"]) * S

    def g(e, t):
        dt = t - e["t"]
        if dt < 0:
            return 0.0
        if dt < e["rise"]:
            return e["amp"] * dt / e["rise"]
        x = (dt - e["rise"]) / e["decay"]
        return e["amp"] * math.exp(-x) if x < 12 else 0.0

    def mult(c, t):
        return 1.0 + sum(g(e, t) for e in events)

    focus = P["focus"]

    def pick_news(t, c=None):
        """None or a pool of an active news event (chosen by its current strength)."""
        gs = [g(e, t) for e in events]
        tot = sum(gs)
        if tot <= 0 or rng.random() >= focus * tot / (1.0 + tot):
            return None
        e = rng.choices(events, gs)[0]
        if c is None:
            return rng.choices(e["pools"], cum_weights=e["cw"])[0] if e["pools"] else None
        x = e["bych"].get(c)
        return rng.choices(x[0], cum_weights=x[1])[0] if x else None

    groups = chain_groups(U, pools)
    cws = {c: list(accumulate(U.w[p] for p in ps)) for c, ps in groups.items()}

    def pick(c, tb, n):
        out = []
        for _ in range(n):
            q = pick_news(tb, c)
            out.append(q if q is not None else rng.choices(groups[c], cum_weights=cws[c])[0])
        return out

    ups = flat(block_updates(ctx, pools, P["update_rate"], mult=mult, pick=pick))
    for ts, p in ups:
        rs = [p] if rng.random() < P["self_read"] else []
        rs += ctx.related(p, ts, P["fanout"], "sl")
        ctx.emit_reads(ts + lat(rng, P["lat_med_us"], 0.5, 40), rs)
    # poller
    rp = sorted(pools)
    rcw = list(accumulate(U.w[p] ** 0.6 for p in rp))
    slot = 100_000
    for s0 in range(0, T, slot):
        m = mult(None, s0)
        for _ in range(poisson(rng, P["poll_rate"] * m * slot / S)):
            t = s0 + rng.randrange(slot)
            q = pick_news(t)
            ctx.rd(t, q if q is not None else rng.choices(rp, cum_weights=rcw)[0])


def mech_scan(ctx, pools, P):
    U, rng, T = ctx.U, ctx.rng, ctx.T
    S = 1e6
    ups = flat(block_updates(ctx, pools, P["update_rate"]))
    size = min(len(pools), int(P["scan_size"]))
    scan = es_sample(rng, pools, size, lambda p: U.w[p] ** 0.3)
    scan.sort(key=lambda p: (U.chain[p], U.addr[p]))
    t = rng.uniform(0, P["scan_lo_s"]) * S
    batch, bgap = int(P["scan_batch"]), P["scan_batch_gap_ms"] * 1000
    while t < T:
        ti = int(t)
        for i in range(0, len(scan), batch):
            for p in scan[i:i + batch]:
                if rng.random() < 0.97:
                    ctx.rd(ti, p)
                    ti += rng.randint(1, 6)
            ti += int(bgap * rng.uniform(0.7, 1.5))
        t += rng.uniform(P["scan_lo_s"], P["scan_hi_s"]) * S
    # targeted detector
    k = min(len(pools), int(P["targeted_pools"]))
    hot = heapq.nlargest(k, pools, key=lambda p: U.w[p] * math.exp(rng.gauss(0, 0.5)))
    watched = bytearray(len(U))
    for p in hot:
        watched[p] = 1
        for q in U.sib[p]:
            watched[q] = 1
    for ts, p in ups:
        if not watched[p]:
            continue
        rs = [p] if rng.random() < 0.6 else []
        rs += ctx.related(p, ts, P["fanout"], "sl")
        ctx.emit_reads(ts + lat(rng, P["lat_med_us"], 0.3, 20), rs, 1, 5)
    if P["poll_s"] > 0:
        per = P["poll_s"] * S
        for p in hot:
            t = rng.uniform(0, per)
            while t < T:
                ctx.rd(int(t), p)
                t += per * rng.uniform(0.9, 1.1)


def parse_map(s, conv=str):
    out = {}
    for item in s.split(","):
        if item:
            k, v = item.split(":")
            out[k.strip()] = conv(v.strip())
    return out


def mech_bursts(ctx, pools, P):
    U, rng, T, clock = ctx.U, ctx.rng, ctx.T, ctx.clock
    S = 1e6
    fan = parse_map(P["fanouts"], int)
    hc = P["halt_chain"]
    chains = set(U.chain[p] for p in pools)
    if hc in chains and P["halt_s"] > 0:
        h0 = int(P["halt_at_s"] * S)
        clock.halt[hc] = (h0, h0 + int(P["halt_s"] * S))
    blocks = block_updates(ctx, pools, P["update_rate"], backlog_blocks=int(P["catchup_blocks"]))
    for c, tb, evs in blocks:
        f = fan.get(c, 2)
        t = evs[-1][0] + lat(rng, P["proc_lat_us"], 0.4, 50)
        seen = set()
        rs = []
        for ts, p in evs:
            if p in seen:
                continue
            seen.add(p)
            if rng.random() < P["self_read"]:
                rs.append(p)
            for q in ctx.related(p, ts, f, "slw"):
                if q not in seen:
                    seen.add(q)
                    rs.append(q)
        gap = int(P["gap_us"])
        t = ctx.emit_reads(t, rs, max(1, gap // 2), gap * 2)
        k = int(len(rs) * P["second_pass"] + rng.random())
        if k:  # re-price the most relevant candidates before submitting
            ctx.emit_reads(t + int(rng.uniform(P["pass_lo_ms"], P["pass_hi_ms"]) * 1000), rs[:k],
                           max(1, gap // 2), gap * 2)
    if hc in clock.halt:
        h0, h1 = clock.halt[hc]
        mon = heapq.nlargest(int(P["mon_pools"]), [p for p in pools if U.chain[p] == hc],
                             key=lambda p: U.w[p])
        t = h0 + rng.uniform(0, P["mon_period_s"]) * S
        while t < h1:
            ctx.emit_reads(int(t), mon, 2, 10)
            t += P["mon_period_s"] * S * rng.uniform(0.9, 1.1)


def mech_zipf(ctx, pools, P):
    U, rng, T, clock = ctx.U, ctx.rng, ctx.T, ctx.clock
    S = 1e6
    ps = sorted(pools)
    n = len(ps)
    s = P["zipf_s"]
    rank_u = list(range(1, n + 1)); rng.shuffle(rank_u)
    rank_r = list(range(1, n + 1)); rng.shuffle(rank_r)
    # the update ranking leans towards structurally busy pools
    order = sorted(range(n), key=lambda i: -U.w[ps[i]] * math.exp(rng.gauss(0, 1.5)))
    for r, i in enumerate(order):
        rank_u[i] = r + 1
    bu = [-s * math.log(r) for r in rank_u]
    br = [-s * math.log(r) for r in rank_r]
    sd, tau, ep = P["drift_std"], P["drift_tau_s"], P["epoch_s"]
    a = math.exp(-ep / tau)
    b = sd * math.sqrt(1 - a * a)
    xu = [rng.gauss(0, sd) for _ in range(n)]
    xr = [rng.gauss(0, sd) for _ in range(n)]
    rc = P["read_corr"]
    idx_by_chain = {}
    for i, p in enumerate(ps):
        idx_by_chain.setdefault(U.chain[p], []).append(i)
    tot = sum(CH[c]["act"] * len(ix) for c, ix in idx_by_chain.items())
    exp, gauss = math.exp, rng.gauss
    epus = int(ep * S)
    ups = []
    for e0 in range(0, T, epus):
        e1 = min(T, e0 + epus)
        xu = [x * a + gauss(0, b) for x in xu]
        xr = [x * a + gauss(0, b) for x in xr]
        lu = [bu[i] + xu[i] for i in range(n)]
        wu = [exp(v) for v in lu]
        wr = [exp(rc * lu[i] + (1 - rc) * (br[i] + xr[i])) for i in range(n)]
        for c, ix in idx_by_chain.items():
            cw = list(accumulate(wu[i] for i in ix))
            lam = P["update_rate"] * CH[c]["act"] * len(ix) / tot * clock.bt[c] / S
            spread = clock.spread[c]
            for tb in clock.blocks(c, e0, e1):
                k = poisson(rng, lam)
                if k:
                    for i in rng.choices(ix, cum_weights=cw, k=k):
                        ts = tb + rng.randrange(spread)
                        ups.append((ts, ps[i]))
                        ctx.up(ts, ps[i])
        cwr = list(accumulate(wr))
        k = poisson(rng, P["read_rate"] * (e1 - e0) / S)
        for i in rng.choices(range(n), cum_weights=cwr, k=k):
            ctx.rd(e0 + rng.randrange(e1 - e0), ps[i])
    for ts, p in ups:
        if rng.random() < P["react_p"]:
            rs = ctx.related(p, ts, rng.randint(1, 2), "sl")
            ctx.emit_reads(ts + lat(rng, P["lat_med_us"], 0.5, 30), rs)


def mech_mev(ctx, pools, P):
    U, rng, T, clock = ctx.U, ctx.rng, ctx.T, ctx.clock
    S = 1e6
    pset = set(pools)
    pl = sorted(pools)
    cw = list(accumulate(U.w[p] for p in pl))
    bundles = []
    tries = 0
    while len(bundles) < int(P["n_bundles"]) and tries < 20 * int(P["n_bundles"]):
        tries += 1
        p0 = rng.choices(pl, cum_weights=cw)[0]
        c = U.chain[p0]
        L = rng.randint(int(P["bundle_min"]), int(P["bundle_max"]))
        route = [p0]
        if rng.random() < 0.3:
            sib = [q for q in U.sib[p0] if q in pset]
            if sib:
                route.append(rng.choice(sib))
        cur = U.t1[p0] if rng.random() < 0.5 else U.t0[p0]
        while len(route) < L:
            nb = U.adj.get((c, cur))
            if not nb:
                break
            toks = list(nb.keys())
            tok = rng.choices(toks, [U.w[nb[x]] ** 0.5 for x in toks])[0]
            key = (c,) + ((cur, tok) if cur < tok else (tok, cur))
            cands = [q for q in U.by_pair[key] if q in pset and q not in route]
            if not cands:
                break
            q = cands[0] if rng.random() < 0.7 else rng.choice(cands)
            route.append(q)
            cur = tok
        if len(route) >= int(P["bundle_min"]):
            bundles.append(route)
    nbund = len(bundles)
    bw = list(accumulate((r + 1) ** -P["bundle_zipf"] for r in range(nbund)))
    searchers = [dict(lat=rng.uniform(P["read_lat_lo_us"], P["read_lat_hi_us"])) for _ in
                 range(int(P["searchers"]))]
    nfire = poisson(rng, P["bundle_rate"] * T / S)
    for _ in range(nfire):
        route = bundles[bisect_idx(rng, bw)]
        c = U.chain[route[0]]
        t = rng.randrange(T)
        tb = clock.block_at(c, t) + rng.randrange(clock.spread[c])
        ts = tb
        for p in route:
            ctx.up(ts, p)
            ts += rng.randint(5, 40)
        last = ts
        for sch in searchers:
            if rng.random() >= P["search_p"]:
                continue
            t1 = last + lat(rng, sch["lat"], 0.4, 50)
            rs = list(route)
            if rng.random() < P["sib_p"]:
                for p in rng.sample(route, min(2, len(route))):
                    rs += U.sib[p][:2]
            t1 = ctx.emit_reads(t1, rs, 2, 10)
            if rng.random() < P["resim_p"]:
                ctx.emit_reads(t1 + rng.randint(5000, 30000), route, 2, 10)
        if CH[c]["mempool"] and rng.random() < P["pre_read_p"]:
            t0 = tb - int(rng.uniform(0.2, 2.0) * S)
            if t0 >= 0:
                ctx.emit_reads(t0, route, 2, 10)
    ups = flat(block_updates(ctx, pools, P["bg_update_rate"]))
    for ts, p in ups:
        rs = ctx.related(p, ts, int(P["bg_fanout"]), "sl")
        ctx.emit_reads(ts + lat(rng, 300, 0.5, 40), rs)


def bisect_idx(rng, cw):
    return bisect.bisect_right(cw, rng.random() * cw[-1])


def mech_uniform(ctx, pools, P):
    U, rng, T = ctx.U, ctx.rng, ctx.T
    S = 1e6
    pl = sorted(pools)
    sg = P["spread_sigma"]
    cwu = list(accumulate(math.exp(rng.gauss(0, sg)) for _ in pl))
    cwr = list(accumulate(math.exp(rng.gauss(0, sg)) for _ in pl))
    nu = poisson(rng, P["update_rate"] * T / S)
    ups = []
    for p in rng.choices(pl, cum_weights=cwu, k=nu):
        ts = rng.randrange(T)
        ups.append((ts, p))
        ctx.up(ts, p)
    for p in rng.choices(pl, cum_weights=cwr, k=poisson(rng, P["read_rate"] * T / S)):
        ctx.rd(rng.randrange(T), p)
    for ts, p in ups:
        if rng.random() < P["react_p"]:
            rs = ctx.related(p, ts, 1, "sl")
            ctx.emit_reads(ts + rng.randint(100, 2000), rs)


# --------------------------------------------------------------------------------------------
# Trace definitions
# --------------------------------------------------------------------------------------------

ALL_CHAINS = "ethereum,bsc,polygon,arbitrum,base,optimism,avalanche"

TRACES = {
    "sibling_detectors": dict(
        mech=mech_siblings,
        doc="3-6 overlapping detectors read watched cross-DEX siblings when a random-walk price "
            "moves past their threshold; per-chain volatility regimes",
        P=dict(seed=101, duration_s=720, pools=5000, chains="ethereum,bsc,arbitrum,base,polygon",
               update_rate=40.0, detectors=5, watch_frac=0.6, thr_bps=7.0, calm_sigma_bps=5.0,
               vol_mult=4.0, calm_dwell_s=90.0, vol_dwell_s=25.0, vol_rate_mult=3.0,
               lat_med_us=300.0, self_read=0.5, max_sib=6, twin_factor=3.0)),
    "triangle_legs": dict(
        mech=mech_triangle,
        doc="after an update of one leg, read the other two legs of up to N triangles through "
            "hub tokens (50-500 us latency), sometimes re-checked 5-50 ms later",
        P=dict(seed=202, duration_s=780, pools=4000, chains="ethereum,arbitrum,base,bsc,optimism",
               update_rate=60.0, max_tri=3, tri_prob=0.9, lat_med_us=150.0, lat_lo_us=50.0,
               lat_hi_us=500.0, self_read=0.3, recheck_p=0.25, recheck_lo_ms=5.0,
               recheck_hi_ms=50.0)),
    "pool_churn": dict(
        mech=mech_churn,
        doc="token launches add pools that are hot at first then decay (some rugged), old pools "
            "go quiet; snipers poll new pools",
        P=dict(seed=303, duration_s=840, pools=6000, chains="bsc,base,ethereum,arbitrum",
               update_rate=40.0, born_frac=0.3, list_delay_s=45.0, hot_rate=0.25,
               hot_tau_s=60.0, rug_frac=0.5, rug_tau_s=150.0, death_frac=0.25, forget_s=30.0,
               fanout=6, self_read=0.4, lat_med_us=400.0, sniper_frac=0.35,
               sniper_period_s=1.5, sniper_window_s=40.0)),
    "news_waves": dict(
        mech=mech_news,
        doc="news events swing update/read rates 5-10x for tens of seconds and move the hot set "
            "to the tokens in the news",
        P=dict(seed=404, duration_s=900, pools=5000, chains=ALL_CHAINS, update_rate=16.0,
               news_gap_s=120.0, amp_lo=5.0, amp_hi=10.0, rise_s=8.0, decay_s=45.0, focus=0.7,
               fanout=4, self_read=0.4, lat_med_us=250.0, poll_rate=50.0)),
    "scan_plus_targeted": dict(
        mech=mech_scan,
        doc="a slow detector sweeps thousands of pools in address order every 20-60 s, a fast "
            "one reacts to and polls a few hundred hot pools",
        P=dict(seed=505, duration_s=720, pools=7000,
               chains="ethereum,bsc,polygon,arbitrum,avalanche", update_rate=65.0,
               scan_size=3500, scan_lo_s=20.0, scan_hi_s=60.0, scan_batch=50,
               scan_batch_gap_ms=10.0, targeted_pools=250, fanout=5, lat_med_us=80.0,
               poll_s=2.0)),
    "block_bursts_halt": dict(
        mech=mech_bursts,
        doc="per-block batch reads with chain-specific fan-out (ethereum 16 ... arbitrum 2); one "
            "chain halts for a minute, then catches up",
        P=dict(seed=606, duration_s=720, pools=5000, chains=ALL_CHAINS, update_rate=70.0,
               fanouts="ethereum:16,bsc:8,polygon:5,arbitrum:2,base:6,optimism:4,avalanche:5",
               self_read=0.7, proc_lat_us=600.0, gap_us=8, second_pass=0.85, pass_lo_ms=20.0,
               pass_hi_ms=200.0, halt_chain="bsc", halt_at_s=330.0,
               halt_s=60.0, catchup_blocks=6, mon_pools=30, mon_period_s=2.0)),
    "drifting_zipf": dict(
        mech=mech_zipf,
        doc="Zipf update and read popularity, partly correlated, drifting continuously "
            "(Ornstein-Uhlenbeck log-popularity); reads mostly independent of updates",
        P=dict(seed=707, duration_s=720, pools=6000, chains="arbitrum,base,bsc,ethereum,optimism",
               update_rate=60.0, read_rate=320.0, zipf_s=1.1, drift_std=1.5, drift_tau_s=600.0,
               epoch_s=3.0, read_corr=0.6, react_p=0.3, lat_med_us=200.0)),
    "mev_bundles": dict(
        mech=mech_mev,
        doc="routes of 3-10 pools updated together within a block (bundles) and read together "
            "by several searchers right after (some pre-read from the mempool)",
        P=dict(seed=808, duration_s=720, pools=4500, chains="ethereum,bsc,arbitrum,base",
               n_bundles=700, bundle_min=3, bundle_max=10, bundle_rate=7.0, bundle_zipf=0.9,
               searchers=5, search_p=0.75, read_lat_lo_us=300.0, read_lat_hi_us=3000.0,
               sib_p=0.5, resim_p=0.3, pre_read_p=0.3, bg_update_rate=20.0, bg_fanout=4)),
    "uniform_sprawl": dict(
        mech=mech_uniform,
        doc="many pools, nearly uniform unrelated update and read popularity, independent "
            "reads (little locality)",
        P=dict(seed=909, duration_s=720, pools=8000, chains=ALL_CHAINS, update_rate=70.0,
               read_rate=360.0, spread_sigma=0.35, react_p=0.1)),
    "chain_mixture": dict(
        mech=None,
        doc="a different mechanism per chain (triangles, churn, drifting Zipf, bundles, scans, "
            "sibling detectors) in one trace",
        P=dict(seed=1010, duration_s=780, pools=7000, chains=ALL_CHAINS, rate_scale=0.85,
               assign="ethereum:triangle,bsc:churn,arbitrum:zipf,base:mev,polygon:scan,"
                      "avalanche:scan,optimism:siblings")),
}

MIX_MECH = {"triangle": "triangle_legs", "churn": "pool_churn", "zipf": "drifting_zipf",
            "mev": "mev_bundles", "scan": "scan_plus_targeted", "siblings": "sibling_detectors",
            "news": "news_waves", "bursts": "block_bursts_halt", "uniform": "uniform_sprawl"}
# Parameters scaled by a mechanism's share of the pools in the mixture.
SCALE_KEYS = ("update_rate", "read_rate", "poll_rate", "bg_update_rate", "bundle_rate",
              "n_bundles", "scan_size", "targeted_pools")


def mech_mixture(ctx, pools, P):
    U = ctx.U
    assign = parse_map(P["assign"])
    by_mech = {}
    for c, m in assign.items():
        if c in U.by_chain:
            by_mech.setdefault(m, []).extend(U.by_chain[c])
    missing = set(U.by_chain) - set(assign)
    if missing:
        raise SystemExit(f"assign lacks chains {sorted(missing)}")
    for m in sorted(by_mech):
        base = TRACES[MIX_MECH[m]]
        sub = dict(base["P"])
        share = len(by_mech[m]) / sub["pools"] * P["rate_scale"]
        for k in SCALE_KEYS:
            if k in sub:
                sub[k] = type(sub[k])(sub[k] * share)
        base["mech"](ctx, sorted(by_mech[m]), sub)


TRACES["chain_mixture"]["mech"] = mech_mixture


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

def generate(name, P):
    seed = int(P["seed"])
    rng = random.Random(seed)
    chains = [c.strip() for c in P["chains"].split(",") if c.strip()]
    for c in chains:
        if c not in CH:
            raise SystemExit(f"unknown chain {c!r}; known: {', '.join(CH)}")
    T = int(P["duration_s"] * 1e6)
    U = build_universe(rng, chains, int(P["pools"]))
    ctx = Ctx(U, rng, T, Clock(rng, chains, T))
    TRACES[name]["mech"](ctx, list(range(len(U))), P)
    E = [k for k in ctx.E if 0 <= (k >> 24) < T]
    used = bytearray(len(U))
    for k in E:
        used[k & PMASK] = 1
    fillers = 0
    for p in range(len(U)):
        if not used[p]:  # a pool that only swapped once in the window
            b, d = U.birth[p], min(U.death[p], T)
            t = ctx.clock.arrival(U.chain[p], b + rng.randrange(max(1, d - b)))
            if t >= T:
                t = T - 1
            E.append((t << 24) | p)
            fillers += 1
    E.sort()
    return U, E, fillers


def write(out_dir, name, U, E):
    os.makedirs(out_dir, exist_ok=True)
    su = [f",u,{c},{a}\n" for c, a in zip(U.chain, U.addr)]
    sr = [f",r,{c},{a}\n" for c, a in zip(U.chain, U.addr)]
    B = BASE_EPOCH_US
    parts = ["ts_us,op,chain,pair\n"]
    parts.extend(str(B + (k >> 24)) + (sr[k & PMASK] if k & RBIT else su[k & PMASK]) for k in E)
    data = "".join(parts).encode()
    path = os.path.join(out_dir, name + ".csv.gz")
    with open(path, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", compresslevel=1, mtime=0, filename="") as gz:
            gz.write(data)
    with open(os.path.join(out_dir, name + ".pairs.csv"), "w") as f:
        f.write("pair,chain,dex,token0,token1\n")
        for i in range(len(U)):
            f.write(f"{U.addr[i]},{U.chain[i]},{U.dex[i]},{U.t0[i]},{U.t1[i]}\n")


def run_one(name, out_dir, overrides=None):
    P = dict(TRACES[name]["P"])
    for k, v in (overrides or {}).items():
        if k not in P:
            raise SystemExit(f"{name}: unknown parameter {k!r}; known: {', '.join(P)}")
        d = P[k]
        P[k] = int(v) if isinstance(d, int) else float(v) if isinstance(d, float) else v
    t0 = time.time()
    U, E, fillers = generate(name, P)
    write(out_dir, name, U, E)
    nr = sum(1 for k in E if k & RBIT)
    span = ((E[-1] >> 24) - (E[0] >> 24)) / 1e6 if E else 0.0
    print(f"{name}: pools={len(U)} events={len(E)} updates={len(E) - nr} reads={nr} "
          f"reads/update={nr / max(1, len(E) - nr):.2f} span={span:.0f}s fillers={fillers} "
          f"chains={len(set(U.chain))} ({time.time() - t0:.1f}s)", flush=True)


def main(argv):
    if len(argv) >= 1 and argv[0] == "list":
        for n, t in TRACES.items():
            print(f"{n:20s} {t['doc']}")
        return 0
    if len(argv) == 2 and argv[0] == "all":
        for n in TRACES:
            run_one(n, argv[1])
        return 0
    if len(argv) >= 3 and argv[0] == "one":
        if argv[1] not in TRACES:
            raise SystemExit(f"unknown trace {argv[1]!r}; try `list`")
        ov = {}
        for kv in argv[3:]:
            if "=" not in kv:
                raise SystemExit(f"expected key=value, got {kv!r}")
            k, v = kv.split("=", 1)
            ov[k] = v
        run_one(argv[1], argv[2], ov)
        return 0
    print(__doc__.split("Usage")[0].strip())
    print("usage: gen3_traces.py list | all OUT_DIR | one NAME OUT_DIR [key=value ...]")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
