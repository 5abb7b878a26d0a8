//! The table of every setting of the service: the one place a setting is spelled.
//!
//! Each [`Setting`] gives the environment variable, the command-line flag, what applies
//! when no source sets it, the accepted values, a one-line description, whether a SIGHUP
//! reload applies it, and how its value lands in a [`ServiceConfig`](super::ServiceConfig).
//! The environment reading, the `--env-file` reload, the flags of `pairwarm serve` and
//! `docs/configuration.md` are all derived from [`SECTIONS`]. Settings apply in table order
//! (`WARMING_PROFILE` first: the variables after it override its values).
//!
//! This file is long because it is a table: one entry per setting, nothing else.

use std::net::SocketAddr;

use pairwarm::container::{Profile, WarmingConfig};

use super::Draft;
use super::values;
use crate::config::{FeedSource, GroupStart, OpportunityFormat, SnapshotTarget};
use pairwarm::cache::RedisTarget;

/// A setting: one row of the configuration reference.
#[derive(Clone, Copy)]
pub struct Setting {
    /// Environment variable (and env-file key).
    pub name: &'static str,
    /// Long flag of `pairwarm serve`, without the dashes.
    pub flag: &'static str,
    /// What applies when no source sets the variable.
    pub fallback: Fallback,
    /// The values accepted, and how they are read.
    pub kind: Kind,
    /// One line saying what the setting does.
    pub doc: &'static str,
    /// Whether a SIGHUP reload applies a change of it.
    pub reload: Reload,
    /// A secret: never echoed in errors, help or logs.
    pub secret: bool,
    /// Hides the secret part of a value that is otherwise worth showing (the password of
    /// `REDIS_URL`) wherever the value is printed.
    pub redact: Option<fn(&str) -> String>,
    /// Whether an empty value is a value (otherwise empty counts as unset).
    pub empty_is_value: bool,
    apply: fn(&mut Draft, Value) -> Result<(), Reject>,
}

/// What applies when no source sets a variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// This value, applied exactly as if it had been given.
    Value(&'static str),
    /// Nothing is applied; the text says what that means (a profile's or the core's value,
    /// no expiry, ...).
    Absent(&'static str),
}

impl Fallback {
    /// The text of the reference's default column.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Value(v) | Self::Absent(v) => v,
        }
    }
}

/// Whether a SIGHUP reload applies a changed value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reload {
    /// Applied by the reload.
    Live,
    /// Kept until a restart (the reload logs that it changed).
    Restart,
}

/// How a value is read; the accepted form in errors and docs comes from here.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// A boolean.
    Bool,
    /// An integer in `min..=max`.
    Int {
        /// Smallest accepted.
        min: u64,
        /// Largest accepted.
        max: u64,
    },
    /// A finite number in `min..=max`.
    Number {
        /// Smallest accepted.
        min: f64,
        /// Largest accepted.
        max: f64,
    },
    /// A duration (`250ms`, `5s`, `2m`, `1h`).
    Duration,
    /// Text, judged by the setting itself; the accepted form.
    Text(&'static str),
}

impl Kind {
    /// The accepted form, as errors and the reference say it.
    pub fn accepted(self) -> String {
        match self {
            Self::Bool => "true or false (also 1/0, yes/no, on/off)".into(),
            Self::Int { min, max } => format!("an integer in {min}..={max}"),
            Self::Number { min, max } => format!("a number in [{min}, {max}]"),
            Self::Duration => "a duration such as 250ms, 5s, 2m or 1h".into(),
            Self::Text(accepted) => accepted.into(),
        }
    }

    /// Placeholder of the flag's value in `--help`.
    pub fn value_name(self) -> &'static str {
        match self {
            Self::Bool => "BOOL",
            Self::Int { .. } => "INT",
            Self::Number { .. } => "NUMBER",
            Self::Duration => "DURATION",
            Self::Text(_) => "TEXT",
        }
    }

    fn parse(self, raw: &str) -> Result<Value, Reject> {
        Ok(match self {
            Self::Bool => Value::Bool(values::boolean(raw).map_err(|_| Reject::Invalid)?),
            Self::Int { min, max } => {
                Value::Int(values::int(raw, min, max).map_err(|_| Reject::Invalid)?)
            }
            Self::Number { min, max } => {
                Value::Number(values::number(raw, min, max).map_err(|_| Reject::Invalid)?)
            }
            Self::Duration => Value::Duration(values::duration(raw).map_err(|_| Reject::Invalid)?),
            Self::Text(_) => Value::Text(raw.trim().to_owned()),
        })
    }
}

/// A value read according to its [`Kind`].
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Value {
    Bool(bool),
    Int(u64),
    Number(f64),
    Duration(std::time::Duration),
    Text(String),
}

impl Value {
    fn bool(self) -> Result<bool, Reject> {
        match self {
            Self::Bool(b) => Ok(b),
            _ => Err(Reject::Invalid),
        }
    }
    fn int<T: TryFrom<u64>>(self) -> Result<T, Reject> {
        match self {
            Self::Int(n) => T::try_from(n).map_err(|_| Reject::Invalid),
            _ => Err(Reject::Invalid),
        }
    }
    fn number(self) -> Result<f64, Reject> {
        match self {
            Self::Number(n) => Ok(n),
            _ => Err(Reject::Invalid),
        }
    }
    fn duration(self) -> Result<std::time::Duration, Reject> {
        match self {
            Self::Duration(d) => Ok(d),
            _ => Err(Reject::Invalid),
        }
    }
    fn text(self) -> Result<String, Reject> {
        match self {
            Self::Text(t) => Ok(t),
            _ => Err(Reject::Invalid),
        }
    }
}

/// Why a value was refused.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Reject {
    /// Not of the accepted form (the error says the form).
    Invalid,
    /// Of the form, but wrong for this reason (added to the accepted form).
    Because(String),
}

impl Setting {
    /// One line of `--help`: what it does and its variable.
    pub fn help(&self) -> String {
        format!("{} [env: {}]", plain(self.doc), self.name)
    }

    /// The long `--help` text: description, variable, default, accepted values, reload.
    pub fn long_help(&self) -> String {
        format!(
            "{}\n[env: {}] [default: {}] [accepted: {}] [reload: {}]",
            plain(self.doc),
            self.name,
            plain(self.fallback.describe()),
            plain(&self.kind.accepted()),
            match self.reload {
                Reload::Live => "live",
                Reload::Restart => "restart",
            }
        )
    }

    /// `raw` as errors and logs may show it: `<hidden>` for a secret, redacted where the
    /// setting says how, else as given.
    pub fn shown(&self, raw: &str) -> String {
        match (self.secret, self.redact) {
            (true, _) => "<hidden>".to_owned(),
            (false, Some(redact)) => redact(raw),
            (false, None) => raw.to_owned(),
        }
    }

    /// Reads `raw` and stores it in `draft`.
    pub(super) fn apply(&self, draft: &mut Draft, raw: &str) -> Result<(), Reject> {
        let value = self.kind.parse(raw)?;
        (self.apply)(draft, value)
    }
}

/// A duration that must not be zero.
fn positive(d: std::time::Duration) -> Result<std::time::Duration, Reject> {
    if d.is_zero() {
        return Err(Reject::Because(
            "a duration above zero, such as 250ms, 5s, 2m or 1h".into(),
        ));
    }
    Ok(d)
}

/// The table's text without Markdown code marks (for `--help`).
fn plain(text: &str) -> String {
    text.replace('`', "")
}

/// A titled group of settings (a section of the reference).
pub struct Section {
    /// Title.
    pub title: &'static str,
    /// Its settings, in application order.
    pub settings: &'static [Setting],
}

/// Every setting, in application order.
pub fn settings() -> impl Iterator<Item = &'static Setting> {
    SECTIONS.iter().flat_map(|s| s.settings.iter())
}

/// The setting named `name` (environment variable name).
pub fn setting(name: &str) -> Option<&'static Setting> {
    settings().find(|s| s.name == name)
}

/// A signing key: any text but control characters (a pasted newline would silently make
/// every signature differ from the original's).
fn signing_key(v: Value) -> Result<String, Reject> {
    let key = v.text()?;
    if key.chars().any(char::is_control) {
        return Err(Reject::Invalid);
    }
    Ok(key)
}

const fn row(
    name: &'static str,
    flag: &'static str,
    fallback: Fallback,
    kind: Kind,
    reload: Reload,
    doc: &'static str,
    apply: fn(&mut Draft, Value) -> Result<(), Reject>,
) -> Setting {
    Setting {
        name,
        flag,
        fallback,
        kind,
        doc,
        reload,
        secret: false,
        redact: None,
        empty_is_value: false,
        apply,
    }
}

use Fallback::Absent;
use Reload::{Live, Restart};

const PROFILE: &str = "development, staging or production";
const STRATEGIES: &str = "topn, threshold, adaptive or timebased";
const NAMES: &str = "comma-separated names of letters, digits, '_', ':', '.' or '-'";
const STREAM_NAMES: &str =
    "comma-separated names of letters, digits, '_', ':', '.', '-', and a {hash tag}";

/// The reference, section by section.
pub static SECTIONS: &[Section] = &[
    Section {
        title: "Warming (the seed's variables)",
        settings: &[
            row(
                "WARMING_PROFILE",
                "profile",
                Absent("none: the values below"),
                Kind::Text(PROFILE),
                Restart,
                "Base values of the seed's deployment profile; the variables below override them.",
                |d, v| {
                    let p: Profile = v.text()?.parse().map_err(|_| Reject::Invalid)?;
                    d.config.profile = Some(p);
                    d.config.warming = WarmingConfig::profile(p);
                    Ok(())
                },
            ),
            row(
                "WARMING_STRATEGY",
                "strategy",
                Absent("topn (or the profile's)"),
                Kind::Text(STRATEGIES),
                Live,
                "Warming strategy.",
                |d, v| {
                    let kind = v.text()?.to_ascii_lowercase();
                    if !["topn", "threshold", "adaptive", "timebased"].contains(&kind.as_str()) {
                        return Err(Reject::Invalid);
                    }
                    d.strategy_kind = Some(kind);
                    Ok(())
                },
            ),
            row(
                "WARMING_STRATEGY_CONFIG",
                "strategy-config",
                Absent("the strategy's defaults"),
                Kind::Text("a JSON object of the strategy's camelCase fields"),
                Live,
                "Strategy settings, e.g. `{\"topN\":5,\"minScore\":0.3}`.",
                |d, v| {
                    d.strategy_json = Some(v.text()?);
                    Ok(())
                },
            ),
            row(
                "FEATURE_ADAPTIVE_STRATEGY_ENABLED",
                "adaptive-enabled",
                Fallback::Value("true"),
                Kind::Bool,
                Live,
                "Allow the adaptive strategy; false turns a requested adaptive into topn (and says so).",
                |d, v| {
                    d.config.adaptive_enabled = v.bool()?;
                    Ok(())
                },
            ),
            row(
                "WARMING_MAX_PAIRS_PER_WARM",
                "max-pairs-per-warm",
                Absent("5 (or the profile's)"),
                Kind::Int { min: 1, max: 1000 },
                Live,
                "Pairs warmed per update at most.",
                |d, v| {
                    d.config.warming.warmer.max_pairs_per_warm = v.int()?;
                    Ok(())
                },
            ),
            row(
                "WARMING_MIN_CORRELATION_SCORE",
                "min-correlation-score",
                Absent("0.3"),
                Kind::Number { min: 0.0, max: 1.0 },
                Live,
                "Lowest correlation score warmed.",
                |d, v| {
                    d.config.warming.warmer.min_correlation_score = v.number()?;
                    Ok(())
                },
            ),
            row(
                "WARMING_ASYNC",
                "warming-async",
                Absent("true (development profile: false)"),
                Kind::Bool,
                Live,
                "Queue warms and return at once (true) or warm inline (false).",
                |d, v| {
                    d.config.warming.warmer.async_warming = v.bool()?;
                    Ok(())
                },
            ),
            row(
                "WARMING_STRUCTURE",
                "warming-structure",
                Fallback::Value("true"),
                Kind::Bool,
                Live,
                "Also warm the updated pool's structural neighbours (the same token pair on other DEXes and chains, triangle legs through the chain's two hub tokens), learned from the feed's `token0`/`token1`; they come first, the strategy's picks fill `WARMING_MAX_PAIRS_PER_WARM` (docs/simulation.md).",
                |d, v| {
                    d.config.warming.warmer.structure = v.bool()?;
                    Ok(())
                },
            ),
            row(
                "WARMING_LEARN_FROM",
                "warming-learn-from",
                Fallback::Value("misses"),
                Kind::Text("misses or updates"),
                Restart,
                "What the tracker learns which pools to warm from: `misses` (a detector read that missed L1, or took a warmed entry, credits the pools updated just before it in the feed's time; up to +3.6 points of hit rate where pools are read a block after their cross-chain twins update, within 0.2 points of update co-occurrence elsewhere, docs/simulation.md rounds 10 and 11) or `updates` (update co-occurrence, the original's).",
                |d, v| {
                    d.config.warming.learn_from_misses = match v.text()?.trim() {
                        "misses" => true,
                        "updates" => false,
                        _ => return Err(Reject::Invalid),
                    };
                    Ok(())
                },
            ),
            row(
                "WARMING_TIMEOUT_MS",
                "warming-timeout-ms",
                Absent("50 (development profile: 100)"),
                Kind::Int {
                    min: 1,
                    max: 60_000,
                },
                Live,
                "Deadline of one warm's L2 fetch, ms.",
                |d, v| {
                    d.config.warming.warmer.timeout_ms = v.int()?;
                    Ok(())
                },
            ),
            row(
                "WARMING_METRICS_ENABLED",
                "metrics-enabled",
                Absent("true (development profile: false)"),
                Kind::Bool,
                Restart,
                "Export Prometheus metrics on /metrics.",
                |d, v| {
                    d.config.warming.enable_metrics = v.bool()?;
                    Ok(())
                },
            ),
            Setting {
                empty_is_value: true,
                ..row(
                    "METRICS_PREFIX",
                    "metrics-prefix",
                    Absent("arbitrage_"),
                    Kind::Text("letters, digits, '_' or ':' not starting with a digit, or empty"),
                    Restart,
                    "Prefix of every metric name.",
                    |d, v| {
                        let prefix = v.text()?;
                        pairwarm::metrics::validate_prefix(&prefix).map_err(|_| Reject::Invalid)?;
                        d.config.warming.metrics.prefix = prefix;
                        Ok(())
                    },
                )
            },
        ],
    },
    Section {
        title: "Cache",
        settings: &[
            row(
                "CACHE_L1_SIZE",
                "l1-size",
                Absent("64 (1 with the synthetic feed, so its ~3,500 pools do not all fit)"),
                Kind::Int {
                    min: 1,
                    max: 65_536,
                },
                Restart,
                "L1 size in MB of assumed 1 KiB entries (the original's unit: 64 = 65,536 entries).",
                |d, v| {
                    d.config.cache.l1_size_mb = Some(v.int()?);
                    Ok(())
                },
            ),
            row(
                "CACHE_L1_TTL_MS",
                "l1-ttl-ms",
                Absent("none: no expiry"),
                Kind::Int {
                    min: 1,
                    max: 86_400_000,
                },
                Restart,
                "L1 entries expire this long after being written, loaded or warmed, ms.",
                |d, v| {
                    d.config.cache.l1_ttl_ms = Some(v.int()?);
                    Ok(())
                },
            ),
            row(
                "CACHE_L1_POLICY",
                "l1-policy",
                Fallback::Value("default"),
                Kind::Text(
                    "default, lru, quickcache, quickcache-adaptive, s3fifo, wtinylfu, wtinylfu-climber or wtinylfu-fixed",
                ),
                Restart,
                "L1 eviction policy, named as `pairwarm simulate --l1-policy` names it; `default` is W-TinyLFU whose window is chosen by miniature simulations (docs/simulation.md says why), `lru` the original's.",
                |d, v| {
                    d.config.cache.l1_policy = v.text()?.parse().map_err(|_| Reject::Invalid)?;
                    Ok(())
                },
            ),
            row(
                "CACHE_L1_COHERENCE",
                "l1-coherence",
                Fallback::Value("tracking"),
                Kind::Text("tracking or off"),
                Restart,
                "With a Redis L2: `tracking` keeps every L1 coherent with Redis (client tracking: a write by another instance or by the original's detectors drops the L1 entry, hot ones are re-fetched; L1 is flushed and bypassed while the invalidation channel is down); `off` leaves an L1 entry as loaded until this instance rewrites it or it expires. See docs/reliability.md.",
                |d, v| {
                    d.config.cache.l1_coherence = v.text()?.parse().map_err(|_| Reject::Invalid)?;
                    Ok(())
                },
            ),
            row(
                "CACHE_L2_ENABLED",
                "l2-enabled",
                Fallback::Value("true"),
                Kind::Bool,
                Restart,
                "Use L2 (Redis, or the in-memory store of the embedded default).",
                |d, v| {
                    d.config.cache.l2_enabled = v.bool()?;
                    Ok(())
                },
            ),
            row(
                "CACHE_USE_PRICE_MATRIX",
                "use-price-matrix",
                Fallback::Value("false"),
                Kind::Bool,
                Restart,
                "Use the fixed-slot price matrix as L1.",
                |d, v| {
                    d.config.cache.use_price_matrix = v.bool()?;
                    Ok(())
                },
            ),
            Setting {
                empty_is_value: true,
                redact: Some(pairwarm::cache::redact_url),
                ..row(
                    "REDIS_URL",
                    "redis-url",
                    Absent("none: the embedded default (in-memory L2, synthetic feed)"),
                    Kind::Text("a redis:// or rediss:// URL"),
                    Restart,
                    "Redis holding L2 and the streams: `redis://[user:password@]host:port/db`, `rediss://` for TLS. The password is never printed. Set but empty is an error (unset it for the embedded default).",
                    |d, v| {
                        let url = v.text()?;
                        if url.is_empty() {
                            return Err(Reject::Because(
                                "a redis:// or rediss:// URL (REDIS_URL is set but empty; unset it to run the embedded default)".into(),
                            ));
                        }
                        if url.contains('#') {
                            return Err(Reject::Because(
                                "a URL without a #fragment (certificate checks cannot be turned off with #insecure; give REDIS_TLS_CA_FILE instead)".into(),
                            ));
                        }
                        if !(url.starts_with("redis://") || url.starts_with("rediss://"))
                            || RedisTarget::from(url.as_str()).client().is_err()
                        {
                            return Err(Reject::Invalid);
                        }
                        d.config.redis_url = Some(url.into());
                        Ok(())
                    },
                )
            },
            row(
                "REDIS_TLS_CA_FILE",
                "redis-tls-ca-file",
                Absent("none: the system's root certificates"),
                Kind::Text("a path to a PEM file of CA certificates"),
                Restart,
                "CA certificates that verify the Redis server's certificate (`rediss://` only).",
                |d, v| {
                    d.config.redis_tls.ca_pem =
                        Some(values::pem_file(&v.text()?).map_err(Reject::Because)?);
                    Ok(())
                },
            ),
            row(
                "REDIS_TLS_CERT_FILE",
                "redis-tls-cert-file",
                Absent("none: no client certificate"),
                Kind::Text("a path to a PEM file (certificate chain)"),
                Restart,
                "Client certificate for a Redis that requires one (redis-server's `tls-auth-clients`, on by default); with REDIS_TLS_KEY_FILE.",
                |d, v| {
                    d.tls_cert = Some(values::pem_file(&v.text()?).map_err(Reject::Because)?);
                    Ok(())
                },
            ),
            row(
                "REDIS_TLS_KEY_FILE",
                "redis-tls-key-file",
                Absent("none: no client certificate"),
                Kind::Text("a path to a PEM file (private key)"),
                Restart,
                "Private key of REDIS_TLS_CERT_FILE.",
                |d, v| {
                    d.tls_key = Some(values::pem_file(&v.text()?).map_err(Reject::Because)?);
                    Ok(())
                },
            ),
            row(
                "REDIS_CLUSTER",
                "redis-cluster",
                Fallback::Value("false"),
                Kind::Bool,
                Restart,
                "`REDIS_URL` is a seed node of a Redis Cluster: L2 and the streams go through the cluster client, each command to the node of its key's hash slot (database 0 only). See docs/cluster.md.",
                |d, v| {
                    d.config.redis_cluster.enabled = v.bool()?;
                    Ok(())
                },
            ),
            row(
                "REDIS_CLUSTER_NODES",
                "redis-cluster-nodes",
                Absent("none: REDIS_URL is the only seed node"),
                Kind::Text("comma-separated host:port seed nodes"),
                Restart,
                "Further seed nodes of the cluster (with REDIS_CLUSTER=true), tried when REDIS_URL's node is down; they take REDIS_URL's scheme, user and password.",
                |d, v| {
                    d.config.redis_cluster.nodes =
                        values::host_ports(&v.text()?).map_err(Reject::Because)?;
                    Ok(())
                },
            ),
            row(
                "REDIS_CLUSTER_HASH_TAGS",
                "redis-cluster-hash-tags",
                Fallback::Value("false"),
                Kind::Bool,
                Restart,
                "L2 keys `cache:l2:price:{<chain>}:<address>`: a chain's prices share one hash slot, so a chain's stream named `...{<chain>}` and its keys live on one node and a batch is written with one script call per 256 keys. Off: the original's key shape, which the original's readers need.",
                |d, v| {
                    d.config.redis_cluster.hash_tags = v.bool()?;
                    Ok(())
                },
            ),
        ],
    },
    Section {
        title: "Tracker",
        settings: &[
            row(
                "ANALYZER_USE_SHARED",
                "use-shared-analyzer",
                Absent("true (development profile: false)"),
                Kind::Bool,
                Restart,
                "Share one tracker between the warming containers of one interner.",
                |d, v| {
                    d.config.warming.use_shared_analyzer = v.bool()?;
                    Ok(())
                },
            ),
            row(
                "ANALYZER_MAX_TRACKED_PAIRS",
                "max-tracked-pairs",
                Absent("5000"),
                Kind::Int {
                    min: 16,
                    max: 1_000_000,
                },
                Restart,
                "Pairs the tracker follows at most (a new pair beyond it replaces the coldest).",
                |d, v| {
                    d.config.warming.tracker.max_tracked_pairs = v.int()?;
                    Ok(())
                },
            ),
            row(
                "ANALYZER_CO_OCCURRENCE_WINDOW_MS",
                "co-occurrence-window-ms",
                Absent("1000"),
                Kind::Int {
                    min: 1,
                    max: 3_600_000,
                },
                Restart,
                "Updates this close in time count as co-occurring (WARMING_LEARN_FROM=updates), or a detector miss this soon after an update credits it (misses), ms.",
                |d, v| {
                    d.config.warming.tracker.window_ms = v.int()?;
                    Ok(())
                },
            ),
        ],
    },
    Section {
        title: "Rollout (changeable at run time: SIGHUP or POST /admin/warming)",
        settings: &[
            row(
                "FEATURE_CACHE_WARMING_ENABLED",
                "warming-enabled",
                Fallback::Value("true"),
                Kind::Bool,
                Live,
                "Master switch of warming (false is the emergency rollback).",
                |d, v| {
                    d.config.rollout.enabled = v.bool()?;
                    Ok(())
                },
            ),
            row(
                "WARMING_SHADOW_MODE",
                "shadow-mode",
                Fallback::Value("false"),
                Kind::Bool,
                Live,
                "Predict, never warm, and report the hit rate warming would have added.",
                |d, v| {
                    d.config.rollout.shadow_mode = v.bool()?;
                    Ok(())
                },
            ),
            row(
                "WARMING_ENABLED_CHAINS",
                "enabled-chains",
                Absent("all chains"),
                Kind::Text("comma-separated chain names of a-z, 0-9, '_' or '-'"),
                Live,
                "Canary chains: warm only on these.",
                |d, v| {
                    let chains = values::list(&v.text()?)
                        .iter()
                        .map(|c| pairwarm::pair::normalize_chain(c).map_err(|_| Reject::Invalid))
                        .collect::<Result<Vec<_>, _>>()?;
                    d.config.rollout.enabled_chains = (!chains.is_empty()).then_some(chains);
                    Ok(())
                },
            ),
            row(
                "WARMING_ROLLOUT_PERCENTAGE",
                "rollout-percentage",
                Fallback::Value("1.0"),
                Kind::Number { min: 0.0, max: 1.0 },
                Live,
                "Fraction of pairs warmed, chosen by a stable hash of the address.",
                |d, v| {
                    d.config.rollout.percentage = v.number()?;
                    Ok(())
                },
            ),
            Setting {
                secret: true,
                empty_is_value: true,
                ..row(
                    "PAIRWARM_ADMIN_TOKEN",
                    "admin-token",
                    Absent("none: the admin routes answer 404"),
                    Kind::Text("a secret of at least 16 characters"),
                    Restart,
                    "Bearer token of /admin/warming. Set but blank is an error (unset it to disable the admin routes).",
                    |d, v| {
                        let token = v.text()?;
                        if token.is_empty() {
                            return Err(Reject::Because(
                                "a secret of at least 16 characters (PAIRWARM_ADMIN_TOKEN is set but blank; unset it to disable the admin routes)".into(),
                            ));
                        }
                        if token.len() < 16 {
                            return Err(Reject::Invalid);
                        }
                        d.config.admin_token = Some(super::Secret(token));
                        Ok(())
                    },
                )
            },
        ],
    },
    Section {
        title: "Feed",
        settings: &[
            row(
                "PAIRWARM_FEED",
                "feed",
                Fallback::Value("auto"),
                Kind::Text("auto, redis, synthetic or none"),
                Restart,
                "Source of price updates: `auto` is the Redis streams with `REDIS_URL`, else the synthetic feed; `none`: the embedding program calls `Service::process`.",
                |d, v| {
                    d.config.feed.source = match v.text()?.to_ascii_lowercase().as_str() {
                        "auto" => FeedSource::Auto,
                        "redis" => FeedSource::Redis,
                        "synthetic" => FeedSource::Synthetic,
                        "none" => FeedSource::None,
                        _ => return Err(Reject::Invalid),
                    };
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_STREAMS",
                "streams",
                Fallback::Value("stream:price-updates"),
                Kind::Text(STREAM_NAMES),
                Restart,
                "Price streams (one shared stream, or one per chain; on a cluster, `stream:price-updates:{<chain>}` puts a chain's stream in its keys' slot).",
                |d, v| {
                    d.config.feed.streams =
                        values::stream_names(&v.text()?).map_err(Reject::Because)?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_GROUP",
                "group",
                Fallback::Value("pairwarm"),
                Kind::Text("a name of letters, digits, '_', ':', '.' or '-'"),
                Restart,
                "Consumer group (instances in one group share the work).",
                |d, v| {
                    d.config.feed.group = values::name(&v.text()?).map_err(|_| Reject::Invalid)?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_CONSUMER",
                "consumer",
                Absent(
                    "kept in `<PAIRWARM_SNAPSHOT>.consumer` when the snapshot is a file (made once as `<hostname>-<random>`), else `<hostname>-<pid>`",
                ),
                Kind::Text("a name of letters, digits, '_', ':', '.' or '-'"),
                Restart,
                "This instance's consumer name in the group. A name that survives restarts lets a restarted instance re-read its own pending entries at once instead of waiting for PAIRWARM_CLAIM_IDLE_MS.",
                |d, v| {
                    d.config.feed.consumer =
                        Some(values::name(&v.text()?).map_err(|_| Reject::Invalid)?);
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_BATCH_SIZE",
                "batch-size",
                Fallback::Value("512"),
                Kind::Int {
                    min: 1,
                    max: 100_000,
                },
                Restart,
                "Entries read per XREADGROUP (one batch through the pipeline).",
                |d, v| {
                    d.config.feed.batch_size = v.int()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_BLOCK_MS",
                "block-ms",
                Fallback::Value("100"),
                Kind::Int {
                    min: 1,
                    max: 60_000,
                },
                Restart,
                "How long one XREADGROUP waits for new entries, ms.",
                |d, v| {
                    d.config.feed.block_ms = v.int()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_CLAIM_IDLE_MS",
                "claim-idle-ms",
                Fallback::Value("30000"),
                Kind::Int {
                    min: 100,
                    max: 86_400_000,
                },
                Restart,
                "Claim entries another consumer left pending longer than this, ms.",
                |d, v| {
                    d.config.feed.claim_idle_ms = v.int()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_DEAD_CONSUMER_IDLE",
                "dead-consumer-idle",
                Fallback::Value("1h"),
                Kind::Duration,
                Restart,
                "Remove other consumers of the group idle this long that own no pending entries (0: never remove).",
                |d, v| {
                    d.config.feed.dead_consumer_idle = v.duration()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_MAX_DELIVERIES",
                "max-deliveries",
                Fallback::Value("10"),
                Kind::Int {
                    min: 1,
                    max: 1_000_000,
                },
                Restart,
                "Dead-letter (reason max_deliveries) a valid entry delivered more often than this without being acknowledged.",
                |d, v| {
                    d.config.feed.max_deliveries = v.int()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_BATCH_MAX_BYTES",
                "batch-max-bytes",
                Fallback::Value("8388608"),
                Kind::Int {
                    min: 65_536,
                    max: 1 << 30,
                },
                Restart,
                "Bytes of entries one read may bring (about): each read asks for as many entries as fit, judged by the largest entry of the last read, and never more than twice the last count, so huge entries cannot blow up memory.",
                |d, v| {
                    d.config.feed.batch_max_bytes = v.int()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_DEAD_LETTER_MAX_BYTES",
                "dead-letter-max-bytes",
                Fallback::Value("134217728"),
                Kind::Int {
                    min: 1 << 20,
                    max: 1 << 40,
                },
                Restart,
                "Bytes a dead-letter stream may hold (about): each copy is cut to this divided by the stream's entry bound (a cut value keeps its prefix, the copy its original size in `truncated`).",
                |d, v| {
                    d.config.feed.dead_letter_max_bytes = v.int()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_TIMESTAMP_MAX_AGE",
                "timestamp-max-age",
                Fallback::Value("1h"),
                Kind::Duration,
                Live,
                "Dead-letter (reason timestamp_out_of_window) an update whose ts_ms is older than this before the entry's arrival in Redis (its stream id); 0: no lower bound (backfills of recorded data).",
                |d, v| {
                    d.config.feed.timestamp_max_age = v.duration()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_TIMESTAMP_MAX_AHEAD",
                "timestamp-max-ahead",
                Fallback::Value("5m"),
                Kind::Duration,
                Live,
                "Dead-letter (reason timestamp_out_of_window) an update whose ts_ms is later than this after the entry's arrival in Redis (its stream id).",
                |d, v| {
                    d.config.feed.timestamp_max_ahead = v.duration()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_UNREADY_AFTER_L2_WRITE_FAILURES",
                "unready-after-l2-write-failures",
                Fallback::Value("5"),
                Kind::Int {
                    min: 0,
                    max: 1_000_000,
                },
                Live,
                "`/ready` fails after this many failed L2 batch writes in a row (0: never); one failed write already makes `/health/warming` degraded. Entries of a failed write stay pending and are retried.",
                |d, v| {
                    d.config.feed.unready_after_l2_write_failures = v.int()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_OPPORTUNITIES_STREAM",
                "opportunities-stream",
                Fallback::Value("stream:opportunities"),
                Kind::Text("a name of letters, digits, '_', ':', '.' or '-'"),
                Restart,
                "Stream the detector's opportunities are published to.",
                |d, v| {
                    d.config.feed.opportunities_stream =
                        values::name(&v.text()?).map_err(|_| Reject::Invalid)?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_SYNTHETIC_RATE",
                "rate",
                Fallback::Value("5000"),
                Kind::Int {
                    min: 1,
                    max: 10_000_000,
                },
                Restart,
                "Updates per second of the synthetic feed.",
                |d, v| {
                    d.config.feed.synthetic_rate = v.int()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_SYNTHETIC_SEED",
                "seed",
                Fallback::Value("42"),
                Kind::Int {
                    min: 0,
                    max: u64::MAX,
                },
                Restart,
                "Seed of the synthetic feed.",
                |d, v| {
                    d.config.feed.synthetic_seed = v.int()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_MAX_UPDATES",
                "max-updates",
                Absent("none: run until stopped"),
                Kind::Int {
                    min: 1,
                    max: u64::MAX,
                },
                Restart,
                "Stop after this many updates (tests, benchmarks).",
                |d, v| {
                    d.config.feed.max_updates = Some(v.int()?);
                    Ok(())
                },
            ),
        ],
    },
    Section {
        title: "Sharing a Redis with the original system (see docs/migration.md)",
        settings: &[
            Setting {
                secret: true,
                ..row(
                    "STREAM_SIGNING_KEY",
                    "stream-signing-key",
                    Absent("none: entries are neither signed nor verified (development)"),
                    Kind::Text(
                        "the original's key (text without control characters, used as UTF-8 bytes)",
                    ),
                    Restart,
                    "HMAC-SHA256 key of the streams, the original's variable: every consumed entry must carry a valid `sig` (else it is dead-lettered as `unsigned` or `bad_signature`) and every published entry is signed. Required by the production profile.",
                    |d, v| {
                        d.config.signing_key = Some(super::Secret(signing_key(v)?));
                        Ok(())
                    },
                )
            },
            Setting {
                secret: true,
                ..row(
                    "STREAM_SIGNING_KEY_PREVIOUS",
                    "stream-signing-key-previous",
                    Absent("none"),
                    Kind::Text(
                        "the previous key, during a rotation (text without control characters)",
                    ),
                    Restart,
                    "Previous signing key, also accepted when verifying (key rotation), the original's variable.",
                    |d, v| {
                        d.config.signing_key_previous = Some(super::Secret(signing_key(v)?));
                        Ok(())
                    },
                )
            },
            row(
                "NODE_ENV",
                "node-env",
                Absent("none"),
                Kind::Text("a name of letters, digits, '_' or '-'; `production` means production"),
                Restart,
                "The original's production switch: `production` (like `WARMING_PROFILE=production`) refuses to start without `STREAM_SIGNING_KEY`.",
                |d, v| {
                    let env = v.text()?;
                    if env.is_empty()
                        || !env
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                    {
                        return Err(Reject::Invalid);
                    }
                    d.config.node_env = Some(env);
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_EXTRA_CHAINS",
                "extra-chains",
                Absent("none: only the original's canonical chains and their aliases"),
                Kind::Text(NAMES),
                Restart,
                "Chain names accepted besides the original's (e.g. a devnet); entries of any other chain are dead-lettered as `unknown_chain`.",
                |d, v| {
                    let mut chains = Vec::new();
                    for name in values::names(&v.text()?).map_err(Reject::Because)? {
                        chains.push(
                            pairwarm::pair::normalize_chain(&name)
                                .map_err(|e| Reject::Because(e.to_string()))?,
                        );
                    }
                    d.config.feed.extra_chains = chains;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_MAX_ENTRY_BYTES",
                "max-entry-bytes",
                Fallback::Value("4194304"),
                Kind::Int {
                    min: 4096,
                    max: 64 << 20,
                },
                Restart,
                "Largest `data` document of a stream entry, bytes (the original's batches of 1,000 updates are ~620 KB).",
                |d, v| {
                    d.config.feed.max_entry_bytes = v.int()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_GROUP_START",
                "group-start",
                Fallback::Value("end"),
                Kind::Text("end (`$`) or beginning (`0`)"),
                Restart,
                "Where a new consumer group starts: at the stream's end (only entries added from now on) or at its beginning (the whole retained history). An existing group keeps its position.",
                |d, v| {
                    d.config.feed.group_start = match v.text()?.to_ascii_lowercase().as_str() {
                        "end" | "$" => GroupStart::End,
                        "beginning" | "0" => GroupStart::Beginning,
                        _ => return Err(Reject::Invalid),
                    };
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_DEAD_LETTER_MAXLEN",
                "dead-letter-maxlen",
                Fallback::Value("10000"),
                Kind::Int {
                    min: 1,
                    max: 10_000_000,
                },
                Restart,
                "Entries the dead-letter streams keep (`MAXLEN ~`); each copy holds at most PAIRWARM_DEAD_LETTER_MAX_BYTES divided by this.",
                |d, v| {
                    d.config.feed.dead_letter_maxlen = v.int()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_OPPORTUNITY_FORMAT",
                "opportunity-format",
                Fallback::Value("original"),
                Kind::Text("original or flat"),
                Restart,
                "Format of published opportunities: `original` (a signed `data` JSON its coordinator accepts) or `flat` (pairwarm's fields: chain, kind, pool, buy, sell, spread_bps, ts_ms).",
                |d, v| {
                    d.config.feed.opportunity_format = match v.text()?.to_ascii_lowercase().as_str()
                    {
                        "original" => OpportunityFormat::Original,
                        "flat" => OpportunityFormat::Flat,
                        _ => return Err(Reject::Invalid),
                    };
                    Ok(())
                },
            ),
            row(
                "STREAM_MAXLEN_OPPORTUNITIES",
                "opportunities-maxlen",
                Fallback::Value("200000"),
                Kind::Int {
                    min: 1,
                    max: 100_000_000,
                },
                Restart,
                "Entries the opportunities stream keeps (`MAXLEN ~`), the original's variable and default.",
                |d, v| {
                    d.config.feed.opportunities_maxlen = v.int()?;
                    Ok(())
                },
            ),
        ],
    },
    Section {
        title: "Detector",
        settings: &[
            row(
                "PAIRWARM_HUB_TOKENS",
                "hub-tokens",
                Fallback::Value("weth,usdc,usdt,wbnb"),
                Kind::Text(NAMES),
                Restart,
                "Hub tokens of the triangle checks.",
                |d, v| {
                    d.config.detector.hub_tokens = values::names(&v.text()?)
                        .map_err(Reject::Because)?
                        .into_iter()
                        .map(|t| t.to_ascii_lowercase())
                        .collect();
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_MIN_SPREAD_BPS",
                "min-spread-bps",
                Fallback::Value("10"),
                Kind::Number {
                    min: 0.0,
                    max: 10_000.0,
                },
                Restart,
                "Report spreads net of fees at or above this, basis points.",
                |d, v| {
                    d.config.detector.min_spread_bps = v.number()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_FEE_BPS",
                "fee-bps",
                Fallback::Value("30"),
                Kind::Number {
                    min: 0.0,
                    max: 10_000.0,
                },
                Restart,
                "Fee per swap of DEXes without their own fee, basis points.",
                |d, v| {
                    d.config.detector.fee_bps = v.number()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_DEX_FEES",
                "dex-fees",
                Absent("none: every DEX pays PAIRWARM_FEE_BPS"),
                Kind::Text("comma-separated `<dex>=<basis points>`, e.g. `uniswap-v3=5,curve=4`"),
                Restart,
                "Fee per swap of named DEXes, basis points.",
                |d, v| {
                    d.config.detector.dex_fees =
                        values::dex_fees(&v.text()?).map_err(|_| Reject::Invalid)?;
                    Ok(())
                },
            ),
        ],
    },
    Section {
        title: "HTTP",
        settings: &[
            row(
                "METRICS_PORT",
                "metrics-port",
                Fallback::Value("9090"),
                Kind::Int {
                    min: 1,
                    max: 65_535,
                },
                Restart,
                "Port of /metrics and the health endpoints (on 127.0.0.1 unless PAIRWARM_LISTEN says otherwise).",
                |d, v| {
                    d.config.http.port = v.int()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_LISTEN",
                "listen",
                Absent("`127.0.0.1:<METRICS_PORT>`"),
                Kind::Text("an address such as 0.0.0.0:9090 (port 0: any free port)"),
                Restart,
                "HTTP listen address; 0.0.0.0 exposes the endpoints beyond this host.",
                |d, v| {
                    let addr: SocketAddr = v.text()?.parse().map_err(|_| Reject::Invalid)?;
                    d.config.http.listen = Some(addr);
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_HTTP_HEADER_TIMEOUT",
                "http-header-timeout",
                Fallback::Value("10s"),
                Kind::Duration,
                Restart,
                "Longest wait for a request's complete headers, from the connection's start or the end of its previous response: closes slow-header clients and idle keep-alive connections.",
                |d, v| {
                    d.config.http.header_timeout = positive(v.duration()?)?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_HTTP_REQUEST_TIMEOUT",
                "http-request-timeout",
                Fallback::Value("10s"),
                Kind::Duration,
                Restart,
                "Longest time from a request's headers to its response, reading the body included (answered 408 after it).",
                |d, v| {
                    d.config.http.request_timeout = positive(v.duration()?)?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_HTTP_IDLE_TIMEOUT",
                "http-idle-timeout",
                Fallback::Value("30s"),
                Kind::Duration,
                Restart,
                "Close a connection on which no byte moved either way for this long (a client that stopped reading its response or went silent mid-request).",
                |d, v| {
                    d.config.http.idle_timeout = positive(v.duration()?)?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_HTTP_MAX_CONNECTIONS",
                "http-max-connections",
                Fallback::Value("256"),
                Kind::Int {
                    min: 1,
                    max: 65_535,
                },
                Restart,
                "Open HTTP connections at most (more clients wait in the listen queue). Lowered at start to the open-file limit minus 64 descriptors kept for Redis connections and files.",
                |d, v| {
                    d.config.http.max_connections = v.int()?;
                    Ok(())
                },
            ),
        ],
    },
    Section {
        title: "Snapshots and lifecycle",
        settings: &[
            row(
                "PAIRWARM_SNAPSHOT",
                "snapshot",
                Absent("none: the tracker starts empty"),
                Kind::Text("a file path, or `redis:<key>`"),
                Restart,
                "Where the tracker is saved periodically and at shutdown, and restored from at start. The L1 policy's learned window is kept next to it (`<path>.policy`, or the key `<key>:policy`) and resumed at start.",
                |d, v| {
                    d.config.snapshot.target = Some(SnapshotTarget::parse(&v.text()?));
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_SNAPSHOT_INTERVAL",
                "snapshot-interval",
                Fallback::Value("60s"),
                Kind::Duration,
                Restart,
                "Period of tracker snapshots (0: only at shutdown).",
                |d, v| {
                    d.config.snapshot.interval = v.duration()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_STATUS_INTERVAL",
                "status-interval",
                Fallback::Value("5s"),
                Kind::Duration,
                Restart,
                "Period of the status line in the log (0 disables it).",
                |d, v| {
                    d.config.status_interval = v.duration()?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_LOG_FORMAT",
                "log-format",
                Fallback::Value("text"),
                Kind::Text("text or json"),
                Restart,
                "Log lines on stderr: `text`, or `json` (one object per line, for log shippers); `RUST_LOG` filters them (default `info`).",
                |d, v| {
                    d.config.log_format = v.text()?.parse().map_err(|_| Reject::Invalid)?;
                    Ok(())
                },
            ),
            row(
                "PAIRWARM_SHUTDOWN_TIMEOUT",
                "shutdown-timeout",
                Fallback::Value("10s"),
                Kind::Duration,
                Restart,
                "Longest graceful shutdown.",
                |d, v| {
                    d.config.shutdown_timeout = v.duration()?;
                    Ok(())
                },
            ),
        ],
    },
];
