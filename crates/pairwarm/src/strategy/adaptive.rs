//! The `adaptive` strategy (see [`AdaptiveStrategy`]).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::{
    AdaptiveConfig, Adjustment, SelectionReason, WarmingCandidate, WarmingContext, WarmingStrategy,
    by_score,
};

/// `adaptive`: top N by score (>= `min_score`), with N steered towards a target L1 hit
/// rate (original defaults: target 0.97, N in 3..=10, min score 0.3, gain 0.1).
///
/// On every selection, before filtering (as the original):
/// `n = clamp(n + (target_hit_rate - l1_hit_rate) × adjustment_factor × max_pairs, min_pairs, max_pairs)`
/// and the selection takes `round(n)` pairs.
///
/// **Difference from the original:** the original rounds `n` itself at every step, so any
/// step smaller than 0.5 is lost and N never moves for realistic hit rates (with the
/// defaults it needs the hit rate 50 points off target). Here `n` is kept fractional
/// (shown as `currentN` in [`WarmingStrategy::config`]) and only the count taken is
/// rounded, so small persistent errors accumulate and N adapts both ways. `n` starts at
/// `(min_pairs + max_pairs) / 2` in integer division (6 with the defaults, as the
/// original). A non-finite hit rate leaves `n` unchanged; a hit rate outside `[0, 1]` is
/// clamped into it. The reason says "increased", "decreased" or "unchanged" (the original
/// said "decreased" for no change).
#[derive(Debug)]
pub struct AdaptiveStrategy {
    config: AdaptiveConfig,
    /// Fractional N, as `f64` bits.
    current_n: AtomicU64,
}

impl AdaptiveStrategy {
    /// A strategy with `config`, N at its initial value.
    pub fn new(config: AdaptiveConfig) -> Self {
        let s = Self {
            current_n: AtomicU64::new(0),
            config,
        };
        s.reset_n();
        s
    }

    fn bounds(&self) -> (f64, f64) {
        let (a, b) = (self.config.min_pairs, self.config.max_pairs);
        (a.min(b) as f64, a.max(b) as f64)
    }

    fn initial_n(&self) -> f64 {
        let (lo, hi) = self.bounds();
        ((lo + hi) / 2.0).floor()
    }

    fn reset_n(&self) {
        self.current_n.store(self.initial_n().to_bits(), Relaxed);
    }

    /// The current fractional N.
    pub fn current_n(&self) -> f64 {
        f64::from_bits(self.current_n.load(Relaxed))
    }

    /// Applies one control step for `hit_rate`; returns `(adjustment, new n)`.
    fn step(&self, hit_rate: f64) -> (f64, f64) {
        let (lo, hi) = self.bounds();
        let c = &self.config;
        let adjustment = if hit_rate.is_finite() {
            (c.target_hit_rate - hit_rate.clamp(0.0, 1.0))
                * c.adjustment_factor
                * c.max_pairs as f64
        } else {
            0.0
        };
        let adjustment = if adjustment.is_finite() {
            adjustment
        } else {
            0.0
        };
        let next = |bits: u64| (f64::from_bits(bits) + adjustment).clamp(lo, hi);
        let previous = self
            .current_n
            .fetch_update(Relaxed, Relaxed, |bits| Some(next(bits).to_bits()))
            .unwrap_or_else(|bits| bits);
        (adjustment, next(previous))
    }
}

impl WarmingStrategy for AdaptiveStrategy {
    fn select_into(
        &self,
        ctx: &WarmingContext<'_>,
        out: &mut Vec<WarmingCandidate>,
    ) -> SelectionReason {
        let c = &self.config;
        let (adjustment, n) = self.step(ctx.l1_hit_rate);
        let take = n.round() as usize;
        let direction = if adjustment > 0.0 {
            Adjustment::Increased
        } else if adjustment < 0.0 {
            Adjustment::Decreased
        } else {
            Adjustment::Unchanged
        };
        by_score(ctx, c.min_score, out);
        if out.is_empty() {
            return SelectionReason::AdaptiveNothingFound {
                min_score: c.min_score,
                take,
                direction,
            };
        }
        out.truncate(take);
        SelectionReason::Adaptive {
            hit_rate: ctx.l1_hit_rate,
            target: c.target_hit_rate,
            take,
            direction,
            current_n: n,
        }
    }

    fn name(&self) -> &'static str {
        "adaptive"
    }

    fn config(&self) -> serde_json::Value {
        let c = &self.config;
        serde_json::json!({
            "targetHitRate": c.target_hit_rate,
            "minPairs": c.min_pairs,
            "maxPairs": c.max_pairs,
            "minScore": c.min_score,
            "adjustmentFactor": c.adjustment_factor,
            "currentN": self.current_n(),
        })
    }

    fn max_candidates(&self) -> usize {
        self.config.max_pairs.max(self.config.min_pairs)
    }

    fn min_score(&self) -> f64 {
        self.config.min_score
    }

    fn reset(&self) {
        self.reset_n();
    }
}
