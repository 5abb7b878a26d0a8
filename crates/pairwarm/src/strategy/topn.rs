//! The `topn` strategy (see [`TopNStrategy`]).

use super::{
    SelectionReason, TopNConfig, WarmingCandidate, WarmingContext, WarmingStrategy, by_score,
};

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
    fn select_into(
        &self,
        ctx: &WarmingContext<'_>,
        out: &mut Vec<WarmingCandidate>,
    ) -> SelectionReason {
        by_score(ctx, self.config.min_score, out);
        if out.is_empty() {
            return SelectionReason::NothingFound {
                min_score: self.config.min_score,
            };
        }
        out.truncate(self.config.top_n);
        SelectionReason::TopN {
            selected: out.len(),
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
