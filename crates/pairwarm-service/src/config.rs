//! Settings from the environment, with the seed's variable names, validated at start-up.
//!
//! Every value is checked before anything starts; an invalid one stops start-up with a
//! [`ConfigError`] naming the variable, the value and the accepted form. Values are read
//! through a lookup function, so tests (and `--env-file` reloads) need not touch the
//! process environment (`std::env::set_var` is `unsafe` in edition 2024 for good reason).
//!
//! | variable | default | accepted |
//! |---|---|---|
//! | `WARMING_PROFILE` | — | `development`, `staging`, `production` (base values, overridden by the variables below) |
//! | `WARMING_STRATEGY` | `topn` | `topn`, `threshold`, `adaptive`, `timebased` |
//! | `WARMING_STRATEGY_CONFIG` | the strategy's defaults | JSON, camelCase fields of that strategy |
//! | `WARMING_MAX_PAIRS_PER_WARM` | 5 | integer 1..=1000 |
//! | `WARMING_MIN_CORRELATION_SCORE` | 0.3 | number in [0, 1] |
//! | `WARMING_ASYNC` | true | boolean |
//! | `WARMING_TIMEOUT_MS` | 50 | integer 1..=60000 |
//! | `CACHE_L1_SIZE` | 64 | megabytes of assumed 1 KiB entries (the original's unit), 1..=65536 |
//! | `CACHE_L1_TTL_MS` | — (no expiry) | integer 1..=86400000 (ours) |
//! | `CACHE_L2_ENABLED` | true | boolean |
//! | `CACHE_USE_PRICE_MATRIX` | false | boolean |
//! | `WARMING_METRICS_ENABLED` | true | boolean |
//! | `METRICS_PREFIX` | `arbitrage_` | `[a-zA-Z_:][a-zA-Z0-9_:]*` or empty |
//! | `METRICS_PORT` | 9090 | port 1..=65535 |
//! | `FEATURE_CACHE_WARMING_ENABLED` | true | boolean: the master switch |
//! | `FEATURE_ADAPTIVE_STRATEGY_ENABLED` | true | boolean; `false` turns a requested `adaptive` into `topn` (and says so) |
//! | `ANALYZER_USE_SHARED` | true | boolean |
//! | `ANALYZER_MAX_TRACKED_PAIRS` | 5000 | integer 16..=1000000 |
//! | `ANALYZER_CO_OCCURRENCE_WINDOW_MS` | 1000 | integer 1..=3600000 |
//! | `WARMING_SHADOW_MODE` | false | boolean |
//! | `WARMING_ENABLED_CHAINS` | all | comma-separated chain names |
//! | `WARMING_ROLLOUT_PERCENTAGE` | 1.0 | fraction in [0, 1] |
//! | `REDIS_URL` | — (embedded in-memory L2) | `redis://` or `rediss://` URL |
//! | `PAIRWARM_ADMIN_TOKEN` | — (admin routes off) | at least 16 characters |
//!
//! Booleans accept `true`/`false`/`1`/`0`/`yes`/`no`, case-insensitive.

use crate::container::{Profile, WarmingConfig};
use crate::rollout::RolloutState;
use crate::strategy::StrategyConfig;

/// An invalid setting: which variable, what value, what is accepted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid {variable}={value:?}: expected {expected}")]
pub struct ConfigError {
    /// The variable (or flag) name.
    pub variable: String,
    /// The rejected value (secrets are masked).
    pub value: String,
    /// The accepted form.
    pub expected: String,
}

fn error(variable: &str, value: &str, expected: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: variable.to_owned(),
        value: value.chars().take(200).collect(),
        expected: expected.into(),
    }
}

/// L1/L2 settings of the service's cache.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheSettings {
    /// `CACHE_L1_SIZE`, MB of assumed 1 KiB entries.
    pub l1_size_mb: u64,
    /// Whether `CACHE_L1_SIZE` was given (the embedded default picks a demo size if not).
    pub l1_size_explicit: bool,
    /// `CACHE_L1_TTL_MS`: L1 entries expire this long after being written, loaded or
    /// warmed (ours; the original had no L1 expiry by default).
    pub l1_ttl_ms: Option<u64>,
    /// `CACHE_L2_ENABLED`.
    pub l2_enabled: bool,
    /// `CACHE_USE_PRICE_MATRIX`.
    pub use_price_matrix: bool,
}

/// Everything the environment configures.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// The profile the values started from, if any.
    pub profile: Option<Profile>,
    /// Container settings: strategy, warmer, tracker, metrics.
    pub warming: WarmingConfig,
    /// Cache settings.
    pub cache: CacheSettings,
    /// `METRICS_PORT`.
    pub metrics_port: u16,
    /// `FEATURE_ADAPTIVE_STRATEGY_ENABLED`.
    pub adaptive_enabled: bool,
    /// Set when a requested strategy was replaced (adaptive disabled by its flag).
    pub strategy_note: Option<String>,
    /// Rollout controls (master switch, shadow, canary chains, percentage).
    pub rollout: RolloutState,
    /// `REDIS_URL` (absent: embedded in-memory L2 and synthetic feed).
    pub redis_url: Option<String>,
    /// `PAIRWARM_ADMIN_TOKEN`.
    pub admin_token: Option<String>,
}

/// Parses a boolean the way operators write them.
pub fn parse_bool(variable: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(error(variable, value, "true or false")),
    }
}

fn parse_int<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    variable: &str,
    value: &str,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    let expected = || format!("an integer in {min}..={max}");
    let n: T = value
        .trim()
        .parse()
        .map_err(|_| error(variable, value, expected()))?;
    if n < min || n > max {
        return Err(error(variable, value, expected()));
    }
    Ok(n)
}

fn parse_fraction(variable: &str, value: &str) -> Result<f64, ConfigError> {
    let expected = "a number in [0, 1]";
    let n: f64 = value
        .trim()
        .parse()
        .map_err(|_| error(variable, value, expected))?;
    if !(0.0..=1.0).contains(&n) {
        return Err(error(variable, value, expected));
    }
    Ok(n)
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads through `lookup` (name -> value); empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let boolean = |name: &str, default: bool| match get(name) {
            Some(v) => parse_bool(name, &v),
            None => Ok(default),
        };

        let profile =
            match get("WARMING_PROFILE") {
                None => None,
                Some(v) => Some(v.parse::<Profile>().map_err(|_| {
                    error("WARMING_PROFILE", &v, "development, staging or production")
                })?),
            };
        let mut warming = profile.map_or_else(WarmingConfig::default, WarmingConfig::profile);

        let adaptive_enabled = boolean("FEATURE_ADAPTIVE_STRATEGY_ENABLED", true)?;
        let strategy_json = get("WARMING_STRATEGY_CONFIG");
        let mut strategy_note = None;
        let requested = get("WARMING_STRATEGY");
        if requested.is_some() || strategy_json.is_some() {
            let kind = requested
                .clone()
                .unwrap_or_else(|| warming.strategy.kind().to_owned())
                .trim()
                .to_ascii_lowercase();
            if !["topn", "threshold", "adaptive", "timebased"].contains(&kind.as_str()) {
                return Err(error(
                    "WARMING_STRATEGY",
                    &kind,
                    "topn, threshold, adaptive or timebased",
                ));
            }
            warming.strategy =
                StrategyConfig::parse(&kind, strategy_json.as_deref()).map_err(|e| {
                    error(
                        "WARMING_STRATEGY_CONFIG",
                        strategy_json.as_deref().unwrap_or(""),
                        e.to_string(),
                    )
                })?;
        }
        if !adaptive_enabled && warming.strategy.kind() == "adaptive" {
            warming.strategy = StrategyConfig::parse("topn", None)
                .map_err(|e| error("WARMING_STRATEGY", "topn", e.to_string()))?;
            strategy_note = Some(
                "WARMING_STRATEGY=adaptive requested but FEATURE_ADAPTIVE_STRATEGY_ENABLED=false: using topn with its defaults".to_owned(),
            );
        }

        if let Some(v) = get("WARMING_MAX_PAIRS_PER_WARM") {
            warming.warmer.max_pairs_per_warm =
                parse_int("WARMING_MAX_PAIRS_PER_WARM", &v, 1, 1000)?;
        }
        if let Some(v) = get("WARMING_MIN_CORRELATION_SCORE") {
            warming.warmer.min_correlation_score =
                parse_fraction("WARMING_MIN_CORRELATION_SCORE", &v)?;
        }
        warming.warmer.async_warming = boolean("WARMING_ASYNC", warming.warmer.async_warming)?;
        if let Some(v) = get("WARMING_TIMEOUT_MS") {
            warming.warmer.timeout_ms = parse_int("WARMING_TIMEOUT_MS", &v, 1, 60_000)?;
        }
        warming.enable_metrics = boolean("WARMING_METRICS_ENABLED", warming.enable_metrics)?;
        if let Some(v) = lookup("METRICS_PREFIX") {
            crate::metrics::validate_prefix(&v).map_err(|_| {
                error(
                    "METRICS_PREFIX",
                    &v,
                    "letters, digits, '_' or ':' not starting with a digit (or empty)",
                )
            })?;
            warming.metrics.prefix = v;
        }
        warming.use_shared_analyzer = boolean("ANALYZER_USE_SHARED", warming.use_shared_analyzer)?;
        if let Some(v) = get("ANALYZER_MAX_TRACKED_PAIRS") {
            warming.tracker.max_tracked_pairs =
                parse_int("ANALYZER_MAX_TRACKED_PAIRS", &v, 16, 1_000_000)?;
        }
        if let Some(v) = get("ANALYZER_CO_OCCURRENCE_WINDOW_MS") {
            warming.tracker.window_ms =
                parse_int("ANALYZER_CO_OCCURRENCE_WINDOW_MS", &v, 1, 3_600_000)?;
        }

        let cache = CacheSettings {
            l1_size_mb: match get("CACHE_L1_SIZE") {
                Some(v) => parse_int("CACHE_L1_SIZE", &v, 1, 65_536)?,
                None => 64,
            },
            l1_size_explicit: get("CACHE_L1_SIZE").is_some(),
            l1_ttl_ms: match get("CACHE_L1_TTL_MS") {
                Some(v) => Some(parse_int("CACHE_L1_TTL_MS", &v, 1, 86_400_000)?),
                None => None,
            },
            l2_enabled: boolean("CACHE_L2_ENABLED", true)?,
            use_price_matrix: boolean("CACHE_USE_PRICE_MATRIX", false)?,
        };
        let metrics_port = match get("METRICS_PORT") {
            Some(v) => parse_int("METRICS_PORT", &v, 1, 65_535)?,
            None => 9090,
        };

        let mut rollout = RolloutState {
            enabled: boolean("FEATURE_CACHE_WARMING_ENABLED", true)?,
            shadow_mode: boolean("WARMING_SHADOW_MODE", false)?,
            ..RolloutState::default()
        };
        if let Some(v) = get("WARMING_ROLLOUT_PERCENTAGE") {
            rollout.percentage = parse_fraction("WARMING_ROLLOUT_PERCENTAGE", &v)?;
        }
        if let Some(v) = get("WARMING_ENABLED_CHAINS") {
            let chains = v
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(|c| {
                    crate::pair::normalize_chain(c).map_err(|_| {
                        error(
                            "WARMING_ENABLED_CHAINS",
                            &v,
                            "comma-separated chain names of a-z, 0-9, '_' or '-'",
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            rollout.enabled_chains = (!chains.is_empty()).then_some(chains);
        }
        warming.warmer.enabled = rollout.enabled;

        let redis_url = match get("REDIS_URL") {
            None => None,
            Some(v) => {
                let v = v.trim().to_owned();
                if !(v.starts_with("redis://") || v.starts_with("rediss://"))
                    || redis::Client::open(v.as_str()).is_err()
                {
                    return Err(error("REDIS_URL", &v, "a redis:// or rediss:// URL"));
                }
                Some(v)
            }
        };
        let admin_token = match get("PAIRWARM_ADMIN_TOKEN") {
            None => None,
            Some(v) if v.trim().len() >= 16 => Some(v.trim().to_owned()),
            Some(_) => {
                return Err(error(
                    "PAIRWARM_ADMIN_TOKEN",
                    "<hidden>",
                    "a secret of at least 16 characters",
                ));
            }
        };
        warming
            .warmer
            .validate()
            .map_err(|e| error(&format!("warmer.{}", e.field), &e.value, e.expected))?;

        Ok(Self {
            profile,
            warming,
            cache,
            metrics_port,
            adaptive_enabled,
            strategy_note,
            rollout,
            redis_url,
            admin_token,
        })
    }
}

/// An `--env-file` line that is not `KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct EnvFileError {
    /// The file.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub reason: String,
}

/// Parses a dotenv-style file: `KEY=VALUE` lines, `#` comments, blank lines, optional
/// `export ` prefix, values optionally in single or double quotes (no interpolation).
pub fn parse_env_file(file: &str, text: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let fail = |reason: &str| EnvFileError {
            file: file.to_owned(),
            line: i + 1,
            reason: reason.to_owned(),
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(fail("expected KEY=VALUE"));
        };
        let key = key.trim();
        let valid_key = !key.is_empty()
            && key.len() <= 128
            && !key.starts_with(|c: char| c.is_ascii_digit())
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid_key {
            return Err(fail(
                "variable names are letters, digits and '_', not starting with a digit",
            ));
        }
        let value = value.trim();
        let value = match value.as_bytes().first() {
            Some(&q @ (b'"' | b'\'')) => {
                let inner = &value[1..];
                match inner.strip_suffix(q as char) {
                    Some(v) if !v.contains(q as char) => v,
                    _ => return Err(fail("unterminated quote")),
                }
            }
            _ => value.split(" #").next().unwrap_or("").trim_end(),
        };
        if value.len() > 64 * 1024 {
            return Err(fail("value longer than 64 KiB"));
        }
        out.push((key.to_owned(), value.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.warming.strategy.kind(), "topn");
        assert_eq!(
            s.cache,
            CacheSettings {
                l1_size_mb: 64,
                l1_size_explicit: false,
                l1_ttl_ms: None,
                l2_enabled: true,
                use_price_matrix: false
            }
        );
        assert_eq!(s.metrics_port, 9090);
        assert_eq!(s.warming.metrics.prefix, "arbitrage_");
        assert!(s.rollout.enabled && !s.rollout.shadow_mode);
        assert_eq!(s.redis_url, None);
    }

    #[test]
    fn seed_example_parses() {
        let s = settings(&[
            ("WARMING_STRATEGY", "adaptive"),
            ("WARMING_STRATEGY_CONFIG", r#"{"targetHitRate":0.97,"minPairs":3,"maxPairs":10,"minScore":0.3,"adjustmentFactor":0.1}"#),
            ("CACHE_L1_SIZE", "128"),
            ("CACHE_L2_ENABLED", "true"),
            ("CACHE_USE_PRICE_MATRIX", "true"),
            ("WARMING_METRICS_ENABLED", "true"),
            ("METRICS_PREFIX", "arbitrage_"),
            ("METRICS_PORT", "9090"),
            ("FEATURE_CACHE_WARMING_ENABLED", "true"),
            ("FEATURE_ADAPTIVE_STRATEGY_ENABLED", "true"),
        ])
        .unwrap();
        assert_eq!(s.warming.strategy.kind(), "adaptive");
        assert_eq!(s.cache.l1_size_mb, 128);
        assert!(s.cache.use_price_matrix);
        assert_eq!(s.strategy_note, None);
    }

    #[test]
    fn adaptive_falls_back_when_its_flag_is_off() {
        let s = settings(&[
            ("WARMING_STRATEGY", "adaptive"),
            ("FEATURE_ADAPTIVE_STRATEGY_ENABLED", "false"),
        ])
        .unwrap();
        assert_eq!(s.warming.strategy.kind(), "topn");
        assert!(
            s.strategy_note
                .unwrap()
                .contains("FEATURE_ADAPTIVE_STRATEGY_ENABLED=false")
        );
        let s = settings(&[
            ("WARMING_PROFILE", "production"),
            ("FEATURE_ADAPTIVE_STRATEGY_ENABLED", "0"),
        ])
        .unwrap();
        assert_eq!(s.warming.strategy.kind(), "topn");
    }

    #[test]
    fn every_variable_rejects_bad_values_by_name() {
        let bad = [
            ("WARMING_PROFILE", "qa"),
            ("WARMING_STRATEGY", "lru"),
            ("WARMING_STRATEGY_CONFIG", r#"{"topN":5,"bogus":1}"#),
            ("WARMING_MAX_PAIRS_PER_WARM", "0"),
            ("WARMING_MIN_CORRELATION_SCORE", "1.5"),
            ("WARMING_ASYNC", "maybe"),
            ("WARMING_TIMEOUT_MS", "-5"),
            ("CACHE_L1_SIZE", "64MB"),
            ("CACHE_L1_TTL_MS", "0"),
            ("CACHE_L2_ENABLED", "2"),
            ("CACHE_USE_PRICE_MATRIX", "y"),
            ("WARMING_METRICS_ENABLED", "enabled"),
            ("METRICS_PREFIX", "9bad"),
            ("METRICS_PORT", "70000"),
            ("FEATURE_CACHE_WARMING_ENABLED", "t"),
            ("FEATURE_ADAPTIVE_STRATEGY_ENABLED", "nope"),
            ("ANALYZER_USE_SHARED", "shared"),
            ("ANALYZER_MAX_TRACKED_PAIRS", "1"),
            ("ANALYZER_CO_OCCURRENCE_WINDOW_MS", "0"),
            ("WARMING_SHADOW_MODE", "shadow"),
            ("WARMING_ENABLED_CHAINS", "ethereum,b s c"),
            ("WARMING_ROLLOUT_PERCENTAGE", "50%"),
            ("REDIS_URL", "localhost:6379"),
            ("PAIRWARM_ADMIN_TOKEN", "short"),
        ];
        for (var, value) in bad {
            let err = settings(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var, "{var}={value} gave {err}");
            assert!(!err.expected.is_empty());
            let msg = err.to_string();
            assert!(msg.contains(var), "{msg}");
        }
        // The admin token is never echoed.
        let err = settings(&[("PAIRWARM_ADMIN_TOKEN", "secret1")]).unwrap_err();
        assert!(!err.to_string().contains("secret1"));
    }

    #[test]
    fn good_values() {
        let s = settings(&[
            ("WARMING_PROFILE", "staging"),
            ("WARMING_MAX_PAIRS_PER_WARM", "8"),
            ("WARMING_MIN_CORRELATION_SCORE", "0.45"),
            ("WARMING_ASYNC", "FALSE"),
            ("WARMING_TIMEOUT_MS", "75"),
            ("ANALYZER_MAX_TRACKED_PAIRS", "20000"),
            ("ANALYZER_CO_OCCURRENCE_WINDOW_MS", "500"),
            ("WARMING_SHADOW_MODE", "yes"),
            ("WARMING_ENABLED_CHAINS", "Ethereum, bsc"),
            ("WARMING_ROLLOUT_PERCENTAGE", "0.5"),
            ("METRICS_PREFIX", ""),
            ("REDIS_URL", "redis://127.0.0.1:6379/0"),
            ("PAIRWARM_ADMIN_TOKEN", "0123456789abcdef"),
            ("FEATURE_CACHE_WARMING_ENABLED", "false"),
            ("CACHE_L1_TTL_MS", "2000"),
        ])
        .unwrap();
        assert_eq!(s.cache.l1_ttl_ms, Some(2000));
        assert_eq!(s.profile, Some(Profile::Staging));
        assert_eq!(s.warming.warmer.max_pairs_per_warm, 8);
        assert_eq!(s.warming.warmer.min_correlation_score, 0.45);
        assert!(!s.warming.warmer.async_warming);
        assert_eq!(s.warming.warmer.timeout_ms, 75);
        assert_eq!(s.warming.tracker.max_tracked_pairs, 20_000);
        assert_eq!(s.warming.tracker.window_ms, 500);
        assert!(s.rollout.shadow_mode);
        assert_eq!(
            s.rollout.enabled_chains,
            Some(vec!["ethereum".to_string(), "bsc".to_string()])
        );
        assert_eq!(s.rollout.percentage, 0.5);
        assert_eq!(s.warming.metrics.prefix, "");
        assert!(!s.rollout.enabled && !s.warming.warmer.enabled);
        assert_eq!(s.admin_token.as_deref(), Some("0123456789abcdef"));
    }

    #[test]
    fn env_file() {
        let text = "# comment\nexport WARMING_STRATEGY=threshold\nMETRICS_PORT = 9191 # trailing\nX='a b'\nY=\"c=d\"\n\n";
        let vars = parse_env_file("f.env", text).unwrap();
        assert_eq!(
            vars,
            vec![
                ("WARMING_STRATEGY".into(), "threshold".into()),
                ("METRICS_PORT".into(), "9191".into()),
                ("X".into(), "a b".into()),
                ("Y".into(), "c=d".into()),
            ]
        );
        let err = parse_env_file("f.env", "A=1\nnot a line\n").unwrap_err();
        assert_eq!((err.line, err.file.as_str()), (2, "f.env"));
        assert!(parse_env_file("f", "1A=2").is_err());
        assert!(parse_env_file("f", "A=\"open").is_err());
    }
}
