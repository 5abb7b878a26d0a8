//! Prometheus metrics for warming, tracking, the cache and the `serve` pipeline.
//!
//! Users plug these into existing dashboards, so names, labels and types are a contract
//! ([`spec`] holds them). Built on prometheus-client 0.26: [`WarmingMetrics`] owns a
//! [`Registry`](prometheus_client::registry::Registry) and hands out per-chain handles
//! ([`ChainMetrics`]) resolved once, so a hot-path update is one relaxed atomic add.
//!
//! # Metrics (names after the prefix, default `arbitrage_`)
//!
//! | name | type | labels | fed by |
//! |---|---|---|---|
//! | `warming_operations_total` | counter | chain, status (`success`/`error`; timeouts are errors) | [`ChainMetrics::record_warm`] |
//! | `warming_pairs_warmed_total` | counter | chain, status (the warm's) | `record_warm` |
//! | `warming_duration_ms` | histogram | chain | `record_warm` (all outcomes) |
//! | `warming_debounced_total` | counter | chain | [`ChainMetrics::debounced`] |
//! | `warming_dropped_total` | counter | chain | [`ChainMetrics::dropped`] (queue overflow) |
//! | `warming_errors_total` | counter | chain, error_type (`timeout`/`l2`/`decode`/`other`) | `record_warm` (non-success) |
//! | `warming_pending_operations` | gauge | — | [`WarmingMetrics::set_pending`] |
//! | `warming_shadow_predictions_total` | counter | chain | [`ChainMetrics::shadow_predictions`] |
//! | `warming_shadow_hits_total` | counter | chain | [`ChainMetrics::shadow_hits`] |
//! | `warming_enabled` | gauge | — | [`WarmingMetrics::set_rollout`] (master switch, 1/0) |
//! | `warming_shadow_mode` | gauge | — | `set_rollout` (1/0) |
//! | `correlation_tracking_duration_us` | histogram | chain | [`ChainMetrics::start_tracking_timer`] (sampled 1/64) |
//! | `correlation_pairs_tracked` | gauge | chain | [`ChainMetrics::set_pairs_tracked`] |
//! | `correlation_pairs_capacity` | gauge | — | [`WarmingMetrics::sync_tracker`] |
//! | `correlation_pairs_evicted_total` | counter | — | `sync_tracker` |
//! | `cache_hits_total` | counter | cache_level (`L1`/`L2`), chain | [`WarmingMetrics::sync_cache`] |
//! | `cache_misses_total` | counter | cache_level, chain | `sync_cache` |
//! | `cache_entries` | gauge | cache_level | [`WarmingMetrics::set_cache_entries`] |
//! | `cache_size_bytes` | gauge | cache_level | [`WarmingMetrics::set_cache_size_bytes`] (estimate) |
//! | `cache_l2_reachable` | gauge | — | [`WarmingMetrics::set_l2_reachable`] (1/0) |
//! | `price_updates_total` | counter | chain | [`ChainMetrics::price_updates`] |
//! | `detector_opportunities_total` | counter | chain | [`ChainMetrics::opportunities`] |
//! | `stream_entries_processed_total` | counter | — | [`StreamMetrics::entries_processed`] |
//! | `stream_dead_letter_total` | counter | reason (`malformed`/`max_deliveries`/`trimmed`/`other`) | [`StreamMetrics::dead_letter`] |
//! | `stream_dead_letter_reasons_total` | counter | reason (fine: `bad_json`, `unsigned`, ...) | [`WarmingMetrics::stream_dead_letter_reason`] |
//! | `stream_bad_updates_total` | counter | reason (fine) | [`WarmingMetrics::stream_bad_updates`] |
//! | `stream_signature_failures_total` | counter | reason (`unsigned`, `bad_signature`) | [`WarmingMetrics::stream_signature_failures`] |
//! | `stream_dead_letter_refused_total` | counter | — | [`StreamMetrics::dead_letter_refused`] |
//! | `stream_consumer_lag` | gauge | — | [`StreamMetrics::set_consumer_lag`] |
//! | `cache_l2_write_failures_total` | counter | — | [`WarmingMetrics::l2_write_failures`] |
//! | `cache_l1_coherent` | gauge | — | [`WarmingMetrics::sync_coherence`] (1/0) |
//! | `cache_l1_invalidations_total` | counter | — | `sync_coherence` |
//! | `cache_l1_invalidation_drops_total` | counter | — | `sync_coherence` |
//! | `cache_l1_refetches_total` | counter | — | `sync_coherence` |
//! | `cache_l1_coherence_resets_total` | counter | — | `sync_coherence` |
//!
//! Differences from the original system, on purpose:
//! - Histograms have real buckets ([`WARMING_DURATION_MS_BUCKETS`],
//!   [`TRACKING_DURATION_US_BUCKETS`]), so the seed's `histogram_quantile` panels and its
//!   example line `arbitrage_warming_duration_ms_bucket{chain="ethereum",le="10"}` work; the
//!   original stored every observation forever and emitted none.
//! - `warming_operations_total` has the `status` label the seed's dashboards query (the
//!   original had only `chain`), and `warming_errors_total` is actually fed. A timeout is
//!   `status="error"` (`error_type="timeout"`): an L2 outage shows up as timeouts.
//! - `warming_pairs_warmed_total` carries the same `status`, so the seed's pairs-per-op
//!   ratio matches label for label (with `chain` only it would select nothing).
//! - `cache_level` is `L1`/`L2`, as the seed's queries and the original's dashboard write
//!   it; the original code emitted `l1`/`l2`, so its own dashboard matched nothing.
//! - `warming_enabled`, `warming_shadow_mode`, `cache_l2_reachable`,
//!   `correlation_pairs_capacity` and `correlation_pairs_evicted_total` are new: the alerts
//!   of `deploy/prometheus/alerts.yml` need them (warming switched off, L2 down, tracker
//!   full). Like the cache gauges they appear only once set.
//! - `cache_size_bytes{cache_level,chain}` was a constant 0. It is replaced by
//!   `cache_entries{cache_level}` (the real entry count) and a `cache_size_bytes{cache_level}`
//!   estimate the caller supplies; both appear only once set. They carry no `chain` label:
//!   the cache is shared by all chains and its size per chain is not known.
//! - `warming_pending_operations` is unlabelled: one warm queue serves all chains.
//! - `correlation_pairs_tracked` keeps the `chain` label; the original set every chain's
//!   series to the global total. Feed it per chain, or not at all.
//! - `correlation_tracking_duration_us` is sampled (1 in 64 calls per thread and chain), so
//!   its `_count` is about `price_updates / 64`; use `price_updates_total` for rates.
//! - The original's defined-but-never-recorded `cache_latency_ms` is not exported.
//! - Label values are escaped by prometheus-client (`\`, `"`, newline); commas and `=` need
//!   no escaping (the original's `k=v,k=v` keys broke on them).
//!
//! # Cardinality
//!
//! Labels are chains (at most [`MAX_CHAINS`](crate::pair::MAX_CHAINS) plus one overflow
//! handle, [`OVERFLOW_CHAIN`]) and closed enums — never pair addresses. At most
//! 65 chains × ~25 series.
//!
//! Process metrics (`process_resident_memory_bytes`, ...) are not part of this set: a
//! library must not export its host's process figures (the host may already); the service
//! adds them to its own `/metrics` through [`WarmingMetrics::render_with`].
//!
//! # Formats
//!
//! [`ExportFormat`]: Prometheus text 0.0.4 and OpenMetrics 1.0 (both encoded by
//! prometheus-client), JSON ([`WarmingMetrics::encode_json`]; shape documented there).

mod chain;
mod export;
mod family;
mod histogram;
mod registry;
mod sampler;
pub mod spec;

pub use chain::{CacheLevel, ChainMetrics, WarmErrorKind, WarmOutcome};
pub use export::{ExportFormat, OPENMETRICS_CONTENT_TYPE};
pub use family::{MetricKind, MetricSpec};
pub use histogram::{
    AtomicHistogram, HistogramSnapshot, TRACKING_DURATION_US_BUCKETS, WARMING_DURATION_MS_BUCKETS,
};
pub use registry::{
    DEFAULT_PREFIX, DeadLetterReason, OVERFLOW_CHAIN, StreamMetrics, WarmingMetrics,
};
pub use sampler::{TRACKING_SAMPLE_PERIOD, TrackingSampler, TrackingTimer};

/// What went wrong in the metrics module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// The metric-name prefix (`METRICS_PREFIX`) is not a valid start of a metric name.
    #[error(
        "invalid metrics prefix {prefix:?}: character {found:?} at byte {position} is not allowed; expected empty or [a-zA-Z_:][a-zA-Z0-9_:]* (e.g. \"arbitrage_\")"
    )]
    InvalidPrefix {
        /// The rejected prefix.
        prefix: String,
        /// Byte offset of the first bad character.
        position: usize,
        /// The first bad character.
        found: char,
    },
    /// An export format name was not recognised.
    #[error("unknown metrics format {input:?}; expected prometheus, openmetrics or json")]
    UnknownFormat {
        /// The rejected input.
        input: String,
    },
    /// prometheus-client failed to encode the registry.
    #[error("encoding metrics as {format} failed")]
    Encode {
        /// The format being written.
        format: ExportFormat,
    },
}

/// Checks a metric-name prefix: empty, or `[a-zA-Z_:][a-zA-Z0-9_:]*`. The prefix is used
/// verbatim, so include the separator (`"arbitrage_"`).
///
/// # Errors
/// [`MetricsError::InvalidPrefix`] naming the prefix and its first bad character.
pub fn validate_prefix(prefix: &str) -> Result<(), MetricsError> {
    for (position, found) in prefix.char_indices() {
        let ok = found.is_ascii_alphabetic()
            || found == '_'
            || found == ':'
            || (position > 0 && found.is_ascii_digit());
        if !ok {
            return Err(MetricsError::InvalidPrefix {
                prefix: prefix.to_owned(),
                position,
                found,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_validation() {
        for good in ["", "arbitrage_", "a", "_x", ":ns:", "A1_b2"] {
            assert_eq!(validate_prefix(good), Ok(()), "{good:?}");
        }
        for (bad, position, found) in [
            ("1abc", 0, '1'),
            ("arb-", 3, '-'),
            ("arb itrage", 3, ' '),
            ("é", 0, 'é'),
            ("ok\n", 2, '\n'),
        ] {
            assert_eq!(
                validate_prefix(bad),
                Err(MetricsError::InvalidPrefix {
                    prefix: bad.to_owned(),
                    position,
                    found
                }),
                "{bad:?}"
            );
        }
    }
}
