//! The reference arbitrage detector: small, but the real read pattern warming serves.
//!
//! On each update of pool P (token0/token1 on DEX d), the detector reads through the cache
//! the other pools of the same token pair on the same chain (cross-DEX check) and, with hub
//! tokens configured, the triangle legs through each hub (A/H and B/H). It computes the
//! best spread net of per-DEX fees and reports opportunities above a threshold. Its reads
//! are what the service's cache hit/miss metrics count.
//!
//! Pool metadata comes from the stream entries and is kept in a [`PoolRegistry`] bounded
//! like everything else: one slot per interner slot, and a token-pair index with a fixed
//! number of keys and of pools per key.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};

use parking_lot::RwLock;
use serde::Serialize;

use crate::cache::{CacheError, HierarchicalCache, L2Store, Lookup, Price};
use crate::pair::{ChainId, PairId, PairInterner};

/// Configuration-independent hasher with a fixed seed, so token ids and index shards are
/// the same on every run.
fn fixed_hasher() -> foldhash::fast::FixedState {
    foldhash::fast::FixedState::with_seed(0x7061_6972_7761_726d) // "pairwarm"
}

/// A token, hashed (names or addresses from stream entries; collisions are negligible).
pub type TokenId = u64;

/// Hashes a token name or address (already lowercased by the entry parser).
pub fn token_id(token: &str) -> TokenId {
    fixed_hasher().hash_one(token) | 1
}

const NO_TOKEN: u64 = 0;
const MAX_POOLS_PER_TOKEN_PAIR: usize = 16;
const INDEX_SHARDS: usize = 16;

/// What the detector knows about a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolMeta {
    /// DEX index (see [`PoolRegistry::dex_name`]).
    pub dex: u16,
    /// token0.
    pub token0: TokenId,
    /// token1.
    pub token1: TokenId,
}

struct Slot {
    id: AtomicU32,
    dex: AtomicU16,
    token0: AtomicU64,
    token1: AtomicU64,
}

type IndexKey = (u16, TokenId, TokenId);
/// One shard of the pools-by-token-pair index.
type IndexShard = HashMap<IndexKey, Vec<PairId>, foldhash::fast::FixedState>;

/// Pool metadata by pair id, and pools by (chain, unordered token pair). Bounded.
pub struct PoolRegistry {
    interner: Arc<PairInterner>,
    slots: Box<[Slot]>,
    index: Box<[RwLock<IndexShard>]>,
    keys_per_shard: usize,
    dexes: RwLock<Vec<String>>,
}

fn ordered(a: TokenId, b: TokenId) -> (TokenId, TokenId) {
    if a <= b { (a, b) } else { (b, a) }
}

impl PoolRegistry {
    /// A registry for pairs of `interner` (one metadata slot per interner slot).
    pub fn new(interner: Arc<PairInterner>) -> Self {
        let capacity = interner.capacity();
        let slots = (0..capacity)
            .map(|_| Slot {
                id: AtomicU32::new(u32::MAX),
                dex: AtomicU16::new(0),
                token0: AtomicU64::new(NO_TOKEN),
                token1: AtomicU64::new(NO_TOKEN),
            })
            .collect();
        Self {
            interner,
            slots,
            index: (0..INDEX_SHARDS)
                .map(|_| RwLock::new(HashMap::with_hasher(fixed_hasher())))
                .collect(),
            keys_per_shard: (capacity / INDEX_SHARDS).max(16),
            dexes: RwLock::new(Vec::new()),
        }
    }

    fn slot(&self, id: PairId) -> Option<&Slot> {
        self.slots.get(self.interner.slot(id))
    }

    /// Index of a DEX name (at most 1024 distinct DEXes; later ones share the last index).
    pub fn dex_index(&self, name: &str) -> u16 {
        if let Some(i) = self.dexes.read().iter().position(|d| d == name) {
            return i as u16;
        }
        let mut dexes = self.dexes.write();
        if let Some(i) = dexes.iter().position(|d| d == name) {
            return i as u16;
        }
        if dexes.len() < 1024 {
            dexes.push(name.to_owned());
        }
        (dexes.len() - 1) as u16
    }

    /// Name of a DEX index.
    pub fn dex_name(&self, index: u16) -> Option<String> {
        self.dexes.read().get(index as usize).cloned()
    }

    /// Runs `f` on the name of a DEX index without copying it.
    pub fn with_dex_name<R>(&self, index: u16, f: impl FnOnce(&str) -> R) -> Option<R> {
        self.dexes.read().get(index as usize).map(|d| f(d))
    }

    /// Records (or refreshes) a pool's metadata. Cheap when nothing changed.
    pub fn observe(&self, id: PairId, chain: ChainId, dex: &str, token0: &str, token1: &str) {
        let Some(slot) = self.slot(id) else {
            return;
        };
        let (t0, t1) = (token_id(token0), token_id(token1));
        if slot.id.load(Ordering::Relaxed) == id.raw()
            && slot.token0.load(Ordering::Relaxed) == t0
            && slot.token1.load(Ordering::Relaxed) == t1
        {
            return;
        }
        let dex = self.dex_index(dex);
        slot.dex.store(dex, Ordering::Relaxed);
        slot.token0.store(t0, Ordering::Relaxed);
        slot.token1.store(t1, Ordering::Relaxed);
        slot.id.store(id.raw(), Ordering::Release);
        let (a, b) = ordered(t0, t1);
        let key = (chain.index() as u16, a, b);
        let shard = &self.index[(fixed_hasher().hash_one(key) as usize) % INDEX_SHARDS];
        let mut map = shard.write();
        if !map.contains_key(&key) && map.len() >= self.keys_per_shard {
            // Full: drop an entry whose pools are all gone, else any entry.
            let victim = map
                .iter()
                .find(|(_, pools)| pools.iter().all(|&p| self.interner.resolve(p).is_none()))
                .or_else(|| map.iter().next())
                .map(|(k, _)| *k);
            if let Some(victim) = victim {
                map.remove(&victim);
            }
        }
        let pools = map.entry(key).or_default();
        pools.retain(|&p| p != id && self.meta(p).is_some());
        if pools.len() >= MAX_POOLS_PER_TOKEN_PAIR {
            pools.remove(0);
        }
        pools.push(id);
    }

    /// Metadata of a pool, if known and its id is still current.
    pub fn meta(&self, id: PairId) -> Option<PoolMeta> {
        let slot = self.slot(id)?;
        if slot.id.load(Ordering::Acquire) != id.raw() {
            return None;
        }
        Some(PoolMeta {
            dex: slot.dex.load(Ordering::Relaxed),
            token0: slot.token0.load(Ordering::Relaxed),
            token1: slot.token1.load(Ordering::Relaxed),
        })
    }

    /// Known pools of the unordered token pair `{a, b}` on `chain`.
    pub fn pools(&self, chain: ChainId, a: TokenId, b: TokenId, out: &mut Vec<PairId>) {
        let (a, b) = ordered(a, b);
        let key = (chain.index() as u16, a, b);
        let shard = &self.index[(fixed_hasher().hash_one(key) as usize) % INDEX_SHARDS];
        if let Some(pools) = shard.read().get(&key) {
            out.extend(pools.iter().copied().filter(|&p| self.meta(p).is_some()));
        }
    }
}

/// Detector settings.
#[derive(Clone, Debug)]
pub struct DetectorConfig {
    /// Fee per swap, basis points, for DEXes not in `dex_fees_bps` (default 30 = 0.3%).
    pub default_fee_bps: f64,
    /// Fee per DEX name, basis points.
    pub dex_fees_bps: HashMap<String, f64>,
    /// Report opportunities whose net spread is at least this (default 10 bps).
    pub min_spread_bps: f64,
    /// Hub tokens for triangle checks (names or addresses, lowercased).
    pub hub_tokens: Vec<String>,
    /// Reads per update at most (siblings first, then legs).
    pub max_reads: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            default_fee_bps: 30.0,
            dex_fees_bps: HashMap::new(),
            min_spread_bps: 10.0,
            hub_tokens: Vec::new(),
            max_reads: 8,
        }
    }
}

/// Kind of opportunity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpportunityKind {
    /// Same token pair, two DEXes.
    CrossDex,
    /// A -> B directly against A -> H -> B.
    Triangle,
}

impl OpportunityKind {
    /// The name published in the opportunities stream.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CrossDex => "cross_dex",
            Self::Triangle => "triangle",
        }
    }
}

/// A spread above the threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Opportunity {
    /// Kind.
    pub kind: OpportunityKind,
    /// The updated pool that triggered the check.
    pub pool: PairId,
    /// Pool to buy token0 on (cheapest), or the direct leg for a triangle.
    pub buy: PairId,
    /// Pool to sell token0 on (dearest), or the first hub leg for a triangle.
    pub sell: PairId,
    /// Net spread after fees, basis points.
    pub spread_bps: f64,
}

/// What to read for one update.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadPlan {
    /// Other pools of the same token pair.
    pub siblings: Vec<PairId>,
    /// Triangle legs `(A/H pool, B/H pool)` per hub.
    pub legs: Vec<(PairId, PairId)>,
}

impl ReadPlan {
    /// All pools to read, in order (siblings, then legs).
    pub fn pools(&self) -> Vec<PairId> {
        let mut out = self.siblings.clone();
        for &(a, b) in &self.legs {
            out.push(a);
            out.push(b);
        }
        out
    }
}

/// The detector (see the module docs).
pub struct Detector {
    registry: Arc<PoolRegistry>,
    config: DetectorConfig,
    hubs: Vec<TokenId>,
}

impl Detector {
    /// A detector over a registry.
    pub fn new(registry: Arc<PoolRegistry>, config: DetectorConfig) -> Self {
        let hubs = config
            .hub_tokens
            .iter()
            .map(|h| token_id(&h.to_ascii_lowercase()))
            .collect();
        Self {
            registry,
            config,
            hubs,
        }
    }

    /// The registry.
    pub fn registry(&self) -> &Arc<PoolRegistry> {
        &self.registry
    }

    /// Pools to read after an update of `pool` on `chain`.
    pub fn plan(&self, pool: PairId, chain: ChainId) -> ReadPlan {
        let mut plan = ReadPlan::default();
        let Some(meta) = self.registry.meta(pool) else {
            return plan;
        };
        let max = self.config.max_reads;
        self.registry
            .pools(chain, meta.token0, meta.token1, &mut plan.siblings);
        plan.siblings.retain(|&p| p != pool);
        plan.siblings.truncate(max);
        let mut budget = max.saturating_sub(plan.siblings.len());
        let mut scratch = Vec::new();
        for &hub in &self.hubs {
            if budget < 2 || hub == meta.token0 || hub == meta.token1 {
                continue;
            }
            scratch.clear();
            self.registry.pools(chain, meta.token0, hub, &mut scratch);
            let Some(&a) = scratch.first() else { continue };
            scratch.clear();
            self.registry.pools(chain, meta.token1, hub, &mut scratch);
            let Some(&b) = scratch.first() else { continue };
            plan.legs.push((a, b));
            budget -= 2;
        }
        plan
    }

    fn fee_bps(&self, pool: PairId) -> f64 {
        if self.config.dex_fees_bps.is_empty() {
            return self.config.default_fee_bps;
        }
        self.registry
            .meta(pool)
            .and_then(|m| {
                self.registry
                    .with_dex_name(m.dex, |d| self.config.dex_fees_bps.get(d).copied())
            })
            .flatten()
            .unwrap_or(self.config.default_fee_bps)
    }

    /// Price of one `from` in `to` on `pool`, if the pool trades that pair.
    fn rate(&self, pool: PairId, price: f64, from: TokenId, to: TokenId) -> Option<f64> {
        let meta = self.registry.meta(pool)?;
        if price <= 0.0 || !price.is_finite() {
            return None;
        }
        if meta.token0 == from && meta.token1 == to {
            Some(price)
        } else if meta.token1 == from && meta.token0 == to {
            Some(1.0 / price)
        } else {
            None
        }
    }

    /// Evaluates spreads from the updated pool's price and the plan's read results
    /// (`prices[i]` belongs to `plan.pools()[i]`).
    pub fn evaluate(
        &self,
        pool: PairId,
        price: f64,
        plan: &ReadPlan,
        prices: &[Option<Price>],
    ) -> Vec<Opportunity> {
        let mut out = Vec::new();
        let Some(meta) = self.registry.meta(pool) else {
            return out;
        };
        let (a, b) = (meta.token0, meta.token1);
        let Some(own) = self.rate(pool, price, a, b) else {
            return out;
        };
        // Cross-DEX: buy A where A->B is cheapest, sell where dearest.
        let mut lo = (own, pool);
        let mut hi = (own, pool);
        for (i, &sibling) in plan.siblings.iter().enumerate() {
            let Some(Some(p)) = prices.get(i) else {
                continue;
            };
            if let Some(r) = self.rate(sibling, p.price, a, b) {
                if r < lo.0 {
                    lo = (r, sibling);
                }
                if r > hi.0 {
                    hi = (r, sibling);
                }
            }
        }
        if lo.1 != hi.1 {
            let spread = (hi.0 / lo.0 - 1.0) * 1e4 - self.fee_bps(lo.1) - self.fee_bps(hi.1);
            if spread >= self.config.min_spread_bps {
                out.push(Opportunity {
                    kind: OpportunityKind::CrossDex,
                    pool,
                    buy: lo.1,
                    sell: hi.1,
                    spread_bps: spread,
                });
            }
        }
        // Triangles: A->B directly against A->H->B.
        let offset = plan.siblings.len();
        for (j, &(leg_a, leg_b)) in plan.legs.iter().enumerate() {
            let (Some(Some(pa)), Some(Some(pb))) =
                (prices.get(offset + 2 * j), prices.get(offset + 2 * j + 1))
            else {
                continue;
            };
            let Some(hub_meta) = self.registry.meta(leg_a) else {
                continue;
            };
            let hub = if hub_meta.token0 == a {
                hub_meta.token1
            } else {
                hub_meta.token0
            };
            let (Some(a_h), Some(h_b)) = (
                self.rate(leg_a, pa.price, a, hub),
                self.rate(leg_b, pb.price, hub, b),
            ) else {
                continue;
            };
            let implied = a_h * h_b;
            let (hi, lo) = if implied > own {
                (implied, own)
            } else {
                (own, implied)
            };
            let spread = (hi / lo - 1.0) * 1e4
                - self.fee_bps(pool)
                - self.fee_bps(leg_a)
                - self.fee_bps(leg_b);
            if spread >= self.config.min_spread_bps {
                out.push(Opportunity {
                    kind: OpportunityKind::Triangle,
                    pool,
                    buy: pool,
                    sell: leg_a,
                    spread_bps: spread,
                });
            }
        }
        out
    }

    /// Plans, reads through the cache (one L2 round trip for all L1 misses) and evaluates.
    pub async fn check<L: L2Store>(
        &self,
        cache: &HierarchicalCache<L>,
        pool: PairId,
        chain: ChainId,
        price: f64,
    ) -> Result<Vec<Opportunity>, CacheError> {
        let plan = self.plan(pool, chain);
        let pools = plan.pools();
        if pools.is_empty() {
            return Ok(Vec::new());
        }
        let looked: Vec<Lookup> = cache.get_many(&pools).await?;
        let prices: Vec<Option<Price>> = looked.into_iter().map(|l| l.ok().flatten()).collect();
        Ok(self.evaluate(pool, price, &plan, &prices))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::HierarchicalCache;

    fn setup() -> (
        HierarchicalCache<crate::cache::MemoryL2>,
        Detector,
        Vec<PairId>,
        ChainId,
    ) {
        let cache = HierarchicalCache::builder()
            .l1_entries(64)
            .build_in_memory();
        let registry = Arc::new(PoolRegistry::new(cache.interner().clone()));
        let detector = Detector::new(
            registry.clone(),
            DetectorConfig {
                hub_tokens: vec!["weth".into()],
                min_spread_bps: 10.0,
                ..DetectorConfig::default()
            },
        );
        let chain = cache.interner().chain_id("ethereum").unwrap();
        let pools: Vec<PairId> = [
            ("uniswap", "usdc", "dai"),
            ("sushiswap", "dai", "usdc"),
            ("curve", "usdc", "dai"),
            ("uniswap", "usdc", "weth"),
            ("uniswap", "dai", "weth"),
        ]
        .iter()
        .enumerate()
        .map(|(n, (dex, t0, t1))| {
            let id = cache
                .interner()
                .intern_str("ethereum", &format!("0x{:040x}", n + 1))
                .unwrap();
            registry.observe(id, chain, dex, t0, t1);
            id
        })
        .collect();
        (cache, detector, pools, chain)
    }

    #[test]
    fn plans_siblings_and_triangle_legs() {
        let (_cache, detector, pools, chain) = setup();
        let plan = detector.plan(pools[0], chain);
        assert_eq!(plan.siblings, vec![pools[1], pools[2]]);
        assert_eq!(plan.legs, vec![(pools[3], pools[4])]);
        assert_eq!(plan.pools().len(), 4);
    }

    #[tokio::test]
    async fn finds_cross_dex_spread_net_of_fees() {
        let (cache, detector, pools, chain) = setup();
        // usdc->dai 1.00 on uniswap; sushiswap quotes dai/usdc at 1/1.02 (usdc->dai 1.02).
        cache
            .set(pools[1], Price::new(1.0 / 1.02, 1, 1))
            .await
            .unwrap();
        cache.set(pools[2], Price::new(1.001, 1, 1)).await.unwrap();
        let found = detector.check(&cache, pools[0], chain, 1.0).await.unwrap();
        assert_eq!(found.len(), 1);
        let o = &found[0];
        assert_eq!(
            (o.kind, o.buy, o.sell),
            (OpportunityKind::CrossDex, pools[0], pools[1])
        );
        // 200 bps gross, minus 2 x 30 bps fees.
        assert!((o.spread_bps - 140.0).abs() < 1e-6, "{}", o.spread_bps);
        // The reads went through the cache (4 pools: 2 siblings + 2 legs; legs absent).
        assert_eq!(cache.stats().l1.hits + cache.stats().l1.misses, 4);
    }

    #[tokio::test]
    async fn triangle_and_no_false_positive_below_fees() {
        let (cache, detector, pools, chain) = setup();
        cache.set(pools[1], Price::new(1.0, 1, 1)).await.unwrap();
        cache.set(pools[2], Price::new(1.001, 1, 1)).await.unwrap();
        // usdc->weth 0.0005, dai->weth 0.00049 => usdc->dai via weth = 0.0005/0.00049 = 1.0204
        cache.set(pools[3], Price::new(0.0005, 1, 1)).await.unwrap();
        cache
            .set(pools[4], Price::new(0.00049, 1, 1))
            .await
            .unwrap();
        let found = detector.check(&cache, pools[0], chain, 1.0).await.unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, OpportunityKind::Triangle);
        assert!(
            (found[0].spread_bps - (204.0816 - 90.0)).abs() < 0.01,
            "{}",
            found[0].spread_bps
        );
    }

    #[test]
    fn registry_is_bounded() {
        let interner = Arc::new(PairInterner::new(256));
        let registry = PoolRegistry::new(interner.clone());
        let chain = interner.chain_id("bsc").unwrap();
        for n in 0..50_000u32 {
            let id = interner.intern_str("bsc", &format!("0x{n:040x}")).unwrap();
            registry.observe(id, chain, "pancake", &format!("t{n}"), "wbnb");
        }
        let keys: usize = registry.index.iter().map(|s| s.read().len()).sum();
        assert!(keys <= INDEX_SHARDS * registry.keys_per_shard, "{keys}");
        assert!(registry.dexes.read().len() == 1);
    }
}
