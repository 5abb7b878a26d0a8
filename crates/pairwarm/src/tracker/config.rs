//! [`TrackerConfig`], the learning [`Signal`] and [`TrackerError`].

use serde::{Deserialize, Serialize};

/// Which observations feed the neighbour tables.
///
/// Both signals always *count* (`total_updates`, `total_reads`); only the selected one
/// *credits* co-occurrences, so a simulator can run two trackers side by side on the same
/// trace and compare them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    /// Update co-occurrence, as the original: an update of `A` credits every distinct pair
    /// updated within the window before it (capped), in both directions.
    #[default]
    Updates,
    /// Read-learning: a read of `r` credits `r` in the table of each distinct pair updated
    /// within the window before the read (capped), at most once per update. A score is then
    /// "the fraction of `u`'s updates followed by a read of `r`".
    Reads,
}

/// Tracker configuration. Every bound is fixed at construction; see the module docs for
/// the memory formula.
///
/// ```
/// use pairwarm::tracker::{Signal, TrackerConfig};
/// let config = TrackerConfig { signal: Signal::Reads, ..TrackerConfig::default() };
/// assert_eq!(config.window_ms, 1000);
/// assert!(config.validate().is_ok());
/// assert!(TrackerConfig { neighbours_per_pair: 0, ..config }.validate().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackerConfig {
    /// Co-occurrence window in ms (the original's `coOccurrenceWindowMs`, 1000). An update
    /// exactly `window_ms` earlier still counts.
    pub window_ms: u64,
    /// Most pairs tracked at once (the original's `maxTrackedPairs`, 5000); a new pair
    /// beyond it replaces the coldest.
    pub max_tracked_pairs: usize,
    /// Neighbour slots per pair (`m`, a multiple of 4): the most partners one pair
    /// remembers, in `m / 4` buckets of 4 (one cache line each).
    pub neighbours_per_pair: usize,
    /// Half-life of every count, in ms. Default 600,000 (10 min): an hour-old regime weighs
    /// 1/64 of a fresh one, matching the original's one-hour history, while a partner seen
    /// in the last minutes keeps ~90 % of its weight.
    pub half_life_ms: u64,
    /// Co-occurrences a relation needs before it is scored (original: 3). Counts decay,
    /// so the gate is `decayed count >= min_co_occurrences - 0.5`: three co-occurrences
    /// pass while recent (~2.5 min at the default half-life), then fade out.
    pub min_co_occurrences: f64,
    /// Most distinct pairs one call credits (newest first); bounds the work per call
    /// whatever the burst size. Each credit is one cache-line write to the partner's
    /// table, which is most of an update's cost. The default 4 (8 until round 6) cuts
    /// `record_price_update`'s p50 by about 40% against 8, and measured no loss of hit rate:
    /// over the 26 evaluation workloads (L1 64/128/512, TTL none and 3 s) `--strategy
    /// default` moved by +0.004 points on average and `topn` by +0.13 (the newest partners
    /// are the nearest in time, the likeliest to be related). Raise it for large blocks
    /// when the latency budget allows.
    pub max_credits_per_update: usize,
    /// Which signal credits the tables.
    pub signal: Signal,
    /// Lead-time-aware read learning ([`Signal::Reads`] only): a read credits an update
    /// only if it comes at least this many ms after it, so the tables learn only reads a
    /// warm issued at the update can still beat (0: every read in the window, as before).
    /// The tracker's clock is in ms, so 1 means "a later millisecond": a read `L` µs after
    /// the update passes with probability about `L / 1000` below 1 ms and always above —
    /// a read 1-9 µs after its update (no warm can beat it) weighs under 1%, one 250 µs
    /// later (an L2 round trip) about 25%.
    pub min_lead_ms: u64,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            window_ms: 1000,
            max_tracked_pairs: 5000,
            neighbours_per_pair: 16,
            half_life_ms: 600_000,
            min_co_occurrences: 3.0,
            max_credits_per_update: DEFAULT_MAX_CREDITS,
            signal: Signal::Updates,
            min_lead_ms: 0,
        }
    }
}

/// Default of [`TrackerConfig::max_credits_per_update`].
pub const DEFAULT_MAX_CREDITS: usize = 4;
/// Upper bound of [`TrackerConfig::max_tracked_pairs`] (ids keep 10 generation bits).
pub const MAX_TRACKED_PAIRS: usize = 1 << 22;
/// Upper bound of [`TrackerConfig::neighbours_per_pair`].
pub const MAX_NEIGHBOURS: usize = 256;
/// Upper bound of [`TrackerConfig::max_credits_per_update`].
pub const MAX_CREDITS: usize = 64;
/// Upper bound of [`TrackerConfig::half_life_ms`] (2^28 ms, about 3.1 days): an epoch of
/// 16 half-lives must fit the tables' 32-bit millisecond offsets.
pub const MAX_HALF_LIFE_MS: u64 = 1 << 28;
/// Upper bound of [`TrackerConfig::window_ms`] (1 hour).
pub const MAX_WINDOW_MS: u64 = 3600 * 1000;

/// A rejected tracker configuration, naming the field, the value and the accepted range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrackerError {
    /// A field is outside its accepted range.
    #[error("tracker config: {field} = {value} is out of range (expected {expected})")]
    OutOfRange {
        /// Field name, as in [`TrackerConfig`].
        field: &'static str,
        /// The rejected value, as text.
        value: String,
        /// The accepted range.
        expected: &'static str,
    },
}

fn check<T: PartialOrd + std::fmt::Display>(
    field: &'static str,
    value: T,
    min: T,
    max: T,
    expected: &'static str,
) -> Result<(), TrackerError> {
    // `!(a <= b)` rather than `a > b` so NaN is rejected too.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    if !(value >= min && value <= max) {
        return Err(TrackerError::OutOfRange {
            field,
            value: value.to_string(),
            expected,
        });
    }
    Ok(())
}

impl TrackerConfig {
    /// Checks every field against its range.
    pub fn validate(&self) -> Result<(), TrackerError> {
        check("window_ms", self.window_ms, 0, MAX_WINDOW_MS, "0..=3600000")?;
        check(
            "min_lead_ms",
            self.min_lead_ms,
            0,
            self.window_ms,
            "0..=window_ms",
        )?;
        check(
            "max_tracked_pairs",
            self.max_tracked_pairs,
            2,
            MAX_TRACKED_PAIRS,
            "2..=4194304",
        )?;
        check(
            "neighbours_per_pair",
            self.neighbours_per_pair,
            4,
            MAX_NEIGHBOURS,
            "a multiple of 4 in 4..=256",
        )?;
        if !self.neighbours_per_pair.is_multiple_of(4) {
            return Err(TrackerError::OutOfRange {
                field: "neighbours_per_pair",
                value: self.neighbours_per_pair.to_string(),
                expected: "a multiple of 4 in 4..=256",
            });
        }
        check(
            "half_life_ms",
            self.half_life_ms,
            1,
            MAX_HALF_LIFE_MS,
            "1..=268435456 (about 3.1 days)",
        )?;
        check(
            "min_co_occurrences",
            self.min_co_occurrences,
            0.0,
            1e12,
            "a finite number >= 0",
        )?;
        check(
            "max_credits_per_update",
            self.max_credits_per_update,
            1,
            MAX_CREDITS,
            "1..=64",
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_originals_and_valid() {
        let c = TrackerConfig::default();
        assert_eq!(c.window_ms, 1000);
        assert_eq!(c.max_tracked_pairs, 5000);
        assert_eq!(c.min_co_occurrences, 3.0);
        assert_eq!(c.signal, Signal::Updates);
        c.validate().unwrap();
    }

    #[test]
    fn errors_name_the_field() {
        let bad = TrackerConfig {
            min_co_occurrences: f64::NAN,
            ..TrackerConfig::default()
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("min_co_occurrences"), "{err}");
        let bad = TrackerConfig {
            max_credits_per_update: 65,
            ..TrackerConfig::default()
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("max_credits_per_update = 65"), "{err}");
    }
}
