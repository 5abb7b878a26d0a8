//! A bounded FIFO of recently evicted ids ("ghosts"): remembers that a key was resident
//! without keeping its value, so a policy can tell a returning key from a new one.

use std::collections::{HashMap, VecDeque};

use crate::pair::PairId;

pub(super) struct Ghosts {
    ring: VecDeque<(PairId, u32)>,
    /// id -> the sequence number of its latest entry in `ring`.
    live: HashMap<PairId, u32, foldhash::fast::FixedState>,
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
        if self.capacity == 0 {
            return;
        }
        while self.ring.len() >= self.capacity {
            if let Some((old, seq)) = self.ring.pop_front()
                && self.live.get(&old) == Some(&seq)
            {
                self.live.remove(&old);
            }
        }
        self.seq = self.seq.wrapping_add(1);
        self.ring.push_back((id, self.seq));
        self.live.insert(id, self.seq);
    }

    /// Whether `id` is a ghost; forgets it (a key returns once).
    pub(super) fn take(&mut self, id: PairId) -> bool {
        self.live.remove(&id).is_some()
    }

    pub(super) fn clear(&mut self) {
        self.ring.clear();
        self.live.clear();
    }
}
