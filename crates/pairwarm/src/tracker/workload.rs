//! A synthetic update stream for benchmarks: Zipf-skewed pairs arriving in same-millisecond
//! bursts, the shape of a DEX feed where one block carries many `Sync` events at once.
//!
//! Used by `benches/tracker.rs` and `pairwarm bench tracker`, so both measure the same
//! thing. Seeded and deterministic. Behind the `testing` feature.
//!
//! ```
//! use pairwarm::tracker::workload::BurstWorkload;
//! let mut w = BurstWorkload::new(5_000, 7);
//! let (first, t0) = w.next_update();
//! let (_, t1) = w.next_update();
//! assert!(first.raw() < 5_000 && t1 >= t0);
//! ```

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Zipf};

use crate::pair::PairId;

/// Bursts of `burst_min..=burst_max` updates sharing one timestamp, `gap_ms` apart, pairs
/// drawn from `Zipf(pairs, exponent)`.
pub struct BurstWorkload {
    rng: ChaCha8Rng,
    zipf: Zipf<f64>,
    pairs: u32,
    burst_min: u32,
    burst_max: u32,
    gap_ms: u64,
    now_ms: u64,
    left_in_burst: u32,
}

impl BurstWorkload {
    /// Default shape: bursts of 3-200 updates (uniform), one burst every 100 ms (about
    /// 1,000 updates/s, so a 1 s window always holds ~10 bursts), Zipf exponent 1.0.
    pub fn new(pairs: u32, seed: u64) -> Self {
        Self::with_shape(pairs, seed, 3, 200, 100, 1.0)
    }

    /// Any shape. `pairs` >= 1, `burst_min` >= 1 and `burst_max` >= `burst_min` are
    /// enforced by clamping; a non-positive or non-finite exponent falls back to 1.0.
    pub fn with_shape(
        pairs: u32,
        seed: u64,
        burst_min: u32,
        burst_max: u32,
        gap_ms: u64,
        exponent: f64,
    ) -> Self {
        let pairs = pairs.max(1);
        let exponent = if exponent.is_finite() && exponent > 0.0 {
            exponent
        } else {
            1.0
        };
        let zipf = Zipf::new(f64::from(pairs), exponent)
            .or_else(|_| Zipf::new(f64::from(pairs), 1.0))
            .unwrap_or_else(|_| unreachable!("Zipf(n >= 1, 1.0) is valid"));
        let burst_min = burst_min.max(1);
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            zipf,
            pairs,
            burst_min,
            burst_max: burst_max.max(burst_min),
            gap_ms,
            now_ms: 1_700_000_000_000,
            left_in_burst: 0,
        }
    }

    /// The next `(pair, timestamp)`.
    pub fn next_update(&mut self) -> (PairId, u64) {
        if self.left_in_burst == 0 {
            self.left_in_burst = self.rng.random_range(self.burst_min..=self.burst_max);
            self.now_ms += self.gap_ms;
        }
        self.left_in_burst -= 1;
        let rank = self.zipf.sample(&mut self.rng) as u32;
        let pair = rank.clamp(1, self.pairs) - 1;
        (PairId::from_raw(pair), self.now_ms)
    }

    /// The next `n` updates.
    pub fn take(&mut self, n: usize) -> Vec<(PairId, u64)> {
        (0..n).map(|_| self.next_update()).collect()
    }
}
