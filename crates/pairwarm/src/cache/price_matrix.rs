//! The price matrix: one fixed slot per interner slot, each guarded by a seqlock.
//!
//! Readers never block writers and never take a lock: a read copies the slot and retries
//! if a write overlapped it (after a bounded number of retries it reports a miss rather
//! than spin). Writers to *different* slots never contend; two writers to the same slot
//! serialise on the slot's sequence number. The table is allocated once, sized to the
//! interner's capacity, so its memory is fixed: 80 bytes per slot.
//!
//! A slot remembers the full [`PairId`] (with generation) of its pair, so after the interner
//! recycles a slot for another pair, reads of the old id miss instead of returning the new
//! pair's price.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};

use super::entry::{Evictions, L1Entry};
use super::{Price, Reserve};
use crate::pair::{PairId, PairInterner};

const EMPTY: u64 = u64::MAX;
const READ_RETRIES: usize = 64;

#[derive(Default)]
struct Slot {
    seq: AtomicU32,
    id: AtomicU64,
    price: AtomicU64,
    block: AtomicU64,
    ts_ms: AtomicU64,
    stored_ms: AtomicU64,
    /// `reserve0` and `reserve1`, low word first.
    reserves: [AtomicU64; 4],
}

/// Fixed-slot price table indexed by [`PairId`] slot (see the module docs).
pub struct PriceMatrix {
    slots: Box<[Slot]>,
    slot_mask: u32,
    len: AtomicUsize,
    evictions: AtomicU64,
}

impl PriceMatrix {
    /// A matrix with one slot per slot of `interner`.
    pub fn for_interner(interner: &PairInterner) -> Self {
        let slots: Box<[Slot]> = (0..interner.capacity())
            .map(|_| Slot {
                id: AtomicU64::new(EMPTY),
                ..Slot::default()
            })
            .collect();
        Self {
            slots,
            slot_mask: interner.slot_mask(),
            len: AtomicUsize::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    fn slot(&self, id: PairId) -> Option<&Slot> {
        self.slots.get((id.raw() & self.slot_mask) as usize)
    }

    /// Reads the price of `id`, or `None` if the slot holds another pair or is empty.
    #[inline]
    pub fn get(&self, id: PairId) -> Option<L1Entry> {
        let slot = self.slot(id)?;
        for _ in 0..READ_RETRIES {
            let before = slot.seq.load(Ordering::Acquire);
            if before & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let owner = slot.id.load(Ordering::Relaxed);
            let price = slot.price.load(Ordering::Relaxed);
            let block = slot.block.load(Ordering::Relaxed);
            let ts_ms = slot.ts_ms.load(Ordering::Relaxed);
            let stored_ms = slot.stored_ms.load(Ordering::Relaxed);
            let r = slot.reserves.each_ref().map(|w| w.load(Ordering::Relaxed));
            fence(Ordering::Acquire);
            if slot.seq.load(Ordering::Relaxed) == before {
                let reserve =
                    |lo: u64, hi: u64| Reserve::new((u128::from(hi) << 64) | u128::from(lo));
                return (owner == u64::from(id.raw())).then(|| L1Entry {
                    price: Price::new(f64::from_bits(price), block, ts_ms)
                        .with_reserves(reserve(r[0], r[1]), reserve(r[2], r[3])),
                    stored_ms,
                });
            }
        }
        None
    }

    /// Runs `write` with the slot's write side held (sequence number odd).
    fn with_slot_locked<R>(&self, slot: &Slot, write: impl FnOnce(&Slot) -> R) -> R {
        let mut seq = slot.seq.load(Ordering::Relaxed);
        loop {
            if seq & 1 == 0 {
                match slot.seq.compare_exchange_weak(
                    seq,
                    seq.wrapping_add(1),
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(now) => seq = now,
                }
            } else {
                std::hint::spin_loop();
                seq = slot.seq.load(Ordering::Relaxed);
            }
        }
        fence(Ordering::Release);
        let out = write(slot);
        slot.seq.store(seq.wrapping_add(2), Ordering::Release);
        out
    }

    /// Writes the price of `id`; reports the previous owner if the slot was recycled.
    pub(crate) fn insert(&self, id: PairId, entry: L1Entry) -> Evictions {
        let mut evicted = Evictions::default();
        let Some(slot) = self.slot(id) else {
            return evicted;
        };
        let previous = self.with_slot_locked(slot, |slot| {
            let previous = slot.id.swap(u64::from(id.raw()), Ordering::Relaxed);
            slot.price
                .store(entry.price.price.to_bits(), Ordering::Relaxed);
            slot.block.store(entry.price.block, Ordering::Relaxed);
            slot.ts_ms.store(entry.price.ts_ms, Ordering::Relaxed);
            slot.stored_ms.store(entry.stored_ms, Ordering::Relaxed);
            let (r0, r1) = (entry.price.reserve0.get(), entry.price.reserve1.get());
            for (word, value) in slot.reserves.iter().zip([r0, r0 >> 64, r1, r1 >> 64]) {
                word.store(value as u64, Ordering::Relaxed);
            }
            previous
        });
        if previous == EMPTY {
            self.len.fetch_add(1, Ordering::Relaxed);
        } else if previous != u64::from(id.raw()) {
            self.evictions.fetch_add(1, Ordering::Relaxed);
            evicted.push_raw(previous as u32);
        }
        evicted
    }

    /// Empties the slot of `id` if it still holds `id`.
    pub(crate) fn remove(&self, id: PairId) -> bool {
        let Some(slot) = self.slot(id) else {
            return false;
        };
        let removed = self.with_slot_locked(slot, |slot| {
            slot.id
                .compare_exchange(
                    u64::from(id.raw()),
                    EMPTY,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        });
        if removed {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }

    /// Occupied slots.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// True if no slot is occupied.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Prices dropped because their slot was recycled for another pair.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    pub(crate) fn clear(&self) {
        for slot in self.slots.iter() {
            let emptied =
                self.with_slot_locked(slot, |slot| slot.id.swap(EMPTY, Ordering::Relaxed) != EMPTY);
            if emptied {
                self.len.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Bytes held by the table (fixed at construction).
    pub fn memory_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn entry(p: f64, block: u64) -> L1Entry {
        L1Entry {
            price: Price::new(p, block, block * 10),
            stored_ms: block,
        }
    }

    #[test]
    fn read_your_write_and_recycled_slots_miss() {
        let interner = PairInterner::new(16);
        let m = PriceMatrix::for_interner(&interner);
        let id = PairId::from_raw(3);
        assert!(m.get(id).is_none());
        assert!(m.insert(id, entry(1.5, 7)).is_empty());
        assert_eq!(m.get(id), Some(entry(1.5, 7)));
        assert_eq!(m.len(), 1);
        // Same slot, next generation: the old id no longer reads.
        let recycled = PairId::from_raw(3 | (1 << 4));
        let ev = m.insert(recycled, entry(9.0, 8));
        assert_eq!(ev.iter().collect::<Vec<_>>(), vec![id]);
        assert!(m.get(id).is_none());
        assert_eq!(m.len(), 1);
        assert!(!m.remove(id));
        assert!(m.remove(recycled));
        assert!(m.is_empty());
    }

    #[test]
    fn concurrent_readers_never_see_torn_values() {
        let interner = PairInterner::new(16);
        let m = Arc::new(PriceMatrix::for_interner(&interner));
        let id = PairId::from_raw(5);
        m.insert(id, entry(0.0, 0));
        let writer = {
            let m = m.clone();
            std::thread::spawn(move || {
                for i in 1..200_000u64 {
                    m.insert(id, entry(i as f64, i));
                }
            })
        };
        let mut seen = 0;
        while !writer.is_finished() {
            if let Some(e) = m.get(id) {
                // Every field of one read comes from the same write.
                assert_eq!(e.price.price as u64, e.price.block);
                assert_eq!(e.price.ts_ms, e.price.block * 10);
                assert_eq!(e.stored_ms, e.price.block);
                seen += 1;
            }
        }
        writer.join().unwrap();
        assert!(seen > 0);
    }
}
