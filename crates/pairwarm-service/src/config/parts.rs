//! The groups of [`ServiceConfig`](super::ServiceConfig) fields that are the service's own
//! (the warming settings are the core's `WarmingConfig`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use pairwarm::cache::{CoherenceMode, L1Policy};

/// Redis Cluster settings (`REDIS_CLUSTER`, `REDIS_CLUSTER_NODES`,
/// `REDIS_CLUSTER_HASH_TAGS`); see `docs/cluster.md`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterSettings {
    /// `REDIS_CLUSTER`: `REDIS_URL` is a seed node of a Redis Cluster.
    pub enabled: bool,
    /// `REDIS_CLUSTER_NODES`: further seed nodes, `host:port`.
    pub nodes: Vec<String>,
    /// `REDIS_CLUSTER_HASH_TAGS`: L2 keys `cache:l2:price:{<chain>}:<address>`.
    pub hash_tags: bool,
}

/// L1/L2 settings.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheSettings {
    /// `CACHE_L1_SIZE`, MB of assumed 1 KiB entries (`None`: not given).
    pub l1_size_mb: Option<u64>,
    /// `CACHE_L1_TTL_MS`.
    pub l1_ttl_ms: Option<u64>,
    /// `CACHE_L1_POLICY`: the L1 eviction policy (`default` is the product's).
    pub l1_policy: L1Policy,
    /// `CACHE_L1_COHERENCE`: keep L1 coherent with Redis by client tracking (applies
    /// only with a Redis L2).
    pub l1_coherence: CoherenceMode,
    /// `CACHE_L2_ENABLED`.
    pub l2_enabled: bool,
    /// `CACHE_USE_PRICE_MATRIX`.
    pub use_price_matrix: bool,
}

impl CacheSettings {
    /// The core's default L1 size, MB.
    pub const DEFAULT_L1_SIZE_MB: u64 = 64;
    /// The embedded default's L1 size, MB: its synthetic universe has ~3,500 pools, which
    /// would all fit in 64 MB (65,536 entries) and leave warming nothing to do.
    pub const EMBEDDED_L1_SIZE_MB: u64 = 1;

    /// The L1 size in effect: the given one, else the default for this feed.
    pub fn effective_l1_size_mb(&self, embedded: bool) -> u64 {
        self.l1_size_mb.unwrap_or(if embedded {
            Self::EMBEDDED_L1_SIZE_MB
        } else {
            Self::DEFAULT_L1_SIZE_MB
        })
    }
}

/// Where price updates come from (`PAIRWARM_FEED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedSource {
    /// The Redis streams with `REDIS_URL`, else the synthetic feed.
    Auto,
    /// The Redis streams (needs `REDIS_URL`).
    Redis,
    /// The built-in synthetic feed.
    Synthetic,
    /// No feed task: the embedding program calls [`crate::Service::process`].
    None,
}

/// `PAIRWARM_LOG_FORMAT`: how log lines are written (the binary installs the subscriber;
/// an embedding program keeps its own and may read this to match).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, fields at the top level (for log shippers).
    Json,
}

impl LogFormat {
    /// The accepted spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    /// `text` or `json`, any case.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        match input.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(format!(
                "invalid log format {input:?}: expected text or json"
            )),
        }
    }
}

/// Price feed and stream consumer settings.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedSettings {
    /// `PAIRWARM_FEED`.
    pub source: FeedSource,
    /// `PAIRWARM_STREAMS`.
    pub streams: Vec<String>,
    /// `PAIRWARM_GROUP`.
    pub group: String,
    /// `PAIRWARM_CONSUMER` (`None`: kept next to a file snapshot, else `<hostname>-<pid>`).
    pub consumer: Option<String>,
    /// `PAIRWARM_DEAD_CONSUMER_IDLE` (zero: never remove other consumers).
    pub dead_consumer_idle: Duration,
    /// `PAIRWARM_BATCH_SIZE`: entries per read.
    pub batch_size: usize,
    /// `PAIRWARM_BLOCK_MS`.
    pub block_ms: u64,
    /// `PAIRWARM_CLAIM_IDLE_MS`.
    pub claim_idle_ms: u64,
    /// `PAIRWARM_MAX_DELIVERIES`.
    pub max_deliveries: u64,
    /// `PAIRWARM_OPPORTUNITIES_STREAM`.
    pub opportunities_stream: String,
    /// `PAIRWARM_SYNTHETIC_RATE`, updates/s.
    pub synthetic_rate: u64,
    /// `PAIRWARM_SYNTHETIC_SEED`.
    pub synthetic_seed: u64,
    /// `PAIRWARM_MAX_UPDATES`.
    pub max_updates: Option<u64>,
    /// `PAIRWARM_UNREADY_AFTER_L2_WRITE_FAILURES` (0: never unready for it).
    pub unready_after_l2_write_failures: u64,
    /// `PAIRWARM_BATCH_MAX_BYTES`: bytes of entries one read may bring.
    pub batch_max_bytes: usize,
    /// `PAIRWARM_DEAD_LETTER_MAX_BYTES`: bytes a dead-letter stream may hold.
    pub dead_letter_max_bytes: u64,
    /// `PAIRWARM_TIMESTAMP_MAX_AGE`: how far before its receipt an update's time may be.
    pub timestamp_max_age: Duration,
    /// `PAIRWARM_TIMESTAMP_MAX_AHEAD`: how far after its receipt an update's time may be.
    pub timestamp_max_ahead: Duration,
    /// `PAIRWARM_EXTRA_CHAINS` (lowercase).
    pub extra_chains: Vec<String>,
    /// `PAIRWARM_MAX_ENTRY_BYTES`.
    pub max_entry_bytes: usize,
    /// `PAIRWARM_GROUP_START`.
    pub group_start: GroupStart,
    /// `PAIRWARM_DEAD_LETTER_MAXLEN`.
    pub dead_letter_maxlen: u64,
    /// `PAIRWARM_OPPORTUNITY_FORMAT`.
    pub opportunity_format: OpportunityFormat,
    /// `STREAM_MAXLEN_OPPORTUNITIES`.
    pub opportunities_maxlen: u64,
}

/// Where a new consumer group starts reading (`PAIRWARM_GROUP_START`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupStart {
    /// `$`: only entries added after the group is created.
    End,
    /// `0`: the whole retained history.
    Beginning,
}

impl GroupStart {
    /// The id given to `XGROUP CREATE`.
    pub const fn id(self) -> &'static str {
        match self {
            Self::End => "$",
            Self::Beginning => "0",
        }
    }
}

/// How opportunities are published (`PAIRWARM_OPPORTUNITY_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpportunityFormat {
    /// The original's: `data` JSON (+ `sig`), as its coordinator reads it.
    Original,
    /// pairwarm's flat fields.
    Flat,
}

impl FeedSettings {
    /// The feed actually run, given whether Redis is configured.
    pub fn resolved(&self, redis: bool) -> FeedSource {
        match self.source {
            FeedSource::Auto if redis => FeedSource::Redis,
            FeedSource::Auto => FeedSource::Synthetic,
            other => other,
        }
    }
}

/// The reference detector's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectorSettings {
    /// `PAIRWARM_HUB_TOKENS` (lowercased).
    pub hub_tokens: Vec<String>,
    /// `PAIRWARM_MIN_SPREAD_BPS`.
    pub min_spread_bps: f64,
    /// `PAIRWARM_FEE_BPS`.
    pub fee_bps: f64,
    /// `PAIRWARM_DEX_FEES` (DEX names lowercased).
    pub dex_fees: Vec<(String, f64)>,
}

/// HTTP endpoint settings.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpSettings {
    /// `METRICS_PORT`.
    pub port: u16,
    /// `PAIRWARM_LISTEN` (`None`: `127.0.0.1:<port>`).
    pub listen: Option<SocketAddr>,
    /// `PAIRWARM_HTTP_HEADER_TIMEOUT`.
    pub header_timeout: Duration,
    /// `PAIRWARM_HTTP_REQUEST_TIMEOUT`.
    pub request_timeout: Duration,
    /// `PAIRWARM_HTTP_IDLE_TIMEOUT`.
    pub idle_timeout: Duration,
    /// `PAIRWARM_HTTP_MAX_CONNECTIONS` (as configured; the server lowers it to what the
    /// open-file limit allows).
    pub max_connections: usize,
}

impl HttpSettings {
    /// The address to listen on.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], self.port)))
    }
}

/// Tracker snapshot settings.
#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotSettings {
    /// `PAIRWARM_SNAPSHOT`.
    pub target: Option<SnapshotTarget>,
    /// `PAIRWARM_SNAPSHOT_INTERVAL` (zero: only at shutdown).
    pub interval: Duration,
}

/// Where a tracker snapshot lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotTarget {
    /// A file (written to `<path>.tmp`, then renamed).
    File(PathBuf),
    /// A Redis key (needs `REDIS_URL`).
    Redis(String),
}

impl SnapshotTarget {
    /// `redis:<key>` or a file path.
    pub fn parse(spec: &str) -> Self {
        match spec.strip_prefix("redis:") {
            Some(key) => Self::Redis(key.to_owned()),
            None => Self::File(PathBuf::from(spec)),
        }
    }

    /// Where the L1 policy's learned window is kept next to the tracker snapshot:
    /// `<path>.policy` or the key `<key>:policy`.
    pub fn policy(&self) -> Self {
        match self {
            Self::File(path) => {
                let mut file = path.as_os_str().to_owned();
                file.push(".policy");
                Self::File(PathBuf::from(file))
            }
            Self::Redis(key) => Self::Redis(format!("{key}:policy")),
        }
    }
}
