//! The tracker's own bounded directory: `PairId -> slot`, per-slot headers, and CLOCK
//! eviction of the coldest pair.
//!
//! - **Slots.** `max_tracked_pairs` headers are allocated at start. A slot is named by a
//!   *handle*: `slot | generation << slot_bits` (generation >= 1, so handle 0 means
//!   "empty"). Evicting a pair bumps its slot's generation, so every handle held elsewhere
//!   (window ring entries, neighbour keys) stops resolving: [`Directory::resolve`] compares
//!   the handle with the header's current one. With `g = 32 - slot_bits` generation bits
//!   (19 at 5,000 pairs) a stale handle could alias only after `2^g` reuses of one slot.
//! - **Index.** The pairs are split over up to 16 shards by a fixed hash; each shard has a
//!   linear-probing table of `AtomicU64` (`pair << 32 | local_slot + 1`) at load <= 1/2,
//!   read without locks. Admissions and evictions take the shard's mutex (so there is no
//!   global lock, and lookups of known pairs never lock); deletion shifts entries back,
//!   and a lookup that misses during a concurrent shift retries under the mutex.
//! - **Eviction.** Each shard sweeps a CLOCK hand over its slots; a slot's counter (0..=3)
//!   is bumped by each update or read of its pair and decremented by the hand, which takes
//!   the first slot at 0. One-off pairs from a flood are taken before pairs seen again, and
//!   a sweep visits at most `4 × slots_per_shard` headers (no sort, no allocation).

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;

use crate::pair::PairId;

/// Highest CLOCK count: a pair survives this many sweeps without being touched.
const CLOCK_MAX: u8 = 3;
const MAX_SHARDS: usize = 16;

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
    first_slot: usize,
    slots: usize,
    map: Box<[AtomicU64]>,
    map_mask: usize,
    used: AtomicUsize,
    evictions: AtomicU64,
    writer: Mutex<Writer>,
}

struct Writer {
    hand: usize,
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
    slot_bits: u32,
    hasher: foldhash::fast::FixedState,
}

impl Directory {
    pub(crate) fn new(capacity: usize) -> Self {
        let shard_count = capacity.clamp(1, MAX_SHARDS);
        let base = capacity / shard_count;
        let extra = capacity % shard_count;
        let mut first_slot = 0;
        let shards = (0..shard_count)
            .map(|i| {
                let slots = base + usize::from(i < extra);
                let map_len = (slots * 2).next_power_of_two().max(4);
                let shard = Shard {
                    first_slot,
                    slots,
                    map: (0..map_len).map(|_| AtomicU64::new(0)).collect(),
                    map_mask: map_len - 1,
                    used: AtomicUsize::new(0),
                    evictions: AtomicU64::new(0),
                    writer: Mutex::new(Writer { hand: 0 }),
                };
                first_slot += slots;
                shard
            })
            .collect();
        let slot_bits = usize::BITS - capacity.saturating_sub(1).max(1).leading_zeros();
        Self {
            headers: (0..capacity).map(|_| Header::empty()).collect(),
            handles: (0..capacity).map(|_| AtomicU32::new(0)).collect(),
            epochs: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            shards,
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
        let local = Self::probe(shard, hash, raw)?.1;
        let index = shard.first_slot + local;
        let handle = self.handles[index].load(Relaxed);
        (handle != 0 && self.headers[index].pair.load(Relaxed) == raw)
            .then_some(Slot { index, handle })
    }

    /// `(map position, local slot)` of `raw` in the shard's table.
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

    /// Returns `pair`'s slot, admitting it (and evicting the shard's coldest pair when the
    /// shard is full) if it is new. With `evict = false` a full shard refuses (`None`).
    /// `on_evict` gets the evicted occupant (already unlinked from the index, header not
    /// yet reused) so the caller can clean its neighbour table first.
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
        let shard = &self.shards[self.shard_of(hash)];
        let mut writer = shard.writer.lock();
        if let Some((_, local)) = Self::probe(shard, hash, raw) {
            let index = shard.first_slot + local;
            let handle = self.handles[index].load(Relaxed);
            return Some(Slot { index, handle });
        }
        let used = shard.used.load(Relaxed);
        let local = if used < shard.slots {
            shard.used.store(used + 1, Relaxed);
            used
        } else if evict {
            let local = self.clock_victim(shard, &mut writer);
            let index = shard.first_slot + local;
            let old = Slot {
                index,
                handle: self.handles[index].load(Relaxed),
            };
            let old_pair = self.headers[index].pair.load(Relaxed);
            self.unlink(shard, old_pair);
            shard.evictions.fetch_add(1, Relaxed);
            on_evict(old);
            local
        } else {
            return None;
        };
        let index = shard.first_slot + local;
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
        // the next victim of its shard while pairs seen again climb to CLOCK_MAX.
        header.clock.store(0, Relaxed);
        self.handles[index].store(handle, Relaxed);
        let mut pos = hash as usize & shard.map_mask;
        while shard.map[pos].load(Relaxed) != 0 {
            pos = (pos + 1) & shard.map_mask;
        }
        shard.map[pos].store((u64::from(raw) << 32) | (local as u64 + 1), Relaxed);
        Some(Slot { index, handle })
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

    /// Advances the shard's hand to the first slot whose CLOCK counter is 0.
    fn clock_victim(&self, shard: &Shard, writer: &mut Writer) -> usize {
        // Bounded: every visit decrements a counter <= CLOCK_MAX.
        for _ in 0..=(shard.slots * (CLOCK_MAX as usize + 1)) {
            let local = writer.hand;
            writer.hand = (writer.hand + 1) % shard.slots;
            let clock = &self.headers[shard.first_slot + local].clock;
            let c = clock.load(Relaxed);
            if c == 0 {
                return local;
            }
            clock.store(c - 1, Relaxed);
        }
        writer.hand
    }

    /// Number of tracked pairs.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.used.load(Relaxed)).sum()
    }

    pub(crate) fn evictions(&self) -> u64 {
        self.shards.iter().map(|s| s.evictions.load(Relaxed)).sum()
    }

    /// Slots currently holding a pair.
    pub(crate) fn live_slots(&self) -> impl Iterator<Item = Slot> + '_ {
        self.shards.iter().flat_map(move |s| {
            let used = s.used.load(Relaxed);
            (s.first_slot..s.first_slot + used).filter_map(move |index| {
                let handle = self.handles[index].load(Relaxed);
                (handle != 0).then_some(Slot { index, handle })
            })
        })
    }

    /// Forgets every pair. Generations restart, so the caller must also clear everything
    /// holding handles (the window ring and the neighbour tables), as `reset` does.
    pub(crate) fn clear(&self) {
        for shard in self.shards.iter() {
            let mut writer = shard.writer.lock();
            writer.hand = 0;
            for e in shard.map.iter() {
                e.store(0, Relaxed);
            }
            for index in shard.first_slot..shard.first_slot + shard.slots {
                let h = &self.headers[index];
                self.handles[index].store(0, Relaxed);
                self.epochs[index].store(0, Relaxed);
                h.pair.store(0, Relaxed);
                h.updates.store(0, Relaxed);
                h.last_update.store(0, Relaxed);
                h.clock.store(0, Relaxed);
            }
            shard.used.store(0, Relaxed);
            shard.evictions.store(0, Relaxed);
        }
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

    /// Internal consistency, for tests: every index entry names a live slot of its shard
    /// holding that pair, and every live slot is indexed.
    pub(crate) fn check(&self) -> Result<(), String> {
        for (si, shard) in self.shards.iter().enumerate() {
            let used = shard.used.load(Relaxed);
            if used > shard.slots {
                return Err(format!("shard {si}: used {used} > slots {}", shard.slots));
            }
            let mut indexed = 0;
            for e in shard.map.iter() {
                let e = e.load(Relaxed);
                if e == 0 {
                    continue;
                }
                indexed += 1;
                let raw = (e >> 32) as u32;
                let local = (e as u32 - 1) as usize;
                if local >= used {
                    return Err(format!(
                        "shard {si}: entry for pair {raw} names unused slot"
                    ));
                }
                let index = shard.first_slot + local;
                if self.headers[index].pair.load(Relaxed) != raw
                    || self.handles[index].load(Relaxed) == 0
                {
                    return Err(format!("shard {si}: entry for pair {raw} is dangling"));
                }
                if Self::probe(shard, self.hash(raw), raw).map(|p| p.1) != Some(local) {
                    return Err(format!("shard {si}: pair {raw} unreachable by probing"));
                }
            }
            if indexed != used {
                return Err(format!("shard {si}: {indexed} indexed, {used} used"));
            }
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
