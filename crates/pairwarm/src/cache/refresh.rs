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
    /// (expiry, raw pair id), earliest first.
    heap: Mutex<BinaryHeap<Reverse<(u32, u32)>>>,
    capacity: usize,
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
            heap: Mutex::new(BinaryHeap::new()),
            capacity: capacity.max(16),
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
            let mut heap = self.heap.lock();
            if heap.len() < self.capacity {
                heap.push(Reverse((expiry, id.raw())));
            }
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
        let mut heap = self.heap.lock();
        if heap.len() < self.capacity {
            heap.push(Reverse((expiry, id.raw())));
        }
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
        let mut heap = self.heap.lock();
        let mut requeue = Vec::new();
        while out.len() < max {
            let Some(&Reverse((expiry, raw))) = heap.peek() else {
                break;
            };
            if expiry > until {
                break;
            }
            heap.pop();
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
            if heap.len() < self.capacity {
                heap.push(r);
            }
        }
        out
    }

    /// Entries queued now.
    pub(crate) fn len(&self) -> usize {
        self.heap.lock().len()
    }

    pub(crate) fn clear(&self) {
        self.heap.lock().clear();
        for q in self.queued.iter() {
            q.store(0, Relaxed);
        }
    }
}
