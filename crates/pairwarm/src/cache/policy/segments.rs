//! W-TinyLFU's segments: a window LRU, then main as a segmented LRU (probation + protected;
//! a protected share of 0 makes main one LRU) with TinyLFU admission (or a recency filter,
//! [`Admission`]) from the window into main.
//! The mechanics shared by the cache ([`super::wtinylfu`]) and by its miniature simulations
//! ([`super::tuner`]); what sizes the window and picks the admission is theirs to decide.

use super::arena::{Arena, SPECULATIVE};
use super::sketch::FrequencySketch;
use crate::cache::entry::{Evictions, L1Entry};
use crate::pair::PairId;

pub(super) const WINDOW: u8 = 0;
pub(super) const PROBATION: u8 = 1;
pub(super) const PROTECTED: u8 = 2;
/// Share of main kept for entries hit in probation (Caffeine's 80%).
const PROTECTED_SHARE: f64 = 0.8;
/// A candidate this frequent is admitted at random 1 time in 128 even if it loses, so an
/// attacker (or an unlucky hash) cannot pin main (Caffeine's HashDoS guard).
const RANDOM_ADMIT_FREQUENCY: u8 = 6;
/// Under [`Admission::Filter`], a window victim seen this often (by the sketch, so a pool
/// read again soon after it left counts its earlier reads) enters main.
const FILTER_MIN_FREQUENCY: u8 = 2;

/// How a window victim gets into a full main.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// TinyLFU: the candidate must have been more frequent than main's victim.
    Contest,
    /// A recency filter, as S3-FIFO's small queue and ghost: a candidate seen at least
    /// [`FILTER_MIN_FREQUENCY`] times recently enters main and main's next victim (the
    /// oldest of probation, else of the unread guesses, else of protected)
    /// leaves, whatever its count. One-time reads are kept out as by the contest, but a new
    /// hot set is not held back by the counts of the one it replaced.
    Filter,
}

/// Entries stored before the returned time (ms) are expired at `now_ms` under `ttl_ms`
/// (0: none, without a TTL): fresh iff `now - stored < ttl`, as the cache checks it.
#[inline]
pub(super) fn stale_before(ttl_ms: Option<u64>, now_ms: u64) -> u64 {
    ttl_ms.map_or(0, |ttl| now_ms.checked_sub(ttl).map_or(0, |t| t + 1))
}

/// One configuration of the segments: a window share, an admission rule and main's
/// protected share.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Candidate {
    /// The window, as a share of the capacity (1.0: the whole cache, i.e. LRU).
    pub(crate) share: f64,
    pub(crate) admission: Admission,
    /// Share of main kept for entries hit in probation (0: main is one LRU).
    pub(crate) protected: f64,
}

impl Candidate {
    /// A window of `share` with TinyLFU's frequency contest.
    pub(crate) const fn contest(share: f64) -> Self {
        Self {
            share,
            admission: Admission::Contest,
            protected: PROTECTED_SHARE,
        }
    }

    /// A window of `share` with the recency filter.
    pub(crate) const fn filter(share: f64) -> Self {
        Self {
            share,
            admission: Admission::Filter,
            protected: PROTECTED_SHARE,
        }
    }

    /// The recency filter in front of a main that is one LRU (no protected segment).
    pub(crate) const fn filter_lru(share: f64) -> Self {
        Self {
            share,
            admission: Admission::Filter,
            protected: 0.0,
        }
    }
}

/// What the segments need of a stored value: when it was stored, so an expired entry (under
/// an L1 TTL) leaves before a live one.
pub(super) trait Stamped: Copy {
    /// The time the value was written, loaded or warmed (ms; 0 without a TTL).
    fn stored_ms(&self) -> u64;
}

impl Stamped for L1Entry {
    #[inline]
    fn stored_ms(&self) -> u64 {
        self.stored_ms
    }
}

/// The miniature simulations store only the stamp.
impl Stamped for u64 {
    #[inline]
    fn stored_ms(&self) -> u64 {
        *self
    }
}

/// Window + main (probation, protected) over one arena, with TinyLFU admission or the
/// recency filter ([`Admission`]): the mechanics shared by the cache and by its miniature
/// simulations ([`super::tuner::WindowTuner`]).
pub(super) struct Segments<E = L1Entry> {
    pub(super) arena: Arena<E>,
    /// Entries stored before this time (ms) are expired (0: none, no TTL). Set by the owner
    /// before each insert. An expired entry is dead weight — its next read misses anyway —
    /// so in a full cache it leaves before any live one: a window entry that expired is
    /// not admitted into main, and an expired victim never wins the frequency contest. Without this, under a
    /// TTL shorter than the gap between a pool's reads, main filled with frequent but
    /// expired pools and the policy fell below LRU (0.7 points at 128 entries on a
    /// single-chain trace with 12 s blocks and a 3 s TTL).
    pub(super) stale_before_ms: u64,
    capacity: usize,
    window_max: usize,
    protected_max: usize,
    /// Moves between segments per call at most ([`MAX_TRANSFER`] or unbounded).
    transfer: usize,
    admission: Admission,
    protected_share: f64,
    rng: u64,
}

impl<E: Stamped> Segments<E> {
    /// `arena` of `capacity` nodes running `candidate`; `transfer` bounds the moves per call.
    pub(super) fn new(
        arena: Arena<E>,
        capacity: usize,
        candidate: Candidate,
        transfer: usize,
    ) -> Self {
        let capacity = capacity.max(1);
        let mut s = Self {
            arena,
            stale_before_ms: 0,
            capacity,
            window_max: 1,
            protected_max: 0,
            transfer,
            admission: candidate.admission,
            protected_share: candidate.protected,
            rng: 0x2545_F491_4F6C_DD1D,
        };
        s.set_window_share(candidate.share);
        s
    }

    /// Entries it holds at most.
    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries protected holds at most.
    #[cfg(test)]
    pub(super) fn protected_max(&self) -> usize {
        self.protected_max
    }

    /// The window's size, in entries.
    pub(super) fn window(&self) -> usize {
        self.window_max
    }

    pub(super) fn set_window_share(&mut self, share: f64) {
        self.set_window((self.capacity as f64 * share).round() as usize);
    }

    /// How window victims get into a full main.
    #[cfg(test)]
    pub(super) fn admission(&self) -> Admission {
        self.admission
    }

    /// Runs `candidate`'s window, admission and protected share from the next insert on
    /// (an oversized protected segment drains by bounded moves per call).
    pub(super) fn set_candidate(&mut self, candidate: Candidate) {
        self.admission = candidate.admission;
        self.protected_share = candidate.protected;
        self.set_window_share(candidate.share);
    }

    pub(super) fn set_window(&mut self, window: usize) {
        self.window_max = window.clamp(1, self.capacity);
        self.protected_max =
            ((self.capacity - self.window_max) as f64 * self.protected_share).floor() as usize;
    }

    /// A hit: LRU move within window/protected, promotion from probation. A warmed entry's
    /// first access makes it what a demand load would have made it: the newest of the
    /// window (it may overflow the window until the next insert rebalances).
    ///
    /// At a 100% window (the tuner's LRU) main has no room of its own, and a hit moves a
    /// main entry left from the window run before into the window: the cache is then
    /// exactly LRU for every entry read since the switch. Before round 18 such an entry
    /// stayed in probation, which is evicted first, so after each switch to LRU the
    /// entries read most recently went before older ones that had been loaded into the
    /// window (on ph-h450-p15-z0.0-c2 @ 512, -0.38 below LRU instead of -0.28;
    /// docs/simulation.md, round 18).
    #[inline]
    pub(super) fn touch(&mut self, ix: u32) {
        match self.arena.node(ix).queue {
            WINDOW => self.arena.move_back(ix, WINDOW),
            SPECULATIVE => self.arena.guess_taken(ix, WINDOW),
            _ if self.window_max >= self.capacity => self.arena.move_back(ix, WINDOW),
            PROBATION => {
                self.arena.move_back(ix, PROTECTED);
                self.demote_protected();
            }
            _ => self.arena.move_back(ix, PROTECTED),
        }
    }

    fn demote_protected(&mut self) {
        let mut moves = 0;
        while self.arena.queue_len(PROTECTED) > self.protected_max && moves <= self.transfer {
            moves += 1;
            let Some(ix) = self.arena.front(PROTECTED) else {
                break;
            };
            self.arena.move_back(ix, PROBATION);
        }
    }

    /// A new entry at the back of the window, then [`Self::rebalance`].
    pub(super) fn add(
        &mut self,
        id: PairId,
        entry: E,
        sketch: &FrequencySketch,
        evicted: &mut Evictions,
    ) {
        self.arena.insert_back(id, entry, WINDOW, 0);
        self.rebalance(sketch, evicted);
    }

    /// Main's next victim (probation first), then unread guesses, then the window's.
    pub(super) fn victim(&self) -> Option<u32> {
        self.arena
            .front(PROBATION)
            .or_else(|| self.arena.front(SPECULATIVE))
            .or_else(|| self.arena.front(PROTECTED))
            .or_else(|| self.arena.front(WINDOW))
    }

    /// The least recent entry of probation, else of protected, if it has expired (never
    /// without a TTL).
    #[inline]
    fn expired_victim(&self) -> Option<u32> {
        if self.stale_before_ms == 0 {
            return None;
        }
        [PROBATION, PROTECTED]
            .into_iter()
            .filter_map(|q| self.arena.front(q))
            .find(|&ix| self.expired(ix))
    }

    /// The least recent entry of probation, protected or the window, if it has expired:
    /// a slot a guess may take (never without a TTL). The window counts here: at a 100%
    /// window (the tuner's LRU) the whole cache is the window, and without it a guess
    /// found no expired slot at all while LRU ran.
    pub(super) fn expired_front(&self) -> Option<u32> {
        if self.stale_before_ms == 0 {
            return None;
        }
        [PROBATION, PROTECTED, WINDOW]
            .into_iter()
            .filter_map(|q| self.arena.front(q))
            .find(|&ix| self.expired(ix))
    }

    /// Whether the entry at `ix` has expired.
    #[inline]
    pub(super) fn expired(&self, ix: u32) -> bool {
        self.arena.node(ix).entry.stored_ms() < self.stale_before_ms
    }

    /// Moves window overflow into main (with the admission rule when full; at most
    /// `transfer` moves beyond the first) and evicts down to the capacity. Expired entries
    /// leave first (see [`Self::stale_before_ms`]).
    fn rebalance(&mut self, sketch: &FrequencySketch, evicted: &mut Evictions) {
        self.arena.trim_speculative(self.capacity, evicted);
        let mut moves = 0;
        while self.arena.queue_len(WINDOW) > self.window_max && moves <= self.transfer {
            moves += 1;
            let Some(candidate) = self.arena.front(WINDOW) else {
                break;
            };
            if self.arena.len() <= self.capacity {
                self.arena.move_back(candidate, PROBATION);
                continue;
            }
            if self.expired(candidate) {
                self.arena.evict(candidate, evicted);
                continue;
            }
            // An expired entry at the cold end of probation or protected leaves without a
            // contest; otherwise main's next victim competes with the candidate.
            let expired = self.expired_victim();
            let victim = expired.or_else(|| {
                self.arena
                    .front(PROBATION)
                    .or_else(|| self.arena.front(SPECULATIVE))
                    .or_else(|| self.arena.front(PROTECTED))
            });
            match victim {
                Some(victim) if expired.is_some() || self.admit(sketch, candidate, victim) => {
                    self.arena.evict(victim, evicted);
                    self.arena.move_back(candidate, PROBATION);
                }
                _ => {
                    self.arena.evict(candidate, evicted);
                }
            }
        }
        while self.arena.len() > self.capacity {
            let Some(victim) = self.expired_victim().or_else(|| self.victim()) else {
                break;
            };
            self.arena.evict(victim, evicted);
        }
        self.demote_protected();
    }

    fn admit(&mut self, sketch: &FrequencySketch, candidate: u32, victim: u32) -> bool {
        if self.arena.node(victim).queue == SPECULATIVE {
            return true;
        }
        let c = sketch.frequency(self.arena.node(candidate).id);
        if self.admission == Admission::Filter {
            return c >= FILTER_MIN_FREQUENCY;
        }
        let v = sketch.frequency(self.arena.node(victim).id);
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
}
