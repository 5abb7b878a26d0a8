//! `pairwarm serve` arguments. Every environment variable of the seed (and ours) is also a
//! flag; all of them are validated by [`crate::config::Settings`], so a flag and its
//! variable are checked by the same code and errors name the variable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `pairwarm serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Redis URL; without it the service runs on the embedded default (in-memory L2 and a
    /// synthetic feed).
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Configuration profile: development, staging, production.
    #[arg(long, env = "WARMING_PROFILE")]
    pub profile: Option<String>,
    /// Warming strategy: topn, threshold, adaptive, timebased.
    #[arg(long, env = "WARMING_STRATEGY")]
    pub strategy: Option<String>,
    /// Strategy configuration as JSON (camelCase fields).
    #[arg(long, env = "WARMING_STRATEGY_CONFIG")]
    pub strategy_config: Option<String>,
    /// Pairs warmed per update at most.
    #[arg(long, env = "WARMING_MAX_PAIRS_PER_WARM")]
    pub max_pairs_per_warm: Option<String>,
    /// Lowest correlation score warmed.
    #[arg(long, env = "WARMING_MIN_CORRELATION_SCORE")]
    pub min_correlation_score: Option<String>,
    /// Queue warms and return at once (true) or warm inline (false).
    #[arg(long, env = "WARMING_ASYNC")]
    pub warming_async: Option<String>,
    /// Deadline of one warm's L2 fetch, ms.
    #[arg(long, env = "WARMING_TIMEOUT_MS")]
    pub warming_timeout_ms: Option<String>,
    /// L1 size in MB of assumed 1 KiB entries (the original's unit).
    #[arg(long, env = "CACHE_L1_SIZE")]
    pub l1_size: Option<String>,
    /// L1 entry lifetime in ms (prices older than this are not served from L1).
    #[arg(long, env = "CACHE_L1_TTL_MS")]
    pub l1_ttl_ms: Option<String>,
    /// Use L2 (Redis or the in-memory store).
    #[arg(long, env = "CACHE_L2_ENABLED")]
    pub l2_enabled: Option<String>,
    /// Use the fixed-slot price matrix as L1.
    #[arg(long, env = "CACHE_USE_PRICE_MATRIX")]
    pub use_price_matrix: Option<String>,
    /// Export Prometheus metrics.
    #[arg(long, env = "WARMING_METRICS_ENABLED")]
    pub metrics_enabled: Option<String>,
    /// Metric name prefix.
    #[arg(long, env = "METRICS_PREFIX")]
    pub metrics_prefix: Option<String>,
    /// HTTP port for /metrics and health.
    #[arg(long, env = "METRICS_PORT")]
    pub metrics_port: Option<String>,
    /// Master switch of warming.
    #[arg(long, env = "FEATURE_CACHE_WARMING_ENABLED")]
    pub warming_enabled: Option<String>,
    /// Allow the adaptive strategy (false turns it into topn).
    #[arg(long, env = "FEATURE_ADAPTIVE_STRATEGY_ENABLED")]
    pub adaptive_enabled: Option<String>,
    /// Share one tracker between warming containers.
    #[arg(long, env = "ANALYZER_USE_SHARED")]
    pub use_shared_analyzer: Option<String>,
    /// Pairs the tracker follows at most.
    #[arg(long, env = "ANALYZER_MAX_TRACKED_PAIRS")]
    pub max_tracked_pairs: Option<String>,
    /// Co-occurrence window, ms.
    #[arg(long, env = "ANALYZER_CO_OCCURRENCE_WINDOW_MS")]
    pub co_occurrence_window_ms: Option<String>,
    /// Shadow mode: predict, never warm, report what warming would have added.
    #[arg(long, env = "WARMING_SHADOW_MODE")]
    pub shadow_mode: Option<String>,
    /// Canary chains, comma-separated (default: all).
    #[arg(long, env = "WARMING_ENABLED_CHAINS")]
    pub enabled_chains: Option<String>,
    /// Fraction of pairs warmed, by stable address hash.
    #[arg(long, env = "WARMING_ROLLOUT_PERCENTAGE")]
    pub rollout_percentage: Option<String>,
    /// Bearer token of the admin endpoint (admin routes are off without it).
    #[arg(long, env = "PAIRWARM_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// HTTP listen address (default 127.0.0.1:<METRICS_PORT>; use 0.0.0.0 to expose).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Env file re-read on SIGHUP (its values override flags and the environment).
    #[arg(long)]
    pub env_file: Option<PathBuf>,
    /// Price streams, comma-separated (one shared stream or one per chain).
    #[arg(long, value_delimiter = ',', default_value = "stream:price-updates")]
    pub streams: Vec<String>,
    /// Consumer group.
    #[arg(long, default_value = "pairwarm")]
    pub group: String,
    /// Consumer name (default: <host>-<pid>).
    #[arg(long)]
    pub consumer: Option<String>,
    /// Entries per XREADGROUP.
    #[arg(long, default_value_t = 512)]
    pub count: usize,
    /// XREADGROUP BLOCK, ms.
    #[arg(long, default_value_t = 100)]
    pub block_ms: u64,
    /// Claim entries another consumer left pending longer than this, ms.
    #[arg(long, default_value_t = 30_000)]
    pub claim_idle_ms: u64,
    /// Stream where opportunities are published.
    #[arg(long, default_value = "stream:opportunities")]
    pub opportunities_stream: String,
    /// Synthetic feed rate (embedded default only), updates/s.
    #[arg(long, default_value_t = 5_000)]
    pub rate: u64,
    /// Seed of the synthetic feed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Hub tokens for the detector's triangle checks, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "weth,usdc,usdt,wbnb")]
    pub hub_tokens: Vec<String>,
    /// Report spreads net of fees at or above this, basis points.
    #[arg(long, default_value_t = 10.0)]
    pub min_spread_bps: f64,
    /// Default fee per swap, basis points.
    #[arg(long, default_value_t = 30.0)]
    pub fee_bps: f64,
    /// Per-DEX fees, e.g. `uniswap-v3=5,curve=4`.
    #[arg(long, value_delimiter = ',')]
    pub dex_fee: Vec<String>,
    /// Tracker snapshot: a file path, or `redis:<key>`.
    #[arg(long)]
    pub snapshot: Option<String>,
    /// Snapshot period.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub snapshot_interval: Duration,
    /// Status line period (0 to disable).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub status_interval: Duration,
    /// Longest graceful shutdown.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
    /// Stop after this many updates (tests, benchmarks).
    #[arg(long)]
    pub max_updates: Option<u64>,
}

/// Parses `250ms`, `5s`, `2m` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let value: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 250ms, 5s, 2m"))?;
    let secs = match unit {
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("invalid duration unit in {s:?}: use ms, s, m or h")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("invalid duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl ServeArgs {
    /// The environment-style view of the flags (name -> value) that `Settings` validates.
    pub fn variables(&self) -> HashMap<&'static str, String> {
        let pairs: [(&'static str, &Option<String>); 24] = [
            ("REDIS_URL", &self.redis_url),
            ("WARMING_PROFILE", &self.profile),
            ("WARMING_STRATEGY", &self.strategy),
            ("WARMING_STRATEGY_CONFIG", &self.strategy_config),
            ("WARMING_MAX_PAIRS_PER_WARM", &self.max_pairs_per_warm),
            ("WARMING_MIN_CORRELATION_SCORE", &self.min_correlation_score),
            ("WARMING_ASYNC", &self.warming_async),
            ("WARMING_TIMEOUT_MS", &self.warming_timeout_ms),
            ("CACHE_L1_SIZE", &self.l1_size),
            ("CACHE_L1_TTL_MS", &self.l1_ttl_ms),
            ("CACHE_L2_ENABLED", &self.l2_enabled),
            ("CACHE_USE_PRICE_MATRIX", &self.use_price_matrix),
            ("WARMING_METRICS_ENABLED", &self.metrics_enabled),
            ("METRICS_PREFIX", &self.metrics_prefix),
            ("METRICS_PORT", &self.metrics_port),
            ("FEATURE_CACHE_WARMING_ENABLED", &self.warming_enabled),
            ("FEATURE_ADAPTIVE_STRATEGY_ENABLED", &self.adaptive_enabled),
            ("ANALYZER_USE_SHARED", &self.use_shared_analyzer),
            ("ANALYZER_MAX_TRACKED_PAIRS", &self.max_tracked_pairs),
            (
                "ANALYZER_CO_OCCURRENCE_WINDOW_MS",
                &self.co_occurrence_window_ms,
            ),
            ("WARMING_SHADOW_MODE", &self.shadow_mode),
            ("WARMING_ENABLED_CHAINS", &self.enabled_chains),
            ("WARMING_ROLLOUT_PERCENTAGE", &self.rollout_percentage),
            ("PAIRWARM_ADMIN_TOKEN", &self.admin_token),
        ];
        pairs
            .into_iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
            .collect()
    }
}
