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

mod registry;

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use pairwarm::cache::{CacheError, HierarchicalCache, L2Store, Lookup, Price};
use pairwarm::pair::{ChainId, PairId};

pub use registry::{MAX_DEXES, PoolMeta, PoolRegistry, TokenId, UNKNOWN_DEX, token_id};

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
    /// Price of the buy pool, in the original's convention (reserve0 / reserve1).
    pub buy_price: f64,
    /// Price of the sell pool, in the original's convention.
    pub sell_price: f64,
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
    ///
    /// `price` is in the original's convention, `reserve0 / reserve1`: the amount of
    /// token0 one token1 is worth. So one token0 is worth `1 / price` token1.
    fn rate(&self, pool: PairId, price: f64, from: TokenId, to: TokenId) -> Option<f64> {
        let meta = self.registry.meta(pool)?;
        if price <= 0.0 || !price.is_finite() {
            return None;
        }
        if meta.token0 == from && meta.token1 == to {
            Some(1.0 / price)
        } else if meta.token1 == from && meta.token0 == to {
            Some(price)
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
        // Cross-DEX: buy A where A->B is cheapest, sell where dearest. The pool prices
        // (original's convention) ride along for the published opportunity.
        let mut lo = (own, pool, price);
        let mut hi = (own, pool, price);
        for (i, &sibling) in plan.siblings.iter().enumerate() {
            let Some(Some(p)) = prices.get(i) else {
                continue;
            };
            if let Some(r) = self.rate(sibling, p.price, a, b) {
                if r < lo.0 {
                    lo = (r, sibling, p.price);
                }
                if r > hi.0 {
                    hi = (r, sibling, p.price);
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
                    buy_price: lo.2,
                    sell_price: hi.2,
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
                    buy_price: price,
                    sell_price: pa.price,
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
mod tests;
