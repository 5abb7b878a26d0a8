//! A synthetic DEX workload: block-structured price updates with arbitrage cascades, and the
//! reads an arbitrage detector issues after each update.
//!
//! The model (details and default statistics in `docs/trace-model.md`):
//!
//! * **Chains** produce blocks at their real interval (ethereum 12 s, bsc 3 s, arbitrum
//!   0.25 s, polygon/base/optimism 2 s); each block is delivered a little late (up to 5% of
//!   the interval, at most 250 ms) and all its updates arrive together.
//! * **Tokens** have Zipf popularity (exponent `zipf_exponent`); hub tokens (WETH, USDC, ...)
//!   are the most popular. Every hub trades against every hub; other tokens against 1-3 hubs.
//!   A token pair is listed on a primary DEX and, with some probability, on others: the
//!   same pair on several DEXes is what cross-DEX arbitrage compares.
//! * **Swaps** per block are Gamma-Poisson (bursty) with the chain's mean; each picks a pool
//!   with weight `pop(token0) * pop(token1) * liquidity` (primary listings deeper). A share
//!   of swaps hit a uniformly random pool instead (noise).
//! * **Cascades**: a swap is followed, with `cascade_prob`, by arbitrage updates of 1..=2
//!   sibling pools (same token pair, other DEXes) right after it in the same block or at the
//!   top of the next block.
//! * **Detector**: processes a block's updates sequentially, update `i` at
//!   `start + sum(d_0..d_{i-1})` with `d ~ U[detector_us ± jitter]`; after each update it reads,
//!   `read_spacing_us` apart, the pool's fixed read set (siblings, then triangle legs through
//!   up to 2 hubs, at most 8) plus, with `extra_read_prob`, one random pool. Updates are
//!   emitted at the time the detector handles them.
//! * **Regime change**: after `regime_change_at` events the popularity ranks of non-hub tokens
//!   are shuffled (structure unchanged).
//!
//! Everything is drawn from ChaCha8 streams seeded by `seed` (structure, each chain, regime
//! changes on separate streams): same config, same events, on every machine.

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, Poisson, StandardNormal};

use crate::pair::{MAX_CHAINS, normalize_chain};

use super::{Op, PairInfo, Trace, TraceEvent, TracePair};

mod presets;
mod stats;
mod structure;

pub use stats::{
    ChainExpectation, ChainSummary, DEFAULT_WARM_LATENCY_US, ExpectedStats, WorkloadStats,
    WorkloadSummary,
};

/// 2025-01-01T00:00:00Z in microseconds: the default first timestamp, so traces carry a
/// plausible wall-clock time (time-of-day strategies see a real day).
pub const DEFAULT_START_TS_US: u64 = 1_735_689_600_000_000;

/// One chain of the model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChainConfig {
    /// Chain name (validated like trace chain names).
    pub name: String,
    /// Block interval in microseconds.
    pub block_interval_us: u64,
    /// Mean swaps per block (before cascades). 0 makes the chain silent.
    pub swaps_per_block: f64,
    /// Number of the first generated block.
    pub first_block: u64,
    /// DEX names, most liquid first (only the first `dexes_per_chain` are used).
    pub dexes: Vec<String>,
    /// Hub token symbols, most liquid first.
    pub hubs: Vec<String>,
}

/// All parameters of the synthetic workload. `Default` is the documented model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GeneratorConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// Chains (default: ethereum, bsc, arbitrum, polygon, base, optimism presets).
    pub chains: Vec<ChainConfig>,
    /// Tokens per chain, hubs included (default 150).
    pub tokens_per_chain: usize,
    /// DEXes used per chain, the first N of each chain's list (default 4).
    pub dexes_per_chain: usize,
    /// Zipf exponent of token popularity: `pop(rank) = (rank + 1)^-s` (default 1.0).
    pub zipf_exponent: f64,
    /// Probability that a non-hub token pair is also listed on each non-primary DEX (0.35).
    pub secondary_listing_prob: f64,
    /// Swap weight of a non-primary listing relative to the primary one (0.3).
    pub secondary_liquidity: f64,
    /// Multiplies every chain's `swaps_per_block` (1.0).
    pub swaps_scale: f64,
    /// Gamma shape of the per-block swap rate: smaller is burstier; 0 = plain Poisson (2.0).
    pub burst_shape: f64,
    /// Probability that a (non-noise) swap on a pool with siblings triggers arbitrage
    /// updates of siblings (0.3).
    pub cascade_prob: f64,
    /// Most siblings updated by one cascade (2).
    pub cascade_max_fanout: usize,
    /// Probability that a cascade lands in the same block, right after the swap (0.6);
    /// otherwise it opens the next block.
    pub cascade_same_block_prob: f64,
    /// Probability that a swap hits a uniformly random pool of the chain (noise) (0.1).
    pub noise_swap_prob: f64,
    /// Probability that the detector reads one extra random pool after an update (0.1).
    pub extra_read_prob: f64,
    /// Hubs used for triangle legs per update (2).
    pub triangle_hubs: usize,
    /// Cap on the deterministic read set per update (8).
    pub max_reads_per_update: usize,
    /// Mean detector time per update in µs (50).
    pub detector_us_per_update: u64,
    /// Uniform jitter around `detector_us_per_update` in µs (10: 40-60 µs).
    pub detector_jitter_us: u64,
    /// Time between consecutive reads of one update in µs (1).
    pub read_spacing_us: u64,
    /// First block's nominal time base (µs).
    pub start_ts_us: u64,
    /// Re-draw token popularity after this many emitted events (None: never).
    pub regime_change_at: Option<u64>,
    /// Re-draw again every `regime_change_at` events (for unbounded feeds).
    pub regime_repeat: bool,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            chains: presets::PRESETS[..presets::DEFAULT_CHAINS]
                .iter()
                .filter_map(|p| ChainConfig::preset(p.name))
                .collect(),
            tokens_per_chain: 150,
            dexes_per_chain: 4,
            zipf_exponent: 1.0,
            secondary_listing_prob: 0.35,
            secondary_liquidity: 0.3,
            swaps_scale: 1.0,
            burst_shape: 2.0,
            cascade_prob: 0.3,
            cascade_max_fanout: 2,
            cascade_same_block_prob: 0.6,
            noise_swap_prob: 0.1,
            extra_read_prob: 0.1,
            triangle_hubs: 2,
            max_reads_per_update: 8,
            detector_us_per_update: 50,
            detector_jitter_us: 10,
            read_spacing_us: 1,
            start_ts_us: DEFAULT_START_TS_US,
            regime_change_at: None,
            regime_repeat: false,
        }
    }
}

impl GeneratorConfig {
    /// The default model on the named preset chains.
    pub fn with_chains(names: &[&str]) -> Result<Self, GeneratorError> {
        let chains = names
            .iter()
            .map(|n| {
                ChainConfig::preset(n).ok_or_else(|| GeneratorError::UnknownChain {
                    name: (*n).to_owned(),
                    known: ChainConfig::preset_names().join(", "),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            chains,
            ..Self::default()
        })
    }

    /// Checks every parameter; [`SyntheticWorkload::new`] calls it.
    pub fn validate(&self) -> Result<(), GeneratorError> {
        fn bad(
            field: &'static str,
            value: impl ToString,
            expected: &'static str,
        ) -> GeneratorError {
            GeneratorError::InvalidConfig {
                field,
                value: value.to_string(),
                expected,
            }
        }
        let prob = |field, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(bad(field, v, "a probability in [0, 1]"))
            }
        };
        if self.chains.is_empty() || self.chains.len() > MAX_CHAINS {
            return Err(bad("chains", self.chains.len(), "1 to 64 chains"));
        }
        let mut names = Vec::new();
        for chain in &self.chains {
            let name = normalize_chain(&chain.name)
                .map_err(|_| bad("chains.name", &chain.name, "a valid chain name"))?;
            if name != chain.name {
                return Err(bad("chains.name", &chain.name, "a lowercase chain name"));
            }
            if names.contains(&name) {
                return Err(bad("chains.name", &chain.name, "distinct chain names"));
            }
            names.push(name);
            if chain.block_interval_us == 0 {
                return Err(bad("chains.block_interval_us", 0, "a positive interval"));
            }
            let s = chain.swaps_per_block;
            if !(s == 0.0 || (1e-3..=1e6).contains(&s)) {
                return Err(bad(
                    "chains.swaps_per_block",
                    s,
                    "0 or a mean in [0.001, 1e6]",
                ));
            }
            if chain.dexes.is_empty() || chain.hubs.is_empty() {
                return Err(bad(
                    "chains.dexes/hubs",
                    &chain.name,
                    "at least one DEX and one hub",
                ));
            }
            for n in chain.dexes.iter().chain(&chain.hubs) {
                super::lines::check_name("dex/hub", n)
                    .map_err(|_| bad("chains.dexes/hubs", n, "names without , \" or spaces"))?;
            }
        }
        if self.chains.iter().all(|c| c.swaps_per_block == 0.0) {
            return Err(bad(
                "chains.swaps_per_block",
                0,
                "at least one active chain",
            ));
        }
        if !(2..=100_000).contains(&self.tokens_per_chain) {
            return Err(bad(
                "tokens_per_chain",
                self.tokens_per_chain,
                "2 to 100000",
            ));
        }
        if self.dexes_per_chain == 0 {
            return Err(bad("dexes_per_chain", 0, "at least 1"));
        }
        if !(0.0..=10.0).contains(&self.zipf_exponent) {
            return Err(bad(
                "zipf_exponent",
                self.zipf_exponent,
                "a number in [0, 10]",
            ));
        }
        prob("secondary_listing_prob", self.secondary_listing_prob)?;
        prob("cascade_prob", self.cascade_prob)?;
        prob("cascade_same_block_prob", self.cascade_same_block_prob)?;
        prob("noise_swap_prob", self.noise_swap_prob)?;
        prob("extra_read_prob", self.extra_read_prob)?;
        if !(self.secondary_liquidity > 0.0 && self.secondary_liquidity <= 1.0) {
            return Err(bad(
                "secondary_liquidity",
                self.secondary_liquidity,
                "a number in (0, 1]",
            ));
        }
        if !(self.swaps_scale > 0.0 && self.swaps_scale <= 1e3) {
            return Err(bad(
                "swaps_scale",
                self.swaps_scale,
                "a number in (0, 1000]",
            ));
        }
        if !(0.0..=1e6).contains(&self.burst_shape) {
            return Err(bad(
                "burst_shape",
                self.burst_shape,
                "0 (Poisson) or a positive shape",
            ));
        }
        if self.cascade_max_fanout == 0 {
            return Err(bad("cascade_max_fanout", 0, "at least 1"));
        }
        if self.max_reads_per_update > 64 {
            return Err(bad(
                "max_reads_per_update",
                self.max_reads_per_update,
                "at most 64",
            ));
        }
        if self.detector_jitter_us > self.detector_us_per_update {
            return Err(bad(
                "detector_jitter_us",
                self.detector_jitter_us,
                "at most detector_us_per_update",
            ));
        }
        if self.detector_us_per_update > 10_000_000 || self.read_spacing_us > 1_000_000 {
            return Err(bad(
                "detector_us_per_update/read_spacing_us",
                self.detector_us_per_update,
                "at most 10 s per update and 1 s between reads",
            ));
        }
        if self.regime_change_at == Some(0) {
            return Err(bad("regime_change_at", 0, "a positive event count"));
        }
        Ok(())
    }
}

/// Invalid generator configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeneratorError {
    /// A parameter is out of range.
    #[error("invalid generator parameter {field} = {value}: expected {expected}")]
    InvalidConfig {
        /// Parameter name.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// No preset has this name.
    #[error("unknown chain {name:?}; presets: {known}")]
    UnknownChain {
        /// The requested name.
        name: String,
        /// Preset names.
        known: String,
    },
}

/// Why an event was generated (ground truth, not part of the trace file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A swap on a popularity-weighted pool.
    Swap,
    /// A swap on a uniformly random pool (noise).
    NoiseSwap,
    /// An arbitrage update of a sibling pool following a swap.
    Cascade,
    /// A read from the update's deterministic read set.
    Read,
    /// A random extra read (noise).
    ExtraRead,
}

/// One generated event: the trace row plus ground truth useful to feeds and tests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeneratedEvent {
    /// Microseconds.
    pub ts_us: u64,
    /// Update or read.
    pub op: Op,
    /// Index into [`SyntheticWorkload::pairs`].
    pub pair: u32,
    /// Index into the config's chains.
    pub chain: u16,
    /// Block the event belongs to.
    pub block: u64,
    /// Why it was generated.
    pub kind: EventKind,
    /// Popularity regime in force (0 before the first change).
    pub regime: u32,
    /// For updates: the pool's new price (token1 per token0), from a simple model where swaps
    /// push a pool off the common price and arbitrage pulls siblings back. `None` for reads.
    pub price: Option<f64>,
}

struct ChainState {
    rng: ChaCha8Rng,
    /// Blocks generated so far.
    blocks: u64,
    phase_us: u64,
    busy_until: u64,
    /// Cascade updates for the top of the next block.
    carry: Vec<u32>,
    queue: VecDeque<GeneratedEvent>,
    /// Cumulative swap weights over the chain's pools (current regime).
    cumulative: Vec<f64>,
    /// Mean swaps per block after `swaps_scale`.
    swaps_per_block: f64,
}

/// The workload as an endless, timestamp-ordered stream of events.
///
/// ```
/// use pairwarm_sim::trace::{GeneratorConfig, Op, SyntheticWorkload};
/// let mut w = SyntheticWorkload::new(GeneratorConfig::default()).unwrap();
/// let first: Vec<_> = w.by_ref().take(1000).collect();
/// assert!(first.windows(2).all(|p| p[0].ts_us <= p[1].ts_us));
/// let update = first.iter().find(|e| e.op == Op::Update).unwrap();
/// let pool = &w.pairs()[update.pair as usize];
/// assert!(pool.chain.len() > 0 && pool.dex.len() > 0);
/// // The pools the detector compares this one with:
/// let _reads: &[u32] = w.read_set(update.pair);
/// ```
pub struct SyntheticWorkload {
    config: GeneratorConfig,
    universe: structure::Universe,
    chains: Vec<ChainState>,
    regime_rng: ChaCha8Rng,
    regime: u32,
    next_regime_at: Option<u64>,
    emitted: u64,
    /// Per pool: deviation from the common price (demo price model).
    deviation: Vec<f64>,
    /// Per pool: common price of its token pair (token1 per token0).
    base_price: Vec<f64>,
}

impl SyntheticWorkload {
    /// Builds the pool universe and the per-chain streams.
    pub fn new(config: GeneratorConfig) -> Result<Self, GeneratorError> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let universe = structure::build(&config, &mut rng);
        let mut regime_rng = ChaCha8Rng::seed_from_u64(config.seed);
        regime_rng.set_stream(u64::from(u32::MAX));
        // Demo prices: hubs at rough USD values, other tokens log-uniform in [1e-6, 100].
        let mut usd: Vec<Vec<f64>> = Vec::new();
        for chain in &universe.chains {
            usd.push(
                chain
                    .tokens
                    .iter()
                    .map(|t| {
                        presets::hub_usd(t)
                            .unwrap_or_else(|| (rng.random_range(-6.0..2.0f64) * 10f64.ln()).exp())
                    })
                    .collect(),
            );
        }
        let base_price = universe
            .pools
            .iter()
            .map(|p| {
                let u = &usd[usize::from(p.chain)];
                u[p.token0 as usize] / u[p.token1 as usize]
            })
            .collect();
        let chains = config
            .chains
            .iter()
            .enumerate()
            .map(|(c, chain)| {
                let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
                rng.set_stream(1 + c as u64);
                let phase_us = rng.random_range(0..chain.block_interval_us);
                ChainState {
                    rng,
                    blocks: 0,
                    phase_us,
                    busy_until: 0,
                    carry: Vec::new(),
                    queue: VecDeque::new(),
                    cumulative: Vec::new(),
                    swaps_per_block: chain.swaps_per_block * config.swaps_scale,
                }
            })
            .collect();
        let pools = universe.pools.len();
        let mut w = Self {
            next_regime_at: config.regime_change_at,
            config,
            universe,
            chains,
            regime_rng,
            regime: 0,
            emitted: 0,
            deviation: vec![0.0; pools],
            base_price,
        };
        w.apply_regime();
        Ok(w)
    }

    /// The configuration in use.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// Every pool of the universe (the pairs file), indexed by [`GeneratedEvent::pair`].
    pub fn pairs(&self) -> &[PairInfo] {
        &self.universe.info
    }

    /// A pool as a trace pair.
    pub fn trace_pair(&self, pool: u32) -> Option<TracePair> {
        self.universe.info.get(pool as usize).map(|p| TracePair {
            chain: p.chain.clone(),
            address: p.pair,
        })
    }

    /// The pools the detector reads after `pool` updates (siblings, then triangle legs).
    pub fn read_set(&self, pool: u32) -> &[u32] {
        self.universe
            .pools
            .get(pool as usize)
            .map_or(&[], |p| &p.reads)
    }

    /// Other pools of the same token pair on the same chain.
    pub fn siblings(&self, pool: u32) -> &[u32] {
        self.universe
            .pools
            .get(pool as usize)
            .map_or(&[], |p| &p.siblings)
    }

    /// Symbols of a chain's hub tokens (chain index as in the config).
    pub fn hubs(&self, chain: usize) -> &[String] {
        self.universe
            .chains
            .get(chain)
            .map_or(&[], |c| &c.tokens[..c.hubs])
    }

    /// Events emitted so far.
    pub fn emitted(&self) -> u64 {
        self.emitted
    }

    /// Current popularity regime (0 before the first change).
    pub fn regime(&self) -> u32 {
        self.regime
    }

    /// What the model predicts for the current regime (see [`ExpectedStats`]).
    pub fn expected(&self) -> ExpectedStats {
        let swap_weights: Vec<Vec<f64>> = self
            .chains
            .iter()
            .map(|c| {
                let mut prev = 0.0;
                c.cumulative
                    .iter()
                    .map(|&x| {
                        let w = x - prev;
                        prev = x;
                        w
                    })
                    .collect()
            })
            .collect();
        stats::expected(&self.config, &self.universe, &swap_weights)
    }

    /// Rebuilds every chain's swap weights for the current regime.
    fn apply_regime(&mut self) {
        let s = self.config.zipf_exponent;
        for (c, chain) in self.universe.chains.iter().enumerate() {
            let ranks = structure::ranks(chain, self.regime, &mut self.regime_rng);
            let pop = |t: u32| (f64::from(ranks[t as usize]) + 1.0).powf(-s);
            let mut acc = 0.0;
            let cumulative = self.universe.pools
                [chain.pools.start as usize..chain.pools.end as usize]
                .iter()
                .map(|p| {
                    let liquidity = if p.primary {
                        1.0
                    } else {
                        self.config.secondary_liquidity
                    };
                    acc += pop(p.token0) * pop(p.token1) * liquidity;
                    acc
                })
                .collect();
            self.chains[c].cumulative = cumulative;
        }
    }

    fn maybe_change_regime(&mut self) {
        let Some(at) = self.next_regime_at else {
            return;
        };
        if self.emitted < at {
            return;
        }
        self.regime += 1;
        self.next_regime_at = match (self.config.regime_repeat, self.config.regime_change_at) {
            (true, Some(period)) => at.checked_add(period),
            _ => None,
        };
        self.apply_regime();
    }

    /// Generates chain `c`'s next block into its queue (possibly empty).
    fn generate_block(&mut self, c: usize) {
        self.maybe_change_regime();
        let cfg = &self.config;
        let chain_cfg = &cfg.chains[c];
        let range = self.universe.chains[c].pools.clone();
        let n_pools = range.end - range.start;
        let st = &mut self.chains[c];
        let interval = chain_cfg.block_interval_us;
        let block = chain_cfg.first_block.saturating_add(st.blocks);
        let nominal = cfg
            .start_ts_us
            .saturating_add(st.phase_us)
            .saturating_add(st.blocks.saturating_mul(interval));
        st.blocks += 1;
        let max_delay = (interval / 20).min(250_000);
        let arrival = nominal.saturating_add(st.rng.random_range(0..=max_delay));
        let start = arrival.max(st.busy_until);

        // Which pools update in this block, in order.
        let mut updates: Vec<(u32, EventKind, Option<u32>)> = st
            .carry
            .drain(..)
            .map(|p| (p, EventKind::Cascade, None))
            .collect();
        let rate = if cfg.burst_shape > 0.0 {
            Gamma::new(cfg.burst_shape, st.swaps_per_block / cfg.burst_shape)
                .map_or(st.swaps_per_block, |g| g.sample(&mut st.rng))
        } else {
            st.swaps_per_block
        };
        let swaps = if rate > 0.0 {
            Poisson::new(rate).map_or(0.0, |p| p.sample(&mut st.rng)) as u64
        } else {
            0
        };
        let total = st.cumulative.last().copied().unwrap_or(0.0);
        for _ in 0..swaps {
            if st.rng.random_bool(cfg.noise_swap_prob) || total <= 0.0 {
                let pool = range.start + st.rng.random_range(0..n_pools);
                updates.push((pool, EventKind::NoiseSwap, None));
                continue;
            }
            let x = st.rng.random::<f64>() * total;
            let local = st
                .cumulative
                .partition_point(|&c| c <= x)
                .min(n_pools as usize - 1);
            let pool = range.start + local as u32;
            updates.push((pool, EventKind::Swap, None));
            let siblings = &self.universe.pools[pool as usize].siblings;
            if siblings.is_empty() || !st.rng.random_bool(cfg.cascade_prob) {
                continue;
            }
            let k = st
                .rng
                .random_range(1..=siblings.len().min(cfg.cascade_max_fanout));
            let same_block = st.rng.random_bool(cfg.cascade_same_block_prob);
            let mut chosen = siblings.clone();
            let (picked, _) =
                rand::seq::SliceRandom::partial_shuffle(&mut chosen[..], &mut st.rng, k);
            for &s in picked.iter() {
                if same_block {
                    updates.push((s, EventKind::Cascade, Some(pool)));
                } else {
                    st.carry.push(s);
                }
            }
        }

        // The detector handles them one after the other.
        let mut t = start;
        let lo = cfg.detector_us_per_update - cfg.detector_jitter_us;
        let hi = cfg.detector_us_per_update + cfg.detector_jitter_us;
        for (pool, kind, trigger) in updates {
            // Demo price model: swaps push a pool off the common price, arbitrage pulls the
            // sibling most of the way to the pool that moved.
            let dev = &mut self.deviation;
            let p = pool as usize;
            dev[p] = match (kind, trigger) {
                (EventKind::Cascade, Some(from)) => {
                    dev[from as usize] * st.rng.random_range(0.7..1.0)
                }
                (EventKind::Cascade, None) => dev[p] * 0.2,
                _ => {
                    let z: f64 = StandardNormal.sample(&mut st.rng);
                    0.5 * dev[p] + 0.003 * z
                }
            };
            let price = self.base_price[p] * (1.0 + dev[p]);
            let regime = self.regime;
            let event = |ts_us, op, pair, kind, price| GeneratedEvent {
                ts_us,
                op,
                pair,
                chain: c as u16,
                block,
                kind,
                regime,
                price,
            };
            st.queue
                .push_back(event(t, Op::Update, pool, kind, Some(price)));
            let mut last = t;
            for &r in &self.universe.pools[p].reads {
                last = last.saturating_add(cfg.read_spacing_us);
                st.queue
                    .push_back(event(last, Op::Read, r, EventKind::Read, None));
            }
            if n_pools > 1 && st.rng.random_bool(cfg.extra_read_prob) {
                // Uniform over the chain's other pools.
                let mut r = range.start + st.rng.random_range(0..n_pools - 1);
                if r >= pool {
                    r += 1;
                }
                last = last.saturating_add(cfg.read_spacing_us);
                st.queue
                    .push_back(event(last, Op::Read, r, EventKind::ExtraRead, None));
            }
            let d = st.rng.random_range(lo..=hi);
            t = t.saturating_add(d).max(last);
        }
        st.busy_until = t;
    }
}

impl Iterator for SyntheticWorkload {
    type Item = GeneratedEvent;

    /// Never returns `None`: the stream is endless (validation guarantees an active chain).
    fn next(&mut self) -> Option<GeneratedEvent> {
        let mut best: Option<(u64, usize)> = None;
        for c in 0..self.chains.len() {
            if self.chains[c].swaps_per_block == 0.0 {
                continue;
            }
            // Empty blocks happen (Poisson); the expected number in a row is small.
            while self.chains[c].queue.is_empty() {
                self.generate_block(c);
            }
            let ts = self.chains[c].queue.front().map_or(u64::MAX, |e| e.ts_us);
            if best.is_none_or(|(b, _)| ts < b) {
                best = Some((ts, c));
            }
        }
        let (_, c) = best?;
        let event = self.chains[c].queue.pop_front()?;
        self.emitted += 1;
        Some(event)
    }
}

/// The first `events` events of the workload as a [`Trace`] (pairs in order of first
/// appearance, so a write/read round trip is the identity), plus every pool of the universe
/// (for the pairs file; pools never touched in the trace are included).
pub fn generate(
    config: &GeneratorConfig,
    events: usize,
) -> Result<(Trace, Vec<PairInfo>), GeneratorError> {
    let mut workload = SyntheticWorkload::new(config.clone())?;
    let mut index = vec![u32::MAX; workload.pairs().len()];
    let mut trace = Trace {
        events: Vec::with_capacity(events),
        ..Trace::default()
    };
    for _ in 0..events {
        let Some(e) = workload.next() else { break };
        let slot = &mut index[e.pair as usize];
        if *slot == u32::MAX {
            *slot = trace.pairs.len() as u32;
            let info = &workload.universe.info[e.pair as usize];
            trace.pairs.push(TracePair {
                chain: info.chain.clone(),
                address: info.pair,
            });
        }
        trace.events.push(TraceEvent {
            ts_us: e.ts_us,
            op: e.op,
            pair: *slot,
        });
    }
    Ok((trace, workload.universe.info))
}
