//! The groups of [`ServiceConfig`](super::ServiceConfig) fields that are the service's own
//! (the warming settings are the core's `WarmingConfig`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use pairwarm::cache::L1Policy;

/// L1/L2 settings.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheSettings {
    /// `CACHE_L1_SIZE`, MB of assumed 1 KiB entries (`None`: not given).
    pub l1_size_mb: Option<u64>,
    /// `CACHE_L1_TTL_MS`.
    pub l1_ttl_ms: Option<u64>,
    /// `CACHE_L1_POLICY`: the L1 eviction policy (`default` is the product's).
    pub l1_policy: L1Policy,
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

/// Price feed and stream consumer settings.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedSettings {
    /// `PAIRWARM_FEED`.
    pub source: FeedSource,
    /// `PAIRWARM_STREAMS`.
    pub streams: Vec<String>,
    /// `PAIRWARM_GROUP`.
    pub group: String,
    /// `PAIRWARM_CONSUMER` (`None`: `<hostname>-<pid>`).
    pub consumer: Option<String>,
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
}
