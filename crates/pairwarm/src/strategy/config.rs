//! Strategy configurations: the original's defaults, parsed from the seed's camelCase JSON
//! (`WARMING_STRATEGY_CONFIG`) with every field checked.
//!
//! Parsing is strict where the original was not: unknown fields, wrong types and
//! out-of-range values are errors naming the field, the value and the accepted range. As
//! in the original, an absent field (or `null`) takes its default, and an explicit value
//! (including 0 where accepted) is honoured.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    AdaptiveStrategy, ThresholdStrategy, TimeBasedStrategy, TopNStrategy, WarmingStrategy,
};

/// A rejected strategy name or configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StrategyConfigError {
    /// Not one of the four strategy names.
    #[error(
        "unknown warming strategy {kind:?}: expected one of topn, threshold, adaptive, timebased"
    )]
    UnknownKind {
        /// The rejected name.
        kind: String,
    },
    /// Not JSON at all.
    #[error("{kind} strategy config is not valid JSON: {message}")]
    Json {
        /// Strategy kind.
        kind: &'static str,
        /// The parser's message (with line and column).
        message: String,
    },
    /// JSON, but not an object.
    #[error("{kind} strategy config must be a JSON object, found {found}")]
    NotAnObject {
        /// Strategy kind.
        kind: &'static str,
        /// What was found instead.
        found: String,
    },
    /// A field this strategy does not have.
    #[error("{kind} strategy config: unknown field {field:?} (accepted: {})", accepted.join(", "))]
    UnknownField {
        /// Strategy kind.
        kind: &'static str,
        /// The unknown field.
        field: String,
        /// The fields the strategy accepts.
        accepted: &'static [&'static str],
    },
    /// A field with a value of the wrong type.
    #[error("{kind} strategy config: {field} = {found} is not {expected}")]
    InvalidType {
        /// Strategy kind.
        kind: &'static str,
        /// The field.
        field: &'static str,
        /// The value found, as JSON.
        found: String,
        /// What the field takes.
        expected: &'static str,
    },
    /// A field outside its range.
    #[error("{kind} strategy config: {field} = {value} is out of range (expected {expected})")]
    OutOfRange {
        /// Strategy kind.
        kind: &'static str,
        /// The field.
        field: &'static str,
        /// The value, as text.
        value: String,
        /// The accepted range.
        expected: String,
    },
}

/// Largest `topN` / `maxPairs` / `minPairs` accepted.
pub const MAX_PAIRS_LIMIT: usize = 1000;

/// `topn`: the `top_n` best correlations with score >= `min_score`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct TopNConfig {
    /// How many pairs to warm (default 5).
    pub top_n: usize,
    /// Inclusive score threshold in `[0, 1]` (default 0.3).
    pub min_score: f64,
}

impl Default for TopNConfig {
    fn default() -> Self {
        Self {
            top_n: 5,
            min_score: 0.3,
        }
    }
}

/// `threshold`: every correlation with score >= `min_score`, at most `max_pairs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ThresholdConfig {
    /// Inclusive score threshold in `[0, 1]` (default 0.5).
    pub min_score: f64,
    /// Cap (default 10).
    pub max_pairs: usize,
}

impl Default for ThresholdConfig {
    fn default() -> Self {
        Self {
            min_score: 0.5,
            max_pairs: 10,
        }
    }
}

/// `adaptive`: top N, with N steered towards `target_hit_rate`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AdaptiveConfig {
    /// L1 hit rate to reach, in `[0, 1]` (default 0.97).
    pub target_hit_rate: f64,
    /// Smallest N (default 3).
    pub min_pairs: usize,
    /// Largest N (default 10).
    pub max_pairs: usize,
    /// Inclusive score threshold in `[0, 1]` (default 0.3).
    pub min_score: f64,
    /// Gain of the controller, in `[0, 10]` (default 0.1).
    pub adjustment_factor: f64,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        Self {
            target_hit_rate: 0.97,
            min_pairs: 3,
            max_pairs: 10,
            min_score: 0.3,
            adjustment_factor: 0.1,
        }
    }
}

/// `timebased`: top N by `recency_weight × recency + correlation_weight × score`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct TimeBasedConfig {
    /// Weight of recency, in `[0, 1]` (default 0.3).
    pub recency_weight: f64,
    /// Weight of the correlation score, in `[0, 1]` (default 0.7).
    pub correlation_weight: f64,
    /// Age under which a co-occurrence counts as fully recent, in ms (default 60,000).
    pub recency_window_ms: u64,
    /// How many pairs to warm (default 5).
    pub top_n: usize,
    /// Inclusive threshold on the combined score, in `[0, 1]` (default 0.3).
    pub min_score: f64,
}

impl Default for TimeBasedConfig {
    fn default() -> Self {
        Self {
            recency_weight: 0.3,
            correlation_weight: 0.7,
            recency_window_ms: 60_000,
            top_n: 5,
            min_score: 0.3,
        }
    }
}

/// One of the four strategies with its configuration.
///
/// ```
/// use pairwarm::strategy::StrategyConfig;
/// let config = StrategyConfig::parse(
///     "adaptive",
///     Some(r#"{"targetHitRate":0.97,"minPairs":3,"maxPairs":10,"minScore":0.3,"adjustmentFactor":0.1}"#),
/// )
/// .unwrap();
/// assert_eq!(config.kind(), "adaptive");
/// assert_eq!(config.build().name(), "adaptive");
///
/// let err = StrategyConfig::parse("topn", Some(r#"{"topN":5,"minScore":1.5}"#)).unwrap_err();
/// assert!(err.to_string().contains("minScore = 1.5"));
/// let err = StrategyConfig::parse("topn", Some(r#"{"top_n":5}"#)).unwrap_err();
/// assert!(err.to_string().contains("unknown field \"top_n\""));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum StrategyConfig {
    /// `topn`.
    TopN(TopNConfig),
    /// `threshold`.
    Threshold(ThresholdConfig),
    /// `adaptive`.
    Adaptive(AdaptiveConfig),
    /// `timebased`.
    TimeBased(TimeBasedConfig),
}

impl Default for StrategyConfig {
    /// The original container's default: `topn {topN: 5, minScore: 0.3}`.
    fn default() -> Self {
        Self::TopN(TopNConfig::default())
    }
}

/// Field access with errors that name the field.
struct Fields<'a> {
    kind: &'static str,
    obj: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn value(&self, field: &'static str) -> Option<&Value> {
        self.obj.get(field).filter(|v| !v.is_null())
    }

    fn invalid(
        &self,
        field: &'static str,
        v: &Value,
        expected: &'static str,
    ) -> StrategyConfigError {
        StrategyConfigError::InvalidType {
            kind: self.kind,
            field,
            found: v.to_string(),
            expected,
        }
    }

    fn f64(&self, field: &'static str, default: f64) -> Result<f64, StrategyConfigError> {
        match self.value(field) {
            None => Ok(default),
            Some(v) => v.as_f64().ok_or_else(|| self.invalid(field, v, "a number")),
        }
    }

    /// A non-negative integer (`5` or `5.0`).
    fn integer(&self, field: &'static str, default: u64) -> Result<u64, StrategyConfigError> {
        let Some(v) = self.value(field) else {
            return Ok(default);
        };
        if let Some(n) = v.as_u64() {
            return Ok(n);
        }
        match v.as_f64() {
            Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= 9_007_199_254_740_992.0 => Ok(f as u64),
            _ => Err(self.invalid(field, v, "a non-negative integer")),
        }
    }

    fn count(&self, field: &'static str, default: usize) -> Result<usize, StrategyConfigError> {
        let n = self.integer(field, default as u64)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

fn range_f64(
    kind: &'static str,
    field: &'static str,
    v: f64,
    lo: f64,
    hi: f64,
) -> Result<(), StrategyConfigError> {
    if v.is_finite() && v >= lo && v <= hi {
        return Ok(());
    }
    Err(StrategyConfigError::OutOfRange {
        kind,
        field,
        value: v.to_string(),
        expected: format!("{lo} to {hi}"),
    })
}

fn range_int<T: PartialOrd + std::fmt::Display>(
    kind: &'static str,
    field: &'static str,
    v: T,
    lo: T,
    hi: T,
) -> Result<(), StrategyConfigError> {
    if v >= lo && v <= hi {
        return Ok(());
    }
    Err(StrategyConfigError::OutOfRange {
        kind,
        field,
        value: v.to_string(),
        expected: format!("{lo} to {hi}"),
    })
}

impl TopNConfig {
    const FIELDS: &'static [&'static str] = &["topN", "minScore"];

    fn from_fields(f: &Fields<'_>) -> Result<Self, StrategyConfigError> {
        let d = Self::default();
        Ok(Self {
            top_n: f.count("topN", d.top_n)?,
            min_score: f.f64("minScore", d.min_score)?,
        })
    }

    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), StrategyConfigError> {
        range_int("topn", "topN", self.top_n, 1, MAX_PAIRS_LIMIT)?;
        range_f64("topn", "minScore", self.min_score, 0.0, 1.0)
    }
}

impl ThresholdConfig {
    const FIELDS: &'static [&'static str] = &["minScore", "maxPairs"];

    fn from_fields(f: &Fields<'_>) -> Result<Self, StrategyConfigError> {
        let d = Self::default();
        Ok(Self {
            min_score: f.f64("minScore", d.min_score)?,
            max_pairs: f.count("maxPairs", d.max_pairs)?,
        })
    }

    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), StrategyConfigError> {
        range_f64("threshold", "minScore", self.min_score, 0.0, 1.0)?;
        range_int("threshold", "maxPairs", self.max_pairs, 1, MAX_PAIRS_LIMIT)
    }
}

impl AdaptiveConfig {
    const FIELDS: &'static [&'static str] = &[
        "targetHitRate",
        "minPairs",
        "maxPairs",
        "minScore",
        "adjustmentFactor",
    ];

    fn from_fields(f: &Fields<'_>) -> Result<Self, StrategyConfigError> {
        let d = Self::default();
        Ok(Self {
            target_hit_rate: f.f64("targetHitRate", d.target_hit_rate)?,
            min_pairs: f.count("minPairs", d.min_pairs)?,
            max_pairs: f.count("maxPairs", d.max_pairs)?,
            min_score: f.f64("minScore", d.min_score)?,
            adjustment_factor: f.f64("adjustmentFactor", d.adjustment_factor)?,
        })
    }

    /// Checks every field's range, and `minPairs <= maxPairs`.
    pub fn validate(&self) -> Result<(), StrategyConfigError> {
        const K: &str = "adaptive";
        range_f64(K, "targetHitRate", self.target_hit_rate, 0.0, 1.0)?;
        range_int(K, "maxPairs", self.max_pairs, 1, MAX_PAIRS_LIMIT)?;
        range_int(K, "minPairs", self.min_pairs, 0, self.max_pairs).map_err(|_| {
            StrategyConfigError::OutOfRange {
                kind: K,
                field: "minPairs",
                value: self.min_pairs.to_string(),
                expected: format!("0 to maxPairs ({})", self.max_pairs),
            }
        })?;
        range_f64(K, "minScore", self.min_score, 0.0, 1.0)?;
        range_f64(K, "adjustmentFactor", self.adjustment_factor, 0.0, 10.0)
    }
}

impl TimeBasedConfig {
    const FIELDS: &'static [&'static str] = &[
        "recencyWeight",
        "correlationWeight",
        "recencyWindowMs",
        "topN",
        "minScore",
    ];

    fn from_fields(f: &Fields<'_>) -> Result<Self, StrategyConfigError> {
        let d = Self::default();
        Ok(Self {
            recency_weight: f.f64("recencyWeight", d.recency_weight)?,
            correlation_weight: f.f64("correlationWeight", d.correlation_weight)?,
            recency_window_ms: f.integer("recencyWindowMs", d.recency_window_ms)?,
            top_n: f.count("topN", d.top_n)?,
            min_score: f.f64("minScore", d.min_score)?,
        })
    }

    /// Checks every field's range, and that the weights are not both 0.
    pub fn validate(&self) -> Result<(), StrategyConfigError> {
        const K: &str = "timebased";
        range_f64(K, "recencyWeight", self.recency_weight, 0.0, 1.0)?;
        range_f64(K, "correlationWeight", self.correlation_weight, 0.0, 1.0)?;
        if self.recency_weight + self.correlation_weight <= 0.0 {
            return Err(StrategyConfigError::OutOfRange {
                kind: K,
                field: "correlationWeight",
                value: self.correlation_weight.to_string(),
                expected: "a positive weight when recencyWeight is 0".into(),
            });
        }
        range_int(K, "recencyWindowMs", self.recency_window_ms, 1, 86_400_000)?;
        range_int(K, "topN", self.top_n, 1, MAX_PAIRS_LIMIT)?;
        range_f64(K, "minScore", self.min_score, 0.0, 1.0)
    }
}

impl StrategyConfig {
    /// The four accepted kinds.
    pub const KINDS: [&'static str; 4] = ["topn", "threshold", "adaptive", "timebased"];

    /// Parses a strategy name (`WARMING_STRATEGY`, case-insensitive) and its optional JSON
    /// configuration (`WARMING_STRATEGY_CONFIG`; `None` or blank: defaults).
    pub fn parse(kind: &str, json: Option<&str>) -> Result<Self, StrategyConfigError> {
        let kind_lc = kind.trim().to_ascii_lowercase();
        let Some(kind) = Self::KINDS.iter().copied().find(|k| *k == kind_lc) else {
            return Err(StrategyConfigError::UnknownKind {
                kind: kind.chars().take(64).collect(),
            });
        };
        let json = json.map(str::trim).filter(|j| !j.is_empty());
        let value: Value = match json {
            None => Value::Object(Map::new()),
            Some(j) => serde_json::from_str(j).map_err(|e| StrategyConfigError::Json {
                kind,
                message: e.to_string(),
            })?,
        };
        let Value::Object(obj) = &value else {
            // Clipped on a character boundary (`String::truncate` panicked mid-character).
            let found = crate::pair::clip(&value.to_string());
            return Err(StrategyConfigError::NotAnObject { kind, found });
        };
        let accepted = match kind {
            "topn" => TopNConfig::FIELDS,
            "threshold" => ThresholdConfig::FIELDS,
            "adaptive" => AdaptiveConfig::FIELDS,
            _ => TimeBasedConfig::FIELDS,
        };
        if let Some(field) = obj.keys().find(|k| !accepted.contains(&k.as_str())) {
            return Err(StrategyConfigError::UnknownField {
                kind,
                field: field.chars().take(64).collect(),
                accepted,
            });
        }
        let f = Fields { kind, obj };
        let config = match kind {
            "topn" => Self::TopN(TopNConfig::from_fields(&f)?),
            "threshold" => Self::Threshold(ThresholdConfig::from_fields(&f)?),
            "adaptive" => Self::Adaptive(AdaptiveConfig::from_fields(&f)?),
            _ => Self::TimeBased(TimeBasedConfig::from_fields(&f)?),
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks the configuration's ranges.
    pub fn validate(&self) -> Result<(), StrategyConfigError> {
        match self {
            Self::TopN(c) => c.validate(),
            Self::Threshold(c) => c.validate(),
            Self::Adaptive(c) => c.validate(),
            Self::TimeBased(c) => c.validate(),
        }
    }

    /// `topn`, `threshold`, `adaptive` or `timebased`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TopN(_) => "topn",
            Self::Threshold(_) => "threshold",
            Self::Adaptive(_) => "adaptive",
            Self::TimeBased(_) => "timebased",
        }
    }

    /// A fresh strategy (adaptive starts with its initial N).
    pub fn build(&self) -> Arc<dyn WarmingStrategy> {
        match self {
            Self::TopN(c) => Arc::new(TopNStrategy::new(c.clone())),
            Self::Threshold(c) => Arc::new(ThresholdStrategy::new(c.clone())),
            Self::Adaptive(c) => Arc::new(AdaptiveStrategy::new(c.clone())),
            Self::TimeBased(c) => Arc::new(TimeBasedStrategy::new(c.clone())),
        }
    }

    /// The configuration as the original's camelCase JSON (without runtime state).
    pub fn to_json(&self) -> Value {
        let v = match self {
            Self::TopN(c) => serde_json::to_value(c),
            Self::Threshold(c) => serde_json::to_value(c),
            Self::Adaptive(c) => serde_json::to_value(c),
            Self::TimeBased(c) => serde_json::to_value(c),
        };
        v.unwrap_or(Value::Null)
    }
}
