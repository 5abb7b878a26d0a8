//! A lock-free, fixed-bucket histogram that prometheus-client can encode.
//!
//! Why not `prometheus_client::metrics::histogram::Histogram`? In 0.26 it keeps its state
//! behind a `Mutex` (every `observe` takes the lock) and offers no public read-out of its
//! buckets, which the JSON exporter needs. This type keeps one relaxed atomic per bucket and
//! the sum as `f64` bits, and hands the numbers to the library's own encoder
//! ([`MetricEncoder::encode_histogram`]) so the Prometheus text and OpenMetrics output
//! (`_bucket{le=..}`, `_sum`, `_count`) is still written by prometheus-client.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Upper bounds (ms) of `warming_duration_ms`.
///
/// Contains the seed's 1, 5, 10, 15, 25, 50 (its dashboards draw thresholds at 15 and 20 ms),
/// sub-millisecond bounds because a warm against a loopback Redis takes ~0.2 ms, and 100/250
/// so warms that hit the timeout (50 ms by default) land in a finite bucket.
pub const WARMING_DURATION_MS_BUCKETS: [f64; 12] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 25.0, 50.0, 100.0, 250.0,
];

/// Upper bounds (µs) of `correlation_tracking_duration_us`.
///
/// `record_price_update` targets p50 ≤ 0.15 µs and p99 ≤ 1 µs, so most of the resolution
/// sits below 1 µs; 100 µs is twice the seed's promise (< 50 µs) and its dashboard's red line.
/// Bounds above 100 µs are what lets the seed's `CorrelationTrackingSlow` (p95 > 100) fire:
/// `histogram_quantile` never returns more than the largest finite bound, so with 100 as the
/// last one the rule could not be true.
pub const TRACKING_DURATION_US_BUCKETS: [f64; 13] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0,
];

/// A fixed-bucket histogram with atomic counters; clones share the same counters.
///
/// `observe` is two relaxed atomic operations (a bucket `fetch_add` and a CAS loop on the
/// sum), never a lock, so it is safe on hot paths and from many threads.
#[derive(Clone, Debug)]
pub struct AtomicHistogram {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Finite, strictly increasing upper bounds.
    bounds: &'static [f64],
    /// One counter per bound plus the `+Inf` overflow bucket (non-cumulative).
    counts: Box<[AtomicU64]>,
    /// Sum of observations, as `f64::to_bits`.
    sum_bits: AtomicU64,
}

/// A consistent-enough read of an [`AtomicHistogram`].
///
/// `count` is derived from the bucket counters, so `count` always equals the `+Inf` bucket;
/// `sum` is read separately and may include an observation the buckets miss (or vice versa)
/// while writers are active — the same trade-off client_golang makes.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSnapshot {
    /// Number of observations.
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
    /// `(upper bound, cumulative count)` for each finite bound, in increasing order.
    /// The implicit `+Inf` bucket equals `count`.
    pub buckets: Vec<(f64, u64)>,
}

impl AtomicHistogram {
    /// A histogram over `bounds`, which must be finite and strictly increasing (the bucket
    /// tables in this module are). Non-finite bounds are dropped rather than trusted, since
    /// `+Inf` is always implicit.
    pub fn new(bounds: &'static [f64]) -> Self {
        debug_assert!(
            bounds.windows(2).all(|w| w[0] < w[1]) && bounds.iter().all(|b| b.is_finite()),
            "histogram bounds must be finite and strictly increasing"
        );
        Self {
            inner: Arc::new(Inner {
                bounds,
                counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
                sum_bits: AtomicU64::new(0f64.to_bits()),
            }),
        }
    }

    /// A histogram with [`WARMING_DURATION_MS_BUCKETS`].
    pub fn warming_duration_ms() -> Self {
        Self::new(&WARMING_DURATION_MS_BUCKETS)
    }

    /// A histogram with [`TRACKING_DURATION_US_BUCKETS`].
    pub fn tracking_duration_us() -> Self {
        Self::new(&TRACKING_DURATION_US_BUCKETS)
    }

    /// The finite upper bounds.
    pub fn bounds(&self) -> &'static [f64] {
        self.inner.bounds
    }

    /// Records one value. `NaN` is ignored: it belongs to no bucket and would poison the sum
    /// forever.
    #[inline]
    pub fn observe(&self, value: f64) {
        if value.is_nan() {
            return;
        }
        // First bound >= value (Prometheus buckets are `le`, inclusive); past the end = +Inf.
        let index = self.inner.bounds.partition_point(|&bound| bound < value);
        if let Some(counter) = self.inner.counts.get(index) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        let _ = self
            .inner
            .sum_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }

    /// Reads the current state.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = 0u64;
        let mut buckets = Vec::with_capacity(self.inner.bounds.len());
        for (bound, counter) in self.inner.bounds.iter().zip(self.inner.counts.iter()) {
            cumulative += counter.load(Ordering::Relaxed);
            buckets.push((*bound, cumulative));
        }
        let overflow = self
            .inner
            .counts
            .last()
            .map_or(0, |c| c.load(Ordering::Relaxed));
        HistogramSnapshot {
            count: cumulative + overflow,
            sum: f64::from_bits(self.inner.sum_bits.load(Ordering::Relaxed)),
            buckets,
        }
    }

    /// Per-bucket (non-cumulative) counts including a trailing `+Inf` bucket, the shape
    /// prometheus-client's encoders expect (they accumulate themselves).
    fn raw_buckets(&self) -> (Vec<(f64, u64)>, u64) {
        let mut total = 0u64;
        let buckets = self
            .inner
            .bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.inner.counts.iter())
            .map(|(bound, counter)| {
                let n = counter.load(Ordering::Relaxed);
                total += n;
                (bound, n)
            })
            .collect();
        (buckets, total)
    }
}

impl TypedMetric for AtomicHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for AtomicHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let (buckets, count) = self.raw_buckets();
        let sum = f64::from_bits(self.inner.sum_bits.load(Ordering::Relaxed));
        // The explicit +Inf entry matters: the OpenMetrics encoder does not add one itself.
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_inclusive_upper_bounds() {
        let h = AtomicHistogram::new(&[1.0, 5.0, 10.0]);
        for v in [0.5, 1.0, 1.5, 5.0, 11.0, f64::NAN, f64::INFINITY] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(s.buckets, vec![(1.0, 2), (5.0, 4), (10.0, 4)]);
        assert_eq!(s.count, 6, "NaN ignored, 11 and +Inf overflow");
        assert!(s.sum.is_infinite());
    }

    #[test]
    fn sum_and_count_track_observations() {
        let h = AtomicHistogram::warming_duration_ms();
        h.observe(0.2);
        h.observe(12.0);
        let s = h.snapshot();
        assert_eq!(s.count, 2);
        assert!((s.sum - 12.2).abs() < 1e-12);
        let le_15 = s.buckets.iter().find(|(b, _)| *b == 15.0).map(|b| b.1);
        assert_eq!(le_15, Some(2));
        let le_10 = s.buckets.iter().find(|(b, _)| *b == 10.0).map(|b| b.1);
        assert_eq!(le_10, Some(1));
    }

    #[test]
    fn bucket_tables_are_sorted_and_contain_the_seed_bounds() {
        for table in [
            &WARMING_DURATION_MS_BUCKETS[..],
            &TRACKING_DURATION_US_BUCKETS[..],
        ] {
            assert!(table.windows(2).all(|w| w[0] < w[1]));
        }
        for seed in [1.0, 5.0, 10.0, 15.0, 25.0, 50.0] {
            assert!(
                WARMING_DURATION_MS_BUCKETS.contains(&seed),
                "missing {seed}"
            );
        }
    }
}
