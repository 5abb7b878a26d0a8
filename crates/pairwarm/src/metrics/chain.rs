//! Per-chain metric handles, resolved once so hot paths do no label lookup.

use std::time::Duration;

use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use super::family::Families;
use super::histogram::AtomicHistogram;
use super::sampler::{TrackingSampler, TrackingTimer};

/// How a warm operation ended. Its `status` label on `warming_operations_total` is
/// `success` or `error`; the cause of an error (including a timeout) is the `error_type`
/// label of `warming_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WarmOutcome {
    /// The warm completed (whether or not it found anything to promote).
    Success,
    /// The warm was abandoned after the warmer's timeout (`status="error"`,
    /// `error_type="timeout"`).
    Timeout,
    /// The warm failed.
    Error(WarmErrorKind),
}

impl WarmOutcome {
    /// The `status` label value: `success`, or `error` for every failed warm. A timeout is
    /// an error here: while Redis is down its calls wait for a reconnect until the warm's
    /// deadline, so an outage shows up as timeouts, and the seed's `WarmingErrorRateHigh`
    /// (`status="error"` over all) must see it.
    pub const fn status(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Timeout | Self::Error(_) => "error",
        }
    }
}

/// Why a warm failed (the `error_type` label of `warming_errors_total`). A closed set, so
/// the label's cardinality is bounded whatever the errors say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WarmErrorKind {
    /// The L2 store failed (connection, protocol, server error).
    L2,
    /// A value read from L2 could not be decoded.
    Decode,
    /// Anything else.
    Other,
}

impl WarmErrorKind {
    /// The `error_type` label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::L2 => "l2",
            Self::Decode => "decode",
            Self::Other => "other",
        }
    }
}

/// `error_type` values in handle order; `timeout` first (from [`WarmOutcome::Timeout`]).
const ERROR_TYPES: [&str; 4] = ["timeout", "l2", "decode", "other"];

const fn error_index(outcome: WarmOutcome) -> Option<usize> {
    match outcome {
        WarmOutcome::Success => None,
        WarmOutcome::Timeout => Some(0),
        WarmOutcome::Error(WarmErrorKind::L2) => Some(1),
        WarmOutcome::Error(WarmErrorKind::Decode) => Some(2),
        WarmOutcome::Error(WarmErrorKind::Other) => Some(3),
    }
}

/// A cache level (the `cache_level` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheLevel {
    /// The in-process level.
    L1,
    /// The shared level (Redis or in-memory).
    L2,
}

impl CacheLevel {
    /// The label value: `L1` or `L2`, as the seed's queries and the original's Grafana
    /// dashboard write them (`cache_level="L1"`). The original code emitted lowercase, so
    /// its own dashboard matched nothing; the seed's queries are the contract.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::L1 => "L1",
            Self::L2 => "L2",
        }
    }

    pub(crate) const fn index(self) -> usize {
        match self {
            Self::L1 => 0,
            Self::L2 => 1,
        }
    }
}

/// Index of the cache counters: `[l1 hits, l1 misses, l2 hits, l2 misses]`.
const CACHE_COUNTERS: usize = 4;

/// The metric handles of one chain.
///
/// Get it from [`WarmingMetrics::chain`](super::WarmingMetrics::chain) once and keep the
/// reference: every field is an `Arc`-shared atomic, so updating one is a single relaxed
/// atomic add, with no label hashing or lock. All handles of the chain exist (at 0) from the
/// moment it is registered, so `rate()` and alerts see `status="error"` before the first
/// error.
#[derive(Debug)]
pub struct ChainMetrics {
    name: Box<str>,
    sampler: TrackingSampler,
    /// `warming_operations_total{status="success"}`.
    pub warming_success: Counter,
    /// `warming_operations_total{status="error"}` (timeouts included).
    pub warming_error: Counter,
    /// `warming_pairs_warmed_total{status="success"}`.
    pub pairs_warmed: Counter,
    /// `warming_pairs_warmed_total{status="error"}`: pairs a failed or timed-out warm
    /// promoted before it stopped.
    pub pairs_warmed_error: Counter,
    /// `warming_duration_ms`.
    pub warming_duration: AtomicHistogram,
    /// `warming_debounced_total`.
    pub debounced: Counter,
    /// `warming_dropped_total` (queue overflow).
    pub dropped: Counter,
    /// `warming_shadow_predictions_total`.
    pub shadow_predictions: Counter,
    /// `warming_shadow_hits_total`.
    pub shadow_hits: Counter,
    /// `correlation_tracking_duration_us` (feed it through [`Self::start_tracking_timer`]
    /// or [`Self::time_tracking`], which sample).
    pub tracking_duration: AtomicHistogram,
    /// `correlation_pairs_tracked`.
    pub pairs_tracked: Gauge,
    /// `price_updates_total`.
    pub price_updates: Counter,
    /// `detector_opportunities_total`.
    pub opportunities: Counter,
    /// `warming_errors_total{error_type}`, in [`ERROR_TYPES`] order.
    errors: [Counter; 4],
    /// `cache_{hits,misses}_total{cache_level}`. Private: they are advanced only by
    /// [`WarmingMetrics::sync_cache`](super::WarmingMetrics::sync_cache) from the cache's own
    /// counters, so a direct `inc` would double count.
    cache: [Counter; CACHE_COUNTERS],
    /// Cache counter values seen at the previous sync.
    cache_last: Mutex<[u64; CACHE_COUNTERS]>,
}

impl ChainMetrics {
    pub(crate) fn build(families: &Families, name: &str, slot: usize) -> Self {
        let chain = |f: &super::family::SeriesFamily<Counter>| f.get_or_create(&[name]);
        let ops = |status: &str| families.warming_operations.get_or_create(&[name, status]);
        let errors = ERROR_TYPES.map(|t| families.warming_errors.get_or_create(&[name, t]));
        let (l1, l2) = (CacheLevel::L1.as_str(), CacheLevel::L2.as_str());
        let cache = [
            families.cache_hits.get_or_create(&[l1, name]),
            families.cache_misses.get_or_create(&[l1, name]),
            families.cache_hits.get_or_create(&[l2, name]),
            families.cache_misses.get_or_create(&[l2, name]),
        ];
        Self {
            name: name.into(),
            sampler: TrackingSampler::with_slot(slot),
            warming_success: ops("success"),
            warming_error: ops("error"),
            pairs_warmed: families.pairs_warmed.get_or_create(&[name, "success"]),
            pairs_warmed_error: families.pairs_warmed.get_or_create(&[name, "error"]),
            warming_duration: families.warming_duration.get_or_create(&[name]),
            debounced: chain(&families.debounced),
            dropped: chain(&families.dropped),
            shadow_predictions: chain(&families.shadow_predictions),
            shadow_hits: chain(&families.shadow_hits),
            tracking_duration: families.tracking_duration.get_or_create(&[name]),
            pairs_tracked: families.pairs_tracked.get_or_create(&[name]),
            price_updates: chain(&families.price_updates),
            opportunities: chain(&families.opportunities),
            errors,
            cache,
            cache_last: Mutex::new([0; CACHE_COUNTERS]),
        }
    }

    /// The `chain` label value.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Records a finished warm: `warming_operations_total{status}` +1,
    /// `warming_pairs_warmed_total{status}` + `pairs_warmed` (also for a failed or timed-out warm
    /// that promoted some pairs before it stopped), `warming_duration_ms` observes `duration`
    /// (every outcome: a timeout is latency too), and for a non-success outcome
    /// `warming_errors_total{error_type}` +1. So `sum(warming_errors_total)` equals
    /// `warming_operations_total{status="error"}`.
    pub fn record_warm(&self, outcome: WarmOutcome, pairs_warmed: usize, duration: Duration) {
        let (ops, pairs) = match outcome {
            WarmOutcome::Success => (&self.warming_success, &self.pairs_warmed),
            WarmOutcome::Timeout | WarmOutcome::Error(_) => {
                (&self.warming_error, &self.pairs_warmed_error)
            }
        };
        ops.inc();
        if pairs_warmed > 0 {
            pairs.inc_by(u64::try_from(pairs_warmed).unwrap_or(u64::MAX));
        }
        self.warming_duration
            .observe(duration.as_secs_f64() * 1_000.0);
        if let Some(counter) = error_index(outcome).and_then(|i| self.errors.get(i)) {
            counter.inc();
        }
    }

    /// The `warming_errors_total` handle for `outcome` (`None` for success).
    pub fn error_counter(&self, outcome: WarmOutcome) -> Option<&Counter> {
        error_index(outcome).and_then(|i| self.errors.get(i))
    }

    /// Sets `correlation_pairs_tracked` for this chain.
    pub fn set_pairs_tracked(&self, pairs: usize) {
        self.pairs_tracked.set(saturating_i64(pairs as u64));
    }

    /// The sampler of this chain's tracking timer.
    pub fn sampler(&self) -> TrackingSampler {
        self.sampler
    }

    /// A timer for this call if it is sampled (1 in
    /// [`TRACKING_SAMPLE_PERIOD`](super::TRACKING_SAMPLE_PERIOD) per thread), else `None`
    /// at the cost of a thread-local increment. The timer records into
    /// `correlation_tracking_duration_us` when dropped:
    ///
    /// ```
    /// # let metrics = pairwarm::metrics::WarmingMetrics::default();
    /// # let record_price_update = || {};
    /// let eth = metrics.chain_by_name("ethereum");
    /// for _ in 0..128 {
    ///     let _timer = eth.start_tracking_timer(); // `Some` on calls 1 and 65
    ///     record_price_update();
    /// }
    /// assert_eq!(eth.tracking_duration.snapshot().count, 2);
    /// ```
    #[inline]
    pub fn start_tracking_timer(&self) -> Option<TrackingTimer<'_>> {
        if self.sampler.should_sample() {
            Some(TrackingTimer::start(&self.tracking_duration))
        } else {
            None
        }
    }

    /// Runs `f`, timing it into `correlation_tracking_duration_us` when sampled.
    #[inline]
    pub fn time_tracking<R>(&self, f: impl FnOnce() -> R) -> R {
        let _timer = self.start_tracking_timer();
        f()
    }

    /// Advances the cache counters to the cumulative values `now` (`[l1 hits, l1 misses,
    /// l2 hits, l2 misses]`). A value below the previous one means the source was reset
    /// (e.g. `reset_stats`): everything counted since the reset is new, so add `now` itself.
    pub(crate) fn sync_cache(&self, now: [u64; CACHE_COUNTERS]) {
        let mut last = self.cache_last.lock();
        for ((counter, previous), current) in self.cache.iter().zip(last.iter_mut()).zip(now) {
            let delta = if current >= *previous {
                current - *previous
            } else {
                current
            };
            if delta > 0 {
                counter.inc_by(delta);
            }
            *previous = current;
        }
    }

    /// The exported cache counter for `level`: `(hits, misses)`.
    pub fn cache_counts(&self, level: CacheLevel) -> (u64, u64) {
        let base = level.index() * 2;
        let get = |i: usize| self.cache.get(i).map_or(0, Counter::get);
        (get(base), get(base + 1))
    }
}

/// Gauges are `i64`; counts beyond `i64::MAX` cannot happen in practice, but saturate
/// rather than wrap negative.
pub(crate) fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
