//! The `/health/warming` document: the seed's fields, plus what an operator needs.
//!
//! Seed fields (kept exactly): `status`, `tracker.totalPairs`, `tracker.totalUpdates`,
//! `warmer.totalWarmingOps`, `warmer.totalPairsWarmed`, `warmer.successRate`.
//! `successRate` is the fraction of warms that succeeded, in [0, 1]; the seed's example
//! computed pairs per operation under that name (3.2), which is `warmer.avgPairsPerOp` here.

use serde_json::{Value, json};

use crate::cache::CacheStats;
use crate::tracker::TrackerStats;
use crate::warmer::WarmerStats;

/// Overall state, worst first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Serving, warming as configured.
    Healthy,
    /// Serving, but warming or L2 is impaired (errors, timeouts, queue drops).
    Degraded,
    /// Not serving correctly (L2 unreachable with L2 enabled, consumer stopped).
    Unhealthy,
}

/// Inputs of the document (all plain snapshots).
pub struct HealthInputs<'a> {
    /// Tracker counters.
    pub tracker: &'a TrackerStats,
    /// Warmer counters (`None` when warming is not built).
    pub warmer: Option<&'a WarmerStats>,
    /// Warmer counters at the previous health call (for recent failure rates).
    pub warmer_before: Option<&'a WarmerStats>,
    /// Cache counters.
    pub cache: &'a CacheStats,
    /// Strategy name and config.
    pub strategy: Option<(&'a str, Value)>,
    /// Whether L2 answered its last check (`None`: L2 disabled or not checked).
    pub l2_ok: Option<bool>,
    /// Extra top-level fields (rollout, stream, shadow, ...), merged as given.
    pub extra: Vec<(&'static str, Value)>,
    /// Conditions found by the caller that make the service unhealthy.
    pub failures: Vec<String>,
}

/// Builds the document and its status.
pub fn warming_health(inputs: &HealthInputs<'_>) -> (Status, Value) {
    let mut status = Status::Healthy;
    let mut reasons: Vec<String> = inputs.failures.clone();
    if !reasons.is_empty() {
        status = Status::Unhealthy;
    }
    if inputs.l2_ok == Some(false) {
        status = status.max(Status::Degraded);
        reasons.push("L2 unreachable".into());
    }
    if let (Some(now), Some(before)) = (inputs.warmer, inputs.warmer_before) {
        let ops = now
            .total_warming_ops
            .saturating_sub(before.total_warming_ops);
        let failed = now.failed_ops.saturating_sub(before.failed_ops);
        if ops >= 10 && failed * 10 > ops {
            status = status.max(Status::Degraded);
            reasons.push(format!("{failed} of the last {ops} warms failed"));
        }
        let dropped = now.dropped.saturating_sub(before.dropped);
        if dropped > 0 {
            status = status.max(Status::Degraded);
            reasons.push(format!("{dropped} queued warms dropped (queue full)"));
        }
    }
    let t = inputs.tracker;
    let mut doc = json!({
        "status": status,
        "reasons": reasons,
        "tracker": {
            "totalPairs": t.total_pairs,
            "totalUpdates": t.total_updates,
            "totalReads": t.total_reads,
            "totalCoOccurrences": t.total_co_occurrences,
            "avgCorrelationScore": t.avg_correlation_score,
            "memoryBytes": t.memory_bytes,
        },
        "cache": {
            "l1": level(&inputs.cache.l1),
            "l2": level(&inputs.cache.l2),
            "promotions": inputs.cache.promotions,
            "l2Status": match inputs.l2_ok { Some(true) => "ok", Some(false) => "unreachable", None => "disabled" },
        },
    });
    if let Some(w) = inputs.warmer {
        doc["warmer"] = json!({
            "totalWarmingOps": w.total_warming_ops,
            "totalPairsWarmed": w.total_pairs_warmed,
            "successRate": w.success_rate,
            "avgPairsPerOp": w.avg_pairs_per_op,
            "successfulOps": w.successful_ops,
            "failedOps": w.failed_ops,
            "timeouts": w.timeouts,
            "avgDurationMs": w.avg_duration_ms,
            "queueDepth": w.queue_depth,
            "inFlight": w.in_flight,
            "debounced": w.debounced,
            "dropped": w.dropped,
            "pairsAlreadyInL1": w.total_pairs_already_in_l1,
            "pairsNotFound": w.total_pairs_not_found,
            "pairsNotAdmitted": w.total_pairs_not_admitted,
        });
    }
    if let Some((name, config)) = &inputs.strategy {
        doc["strategy"] = json!({ "name": name, "config": config });
    }
    for (k, v) in &inputs.extra {
        doc[*k] = v.clone();
    }
    (status, doc)
}

fn level(l: &crate::cache::LevelStats) -> Value {
    json!({
        "hits": l.hits,
        "misses": l.misses,
        "hitRate": l.hit_rate(),
        "errors": l.errors,
        "evictions": l.evictions,
        "size": l.size,
        "capacity": l.capacity,
    })
}
