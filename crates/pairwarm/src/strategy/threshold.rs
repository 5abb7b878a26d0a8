//! The `threshold` strategy (see [`ThresholdStrategy`]).

use super::{
    SelectionReason, ThresholdConfig, WarmingCandidate, WarmingContext, WarmingStrategy, by_score,
};

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
    fn select_into(
        &self,
        ctx: &WarmingContext<'_>,
        out: &mut Vec<WarmingCandidate>,
    ) -> SelectionReason {
        by_score(ctx, self.config.min_score, out);
        let above = out.len();
        if above == 0 {
            return SelectionReason::NothingFound {
                min_score: self.config.min_score,
            };
        }
        out.truncate(self.config.max_pairs);
        if above > self.config.max_pairs {
            SelectionReason::CappedAtMax {
                selected: out.len(),
                above,
            }
        } else {
            SelectionReason::AllAboveThreshold {
                selected: out.len(),
            }
        }
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
