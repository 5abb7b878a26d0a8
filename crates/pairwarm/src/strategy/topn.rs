//! The `topn` strategy (see [`TopNStrategy`]).

use super::{Selection, TopNConfig, WarmingContext, WarmingStrategy, by_score, nothing_found};

/// `topn`: the `top_n` best correlations with score >= `min_score` (original defaults: 5,
/// 0.3). Priority = score, estimated benefit = score × co-occurrences.
#[derive(Debug, Clone)]
pub struct TopNStrategy {
    config: TopNConfig,
}

impl TopNStrategy {
    /// A strategy with `config` (validate it with [`TopNConfig::validate`] first if it
    /// comes from outside; [`super::StrategyConfig::parse`] does).
    pub fn new(config: TopNConfig) -> Self {
        Self { config }
    }
}

impl WarmingStrategy for TopNStrategy {
    fn select(&self, ctx: &WarmingContext<'_>) -> Selection {
        let mut candidates = by_score(ctx, self.config.min_score);
        if candidates.is_empty() {
            return Selection {
                candidates,
                reason: nothing_found(self.config.min_score),
            };
        }
        candidates.truncate(self.config.top_n);
        Selection {
            reason: format!(
                "Selected top {} pairs by correlation score",
                candidates.len()
            ),
            candidates,
        }
    }

    fn name(&self) -> &'static str {
        "topn"
    }

    fn config(&self) -> serde_json::Value {
        serde_json::json!({ "topN": self.config.top_n, "minScore": self.config.min_score })
    }

    fn max_candidates(&self) -> usize {
        self.config.top_n
    }

    fn min_score(&self) -> f64 {
        self.config.min_score
    }
}
