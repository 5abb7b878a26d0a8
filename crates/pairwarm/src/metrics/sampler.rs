//! Sampling for `correlation_tracking_duration_us`.
//!
//! `record_price_update` takes ~100 ns; two clock reads cost ~40 ns and a histogram
//! observation a few more, so timing every call would make the measurement a large share of
//! what it measures (the original stored every observation forever, §10 item 24). We time
//! 1 call in [`TRACKING_SAMPLE_PERIOD`] instead.
//!
//! The decision uses a plain (non-atomic) counter in a thread-local table with one slot per
//! chain: no shared cache line, no contention between threads, and — unlike one counter per
//! thread — no aliasing when a thread interleaves chains (with a single counter, two chains
//! alternating on one thread would give one chain every sample and the other none). The
//! first call on each (thread, slot) is sampled, so quiet chains still report early.

use std::cell::Cell;
use std::time::Instant;

use crate::pair::MAX_CHAINS;

use super::histogram::AtomicHistogram;

/// One call in this many is timed. A power of two, so the check is a mask.
pub const TRACKING_SAMPLE_PERIOD: u32 = 64;

/// Slots: one per chain plus the overflow chain.
pub(crate) const SAMPLER_SLOTS: usize = MAX_CHAINS + 1;

thread_local! {
    static TICKS: [Cell<u32>; SAMPLER_SLOTS] = const { [const { Cell::new(0) }; SAMPLER_SLOTS] };
}

/// Decides which calls to time: exactly 1 in [`TRACKING_SAMPLE_PERIOD`] per thread and slot.
///
/// Each [`ChainMetrics`](super::ChainMetrics) has one ([`sampler`](super::ChainMetrics::sampler));
/// samplers with the same slot share their per-thread counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackingSampler {
    slot: usize,
}

impl TrackingSampler {
    /// A sampler on `slot` (`0..=MAX_CHAINS`; larger values use the last slot).
    pub const fn with_slot(slot: usize) -> Self {
        Self {
            slot: if slot < SAMPLER_SLOTS {
                slot
            } else {
                SAMPLER_SLOTS - 1
            },
        }
    }

    /// The slot this sampler counts on.
    pub const fn slot(&self) -> usize {
        self.slot
    }

    /// `true` on the first call and then every [`TRACKING_SAMPLE_PERIOD`]-th call made on
    /// this thread for this slot. Costs a thread-local read and write (~1 ns).
    #[inline]
    pub fn should_sample(&self) -> bool {
        TICKS.with(|ticks| match ticks.get(self.slot) {
            Some(tick) => {
                let n = tick.get();
                tick.set(n.wrapping_add(1));
                n & (TRACKING_SAMPLE_PERIOD - 1) == 0
            }
            None => false,
        })
    }
}

/// Times one sampled call; records the elapsed microseconds into the histogram on drop.
///
/// The value includes one clock read (~20–40 ns), which is the floor of what this histogram
/// can show; treat sub-0.05 µs differences as noise.
#[must_use = "the timer records when dropped: bind it with `let _timer = ...`, not `let _ = ...`"]
#[derive(Debug)]
pub struct TrackingTimer<'a> {
    start: Instant,
    histogram: &'a AtomicHistogram,
}

impl<'a> TrackingTimer<'a> {
    pub(crate) fn start(histogram: &'a AtomicHistogram) -> Self {
        Self {
            start: Instant::now(),
            histogram,
        }
    }

    /// Stops the timer now (same as dropping it).
    pub fn finish(self) {}
}

impl Drop for TrackingTimer<'_> {
    fn drop(&mut self) {
        let micros = self.start.elapsed().as_nanos() as f64 / 1_000.0;
        self.histogram.observe(micros);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_slots_are_sampled_independently() {
        // Run on a fresh thread so the counters start at zero.
        std::thread::spawn(|| {
            let (a, b) = (TrackingSampler::with_slot(3), TrackingSampler::with_slot(4));
            let (mut hits_a, mut hits_b) = (0, 0);
            for _ in 0..640 {
                hits_a += usize::from(a.should_sample());
                hits_b += usize::from(b.should_sample());
            }
            assert_eq!((hits_a, hits_b), (10, 10));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn out_of_range_slot_is_clamped() {
        assert_eq!(TrackingSampler::with_slot(10_000).slot(), SAMPLER_SLOTS - 1);
        // Must not index out of bounds.
        let _ = TrackingSampler::with_slot(usize::MAX).should_sample();
    }
}
