//! The tracker's own bounded directory: `PairId -> slot`, per-slot headers, and CLOCK
//! eviction of the coldest pair.
//!
//! - **Slots.** `max_tracked_pairs` headers are allocated at start, shared by all shards.
//!   A slot is named by a *handle*: `slot | generation << slot_bits` (generation >= 1, so
//!   handle 0 means "empty"). Evicting a pair bumps its slot's generation, so every handle
//!   held elsewhere (window ring entries, neighbour keys) stops resolving:
//!   [`Directory::resolve`] compares the handle with the slot's current one. With
//!   `g = 32 - slot_bits` generation bits (19 at 5,000 pairs) a stale handle could alias
//!   only after `2^g` reuses of one slot.
//! - **Capacity is global.** A new pair takes a never-used slot while there is one (an
//!   atomic bump counter); only when all `max_tracked_pairs` slots hold a pair does it
//!   evict, and then the coldest pair of the whole directory (one global CLOCK hand).
//!   Below capacity nothing is evicted, whatever the hash of the pairs.
//! - **Index.** Lookups go through up to 16 shards chosen by a fixed hash (one shard per
//!   256 pairs of capacity); each shard is a linear-probing table of `AtomicU64`
//!   (`pair << 32 | slot + 1`) of `next_pow2(2 × capacity / shards)` entries, read without
//!   locks. Admissions and evictions take the mutex of the shard they change (so there is
//!   no global lock, and lookups of known pairs never lock); deletion shifts entries back,
//!   and a lookup that misses during a concurrent shift retries under the mutex. A shard
//!   takes at most 3/4 of its table; only if the hash put 1.5 × its share of the pairs in
//!   one shard (more than 8 standard deviations at 256 pairs per shard) would it evict one
//!   of its own pairs before the directory is full.
//! - **Eviction.** The hand sweeps all slots; a slot's counter (0..=3) is bumped by each
//!   update or read of its pair and decremented by the hand, which takes the first slot at
//!   0. One-off pairs from a flood are taken before pairs seen again, and a sweep visits
//!   at most `4 × max_tracked_pairs` headers (no sort, no allocation). An admitter holding
//!   its own shard's mutex only *tries* the victim's shard mutex (skipping the victim if it
//!   is busy), so two admitters never wait for each other.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};

use parking_lot::{Mutex, MutexGuard};

use crate::pair::PairId;

/// Highest CLOCK count: a pair survives this many sweeps without being touched.
const CLOCK_MAX: u8 = 3;
const MAX_SHARDS: usize = 16;
/// Capacity per shard below which fewer shards are used (keeps each shard's share large
/// enough that hash imbalance never fills one before the directory is full).
const PAIRS_PER_SHARD: usize = 256;

/// Per-slot state touched by the slot's own updates and by queries (24 bytes). The
/// handle and the epoch, which every credit to a partner checks, live in separate dense
/// arrays (12 bytes per slot: 60 KB at 5,000 pairs) that stay in the CPU caches.
pub(crate) struct Header {
    /// Raw [`PairId`] of the occupant.
    pub pair: AtomicU32,
    /// Forward-decayed update count (f32 bits).
    pub updates: AtomicU32,
    /// Timestamp of the latest update.
    pub last_update: AtomicU64,
    /// CLOCK counter.
    pub clock: AtomicU8,
}

impl Header {
    fn empty() -> Self {
        Self {
            pair: AtomicU32::new(0),
            updates: AtomicU32::new(0),
            last_update: AtomicU64::new(0),
            clock: AtomicU8::new(0),
        }
    }

    #[inline]
    pub(crate) fn touch(&self) {
        let c = self.clock.load(Relaxed);
        if c < CLOCK_MAX {
            self.clock.store(c + 1, Relaxed);
        }
    }
}

struct Shard {
    map: Box<[AtomicU64]>,
    map_mask: usize,
    /// Most entries the table takes (3/4 of it).
    limit: usize,
    writer: Mutex<Writer>,
}

/// A shard's state changed only under its mutex.
struct Writer {
    /// Entries in the shard's table.
    len: usize,
}

/// A slot as returned by lookups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub index: usize,
    pub handle: u32,
}

pub(crate) struct Directory {
    headers: Box<[Header]>,
    /// Current handle per slot (0: free).
    handles: Box<[AtomicU32]>,
    /// Epoch that the slot's update count and neighbour table are stored relative to.
    epochs: Box<[AtomicU64]>,
    shards: Box<[Shard]>,
    /// Slots below this have been handed out at least once.
    used: AtomicUsize,
    /// Slots holding a pair.
    live: AtomicUsize,
    evictions: AtomicU64,
    /// The CLOCK hand (a counter; the slot is it modulo the capacity).
    hand: AtomicUsize,
    slot_bits: u32,
    hasher: foldhash::fast::FixedState,
}

impl Directory {
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let shard_count = (capacity / PAIRS_PER_SHARD).clamp(1, MAX_SHARDS);
        let share = capacity.div_ceil(shard_count);
        let map_len = (share * 2).next_power_of_two().max(4);
        let shards = (0..shard_count)
            .map(|_| Shard {
                map: (0..map_len).map(|_| AtomicU64::new(0)).collect(),
                map_mask: map_len - 1,
                limit: map_len / 4 * 3,
                writer: Mutex::new(Writer { len: 0 }),
            })
            .collect();
        let slot_bits = usize::BITS - capacity.saturating_sub(1).max(1).leading_zeros();
        Self {
            headers: (0..capacity).map(|_| Header::empty()).collect(),
            handles: (0..capacity).map(|_| AtomicU32::new(0)).collect(),
            epochs: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            shards,
            used: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            evictions: AtomicU64::new(0),
            hand: AtomicUsize::new(0),
            slot_bits,
            hasher: crate::pair::fixed_hasher(),
        }
    }

    #[inline]
    pub(crate) fn header(&self, slot: usize) -> &Header {
        &self.headers[slot]
    }

    /// The epoch cell of `slot`.
    #[inline]
    pub(crate) fn epoch(&self, slot: usize) -> &AtomicU64 {
        &self.epochs[slot]
    }

    pub(crate) fn capacity(&self) -> usize {
        self.headers.len()
    }

    #[inline]
    fn hash(&self, pair: u32) -> u64 {
        self.hasher.hash_one(pair)
    }

    #[inline]
    fn shard_of(&self, hash: u64) -> usize {
        ((hash >> 32) as usize) % self.shards.len()
    }

    /// The slot currently holding `handle`, if the handle is still current.
    #[inline]
    pub(crate) fn resolve(&self, handle: u32) -> Option<usize> {
        let slot = (handle & ((1u32 << self.slot_bits) - 1)) as usize;
        let current = self.handles.get(slot)?;
        (handle != 0 && current.load(Relaxed) == handle).then_some(slot)
    }

    /// Lock-free lookup of a tracked pair.
    #[inline]
    pub(crate) fn lookup(&self, pair: PairId) -> Option<Slot> {
        let raw = pair.raw();
        let hash = self.hash(raw);
        let shard = &self.shards[self.shard_of(hash)];
        let index = Self::probe(shard, hash, raw)?.1;
        let handle = self.handles.get(index)?.load(Relaxed);
        (handle != 0 && self.headers[index].pair.load(Relaxed) == raw)
            .then_some(Slot { index, handle })
    }

    /// `(map position, slot)` of `raw` in the shard's table.
    #[inline]
    fn probe(shard: &Shard, hash: u64, raw: u32) -> Option<(usize, usize)> {
        let mut pos = hash as usize & shard.map_mask;
        loop {
            let e = shard.map[pos].load(Relaxed);
            if e == 0 {
                return None;
            }
            if (e >> 32) as u32 == raw {
                return Some((pos, (e as u32 - 1) as usize));
            }
            pos = (pos + 1) & shard.map_mask;
        }
    }

    /// Returns `pair`'s slot, admitting it if it is new: into a never-used slot while
    /// there is one, else (with `evict`) into the slot of the coldest pair, which is
    /// evicted. With `evict = false` a full directory refuses (`None`). `on_evict` gets the
    /// evicted occupant (already unlinked from the index, header not yet reused) so the
    /// caller can clean its neighbour table first.
    pub(crate) fn admit(
        &self,
        pair: PairId,
        epoch: u64,
        ts: u64,
        evict: bool,
        on_evict: impl FnOnce(Slot),
    ) -> Option<Slot> {
        let raw = pair.raw();
        let hash = self.hash(raw);
        let shard_ix = self.shard_of(hash);
        let shard = &self.shards[shard_ix];
        let mut writer = shard.writer.lock();
        if let Some((_, index)) = Self::probe(shard, hash, raw) {
            let handle = self.handles[index].load(Relaxed);
            return Some(Slot { index, handle });
        }
        let index = if writer.len < shard.limit
            && let Some(index) = self.take_unused()
        {
            self.live.fetch_add(1, Relaxed);
            index
        } else if !evict {
            return None;
        } else {
            // The coldest pair of the directory; if the hash overfilled this shard (see
            // the module docs) or every victim's shard stayed busy, the coldest of ours.
            let old = if writer.len < shard.limit {
                self.evict_coldest(shard_ix, &mut writer)
            } else {
                None
            };
            let old = match old {
                Some(old) => old,
                None => self.evict_in_shard(shard, &mut writer)?,
            };
            on_evict(old);
            old.index
        };
        let header = &self.headers[index];
        let generation = match self.handles[index].load(Relaxed) >> self.slot_bits {
            g if g >= (u32::MAX >> self.slot_bits) => 1,
            g => g + 1,
        };
        let handle = (generation << self.slot_bits) | index as u32;
        header.pair.store(raw, Relaxed);
        self.epochs[index].store(epoch, Relaxed);
        header.updates.store(0, Relaxed);
        header.last_update.store(ts, Relaxed);
        // 0: the admitting update's touch makes it 1, so a one-off pair from a flood is
        // the next victim while pairs seen again climb to CLOCK_MAX.
        header.clock.store(0, Relaxed);
        self.handles[index].store(handle, Relaxed);
        let mut pos = hash as usize & shard.map_mask;
        while shard.map[pos].load(Relaxed) != 0 {
            pos = (pos + 1) & shard.map_mask;
        }
        shard.map[pos].store((u64::from(raw) << 32) | (index as u64 + 1), Relaxed);
        writer.len += 1;
        Some(Slot { index, handle })
    }

    /// A slot never handed out yet, if any is left.
    fn take_unused(&self) -> Option<usize> {
        let capacity = self.capacity();
        self.used
            .fetch_update(Relaxed, Relaxed, |u| (u < capacity).then_some(u + 1))
            .ok()
    }

    /// Evicts the coldest pair of the directory (the CLOCK hand's first slot at 0 whose
    /// shard is free or ours) and returns its slot. `own` is the caller's locked shard.
    fn evict_coldest(&self, own: usize, own_writer: &mut Writer) -> Option<Slot> {
        let capacity = self.capacity();
        // Bounded: every visit decrements a counter <= CLOCK_MAX; one more sweep for
        // victims skipped because their shard was busy.
        for _ in 0..capacity * (CLOCK_MAX as usize + 2) {
            let index = self.hand.fetch_add(1, Relaxed) % capacity;
            let header = &self.headers[index];
            let c = header.clock.load(Relaxed);
            if c > 0 {
                header.clock.store(c - 1, Relaxed);
                continue;
            }
            let victim = header.pair.load(Relaxed);
            let hash = self.hash(victim);
            let shard_ix = self.shard_of(hash);
            let shard = &self.shards[shard_ix];
            let mut guard: Option<MutexGuard<'_, Writer>> = None;
            let writer: &mut Writer = if shard_ix == own {
                own_writer
            } else {
                // Never wait while holding our own shard: skip a busy victim.
                match shard.writer.try_lock() {
                    Some(g) => guard.insert(g),
                    None => continue,
                }
            };
            // Still that pair's slot (not evicted or re-admitted meanwhile)?
            if Self::probe(shard, hash, victim).map(|p| p.1) != Some(index) {
                continue;
            }
            return Some(self.evict(shard, writer, index, victim));
        }
        None
    }

    /// Evicts the coldest pair of the caller's (locked) shard.
    fn evict_in_shard(&self, shard: &Shard, writer: &mut Writer) -> Option<Slot> {
        let (index, victim) = shard
            .map
            .iter()
            .map(|e| e.load(Relaxed))
            .filter(|&e| e != 0)
            .map(|e| ((e as u32 - 1) as usize, (e >> 32) as u32))
            .min_by_key(|&(index, _)| self.headers[index].clock.load(Relaxed))?;
        Some(self.evict(shard, writer, index, victim))
    }

    /// Unlinks `victim` (in slot `index`) from its shard, whose mutex the caller holds.
    /// The slot is then the caller's: no index entry names it any more.
    fn evict(&self, shard: &Shard, writer: &mut Writer, index: usize, victim: u32) -> Slot {
        let old = Slot {
            index,
            handle: self.handles[index].load(Relaxed),
        };
        self.unlink(shard, victim);
        writer.len -= 1;
        self.evictions.fetch_add(1, Relaxed);
        old
    }

    /// Removes `raw` from the shard's table by backward shifting (caller holds the mutex).
    fn unlink(&self, shard: &Shard, raw: u32) {
        let Some((mut hole, _)) = Self::probe(shard, self.hash(raw), raw) else {
            return;
        };
        let mask = shard.map_mask;
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let e = shard.map[j].load(Relaxed);
            if e == 0 {
                break;
            }
            let home = self.hash((e >> 32) as u32) as usize & mask;
            // Move `e` into the hole if the hole lies on its probe path [home, j).
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                shard.map[hole].store(e, Relaxed);
                hole = j;
            }
        }
        shard.map[hole].store(0, Relaxed);
    }

    /// Number of tracked pairs.
    pub(crate) fn len(&self) -> usize {
        self.live.load(Relaxed)
    }

    pub(crate) fn evictions(&self) -> u64 {
        self.evictions.load(Relaxed)
    }

    /// Slots currently holding a pair.
    pub(crate) fn live_slots(&self) -> impl Iterator<Item = Slot> + '_ {
        let used = self.used.load(Relaxed).min(self.capacity());
        (0..used).filter_map(move |index| {
            let handle = self.handles[index].load(Relaxed);
            (handle != 0).then_some(Slot { index, handle })
        })
    }

    /// Forgets every pair. Generations restart, so the caller must also clear everything
    /// holding handles (the window ring and the neighbour tables), as `reset` does.
    pub(crate) fn clear(&self) {
        let mut writers: Vec<_> = self.shards.iter().map(|s| s.writer.lock()).collect();
        for (shard, writer) in self.shards.iter().zip(writers.iter_mut()) {
            for e in shard.map.iter() {
                e.store(0, Relaxed);
            }
            writer.len = 0;
        }
        for (index, h) in self.headers.iter().enumerate() {
            self.handles[index].store(0, Relaxed);
            self.epochs[index].store(0, Relaxed);
            h.pair.store(0, Relaxed);
            h.updates.store(0, Relaxed);
            h.last_update.store(0, Relaxed);
            h.clock.store(0, Relaxed);
        }
        self.used.store(0, Relaxed);
        self.live.store(0, Relaxed);
        self.evictions.store(0, Relaxed);
        self.hand.store(0, Relaxed);
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.headers.len() * size_of::<Header>()
            + self.handles.len() * size_of::<AtomicU32>()
            + self.epochs.len() * size_of::<AtomicU64>()
            + self.shards.len() * size_of::<Shard>()
            + self
                .shards
                .iter()
                .map(|s| s.map.len() * size_of::<AtomicU64>())
                .sum::<usize>()
    }

    /// Internal consistency, for tests: every index entry names a live slot holding that
    /// pair, reachable by probing; every live slot is indexed exactly once.
    pub(crate) fn check(&self) -> Result<(), String> {
        let mut indexed = vec![false; self.capacity()];
        let mut total = 0;
        for (si, shard) in self.shards.iter().enumerate() {
            let len = shard.writer.lock().len;
            let mut entries = 0;
            for e in shard.map.iter() {
                let e = e.load(Relaxed);
                if e == 0 {
                    continue;
                }
                entries += 1;
                let raw = (e >> 32) as u32;
                let index = (e as u32 - 1) as usize;
                if index >= self.capacity() || indexed[index] {
                    return Err(format!(
                        "shard {si}: pair {raw} names slot {index} twice or out of range"
                    ));
                }
                indexed[index] = true;
                if self.headers[index].pair.load(Relaxed) != raw
                    || self.handles[index].load(Relaxed) == 0
                {
                    return Err(format!("shard {si}: entry for pair {raw} is dangling"));
                }
                if self.shard_of(self.hash(raw)) != si {
                    return Err(format!("shard {si}: pair {raw} is in the wrong shard"));
                }
                if Self::probe(shard, self.hash(raw), raw).map(|p| p.1) != Some(index) {
                    return Err(format!("shard {si}: pair {raw} unreachable by probing"));
                }
            }
            if entries != len {
                return Err(format!("shard {si}: {entries} indexed, {len} counted"));
            }
            total += entries;
        }
        let live = self.live_slots().count();
        if total != live || live != self.len() {
            return Err(format!(
                "{total} indexed, {live} live slots, {} counted",
                self.len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admit_lookup_evict_resolve() {
        let d = Directory::new(64);
        let mut evicted = Vec::new();
        let mut admitted = Vec::new();
        for p in 0..200u32 {
            let a = d
                .admit(PairId::from_raw(p), 0, 0, true, |old| evicted.push(old))
                .unwrap();
            assert_eq!(d.lookup(PairId::from_raw(p)), Some(a));
            assert_eq!(d.resolve(a.handle), Some(a.index));
            admitted.push(a);
            d.check().unwrap();
        }
        assert_eq!(d.len(), 64);
        assert_eq!(d.len() + evicted.len(), 200);
        assert_eq!(d.evictions(), evicted.len() as u64);
        // Every evicted handle stops resolving, even though its slot is reused.
        for old in &evicted {
            assert_eq!(d.resolve(old.handle), None);
            assert!(
                admitted
                    .iter()
                    .any(|a| a.index == old.index && a.handle != old.handle)
            );
        }
        // Without eviction, a full shard refuses.
        assert!(
            d.admit(PairId::from_raw(1000), 0, 0, false, |_| {})
                .is_none()
        );
    }

    #[test]
    fn hot_pairs_survive_a_flood() {
        let d = Directory::new(64);
        let hot: Vec<_> = (0..8u32)
            .map(|p| d.admit(PairId::from_raw(p), 0, 0, true, |_| {}).unwrap())
            .collect();
        for round in 0..100u32 {
            for a in &hot {
                d.header(a.index).touch();
            }
            for k in 0..8u32 {
                d.admit(PairId::from_raw(1_000 + round * 8 + k), 0, 0, true, |_| {});
            }
        }
        d.check().unwrap();
        for (p, a) in hot.iter().enumerate() {
            assert_eq!(
                d.lookup(PairId::from_raw(p as u32)),
                Some(*a),
                "hot pair {p} evicted"
            );
        }
    }

    /// Admitters in different shards evict each other's pairs without deadlock, and the
    /// directory ends exactly full and consistent.
    #[test]
    fn concurrent_admissions_fill_exactly_to_capacity() {
        let d = Directory::new(1_000);
        assert!(d.shards.len() > 1);
        std::thread::scope(|s| {
            for t in 0..4u32 {
                let d = &d;
                s.spawn(move || {
                    for p in 0..10_000u32 {
                        let pair = PairId::from_raw(t * 1_000_000 + p);
                        let slot = d.admit(pair, 0, 0, true, |_| {}).unwrap();
                        d.header(slot.index).touch();
                    }
                });
            }
        });
        d.check().unwrap();
        assert_eq!(d.len(), 1_000);
        assert_eq!(d.evictions(), 40_000 - 1_000);
    }

    #[test]
    fn clear_forgets_everything() {
        let d = Directory::new(8);
        let a = d.admit(PairId::from_raw(5), 0, 0, true, |_| {}).unwrap();
        d.clear();
        assert_eq!(d.resolve(a.handle), None);
        assert_eq!(d.lookup(PairId::from_raw(5)), None);
        assert_eq!(d.len(), 0);
        d.admit(PairId::from_raw(5), 0, 0, true, |_| {}).unwrap();
        d.check().unwrap();
    }
}
