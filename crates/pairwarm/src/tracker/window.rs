//! The co-occurrence window: a fixed ring of the most recent `(handle, ts)` updates.
//!
//! The original kept a map of every pair's last update and walked all of it on every
//! update. Here an update is appended to a ring (one `fetch_add` and two stores, no lock)
//! and a call scans the ring newest-first, stopping at the first entry older than the
//! window, after `max_credits_per_update` distinct pairs, or after [`Window::scan_limit`]
//! entries — whichever comes first — so the work per call is bounded whatever the burst.
//! The first time a scan meets a pair is that pair's latest update, which is exactly the
//! original's "last update of each other pair within the window" rule.
//!
//! Entries hold tracker handles (slot + generation), never raw slots: an entry of a pair
//! evicted since fails [`super::index::Directory::resolve`] and is skipped.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

pub(crate) struct Window {
    handles: Box<[AtomicU32]>,
    ts: Box<[AtomicU64]>,
    head: AtomicU64,
    mask: u64,
    scan_limit: usize,
}

impl Window {
    /// A ring able to hold `scan_limit` entries (rounded up to a power of two, at least 256).
    pub(crate) fn new(scan_limit: usize) -> Self {
        let capacity = scan_limit.max(256).next_power_of_two();
        Self {
            handles: (0..capacity).map(|_| AtomicU32::new(0)).collect(),
            ts: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            head: AtomicU64::new(0),
            mask: capacity as u64 - 1,
            scan_limit,
        }
    }

    #[inline]
    pub(crate) fn push(&self, handle: u32, ts_ms: u64) {
        let i = (self.head.fetch_add(1, Relaxed) & self.mask) as usize;
        self.ts[i].store(ts_ms, Relaxed);
        self.handles[i].store(handle, Relaxed);
    }

    /// Recent entries, newest first, at most `scan_limit` of them. Empty slots (handle 0)
    /// are skipped. Under concurrent pushes an entry may be read half-written; the worst
    /// outcome is one credit with a neighbouring entry's timestamp.
    #[inline]
    pub(crate) fn recent(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        let head = self.head.load(Relaxed);
        let n = head.min(self.mask + 1).min(self.scan_limit as u64);
        (1..=n).filter_map(move |back| {
            let i = (head.wrapping_sub(back) & self.mask) as usize;
            let handle = self.handles[i].load(Relaxed);
            (handle != 0).then(|| (handle, self.ts[i].load(Relaxed)))
        })
    }

    pub(crate) fn clear(&self) {
        for h in self.handles.iter() {
            h.store(0, Relaxed);
        }
        self.head.store(0, Relaxed);
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.handles.len() * size_of::<AtomicU32>() + self.ts.len() * size_of::<AtomicU64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_and_bounded() {
        let w = Window::new(4);
        for i in 1..=300u32 {
            w.push(i, u64::from(i));
        }
        let got: Vec<_> = w.recent().collect();
        assert_eq!(got, vec![(300, 300), (299, 299), (298, 298), (297, 297)]);
        w.clear();
        assert_eq!(w.recent().count(), 0);
    }
}
