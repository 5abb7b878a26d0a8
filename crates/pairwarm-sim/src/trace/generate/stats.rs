//! What the model predicts (computed exactly from the pool universe and swap weights) and
//! what a generated stream measures, in the same terms, so tests and `trace generate` can
//! compare them.

use std::collections::{HashMap, HashSet};

use crate::trace::{Op, ratio, top_decile_share};

use super::structure::Universe;
use super::{EventKind, GeneratedEvent, GeneratorConfig, SyntheticWorkload};

/// The model's predictions for one chain.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainExpectation {
    /// Chain name.
    pub name: String,
    /// Blocks per second (`1e6 / block_interval_us`).
    pub blocks_per_s: f64,
    /// Mean swaps per block (`swaps_per_block * swaps_scale`), noise swaps included.
    pub swaps_per_block: f64,
    /// Probability that a swap triggers a cascade.
    pub cascade_trigger_prob: f64,
    /// Mean cascade (arbitrage) updates per swap.
    pub cascade_updates_per_swap: f64,
    /// Mean updates per block: swaps plus cascade updates.
    pub updates_per_block: f64,
    /// Mean reads per update (read set plus extra reads).
    pub reads_per_update: f64,
}

/// The model's predictions for the whole stream (current regime).
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectedStats {
    /// Per chain, in config order.
    pub chains: Vec<ChainExpectation>,
    /// Updates per second of trace time, all chains.
    pub updates_per_s: f64,
    /// Reads per update, all chains.
    pub reads_per_update: f64,
    /// Events (updates + reads) per second of trace time.
    pub events_per_s: f64,
    /// Share of updates received by the top 10% of all pools of the universe.
    pub top_decile_update_share: f64,
    /// Expected updates per second of every pool (indexed like `pairs()`).
    pub pool_updates_per_s: Vec<f64>,
}

/// Computes [`ExpectedStats`]: per pool, updates per block are
/// `λ(1-q)π_P + λq/n + Σ_{Q: P sibling of Q} λ(1-q) p π_Q E[k_Q]/s_Q`, with `λ` swaps per
/// block, `q` the noise share, `π` the swap weights normalised per chain, `p` the cascade
/// probability, `s_Q` the number of siblings and `E[k_Q] = (1 + min(s_Q, fanout)) / 2`.
pub(super) fn expected(
    config: &GeneratorConfig,
    universe: &Universe,
    swap_weights: &[Vec<f64>],
) -> ExpectedStats {
    let q = config.noise_swap_prob;
    let p = config.cascade_prob;
    let mut pool_rate = vec![0.0f64; universe.pools.len()];
    let mut chains = Vec::with_capacity(config.chains.len());
    let (mut all_updates, mut all_reads) = (0.0f64, 0.0f64);
    for (c, chain) in universe.chains.iter().enumerate() {
        let chain_cfg = &config.chains[c];
        let lambda = chain_cfg.swaps_per_block * config.swaps_scale;
        let blocks_per_s = 1e6 / chain_cfg.block_interval_us as f64;
        let weights = &swap_weights[c];
        let total: f64 = weights.iter().sum();
        let n = (chain.pools.end - chain.pools.start) as f64;
        let start = chain.pools.start as usize;
        let mut per_block = vec![0.0f64; n as usize];
        let (mut trigger, mut cascade_per_swap) = (0.0, 0.0);
        for (local, w) in weights.iter().enumerate() {
            let pi = if total > 0.0 { w / total } else { 0.0 };
            per_block[local] += lambda * ((1.0 - q) * pi + q / n);
            let siblings = &universe.pools[start + local].siblings;
            if siblings.is_empty() {
                continue;
            }
            let s = siblings.len() as f64;
            let k = (1.0 + siblings.len().min(config.cascade_max_fanout) as f64) / 2.0;
            trigger += (1.0 - q) * p * pi;
            cascade_per_swap += (1.0 - q) * p * pi * k;
            for &sib in siblings {
                per_block[sib as usize - start] += lambda * (1.0 - q) * p * pi * k / s;
            }
        }
        let extra = if n > 1.0 { config.extra_read_prob } else { 0.0 };
        let updates: f64 = per_block.iter().sum();
        let reads: f64 = per_block
            .iter()
            .enumerate()
            .map(|(local, u)| u * (universe.pools[start + local].reads.len() as f64 + extra))
            .sum();
        for (local, u) in per_block.iter().enumerate() {
            pool_rate[start + local] = u * blocks_per_s;
        }
        all_updates += updates * blocks_per_s;
        all_reads += reads * blocks_per_s;
        chains.push(ChainExpectation {
            name: chain_cfg.name.clone(),
            blocks_per_s,
            swaps_per_block: lambda,
            cascade_trigger_prob: trigger,
            cascade_updates_per_swap: cascade_per_swap,
            updates_per_block: updates,
            reads_per_update: if updates > 0.0 { reads / updates } else { 0.0 },
        });
    }
    let mut sorted = pool_rate.clone();
    sorted.sort_unstable_by(|a, b| b.total_cmp(a));
    let top = sorted.len().div_ceil(10).max(1);
    let top_sum: f64 = sorted.iter().take(top).sum();
    ExpectedStats {
        chains,
        updates_per_s: all_updates,
        reads_per_update: if all_updates > 0.0 {
            all_reads / all_updates
        } else {
            0.0
        },
        events_per_s: all_updates + all_reads,
        top_decile_update_share: if all_updates > 0.0 {
            top_sum / all_updates
        } else {
            0.0
        },
        pool_updates_per_s: pool_rate,
    }
}

#[derive(Clone, Debug)]
struct Tally {
    name: String,
    first_block: u64,
    max_block: Option<u64>,
    swaps: u64,
    noise_swaps: u64,
    cascades: u64,
    reads: u64,
    /// Block whose updates `announced` and `updated` describe.
    block: u64,
    /// Pool -> time of the earliest update in this block whose read set contains it.
    announced: HashMap<u32, u64>,
    /// Pools updated so far in this block.
    updated: HashSet<u32>,
}

/// Default warm latency for the lead-time statistic: one L2 round trip, as in the simulator.
pub const DEFAULT_WARM_LATENCY_US: u64 = 250;

/// Measures a generated stream in the terms of [`ExpectedStats`]: feed it every event with
/// [`Self::observe`], then ask for a [`WorkloadSummary`].
#[derive(Clone, Debug)]
pub struct WorkloadStats {
    chains: Vec<Tally>,
    pool_updates: Vec<u64>,
    events: u64,
    first_ts: Option<u64>,
    last_ts: u64,
    regimes: u32,
    read_sets: Vec<Vec<u32>>,
    warm_latency_us: u64,
    reads_with_lead: u64,
    reads_of_updated: u64,
}

/// Measured numbers for one chain.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainSummary {
    /// Chain name.
    pub name: String,
    /// Blocks from the first block to the last block with an event.
    pub blocks: u64,
    /// Updates (swaps, noise swaps, cascades).
    pub updates: u64,
    /// Swaps, noise swaps included.
    pub swaps: u64,
    /// Cascade updates.
    pub cascade_updates: u64,
    /// `updates / blocks`.
    pub updates_per_block: f64,
    /// `cascade_updates / swaps`.
    pub cascade_updates_per_swap: f64,
    /// `reads / updates`.
    pub reads_per_update: f64,
}

/// Measured numbers for a generated stream.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadSummary {
    /// Events observed.
    pub events: u64,
    /// Updates.
    pub updates: u64,
    /// Reads.
    pub reads: u64,
    /// Last minus first timestamp, seconds.
    pub span_s: f64,
    /// Pools in the universe.
    pub pools: u64,
    /// Pools with at least one update.
    pub pools_updated: u64,
    /// `reads / updates`.
    pub reads_per_update: f64,
    /// Share of updates received by the top 10% of *all* pools of the universe.
    pub top_decile_update_share: f64,
    /// Regime changes seen (highest regime number observed).
    pub regimes: u32,
    /// Share of reads whose pool is in the read set of an *earlier* update of the same block
    /// at least the warm latency (default 250 µs) before the read: reads a structure-aware
    /// warmer could have made hits. Reads caused by the update itself are never in it.
    pub reads_predictable: f64,
    /// Share of reads of a pool already updated earlier in the same block (written through,
    /// so an L1 hit unless evicted since).
    pub reads_of_updated: f64,
    /// Per chain.
    pub chains: Vec<ChainSummary>,
}

impl WorkloadStats {
    /// An empty tally for `workload`'s universe.
    pub fn new(workload: &SyntheticWorkload) -> Self {
        Self {
            chains: workload
                .config()
                .chains
                .iter()
                .map(|c| Tally {
                    name: c.name.clone(),
                    first_block: c.first_block,
                    max_block: None,
                    swaps: 0,
                    noise_swaps: 0,
                    cascades: 0,
                    reads: 0,
                    block: 0,
                    announced: HashMap::new(),
                    updated: HashSet::new(),
                })
                .collect(),
            pool_updates: vec![0; workload.pairs().len()],
            events: 0,
            first_ts: None,
            last_ts: 0,
            regimes: 0,
            read_sets: (0..workload.pairs().len() as u32)
                .map(|p| workload.read_set(p).to_vec())
                .collect(),
            warm_latency_us: DEFAULT_WARM_LATENCY_US,
            reads_with_lead: 0,
            reads_of_updated: 0,
        }
    }

    /// Sets the warm latency used by [`WorkloadSummary::reads_predictable`].
    pub fn with_warm_latency_us(mut self, us: u64) -> Self {
        self.warm_latency_us = us;
        self
    }

    /// Counts one event.
    pub fn observe(&mut self, e: &GeneratedEvent) {
        self.events += 1;
        self.first_ts.get_or_insert(e.ts_us);
        self.last_ts = e.ts_us;
        self.regimes = self.regimes.max(e.regime);
        if e.op == Op::Update
            && let Some(n) = self.pool_updates.get_mut(e.pair as usize)
        {
            *n += 1;
        }
        let Some(t) = self.chains.get_mut(usize::from(e.chain)) else {
            return;
        };
        t.max_block = Some(t.max_block.map_or(e.block, |b| b.max(e.block)));
        if e.block != t.block {
            t.block = e.block;
            t.announced.clear();
            t.updated.clear();
        }
        match e.op {
            Op::Update => {
                for &r in self.read_sets.get(e.pair as usize).map_or(&[][..], |r| r) {
                    t.announced.entry(r).or_insert(e.ts_us);
                }
                t.updated.insert(e.pair);
            }
            Op::Read => {
                if t.announced
                    .get(&e.pair)
                    .is_some_and(|&at| e.ts_us.saturating_sub(at) >= self.warm_latency_us)
                {
                    self.reads_with_lead += 1;
                }
                if t.updated.contains(&e.pair) {
                    self.reads_of_updated += 1;
                }
            }
        }
        match e.kind {
            EventKind::Swap => t.swaps += 1,
            EventKind::NoiseSwap => t.noise_swaps += 1,
            EventKind::Cascade => t.cascades += 1,
            EventKind::Read | EventKind::ExtraRead => t.reads += 1,
        }
    }

    /// Updates per pool so far (indexed like `pairs()`).
    pub fn pool_updates(&self) -> &[u64] {
        &self.pool_updates
    }

    /// The measured numbers.
    pub fn summary(&self) -> WorkloadSummary {
        let chains: Vec<ChainSummary> = self
            .chains
            .iter()
            .map(|t| {
                let blocks = t
                    .max_block
                    .map_or(0, |m| m.saturating_sub(t.first_block) + 1);
                let swaps = t.swaps + t.noise_swaps;
                let updates = swaps + t.cascades;
                ChainSummary {
                    name: t.name.clone(),
                    blocks,
                    updates,
                    swaps,
                    cascade_updates: t.cascades,
                    updates_per_block: ratio(updates, blocks),
                    cascade_updates_per_swap: ratio(t.cascades, swaps),
                    reads_per_update: ratio(t.reads, updates),
                }
            })
            .collect();
        let updates: u64 = chains.iter().map(|c| c.updates).sum();
        let reads: u64 = self.chains.iter().map(|t| t.reads).sum();
        WorkloadSummary {
            events: self.events,
            updates,
            reads,
            span_s: self
                .first_ts
                .map_or(0.0, |f| self.last_ts.saturating_sub(f) as f64 / 1e6),
            pools: self.pool_updates.len() as u64,
            pools_updated: self.pool_updates.iter().filter(|n| **n > 0).count() as u64,
            reads_per_update: ratio(reads, updates),
            top_decile_update_share: top_decile_share(&self.pool_updates, true),
            regimes: self.regimes,
            reads_predictable: ratio(self.reads_with_lead, reads),
            reads_of_updated: ratio(self.reads_of_updated, reads),
            chains,
        }
    }
}
