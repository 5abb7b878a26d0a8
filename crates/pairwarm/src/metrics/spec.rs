//! The exported metric set: names (after the prefix), types and labels.
//!
//! Users' dashboards and alerts query these, so they are a contract: change one only on
//! purpose, and say so in the changelog. [`ALL_METRICS`] lists them in export order.

use super::family::{MetricKind, MetricSpec};

use MetricKind::{Counter, Gauge, Histogram};

/// `warming_operations_total{chain,status}`; status is `success` or `error` (a timed-out
/// warm is an error; `warming_errors_total{error_type}` says why).
pub static WARMING_OPERATIONS: MetricSpec = MetricSpec {
    name: "warming_operations_total",
    kind: Counter,
    labels: &["chain", "status"],
    help: "Warm operations finished, by outcome (success, error; a timeout is an error)",
};

/// `warming_pairs_warmed_total{chain,status}`; status is that of the warm that promoted
/// the pairs, so the seed's "pairs warmed per operation" query
/// (`rate(warming_pairs_warmed_total[5m]) / rate(warming_operations_total[5m])`) matches
/// series label for label.
pub static WARMING_PAIRS_WARMED: MetricSpec = MetricSpec {
    name: "warming_pairs_warmed_total",
    kind: Counter,
    labels: &["chain", "status"],
    help: "Pairs promoted from L2 into L1 by warming, by the warm's outcome (success, error)",
};

/// `warming_duration_ms{chain}` histogram, buckets
/// [`WARMING_DURATION_MS_BUCKETS`](super::WARMING_DURATION_MS_BUCKETS).
pub static WARMING_DURATION: MetricSpec = MetricSpec {
    name: "warming_duration_ms",
    kind: Histogram,
    labels: &["chain"],
    help: "Duration of one warm operation in milliseconds, all outcomes",
};

/// `warming_debounced_total{chain}`.
pub static WARMING_DEBOUNCED: MetricSpec = MetricSpec {
    name: "warming_debounced_total",
    kind: Counter,
    labels: &["chain"],
    help: "Warm requests skipped because a warm for the same pair was already pending",
};

/// `warming_dropped_total{chain}`.
pub static WARMING_DROPPED: MetricSpec = MetricSpec {
    name: "warming_dropped_total",
    kind: Counter,
    labels: &["chain"],
    help: "Warm requests dropped because the warm queue was full",
};

/// `warming_errors_total{chain,error_type}`; error_type is `timeout`, `l2`, `decode` or
/// `other`. Every non-success warm counts once here.
pub static WARMING_ERRORS: MetricSpec = MetricSpec {
    name: "warming_errors_total",
    kind: Counter,
    labels: &["chain", "error_type"],
    help: "Failed warm operations by cause (timeout, l2, decode, other)",
};

/// `warming_pending_operations` gauge, unlabelled: the warm queue is one per warmer.
pub static WARMING_PENDING: MetricSpec = MetricSpec {
    name: "warming_pending_operations",
    kind: Gauge,
    labels: &[],
    help: "Warm operations queued or in flight",
};

/// `warming_shadow_predictions_total{chain}` (shadow mode).
pub static WARMING_SHADOW_PREDICTIONS: MetricSpec = MetricSpec {
    name: "warming_shadow_predictions_total",
    kind: Counter,
    labels: &["chain"],
    help: "Pairs shadow mode would have warmed",
};

/// `warming_shadow_hits_total{chain}` (shadow mode).
pub static WARMING_SHADOW_HITS: MetricSpec = MetricSpec {
    name: "warming_shadow_hits_total",
    kind: Counter,
    labels: &["chain"],
    help: "L1 misses that shadow-mode warming would have turned into hits",
};

/// `correlation_tracking_duration_us{chain}` histogram, sampled 1 in
/// [`TRACKING_SAMPLE_PERIOD`](super::TRACKING_SAMPLE_PERIOD) calls, buckets
/// [`TRACKING_DURATION_US_BUCKETS`](super::TRACKING_DURATION_US_BUCKETS).
pub static CORRELATION_TRACKING_DURATION: MetricSpec = MetricSpec {
    name: "correlation_tracking_duration_us",
    kind: Histogram,
    labels: &["chain"],
    help: "Duration of record_price_update in microseconds, sampled 1 in 64 calls",
};

/// `correlation_pairs_tracked{chain}` gauge.
pub static CORRELATION_PAIRS_TRACKED: MetricSpec = MetricSpec {
    name: "correlation_pairs_tracked",
    kind: Gauge,
    labels: &["chain"],
    help: "Pairs the correlation tracker currently holds",
};

/// `cache_hits_total{cache_level,chain}`; cache_level is `L1` or `L2`, as the seed's
/// queries write it.
pub static CACHE_HITS: MetricSpec = MetricSpec {
    name: "cache_hits_total",
    kind: Counter,
    labels: &["cache_level", "chain"],
    help: "Cache reads answered, by level (L1, L2)",
};

/// `cache_misses_total{cache_level,chain}`.
pub static CACHE_MISSES: MetricSpec = MetricSpec {
    name: "cache_misses_total",
    kind: Counter,
    labels: &["cache_level", "chain"],
    help: "Cache reads not answered, by level (L1, L2)",
};

/// `cache_entries{cache_level}` gauge: entries held now. A series appears once set, so a
/// level whose size is unknown (Redis) is absent rather than a fake 0.
pub static CACHE_ENTRIES: MetricSpec = MetricSpec {
    name: "cache_entries",
    kind: Gauge,
    labels: &["cache_level"],
    help: "Entries held by the cache level",
};

/// `cache_size_bytes{cache_level}` gauge: a caller-supplied estimate, exported once set.
pub static CACHE_SIZE_BYTES: MetricSpec = MetricSpec {
    name: "cache_size_bytes",
    kind: Gauge,
    labels: &["cache_level"],
    help: "Estimated memory held by the cache level in bytes",
};

/// `cache_l2_reachable` gauge: 1 when L2 answered its latest health check, 0 when not. Set
/// by the service (it pings L2 every 500 ms); absent when L2 is disabled.
pub static CACHE_L2_REACHABLE: MetricSpec = MetricSpec {
    name: "cache_l2_reachable",
    kind: Gauge,
    labels: &[],
    help: "1 when L2 answered its latest health check, 0 when it did not",
};

/// `correlation_pairs_capacity` gauge: the most pairs the tracker holds
/// (`ANALYZER_MAX_TRACKED_PAIRS`).
pub static CORRELATION_PAIRS_CAPACITY: MetricSpec = MetricSpec {
    name: "correlation_pairs_capacity",
    kind: Gauge,
    labels: &[],
    help: "Most pairs the correlation tracker can hold",
};

/// `correlation_pairs_evicted_total`: pairs the full tracker dropped to admit new ones
/// (nothing is evicted below capacity).
pub static CORRELATION_PAIRS_EVICTED: MetricSpec = MetricSpec {
    name: "correlation_pairs_evicted_total",
    kind: Counter,
    labels: &[],
    help: "Pairs the full correlation tracker evicted to admit new ones",
};

/// `warming_enabled` gauge: the master switch (`FEATURE_CACHE_WARMING_ENABLED`, the admin
/// endpoint's `enabled`): 0 after an emergency rollback.
pub static WARMING_ENABLED: MetricSpec = MetricSpec {
    name: "warming_enabled",
    kind: Gauge,
    labels: &[],
    help: "1 while the warming master switch is on, 0 when warming is switched off",
};

/// `warming_shadow_mode` gauge: 1 while warming only predicts (rollout phase 1).
pub static WARMING_SHADOW_MODE: MetricSpec = MetricSpec {
    name: "warming_shadow_mode",
    kind: Gauge,
    labels: &[],
    help: "1 while warming runs in shadow mode (predicts, never warms)",
};

/// `price_updates_total{chain}`.
pub static PRICE_UPDATES: MetricSpec = MetricSpec {
    name: "price_updates_total",
    kind: Counter,
    labels: &["chain"],
    help: "Price updates received",
};

/// `detector_opportunities_total{chain}`.
pub static DETECTOR_OPPORTUNITIES: MetricSpec = MetricSpec {
    name: "detector_opportunities_total",
    kind: Counter,
    labels: &["chain"],
    help: "Arbitrage opportunities found by the detector",
};

/// `stream_entries_processed_total` (service).
pub static STREAM_ENTRIES_PROCESSED: MetricSpec = MetricSpec {
    name: "stream_entries_processed_total",
    kind: Counter,
    labels: &[],
    help: "Stream entries processed and acknowledged",
};

/// `stream_dead_letter_total{reason}` (service).
pub static STREAM_DEAD_LETTER: MetricSpec = MetricSpec {
    name: "stream_dead_letter_total",
    kind: Counter,
    labels: &["reason"],
    help: "Stream entries moved to the dead-letter stream, by reason",
};

/// `stream_dead_letter_reasons_total{reason}` (service): the fine reason of each
/// dead-lettered entry, the `reason` field of its dead-letter copy (`bad_json`,
/// `missing_field`, `unknown_chain`, `bad_signature`, `unsigned`, `too_large`, `deleted`,
/// `max_deliveries`, ...: a closed set of fixed labels).
pub static STREAM_DEAD_LETTER_REASONS: MetricSpec = MetricSpec {
    name: "stream_dead_letter_reasons_total",
    kind: Counter,
    labels: &["reason"],
    help: "Stream entries moved to the dead-letter stream, by fine reason",
};

/// `stream_bad_updates_total{reason}` (service): updates refused inside an otherwise good
/// batch envelope (the envelope is processed and acknowledged; a bounded sample of these
/// goes to the dead-letter stream).
pub static STREAM_BAD_UPDATES: MetricSpec = MetricSpec {
    name: "stream_bad_updates_total",
    kind: Counter,
    labels: &["reason"],
    help: "Updates refused inside a good batch envelope, by fine reason",
};

/// `stream_signature_failures_total{reason}` (service): `unsigned` or `bad_signature`
/// entries while `STREAM_SIGNING_KEY` is set.
pub static STREAM_SIGNATURE_FAILURES: MetricSpec = MetricSpec {
    name: "stream_signature_failures_total",
    kind: Counter,
    labels: &["reason"],
    help: "Stream entries refused for their signature (unsigned, bad_signature)",
};

/// `stream_dead_letter_refused_total` (service).
pub static STREAM_DEAD_LETTER_REFUSED: MetricSpec = MetricSpec {
    name: "stream_dead_letter_refused_total",
    kind: Counter,
    labels: &[],
    help: "Dead-letter copies Redis refused; their entries stay pending and are retried",
};

/// `stream_consumer_lag` gauge (service).
pub static STREAM_CONSUMER_LAG: MetricSpec = MetricSpec {
    name: "stream_consumer_lag",
    kind: Gauge,
    labels: &[],
    help: "Stream entries not yet delivered to the consumer group",
};

/// `cache_l2_write_failures_total` (service): batch write-throughs to L2 that failed. The
/// Redis feed does not acknowledge such a batch; it retries it with backoff.
pub static CACHE_L2_WRITE_FAILURES: MetricSpec = MetricSpec {
    name: "cache_l2_write_failures_total",
    kind: Counter,
    labels: &[],
    help: "Batch write-throughs to L2 that failed (their stream entries stay pending and are retried)",
};

/// `cache_l1_coherent` gauge: 1 while L1 coherence (client tracking) is live and L1 is
/// served, 0 while its channel is down and L1 is bypassed; absent without coherence.
pub static CACHE_L1_COHERENT: MetricSpec = MetricSpec {
    name: "cache_l1_coherent",
    kind: Gauge,
    labels: &[],
    help: "1 while Redis invalidations reach L1 (L1 served), 0 while L1 is bypassed for want of them",
};

/// `cache_l1_invalidations_total`: keys named by Redis invalidation messages (writes by
/// other instances and foreign writers under the L2 key prefix).
pub static CACHE_L1_INVALIDATIONS: MetricSpec = MetricSpec {
    name: "cache_l1_invalidations_total",
    kind: Counter,
    labels: &[],
    help: "Keys named by Redis client-tracking invalidations received",
};

/// `cache_l1_invalidation_drops_total`: L1 entries dropped by invalidations and flushes.
pub static CACHE_L1_INVALIDATION_DROPS: MetricSpec = MetricSpec {
    name: "cache_l1_invalidation_drops_total",
    kind: Counter,
    labels: &[],
    help: "L1 entries dropped because Redis said their key changed (or L1 was flushed)",
};

/// `cache_l1_refetches_total`: invalidated L1 entries re-fetched from L2 ahead of a read.
pub static CACHE_L1_REFETCHES: MetricSpec = MetricSpec {
    name: "cache_l1_refetches_total",
    kind: Counter,
    labels: &[],
    help: "Invalidated L1 entries re-fetched from L2 and put back into L1",
};

/// `cache_l1_coherence_resets_total`: invalidation channel losses and flushes (reconnect,
/// Redis restart, queue overflow, failed heartbeat, `FLUSHALL`); L1 is flushed each time.
pub static CACHE_L1_COHERENCE_RESETS: MetricSpec = MetricSpec {
    name: "cache_l1_coherence_resets_total",
    kind: Counter,
    labels: &[],
    help: "Times the invalidation channel was lost or Redis flushed (L1 flushed each time)",
};

/// Every exported metric, in export order.
pub static ALL_METRICS: [&MetricSpec; 35] = [
    &WARMING_OPERATIONS,
    &WARMING_PAIRS_WARMED,
    &WARMING_DURATION,
    &WARMING_DEBOUNCED,
    &WARMING_DROPPED,
    &WARMING_ERRORS,
    &WARMING_PENDING,
    &WARMING_SHADOW_PREDICTIONS,
    &WARMING_SHADOW_HITS,
    &WARMING_ENABLED,
    &WARMING_SHADOW_MODE,
    &CORRELATION_TRACKING_DURATION,
    &CORRELATION_PAIRS_TRACKED,
    &CORRELATION_PAIRS_CAPACITY,
    &CORRELATION_PAIRS_EVICTED,
    &CACHE_HITS,
    &CACHE_MISSES,
    &CACHE_ENTRIES,
    &CACHE_SIZE_BYTES,
    &CACHE_L2_REACHABLE,
    &PRICE_UPDATES,
    &DETECTOR_OPPORTUNITIES,
    &STREAM_ENTRIES_PROCESSED,
    &STREAM_DEAD_LETTER,
    &STREAM_DEAD_LETTER_REASONS,
    &STREAM_BAD_UPDATES,
    &STREAM_SIGNATURE_FAILURES,
    &STREAM_DEAD_LETTER_REFUSED,
    &STREAM_CONSUMER_LAG,
    &CACHE_L2_WRITE_FAILURES,
    &CACHE_L1_COHERENT,
    &CACHE_L1_INVALIDATIONS,
    &CACHE_L1_INVALIDATION_DROPS,
    &CACHE_L1_REFETCHES,
    &CACHE_L1_COHERENCE_RESETS,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_suffixes_match_types() {
        for (i, a) in ALL_METRICS.iter().enumerate() {
            assert!(
                ALL_METRICS[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
            assert_eq!(a.kind == Counter, a.name.ends_with("_total"), "{}", a.name);
        }
    }
}
