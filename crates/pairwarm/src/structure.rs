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
//! leg of `A/B` through hub `H` is the first live pool seen for `A/H` (and `B/H`) on that
//! chain.
//!
//! Bounded whatever the feed sends: one description per interner slot (a recycled slot's
//! new pool replaces the old one, and ids the interner no longer knows are never returned),
//! tokens kept as 64-bit hashes of their lowercased names (`USDC` and `usdc`, a checksummed
//! and a lowercase address, are one token; a name's length costs nothing), and at most
//! [`MAX_LISTED`] pools per token pair. A pool already described with the same tokens (in
//! either order) costs one read-locked lookup; only a change takes the write lock.
//!
//! ```
//! use std::sync::Arc;
//! use pairwarm::pair::{Address, PairInterner, PairKey};
//! use pairwarm::structure::PoolStructure;
//!
//! let interner = Arc::new(PairInterner::new(1024));
//! let eth = interner.chain_id("ethereum").unwrap();
//! let pool = |n: u8| {
//!     let mut a = [0u8; 20];
//!     a[0] = n;
//!     interner.intern(PairKey { chain: eth, address: Address::from_bytes(a) })
//! };
//! let (uni, sushi, other) = (pool(1), pool(2), pool(3));
//! let s = PoolStructure::for_interner(interner.clone());
//! s.observe(uni, eth, "USDC", "WETH");
//! s.observe(sushi, eth, "weth", "usdc"); // the same pair: order and case do not matter
//! s.observe(other, eth, "DAI", "WETH");
//! let mut out = Vec::new();
//! s.neighbours_into(uni, &mut out);
//! assert_eq!(out, vec![sushi]); // no DAI/USDC pool: no triangle leg yet
//! ```

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::pair::{ChainId, PairId, PairInterner, fixed_hasher};

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

/// A token: a 64-bit hash of its name with letters folded to lowercase.
type Token = u64;

/// Case bit of ASCII letters, set in every byte: folds `A-Z` to `a-z` and leaves digits
/// (hex addresses are exact); it also merges a few punctuation pairs (`@`/`` ` ``), which
/// token names do not tell apart.
const FOLD: u64 = 0x2020_2020_2020_2020;

/// Eight bytes at a time (it runs on every update in `serve`: a byte-wise hash of two
/// 42-character addresses cost ~80 ns).
fn token(name: &str) -> Token {
    let bytes = name.as_bytes();
    let mut h = 0x9E37_79B9_7F4A_7C15 ^ bytes.len() as u64;
    let mut mix = |w: u64| {
        h = (h ^ (w | FOLD))
            .wrapping_mul(0xD6E8_FEB8_6659_FD93)
            .rotate_left(29);
    };
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        mix(u64::from_le_bytes(w));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        mix(u64::from_le_bytes(w));
    }
    // splitmix64's finaliser.
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

fn ordered(a: Token, b: Token) -> (Token, Token) {
    if a <= b { (a, b) } else { (b, a) }
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Pool {
    id: PairId,
    chain: ChainId,
    /// The tokens as the pool names them (token0, token1): the order of its legs.
    tokens: (Token, Token),
}

impl Pool {
    /// The token pair, unordered (so `A/B` and `B/A` are one pair).
    fn key(&self) -> (Token, Token) {
        ordered(self.tokens.0, self.tokens.1)
    }
}

struct Index {
    /// Interner slot -> the pool described there.
    pools: Map<usize, Pool>,
    same_chain: Map<(ChainId, Token, Token), Vec<PairId>>,
    any_chain: Map<(Token, Token), Vec<PairId>>,
    /// Pools per (chain, token), and each chain's tokens ranked by that count.
    counts: Map<(ChainId, Token), u32>,
    ranked: Map<ChainId, BTreeSet<(Reverse<u32>, Token)>>,
}

/// Which pools are structurally related to which (see the module docs). One per interner,
/// shared behind an `Arc`.
pub struct PoolStructure {
    index: RwLock<Index>,
    interner: Arc<PairInterner>,
}

impl PoolStructure {
    /// An empty structure for the pools of `interner` (at most one per slot).
    pub fn for_interner(interner: Arc<PairInterner>) -> Self {
        Self {
            index: RwLock::new(Index {
                pools: map(),
                same_chain: map(),
                any_chain: map(),
                counts: map(),
                ranked: map(),
            }),
            interner,
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
    /// addresses, compared without case; empty or equal names are ignored). A pool already
    /// described with the same tokens, in either order, changes nothing; a pool in a slot
    /// that described another pool (the interner recycled it) replaces it. Returns whether
    /// anything changed.
    pub fn observe(&self, pair: PairId, chain: ChainId, token0: &str, token1: &str) -> bool {
        if token0.is_empty() || token1.is_empty() {
            return false;
        }
        let tokens = (token(token0), token(token1));
        if tokens.0 == tokens.1 {
            return false;
        }
        let pool = Pool {
            id: pair,
            chain,
            tokens,
        };
        let slot = self.interner.slot(pair);
        let same = |index: &Index| {
            index
                .pools
                .get(&slot)
                .is_some_and(|p| p.id == pair && p.chain == chain && p.key() == pool.key())
        };
        if same(&self.index.read()) {
            return false;
        }
        let mut index = self.index.write();
        if same(&index) {
            return false;
        }
        if let Some(old) = index.pools.remove(&slot) {
            index.forget(old);
        }
        index.add(slot, pool);
        true
    }

    /// The pools `pair` is compared with, most direct first, at most [`MAX_NEIGHBOURS`],
    /// into `out` (cleared first; no allocation once it has grown). Ids the interner no
    /// longer knows (their slot was recycled) are skipped.
    pub fn neighbours_into(&self, pair: PairId, out: &mut Vec<PairId>) {
        out.clear();
        let index = self.index.read();
        let Some(&me) = index
            .pools
            .get(&self.interner.slot(pair))
            .filter(|p| p.id == pair)
        else {
            return;
        };
        let live = |q: PairId| {
            index
                .pools
                .get(&self.interner.slot(q))
                .is_some_and(|p| p.id == q)
                && self.interner.is_current(q)
        };
        let key = me.key();
        let lists = index
            .same_chain
            .get(&(me.chain, key.0, key.1))
            .into_iter()
            .chain(index.any_chain.get(&key));
        for &q in lists.flatten() {
            if out.len() == MAX_NEIGHBOURS {
                return;
            }
            if q != pair && !out.contains(&q) && live(q) {
                out.push(q);
            }
        }
        let hubs = index.ranked.get(&me.chain).into_iter().flatten().take(HUBS);
        for &(_, hub) in hubs {
            for t in [me.tokens.0, me.tokens.1] {
                if t == hub || out.len() == MAX_NEIGHBOURS {
                    continue;
                }
                let leg = ordered(t, hub);
                let first = index
                    .same_chain
                    .get(&(me.chain, leg.0, leg.1))
                    .into_iter()
                    .flatten()
                    .copied()
                    .find(|&q| live(q));
                if let Some(q) = first
                    && q != pair
                    && !out.contains(&q)
                {
                    out.push(q);
                }
            }
        }
    }
}

impl Index {
    fn add(&mut self, slot: usize, pool: Pool) {
        let key = pool.key();
        let listed = |v: &mut Vec<PairId>| {
            if v.len() < MAX_LISTED {
                v.push(pool.id);
            }
        };
        listed(
            self.same_chain
                .entry((pool.chain, key.0, key.1))
                .or_default(),
        );
        listed(self.any_chain.entry(key).or_default());
        for t in [key.0, key.1] {
            self.recount(pool.chain, t, 1);
        }
        self.pools.insert(slot, pool);
    }

    /// Removes a pool whose slot is being described anew.
    fn forget(&mut self, pool: Pool) {
        let key = pool.key();
        let same = (pool.chain, key.0, key.1);
        if let Some(list) = self.same_chain.get_mut(&same) {
            list.retain(|&q| q != pool.id);
            if list.is_empty() {
                self.same_chain.remove(&same);
            }
        }
        if let Some(list) = self.any_chain.get_mut(&key) {
            list.retain(|&q| q != pool.id);
            if list.is_empty() {
                self.any_chain.remove(&key);
            }
        }
        for t in [key.0, key.1] {
            self.recount(pool.chain, t, -1);
        }
    }

    /// Moves `t`'s pool count on `chain` by `delta`, keeping the chain's ranking (most
    /// pools first; ties by token) and dropping tokens no pool uses.
    fn recount(&mut self, chain: ChainId, t: Token, delta: i32) {
        let old = self.counts.get(&(chain, t)).copied().unwrap_or(0);
        let new = old.saturating_add_signed(delta);
        let ranked = self.ranked.entry(chain).or_default();
        if old > 0 {
            ranked.remove(&(Reverse(old), t));
        }
        if new > 0 {
            ranked.insert((Reverse(new), t));
            self.counts.insert((chain, t), new);
        } else {
            self.counts.remove(&(chain, t));
            if ranked.is_empty() {
                self.ranked.remove(&chain);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pair::{Address, PairKey};

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
        let interner = Arc::new(PairInterner::new(1024));
        let s = PoolStructure::for_interner(interner.clone());
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
        eth(10, "weth", "wbtc");
        // Hubs: WETH (5 pools), then USDC (4); LINK and PEPE have 3.
        let (x, arb) = pool(&interner, "arbitrum", 1);
        assert!(s.observe(x, arb, "LINK", "PEPE"));
        let eth_id = interner.chain_id("ethereum").unwrap();
        assert!(
            !s.observe(a, eth_id, "link", "pepe"),
            "unchanged: order and case"
        );
        let mut out = Vec::new();
        s.neighbours_into(a, &mut out);
        // Sibling b; x on arbitrum; legs through WETH (PEPE/WETH: c) and USDC (LINK/USDC: d).
        assert_eq!(out, vec![b, x, c, d]);
        let (undescribed, _) = pool(&interner, "ethereum", 99);
        s.neighbours_into(undescribed, &mut out);
        assert!(out.is_empty(), "an undescribed pool has no neighbours");
        assert_eq!(s.len(), 11);
        assert!(!s.observe(undescribed, eth_id, "", "WETH"), "no token name");
        assert!(
            !s.observe(undescribed, eth_id, "WETH", "weth"),
            "one token twice"
        );
    }

    /// A pool re-described with other tokens moves; a hub that loses its pools stops being
    /// one, and the next-biggest token takes its place at once.
    #[test]
    fn re_described_pools_move_and_hubs_follow_the_counts() {
        let interner = Arc::new(PairInterner::new(1024));
        let s = PoolStructure::for_interner(interner.clone());
        let p: Vec<(PairId, ChainId)> = (0..8).map(|n| pool(&interner, "ethereum", n)).collect();
        let eth = p[0].1;
        // W in 3 pools, U in 2, D in 2.
        for (i, (t0, t1)) in [
            ("W", "A"),
            ("W", "B"),
            ("W", "U"),
            ("U", "D"),
            ("D", "C"),
            ("A", "U"),
        ]
        .iter()
        .enumerate()
        {
            assert!(s.observe(p[i].0, eth, t0, t1));
        }
        let hubs = |s: &PoolStructure| {
            let index = s.index.read();
            let mut top: Vec<(u32, Token)> = index.ranked[&eth]
                .iter()
                .take(HUBS)
                .map(|&(c, t)| (c.0, t))
                .collect();
            top.sort_unstable();
            top
        };
        let mut want = vec![(3, token("W")), (3, token("U"))];
        want.sort_unstable();
        assert_eq!(hubs(&s), want, "W and U: 3 pools each");
        // W's three pools become X/Y pools: X and Y (3 each) are the hubs, W is none.
        for (i, (t0, t1)) in [("X", "Y"), ("Y", "X"), ("x", "y")].iter().enumerate() {
            assert!(s.observe(p[i].0, eth, t0, t1));
        }
        let mut want = vec![(3, token("X")), (3, token("Y"))];
        want.sort_unstable();
        assert_eq!(hubs(&s), want);
        let mut out = Vec::new();
        s.neighbours_into(p[1].0, &mut out);
        assert!(out.contains(&p[0].0) && out.contains(&p[2].0), "{out:?}");
    }

    /// The interner recycles a slot for another pool: the old id is never returned, and
    /// describing the new pool replaces the old description.
    #[test]
    fn recycled_slots_replace_their_pool_and_dead_ids_are_never_returned() {
        let interner = Arc::new(PairInterner::new(8));
        let s = PoolStructure::for_interner(interner.clone());
        let mut live = Vec::new();
        for n in 0..40u8 {
            let (id, chain) = pool(&interner, "ethereum", n);
            s.observe(id, chain, "USDC", "WETH");
            live.push(id);
        }
        assert!(s.len() <= interner.capacity());
        let alive: Vec<PairId> = live
            .iter()
            .copied()
            .filter(|&q| interner.resolve(q).is_some())
            .collect();
        assert!(alive.len() < live.len(), "the interner recycled slots");
        let mut out = Vec::new();
        for &q in &alive {
            s.neighbours_into(q, &mut out);
            assert!(
                out.iter().all(|&n| interner.resolve(n).is_some()),
                "dead id in {out:?}"
            );
            assert!(!out.is_empty(), "other live USDC/WETH pools exist");
        }
    }
}
