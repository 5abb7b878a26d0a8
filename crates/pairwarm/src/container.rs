//! [`WarmingContainer`]: builds tracker, strategy, warmer and metrics from one config,
//! plus the seed's factories and deployment profiles.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use pairwarm::cache::HierarchicalCache;
//! use pairwarm::container::{WarmingConfig, WarmingContainer, Profile};
//!
//! let cache = Arc::new(HierarchicalCache::builder().l1_size_mb(64).build_in_memory());
//! let parts = WarmingContainer::new(cache.clone(), WarmingConfig::profile(Profile::Production))
//!     .build()
//!     .unwrap();
//! let pool = cache.interner().intern_str("ethereum", "0xb4e16d0168e52d35cacd2c6185b44281ec28c9dc").unwrap();
//! parts.tracker.record_price_update(pool, 1_700_000_000_000);
//! parts.warmer.warm_for_pair(pool).await;
//! assert_eq!(parts.strategy.name(), "adaptive");
//! assert!(parts.metrics.is_some());
//! # });
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::cache::{Clock, HierarchicalCache, L2Store, ReadObserver};
use crate::metrics::{ExportFormat, MetricsError, WarmErrorKind, WarmOutcome, WarmingMetrics};
use crate::pair::{PairId, PairInterner};
use crate::strategy::{AdaptiveConfig, StrategyConfig, TopNConfig, WarmingStrategy};
use crate::tracker::{CorrelationTracker, Signal, TrackerConfig};
use crate::warmer::{
    CacheWarmer, WarmObserver, WarmStatus, WarmerConfig, WarmerConfigError, WarmingResult,
    wall_clock_ms,
};

/// Metrics export settings (the original's `metricsConfig`).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsConfig {
    /// Default export format.
    pub format: ExportFormat,
    /// Name prefix, e.g. `arbitrage_`.
    pub prefix: String,
    /// Add build/version information to JSON exports.
    pub include_metadata: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            format: ExportFormat::Prometheus,
            prefix: "arbitrage_".into(),
            include_metadata: true,
        }
    }
}

/// Everything the container builds from (the original's `WarmingContainerConfig`).
#[derive(Clone, Debug, PartialEq)]
pub struct WarmingConfig {
    /// Strategy and its settings.
    pub strategy: StrategyConfig,
    /// Warmer settings.
    pub warmer: WarmerConfig,
    /// Tracker settings.
    pub tracker: TrackerConfig,
    /// Metrics settings.
    pub metrics: MetricsConfig,
    /// Build a metrics collector and exporter.
    pub enable_metrics: bool,
    /// Share one tracker among the containers of caches that share an interner.
    pub use_shared_analyzer: bool,
    /// Learn which pools to warm from the cache's misses rather than from update
    /// co-occurrence: the tracker runs [`Signal::Reads`] and the container makes it the
    /// cache's [`ReadObserver`] ([`miss_learner`]), so a read that missed L1 (or took a
    /// warmed entry) credits the pools updated within the window before it. The caller
    /// still records updates ([`CorrelationTracker::record_price_update`]): they open the
    /// window. On the system clock reads are stamped in the updates' own time base (the
    /// newest update's timestamp, advanced by the wall clock), so feed timestamps that lag
    /// the wall clock do not matter.
    ///
    /// Off by default here, as the original learned update co-occurrence (its factories
    /// and profiles keep that); `serve` turns it on (`WARMING_LEARN_FROM=misses`). In
    /// replays whose pools are read a block after their cross-chain twins update it gains
    /// up to 3.6 points of hit rate where update co-occurrence gains nothing, and it is
    /// within ±0.1 of it elsewhere at 64-512 entries (-0.18 to +0.00 at 8,192 under a
    /// TTL; docs/simulation.md, rounds 10 and 11). A read credits the newest updates
    /// before it (`max_credits_per_update`), so a detector should look a pool up right
    /// after the update that made it want the pool, as `serve`'s processor does, not after
    /// a whole batch's updates (whose last ones would take the credit).
    pub learn_from_misses: bool,
}

impl Default for WarmingConfig {
    /// The original's defaults: `topn {5, 0.3}`, warmer defaults, metrics on, shared tracker.
    fn default() -> Self {
        Self {
            strategy: StrategyConfig::TopN(TopNConfig::default()),
            warmer: WarmerConfig::default(),
            tracker: TrackerConfig::default(),
            metrics: MetricsConfig::default(),
            enable_metrics: true,
            use_shared_analyzer: true,
            learn_from_misses: false,
        }
    }
}

/// The seed's deployment profiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// topn {3, 0.3}; 3 pairs per warm, synchronous, 100 ms; no metrics; own tracker.
    Development,
    /// topn {5, 0.3}; 5 pairs per warm, async, 50 ms; metrics; shared tracker.
    Staging,
    /// adaptive {0.97, 3, 10, 0.3, 0.1}; 10 pairs per warm, async, 50 ms; metrics with
    /// metadata; shared tracker.
    Production,
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(Self::Development),
            "staging" => Ok(Self::Staging),
            "production" | "prod" => Ok(Self::Production),
            other => Err(format!(
                "unknown profile {other:?}: expected development, staging or production"
            )),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Development => "development",
            Self::Staging => "staging",
            Self::Production => "production",
        })
    }
}

impl WarmingConfig {
    /// The seed's values for a profile.
    pub fn profile(profile: Profile) -> Self {
        let mut c = Self::default();
        match profile {
            Profile::Development => {
                c.strategy = StrategyConfig::TopN(TopNConfig {
                    top_n: 3,
                    min_score: 0.3,
                });
                c.warmer.max_pairs_per_warm = 3;
                c.warmer.async_warming = false;
                c.warmer.timeout_ms = 100;
                c.enable_metrics = false;
                c.use_shared_analyzer = false;
            }
            Profile::Staging => {
                c.strategy = StrategyConfig::TopN(TopNConfig {
                    top_n: 5,
                    min_score: 0.3,
                });
                c.warmer.max_pairs_per_warm = 5;
                c.warmer.async_warming = true;
                c.warmer.timeout_ms = 50;
                c.enable_metrics = true;
                c.use_shared_analyzer = true;
            }
            Profile::Production => {
                c.strategy = StrategyConfig::Adaptive(AdaptiveConfig {
                    target_hit_rate: 0.97,
                    min_pairs: 3,
                    max_pairs: 10,
                    min_score: 0.3,
                    adjustment_factor: 0.1,
                });
                c.warmer.max_pairs_per_warm = 10;
                c.warmer.min_correlation_score = 0.3;
                c.warmer.async_warming = true;
                c.warmer.timeout_ms = 50;
                c.metrics = MetricsConfig {
                    format: ExportFormat::Prometheus,
                    prefix: "arbitrage_".into(),
                    include_metadata: true,
                };
                c.enable_metrics = true;
                c.use_shared_analyzer = true;
            }
        }
        c
    }
}

/// Why `build()` failed.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// Invalid warmer settings.
    #[error(transparent)]
    Warmer(#[from] WarmerConfigError),
    /// Invalid tracker settings.
    #[error("tracker: {0}")]
    Tracker(String),
    /// Invalid metrics settings (prefix).
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// Invalid strategy settings.
    #[error(transparent)]
    Strategy(#[from] crate::strategy::StrategyConfigError),
}

/// What [`WarmingContainer::build`] returns.
pub struct WarmingComponents<L: L2Store> {
    /// The correlation tracker (shared if `use_shared_analyzer`).
    pub tracker: Arc<CorrelationTracker>,
    /// The strategy.
    pub strategy: Arc<dyn WarmingStrategy>,
    /// The warmer, wired to the cache, tracker, strategy and (if any) metrics.
    pub warmer: CacheWarmer<L>,
    /// The metrics collector, when metrics are enabled. Render it with
    /// [`WarmingMetrics::render`] (or [`WarmingMetrics::encode_json`]) in the format of
    /// [`MetricsConfig`].
    pub metrics: Option<Arc<WarmingMetrics>>,
}

/// Builds warming components for a cache (see the module example).
pub struct WarmingContainer<L: L2Store> {
    cache: Arc<HierarchicalCache<L>>,
    config: WarmingConfig,
}

/// Trackers shared per interner (ids only mean something within one interner, so a
/// process-wide singleton, as the original had, would mix unrelated ids).
type SharedTrackers = Mutex<Vec<(Weak<PairInterner>, Weak<CorrelationTracker>)>>;
static SHARED: SharedTrackers = Mutex::new(Vec::new());

fn shared_tracker(
    interner: &Arc<PairInterner>,
    config: &TrackerConfig,
) -> Result<Arc<CorrelationTracker>, ContainerError> {
    let mut shared = SHARED.lock();
    shared.retain(|(i, t)| i.strong_count() > 0 && t.strong_count() > 0);
    if let Some(tracker) = shared
        .iter()
        .find(|(i, _)| i.upgrade().is_some_and(|i| Arc::ptr_eq(&i, interner)))
        .and_then(|(_, t)| t.upgrade())
    {
        if tracker.config() != config {
            tracing::warn!(
                "shared tracker already exists with another config; reusing it unchanged"
            );
        }
        return Ok(tracker);
    }
    let tracker = Arc::new(
        CorrelationTracker::new(config.clone())
            .map_err(|e| ContainerError::Tracker(e.to_string()))?,
    );
    shared.push((Arc::downgrade(interner), Arc::downgrade(&tracker)));
    Ok(tracker)
}

impl<L: L2Store> WarmingContainer<L> {
    /// A container for `cache` with `config`.
    pub fn new(cache: Arc<HierarchicalCache<L>>, config: WarmingConfig) -> Self {
        Self { cache, config }
    }

    /// The configuration.
    pub fn config(&self) -> &WarmingConfig {
        &self.config
    }

    /// Replaces the configuration for later `build()` calls.
    pub fn set_config(&mut self, config: WarmingConfig) {
        self.config = config;
    }

    /// Builds new components (the tracker is reused when shared).
    ///
    /// With [`WarmingConfig::learn_from_misses`] the tracker becomes the cache's
    /// [`ReadObserver`], replacing any earlier one (one learner per cache; remove it with
    /// [`HierarchicalCache::set_read_observer`]`(None)`); a shared tracker that learns
    /// from the other signal is an error rather than a learner that silently learns
    /// nothing.
    pub fn build(&self) -> Result<WarmingComponents<L>, ContainerError> {
        let c = &self.config;
        let mut tracker_config = c.tracker.clone();
        if c.learn_from_misses {
            tracker_config.signal = Signal::Reads;
        }
        let tracker = if c.use_shared_analyzer {
            shared_tracker(self.cache.interner(), &tracker_config)?
        } else {
            Arc::new(
                CorrelationTracker::new(tracker_config.clone())
                    .map_err(|e| ContainerError::Tracker(e.to_string()))?,
            )
        };
        if tracker.config().signal != tracker_config.signal {
            return Err(ContainerError::Tracker(format!(
                "the shared tracker learns from {:?}, this container from {:?} \
                 (learn_from_misses: {}); give it its own tracker (use_shared_analyzer: false)",
                tracker.config().signal,
                tracker_config.signal,
                c.learn_from_misses
            )));
        }
        if c.learn_from_misses {
            self.cache
                .set_read_observer(Some(miss_learner(tracker.clone(), self.cache.clock())));
        }
        let strategy = c.strategy.build();
        let warmer = CacheWarmer::new(
            self.cache.clone(),
            tracker.clone(),
            strategy.clone(),
            c.warmer.clone(),
        )?;
        let metrics = if c.enable_metrics {
            let metrics = Arc::new(WarmingMetrics::new(&c.metrics.prefix)?);
            warmer.set_observer(Arc::new(MetricsObserver {
                metrics: metrics.clone(),
                interner: self.cache.interner().clone(),
            }));
            Some(metrics)
        } else {
            None
        };
        Ok(WarmingComponents {
            tracker,
            strategy,
            warmer,
            metrics,
        })
    }
}

/// The [`ReadObserver`] a container installs with [`WarmingConfig::learn_from_misses`]:
/// feeds `tracker` the misses and warmed hits of a cache running on `clock`, stamped in
/// the updates' time base. On a manual clock (a replay) that is the cache's own time. On
/// the system clock, which counts from the process start, it is the feed's: see
/// `FeedTime`. Public for replays that build their warmer without a container
/// (`pairwarm simulate`).
pub fn miss_learner(tracker: Arc<CorrelationTracker>, clock: &Clock) -> Box<dyn ReadObserver> {
    Box::new(TrackerReads {
        tracker,
        feed_time: matches!(clock, Clock::System).then(FeedTime::default),
    })
}

/// Feeds the cache's misses (and warmed hits) to the tracker as reads to learn from.
struct TrackerReads {
    tracker: Arc<CorrelationTracker>,
    /// On the system clock: the feed's present, estimated from its newest update.
    feed_time: Option<FeedTime>,
}

/// "Now" in the time base of the recorded updates, for a cache on the system clock: the
/// newest update's timestamp, advanced by the wall-clock time since a read first saw it.
/// Updates carry the feed's times (Unix ms, the original's `Date.now()`, or block times),
/// which may lag the wall clock by more than the tracker's window; stamping a read with
/// the wall clock would place it after every update of the window.
///
/// The advance counts from the first warmable read after the newest update, so a reader
/// whose first miss after an update comes more than a window later still credits it
/// (`serve` reads right after each update: it never does). It is capped just past the
/// window: a read after a stall credits nothing, and never lands in a future decay epoch.
/// One time base is assumed: feeds whose chains stamp updates seconds apart are compared
/// by the tracker's window as they come.
#[derive(Default)]
struct FeedTime {
    /// The newest update timestamp seen by a read (stored after `seen_at`, with
    /// release ordering, so a reader that sees it sees its `seen_at` or a later one).
    newest: AtomicU64,
    /// Wall-clock ms when a read first saw `newest` (0: not yet).
    seen_at: AtomicU64,
}

impl FeedTime {
    /// The read's stamp, or `None` before the first update is recorded (or after the
    /// tracker's reset): there is nothing to credit.
    fn now(&self, tracker: &CorrelationTracker) -> Option<u64> {
        let newest = tracker.newest_update_ms()?;
        let wall = wall_clock_ms();
        if newest != self.newest.load(Acquire) {
            self.seen_at.store(wall, Relaxed);
            self.newest.store(newest, Release);
            return Some(newest);
        }
        let seen_at = self.seen_at.load(Relaxed);
        let advance = if seen_at == 0 {
            0
        } else {
            wall.saturating_sub(seen_at)
                .min(tracker.config().window_ms.saturating_add(1))
        };
        Some(newest.saturating_add(advance))
    }
}

impl ReadObserver for TrackerReads {
    fn on_warmable_read(&self, id: PairId, now_ms: u64) {
        let ts = match &self.feed_time {
            Some(feed) => match feed.now(&self.tracker) {
                Some(ts) => ts,
                None => return,
            },
            None => now_ms,
        };
        self.tracker.record_read(id, ts);
    }
}

/// Feeds warm outcomes into the Prometheus collector, per chain.
struct MetricsObserver {
    metrics: Arc<WarmingMetrics>,
    interner: Arc<PairInterner>,
}

impl MetricsObserver {
    fn chain(&self, pair: PairId) -> &crate::metrics::ChainMetrics {
        let chain = self.interner.chain_of(pair);
        self.metrics
            .chain(chain, self.interner.chain_name(chain).unwrap_or("unknown"))
    }
}

impl WarmObserver for MetricsObserver {
    fn on_warm(&self, result: &WarmingResult) {
        let outcome = match result.status {
            WarmStatus::TimedOut => WarmOutcome::Timeout,
            WarmStatus::Failed => WarmOutcome::Error(WarmErrorKind::L2),
            _ => WarmOutcome::Success,
        };
        self.chain(result.source_pair)
            .record_warm(outcome, result.pairs_warmed, result.duration);
    }

    fn on_debounced(&self, source: PairId) {
        self.chain(source).debounced.inc();
    }

    fn on_dropped(&self, dropped: PairId) {
        self.chain(dropped).dropped.inc();
    }
}

/// The seed's `createTopNWarming(cache, topN = 5, minScore = 0.3)`.
pub fn create_top_n_warming<L: L2Store>(
    cache: Arc<HierarchicalCache<L>>,
    top_n: usize,
    min_score: f64,
) -> Result<WarmingComponents<L>, ContainerError> {
    let json = serde_json::json!({ "topN": top_n, "minScore": min_score });
    build_with_strategy(cache, "topn", &json)
}

/// Builds the default container with `kind` configured by `json`.
fn build_with_strategy<L: L2Store>(
    cache: Arc<HierarchicalCache<L>>,
    kind: &str,
    json: &serde_json::Value,
) -> Result<WarmingComponents<L>, ContainerError> {
    let strategy = StrategyConfig::parse(kind, Some(&json.to_string()))?;
    WarmingContainer::new(
        cache,
        WarmingConfig {
            strategy,
            ..WarmingConfig::default()
        },
    )
    .build()
}

/// The seed's `createAdaptiveWarming(cache, targetHitRate = 0.97, maxPairs = 10)`.
pub fn create_adaptive_warming<L: L2Store>(
    cache: Arc<HierarchicalCache<L>>,
    target_hit_rate: f64,
    max_pairs: usize,
) -> Result<WarmingComponents<L>, ContainerError> {
    let json = serde_json::json!({
        "targetHitRate": target_hit_rate,
        "minPairs": 3.min(max_pairs),
        "maxPairs": max_pairs,
        "minScore": 0.3,
        "adjustmentFactor": 0.1,
    });
    build_with_strategy(cache, "adaptive", &json)
}

/// The seed's `createTestWarming(cache)`, a factory for tests: topn {5, 0.3}, own
/// tracker, no metrics, synchronous warming (so a test sees the effect as soon as the call
/// returns). Behind the `testing` feature.
#[cfg(feature = "testing")]
pub fn create_test_warming<L: L2Store>(
    cache: Arc<HierarchicalCache<L>>,
) -> Result<WarmingComponents<L>, ContainerError> {
    let mut config = WarmingConfig {
        enable_metrics: false,
        use_shared_analyzer: false,
        ..WarmingConfig::default()
    };
    config.warmer.async_warming = false;
    WarmingContainer::new(cache, config).build()
}
