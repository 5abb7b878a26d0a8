//! The `threshold` strategy (see [`ThresholdStrategy`]).

use super::{Selection, ThresholdConfig, WarmingContext, WarmingStrategy, by_score, nothing_found};

/// `threshold`: every correlation with score >= `min_score`, best first, capped at
/// `max_pairs` (original defaults: 0.5, 10). Priority = score, estimated benefit = score ×
/// co-occurrences.
#[derive(Debug, Clone)]
pub struct ThresholdStrategy {
    config: ThresholdConfig,
}

impl ThresholdStrategy {
    /// A strategy with `config`.
    pub fn new(config: ThresholdConfig) -> Self {
        Self { config }
    }
}

impl WarmingStrategy for ThresholdStrategy {
    fn select(&self, ctx: &WarmingContext<'_>) -> Selection {
        let mut candidates = by_score(ctx, self.config.min_score);
        let above = candidates.len();
        if above == 0 {
            return Selection {
                candidates,
                reason: nothing_found(self.config.min_score),
            };
        }
        candidates.truncate(self.config.max_pairs);
        let reason = if above > self.config.max_pairs {
            format!(
                "Selected {}/{above} pairs above threshold (capped at max)",
                candidates.len()
            )
        } else {
            format!("Selected all {} pairs above threshold", candidates.len())
        };
        Selection { candidates, reason }
    }

    fn name(&self) -> &'static str {
        "threshold"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::json!({ "minScore": self.config.min_score, "maxPairs": self.config.max_pairs })
    }

    fn max_candidates(&self) -> usize {
        // One more than the cap, so the "capped at max" reason can be told apart.
        self.config.max_pairs.saturating_add(1)
    }

    fn min_score(&self) -> f64 {
        self.config.min_score
    }
}
