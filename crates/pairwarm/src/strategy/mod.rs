//! Warming strategies: the policy that turns the tracker's scored neighbours into the
//! pairs to warm.
//!
//! The warmer asks the tracker for `max_candidates()` correlations with score >= the
//! stricter of `min_score()` and its own `min_correlation_score`, wraps them in a [`WarmingContext`] with the L1's state, and calls
//! [`WarmingStrategy::select`]. The four strategies keep the original's rules and defaults
//! (see each module); every filter is inclusive (`>=`), every sort is stable and
//! descending, so ties keep the tracker's order. All strategies also drop the source pair,
//! duplicate pairs and non-finite scores from their input, whatever the caller passes.
//!
//! ```
//! use pairwarm::pair::PairId;
//! use pairwarm::strategy::{StrategyConfig, WarmingContext};
//! use pairwarm::tracker::PairCorrelation;
//!
//! let strategy = StrategyConfig::default().build(); // topn {topN: 5, minScore: 0.3}
//! let correlations = [
//!     PairCorrelation { pair: PairId::from_raw(2), score: 0.9, co_occurrences: 12.0, last_seen_ms: 1_000 },
//!     PairCorrelation { pair: PairId::from_raw(3), score: 0.2, co_occurrences: 40.0, last_seen_ms: 1_000 },
//! ];
//! let ctx = WarmingContext {
//!     source: PairId::from_raw(1),
//!     now_ms: 1_500,
//!     l1_hit_rate: 0.9,
//!     l1_size: 100,
//!     l1_capacity: 1_000,
//!     correlations: &correlations,
//! };
//! let selection = strategy.select(&ctx);
//! assert_eq!(selection.candidates.len(), 1);
//! assert_eq!(selection.candidates[0].pair, PairId::from_raw(2));
//! assert_eq!(selection.reason, "Selected top 1 pairs by correlation score");
//! ```

mod adaptive;
mod config;
mod threshold;
mod timebased;
mod topn;

pub use adaptive::AdaptiveStrategy;
pub use config::{
    AdaptiveConfig, MAX_PAIRS_LIMIT, StrategyConfig, StrategyConfigError, ThresholdConfig,
    TimeBasedConfig, TopNConfig,
};
pub use threshold::ThresholdStrategy;
pub use timebased::TimeBasedStrategy;
pub use topn::TopNStrategy;

use crate::pair::PairId;
use crate::tracker::PairCorrelation;

/// What a strategy sees: the source of the warm, the time, the L1's state and the
/// tracker's correlations for the source.
#[derive(Clone, Copy, Debug)]
pub struct WarmingContext<'a> {
    /// The pair whose update triggered the warm.
    pub source: PairId,
    /// Current time, in the tracker's clock (ms).
    pub now_ms: u64,
    /// L1 hit rate in `[0, 1]` (0 when there was no traffic yet).
    pub l1_hit_rate: f64,
    /// Entries in L1.
    pub l1_size: usize,
    /// L1 bound in entries.
    pub l1_capacity: usize,
    /// The tracker's correlations for `source`, best first.
    pub correlations: &'a [PairCorrelation],
}

/// One pair to warm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WarmingCandidate {
    /// The pair.
    pub pair: PairId,
    /// Its correlation score with the source.
    pub score: f64,
    /// The value the strategy ranked by (the score, or timebased's combined score).
    pub priority: f64,
    /// `priority × co-occurrences`: expected reads saved, in the original's units.
    pub estimated_benefit: f64,
}

/// A strategy's answer: candidates, best first, and why.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    /// Pairs to warm, best first, no duplicates, never the source.
    pub candidates: Vec<WarmingCandidate>,
    /// Human-readable reason (the original's wording).
    pub reason: String,
}

/// A warming policy. Implementations are shareable (`Arc<dyn WarmingStrategy>`); a
/// stateful one (adaptive) keeps its state inside, behind atomics.
pub trait WarmingStrategy: Send + Sync {
    /// Chooses the pairs to warm.
    fn select(&self, ctx: &WarmingContext<'_>) -> Selection;
    /// `topn`, `threshold`, `adaptive` or `timebased`.
    fn name(&self) -> &'static str;
    /// Configuration (and state) as the original's camelCase `getConfig()`.
    fn config(&self) -> serde_json::Value;
    /// How many correlations the warmer should request from the tracker.
    fn max_candidates(&self) -> usize;
    /// The tracker-side score filter the warmer should use.
    fn min_score(&self) -> f64;
    /// Forgets runtime state (adaptive: N back to its initial value).
    fn reset(&self) {}
}

/// The usable correlations of a context: not the source, finite score, first occurrence
/// of each pair only.
pub(crate) fn eligible<'a>(
    ctx: &'a WarmingContext<'a>,
) -> impl Iterator<Item = &'a PairCorrelation> + 'a {
    ctx.correlations
        .iter()
        .enumerate()
        .filter(move |(i, c)| {
            c.pair != ctx.source
                && c.score.is_finite()
                && c.co_occurrences.is_finite()
                && !ctx.correlations[..*i].iter().any(|p| p.pair == c.pair)
        })
        .map(|(_, c)| c)
}

/// Candidates with score >= `min_score`, ranked by score (stable, descending).
pub(crate) fn by_score(ctx: &WarmingContext<'_>, min_score: f64) -> Vec<WarmingCandidate> {
    let mut out: Vec<WarmingCandidate> = eligible(ctx)
        .filter(|c| c.score >= min_score)
        .map(|c| WarmingCandidate {
            pair: c.pair,
            score: c.score,
            priority: c.score,
            estimated_benefit: c.score * c.co_occurrences,
        })
        .collect();
    out.sort_by(|a, b| b.priority.total_cmp(&a.priority));
    out
}

/// The original's reason when nothing passes the filter.
pub(crate) fn nothing_found(min_score: f64) -> String {
    format!("No correlations found with score >= {min_score}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corr(pair: u32, score: f64) -> PairCorrelation {
        PairCorrelation {
            pair: PairId::from_raw(pair),
            score,
            co_occurrences: 10.0,
            last_seen_ms: 0,
        }
    }

    #[test]
    fn eligible_drops_source_duplicates_and_nan() {
        let cs = [corr(1, 0.9), corr(2, 0.8), corr(2, 0.95), corr(3, f64::NAN)];
        let ctx = WarmingContext {
            source: PairId::from_raw(1),
            now_ms: 0,
            l1_hit_rate: 0.0,
            l1_size: 0,
            l1_capacity: 0,
            correlations: &cs,
        };
        let got: Vec<_> = eligible(&ctx).map(|c| (c.pair.raw(), c.score)).collect();
        assert_eq!(got, vec![(2, 0.8)]);
    }
}
