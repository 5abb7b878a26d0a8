//! [`PoolRegistry`]: what the detector knows about pools (DEX, tokens), bounded like
//! everything else: one slot per interner slot, and a token-pair index with a fixed number
//! of keys and of pools per key.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};

use parking_lot::RwLock;

use pairwarm::pair::{ChainId, PairId, PairInterner};

/// Configuration-independent hasher with a fixed seed, so token ids and index shards are
/// the same on every run.
fn fixed_hasher() -> foldhash::fast::FixedState {
    foldhash::fast::FixedState::with_seed(0x7061_6972_7761_726d) // "pairwarm"
}

/// A token, hashed (names or addresses from stream entries; collisions are negligible).
pub type TokenId = u64;

/// Hashes a token name or address, ignoring ASCII case (symbols and `0x` addresses are
/// case-insensitive; base58 addresses differing only in case do not occur), without
/// allocating.
pub fn token_id(token: &str) -> TokenId {
    use std::hash::Hasher;
    let mut h = fixed_hasher().build_hasher();
    for b in token.bytes() {
        h.write_u8(b.to_ascii_lowercase());
    }
    h.finish() | 1
}

const NO_TOKEN: u64 = 0;
/// Distinct DEX names the registry indexes (bounds its name table).
pub const MAX_DEXES: usize = 1024;
/// The index of every DEX name beyond [`MAX_DEXES`]: it names no DEX.
pub const UNKNOWN_DEX: u16 = u16::MAX;
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

    /// Index of a DEX name. At most [`MAX_DEXES`] distinct names get one; later names get
    /// [`UNKNOWN_DEX`], which has no name (so no per-DEX fee: the default applies).
    pub fn dex_index(&self, name: &str) -> u16 {
        if let Some(i) = self.dexes.read().iter().position(|d| d == name) {
            return i as u16;
        }
        let mut dexes = self.dexes.write();
        if let Some(i) = dexes.iter().position(|d| d == name) {
            return i as u16;
        }
        if dexes.len() >= MAX_DEXES {
            return UNKNOWN_DEX;
        }
        dexes.push(name.to_owned());
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

#[cfg(test)]
mod tests {
    use super::*;

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
