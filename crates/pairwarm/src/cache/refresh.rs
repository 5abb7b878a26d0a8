//! Refresh-ahead bookkeeping: which L1 entries are being read and when they expire.
//!
//! With an L1 TTL and an L1 large enough to hold every pool (production: 131,072 entries),
//! misses come from expiry, not capacity. An entry that is read while it lives is likely to
//! be read again after it expires; refreshing it from L2 just before it expires (in a batch:
//! one round trip for many keys) turns that miss into a hit.
//!
//! The read path records, per interner slot, when the pair was last read, and queues the
//! entry's expiry once per entry lifetime (two relaxed atomics per read; a short mutex only
//! on the first read of a new value). [`RefreshQueue::due`] pops the entries expiring within
//! a lead time that were read within the idle horizon. Memory is fixed: 8 bytes per interner
//! slot plus a heap bounded at `capacity` entries.
//!
//! The heap holds one record per queued expiry, and a record goes stale when its entry is
//! evicted or renewed by a write. Under churn (a small L1 that loads hundreds of pools per
//! second) stale records used to fill the heap and new ones were dropped: on a trace with a
//! 450-pool hot set at 64 entries, refresh-ahead renewed about 60% of what it should have.
//! An evicted entry's slot is now forgotten, and a full heap is compacted (stale records
//! dropped) before a new one is refused, at most once per `capacity / 2` pushes, so the work
//! stays O(1) per push on average.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use parking_lot::Mutex;

use crate::pair::{PairId, PairInterner};

pub(crate) struct RefreshQueue {
    /// Per slot: last read, ms since `base_ms` + 1 (0: never).
    last_read: Box<[AtomicU32]>,
    /// Per slot: the expiry (ms since `base_ms` + 1) already queued (0: none).
    queued: Box<[AtomicU32]>,
    /// (expiry, raw pair id), earliest first, and pushes since the last compaction.
    heap: Mutex<(BinaryHeap<Reverse<(u32, u32)>>, usize)>,
    capacity: usize,
    /// The interner's slot mask: a record's slot is `raw & slot_mask`.
    slot_mask: u32,
    base_ms: u64,
    ttl_ms: u64,
    /// How long after its last read an entry is still refreshed.
    idle_ms: u64,
}

impl RefreshQueue {
    pub(crate) fn new(
        interner: &PairInterner,
        capacity: usize,
        now_ms: u64,
        ttl_ms: u64,
        idle_ms: u64,
    ) -> Self {
        let slots = interner.capacity();
        Self {
            last_read: (0..slots).map(|_| AtomicU32::new(0)).collect(),
            queued: (0..slots).map(|_| AtomicU32::new(0)).collect(),
            heap: Mutex::new((BinaryHeap::new(), 0)),
            capacity: capacity.max(16),
            slot_mask: interner.slot_mask(),
            base_ms: now_ms,
            ttl_ms,
            idle_ms,
        }
    }

    #[inline]
    fn rel(&self, ms: u64) -> u32 {
        u32::try_from(ms.saturating_sub(self.base_ms).saturating_add(1)).unwrap_or(u32::MAX)
    }

    /// A read of `id` whose L1 value was stored at `stored_ms`.
    #[inline]
    pub(crate) fn on_read(&self, slot: usize, id: PairId, stored_ms: u64, now_ms: u64) {
        let (Some(last), Some(queued)) = (self.last_read.get(slot), self.queued.get(slot)) else {
            return;
        };
        last.store(self.rel(now_ms), Relaxed);
        let expiry = self.rel(stored_ms.saturating_add(self.ttl_ms));
        if queued.load(Relaxed) != expiry {
            queued.store(expiry, Relaxed);
            self.push(&mut self.heap.lock(), Reverse((expiry, id.raw())));
        }
    }

    /// Queues a record; a full heap is compacted first (see the module docs), and a record
    /// that still finds no room is dropped (that entry is not refreshed this lifetime).
    fn push(
        &self,
        (heap, pushes): &mut (BinaryHeap<Reverse<(u32, u32)>>, usize),
        record: Reverse<(u32, u32)>,
    ) {
        *pushes += 1;
        if heap.len() >= self.capacity && *pushes >= self.capacity / 2 {
            *pushes = 0;
            heap.retain(|&Reverse((expiry, raw))| {
                self.queued
                    .get((raw & self.slot_mask) as usize)
                    .is_some_and(|q| q.load(Relaxed) == expiry)
            });
        }
        if heap.len() < self.capacity {
            heap.push(record);
        }
    }

    /// `slot`'s entry left L1 (evicted or removed): its queued record is stale.
    pub(crate) fn forget(&self, slot: usize) {
        if let Some(q) = self.queued.get(slot) {
            q.store(0, Relaxed);
        }
    }

    /// Queues `id` again after its value was renewed at `stored_ms` (a landed refresh),
    /// if it was read within the idle horizon.
    pub(crate) fn renewed(&self, slot: usize, id: PairId, stored_ms: u64, now_ms: u64) {
        let idle_ms = self.idle_ms;
        let (Some(last), Some(queued)) = (self.last_read.get(slot), self.queued.get(slot)) else {
            return;
        };
        let last = last.load(Relaxed);
        if last == 0 || self.rel(now_ms).saturating_sub(last) as u64 > idle_ms {
            return;
        }
        let expiry = self.rel(stored_ms.saturating_add(self.ttl_ms));
        queued.store(expiry, Relaxed);
        self.push(&mut self.heap.lock(), Reverse((expiry, id.raw())));
    }

    /// Pops the entries expiring by `until_ms`. `current(id)` gives the slot and the
    /// stored time of `id`'s L1 entry now (`None`: gone). Entries renewed meanwhile (by a
    /// write) are queued again at their new expiry if still read; entries read within the
    /// idle horizon are returned (at most `max`; the rest stay queued); others are dropped.
    pub(crate) fn due(
        &self,
        now_ms: u64,
        until_ms: u64,
        max: usize,
        current: impl Fn(PairId) -> Option<(usize, u64)>,
    ) -> Vec<PairId> {
        let idle_ms = self.idle_ms;
        let until = self.rel(until_ms);
        let now = self.rel(now_ms);
        let mut out = Vec::new();
        let mut guard = self.heap.lock();
        let mut requeue = Vec::new();
        while out.len() < max {
            let Some(&Reverse((expiry, raw))) = guard.0.peek() else {
                break;
            };
            if expiry > until {
                break;
            }
            guard.0.pop();
            let id = PairId::from_raw(raw);
            let Some((slot, stored_ms)) = current(id) else {
                continue;
            };
            let (Some(last), Some(queued)) = (self.last_read.get(slot), self.queued.get(slot))
            else {
                continue;
            };
            if queued.load(Relaxed) != expiry {
                // A newer expiry of this pair is queued (or it was dropped): stale record.
                continue;
            }
            let read_recently = now.saturating_sub(last.load(Relaxed)) as u64 <= idle_ms;
            let current_expiry = self.rel(stored_ms.saturating_add(self.ttl_ms));
            if current_expiry > expiry {
                // Rewritten since: follow the new value if the pair is still read.
                if read_recently {
                    queued.store(current_expiry, Relaxed);
                    requeue.push(Reverse((current_expiry, raw)));
                } else {
                    queued.store(0, Relaxed);
                }
                continue;
            }
            queued.store(0, Relaxed);
            if read_recently {
                out.push(id);
            }
        }
        for r in requeue {
            self.push(&mut guard, r);
        }
        out
    }

    /// Entries queued now.
    pub(crate) fn len(&self) -> usize {
        self.heap.lock().0.len()
    }

    pub(crate) fn clear(&self) {
        self.heap.lock().0.clear();
        for q in self.queued.iter() {
            q.store(0, Relaxed);
        }
    }
}
