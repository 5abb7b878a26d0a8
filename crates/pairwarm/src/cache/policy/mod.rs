//! The hand-written L1 eviction policies and the sharded store that runs them.
//!
//! Each policy is a single-threaded structure ([`WTinyLfu`], [`S3Fifo`], [`HotCold`]) over
//! one node slab ([`arena`]); [`ShardedPolicy`] puts one per shard behind a mutex (one shard,
//! hence the exact policy, below 4,096 entries). Why these are hand-written rather than taken
//! from a crate is said in each module.
//!
//! Inserts say *why* a value arrives ([`Insert`]), because a policy should treat a guess
//! differently from a fact: a write or a demand load is an access, a warm is a speculation
//! that must not displace anything that will be read, and a refresh renews a value in place
//! without making it look popular.

mod arena;
mod climber;
mod ghost;
mod hotcold;
mod s3fifo;
mod segments;
mod sketch;
mod speculation;
mod tuner;
mod wtinylfu;

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use arena::SlotIndexing;
pub(crate) use hotcold::HotCold;
pub(crate) use s3fifo::S3Fifo;
pub(crate) use tuner::{SAVED_CANDIDATES, SavedWindows, describe_window};
pub(crate) use wtinylfu::{WTinyLfu, WindowMode};

use super::entry::{Evictions, L1Entry};
use crate::pair::PairId;

/// Share of a policy's capacity that unread warmed entries may hold at most, while they
/// pay for it (see [`Insert::Warm`] and `speculation.rs`).
const SPECULATIVE_SHARE: f64 = 1.0 / 32.0;

/// Unread warmed entries a policy of `capacity` holds at most (at least one).
pub(super) fn speculative_quota(capacity: usize) -> usize {
    ((capacity as f64 * SPECULATIVE_SHARE).round() as usize).max(1)
}

/// Interner slots per cache entry up to which a shard finds ids through an array indexed
/// by slot rather than a hash map (`arena.rs`, `IdIndex::Slots`): 16 slots of 4 bytes, i.e.
/// at most 64 bytes of index per entry. The builder's default interner (4 slots per entry,
/// at least 65,536) qualifies from 4,096 entries, where the map stops fitting the CPU's
/// first-level cache; smaller caches keep the map, which is smaller than the array there.
pub(super) const SLOTS_PER_ENTRY_MAX: usize = 16;

/// Why a value is put into L1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    /// A price write (the feed's update): an access of the pair.
    Write,
    /// A value loaded after a read missed (the read was already counted as the access).
    Load,
    /// A warmed (predicted) value: a guess. The hand-written policies hold unread guesses
    /// in a FIFO of their own. A full L1 gives a guess the slot of an expired victim
    /// (stored before `stale_before_ms`; 0 without a TTL; W-TinyLFU looks at the cold end
    /// of each of its segments, including the window); and, only while guesses have
    /// been earning more hits per slot than the cache's marginal slots (measured with
    /// ghosts), the slot of the oldest unread guess once 1/32 of the capacity is held, or
    /// of the policy's next *probationary* victim — never a protected entry. A guess that
    /// is read joins the policy as if it had just been loaded. LRU admits a guess only into
    /// a free or expired slot, as least recent. A warm of a pair already held renews its
    /// value in place, as a refresh does.
    Warm {
        /// Entries stored before this clock time (ms) are expired.
        stale_before_ms: u64,
    },
    /// A refresh of a value already in L1 (refresh-ahead): replaced in place, no access
    /// recorded; skipped if the pair is not in L1.
    Refresh,
}

/// What an insert did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// A new entry.
    Added,
    /// The pair was present; its value was replaced.
    Replaced,
    /// Not inserted (a warm that lost admission, a refresh of an absent pair).
    Skipped,
}

/// One of the hand-written policies.
pub(crate) enum OwnPolicy {
    WTinyLfu(WTinyLfu),
    S3Fifo(S3Fifo),
    HotCold(HotCold),
}

macro_rules! each {
    ($self:expr, $p:ident => $e:expr) => {
        match $self {
            OwnPolicy::WTinyLfu($p) => $e,
            OwnPolicy::S3Fifo($p) => $e,
            OwnPolicy::HotCold($p) => $e,
        }
    };
}

impl OwnPolicy {
    #[inline]
    fn get(
        &mut self,
        id: PairId,
        now_ms: u64,
        now_us: impl FnOnce() -> u64,
    ) -> Option<(L1Entry, bool)> {
        match self {
            OwnPolicy::WTinyLfu(p) => p.get(id, now_ms, now_us),
            OwnPolicy::S3Fifo(p) => p.get(id, now_us),
            OwnPolicy::HotCold(p) => p.get(id, now_us),
        }
    }
    fn peek(&self, id: PairId) -> Option<L1Entry> {
        each!(self, p => p.peek(id))
    }
    /// See [`arena::Arena::guess_has_room`] (without a TTL only).
    fn guess_has_room(&mut self, id: PairId, lands_at_us: u64) -> bool {
        each!(self, p => {
            let capacity = p.capacity();
            p.arena_mut().guess_has_room(id, capacity, lands_at_us)
        })
    }

    fn insert(&mut self, id: PairId, e: L1Entry, kind: Insert, ev: &mut Evictions) -> Inserted {
        each!(self, p => p.insert(id, e, kind, ev))
    }
    fn remove(&mut self, id: PairId) -> bool {
        each!(self, p => p.remove(id))
    }
    fn len(&self) -> usize {
        each!(self, p => p.len())
    }
    fn clear(&mut self) {
        each!(self, p => p.clear())
    }
    fn windows(&self) -> Option<SavedWindows> {
        match self {
            OwnPolicy::WTinyLfu(p) => p.windows(),
            OwnPolicy::S3Fifo(_) | OwnPolicy::HotCold(_) => None,
        }
    }
    fn restart(&mut self) {
        match self {
            OwnPolicy::WTinyLfu(p) => p.restart(),
            OwnPolicy::S3Fifo(p) => p.clear(),
            OwnPolicy::HotCold(p) => p.restart(),
        }
    }
    fn resume(&mut self, saved: SavedWindows) -> bool {
        match self {
            OwnPolicy::WTinyLfu(p) => p.resume(saved),
            OwnPolicy::S3Fifo(_) | OwnPolicy::HotCold(_) => false,
        }
    }
    fn set_expiring(&mut self, expiring: bool) {
        each!(self, p => p.arena_mut().set_expiring(expiring))
    }
    fn index_by_slots(&mut self, indexing: SlotIndexing) {
        each!(self, p => p.arena_mut().index_by_slots(indexing))
    }
}

/// Shards of a hand-written policy behind mutexes, with an eviction counter.
pub(crate) struct ShardedPolicy {
    shards: Box<[Mutex<OwnPolicy>]>,
    mask: usize,
    /// The interner's slot mask when ids are sharded (and found) by slot.
    slot_mask: Option<u32>,
    evictions: AtomicU64,
    capacity: usize,
}

impl ShardedPolicy {
    /// `make(shard_capacity)` builds one shard. The shard count depends on the capacity
    /// only (never the core count), so a configuration evicts the same way everywhere.
    /// `slot_mask`: the interner's ([`PairInterner::slot_mask`]), if the ids come from one;
    /// with at most [`SLOTS_PER_ENTRY_MAX`] slots per entry, ids are then sharded by slot
    /// and found through an array indexed by slot.
    ///
    /// `expiring`: the cache has an L1 TTL (the speculation gate is stricter under one).
    ///
    /// [`PairInterner::slot_mask`]: crate::pair::PairInterner::slot_mask
    pub(crate) fn new(
        capacity: usize,
        slot_mask: Option<u32>,
        expiring: bool,
        make: impl Fn(usize) -> OwnPolicy,
    ) -> Self {
        let shards = (capacity / 4096).next_power_of_two().clamp(1, 16);
        let (per_shard, rest) = (capacity / shards, capacity % shards);
        let slot_mask = slot_mask.filter(|&m| {
            (m as usize).saturating_add(1) <= SLOTS_PER_ENTRY_MAX.saturating_mul(capacity)
        });
        let indexing = slot_mask.map(|slot_mask| SlotIndexing {
            slot_mask,
            shard_bits: shards.trailing_zeros(),
        });
        Self {
            shards: (0..shards)
                .map(|i| {
                    let mut policy = make(per_shard + usize::from(i < rest));
                    policy.set_expiring(expiring);
                    if let Some(indexing) = indexing {
                        policy.index_by_slots(indexing);
                    }
                    Mutex::new(policy)
                })
                .collect(),
            mask: shards - 1,
            slot_mask,
            evictions: AtomicU64::new(0),
            capacity,
        }
    }

    #[inline]
    fn shard(&self, id: PairId) -> &Mutex<OwnPolicy> {
        let h = match self.slot_mask {
            // The slot's low bits: slots are handed out in order and recycled by CLOCK,
            // so they spread evenly, and each shard owns a dense range of positions.
            Some(slot_mask) => (id.raw() & slot_mask) as usize,
            // Fibonacci hashing of the id: ids are dense slot numbers, so spread them.
            None => (id.raw().wrapping_mul(0x9E37_79B9) >> 16) as usize,
        };
        &self.shards[h & self.mask]
    }

    /// A read; the flag: it took an unread warmed entry.
    #[inline]
    pub(crate) fn get(
        &self,
        id: PairId,
        now_ms: u64,
        now_us: impl FnOnce() -> u64,
    ) -> Option<(L1Entry, bool)> {
        self.shard(id).lock().get(id, now_ms, now_us)
    }

    #[inline]
    pub(crate) fn peek(&self, id: PairId) -> Option<L1Entry> {
        self.shard(id).lock().peek(id)
    }

    /// Whether a warm of `id` could be admitted now (without a TTL); a refusal teaches the
    /// shard's gate only through a read after `lands_at_us` (see
    /// [`arena::Arena::guess_has_room`]).
    pub(crate) fn guess_has_room(&self, id: PairId, lands_at_us: u64) -> bool {
        self.shard(id).lock().guess_has_room(id, lands_at_us)
    }

    pub(crate) fn insert(&self, id: PairId, entry: L1Entry, kind: Insert) -> (Inserted, Evictions) {
        let mut evicted = Evictions::default();
        let done = self.shard(id).lock().insert(id, entry, kind, &mut evicted);
        if !evicted.is_empty() {
            self.evictions
                .fetch_add(evicted.len() as u64, Ordering::Relaxed);
        }
        (done, evicted)
    }

    pub(crate) fn remove(&self, id: PairId) -> bool {
        self.shard(id).lock().remove(id)
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether ids are sharded and found by interner slot.
    #[cfg(test)]
    pub(crate) fn indexed_by_slot(&self) -> bool {
        self.slot_mask.is_some()
    }

    pub(crate) fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    pub(crate) fn clear(&self) {
        for s in self.shards.iter() {
            s.lock().clear();
        }
    }

    /// Each shard's tuned windows, in shard order (`None` for a shard whose window is not
    /// tuned).
    pub(crate) fn windows(&self) -> Vec<Option<SavedWindows>> {
        self.shards.iter().map(|s| s.lock().windows()).collect()
    }

    /// Empties every shard and starts its window control over, as a new process would.
    pub(crate) fn restart(&self) {
        for s in self.shards.iter() {
            s.lock().restart();
        }
    }

    /// Runs the saved windows, one per shard in shard order (`None`: the shard is left
    /// as it is). Returns how many shards resumed a window; nothing changes if the shard
    /// counts differ (`Err`: this policy's count).
    pub(crate) fn resume(&self, saved: &[Option<SavedWindows>]) -> Result<usize, usize> {
        if saved.len() != self.shards.len() {
            return Err(self.shards.len());
        }
        let mut resumed = 0;
        for (shard, windows) in self.shards.iter().zip(saved) {
            if let Some(w) = windows {
                resumed += usize::from(shard.lock().resume(*w));
            }
        }
        Ok(resumed)
    }
}
