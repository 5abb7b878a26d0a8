//! The `timebased` strategy (see [`TimeBasedStrategy`]).

use super::{
    SelectionReason, TimeBasedConfig, WarmingCandidate, WarmingContext, WarmingStrategy, eligible,
};

/// `timebased`: rank by `recency_weight × recency + correlation_weight × score`, keep
/// combined >= `min_score`, take `top_n` (original defaults: 0.3, 0.7, 60,000 ms, 5, 0.3).
///
/// Recency is 1.0 for a co-occurrence younger than `recency_window_ms` and
/// `exp(-age / recency_window_ms)` from the window on (the original's rule, including its
/// step from 1.0 to e⁻¹ at the window's edge). A `last_seen` in the future counts as age
/// 0. Weights are not normalised, as in the original. Because recency can lift a weak
/// score over `min_score`, the strategy's own pre-filter ([`WarmingStrategy::min_score`]) is
/// 0, and the warmer is asked for `4 × top_n` candidates to re-rank. The warmer's
/// `min_correlation_score` (0.3 by default) still applies to the tracker's score, as in the
/// original; set it to 0 to let recency lift any score.
#[derive(Debug, Clone)]
pub struct TimeBasedStrategy {
    config: TimeBasedConfig,
}

impl TimeBasedStrategy {
    /// A strategy with `config`.
    pub fn new(config: TimeBasedConfig) -> Self {
        Self { config }
    }

    /// Recency of a co-occurrence seen at `last_seen_ms`, at `now_ms`.
    pub fn recency(&self, now_ms: u64, last_seen_ms: u64) -> f64 {
        let age = now_ms.saturating_sub(last_seen_ms);
        let window = self.config.recency_window_ms.max(1);
        if age < window {
            1.0
        } else {
            (-(age as f64) / window as f64).exp()
        }
    }
}

impl WarmingStrategy for TimeBasedStrategy {
    fn select_into(
        &self,
        ctx: &WarmingContext<'_>,
        out: &mut Vec<WarmingCandidate>,
    ) -> SelectionReason {
        let c = &self.config;
        out.clear();
        out.extend(eligible(ctx).filter_map(|corr| {
            let recency = self.recency(ctx.now_ms, corr.last_seen_ms);
            let combined = c.recency_weight * recency + c.correlation_weight * corr.score;
            (combined >= c.min_score).then_some(WarmingCandidate {
                pair: corr.pair,
                score: corr.score,
                priority: combined,
                estimated_benefit: combined * corr.co_occurrences,
            })
        }));
        if out.is_empty() {
            return SelectionReason::NothingCombined {
                min_score: c.min_score,
            };
        }
        out.sort_by(|a, b| b.priority.total_cmp(&a.priority));
        out.truncate(c.top_n);
        SelectionReason::TimeBased {
            selected: out.len(),
            correlation_weight: c.correlation_weight,
            recency_weight: c.recency_weight,
        }
    }

    fn name(&self) -> &'static str {
        "timebased"
    }

    fn config(&self) -> serde_json::Value {
        let c = &self.config;
        serde_json::json!({
            "recencyWeight": c.recency_weight,
            "correlationWeight": c.correlation_weight,
            "recencyWindowMs": c.recency_window_ms,
            "topN": c.top_n,
            "minScore": c.min_score,
        })
    }

    fn max_candidates(&self) -> usize {
        self.config.top_n.saturating_mul(4)
    }

    fn min_score(&self) -> f64 {
        0.0
    }
}
