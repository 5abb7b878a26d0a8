//! quick_cache's policy (a CLOCK-Pro variant close to S3-FIFO) with its hot allocation
//! adapted at run time by a hill climber.
//!
//! Entries enter a *cold* CLOCK ring (or the *hot* ring while the cache fills, or when a
//! ghost shows they were resident recently); a cold entry referenced again moves to hot when
//! the cold hand passes it, an unreferenced one leaves (its id kept as a ghost). The hot
//! ring is a CLOCK with a 2-level reference count. quick_cache fixes the hot share at
//! construction (its `hot_allocation`, 0.97 by default, 0.9 in our old default); here the
//! climber moves it between 5% and 95% from the observed hit rate.
//!
//! Hand-written because quick_cache cannot change `hot_allocation` after construction.

use super::arena::{Arena, SPECULATIVE};
use super::climber::HillClimber;
use super::ghost::Ghosts;
use super::{Insert, Inserted};
use crate::cache::entry::{Evictions, L1Entry};
use crate::pair::PairId;

const COLD: u8 = 0;
const HOT: u8 = 1;
/// quick_cache's `MAX_F`.
const MAX_REF: u8 = 2;
const MIN_HOT: f64 = 0.05;
const MAX_HOT: f64 = 0.95;

pub(crate) struct HotCold {
    arena: Arena,
    ghosts: Ghosts,
    climber: Option<HillClimber>,
    capacity: usize,
    hot_max: usize,
    /// `hot_max` when built (a restart starts the climb over from it).
    initial_hot_max: usize,
}

impl HotCold {
    /// Entries the policy holds at most.
    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The node slab, to choose its id index right after construction.
    pub(super) fn arena_mut(&mut self) -> &mut Arena {
        &mut self.arena
    }

    /// `hot_allocation`: initial share of hot entries.
    pub(crate) fn new(capacity: usize, hot_allocation: f64, adaptive: bool) -> Self {
        let capacity = capacity.max(1);
        Self {
            arena: Arena::new(capacity),
            // quick_cache's default ghost allocation: half the capacity.
            ghosts: Ghosts::new((capacity / 2).max(1)),
            climber: adaptive.then(|| HillClimber::new(capacity, -1.0)),
            capacity,
            hot_max: Self::clamp_hot(capacity, (capacity as f64 * hot_allocation) as i64),
            initial_hot_max: Self::clamp_hot(capacity, (capacity as f64 * hot_allocation) as i64),
        }
    }

    /// Empties the policy and starts the climb over from the initial hot allocation, as a
    /// new process would.
    pub(crate) fn restart(&mut self) {
        self.clear();
        self.hot_max = self.initial_hot_max;
        if let Some(c) = &mut self.climber {
            *c = HillClimber::new(self.capacity, -1.0);
        }
    }

    fn clamp_hot(capacity: usize, hot: i64) -> usize {
        let lo = (capacity as f64 * MIN_HOT).floor() as i64;
        let hi = (capacity as f64 * MAX_HOT).ceil() as i64;
        hot.clamp(lo.max(1), hi.max(1)) as usize
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
        let found = self.arena.find(id);
        if let Some(adjust) = self
            .climber
            .as_mut()
            .and_then(|c| c.record(found.is_some()))
        {
            self.hot_max = Self::clamp_hot(self.capacity, self.hot_max as i64 + adjust);
        }
        let Some(ix) = found else {
            self.arena.missed(id, now_us);
            return None;
        };
        let guess = self.arena.node(ix).queue == SPECULATIVE;
        // A warmed entry's first read makes it what a demand load would be.
        Some((self.arena.clock_hit(ix, COLD, MAX_REF), guess))
    }

    pub(crate) fn insert(
        &mut self,
        id: PairId,
        entry: L1Entry,
        kind: Insert,
        evicted: &mut Evictions,
    ) -> Inserted {
        if let Some(ix) = self.arena.find(id) {
            return self.arena.clock_replace(ix, entry, kind, COLD, MAX_REF);
        }
        // An entry of the slot's older pair goes before room is made for this one.
        self.arena.drop_stale(id);
        match kind {
            Insert::Refresh => Inserted::Skipped,
            Insert::Warm { stale_before_ms } => self.arena.admit_guess_clock(
                (id, entry),
                self.capacity,
                (COLD, HOT),
                stale_before_ms,
                evicted,
            ),
            Insert::Write | Insert::Load => {
                let returning = self.ghosts.take(id);
                let enter_hot = returning || self.arena.queue_len(HOT) < self.hot_max;
                self.arena
                    .trim_speculative(self.capacity.saturating_sub(1), evicted);
                while self.arena.len() >= self.capacity {
                    if !self.advance_cold(evicted) {
                        break;
                    }
                }
                // Make room in hot before linking the new entry, so the hand never takes
                // the entry being inserted.
                while enter_hot && self.arena.queue_len(HOT) >= self.hot_max {
                    if !self.advance_hot(evicted) {
                        break;
                    }
                }
                self.arena
                    .insert_back(id, entry, if enter_hot { HOT } else { COLD }, 0);
                Inserted::Added
            }
        }
    }

    /// One step of the cold hand: promote a referenced entry (returns true, nothing freed
    /// yet unless hot overflows) or evict an unreferenced one into the ghosts.
    fn advance_cold(&mut self, evicted: &mut Evictions) -> bool {
        let Some(ix) = self.arena.front(COLD) else {
            return self.advance_hot(evicted);
        };
        let node = self.arena.node_mut(ix);
        if node.freq > 0 {
            node.freq -= 1;
            self.arena.move_back(ix, HOT);
            while self.arena.queue_len(HOT) > self.hot_max {
                if !self.advance_hot(evicted) {
                    break;
                }
            }
            return true;
        }
        let gone = self.arena.evict(ix, evicted);
        self.ghosts.push(gone);
        true
    }

    /// The hot CLOCK hand: age referenced entries, evict the first unreferenced one.
    fn advance_hot(&mut self, evicted: &mut Evictions) -> bool {
        while let Some(ix) = self.arena.front(HOT) {
            let node = self.arena.node_mut(ix);
            if node.freq > 0 {
                node.freq -= 1;
                self.arena.move_back(ix, HOT);
                continue;
            }
            self.arena.evict(ix, evicted);
            return true;
        }
        self.arena.evict_speculative(evicted)
    }

    pub(crate) fn remove(&mut self, id: PairId) -> bool {
        self.arena.remove_id(id)
    }

    pub(crate) fn clear(&mut self) {
        self.arena.clear();
        self.ghosts.clear();
        if let Some(c) = &mut self.climber {
            c.clear();
        }
    }
}
