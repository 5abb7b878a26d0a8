//! Whether guesses pay for their slots: the gate of the speculative region.
//!
//! Warmed entries not read yet hold slots of their own ([`super::arena::SPECULATIVE`]). Each
//! such slot is taken from the real entries, so speculation pays only if a guess slot earns
//! more hits than the cache's *marginal* slot would. Both are measured with ghosts (ids
//! without values, as ARC measures its lists), so the measurement itself costs no slot:
//! a hit a guess slot earned is a read of an unread guess, or a missed read of one of the
//! last `quota` guesses that were *not* admitted; a hit `quota` more real slots would have
//! earned is a missed read of one of the last `quota` real entries evicted. While guesses
//! earn more, they may hold up to `quota` slots at capacity; otherwise none (they still
//! take free or expired slots, and are the first to leave).
//!
//! A guess is counted as turned away either when it is refused at admission, with its value
//! landed, or when the warm check before a fetch (`Arena::guess_has_room`) refuses it; then
//! a later missed read counts only if it comes after the time the warm would have landed
//! (`lands_at_us`: the check's time plus the cache's warm lead, about two L2 round trips).
//! The detector often reads a pool within microseconds of the update that planned its warm:
//! such a read is a hit no warm could have served, and counting it opened the gate for
//! guesses that landed too late (round 13, with the pools' structure known: 65 of 90 points
//! more than 0.2 below `none`).
//! Not counting refusals before the fetch at all (round 14) left a shut gate over a full L1
//! without a TTL shut for good: no guess was fetched, so none was judged
//! (docs/simulation.md, round 16).
//!
//! Why a gate and not a fixed share: with a predictor that is right 2% of the time (update
//! co-occurrence on our DEX traces) every slot given to guesses is a loss, and under an
//! adaptive policy any change of contents moves its hill climber by up to ±1.5 points; with
//! one that is right a third of the time (the pools' structure on the market traces) the
//! same slots earn up to +6.8 points (docs/simulation.md).

use super::ghost::Ghosts;
use crate::pair::PairId;

/// Scores are halved when their sum reaches this: the gate follows the last few dozen
/// events, not the whole history.
const HORIZON: f32 = 64.0;
/// Hits guesses must earn beyond the marginal slots' before the gate opens: a few lucky
/// guesses must not open it (every opening moves an adaptive policy's climber). At 8,
/// `topn`'s guesses (12% of those admitted were read) opened it on a 1,000-pool trace at
/// L1 128 and cost 0.51 points there; at 16 every point of the 18 workloads stays within
/// 0.2 of `none` (docs/simulation.md).
const EVIDENCE: f32 = 16.0;
/// And they must earn this many times the marginal slots' hits, under an L1 TTL. Round 16
/// measured 2 there: it cost up to 0.71 points at TTL 3 s with the pools' structure known
/// (market-small-1k @ 128), where refresh-ahead already holds the slots that pay. (4 since
/// round 12, with or without a TTL: its longer frequency history keeps more valuable
/// entries in probation, so a guess's victim costs more than the short margin ghost sees;
/// at 2, with the structure known and no TTL, 10 of 78 points fell more than 0.2 below
/// `none`, worst -0.99; docs/simulation.md, round 12.)
const ADVANTAGE_WITH_TTL: f32 = 4.0;
/// The same without an L1 TTL (since round 17). Round 16's timed refusals (a guess refused
/// before its fetch counts only if read after its warm would have landed) removed the
/// losses that had raised it to 4: over 84 traces × 64/128/512 without a TTL, 2 gave +0.087
/// points over `none` on average instead of +0.061 (worst -0.07 instead of -0.05), and
/// with the pools' structure known +0.179 instead of +0.129 (worst -0.02), no point more
/// than 0.2 below; on the ten traces of a third generator written apart from the tuning,
/// +0.81 instead of +0.57 with the structure known (pool_churn @ 128 +3.48), worst -0.04
/// (docs/simulation.md, round 17).
const ADVANTAGE_WITHOUT_TTL: f32 = 2.0;

/// The time of a guess refused at admission: its value had landed.
const LANDED: u64 = 0;

pub(super) struct Speculation {
    quota: usize,
    margin: Ghosts,
    /// Guesses turned away: at admission (time 0: the value had landed), or by the check
    /// before their fetch, with the time (µs) their warm would have landed. One list of
    /// `quota` ids, as the margin's, so the two scores compare per slot.
    guesses: Ghosts,
    guess_score: f32,
    margin_score: f32,
    /// [`ADVANTAGE_WITH_TTL`] or [`ADVANTAGE_WITHOUT_TTL`].
    advantage: f32,
}

impl Speculation {
    pub(super) fn new(quota: usize) -> Self {
        let quota = quota.max(1);
        Self {
            quota,
            margin: Ghosts::new(quota),
            guesses: Ghosts::new(quota),
            guess_score: 0.0,
            margin_score: 0.0,
            advantage: ADVANTAGE_WITH_TTL,
        }
    }

    /// Whether the cache's L1 has a TTL (the gate is stricter under one; a new gate
    /// assumes one).
    pub(super) fn set_expiring(&mut self, expiring: bool) {
        self.advantage = if expiring {
            ADVANTAGE_WITH_TTL
        } else {
            ADVANTAGE_WITHOUT_TTL
        };
    }

    /// Slots unread guesses may take from real entries now (0: free or expired ones only).
    #[inline]
    pub(super) fn limit(&self) -> usize {
        if self.guess_score >= self.advantage * self.margin_score + EVIDENCE {
            self.quota
        } else {
            0
        }
    }

    /// An unread guess was read: a hit a guess slot earned.
    pub(super) fn guess_read(&mut self) {
        self.guess_score += 1.0;
        self.age();
    }

    /// A guess was turned away.
    pub(super) fn turned_away(&mut self, id: PairId) {
        self.guesses.push_at(id, LANDED);
    }

    /// A guess was refused before its fetch; its warm would have landed at `lands_at_us`.
    /// A pool refused again keeps its first landing time: a read after it is one the first
    /// refused warm would have served.
    pub(super) fn refused_before_fetch(&mut self, id: PairId, lands_at_us: u64) {
        self.guesses.push_at_if_absent(id, lands_at_us);
    }

    /// The check before a fetch let a warm of `id` through: an earlier refusal of it is
    /// forgotten (the warm is judged as it lands, not twice).
    pub(super) fn fetched(&mut self, id: PairId) {
        self.guesses.take(id);
    }

    /// A real (non-guess) entry was evicted.
    pub(super) fn evicted(&mut self, id: PairId) {
        self.margin.push(id);
    }

    /// A read missed: a hit `quota` guess slots would have earned if `id` was among the
    /// last `quota` guesses turned away, at admission or before their fetch and then read
    /// once their warm would have landed (`now_us`, called only for those: a miss reads
    /// no clock otherwise); and one `quota` more real slots would have earned if it was
    /// among the last `quota` real entries evicted.
    pub(super) fn missed(&mut self, id: PairId, now_us: impl FnOnce() -> u64) {
        // Both ghosts hold `quota` ids, so raw counts compare per slot.
        if self
            .guesses
            .take_at(id)
            .is_some_and(|lands_at_us| lands_at_us == LANDED || now_us() >= lands_at_us)
        {
            self.guess_score += 1.0;
        }
        if self.margin.take(id) {
            self.margin_score += 1.0;
        }
        self.age();
    }

    fn age(&mut self) {
        if self.guess_score + self.margin_score >= HORIZON {
            self.guess_score /= 2.0;
            self.margin_score /= 2.0;
        }
    }

    pub(super) fn clear(&mut self) {
        self.margin.clear();
        self.guesses.clear();
        self.guess_score = 0.0;
        self.margin_score = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_while_guesses_out_earn_the_marginal_slot() {
        let mut s = Speculation::new(8);
        assert_eq!(s.limit(), 0, "closed until guesses prove themselves");
        // Guesses turned away and then read (each would have been a hit): EVIDENCE of
        // them open the gate.
        for i in 0..16 {
            assert_eq!(s.limit(), 0, "after {i} hits");
            s.turned_away(PairId::from_raw(50 + i));
            s.missed(PairId::from_raw(50 + i), || 0);
        }
        assert_eq!(s.limit(), 8);
        // A miss on one of the last evicted real entries closes it again (16 < 4 x 1 + 16).
        s.evicted(PairId::from_raw(1));
        s.missed(PairId::from_raw(1), || 0);
        assert_eq!(s.limit(), 0);
        // Misses on ids neither guessed nor recently evicted count for nothing, and a
        // ghost counts once.
        s.missed(PairId::from_raw(100), || 0);
        s.missed(PairId::from_raw(50), || 0);
        assert_eq!(s.limit(), 0);
        // Reads of admitted guesses count like ghost hits: four more reopen it (20 >= 20).
        for _ in 0..3 {
            s.guess_read();
        }
        assert_eq!(s.limit(), 0);
        s.guess_read();
        assert_eq!(s.limit(), 8);
    }

    /// A guess refused before its fetch counts once read after its warm would have landed,
    /// not before (nor twice); a pool refused again keeps its first landing time; a warm
    /// the check later lets through forgets the refusal; one turned away at admission
    /// afterwards counts at once; `clear` forgets them all. The clock is read only for a
    /// guess refused before its fetch.
    #[test]
    fn a_guess_refused_before_its_fetch_counts_only_if_its_warm_would_have_landed() {
        let id = PairId::from_raw;
        let no_clock = || -> u64 { panic!("the clock is read only for a refused guess") };
        let mut s = Speculation::new(32);
        s.missed(id(7), no_clock);
        // Read 1 µs before landing: no hit a warm could have served, and the ghost is gone.
        for i in 0..16 {
            s.refused_before_fetch(id(i), 1_000);
            s.missed(id(i), || 999);
            s.missed(id(i), no_clock);
        }
        assert_eq!(s.limit(), 0);
        // Refused again later: the first landing time holds.
        s.refused_before_fetch(id(50), 1_000);
        s.refused_before_fetch(id(50), 9_000);
        s.missed(id(50), || 1_000);
        // Let through by a later check: forgotten.
        s.refused_before_fetch(id(51), 1_000);
        s.fetched(id(51));
        s.missed(id(51), no_clock);
        // Refused before its fetch, then turned away at admission (its value landed): a
        // read counts at once, without the clock.
        s.refused_before_fetch(id(52), 9_000);
        s.turned_away(id(52));
        s.missed(id(52), no_clock);
        // Read at landing or later: with ids 50 and 52, 13 more leave the gate shut, the
        // 14th (16 hits, EVIDENCE) opens it.
        for i in 100..114 {
            assert_eq!(s.limit(), 0, "after {} hits", i - 98);
            s.refused_before_fetch(id(i), 1_000);
            s.missed(id(i), || 1_000 + u64::from(i - 100));
        }
        assert_eq!(s.limit(), 32);
        // `clear` forgets the refusals: 16 read after landing then count for nothing.
        s.clear();
        for i in 200..216 {
            s.refused_before_fetch(id(i), 0);
        }
        s.clear();
        for i in 200..216 {
            s.missed(id(i), no_clock);
        }
        assert_eq!(s.limit(), 0);
    }

    /// Without an L1 TTL guesses must out-earn the marginal slots twice, under one four
    /// times (plus the evidence either way); `clear` keeps the setting.
    #[test]
    fn the_gate_asks_less_of_guesses_without_a_ttl() {
        let id = PairId::from_raw;
        let scores = |s: &mut Speculation| {
            // 4 marginal hits, then 16 + 8 guess hits: 24 >= 2 x 4 + 16, < 4 x 4 + 16.
            for i in 0..4 {
                s.evicted(id(i));
                s.missed(id(i), || 0);
            }
            for i in 100..124 {
                s.turned_away(id(i));
                s.missed(id(i), || 0);
            }
        };
        let mut ttl = Speculation::new(8);
        scores(&mut ttl);
        assert_eq!(ttl.limit(), 0);
        let mut none = Speculation::new(8);
        none.set_expiring(false);
        scores(&mut none);
        assert_eq!(none.limit(), 8);
        none.clear();
        scores(&mut none);
        assert_eq!(none.limit(), 8, "clear kept the setting");
    }
}
