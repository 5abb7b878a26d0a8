//! W-TinyLFU with an adaptive window (Einziger, Friedman, Manes: "TinyLFU: A Highly Efficient
//! Cache Admission Policy", ACM ToS 2017; "Adaptive Software Cache Management",
//! Middleware 2018 — the policy of Caffeine).
//!
//! New entries enter a small LRU *window*; what leaves the window competes for the *main*
//! segmented LRU (probation + protected) against main's next victim, by estimated frequency
//! (a count-min sketch of every request). A hill climber moves capacity between window and
//! main from the observed hit rate: recency-heavy phases grow the window (towards LRU),
//! frequency-heavy phases shrink it (towards LFU). That adaptivity is the point: a fixed
//! split tuned to one workload is what lost 8-9 points to LRU on another.
//!
//! Hand-written because no maintained crate has the adaptive window: moka and foyer implement
//! TinyLFU with a fixed (or no) window, and neither exposes what a speculative (warmed)
//! insert needs.

use super::arena::{Arena, SPECULATIVE};
use super::climber::HillClimber;
use super::sketch::FrequencySketch;
use super::{Insert, Inserted};
use crate::cache::entry::{Evictions, L1Entry};
use crate::pair::PairId;

const WINDOW: u8 = 0;
const PROBATION: u8 = 1;
const PROTECTED: u8 = 2;
/// Share of main kept for entries hit in probation (Caffeine's 80%).
const PROTECTED_SHARE: f64 = 0.8;
/// Caffeine's window: 1% of the capacity (the fixed variant keeps it).
const CAFFEINE_WINDOW: f64 = 0.01;
/// Where the adaptive window starts: halfway between LRU and LFU, so the climber has to
/// learn the direction rather than climb out of one extreme. Caffeine starts at 1%; on our
/// eight evaluation workloads that start left small caches of recency-heavy traces 2.6
/// points below LRU for most of a 300k-event trace (the climb takes ~8 samples of 1,000
/// requests), while a 50% start was never below LRU and gave up 1 point of the mean
/// advantage (+4.0 instead of +5.1 points over LRU; docs/simulation.md).
const INITIAL_WINDOW: f64 = 0.5;
/// A candidate this frequent is admitted at random 1 time in 128 even if it loses, so an
/// attacker (or an unlucky hash) cannot pin main (Caffeine's HashDoS guard).
const RANDOM_ADMIT_FREQUENCY: u8 = 6;

pub(crate) struct WTinyLfu {
    arena: Arena,
    sketch: FrequencySketch,
    climber: Option<HillClimber>,
    capacity: usize,
    window_max: usize,
    protected_max: usize,
    rng: u64,
}

impl WTinyLfu {
    pub(crate) fn new(capacity: usize, adaptive: bool) -> Self {
        let capacity = capacity.max(1);
        let initial = if adaptive {
            INITIAL_WINDOW
        } else {
            CAFFEINE_WINDOW
        };
        let window_max = ((capacity as f64 * initial).round() as usize).max(1);
        let mut p = Self {
            arena: Arena::new(capacity),
            sketch: FrequencySketch::new(capacity),
            climber: adaptive.then(|| HillClimber::new(capacity, 1.0)),
            capacity,
            window_max,
            protected_max: 0,
            rng: 0x2545_F491_4F6C_DD1D,
        };
        p.set_window(window_max);
        p
    }

    fn set_window(&mut self, window: usize) {
        self.window_max = window.clamp(1, self.capacity);
        self.protected_max =
            ((self.capacity - self.window_max) as f64 * PROTECTED_SHARE).floor() as usize;
    }

    pub(crate) fn len(&self) -> usize {
        self.arena.len()
    }

    pub(crate) fn peek(&self, id: PairId) -> Option<L1Entry> {
        self.arena.find(id).map(|ix| self.arena.node(ix).entry)
    }

    /// A request: counted in the sketch and the climber. Never evicts: a new window size
    /// takes effect at the next insert.
    #[inline]
    pub(crate) fn get(&mut self, id: PairId) -> Option<L1Entry> {
        self.sketch.increment(id);
        let found = self.arena.find(id);
        // The climber judges the policy, not the warmer: a hit on an unread warmed entry
        // is one the policy alone would have missed.
        let own_hit = found.is_some_and(|ix| self.arena.node(ix).queue != SPECULATIVE);
        match found {
            Some(ix) => self.touch(ix),
            None => self.arena.missed(id),
        }
        if let Some(adjust) = self.climber.as_mut().and_then(|c| c.record(own_hit)) {
            let window = (self.window_max as i64 + adjust).max(1) as usize;
            self.set_window(window);
        }
        found.map(|ix| self.arena.node(ix).entry)
    }

    /// A hit: LRU move within window/protected, promotion from probation. A warmed entry's
    /// first access makes it what a demand load would have made it: the newest of the
    /// window (it may overflow the window until the next insert rebalances).
    #[inline]
    fn touch(&mut self, ix: u32) {
        match self.arena.node(ix).queue {
            WINDOW => self.arena.move_back(ix, WINDOW),
            SPECULATIVE => self.arena.guess_taken(ix, WINDOW),
            PROBATION => {
                self.arena.move_back(ix, PROTECTED);
                self.demote_protected();
            }
            _ => self.arena.move_back(ix, PROTECTED),
        }
    }

    fn demote_protected(&mut self) {
        while self.arena.queue_len(PROTECTED) > self.protected_max {
            let Some(ix) = self.arena.front(PROTECTED) else {
                break;
            };
            self.arena.move_back(ix, PROBATION);
        }
    }

    pub(crate) fn insert(
        &mut self,
        id: PairId,
        entry: L1Entry,
        kind: Insert,
        evicted: &mut Evictions,
    ) -> Inserted {
        if let Some(ix) = self.arena.find(id) {
            self.arena.node_mut(ix).entry = entry;
            if kind == Insert::Write {
                self.sketch.increment(id);
                if self.arena.node(ix).queue == SPECULATIVE {
                    // Overwritten before it was read: not a guess that paid.
                    self.arena.move_back(ix, WINDOW);
                } else {
                    self.touch(ix);
                }
            }
            return Inserted::Replaced;
        }
        match kind {
            Insert::Refresh => Inserted::Skipped,
            Insert::Warm { stale_before_ms } => {
                self.insert_speculative(id, entry, stale_before_ms, evicted)
            }
            Insert::Write | Insert::Load => {
                if kind == Insert::Write {
                    self.sketch.increment(id);
                }
                self.arena.insert_back(id, entry, WINDOW, 0);
                self.rebalance(evicted);
                Inserted::Added
            }
        }
    }

    /// A warmed entry is a guess (see [`Insert::Warm`]): it may displace an expired
    /// victim, an older unread guess, or probation's next victim — never the window's or
    /// protected entries.
    fn insert_speculative(
        &mut self,
        id: PairId,
        entry: L1Entry,
        stale_before_ms: u64,
        evicted: &mut Evictions,
    ) -> Inserted {
        let next = self.victim();
        let probation = self.arena.front(PROBATION);
        self.arena.admit_guess(
            id,
            entry,
            self.capacity,
            (next, probation),
            stale_before_ms,
            evicted,
        )
    }

    /// Main's next victim (probation first), then unread guesses, then the window's.
    fn victim(&self) -> Option<u32> {
        self.arena
            .front(PROBATION)
            .or_else(|| self.arena.front(SPECULATIVE))
            .or_else(|| self.arena.front(PROTECTED))
            .or_else(|| self.arena.front(WINDOW))
    }

    /// Moves window overflow into main (with TinyLFU admission when full) and evicts down to
    /// the capacity.
    fn rebalance(&mut self, evicted: &mut Evictions) {
        self.arena.trim_speculative(self.capacity, evicted);
        while self.arena.queue_len(WINDOW) > self.window_max {
            let Some(candidate) = self.arena.front(WINDOW) else {
                break;
            };
            if self.arena.len() <= self.capacity {
                self.arena.move_back(candidate, PROBATION);
                continue;
            }
            let victim = self
                .arena
                .front(PROBATION)
                .or_else(|| self.arena.front(SPECULATIVE))
                .or_else(|| self.arena.front(PROTECTED));
            match victim {
                Some(victim) if self.admit(candidate, victim) => {
                    self.arena.evict(victim, evicted);
                    self.arena.move_back(candidate, PROBATION);
                }
                _ => {
                    self.arena.evict(candidate, evicted);
                }
            }
        }
        while self.arena.len() > self.capacity {
            let Some(victim) = self.victim() else {
                break;
            };
            self.arena.evict(victim, evicted);
        }
        self.demote_protected();
    }

    fn admit(&mut self, candidate: u32, victim: u32) -> bool {
        if self.arena.node(victim).queue == SPECULATIVE {
            return true;
        }
        let c = self.sketch.frequency(self.arena.node(candidate).id);
        let v = self.sketch.frequency(self.arena.node(victim).id);
        if c > v {
            return true;
        }
        if c >= RANDOM_ADMIT_FREQUENCY {
            // xorshift64: deterministic, so replays are reproducible.
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            return self.rng & 127 == 0;
        }
        false
    }

    pub(crate) fn remove(&mut self, id: PairId) -> bool {
        self.arena.remove_id(id)
    }

    pub(crate) fn clear(&mut self) {
        self.arena.clear();
        self.sketch.clear();
        if let Some(c) = &mut self.climber {
            c.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Price;

    fn entry() -> L1Entry {
        L1Entry {
            price: Price::new(1.0, 0, 0),
            stored_ms: 0,
        }
    }

    const WARM: Insert = Insert::Warm { stale_before_ms: 0 };

    /// A warm into a full cache is turned away until guesses have shown they earn more than
    /// the marginal slots; then it takes probation's next victim (never a protected entry)
    /// and, once the quota of unread guesses is held, the oldest unread guess.
    #[test]
    fn warms_displace_only_probation_and_only_once_guesses_pay() {
        let id = PairId::from_raw;
        let mut p = WTinyLfu::new(64, false);
        let mut ev = Evictions::default();
        for i in 0..64 {
            p.insert(id(i), entry(), Insert::Write, &mut ev);
        }
        for i in 0..64 {
            p.get(id(i));
        }
        assert!(ev.is_empty());
        assert_eq!(p.len(), 64);
        assert_eq!(
            p.insert(id(1000), entry(), WARM, &mut ev),
            Inserted::Skipped
        );
        // Guesses turned away and then read (misses they would have served) open the gate.
        for g in 2000..2008 {
            assert_eq!(p.insert(id(g), entry(), WARM, &mut ev), Inserted::Skipped);
            assert!(p.get(id(g)).is_none());
        }
        let probation_front = |p: &WTinyLfu| p.arena.front(PROBATION).map(|ix| p.arena.node(ix).id);
        let protected: Vec<PairId> = (0..64)
            .map(id)
            .filter(|&i| {
                p.arena
                    .find(i)
                    .is_some_and(|ix| p.arena.node(ix).queue == PROTECTED)
            })
            .collect();
        assert!(!protected.is_empty());
        // The quota at 64 entries is 2 guesses: each of the first two takes probation's
        // next victim.
        for g in [3000, 3001] {
            let victim = probation_front(&p).expect("probation is not empty");
            ev = Evictions::default();
            assert_eq!(p.insert(id(g), entry(), WARM, &mut ev), Inserted::Added);
            assert_eq!(ev.iter().collect::<Vec<_>>(), vec![victim]);
            assert!(!protected.contains(&victim));
        }
        // The third replaces the oldest unread guess.
        ev = Evictions::default();
        assert_eq!(p.insert(id(3002), entry(), WARM, &mut ev), Inserted::Added);
        assert_eq!(ev.iter().collect::<Vec<_>>(), vec![id(3000)]);
        assert_eq!(p.len(), 64);
        // A read guess becomes an ordinary entry of the window.
        assert!(p.get(id(3001)).is_some());
        let ix = p.arena.find(id(3001)).expect("present");
        assert_eq!(p.arena.node(ix).queue, WINDOW);
    }
}
