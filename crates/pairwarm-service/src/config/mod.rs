//! [`ServiceConfig`]: every setting of the service, validated together.
//!
//! The settings are the rows of one table ([`table::SECTIONS`]); the environment, the
//! `--env-file`, the flags of `pairwarm serve` and `docs/configuration.md` all come from it.
//! When a setting is given in several places the later wins:
//!
//! **defaults < env file < environment < command-line flags (or [`ConfigBuilder::set`])**
//!
//! Every invalid value is reported, not only the first: [`ConfigErrors`] names each variable,
//! its value (secrets masked), where it came from and the accepted form.
//!
//! ```
//! use pairwarm_service::ServiceConfig;
//!
//! let config = ServiceConfig::builder()
//!     .set("CACHE_L1_SIZE", "1")
//!     .set("WARMING_STRATEGY", "threshold")
//!     .build()
//!     .unwrap();
//! assert_eq!(config.cache.l1_size_mb, Some(1));
//! assert_eq!(config.warming.strategy.kind(), "threshold");
//!
//! let errors = ServiceConfig::from_lookup(|name| match name {
//!     "CACHE_L1_SIZE" => Some("64MB".into()),
//!     "METRICS_PORT" => Some("70000".into()),
//!     _ => None,
//! })
//! .unwrap_err();
//! assert_eq!(errors.variables(), ["CACHE_L1_SIZE", "METRICS_PORT"]);
//! ```

mod env_file;
mod error;
mod parts;
mod reference;
mod sources;
pub mod table;
pub(crate) mod values;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use pairwarm::cache::{RedisTarget, RedisTls, RedisTopology, RedisUrl};
use pairwarm::container::{Profile, WarmingConfig};

use crate::rollout::RolloutState;

pub use env_file::{EnvFileError, parse_env_file};
pub use error::{ConfigError, ConfigErrors};
pub use parts::{
    CacheSettings, ClusterSettings, DetectorSettings, FeedSettings, FeedSource, GroupStart,
    HttpSettings, LogFormat, OpportunityFormat, SnapshotSettings, SnapshotTarget,
};
pub use reference::{PRECEDENCE, reference_markdown};
pub(crate) use sources::Draft;
pub use sources::{ConfigBuilder, Origin};
pub use table::{Fallback, Kind, Reload, Section, Setting, setting, settings};

/// Everything the service is configured with. Built by [`ServiceConfig::builder`],
/// [`ServiceConfig::from_env`] or [`ServiceConfig::from_lookup`]; see the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceConfig {
    /// `WARMING_PROFILE`: the profile the warming values started from, if any.
    pub profile: Option<Profile>,
    /// Strategy, warmer, tracker and metrics settings (the core's container config).
    pub warming: WarmingConfig,
    /// `FEATURE_ADAPTIVE_STRATEGY_ENABLED`.
    pub adaptive_enabled: bool,
    /// Set when the requested strategy was replaced (adaptive disabled by its flag).
    pub strategy_note: Option<String>,
    /// L1/L2 settings.
    pub cache: CacheSettings,
    /// Rollout controls at start (they change at run time through the admin endpoint).
    pub rollout: RolloutState,
    /// `REDIS_URL` (absent: the embedded in-memory L2); prints without its password.
    pub redis_url: Option<RedisUrl>,
    /// `REDIS_TLS_CA_FILE`, `REDIS_TLS_CERT_FILE`, `REDIS_TLS_KEY_FILE` (their contents).
    pub redis_tls: RedisTls,
    /// Whether `REDIS_URL` is a Redis Cluster, its other seeds, and the key shape.
    pub redis_cluster: ClusterSettings,
    /// `PAIRWARM_ADMIN_TOKEN`.
    pub admin_token: Option<Secret>,
    /// `STREAM_SIGNING_KEY`.
    pub signing_key: Option<Secret>,
    /// `STREAM_SIGNING_KEY_PREVIOUS`.
    pub signing_key_previous: Option<Secret>,
    /// `NODE_ENV` (the original's production switch).
    pub node_env: Option<String>,
    /// Price feed and stream consumer settings.
    pub feed: FeedSettings,
    /// The reference detector's settings.
    pub detector: DetectorSettings,
    /// HTTP endpoint settings.
    pub http: HttpSettings,
    /// Tracker snapshots.
    pub snapshot: SnapshotSettings,
    /// `PAIRWARM_STATUS_INTERVAL` (zero: no status line).
    pub status_interval: Duration,
    /// `PAIRWARM_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `PAIRWARM_SHUTDOWN_TIMEOUT`.
    pub shutdown_timeout: Duration,
    /// Where the values came from (for reloads and for saying what changed).
    sources: ConfigBuilder,
    /// The effective text of every setting, by variable name.
    values: Values,
}

/// A secret value: `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hidden>")
    }
}

/// The effective text and origin of each setting; `Debug` masks secrets.
#[derive(Clone, Default, PartialEq)]
pub(crate) struct Values(pub(crate) BTreeMap<&'static str, (String, Origin)>);

impl fmt::Debug for Values {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, (value, origin))| {
                let value = setting(name).map_or_else(|| value.clone(), |s| s.shown(value));
                (name, format!("{value} ({origin})"))
            }))
            .finish()
    }
}

impl ServiceConfig {
    /// A builder over the table's defaults (add an env file, the environment, values).
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// Defaults overridden by the process environment.
    pub fn from_env() -> Result<Self, ConfigErrors> {
        Self::builder().environment().build()
    }

    /// Defaults overridden by what `lookup` returns for a variable name (empty values
    /// count as unset, except for `METRICS_PREFIX`). Tests and embedders use this instead
    /// of the process environment.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<Self, ConfigErrors> {
        Self::builder().lookup(lookup).build()
    }

    /// Reads the same sources again (the env file may have changed), keeping their
    /// precedence: what the environment or flags set still wins over the file.
    pub fn reload(&self) -> Result<Self, ConfigErrors> {
        self.sources.build()
    }

    /// The Redis to connect to (URL and TLS material), when `REDIS_URL` is set.
    pub fn redis_target(&self) -> Option<RedisTarget> {
        Some(RedisTarget {
            url: self.redis_url.clone()?,
            tls: self.redis_tls.clone(),
            topology: if self.redis_cluster.enabled {
                RedisTopology::Cluster {
                    seeds: self.redis_cluster.nodes.clone(),
                }
            } else {
                RedisTopology::Standalone
            },
        })
    }

    /// The effective text of a setting, if any source (or its fallback value) gave one.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.0.get(name).map(|(v, _)| v.as_str())
    }

    /// Where a setting's effective value came from.
    pub fn origin(&self, name: &str) -> Origin {
        self.values
            .0
            .get(name)
            .map_or(Origin::Default, |(_, o)| o.clone())
    }

    /// The settings whose effective value differs between `self` and `other`.
    pub fn changed_settings(&self, other: &Self) -> Vec<&'static Setting> {
        settings()
            .filter(|s| self.value(s.name) != other.value(s.name))
            .collect()
    }

    /// Whether this is a production deployment: `WARMING_PROFILE=production` or the
    /// original's `NODE_ENV=production` (either one).
    pub fn is_production(&self) -> bool {
        self.profile == Some(Profile::Production)
            || self
                .node_env
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case("production"))
    }

    /// The signing keys, when `STREAM_SIGNING_KEY` is set.
    pub fn signing_keys(&self) -> Option<crate::entry::SigningKeys> {
        let key = self.signing_key.as_ref()?;
        Some(crate::entry::SigningKeys::new(
            key.expose(),
            self.signing_key_previous.as_ref().map(Secret::expose),
        ))
    }

    /// How stream entries are judged (size, signature, chains), from these settings.
    pub fn entry_rules(&self) -> crate::entry::EntryRules {
        crate::entry::EntryRules {
            max_data_bytes: self.feed.max_entry_bytes,
            keys: self.signing_keys(),
            chains: crate::entry::ChainPolicy {
                extra: self.feed.extra_chains.clone(),
            },
        }
    }

    /// The env file these settings were read from, if any.
    pub fn env_file(&self) -> Option<&std::path::Path> {
        self.sources.env_file_path()
    }
}

#[cfg(test)]
mod tests;
