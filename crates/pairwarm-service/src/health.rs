//! The `/health/warming` document: the seed's fields, plus what an operator needs.
//!
//! Seed fields (kept exactly): `status`, `tracker.totalPairs`, `tracker.totalUpdates`,
//! `warmer.totalWarmingOps`, `warmer.totalPairsWarmed`, `warmer.successRate`.
//! `successRate` is the fraction of warms that succeeded, in [0, 1]; the seed's example
//! computed pairs per operation under that name (3.2), which is `warmer.avgPairsPerOp` here.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use pairwarm::cache::CacheStats;
use pairwarm::tracker::TrackerStats;
use pairwarm::warmer::WarmerStats;

/// Overall state, worst first.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Serving, warming as configured.
    Healthy,
    /// Serving, but warming or L2 is impaired (errors, timeouts, queue drops).
    Degraded,
    /// Not serving correctly (L2 unreachable with L2 enabled, consumer stopped).
    Unhealthy,
}

impl Status {
    /// The lowercase name used in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
        }
    }
}

/// The `/health/warming` document and its status.
#[derive(Clone, Debug, PartialEq)]
pub struct Health {
    /// Overall status (decides the HTTP status: 503 only for unhealthy).
    pub status: Status,
    /// The JSON document; it contains `"status"` too.
    pub body: Value,
}

/// The `/ready` answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// Ready to take traffic (L2 reachable, feed running).
    pub ready: bool,
    /// `(name, ok, detail)` per check, in display order.
    pub checks: Vec<(String, bool, String)>,
}

/// Inputs of the document (all plain snapshots).
pub struct HealthInputs<'a> {
    /// Tracker counters.
    pub tracker: &'a TrackerStats,
    /// What the tracker learns from: `"misses"` or `"updates"` (`WARMING_LEARN_FROM`, as
    /// the running tracker was built; the setting takes effect at a restart).
    pub learns_from: &'static str,
    /// Warmer counters (`None` when warming is not built).
    pub warmer: Option<&'a WarmerStats>,
    /// Warmer counters at the start of the failure window ([`HealthWindow`]).
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
    /// Conditions found by the caller that make it degraded.
    pub degradations: Vec<String>,
}

/// Builds the document and its status.
pub fn warming_health(inputs: &HealthInputs<'_>) -> (Status, Value) {
    let mut status = Status::Healthy;
    let mut reasons: Vec<String> = inputs.failures.clone();
    if !reasons.is_empty() {
        status = Status::Unhealthy;
    }
    if !inputs.degradations.is_empty() {
        status = status.max(Status::Degraded);
        reasons.extend(inputs.degradations.iter().cloned());
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
            "learnsFrom": inputs.learns_from,
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

fn level(l: &pairwarm::cache::LevelStats) -> Value {
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

/// The warmer counters the service's timer sampled over the last [`HealthWindow::SPAN`]:
/// the document's failure rates compare the counters of now with the oldest sample, so
/// reading the document never moves its window (a probe and a person reading it get the
/// same answer).
#[derive(Debug, Default)]
pub struct HealthWindow {
    samples: VecDeque<(Instant, WarmerStats)>,
}

impl HealthWindow {
    /// How far back "recent warms" reach.
    pub const SPAN: Duration = Duration::from_secs(10);

    /// Adds a sample taken at `now`; drops those older than [`Self::SPAN`].
    pub fn sample(&mut self, now: Instant, stats: WarmerStats) {
        self.samples.push_back((now, stats));
        while self
            .samples
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > Self::SPAN)
        {
            self.samples.pop_front();
        }
    }

    /// The oldest sample of the window (the baseline of recent failure rates).
    pub fn baseline(&self) -> Option<&WarmerStats> {
        self.samples.front().map(|(_, stats)| stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(ops: u64) -> WarmerStats {
        WarmerStats {
            total_warming_ops: ops,
            ..WarmerStats::default()
        }
    }

    #[test]
    fn the_window_keeps_samples_of_the_last_span() {
        let mut w = HealthWindow::default();
        let t0 = Instant::now();
        assert!(w.baseline().is_none());
        w.sample(t0, stats(1));
        w.sample(t0 + Duration::from_secs(5), stats(2));
        assert_eq!(w.baseline().map(|s| s.total_warming_ops), Some(1));
        w.sample(t0 + Duration::from_secs(11), stats(3));
        assert_eq!(w.baseline().map(|s| s.total_warming_ops), Some(2));
        w.sample(t0 + Duration::from_secs(30), stats(4));
        assert_eq!(w.baseline().map(|s| s.total_warming_ops), Some(4));
    }
}
