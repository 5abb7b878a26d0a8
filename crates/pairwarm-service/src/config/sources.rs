//! Sources of settings and their precedence, and the assembly of a [`ServiceConfig`] from
//! them: defaults < env file < environment < flags (or [`ConfigBuilder::set`]).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pairwarm::cache::{CoherenceMode, L1Policy};
use pairwarm::cache::{RedisTls, RedisUrl};
use pairwarm::container::WarmingConfig;
use pairwarm::strategy::StrategyConfig;

use super::table::{Fallback, Reject};
use super::{
    CacheSettings, ConfigError, ConfigErrors, DetectorSettings, FeedSettings, FeedSource,
    HttpSettings, LogFormat, ServiceConfig, SnapshotSettings, SnapshotTarget, Values,
    parse_env_file, setting, settings,
};
use crate::rollout::RolloutState;

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The table's fallback value.
    Default,
    /// A line of this env file.
    EnvFile(String),
    /// The process environment (or the lookup given to the builder).
    Environment,
    /// A command-line flag.
    Flag(&'static str),
    /// [`ConfigBuilder::set`].
    Program,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("the default"),
            Self::EnvFile(path) => write!(f, "env file {path}"),
            Self::Environment => f.write_str("the environment"),
            Self::Flag(flag) => write!(f, "--{flag}"),
            Self::Program => f.write_str("the program"),
        }
    }
}

type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Collects the sources of a [`ServiceConfig`]; [`ConfigBuilder::build`] validates them
/// all at once. Kept inside the config, so a reload reads the same sources again.
#[derive(Clone, Default)]
pub struct ConfigBuilder {
    env_file: Option<PathBuf>,
    environment: Option<Lookup>,
    overrides: Vec<(String, String, Origin)>,
}

impl fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let overrides: Vec<String> = self
            .overrides
            .iter()
            .map(|(name, value, origin)| {
                let value = setting(name).map_or_else(|| value.clone(), |s| s.shown(value));
                format!("{name}={value} ({origin})")
            })
            .collect();
        f.debug_struct("ConfigBuilder")
            .field("env_file", &self.env_file)
            .field("environment", &self.environment.is_some())
            .field("overrides", &overrides)
            .finish()
    }
}

impl PartialEq for ConfigBuilder {
    fn eq(&self, other: &Self) -> bool {
        self.env_file == other.env_file
            && self.overrides == other.overrides
            && match (&self.environment, &other.environment) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl ConfigBuilder {
    /// Reads `KEY=VALUE` lines from this file (under the environment and the flags).
    pub fn env_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.env_file = Some(path.into());
        self
    }

    /// Reads the process environment (over the env file).
    pub fn environment(self) -> Self {
        self.lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` instead of the process environment.
    pub fn lookup(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.environment = Some(Arc::new(lookup));
        self
    }

    /// Sets a variable over every other source.
    pub fn set(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.overrides
            .push((name.into(), value.into(), Origin::Program));
        self
    }

    /// Sets a variable from its command-line flag (over every other source).
    pub fn flag(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        let flag = setting(&name).map_or("?", |s| s.flag);
        self.overrides
            .push((name, value.into(), Origin::Flag(flag)));
        self
    }

    pub(super) fn env_file_path(&self) -> Option<&Path> {
        self.env_file.as_deref()
    }

    /// Validates every setting; all problems are returned together.
    pub fn build(&self) -> Result<ServiceConfig, ConfigErrors> {
        let mut errors = Vec::new();
        let file = self.read_env_file(&mut errors);
        for (name, _, _) in &self.overrides {
            if setting(name).is_none() {
                errors.push(ConfigError::Unknown(name.clone()));
            }
        }
        let mut draft = Draft::new(self.clone());
        for s in settings() {
            let usable = |v: &String| s.empty_is_value || !v.trim().is_empty();
            let given = self
                .overrides
                .iter()
                .rev()
                .find(|(name, v, _)| name == s.name && usable(v))
                .map(|(_, v, origin)| (v.clone(), origin.clone()))
                .or_else(|| {
                    let lookup = self.environment.as_ref()?;
                    lookup(s.name)
                        .filter(usable)
                        .map(|v| (v, Origin::Environment))
                })
                .or_else(|| {
                    let (path, vars) = file.as_ref()?;
                    vars.get(s.name)
                        .filter(|v| usable(v))
                        .map(|v| (v.clone(), Origin::EnvFile(path.clone())))
                });
            let (raw, origin) = match (given, s.fallback) {
                (Some(given), _) => given,
                (None, Fallback::Value(v)) => (v.to_owned(), Origin::Default),
                (None, Fallback::Absent(_)) => continue,
            };
            if let Err(reject) = s.apply(&mut draft, &raw) {
                let accepted = s.kind.accepted();
                errors.push(ConfigError::Invalid {
                    variable: s.name,
                    value: clip(&s.shown(&raw)),
                    expected: match reject {
                        Reject::Invalid => accepted,
                        Reject::Because(why) => why,
                    },
                    origin: origin.clone(),
                });
            }
            draft.config.values.0.insert(s.name, (raw, origin));
        }
        let config = draft.finish(&mut errors);
        // Table order, whichever check found them (file and name problems first).
        let position = |e: &ConfigError| {
            e.variable()
                .and_then(|v| settings().position(|s| s.name == v))
                .map_or(0, |p| p + 1)
        };
        errors.sort_by_key(position);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The env file's variables (the last line of a key wins), or `None` without a file.
    fn read_env_file(
        &self,
        errors: &mut Vec<ConfigError>,
    ) -> Option<(String, HashMap<String, String>)> {
        let path = self.env_file.as_ref()?;
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                errors.push(ConfigError::EnvFileUnreadable {
                    path: shown,
                    reason: e.to_string(),
                });
                return None;
            }
        };
        match parse_env_file(&shown, &text) {
            Ok(vars) => {
                let unknown: Vec<&str> = vars
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .filter(|k| setting(k).is_none())
                    .collect();
                if !unknown.is_empty() {
                    tracing::warn!(file = %shown, ?unknown, "env file variables that are no pairwarm setting are ignored");
                }
                Some((shown, vars.into_iter().collect()))
            }
            Err(e) => {
                errors.push(e.into());
                None
            }
        }
    }
}

/// A configuration being assembled from the table (settings that depend on each other
/// are resolved in [`Draft::finish`]).
pub(crate) struct Draft {
    pub(crate) config: ServiceConfig,
    pub(crate) strategy_kind: Option<String>,
    pub(crate) strategy_json: Option<String>,
    /// `REDIS_TLS_CERT_FILE` and `REDIS_TLS_KEY_FILE`, paired in [`Draft::finish`].
    pub(crate) tls_cert: Option<Vec<u8>>,
    pub(crate) tls_key: Option<Vec<u8>>,
}

impl Draft {
    /// Starting values before the table applies: the core's defaults; every service-side
    /// value is set by a [`Fallback::Value`] of the table.
    fn new(sources: ConfigBuilder) -> Self {
        Self {
            config: ServiceConfig {
                profile: None,
                warming: WarmingConfig::default(),
                adaptive_enabled: true,
                strategy_note: None,
                cache: CacheSettings {
                    l1_size_mb: None,
                    l1_ttl_ms: None,
                    l1_policy: L1Policy::Default,
                    l1_coherence: CoherenceMode::Tracking,
                    l2_enabled: true,
                    use_price_matrix: false,
                },
                rollout: RolloutState::default(),
                redis_url: None,
                redis_tls: RedisTls::default(),
                redis_cluster: super::ClusterSettings::default(),
                admin_token: None,
                signing_key: None,
                signing_key_previous: None,
                node_env: None,
                feed: FeedSettings {
                    source: FeedSource::Auto,
                    streams: Vec::new(),
                    group: String::new(),
                    consumer: None,
                    dead_consumer_idle: Duration::ZERO,
                    batch_size: 1,
                    block_ms: 1,
                    claim_idle_ms: 1,
                    max_deliveries: 1,
                    opportunities_stream: String::new(),
                    synthetic_rate: 1,
                    synthetic_seed: 0,
                    max_updates: None,
                    unready_after_l2_write_failures: 0,
                    batch_max_bytes: 1,
                    dead_letter_max_bytes: 1,
                    timestamp_max_age: Duration::ZERO,
                    timestamp_max_ahead: Duration::ZERO,
                    extra_chains: Vec::new(),
                    max_entry_bytes: 0,
                    group_start: crate::config::GroupStart::End,
                    dead_letter_maxlen: 1,
                    opportunity_format: crate::config::OpportunityFormat::Original,
                    opportunities_maxlen: 1,
                },
                detector: DetectorSettings {
                    hub_tokens: Vec::new(),
                    min_spread_bps: 0.0,
                    fee_bps: 0.0,
                    dex_fees: Vec::new(),
                },
                http: HttpSettings {
                    port: 0,
                    listen: None,
                    header_timeout: Duration::ZERO,
                    request_timeout: Duration::ZERO,
                    idle_timeout: Duration::ZERO,
                    max_connections: 1,
                },
                snapshot: SnapshotSettings {
                    target: None,
                    interval: Duration::ZERO,
                },
                status_interval: Duration::ZERO,
                log_format: LogFormat::Text,
                shutdown_timeout: Duration::ZERO,
                sources,
                values: Values::default(),
            },
            strategy_kind: None,
            strategy_json: None,
            tls_cert: None,
            tls_key: None,
        }
    }

    /// Resolves what depends on several settings and checks the whole.
    fn finish(mut self, errors: &mut Vec<ConfigError>) -> ServiceConfig {
        let origin = |c: &ServiceConfig, name| {
            c.values
                .0
                .get(name)
                .map_or(Origin::Default, |(_, o)| o.clone())
        };
        let c = &mut self.config;
        if self.strategy_kind.is_some() || self.strategy_json.is_some() {
            let kind = self
                .strategy_kind
                .unwrap_or_else(|| c.warming.strategy.kind().to_owned());
            match StrategyConfig::parse(&kind, self.strategy_json.as_deref()) {
                Ok(strategy) => c.warming.strategy = strategy,
                Err(e) => errors.push(ConfigError::Invalid {
                    variable: "WARMING_STRATEGY_CONFIG",
                    value: clip(self.strategy_json.as_deref().unwrap_or("")),
                    expected: e.to_string(),
                    origin: origin(c, "WARMING_STRATEGY_CONFIG"),
                }),
            }
        }
        if !c.adaptive_enabled && c.warming.strategy.kind() == "adaptive" {
            if let Ok(topn) = StrategyConfig::parse("topn", None) {
                c.warming.strategy = topn;
            }
            c.strategy_note = Some(
                "WARMING_STRATEGY=adaptive requested but FEATURE_ADAPTIVE_STRATEGY_ENABLED=false: using topn with its defaults".into(),
            );
        }
        c.warming.warmer.enabled = c.rollout.enabled;
        if let Err(e) = c.warming.warmer.validate() {
            let variable = match e.field {
                "min_correlation_score" => "WARMING_MIN_CORRELATION_SCORE",
                "timeout_ms" => "WARMING_TIMEOUT_MS",
                _ => "WARMING_MAX_PAIRS_PER_WARM",
            };
            errors.push(ConfigError::Invalid {
                variable,
                value: e.value,
                expected: format!("{} ({})", e.expected, e.field),
                origin: origin(c, variable),
            });
        }
        if matches!(c.snapshot.target, Some(SnapshotTarget::Redis(_))) && c.redis_url.is_none() {
            errors.push(ConfigError::Invalid {
                variable: "PAIRWARM_SNAPSHOT",
                value: c.value("PAIRWARM_SNAPSHOT").unwrap_or_default().to_owned(),
                expected: "a file path (a `redis:<key>` snapshot needs REDIS_URL)".into(),
                origin: origin(c, "PAIRWARM_SNAPSHOT"),
            });
        }
        if c.is_production() && c.signing_key.is_none() {
            errors.push(ConfigError::Invalid {
                variable: "STREAM_SIGNING_KEY",
                value: String::new(),
                expected: "a key: production (WARMING_PROFILE=production or NODE_ENV=production) refuses unsigned streams, as the original does".into(),
                origin: origin(c, "STREAM_SIGNING_KEY"),
            });
        }
        match (self.tls_cert.take(), self.tls_key.take()) {
            (Some(cert), Some(key)) => c.redis_tls.client_pem = Some((cert, key)),
            (None, None) => {}
            (cert, _) => {
                let variable = if cert.is_some() {
                    "REDIS_TLS_KEY_FILE"
                } else {
                    "REDIS_TLS_CERT_FILE"
                };
                errors.push(ConfigError::Invalid {
                    variable,
                    value: String::new(),
                    expected: "a path to a PEM file: REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together".into(),
                    origin: origin(c, variable),
                });
            }
        }
        if !c.redis_tls.is_empty() && !c.redis_url.as_ref().is_some_and(RedisUrl::is_tls) {
            let variable = if c.redis_tls.ca_pem.is_some() {
                "REDIS_TLS_CA_FILE"
            } else {
                "REDIS_TLS_CERT_FILE"
            };
            errors.push(ConfigError::Invalid {
                variable,
                value: c.value(variable).unwrap_or_default().to_owned(),
                expected: "unset (TLS certificates need a rediss:// REDIS_URL)".into(),
                origin: origin(c, variable),
            });
        }
        if !c.redis_cluster.nodes.is_empty() && !c.redis_cluster.enabled {
            errors.push(ConfigError::Invalid {
                variable: "REDIS_CLUSTER_NODES",
                value: c
                    .value("REDIS_CLUSTER_NODES")
                    .unwrap_or_default()
                    .to_owned(),
                expected: "unset (seed nodes need REDIS_CLUSTER=true)".into(),
                origin: origin(c, "REDIS_CLUSTER_NODES"),
            });
        }
        if c.redis_cluster.enabled
            && let Some(target) = c.redis_target()
            && let Err(e) = target.cluster_client(pairwarm::cache::ClusterTimeouts {
                connection: Duration::from_secs(1),
                response: Duration::from_secs(1),
                retries: 0,
                min_wait: Duration::ZERO,
                max_wait: Duration::ZERO,
            })
        {
            errors.push(ConfigError::Invalid {
                variable: "REDIS_URL",
                value: c.value("REDIS_URL").map(pairwarm::cache::redact_url).unwrap_or_default(),
                expected: format!(
                    "a seed node of the cluster, redis://[user:password@]host:port or rediss:// ({})",
                    e.detail().unwrap_or_default()
                ),
                origin: origin(c, "REDIS_URL"),
            });
        }
        if c.feed.source == FeedSource::Redis && c.redis_url.is_none() {
            errors.push(ConfigError::Invalid {
                variable: "PAIRWARM_FEED",
                value: "redis".into(),
                expected: "auto, synthetic or none (the redis feed needs REDIS_URL)".into(),
                origin: origin(c, "PAIRWARM_FEED"),
            });
        }
        self.config
    }
}

fn clip(value: &str) -> String {
    value.chars().take(200).collect()
}
