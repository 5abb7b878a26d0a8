//! Batch recording: the updates of one block, buffered and credited as one set.
//!
//! Between `begin_batch` and `end_batch`, updates go to a fixed buffer of
//! [`BATCH_CAPACITY`] entries (allocated at start) instead of the window. `end_batch`
//! then records them, and credits every pair of *distinct* pairs of the batch once, both
//! ways, at the batch's latest timestamp (the original's block semantics, including its
//! fix against double counting). That pass is quadratic in the distinct pairs, so the
//! buffer bound is also the work bound: at most `C(256, 2)` = 32,640 pair credits.
//! Updates arriving while the buffer is full are recorded immediately as ordinary updates
//! (counted in `TrackerStats::batch_overflows`), never dropped.
//!
//! The buffer sits behind its own mutex, taken only while a batch is open; outside a batch
//! the hot path reads one relaxed flag.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use parking_lot::Mutex;

use crate::pair::PairId;

/// Most updates one batch buffers.
pub const BATCH_CAPACITY: usize = 256;

pub(crate) struct Batch {
    active: AtomicBool,
    buf: Mutex<Vec<(PairId, u64)>>,
}

impl Batch {
    pub(crate) fn new() -> Self {
        Self {
            active: AtomicBool::new(false),
            buf: Mutex::new(Vec::with_capacity(BATCH_CAPACITY)),
        }
    }

    #[inline]
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Relaxed)
    }

    /// Opens a batch; false if one is already open (it is kept, as the original).
    pub(crate) fn begin(&self) -> bool {
        let mut buf = self.buf.lock();
        if self.active.load(Relaxed) {
            return false;
        }
        buf.clear();
        self.active.store(true, Relaxed);
        true
    }

    /// Buffers an update; false if no batch is open or the buffer is full.
    pub(crate) fn push(&self, pair: PairId, ts: u64) -> bool {
        let mut buf = self.buf.lock();
        if !self.active.load(Relaxed) || buf.len() >= BATCH_CAPACITY {
            return false;
        }
        buf.push((pair, ts));
        true
    }

    /// Closes the batch and hands its updates to `f` (under the buffer's lock, so the
    /// buffer is reused, never reallocated). `None` if no batch was open.
    pub(crate) fn end<R>(&self, f: impl FnOnce(&[(PairId, u64)]) -> R) -> Option<R> {
        let mut buf = self.buf.lock();
        if !self.active.swap(false, Relaxed) {
            return None;
        }
        let r = f(&buf);
        buf.clear();
        Some(r)
    }

    pub(crate) fn reset(&self) {
        let mut buf = self.buf.lock();
        buf.clear();
        self.active.store(false, Relaxed);
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        BATCH_CAPACITY * size_of::<(PairId, u64)>()
    }
}
