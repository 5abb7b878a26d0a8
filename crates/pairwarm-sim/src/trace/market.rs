//! A second, structurally different workload model ("market"), written independently of
//! [`generate`](super::generate) so that a cache policy or a predictor tuned to one model's
//! quirks shows up on the other.
//!
//! Where the DEX model interleaves each update with its reads (the detector handles one update,
//! reads its fixed read set, then the next update), this model has:
//!
//! * **Block-synchronous bursts.** A chain's block arrives and all its updates land together
//!   (1 µs apart); the detector then sweeps the *union* of the updated pools' route sets
//!   (same pair on other DEXes, the same token pair on other chains, triangle legs through
//!   hubs), deduplicated per block, each read `read_gap_us` apart. A read is thus 0 to a few
//!   ms after the update that caused it, in no fixed order.
//! * **Cross-chain lead/lag.** An update of a token pair on one chain is followed, with
//!   `cross_chain_prob`, by an update of the same token pair on each other chain that lists
//!   it, after a lag uniform in `[0, that chain's block interval]` (it lands in the first
//!   block after the lag): the same pool moves first on one chain, later on another.
//!   Every sweep also reads the chain's `reference_reads` hub-hub pools (USD reference).
//! * **Independent-reference reads.** A share of reads does not follow updates at all:
//!   a Poisson stream (`irm_reads_per_s`) of reads of pools drawn from their own Zipf law
//!   (`irm_zipf`), as a quoting or UI service would issue.
//! * **Scans.** Every `scan_every_s`, `scan_len` consecutive pools of one chain are read
//!   `scan_gap_us` apart (a rebalancer or a health check walking the pool list).
//! * **Shifting hot set.** Update popularity is a Zipf law over a permutation of the pools;
//!   every `shift_every_s` a fraction `shift_fraction` of the ranks is swapped at random,
//!   so the hot set drifts instead of changing once.
//!
//! Everything is drawn from ChaCha8 seeded by `seed`; same config, same trace.

use std::collections::{BinaryHeap, HashMap};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal};
use serde::{Deserialize, Serialize};

use super::{Op, PairInfo, Trace, TraceBuilder};
use crate::pair::Address;

/// One chain of the market model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MarketChain {
    /// Chain name (lowercase, valid as a trace chain name).
    pub name: String,
    /// Block interval, µs.
    pub block_interval_us: u64,
    /// Mean pool updates per second on this chain (before cross-chain followers).
    pub updates_per_s: f64,
    /// Relative share of the universe's pools listed on this chain.
    pub listing_weight: f64,
}

impl MarketChain {
    fn new(name: &str, block_ms: u64, updates_per_s: f64, listing_weight: f64) -> Self {
        Self {
            name: name.to_owned(),
            block_interval_us: block_ms * 1000,
            updates_per_s,
            listing_weight,
        }
    }
}

/// Parameters of the market model (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MarketConfig {
    /// Seed of every draw.
    pub seed: u64,
    /// Chains.
    pub chains: Vec<MarketChain>,
    /// Pools in the universe (approximately: whole token pairs are added until reached).
    pub pools: usize,
    /// DEXes per chain.
    pub dexes: usize,
    /// Probability that a token pair listed on one chain is also listed on each other chain.
    pub cross_listing_prob: f64,
    /// Probability that a token pair on a chain is also listed on each further DEX.
    pub extra_dex_prob: f64,
    /// Zipf exponent of update popularity over pools.
    pub zipf: f64,
    /// Log-normal sigma of the updates per block (burstiness; 0: always the mean).
    pub burst_sigma: f64,
    /// Probability that an update is followed by the same token pair on each other chain.
    pub cross_chain_prob: f64,
    /// Gap between two reads of the detector's sweep, µs.
    pub read_gap_us: u64,
    /// Most route reads per updated pool.
    pub max_route_reads: usize,
    /// Whether the route set includes the same token pair on other chains.
    pub read_twins: bool,
    /// Hubs used for triangle legs.
    pub triangle_hubs: usize,
    /// Reference pools (the chain's most liquid hub-hub pools, e.g. WETH/USDC) every sweep
    /// reads to price its legs in USD.
    pub reference_reads: usize,
    /// Independent-reference reads per second (all chains).
    pub irm_reads_per_s: f64,
    /// Zipf exponent of the independent reads.
    pub irm_zipf: f64,
    /// Seconds between scans (0: no scans).
    pub scan_every_s: f64,
    /// Pools read per scan.
    pub scan_len: usize,
    /// Gap between two reads of a scan, µs.
    pub scan_gap_us: u64,
    /// Seconds between hot-set shifts (0: never).
    pub shift_every_s: f64,
    /// Fraction of popularity ranks swapped per shift.
    pub shift_fraction: f64,
    /// Stop after this many reads.
    pub reads: u64,
    /// First timestamp, µs.
    pub start_ts_us: u64,
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self {
            seed: 7,
            chains: vec![
                MarketChain::new("ethereum", 12_000, 18.0, 1.0),
                MarketChain::new("arbitrum", 250, 30.0, 1.0),
                MarketChain::new("base", 2_000, 20.0, 0.8),
                MarketChain::new("bsc", 3_000, 15.0, 0.8),
                MarketChain::new("polygon", 2_000, 8.0, 0.6),
            ],
            pools: 5_000,
            dexes: 4,
            cross_listing_prob: 0.35,
            extra_dex_prob: 0.3,
            zipf: 1.1,
            burst_sigma: 0.8,
            cross_chain_prob: 0.3,
            read_gap_us: 6,
            max_route_reads: 6,
            read_twins: true,
            triangle_hubs: 2,
            reference_reads: 2,
            irm_reads_per_s: 60.0,
            irm_zipf: 1.1,
            scan_every_s: 30.0,
            scan_len: 150,
            scan_gap_us: 3,
            shift_every_s: 60.0,
            shift_fraction: 0.05,
            reads: 250_000,
            start_ts_us: super::generate::DEFAULT_START_TS_US,
        }
    }
}

/// An invalid market configuration, naming the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid market model parameter {field} = {value}: expected {expected}")]
pub struct MarketError {
    /// The field.
    pub field: &'static str,
    /// The rejected value.
    pub value: String,
    /// What is accepted.
    pub expected: &'static str,
}

impl MarketConfig {
    /// Checks every parameter.
    pub fn validate(&self) -> Result<(), MarketError> {
        let bad = |field, value: String, expected| {
            Err(MarketError {
                field,
                value,
                expected,
            })
        };
        if self.chains.is_empty() || self.chains.len() > 16 {
            return bad("chains", self.chains.len().to_string(), "1 to 16 chains");
        }
        for c in &self.chains {
            if crate::pair::normalize_chain(&c.name).ok().as_deref() != Some(c.name.as_str()) {
                return bad("chains.name", c.name.clone(), "a lowercase chain name");
            }
            if c.block_interval_us == 0
                || !(c.updates_per_s.is_finite() && c.updates_per_s >= 0.0)
                || !(c.listing_weight.is_finite() && c.listing_weight > 0.0)
            {
                return bad(
                    "chains",
                    c.name.clone(),
                    "block_interval_us > 0, updates_per_s >= 0, listing_weight > 0",
                );
            }
        }
        if !(10..=1_000_000).contains(&self.pools) {
            return bad("pools", self.pools.to_string(), "10..=1000000");
        }
        if !(1..=8).contains(&self.dexes) {
            return bad("dexes", self.dexes.to_string(), "1..=8");
        }
        for (field, v) in [
            ("cross_listing_prob", self.cross_listing_prob),
            ("extra_dex_prob", self.extra_dex_prob),
            ("cross_chain_prob", self.cross_chain_prob),
            ("shift_fraction", self.shift_fraction),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(field, v.to_string(), "a probability in [0, 1]");
            }
        }
        for (field, v) in [
            ("zipf", self.zipf),
            ("irm_zipf", self.irm_zipf),
            ("burst_sigma", self.burst_sigma),
            ("irm_reads_per_s", self.irm_reads_per_s),
            ("scan_every_s", self.scan_every_s),
            ("shift_every_s", self.shift_every_s),
        ] {
            if !(0.0..=1e6).contains(&v) {
                return bad(field, v.to_string(), "a finite number >= 0");
            }
        }
        if self.reads == 0 || self.reads > 100_000_000 {
            return bad("reads", self.reads.to_string(), "1..=100000000");
        }
        Ok(())
    }
}

const HUBS: [&str; 5] = ["WETH", "USDC", "USDT", "DAI", "WBTC"];
const DEX_NAMES: [&str; 8] = [
    "uniswap-v3",
    "uniswap-v2",
    "sushiswap",
    "curve",
    "balancer-v2",
    "pancakeswap-v3",
    "camelot",
    "aerodrome",
];

/// The pools and their relations.
struct Universe {
    info: Vec<PairInfo>,
    /// Per pool: chain index.
    chain: Vec<u16>,
    /// Per pool: the pools the detector compares it with.
    route: Vec<Vec<u32>>,
    /// Per pool: the same token pair's primary pool on each other chain.
    twins: Vec<Vec<u32>>,
    /// Per chain: its pools, in universe order (scans walk this).
    by_chain: Vec<Vec<u32>>,
    /// Per chain: its hub-hub primary pools, most liquid hubs first.
    reference: Vec<Vec<u32>>,
}

fn zipf_cdf(n: usize, s: f64) -> Vec<f64> {
    let mut acc = 0.0;
    let mut cdf: Vec<f64> = (0..n)
        .map(|r| {
            acc += (r as f64 + 1.0).powf(-s);
            acc
        })
        .collect();
    for c in &mut cdf {
        *c /= acc;
    }
    cdf
}

fn draw(cdf: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let u: f64 = rng.random();
    cdf.partition_point(|&c| c < u)
        .min(cdf.len().saturating_sub(1))
}

fn build_universe(config: &MarketConfig, rng: &mut ChaCha8Rng) -> Universe {
    let n_chains = config.chains.len();
    let listing: Vec<f64> = config.chains.iter().map(|c| c.listing_weight).collect();
    let listing_total: f64 = listing.iter().sum();
    let mut info = Vec::new();
    let mut chain_of = Vec::new();
    // (token pair) -> per chain: pools (primary first).
    let mut listings: Vec<Vec<Vec<u32>>> = Vec::new();
    let mut pair_index: HashMap<(String, String), usize> = HashMap::new();
    let mut used = std::collections::HashSet::new();
    let mut address = |rng: &mut ChaCha8Rng| loop {
        let bytes: [u8; 20] = rng.random();
        if used.insert(bytes) {
            return Address::from_bytes(bytes);
        }
    };
    let mut token_pairs: Vec<(String, String)> = Vec::new();
    for (i, a) in HUBS.iter().enumerate() {
        for b in &HUBS[i + 1..] {
            token_pairs.push(((*a).to_owned(), (*b).to_owned()));
        }
    }
    let mut next_token = 0usize;
    let mut tp = 0usize;
    while info.len() < config.pools {
        if tp == token_pairs.len() {
            // A new tail token against 1-3 hubs (earlier hubs likelier), sometimes another
            // tail token too.
            let name = format!("TKN{next_token:04}");
            next_token += 1;
            let k = 1 + usize::from(rng.random_bool(0.5)) + usize::from(rng.random_bool(0.2));
            let mut hubs: Vec<usize> = Vec::new();
            while hubs.len() < k {
                let h = (rng.random::<f64>().powi(2) * HUBS.len() as f64) as usize;
                if !hubs.contains(&h) {
                    hubs.push(h);
                }
            }
            for h in hubs {
                token_pairs.push((name.clone(), HUBS[h].to_owned()));
            }
            if next_token > 10 && rng.random_bool(0.1) {
                let other = format!("TKN{:04}", rng.random_range(0..next_token - 1));
                token_pairs.push((name, other));
            }
            continue;
        }
        let (a, b) = token_pairs[tp].clone();
        tp += 1;
        let hub_pair = HUBS.contains(&a.as_str()) && HUBS.contains(&b.as_str());
        let mut u = rng.random::<f64>() * listing_total;
        let mut home = 0;
        for (c, w) in listing.iter().enumerate() {
            if u < *w {
                home = c;
                break;
            }
            u -= w;
        }
        let mut per_chain = vec![Vec::new(); n_chains];
        for (c, pools) in per_chain.iter_mut().enumerate() {
            if c != home && !hub_pair && !rng.random_bool(config.cross_listing_prob) {
                continue;
            }
            let primary = rng.random_range(0..config.dexes.min(2));
            for d in 0..config.dexes {
                if d != primary && !hub_pair && !rng.random_bool(config.extra_dex_prob) {
                    continue;
                }
                let id = info.len() as u32;
                info.push(PairInfo {
                    pair: address(rng),
                    chain: config.chains[c].name.clone(),
                    dex: DEX_NAMES[d % DEX_NAMES.len()].to_owned(),
                    token0: a.clone(),
                    token1: b.clone(),
                });
                chain_of.push(c as u16);
                if d == primary {
                    pools.insert(0, id);
                } else {
                    pools.push(id);
                }
            }
        }
        pair_index.insert((a.clone(), b.clone()), listings.len());
        pair_index.insert((b, a), listings.len());
        listings.push(per_chain);
    }
    let n = info.len();
    let mut route = vec![Vec::new(); n];
    let mut twins = vec![Vec::new(); n];
    let mut by_chain = vec![Vec::new(); n_chains];
    for l in &listings {
        for (c, pools) in l.iter().enumerate() {
            for &p in pools {
                by_chain[c].push(p);
                let mut r: Vec<u32> = pools.iter().copied().filter(|&q| q != p).collect();
                let tw: Vec<u32> = l
                    .iter()
                    .enumerate()
                    .filter(|(c2, ps)| *c2 != c && !ps.is_empty())
                    .map(|(_, ps)| ps[0])
                    .collect();
                if config.read_twins {
                    r.extend(&tw);
                }
                twins[p as usize] = tw;
                route[p as usize] = r;
            }
        }
    }
    // Triangle legs: A-H and B-H on the same chain through the first hubs both trade with.
    for p in 0..n {
        let (a, b) = (&info[p].token0, &info[p].token1);
        let c = chain_of[p] as usize;
        let mut legs = 0;
        for h in HUBS {
            if legs >= config.triangle_hubs || route[p].len() >= config.max_route_reads {
                break;
            }
            if h == a || h == b {
                continue;
            }
            let leg = |x: &String| {
                pair_index
                    .get(&(x.clone(), h.to_owned()))
                    .and_then(|&i| listings[i][c].first().copied())
            };
            if let (Some(x), Some(y)) = (leg(a), leg(b)) {
                route[p].push(x);
                route[p].push(y);
                legs += 1;
            }
        }
        route[p].truncate(config.max_route_reads);
    }
    let mut reference = vec![Vec::new(); n_chains];
    for (i, a) in HUBS.iter().enumerate() {
        for b in &HUBS[i + 1..] {
            if let Some(&ix) = pair_index.get(&((*a).to_owned(), (*b).to_owned())) {
                for (c, pools) in listings[ix].iter().enumerate() {
                    if let Some(&p) = pools.first() {
                        reference[c].push(p);
                    }
                }
            }
        }
    }
    Universe {
        info,
        chain: chain_of,
        route,
        twins,
        by_chain,
        reference,
    }
}

/// Generates a trace of the market model and the pairs file of its universe.
///
/// ```
/// use pairwarm_sim::trace::market::{MarketConfig, generate_market};
/// let config = MarketConfig { reads: 20_000, pools: 500, ..MarketConfig::default() };
/// let (trace, pools) = generate_market(&config).unwrap();
/// let stats = trace.stats();
/// assert!(stats.reads >= 20_000 && stats.updates > 1_000);
/// assert!(pools.len() >= 500);
/// ```
pub fn generate_market(config: &MarketConfig) -> Result<(Trace, Vec<PairInfo>), MarketError> {
    config.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let u = build_universe(config, &mut rng);
    let n = u.info.len();
    // Update popularity: Zipf over a random permutation of each chain's pools.
    let mut rank_to_pool: Vec<Vec<u32>> = u.by_chain.clone();
    for ranks in &mut rank_to_pool {
        ranks.shuffle(&mut rng);
    }
    let cdfs: Vec<Vec<f64>> = rank_to_pool
        .iter()
        .map(|r| zipf_cdf(r.len().max(1), config.zipf))
        .collect();
    // Independent reads: their own Zipf over a separate permutation of all pools.
    let mut irm_order: Vec<u32> = (0..n as u32).collect();
    irm_order.shuffle(&mut rng);
    let irm_cdf = zipf_cdf(n, config.irm_zipf);

    // (time, seq, op, pool) collected, then sorted.
    let mut events: Vec<(u64, u64, Op, u32)> = Vec::new();
    let mut seq = 0u64;
    let mut push = |events: &mut Vec<(u64, u64, Op, u32)>, t: u64, op: Op, p: u32| {
        events.push((t, seq, op, p));
        seq += 1;
    };
    let start = config.start_ts_us;
    // Blocks in time order across chains.
    let mut heap: BinaryHeap<std::cmp::Reverse<(u64, usize)>> = BinaryHeap::new();
    for (c, chain) in config.chains.iter().enumerate() {
        let phase = rng.random_range(0..chain.block_interval_us);
        heap.push(std::cmp::Reverse((start + phase, c)));
    }
    let mut pending: Vec<Vec<(u64, u32)>> = vec![Vec::new(); config.chains.len()];
    let mut reads = 0u64;
    let mut next_shift = start + (config.shift_every_s * 1e6) as u64;
    let mut irm_next = start;
    let irm = (config.irm_reads_per_s > 0.0).then(|| Exp::new(config.irm_reads_per_s / 1e6));
    let mut scan_next = start + (config.scan_every_s * 1e6 / 2.0) as u64;
    let delay = Exp::new(1.0 / 30_000.0).ok();
    while reads < config.reads {
        let Some(std::cmp::Reverse((nominal, c))) = heap.pop() else {
            break;
        };
        let chain = &config.chains[c];
        heap.push(std::cmp::Reverse((nominal + chain.block_interval_us, c)));
        let jitter = delay
            .as_ref()
            .map_or(0.0_f64, |d| d.sample(&mut rng))
            .min(chain.block_interval_us as f64 * 0.5);
        let arrival = nominal + jitter as u64;
        // Independent reads and scans up to this block's arrival.
        if let Some(Ok(exp)) = &irm {
            while irm_next < arrival && reads < config.reads {
                let p = irm_order[draw(&irm_cdf, &mut rng)];
                push(&mut events, irm_next, Op::Read, p);
                reads += 1;
                irm_next += exp.sample(&mut rng).max(1.0) as u64;
            }
        }
        if config.scan_every_s > 0.0 && scan_next < arrival {
            let sc = rng.random_range(0..u.by_chain.len());
            let pools = &u.by_chain[sc];
            if !pools.is_empty() {
                let from = rng.random_range(0..pools.len());
                for k in 0..config.scan_len.min(pools.len()) {
                    let p = pools[(from + k) % pools.len()];
                    push(
                        &mut events,
                        scan_next + k as u64 * config.scan_gap_us,
                        Op::Read,
                        p,
                    );
                    reads += 1;
                }
            }
            scan_next += (config.scan_every_s * 1e6) as u64;
        }
        if config.shift_every_s > 0.0 && arrival >= next_shift {
            for ranks in &mut rank_to_pool {
                let swaps = (ranks.len() as f64 * config.shift_fraction / 2.0).ceil() as usize;
                for _ in 0..swaps {
                    let (i, j) = (
                        rng.random_range(0..ranks.len()),
                        rng.random_range(0..ranks.len()),
                    );
                    ranks.swap(i, j);
                }
            }
            next_shift += (config.shift_every_s * 1e6) as u64;
        }
        // The block's updates: popularity draws plus cross-chain followers now due.
        let mean = chain.updates_per_s * chain.block_interval_us as f64 / 1e6;
        let count = if config.burst_sigma > 0.0 && mean > 0.0 {
            let mu = mean.ln() - config.burst_sigma * config.burst_sigma / 2.0;
            LogNormal::new(mu, config.burst_sigma)
                .map_or(mean, |d| d.sample(&mut rng))
                .round() as usize
        } else {
            mean.round() as usize
        };
        // (pool, whether it follows another chain: followers start no further followers).
        let mut block: Vec<(u32, bool)> = Vec::with_capacity(count + 4);
        pending[c].retain(|&(due, p)| {
            if due <= arrival {
                block.push((p, true));
                false
            } else {
                true
            }
        });
        if !rank_to_pool[c].is_empty() {
            for _ in 0..count {
                block.push((rank_to_pool[c][draw(&cdfs[c], &mut rng)], false));
            }
        }
        let mut t = arrival;
        for &(p, follower) in &block {
            push(&mut events, t, Op::Update, p);
            t += 1;
            if follower {
                continue;
            }
            for &tw in &u.twins[p as usize] {
                if rng.random_bool(config.cross_chain_prob) {
                    let tc = u.chain[tw as usize] as usize;
                    let lag = rng.random_range(0..=config.chains[tc].block_interval_us);
                    pending[tc].push((arrival + lag, tw));
                }
            }
        }
        // The detector's sweep over the union of the route sets.
        let mut seen: Vec<u32> = u.reference[c]
            .iter()
            .take(config.reference_reads)
            .copied()
            .collect();
        for &(p, _) in &block {
            for &q in &u.route[p as usize] {
                if !seen.contains(&q) {
                    seen.push(q);
                }
            }
        }
        seen.shuffle(&mut rng);
        for q in seen {
            t += config.read_gap_us.max(1);
            push(&mut events, t, Op::Read, q);
            reads += 1;
        }
    }
    events.sort_unstable_by_key(|e| (e.0, e.1));
    let mut builder = TraceBuilder::new();
    for (t, _, op, p) in events {
        let info = &u.info[p as usize];
        builder
            .push(t, op, &info.chain, info.pair)
            .map(|_| ())
            .map_err(|e| MarketError {
                field: "chains",
                value: e.to_string(),
                expected: "a valid trace",
            })?;
    }
    Ok((builder.finish(), u.info))
}
