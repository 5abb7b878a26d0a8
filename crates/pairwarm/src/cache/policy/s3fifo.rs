//! S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction", SOSP 2023):
//! a small FIFO (10% of the capacity) filters one-hit wonders, a main FIFO with 2-bit
//! frequencies and reinsertion (a CLOCK) holds what was requested again, and a ghost FIFO
//! of evicted ids sends returning keys straight to main.
//!
//! Hand-written rather than `foyer-memory`'s (measured in `benches/cache.rs`): foyer's
//! insert of a present key replaces the record, which restarts it in the small queue with
//! zero frequency; in a price cache every update is such an insert, so hot pools would be
//! demoted on every price change. Here an update is an access and keeps the entry's place.

use super::arena::{Arena, SPECULATIVE};
use super::ghost::Ghosts;
use super::{Insert, Inserted};
use crate::cache::entry::{Evictions, L1Entry};
use crate::pair::PairId;

const SMALL: u8 = 0;
const MAIN: u8 = 1;
const MAX_FREQ: u8 = 3;
/// Small queue's share of the capacity (the paper's 10%).
const SMALL_SHARE: f64 = 0.1;

pub(crate) struct S3Fifo {
    arena: Arena,
    ghosts: Ghosts,
    capacity: usize,
    small_max: usize,
}

impl S3Fifo {
    /// Entries the policy holds at most.
    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The node slab, to choose its id index right after construction.
    pub(super) fn arena_mut(&mut self) -> &mut Arena {
        &mut self.arena
    }

    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            arena: Arena::new(capacity),
            // The paper's ghost holds as many ids as main holds entries.
            ghosts: Ghosts::new(capacity),
            capacity,
            small_max: ((capacity as f64 * SMALL_SHARE).round() as usize).max(1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.arena.len()
    }

    pub(crate) fn peek(&self, id: PairId) -> Option<L1Entry> {
        self.arena.find(id).map(|ix| self.arena.node(ix).entry)
    }

    /// A read; the flag: it took an unread warmed entry. `now_us`: see [`Arena::missed`].
    pub(crate) fn get(
        &mut self,
        id: PairId,
        now_us: impl FnOnce() -> u64,
    ) -> Option<(L1Entry, bool)> {
        let Some(ix) = self.arena.find(id) else {
            self.arena.missed(id, now_us);
            return None;
        };
        let guess = self.arena.node(ix).queue == SPECULATIVE;
        // A warmed entry's first read makes it what a demand load would be.
        Some((self.arena.clock_hit(ix, SMALL, MAX_FREQ), guess))
    }

    pub(crate) fn insert(
        &mut self,
        id: PairId,
        entry: L1Entry,
        kind: Insert,
        evicted: &mut Evictions,
    ) -> Inserted {
        if let Some(ix) = self.arena.find(id) {
            return self.arena.clock_replace(ix, entry, kind, SMALL, MAX_FREQ);
        }
        // An entry of the slot's older pair goes before room is made for this one.
        self.arena.drop_stale(id);
        match kind {
            Insert::Refresh => Inserted::Skipped,
            Insert::Warm { stale_before_ms } => self.arena.admit_guess_clock(
                (id, entry),
                self.capacity,
                (SMALL, MAIN),
                stale_before_ms,
                evicted,
            ),
            Insert::Write | Insert::Load => {
                self.arena
                    .trim_speculative(self.capacity.saturating_sub(1), evicted);
                while self.arena.len() >= self.capacity {
                    if !self.evict(evicted) {
                        break;
                    }
                }
                let queue = if self.ghosts.take(id) { MAIN } else { SMALL };
                self.arena.insert_back(id, entry, queue, 0);
                Inserted::Added
            }
        }
    }

    fn evict(&mut self, evicted: &mut Evictions) -> bool {
        if self.arena.queue_len(SMALL) >= self.small_max || self.arena.queue_len(MAIN) == 0 {
            while let Some(ix) = self.arena.front(SMALL) {
                let node = self.arena.node(ix);
                if node.freq > 0 {
                    self.arena.node_mut(ix).freq = 0;
                    self.arena.move_back(ix, MAIN);
                    if self.arena.queue_len(MAIN) > self.capacity.saturating_sub(self.small_max) {
                        return self.evict_main(evicted);
                    }
                    continue;
                }
                let gone = self.arena.evict(ix, evicted);
                self.ghosts.push(gone);
                return true;
            }
        }
        self.evict_main(evicted)
    }

    fn evict_main(&mut self, evicted: &mut Evictions) -> bool {
        while let Some(ix) = self.arena.front(MAIN) {
            let node = self.arena.node_mut(ix);
            if node.freq > 0 {
                node.freq -= 1;
                self.arena.move_back(ix, MAIN);
                continue;
            }
            self.arena.evict(ix, evicted);
            return true;
        }
        // Main empty: the small queue is all there is, then unread guesses.
        match self.arena.front(SMALL) {
            Some(ix) => {
                let gone = self.arena.evict(ix, evicted);
                self.ghosts.push(gone);
                true
            }
            None => self.arena.evict_speculative(evicted),
        }
    }

    pub(crate) fn remove(&mut self, id: PairId) -> bool {
        self.arena.remove_id(id)
    }

    pub(crate) fn clear(&mut self) {
        self.arena.clear();
        self.ghosts.clear();
    }
}
