//! A bounded FIFO of recently evicted ids ("ghosts"): remembers that a key was resident
//! without keeping its value, so a policy can tell a returning key from a new one. A ghost
//! may carry a time (the speculation gate's refused guesses: when their warm would have
//! landed).

use std::collections::{HashMap, VecDeque};

use crate::pair::PairId;

pub(super) struct Ghosts {
    ring: VecDeque<(PairId, u32)>,
    /// id -> the sequence number of its latest entry in `ring`, and its time.
    live: HashMap<PairId, (u32, u64), foldhash::fast::FixedState>,
    capacity: usize,
    seq: u32,
}

impl Ghosts {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            ring: VecDeque::with_capacity(capacity.min(1 << 16)),
            live: HashMap::with_hasher(crate::pair::fixed_hasher()),
            capacity,
            seq: 0,
        }
    }

    pub(super) fn push(&mut self, id: PairId) {
        self.push_at(id, 0);
    }

    /// Remembers `id` with a time; a newer push of the same id replaces it.
    pub(super) fn push_at(&mut self, id: PairId, at: u64) {
        if self.capacity == 0 {
            return;
        }
        while self.ring.len() >= self.capacity {
            if let Some((old, seq)) = self.ring.pop_front()
                && self.live.get(&old).map(|&(s, _)| s) == Some(seq)
            {
                self.live.remove(&old);
            }
        }
        self.seq = self.seq.wrapping_add(1);
        self.ring.push_back((id, self.seq));
        self.live.insert(id, (self.seq, at));
    }

    /// [`Ghosts::push_at`] unless `id` is a ghost already (it keeps its place and time).
    pub(super) fn push_at_if_absent(&mut self, id: PairId, at: u64) {
        if !self.live.contains_key(&id) {
            self.push_at(id, at);
        }
    }

    /// Whether `id` is a ghost; forgets it (a key returns once).
    pub(super) fn take(&mut self, id: PairId) -> bool {
        self.take_at(id).is_some()
    }

    /// The time `id` was remembered with, if it is a ghost; forgets it.
    pub(super) fn take_at(&mut self, id: PairId) -> Option<u64> {
        self.live.remove(&id).map(|(_, at)| at)
    }

    pub(super) fn clear(&mut self) {
        self.ring.clear();
        self.live.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The oldest ghost leaves when a new one arrives at capacity; a key returns once,
    /// with the time of its latest push.
    #[test]
    fn ghosts_are_bounded_returned_once_and_keep_their_latest_time() {
        let id = PairId::from_raw;
        let mut g = Ghosts::new(2);
        g.push_at(id(1), 10);
        g.push_at(id(2), 20);
        g.push_at(id(1), 30);
        // id 1's first push aged out of the ring, but its second is live.
        g.push_at(id(3), 40);
        assert_eq!(
            g.take_at(id(2)),
            None,
            "the oldest live ghost left at capacity"
        );
        assert_eq!(g.take_at(id(1)), Some(30));
        assert_eq!(g.take_at(id(1)), None, "a ghost returns once");
        assert!(g.take(id(3)));
        g.push(id(4));
        g.clear();
        assert!(!g.take(id(4)));
        // An id pushed twice: the ring's older copy leaving does not forget the newer one.
        g.push_at(id(5), 1);
        g.push_at(id(5), 2);
        g.push_at(id(6), 3);
        assert_eq!(g.take_at(id(5)), Some(2));
        // `push_at_if_absent` keeps a live ghost's time, and pushes an absent one.
        g.push_at(id(7), 10);
        g.push_at_if_absent(id(7), 20);
        g.push_at_if_absent(id(8), 30);
        assert_eq!((g.take_at(id(7)), g.take_at(id(8))), (Some(10), Some(30)));
    }
}
