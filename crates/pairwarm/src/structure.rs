//! Pool structure: the pools an arbitrage detector compares an updated pool with — the same
//! token pair on the chain's other DEXes (cross-DEX spreads), the same token pair on other
//! chains (cross-chain moves) and the triangle legs through the chain's hub tokens — so the
//! warmer can fetch them the moment a pool moves.
//!
//! No learning: the candidates follow from each pool's two tokens, known from the first
//! update that names them (the feed's `token0`/`token1`, or a pairs file). That is what a
//! learned predictor lacks on a cold or shifting workload, and on workloads where the
//! detector reads a pool's route set a little after its update it is the warming that pays
//! (`docs/simulation.md`: up to +17 points over no warming, never more than 0.03 below it
//! on 18 workloads under the default L1 policy).
//!
//! Hubs are the two tokens in the most pools of a chain (WETH, USDC, ... on real chains); a
//! leg of `A/B` through hub `H` is the first pool seen for `A/H` (and `B/H`) on that chain.
//!
//! Bounded: at most `max_pools` pools are described (further new pools are ignored), token
//! names are interned while a described pool uses them (so at most two per pool, whatever
//! the feed sends over time), and each token pair lists at most [`MAX_LISTED`] pools. Writes (a pool seen for the first time, or with other tokens) take
//! a lock; a pool already described with the same tokens costs one read-locked lookup.
//!
//! ```
//! use pairwarm::pair::{Address, PairInterner, PairKey};
//! use pairwarm::structure::PoolStructure;
//!
//! let interner = PairInterner::new(1024);
//! let eth = interner.chain_id("ethereum").unwrap();
//! let pool = |n: u8| {
//!     let mut a = [0u8; 20];
//!     a[0] = n;
//!     interner.intern(PairKey { chain: eth, address: Address::from_bytes(a) })
//! };
//! let (uni, sushi, other) = (pool(1), pool(2), pool(3));
//! let s = PoolStructure::new(1024);
//! s.observe(uni, eth, "USDC", "WETH");
//! s.observe(sushi, eth, "WETH", "USDC"); // the same pair, tokens in the other order
//! s.observe(other, eth, "DAI", "WETH");
//! let mut out = Vec::new();
//! s.neighbours_into(uni, &mut out);
//! assert_eq!(out, vec![sushi]); // no DAI/USDC pool: no triangle leg yet
//! ```

use std::collections::HashMap;

use parking_lot::RwLock;

use crate::pair::{ChainId, PairId, fixed_hasher};

/// Hubs per chain used for triangle legs.
pub const HUBS: usize = 2;
/// Most neighbours returned per pool (same-chain siblings first, then other chains, then
/// legs).
pub const MAX_NEIGHBOURS: usize = 16;
/// Most pools listed per token pair (per chain, and across chains).
pub const MAX_LISTED: usize = 64;

type Map<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

fn map<K, V>() -> Map<K, V> {
    Map::with_hasher(fixed_hasher())
}

/// A token, interned.
type Token = u32;

#[derive(Clone, Copy, PartialEq, Eq)]
struct Pool {
    chain: ChainId,
    token0: Token,
    token1: Token,
}

impl Pool {
    /// The token pair, ordered by name (so `A/B` and `B/A` are one pair).
    fn key(&self, names: &[Box<str>]) -> (Token, Token) {
        let (a, b) = (self.token0, self.token1);
        if names[a as usize] <= names[b as usize] {
            (a, b)
        } else {
            (b, a)
        }
    }
}

struct Index {
    pools: Map<PairId, Pool>,
    token_ids: Map<Box<str>, Token>,
    names: Vec<Box<str>>,
    /// Described pools using each token; a token no pool uses is freed for reuse.
    refs: Vec<u32>,
    free: Vec<Token>,
    same_chain: Map<(ChainId, Token, Token), Vec<PairId>>,
    any_chain: Map<(Token, Token), Vec<PairId>>,
    /// Pools per (chain, token).
    token_pools: Map<(ChainId, Token), u32>,
    /// The chain's hubs, most pools first (ties: name order).
    hubs: Map<ChainId, Vec<Token>>,
}

/// Which pools are structurally related to which (see the module docs). Cheap to share:
/// one per service, behind an `Arc`.
pub struct PoolStructure {
    index: RwLock<Index>,
    max_pools: usize,
}

impl PoolStructure {
    /// An empty structure that describes at most `max_pools` pools.
    pub fn new(max_pools: usize) -> Self {
        Self {
            index: RwLock::new(Index {
                pools: map(),
                token_ids: map(),
                names: Vec::new(),
                refs: Vec::new(),
                free: Vec::new(),
                same_chain: map(),
                any_chain: map(),
                token_pools: map(),
                hubs: map(),
            }),
            max_pools,
        }
    }

    /// Pools described.
    pub fn len(&self) -> usize {
        self.index.read().pools.len()
    }

    /// True if no pool is described.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records that `pair` (on `chain`) trades `token0` against `token1` (names or
    /// addresses, compared exactly; empty names are ignored). A pool already described
    /// with the same tokens changes nothing; one whose id now names another pool (the
    /// interner recycled it) is described anew. Returns whether anything changed.
    pub fn observe(&self, pair: PairId, chain: ChainId, token0: &str, token1: &str) -> bool {
        if token0.is_empty() || token1.is_empty() || token0 == token1 {
            return false;
        }
        {
            let index = self.index.read();
            if let Some(p) = index.pools.get(&pair)
                && p.chain == chain
                && index.names[p.token0 as usize].as_ref() == token0
                && index.names[p.token1 as usize].as_ref() == token1
            {
                return false;
            }
            if !index.pools.contains_key(&pair) && index.pools.len() >= self.max_pools {
                return false;
            }
        }
        let mut index = self.index.write();
        if let Some(old) = index.pools.remove(&pair) {
            index.forget(pair, old);
        }
        if index.pools.len() >= self.max_pools {
            return false;
        }
        let (Some(t0), Some(t1)) = (
            index.token(token0, 2 * self.max_pools),
            index.token(token1, 2 * self.max_pools),
        ) else {
            return false;
        };
        let pool = Pool {
            chain,
            token0: t0,
            token1: t1,
        };
        index.add(pair, pool);
        true
    }

    /// The pools `pair` is compared with, most direct first, at most [`MAX_NEIGHBOURS`],
    /// into `out` (cleared first; no allocation once it has grown).
    pub fn neighbours_into(&self, pair: PairId, out: &mut Vec<PairId>) {
        out.clear();
        let index = self.index.read();
        let Some(&me) = index.pools.get(&pair) else {
            return;
        };
        let key = me.key(&index.names);
        let add = |q: PairId, out: &mut Vec<PairId>| {
            if q != pair && !out.contains(&q) && out.len() < MAX_NEIGHBOURS {
                out.push(q);
            }
        };
        for &q in index
            .same_chain
            .get(&(me.chain, key.0, key.1))
            .into_iter()
            .flatten()
        {
            add(q, out);
        }
        for &q in index.any_chain.get(&key).into_iter().flatten() {
            add(q, out);
        }
        for &hub in index.hubs.get(&me.chain).into_iter().flatten() {
            for t in [me.token0, me.token1] {
                if t == hub {
                    continue;
                }
                let leg = index.ordered(t, hub);
                if let Some(&q) = index
                    .same_chain
                    .get(&(me.chain, leg.0, leg.1))
                    .and_then(|v| v.first())
                {
                    add(q, out);
                }
            }
        }
    }

    /// Memory held, roughly (bytes), for the stats.
    pub fn memory_bytes(&self) -> usize {
        let index = self.index.read();
        let lists: usize = index
            .same_chain
            .values()
            .chain(index.any_chain.values())
            .map(|v| v.capacity() * 4 + 48)
            .sum();
        let names: usize = index.names.iter().map(|n| n.len() + 40).sum();
        index.pools.capacity() * 24 + index.token_pools.capacity() * 16 + lists + names * 2
    }
}

impl Index {
    /// The interned id of `name`; `None` once `max` tokens are in use (never while at most
    /// `max / 2` pools are described: each uses two).
    fn token(&mut self, name: &str, max: usize) -> Option<Token> {
        if let Some(&t) = self.token_ids.get(name) {
            return Some(t);
        }
        let t = match self.free.pop() {
            Some(t) => {
                self.names[t as usize] = name.into();
                t
            }
            None => {
                if self.names.len() >= max {
                    return None;
                }
                let t = Token::try_from(self.names.len()).ok()?;
                self.names.push(name.into());
                self.refs.push(0);
                t
            }
        };
        self.token_ids.insert(name.into(), t);
        Some(t)
    }

    fn ordered(&self, a: Token, b: Token) -> (Token, Token) {
        if self.names[a as usize] <= self.names[b as usize] {
            (a, b)
        } else {
            (b, a)
        }
    }

    fn add(&mut self, pair: PairId, pool: Pool) {
        let key = pool.key(&self.names);
        let listed = |v: &mut Vec<PairId>| {
            if v.len() < MAX_LISTED {
                v.push(pair);
            }
        };
        listed(
            self.same_chain
                .entry((pool.chain, key.0, key.1))
                .or_default(),
        );
        listed(self.any_chain.entry(key).or_default());
        for t in [pool.token0, pool.token1] {
            self.refs[t as usize] += 1;
            let count = {
                let c = self.token_pools.entry((pool.chain, t)).or_default();
                *c += 1;
                *c
            };
            self.rank_hub(pool.chain, t, count);
        }
        self.pools.insert(pair, pool);
    }

    /// Keeps the chain's hubs the top [`HUBS`] tokens by pool count (ties: name order)
    /// after `t`'s count rose to `count`: counts only rise as pools are added, so the new
    /// top is among the old hubs and `t`.
    fn rank_hub(&mut self, chain: ChainId, t: Token, count: u32) {
        let names = &self.names;
        let counts = &self.token_pools;
        let hubs = self.hubs.entry(chain).or_default();
        if !hubs.contains(&t) {
            hubs.push(t);
        }
        let rank = |x: &Token| {
            let n = if *x == t {
                count
            } else {
                counts.get(&(chain, *x)).copied().unwrap_or(0)
            };
            (std::cmp::Reverse(n), names[*x as usize].clone())
        };
        hubs.sort_by_cached_key(rank);
        hubs.truncate(HUBS);
    }

    /// Removes a pool whose id is being described anew. Its token counts fall, but hubs
    /// are only re-ranked as counts rise (a recycled id is rare; the next rise fixes it);
    /// a token no pool uses any more is freed (and leaves the hubs).
    fn forget(&mut self, pair: PairId, pool: Pool) {
        let key = pool.key(&self.names);
        let same = (pool.chain, key.0, key.1);
        if let Some(list) = self.same_chain.get_mut(&same) {
            list.retain(|&q| q != pair);
            if list.is_empty() {
                self.same_chain.remove(&same);
            }
        }
        if let Some(list) = self.any_chain.get_mut(&key) {
            list.retain(|&q| q != pair);
            if list.is_empty() {
                self.any_chain.remove(&key);
            }
        }
        for t in [pool.token0, pool.token1] {
            if let Some(c) = self.token_pools.get_mut(&(pool.chain, t)) {
                *c = c.saturating_sub(1);
                if *c == 0 {
                    self.token_pools.remove(&(pool.chain, t));
                    if let Some(hubs) = self.hubs.get_mut(&pool.chain) {
                        hubs.retain(|&h| h != t);
                    }
                }
            }
            let refs = &mut self.refs[t as usize];
            *refs = refs.saturating_sub(1);
            if *refs == 0 {
                let name = std::mem::take(&mut self.names[t as usize]);
                self.token_ids.remove(&name);
                self.free.push(t);
                for hubs in self.hubs.values_mut() {
                    hubs.retain(|&h| h != t);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pair::{Address, PairInterner, PairKey};

    fn pool(interner: &PairInterner, chain: &str, n: u8) -> (PairId, ChainId) {
        let chain = interner.chain_id(chain).expect("valid chain");
        let mut a = [0u8; 20];
        a[0] = n;
        let id = interner.intern(PairKey {
            chain,
            address: Address::from_bytes(a),
        });
        (id, chain)
    }

    /// Siblings on the chain first, then the same pair elsewhere, then the legs through
    /// the chain's two biggest tokens.
    #[test]
    fn neighbours_are_siblings_then_other_chains_then_hub_legs() {
        let interner = PairInterner::new(1024);
        let s = PoolStructure::new(100);
        let eth = |n: u8, t0: &str, t1: &str| {
            let (id, chain) = pool(&interner, "ethereum", n);
            assert!(s.observe(id, chain, t0, t1));
            id
        };
        let a = eth(1, "PEPE", "LINK");
        let b = eth(2, "LINK", "PEPE");
        let c = eth(3, "PEPE", "WETH");
        let d = eth(4, "LINK", "USDC");
        eth(5, "USDC", "WETH");
        eth(6, "DAI", "WETH");
        eth(7, "DAI", "USDC");
        eth(8, "WETH", "UNI");
        eth(9, "USDC", "UNI");
        // Hubs: USDC and WETH (4 pools each; LINK and PEPE 3).
        let (x, arb) = pool(&interner, "arbitrum", 1);
        assert!(s.observe(x, arb, "LINK", "PEPE"));
        let eth_id = interner.chain_id("ethereum").unwrap();
        assert!(!s.observe(a, eth_id, "PEPE", "LINK"), "unchanged");
        let mut out = Vec::new();
        s.neighbours_into(a, &mut out);
        // Sibling b; x on arbitrum; legs through USDC (LINK/USDC: d) and WETH (PEPE/WETH: c).
        assert_eq!(out, vec![b, x, d, c]);
        let (undescribed, _) = pool(&interner, "ethereum", 99);
        s.neighbours_into(undescribed, &mut out);
        assert!(out.is_empty(), "an undescribed pool has no neighbours");
        assert_eq!(s.len(), 10);
    }

    #[test]
    fn bounded_and_recycled_ids_are_described_anew() {
        let interner = PairInterner::new(1024);
        let p: Vec<(PairId, ChainId)> = (0..5).map(|n| pool(&interner, "ethereum", n)).collect();
        let eth = p[0].1;
        let s = PoolStructure::new(3);
        assert!(s.observe(p[0].0, eth, "A", "B"));
        assert!(s.observe(p[1].0, eth, "A", "B"));
        assert!(s.observe(p[2].0, eth, "C", "D"));
        assert!(
            !s.observe(p[3].0, eth, "A", "B"),
            "full: a new pool is ignored"
        );
        assert!(!s.observe(p[4].0, eth, "", "B"), "no token name");
        assert_eq!(s.len(), 3);
        // p1's id now names a C/D pool.
        assert!(s.observe(p[1].0, eth, "D", "C"));
        let mut out = Vec::new();
        s.neighbours_into(p[0].0, &mut out);
        assert!(out.is_empty(), "{out:?}");
        s.neighbours_into(p[2].0, &mut out);
        assert_eq!(out, vec![p[1].0]);
    }

    /// Token names are held only while a pool uses them: a feed that keeps re-describing
    /// pools with new names never fills the table, and nothing stops being describable.
    #[test]
    fn token_names_are_freed_with_the_last_pool_that_uses_them() {
        let interner = PairInterner::new(1024);
        let (a, eth) = pool(&interner, "ethereum", 1);
        let (b, _) = pool(&interner, "ethereum", 2);
        let s = PoolStructure::new(2);
        for i in 0..1_000 {
            let (t0, t1) = (format!("T{i}"), format!("U{i}"));
            assert!(s.observe(a, eth, &t0, &t1), "round {i}");
            assert!(s.observe(b, eth, &t1, &t0), "round {i}");
            let mut out = Vec::new();
            s.neighbours_into(a, &mut out);
            assert_eq!(out, vec![b], "round {i}");
        }
        let index = s.index.read();
        assert!(index.names.len() <= 4, "{} names held", index.names.len());
        assert_eq!(index.token_ids.len(), 2);
        assert!(index.same_chain.len() <= 1 && index.any_chain.len() <= 1);
        assert!(index.token_pools.len() <= 2);
    }
}
