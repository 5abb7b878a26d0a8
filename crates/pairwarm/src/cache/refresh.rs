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
//! evicted, invalidated or renewed by a write (an entry that expired unread leaves its
//! record until it comes due). Under churn (a small L1 that loads hundreds of pools per
//! second) stale records used to fill the heap and new ones were dropped: on a trace with a
//! 450-pool hot set at 64 entries, refresh-ahead renewed about 60% of what it should have.
//! Evicted and invalidated entries are now forgotten, and [`RefreshQueue::due`] (the
//! refresh task's thread, not a reader's) drops the stale records of a heap at least half
//! full once `capacity / 4` records were pushed since the last time: O(1) work per push on
//! average, and a reader never scans the heap. A record that finds the heap full is still
//! dropped (that entry is not refreshed in this lifetime).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use parking_lot::Mutex;

use crate::pair::{PairId, PairInterner};

/// The queued records, and pushes since the last compaction.
#[derive(Default)]
struct Pending {
    /// (expiry, raw pair id), earliest first.
    heap: BinaryHeap<Reverse<(u32, u32)>>,
    pushes: usize,
}

pub(crate) struct RefreshQueue {
    /// Per slot: last read, ms since `base_ms` + 1 (0: never).
    last_read: Box<[AtomicU32]>,
    /// Per slot: the expiry (ms since `base_ms` + 1) already queued (0: none).
    queued: Box<[AtomicU32]>,
    heap: Mutex<Pending>,
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
            heap: Mutex::new(Pending::default()),
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

    /// Queues a record if the heap has room (else it is dropped: see the module docs).
    fn push(&self, pending: &mut Pending, record: Reverse<(u32, u32)>) {
        pending.pushes += 1;
        if pending.heap.len() < self.capacity {
            pending.heap.push(record);
        }
    }

    /// Drops stale records (their slot's queued expiry moved on, or was forgotten) once the
    /// heap is at least half full and `capacity / 4` pushes came since the last compaction.
    fn compact(&self, pending: &mut Pending) {
        if pending.heap.len() < self.capacity / 2 || pending.pushes < self.capacity / 4 {
            return;
        }
        pending.pushes = 0;
        pending.heap.retain(|&Reverse((expiry, raw))| {
            self.queued
                .get((raw & self.slot_mask) as usize)
                .is_some_and(|q| q.load(Relaxed) == expiry)
        });
    }

    /// `slot`'s entry left L1 (evicted or invalidated): its queued record is stale. (If
    /// another thread reloads the pair between its eviction and this call, the reload's
    /// record goes stale too; the pair's next read queues it again.)
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
        self.compact(&mut guard);
        let mut requeue = Vec::new();
        while out.len() < max {
            let Some(&Reverse((expiry, raw))) = guard.heap.peek() else {
                break;
            };
            if expiry > until {
                break;
            }
            guard.heap.pop();
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
        self.heap.lock().heap.len()
    }

    pub(crate) fn clear(&self) {
        self.heap.lock().heap.clear();
        for q in self.queued.iter() {
            q.store(0, Relaxed);
        }
    }
}
