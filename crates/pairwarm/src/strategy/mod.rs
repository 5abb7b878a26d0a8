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
//! assert_eq!(selection.reason.to_string(), "Selected top 1 pairs by correlation score");
//! ```
//!
//! The warmer calls [`WarmingStrategy::select_into`] with a reused vector, and reasons are
//! data ([`SelectionReason`], rendered only when shown), so planning a warm allocates
//! nothing.

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

use std::fmt;

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
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    /// Pairs to warm, best first, no duplicates, never the source.
    pub candidates: Vec<WarmingCandidate>,
    /// Why (the original's wording, via `Display`).
    pub reason: SelectionReason,
}

/// Which way adaptive's N moved on a selection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adjustment {
    /// The hit rate was below target.
    Increased,
    /// The hit rate was above target.
    Decreased,
    /// On target (or the hit rate was not a number).
    Unchanged,
}

impl fmt::Display for Adjustment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Increased => "increased",
            Self::Decreased => "decreased",
            Self::Unchanged => "unchanged",
        })
    }
}

/// Why a strategy selected what it did. Kept as data, so a selection allocates nothing;
/// `Display` renders the original's wording (shown with each variant).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SelectionReason {
    /// `No correlations found with score >= {min_score}`.
    NothingFound {
        /// The strategy's score filter.
        min_score: f64,
    },
    /// topn: `Selected top {selected} pairs by correlation score`.
    TopN {
        /// Pairs selected.
        selected: usize,
    },
    /// threshold: `Selected all {selected} pairs above threshold`.
    AllAboveThreshold {
        /// Pairs selected.
        selected: usize,
    },
    /// threshold: `Selected {selected}/{above} pairs above threshold (capped at max)`.
    CappedAtMax {
        /// Pairs selected (`max_pairs`).
        selected: usize,
        /// Pairs that passed the filter.
        above: usize,
    },
    /// adaptive: `Hit rate {hit_rate:.3} (target: {target:.3}, delta: {delta:.2}%).
    /// Adjusted N to {take} ({direction}, currentN {current_n:.3}).` where delta is
    /// `(target - hit_rate) × 100`.
    Adaptive {
        /// The L1 hit rate the step saw.
        hit_rate: f64,
        /// The target hit rate.
        target: f64,
        /// Pairs taken (`round(current_n)`).
        take: usize,
        /// Which way N moved.
        direction: Adjustment,
        /// The fractional N after the step.
        current_n: f64,
    },
    /// adaptive: `No correlations found with score >= {min_score} (N {direction} to {take})`.
    AdaptiveNothingFound {
        /// The strategy's score filter.
        min_score: f64,
        /// Pairs N would take.
        take: usize,
        /// Which way N moved.
        direction: Adjustment,
    },
    /// timebased: `Selected top {selected} pairs by combined score ({correlation}%
    /// correlation + {recency}% recency)`, weights as percentages.
    TimeBased {
        /// Pairs selected.
        selected: usize,
        /// `correlation_weight`.
        correlation_weight: f64,
        /// `recency_weight`.
        recency_weight: f64,
    },
    /// timebased: `No correlations found with combined score >= {min_score}`.
    NothingCombined {
        /// The strategy's combined-score filter.
        min_score: f64,
    },
    /// A manual warm of an explicit list of pairs: `manual`.
    Manual,
    /// A strategy outside this crate, in its own words.
    Other(&'static str),
}

/// `w` as a percentage without float noise (0.7 -> 70).
fn percent(w: f64) -> f64 {
    (w * 10_000.0).round() / 100.0
}

impl fmt::Display for SelectionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NothingFound { min_score } => {
                write!(f, "No correlations found with score >= {min_score}")
            }
            Self::TopN { selected } => {
                write!(f, "Selected top {selected} pairs by correlation score")
            }
            Self::AllAboveThreshold { selected } => {
                write!(f, "Selected all {selected} pairs above threshold")
            }
            Self::CappedAtMax { selected, above } => write!(
                f,
                "Selected {selected}/{above} pairs above threshold (capped at max)"
            ),
            Self::Adaptive {
                hit_rate,
                target,
                take,
                direction,
                current_n,
            } => write!(
                f,
                "Hit rate {hit_rate:.3} (target: {target:.3}, delta: {:.2}%). Adjusted N to {take} ({direction}, currentN {current_n:.3}).",
                (target - hit_rate) * 100.0
            ),
            Self::AdaptiveNothingFound {
                min_score,
                take,
                direction,
            } => write!(
                f,
                "No correlations found with score >= {min_score} (N {direction} to {take})"
            ),
            Self::TimeBased {
                selected,
                correlation_weight,
                recency_weight,
            } => write!(
                f,
                "Selected top {selected} pairs by combined score ({}% correlation + {}% recency)",
                percent(correlation_weight),
                percent(recency_weight)
            ),
            Self::NothingCombined { min_score } => write!(
                f,
                "No correlations found with combined score >= {min_score}"
            ),
            Self::Manual => f.write_str("manual"),
            Self::Other(reason) => f.write_str(reason),
        }
    }
}

/// A warming policy. Implementations are shareable (`Arc<dyn WarmingStrategy>`); a
/// stateful one (adaptive) keeps its state inside, behind atomics.
pub trait WarmingStrategy: Send + Sync {
    /// Chooses the pairs to warm into `out` (cleared first), best first, and says why.
    /// Must not allocate once `out` has room for [`WarmingStrategy::max_candidates`]
    /// candidates (the warmer reuses it on every plan).
    fn select_into(
        &self,
        ctx: &WarmingContext<'_>,
        out: &mut Vec<WarmingCandidate>,
    ) -> SelectionReason;
    /// Chooses the pairs to warm ([`WarmingStrategy::select_into`] into a new vector).
    fn select(&self, ctx: &WarmingContext<'_>) -> Selection {
        let mut candidates = Vec::new();
        let reason = self.select_into(ctx, &mut candidates);
        Selection { candidates, reason }
    }
    /// `topn`, `threshold`, `adaptive` or `timebased`.
    fn name(&self) -> &'static str;
    /// Configuration (and state) as the original's camelCase `getConfig()`.
    fn config(&self) -> serde_json::Value;
    /// How many correlations the warmer should request from the tracker.
    fn max_candidates(&self) -> usize;
    /// The tracker-side score filter the warmer should use (the warmer applies the
    /// stricter of this and its own `min_correlation_score`).
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

/// Candidates with score >= `min_score` into `out` (cleared first), ranked by score
/// (stable, descending; std's stable sort needs no heap for a few hundred candidates).
pub(crate) fn by_score(ctx: &WarmingContext<'_>, min_score: f64, out: &mut Vec<WarmingCandidate>) {
    out.clear();
    out.extend(
        eligible(ctx)
            .filter(|c| c.score >= min_score)
            .map(|c| WarmingCandidate {
                pair: c.pair,
                score: c.score,
                priority: c.score,
                estimated_benefit: c.score * c.co_occurrences,
            }),
    );
    out.sort_by(|a, b| b.priority.total_cmp(&a.priority));
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
