//! The asynchronous warming queue: bounded, newest wins, one pending warm per pair.
//!
//! Triggers come from the price-update path, so enqueueing allocates nothing and never
//! waits: a fixed lock-free ring (crossbeam's `ArrayQueue`, whose `force_push` replaces the
//! oldest job when full) and one "pending" flag per interner slot for de-duplication. The
//! ring sits behind a read-write lock that pushes and pops share (one uncontended atomic
//! add); only a capacity change (`update_config`) takes it exclusively, to swap the ring.

use crossbeam_queue::ArrayQueue;
use parking_lot::RwLock;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

use crate::pair::PairId;

/// A warm waiting to run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Job {
    pub(crate) pair: PairId,
    pub(crate) now_ms: u64,
}

/// What happened to a trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Enqueued {
    /// Queued; the worker will run it.
    Queued,
    /// A warm for the same pair is already queued or running; nothing was added.
    Debounced,
    /// Queued, and the oldest queued job was dropped to make room.
    DroppedOldest(PairId),
}

pub(crate) struct WarmQueue {
    jobs: RwLock<ArrayQueue<Job>>,
    pending: Box<[AtomicBool]>,
    slot_mask: u32,
    pub(crate) wake: Arc<Notify>,
}

impl WarmQueue {
    /// A queue of `capacity` jobs for pairs of an interner with `slots` slots.
    pub(crate) fn new(capacity: usize, slots: usize, slot_mask: u32) -> Self {
        Self {
            jobs: RwLock::new(ArrayQueue::new(capacity.max(1))),
            pending: (0..slots).map(|_| AtomicBool::new(false)).collect(),
            slot_mask,
            wake: Arc::new(Notify::new()),
        }
    }

    fn flag(&self, pair: PairId) -> Option<&AtomicBool> {
        self.pending.get((pair.raw() & self.slot_mask) as usize)
    }

    pub(crate) fn push(&self, job: Job) -> Enqueued {
        if let Some(flag) = self.flag(job.pair)
            && flag.swap(true, Ordering::AcqRel)
        {
            return Enqueued::Debounced;
        }
        let outcome = match self.jobs.read().force_push(job) {
            None => Enqueued::Queued,
            Some(dropped) => {
                self.done(dropped.pair);
                Enqueued::DroppedOldest(dropped.pair)
            }
        };
        self.wake.notify_one();
        outcome
    }

    pub(crate) fn pop(&self) -> Option<Job> {
        self.jobs.read().pop()
    }

    /// Replaces the ring with one of `capacity` jobs, keeping the newest queued jobs;
    /// returns the pairs of the jobs that no longer fit (already marked done).
    pub(crate) fn resize(&self, capacity: usize) -> Vec<PairId> {
        let capacity = capacity.max(1);
        let mut jobs = self.jobs.write();
        if jobs.capacity() == capacity {
            return Vec::new();
        }
        let resized = ArrayQueue::new(capacity);
        let mut dropped = Vec::new();
        while let Some(job) = jobs.pop() {
            if let Some(old) = resized.force_push(job) {
                self.done(old.pair);
                dropped.push(old.pair);
            }
        }
        *jobs = resized;
        dropped
    }

    /// Marks `pair`'s warm finished (or dropped): the next trigger queues again.
    pub(crate) fn done(&self, pair: PairId) {
        if let Some(flag) = self.flag(pair) {
            flag.store(false, Ordering::Release);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.jobs.read().len()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.jobs.read().capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(raw: u32) -> Job {
        Job {
            pair: PairId::from_raw(raw),
            now_ms: 0,
        }
    }

    #[test]
    fn debounces_and_drops_oldest() {
        let q = WarmQueue::new(2, 16, 15);
        assert_eq!(q.push(job(1)), Enqueued::Queued);
        assert_eq!(q.push(job(1)), Enqueued::Debounced);
        assert_eq!(q.push(job(2)), Enqueued::Queued);
        assert_eq!(q.push(job(3)), Enqueued::DroppedOldest(PairId::from_raw(1)));
        // The dropped pair is no longer pending, so it can be queued again.
        assert_eq!(q.push(job(1)), Enqueued::DroppedOldest(PairId::from_raw(2)));
        assert_eq!(q.len(), 2);
        let first = q.pop().unwrap();
        assert_eq!(first.pair, PairId::from_raw(3));
        // Still pending until marked done.
        assert_eq!(q.push(job(3)), Enqueued::Debounced);
        q.done(first.pair);
        assert_eq!(q.push(job(3)), Enqueued::Queued);
    }

    #[test]
    fn resize_keeps_the_newest_jobs() {
        let q = WarmQueue::new(4, 16, 15);
        for raw in 1..=4 {
            assert_eq!(q.push(job(raw)), Enqueued::Queued);
        }
        let dropped: Vec<u32> = q.resize(2).iter().map(|p| p.raw()).collect();
        assert_eq!(dropped, vec![1, 2]);
        assert_eq!((q.len(), q.capacity()), (2, 2));
        assert_eq!(q.push(job(1)), Enqueued::DroppedOldest(PairId::from_raw(3)));
        assert!(q.resize(8).is_empty());
        assert_eq!(q.pop().map(|j| j.pair.raw()), Some(4));
        assert_eq!(q.pop().map(|j| j.pair.raw()), Some(1));
    }
}
