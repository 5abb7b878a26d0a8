//! How long a warm takes to land: the time from the check before a warm's fetch to its
//! value in L1. The speculation gate uses it to judge guesses it refused before fetching:
//! a later missed read of one counts as a hit a guess slot would have earned only if it
//! came after the warm would have landed (docs/simulation.md, round 16). Erring long is
//! safe (the gate counts fewer such hits and opens later); erring short counts reads no
//! warm could have served, which is how round 13's gate opened for guesses that landed
//! too late.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The lead is this many round trips: the measured (or modelled) round trip is a typical
/// one, and a read just after it would often still beat the warm. Over 84 traces (30
/// with the pools' structure known) at 64/128/512 entries without a TTL, one round trip
/// (250 µs in the replay) let the gate open where `default` lost up to 0.42 points with
/// the structure known; with two it lost at most 0.06 (0.05 without the structure;
/// round 16).
const ROUND_TRIPS: u64 = 2;
/// Round trip assumed before the first warm is measured: 1 ms, long for Redis on the
/// same host or network (0.1-0.5 ms), so the gate starts cautious.
const INITIAL_ROUND_TRIP_US: u64 = 1_000;
/// Shortest lead: an in-memory L2 lands a warm within microseconds, but a warm planned
/// by one update and a detector's read of the same block are not ordered that finely.
const MIN_LEAD_US: u64 = 100;
/// Weight of the newest measurement (1/8, as TCP's smoothed round-trip time).
const EWMA_SHIFT: u32 = 3;

/// The cache's estimate of a warm's round trip: measured on its own warm fetches, or
/// fixed by a replay that models L2 latency itself.
pub(crate) struct WarmLead {
    round_trip_us: AtomicU64,
    measured: bool,
}

impl WarmLead {
    /// Measured on the cache's warm fetches, starting from [`INITIAL_ROUND_TRIP_US`].
    pub(crate) fn measured() -> Self {
        Self {
            round_trip_us: AtomicU64::new(INITIAL_ROUND_TRIP_US),
            measured: true,
        }
    }

    /// A fixed round trip (a replay's modelled L2 latency).
    pub(crate) fn fixed(round_trip: Duration) -> Self {
        Self {
            round_trip_us: AtomicU64::new(round_trip.as_micros().min(u64::MAX as u128) as u64),
            measured: false,
        }
    }

    /// How long after the check a read must come to count for a refused guess.
    #[inline]
    pub(crate) fn lead_us(&self) -> u64 {
        self.round_trip_us
            .load(Relaxed)
            .saturating_mul(ROUND_TRIPS)
            .max(MIN_LEAD_US)
    }

    /// Times a warm fetch starting now (a real L2 round trip), if this estimate is
    /// measured. [`LandingTimer::finish`] takes the sample; a timer dropped unfinished (the
    /// fetch abandoned at its timeout) counts as a failure. A failure can only lengthen the
    /// estimate: an error that comes back at once (Redis down) must not shorten the lead,
    /// the unsafe side.
    #[inline]
    pub(crate) fn start(&self) -> LandingTimer<'_> {
        LandingTimer {
            lead: self,
            started: self.measured.then(Instant::now),
        }
    }

    /// Folds one round trip into the estimate. Concurrent fetches may lose an update to
    /// each other; the estimate stays a mean of real samples.
    fn sample_us(&self, sample: u64) {
        let old = self.round_trip_us.load(Relaxed);
        let new = old - (old >> EWMA_SHIFT) + (sample >> EWMA_SHIFT);
        self.round_trip_us.store(new, Relaxed);
    }

    /// A failed round trip that took `took` µs: folded in only if it lengthens the estimate.
    fn failed_us(&self, took: u64) {
        if took > self.round_trip_us.load(Relaxed) {
            self.sample_us(took);
        }
    }
}

/// A warm fetch in flight ([`WarmLead::start`]).
pub(crate) struct LandingTimer<'a> {
    lead: &'a WarmLead,
    started: Option<Instant>,
}

impl LandingTimer<'_> {
    /// The fetch ended, `ok` or failed.
    pub(crate) fn finish(mut self, ok: bool) {
        if let Some(took) = self.took_us() {
            if ok {
                self.lead.sample_us(took);
            } else {
                self.lead.failed_us(took);
            }
        }
    }

    fn took_us(&mut self) -> Option<u64> {
        self.started
            .take()
            .map(|s| s.elapsed().as_micros().min(u128::from(u64::MAX)) as u64)
    }
}

impl Drop for LandingTimer<'_> {
    fn drop(&mut self) {
        if let Some(took) = self.took_us() {
            self.lead.failed_us(took);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_round_trip_gives_twice_its_lead_and_ignores_measurements() {
        let lead = WarmLead::fixed(Duration::from_micros(250));
        assert_eq!(lead.lead_us(), 500);
        let timer = lead.start();
        assert!(timer.started.is_none());
        timer.finish(true);
        assert_eq!(lead.lead_us(), 500);
        assert_eq!(WarmLead::fixed(Duration::ZERO).lead_us(), MIN_LEAD_US);
    }

    #[test]
    fn a_measured_round_trip_moves_toward_the_samples() {
        let lead = WarmLead::measured();
        assert_eq!(lead.lead_us(), 2 * INITIAL_ROUND_TRIP_US);
        // One 9 ms sample moves 1 ms by an eighth of the difference.
        lead.sample_us(9_000);
        assert_eq!(lead.round_trip_us.load(Relaxed), 1_000 - 125 + 1_125);
        // Near-instant fetches (an in-memory L2): the estimate decays, and the lead stops
        // at its floor.
        for _ in 0..100 {
            lead.sample_us(1);
        }
        assert_eq!(lead.lead_us(), MIN_LEAD_US);
        // A finished timer samples its fetch.
        let before = lead.round_trip_us.load(Relaxed);
        let timer = lead.start();
        assert!(timer.started.is_some());
        std::thread::sleep(Duration::from_millis(2));
        timer.finish(true);
        let after = lead.round_trip_us.load(Relaxed);
        assert!(after >= before + 2_000 / 8);
        // A failure shorter than the estimate leaves it; an abandoned fetch (dropped
        // timer) longer than it lengthens it.
        lead.failed_us(1);
        assert_eq!(lead.round_trip_us.load(Relaxed), after);
        let timer = lead.start();
        std::thread::sleep(Duration::from_millis(4));
        drop(timer);
        assert!(lead.round_trip_us.load(Relaxed) > after);
    }
}
