//! L1 storage behind one small interface, with the eviction policy as a value.
//!
//! Policy is separate from the facade: [`HierarchicalCache`](super::HierarchicalCache)
//! decides *what* goes into L1 (writes, loads, warms), the store decides *what leaves*.
//! The store is an enum rather than a trait object so the hot read stays a direct call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use quick_cache::{Lifecycle, OptionsBuilder, UnitWeighter};

use super::entry::{Evictions, Expiry, L1Entry};
use super::policy::{
    HotCold, Insert, Inserted, OwnPolicy, S3Fifo, SavedWindows, ShardedPolicy, WTinyLfu, WindowMode,
};
use super::price_matrix::PriceMatrix;
use crate::pair::{PairId, fixed_hasher};

/// Share of the `quickcache` policy's capacity kept for entries read again ("hot"): the
/// previous product default (quick_cache defaults to 0.97). Chosen on one generator's
/// traces; on another's it was 8-9 points below LRU at 64 entries, which is why the default
/// is now an adaptive policy (see [`L1Policy::Default`]).
const HOT_ALLOCATION: f64 = 0.9;

/// Eviction policy of the L1 store.
///
/// `Default` is what `serve` runs; it resolves to [`L1Policy::PRODUCT_DEFAULT`]. Every
/// other variant can be named (`--l1-policy`, `CACHE_L1_POLICY`) for comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum L1Policy {
    /// The product default: [`L1Policy::PRODUCT_DEFAULT`].
    #[default]
    Default,
    /// Strict least-recently-used, the original system's policy, kept so its behaviour
    /// can be reproduced and compared. A warm ([`HierarchicalCache::promote`]) takes only a
    /// free or expired slot, entering as least recent; the original inserted warms as most
    /// recent whatever they displaced, which
    /// [`HierarchicalCache::promote_unguarded`] reproduces for the baseline. One mutex per
    /// cache.
    ///
    /// [`HierarchicalCache::promote`]: super::HierarchicalCache::promote
    /// [`HierarchicalCache::promote_unguarded`]: super::HierarchicalCache::promote_unguarded
    Lru,
    /// quick_cache's scan-resistant policy with a fixed 90% hot share (the previous default).
    QuickCache,
    /// quick_cache's policy with the hot share tuned at run time by a hill climber.
    QuickCacheAdaptive,
    /// S3-FIFO (SOSP 2023): small FIFO + main CLOCK + ghost ids.
    S3Fifo,
    /// W-TinyLFU whose window (and admission: TinyLFU's contest, or a recency filter at a
    /// 10% window) is chosen by miniature simulations of eight candidates
    /// (1% .. 100%, i.e. up to LRU) on a sample of the keys (Waldspurger et al., ATC 2017).
    WTinyLfu,
    /// W-TinyLFU with Caffeine's hill-climbed window (Middleware 2018; the default of round
    /// 2 and 3, kept for comparison).
    WTinyLfuClimber,
    /// W-TinyLFU with a fixed 1% window (Caffeine's initial window, for comparison).
    WTinyLfuFixed,
}

impl L1Policy {
    /// What `Default` means: chosen for robustness across workloads (docs/simulation.md).
    pub const PRODUCT_DEFAULT: L1Policy = L1Policy::WTinyLfu;

    /// Every nameable policy except `Default`, in report order.
    pub const ALL: [L1Policy; 7] = [
        L1Policy::Lru,
        L1Policy::QuickCache,
        L1Policy::QuickCacheAdaptive,
        L1Policy::S3Fifo,
        L1Policy::WTinyLfu,
        L1Policy::WTinyLfuClimber,
        L1Policy::WTinyLfuFixed,
    ];

    /// `Default` replaced by the policy it stands for.
    pub const fn resolve(self) -> L1Policy {
        match self {
            L1Policy::Default => Self::PRODUCT_DEFAULT,
            other => other,
        }
    }

    /// The name `--l1-policy` accepts.
    pub const fn name(self) -> &'static str {
        match self {
            L1Policy::Default => "default",
            L1Policy::Lru => "lru",
            L1Policy::QuickCache => "quickcache",
            L1Policy::QuickCacheAdaptive => "quickcache-adaptive",
            L1Policy::S3Fifo => "s3fifo",
            L1Policy::WTinyLfu => "wtinylfu",
            L1Policy::WTinyLfuClimber => "wtinylfu-climber",
            L1Policy::WTinyLfuFixed => "wtinylfu-fixed",
        }
    }
}

impl std::fmt::Display for L1Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for L1Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        if s == "default" {
            return Ok(Self::Default);
        }
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown L1 policy {s:?}: expected one of default, {}",
                    Self::ALL.map(|p| p.name()).join(", ")
                )
            })
    }
}

/// quick_cache lifecycle that counts evictions and reports evicted keys to the caller.
#[derive(Clone, Default)]
pub(crate) struct EvictionCounter(Arc<AtomicU64>);

impl Lifecycle<PairId, L1Entry> for EvictionCounter {
    type RequestState = Evictions;

    fn on_evict(&self, state: &mut Evictions, key: PairId, _val: L1Entry) {
        self.0.fetch_add(1, Ordering::Relaxed);
        state.push(key);
    }
}

type FastCache = quick_cache::sync::Cache<
    PairId,
    L1Entry,
    UnitWeighter,
    foldhash::fast::FixedState,
    EvictionCounter,
>;

pub(crate) enum L1Store {
    Fast {
        cache: FastCache,
        evictions: Arc<AtomicU64>,
        capacity: usize,
    },
    Lru {
        cache: Mutex<lru::LruCache<PairId, L1Entry, foldhash::fast::FixedState>>,
        evictions: AtomicU64,
        capacity: usize,
    },
    /// The hand-written policies (see [`super::policy`]).
    Own(ShardedPolicy),
    Matrix(PriceMatrix),
}

impl L1Store {
    /// `expiry`: the L1 TTL and refresh idle horizon, if L1 has a TTL (W-TinyLFU evicts
    /// expired entries first, and its tuner models refresh-ahead with the horizon). `slot_mask`:
    /// the slot mask of the interner the ids come from, if known (a large hand-written
    /// policy then finds ids by slot, see [`ShardedPolicy::new`]).
    pub(crate) fn new(
        policy: L1Policy,
        capacity: usize,
        expiry: Option<Expiry>,
        slot_mask: Option<u32>,
    ) -> Self {
        let capacity = capacity.max(1);
        // A hand-written policy, one per shard, told whether L1 expires entries.
        let own = |make: &dyn Fn(usize) -> OwnPolicy| {
            Self::Own(ShardedPolicy::new(
                capacity,
                slot_mask,
                expiry.is_some(),
                make,
            ))
        };
        match policy.resolve() {
            L1Policy::QuickCache | L1Policy::Default => {
                // Fix the shard count from the capacity alone (not the core count), so the
                // same configuration evicts the same way on every machine; small caches get
                // one shard and the exact policy.
                let shards = (capacity / 4096).next_power_of_two().clamp(1, 16);
                let counter = EvictionCounter::default();
                let evictions = counter.0.clone();
                let options = OptionsBuilder::new()
                    .estimated_items_capacity(capacity)
                    .weight_capacity(capacity as u64)
                    .hot_allocation(HOT_ALLOCATION)
                    .shards(shards)
                    .build();
                let cache = match options {
                    Ok(options) => {
                        FastCache::with_options(options, UnitWeighter, fixed_hasher(), counter)
                    }
                    // The options above are always valid; fall back to the plain constructor.
                    Err(_) => FastCache::with(
                        capacity,
                        capacity as u64,
                        UnitWeighter,
                        fixed_hasher(),
                        counter,
                    ),
                };
                Self::Fast {
                    cache,
                    evictions,
                    capacity,
                }
            }
            L1Policy::Lru => {
                let cap =
                    std::num::NonZeroUsize::new(capacity).unwrap_or(std::num::NonZeroUsize::MIN);
                Self::Lru {
                    cache: Mutex::new(lru::LruCache::with_hasher(cap, fixed_hasher())),
                    evictions: AtomicU64::new(0),
                    capacity,
                }
            }
            L1Policy::QuickCacheAdaptive => {
                own(&|c| OwnPolicy::HotCold(HotCold::new(c, HOT_ALLOCATION, true)))
            }
            L1Policy::S3Fifo => own(&|c| OwnPolicy::S3Fifo(S3Fifo::new(c))),
            L1Policy::WTinyLfu => {
                own(&|c| OwnPolicy::WTinyLfu(WTinyLfu::new(c, WindowMode::Simulated, expiry)))
            }
            L1Policy::WTinyLfuClimber => {
                own(&|c| OwnPolicy::WTinyLfu(WTinyLfu::new(c, WindowMode::Climber, expiry)))
            }
            L1Policy::WTinyLfuFixed => {
                own(&|c| OwnPolicy::WTinyLfu(WTinyLfu::new(c, WindowMode::Fixed, expiry)))
            }
        }
    }

    /// Reads an entry and records the access for the eviction policy. `now_ms` is the
    /// clock under a TTL (0 without): W-TinyLFU drops an expired entry itself and counts
    /// the read as the miss it is; the caller checks expiry for the other stores. The flag:
    /// the read took an unread warmed entry (the hand-written policies know; the
    /// crate-backed stores hold guesses as plain entries and say `false`). `now_us` is
    /// called only on a miss of a guess the hand-written policies refused before its
    /// fetch: their gate counts the read if the warm would have landed by then.
    #[inline]
    pub(crate) fn get(
        &self,
        id: PairId,
        now_ms: u64,
        now_us: impl FnOnce() -> u64,
    ) -> Option<(L1Entry, bool)> {
        match self {
            Self::Fast { cache, .. } => cache.get(&id).map(|e| (e, false)),
            Self::Lru { cache, .. } => cache.lock().get(&id).map(|&e| (e, false)),
            Self::Own(p) => p.get(id, now_ms, now_us),
            Self::Matrix(m) => m.get(id).map(|e| (e, false)),
        }
    }

    /// Reads an entry without touching the eviction policy.
    #[inline]
    pub(crate) fn peek(&self, id: PairId) -> Option<L1Entry> {
        match self {
            Self::Fast { cache, .. } => cache.peek(&id),
            Self::Lru { cache, .. } => cache.lock().peek(&id).copied(),
            Self::Own(p) => p.peek(id),
            Self::Matrix(m) => m.get(id),
        }
    }

    /// Whether a warm of `id` could be admitted now, in an L1 *without a TTL* (see
    /// [`Insert::Warm`]): a held pair is renewed in place; the LRU store takes a guess
    /// only into a free slot; the hand-written policies also into an unread guess's slot
    /// or, while the speculation gate is open, the policy's displaceable entry
    /// (probation's; unreferenced for the CLOCK-style ones). A refusal here comes before
    /// the value could land, so it teaches the gate only through a read after
    /// `lands_at_us` ([`L1Store::get`]). quick_cache's store and the price
    /// matrix admit every warm.
    pub(crate) fn guess_has_room(&self, id: PairId, lands_at_us: u64) -> bool {
        match self {
            Self::Own(p) => p.guess_has_room(id, lands_at_us),
            Self::Lru {
                cache, capacity, ..
            } => {
                let lru = cache.lock();
                lru.len() < *capacity || lru.contains(&id)
            }
            Self::Fast { .. } | Self::Matrix(_) => true,
        }
    }

    /// Puts `entry` into L1 for the reason `kind`. quick_cache's store treats a warm as a
    /// write and a refresh as a write of a present pair. The LRU store admits a warm of an
    /// absent pair only into a free or expired slot, as least recent, and renews a present
    /// pair's value in place on a warm or a refresh, its recency unchanged (neither is a
    /// read). The original's warm, a write that makes the entry most recent, is
    /// [`Insert::Load`] (`HierarchicalCache::promote_unguarded`).
    pub(crate) fn insert(&self, id: PairId, entry: L1Entry, kind: Insert) -> (Inserted, Evictions) {
        if let Self::Own(p) = self {
            return p.insert(id, entry, kind);
        }
        let present = self.peek(id).is_some();
        if kind == Insert::Refresh && !present {
            return (Inserted::Skipped, Evictions::default());
        }
        let done = if present {
            Inserted::Replaced
        } else {
            Inserted::Added
        };
        let mut evicted = Evictions::default();
        match self {
            Self::Fast {
                cache, evictions, ..
            } => {
                cache.insert_with_lifecycle(id, entry, &mut evicted);
                // quick_cache reports the value an insert replaces through the same hook as
                // an eviction; a replacement is not an eviction. But at a few entries its
                // cold section can hold nothing and it evicts the key it just inserted:
                // that report is an eviction (counted and passed on).
                if evicted.iter().any(|e| e == id) {
                    let mut kept = Evictions::default();
                    let mut replaced = 0;
                    let mut replacement = present;
                    for e in evicted.iter() {
                        if e == id && replacement {
                            replaced += 1;
                            replacement = false;
                        } else if e == id && cache.peek(&id).is_some() {
                            replaced += 1;
                        } else {
                            kept.push(e);
                        }
                    }
                    evictions.fetch_sub(replaced, Ordering::Relaxed);
                    evicted = kept;
                }
            }
            Self::Lru {
                cache,
                evictions,
                capacity,
            } => {
                let mut lru = cache.lock();
                // A refresh, or a warm of a pair already held, renews the value where it
                // is: neither is a read, so neither moves the entry to the most recent
                // end. With refresh-ahead alone the cache then holds the same pairs in
                // the same order as without it, so a refresh can only turn an expired read
                // into a hit (docs/simulation.md, round 13). (A refreshed tail is no
                // longer expired, so a guarded warm no longer takes its slot.)
                if matches!(kind, Insert::Refresh | Insert::Warm { .. })
                    && let Some(slot) = lru.peek_mut(&id)
                {
                    *slot = entry;
                    return (Inserted::Replaced, evicted);
                }
                match kind {
                    Insert::Refresh => return (Inserted::Skipped, evicted),
                    Insert::Warm { stale_before_ms } => {
                        // A guess takes a free slot or an expired tail's, and enters as
                        // least recent: unread, it is the next to go.
                        if lru.len() >= *capacity {
                            match lru.peek_lru() {
                                Some((_, tail)) if tail.stored_ms < stale_before_ms => {
                                    if let Some((old, _)) = lru.pop_lru() {
                                        evictions.fetch_add(1, Ordering::Relaxed);
                                        evicted.push(old);
                                    }
                                }
                                _ => return (Inserted::Skipped, evicted),
                            }
                        }
                        lru.push(id, entry);
                        lru.demote(&id);
                        return (Inserted::Added, evicted);
                    }
                    Insert::Write | Insert::Load => {}
                }
                if let Some((old, _)) = lru.push(id, entry)
                    && old != id
                {
                    evictions.fetch_add(1, Ordering::Relaxed);
                    evicted.push(old);
                }
            }
            Self::Matrix(m) => evicted = m.insert(id, entry),
            Self::Own(_) => {}
        }
        (done, evicted)
    }

    /// Whether ids are found through an array indexed by interner slot (tests).
    #[cfg(test)]
    fn indexed_by_slot(&self) -> bool {
        matches!(self, Self::Own(p) if p.indexed_by_slot())
    }

    pub(crate) fn remove(&self, id: PairId) -> bool {
        match self {
            Self::Fast { cache, .. } => cache.remove(&id).is_some(),
            Self::Lru { cache, .. } => cache.lock().pop(&id).is_some(),
            Self::Own(p) => p.remove(id),
            Self::Matrix(m) => m.remove(id),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Fast { cache, .. } => cache.len(),
            Self::Lru { cache, .. } => cache.lock().len(),
            Self::Own(p) => p.len(),
            Self::Matrix(m) => m.len(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        match self {
            Self::Fast { capacity, .. } | Self::Lru { capacity, .. } => *capacity,
            Self::Own(p) => p.capacity(),
            Self::Matrix(m) => m.capacity(),
        }
    }

    pub(crate) fn evictions(&self) -> u64 {
        match self {
            Self::Fast { evictions, .. } => evictions.load(Ordering::Relaxed),
            Self::Lru { evictions, .. } => evictions.load(Ordering::Relaxed),
            Self::Own(p) => p.evictions(),
            Self::Matrix(m) => m.evictions(),
        }
    }

    pub(crate) fn clear(&self) {
        match self {
            Self::Fast { cache, .. } => cache.clear(),
            Self::Lru { cache, .. } => cache.lock().clear(),
            Self::Own(p) => p.clear(),
            Self::Matrix(m) => m.clear(),
        }
    }

    /// Each shard's tuned windows (empty: no policy here tunes its window).
    pub(crate) fn windows(&self) -> Vec<Option<SavedWindows>> {
        match self {
            Self::Own(p) => p.windows(),
            Self::Fast { .. } | Self::Lru { .. } | Self::Matrix(_) => Vec::new(),
        }
    }

    /// Empties L1 and starts its policy over, as a new process would.
    pub(crate) fn restart(&self) {
        match self {
            Self::Own(p) => p.restart(),
            Self::Fast { .. } | Self::Lru { .. } | Self::Matrix(_) => self.clear(),
        }
    }

    /// Runs saved windows (see [`ShardedPolicy::resume`]); `Err` carries this store's
    /// shard count when the image's does not fit it (0: a store without shards, which
    /// tunes no window, given tuned windows).
    pub(crate) fn resume(&self, saved: &[Option<SavedWindows>]) -> Result<usize, usize> {
        match self {
            Self::Own(p) => p.resume(saved),
            Self::Fast { .. } | Self::Lru { .. } | Self::Matrix(_) => {
                if saved.iter().any(Option::is_some) {
                    return Err(0);
                }
                Ok(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Price;

    fn entry(p: f64) -> L1Entry {
        L1Entry {
            price: Price::new(p, 0, 0),
            stored_ms: 0,
        }
    }

    /// A two-entry LRU store that was written pair 1, then pair 2; and pair 3, not held.
    fn lru_of_two_holding_a_then_b() -> (L1Store, [PairId; 3]) {
        let l1 = L1Store::new(L1Policy::Lru, 2, None, None);
        let [a, b, c] = [1, 2, 3].map(PairId::from_raw);
        assert!(l1.insert(a, entry(1.0), Insert::Write).1.is_empty());
        assert!(l1.insert(b, entry(2.0), Insert::Write).1.is_empty());
        (l1, [a, b, c])
    }

    #[test]
    fn lru_evicts_least_recently_used() {
        let (l1, [a, b, c]) = lru_of_two_holding_a_then_b();
        assert!(l1.get(a, 0, || 0).is_some());
        let (_, ev) = l1.insert(c, entry(3.0), Insert::Write);
        assert_eq!(ev.iter().collect::<Vec<_>>(), vec![b]);
        assert_eq!(l1.evictions(), 1);
        assert!(l1.peek(b).is_none());
        // Overwriting a present key evicts nothing (unlike the original, defect 18).
        assert!(l1.insert(c, entry(4.0), Insert::Write).1.is_empty());
        assert_eq!(l1.len(), 2);
    }

    #[test]
    fn an_lru_refresh_or_warm_of_a_held_pair_renews_it_in_place_and_leaves_the_order_alone() {
        let (l1, [a, b, c]) = lru_of_two_holding_a_then_b();
        // `a` is the least recent; refreshing it, or warming it again, must not make it
        // the most recent.
        let (done, ev) = l1.insert(a, entry(1.5), Insert::Refresh);
        assert_eq!((done, ev.len()), (Inserted::Replaced, 0));
        let warm = Insert::Warm { stale_before_ms: 0 };
        let (done, ev) = l1.insert(a, entry(1.6), warm);
        assert_eq!((done, ev.len()), (Inserted::Replaced, 0));
        assert_eq!(l1.peek(a).map(|e| e.price.price), Some(1.6));
        let (_, ev) = l1.insert(c, entry(3.0), Insert::Write);
        assert_eq!(ev.iter().collect::<Vec<_>>(), vec![a]);
        assert!(l1.peek(b).is_some());
        // A refresh of an absent pair adds nothing.
        assert_eq!(
            l1.insert(a, entry(1.0), Insert::Refresh).0,
            Inserted::Skipped
        );
        assert!(l1.peek(a).is_none());
        assert_eq!(l1.evictions(), 1);
    }

    #[test]
    fn replacing_a_value_is_not_an_eviction() {
        for policy in L1Policy::ALL {
            let l1 = L1Store::new(policy, 8, None, None);
            let (a, b) = (PairId::from_raw(1), PairId::from_raw(2));
            assert!(l1.insert(a, entry(1.0), Insert::Write).1.is_empty());
            assert!(
                l1.insert(a, entry(2.0), Insert::Write).1.is_empty(),
                "{policy:?}"
            );
            assert!(l1.insert(b, entry(3.0), Insert::Write).1.is_empty());
            assert!(
                l1.insert(a, entry(4.0), Insert::Write).1.is_empty(),
                "{policy:?}"
            );
            assert_eq!(l1.evictions(), 0, "{policy:?}");
            assert_eq!(l1.peek(a).map(|e| e.price.price), Some(4.0));
        }
    }

    #[test]
    fn every_policy_stays_bounded_and_reports_evictions() {
        for policy in L1Policy::ALL {
            let l1 = L1Store::new(policy, 64, None, None);
            let mut reported = 0;
            for i in 0..1000 {
                reported += l1
                    .insert(PairId::from_raw(i), entry(i as f64), Insert::Write)
                    .1
                    .len();
            }
            assert!(l1.len() <= 64, "{policy}");
            assert_eq!(reported as u64, l1.evictions(), "{policy}");
            assert_eq!(l1.len() + reported, 1000, "{policy}");
        }
    }

    /// A large hand-written policy finds ids through an array indexed by interner slot:
    /// it must evict exactly as with the hash map (one shard: same order of events), and
    /// an id of a recycled slot (a new generation) replaces the older pair's entry, which
    /// can no longer be read.
    #[test]
    fn slot_indexed_policies_evict_as_hashed_ones_and_drop_recycled_slots() {
        let slot_mask = (1u32 << 16) - 1;
        for policy in [
            L1Policy::WTinyLfu,
            L1Policy::S3Fifo,
            L1Policy::QuickCacheAdaptive,
        ] {
            // 4,096 entries: one shard, and 16 slots per entry, so indexed by slot.
            let by_slot = L1Store::new(policy, 4096, None, Some(slot_mask));
            let hashed = L1Store::new(policy, 4096, None, None);
            assert!(by_slot.indexed_by_slot() && !hashed.indexed_by_slot());
            let mut rng = 0x2545_F491_4F6C_DD1Du64;
            let (mut hits_slot, mut hits_hash) = (0, 0);
            for i in 0..200_000u32 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                // Skewed ids over 20,000 slots: hot low ids, a long cold tail.
                let id = PairId::from_raw(((rng % 20_000) * (rng % 7 + 1) / 7) as u32);
                if i % 3 == 0 {
                    by_slot.insert(id, entry(1.0), Insert::Write);
                    hashed.insert(id, entry(1.0), Insert::Write);
                } else {
                    let (a, b) = (by_slot.get(id, 0, || 0), hashed.get(id, 0, || 0));
                    assert_eq!(a.is_some(), b.is_some(), "{policy} diverged at {i}");
                    hits_slot += usize::from(a.is_some());
                    hits_hash += usize::from(b.is_some());
                    if a.is_none() {
                        by_slot.insert(id, entry(1.0), Insert::Load);
                        hashed.insert(id, entry(1.0), Insert::Load);
                    }
                }
            }
            assert_eq!(hits_slot, hits_hash);
            assert!(hits_slot > 10_000, "{policy}: {hits_slot} hits");
            assert_eq!(by_slot.len(), hashed.len());

            // Slot 5, generation 0, then generation 1 of the same slot.
            let old = PairId::from_raw(5);
            let new = PairId::from_raw(5 | (1 << 16));
            let l1 = L1Store::new(policy, 8192, None, Some(slot_mask));
            l1.insert(old, entry(1.0), Insert::Write);
            l1.insert(PairId::from_raw(6), entry(2.0), Insert::Write);
            assert_eq!(l1.peek(new), None, "{policy}");
            l1.insert(new, entry(3.0), Insert::Write);
            assert_eq!(l1.peek(old), None, "{policy}");
            assert_eq!(l1.peek(new).map(|e| e.price.price), Some(3.0), "{policy}");
            assert_eq!(l1.len(), 2, "{policy}");
            assert!(!l1.remove(old), "{policy}");
            assert!(l1.remove(new), "{policy}");
            assert_eq!(l1.len(), 1, "{policy}");
        }
    }
}
