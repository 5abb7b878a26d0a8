//! What the tasks of a running service share (the feed, the timers, HTTP, reload), and the
//! documents read from it: health, readiness, the HTTP endpoints' view.
//!
//! It sits below both [`crate::feed`] and the [`Service`](crate::Service) handle, so the
//! feed works on it without knowing the handle.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use pairwarm::cache::{AnyL2, RedisL2};
use pairwarm::container::WarmingComponents;
use pairwarm::metrics::WarmingMetrics;
use tokio::sync::watch;

use crate::config::{FeedSource, ServiceConfig};
use crate::health::{Health, HealthInputs, HealthWindow, Readiness, warming_health};
use crate::processor::Processor;
use crate::rollout::RolloutControls;
use crate::shadow::ShadowTracker;
use crate::stats::FeedStats;

/// The cache type of the service: L1 over Redis or the in-memory L2.
pub type Cache = pairwarm::cache::HierarchicalCache<AnyL2>;

/// The shared state of one service.
pub(crate) struct Shared {
    pub(crate) config: parking_lot::Mutex<ServiceConfig>,
    pub(crate) feed: FeedSource,
    pub(crate) cache: Arc<Cache>,
    pub(crate) parts: WarmingComponents<AnyL2>,
    pub(crate) processor: Processor<AnyL2>,
    pub(crate) rollout: Arc<RolloutControls>,
    pub(crate) shadow: Arc<ShadowTracker>,
    pub(crate) metrics: Option<Arc<WarmingMetrics>>,
    /// The Redis of L2, streams, publishing and snapshots (`None` on the in-memory L2).
    pub(crate) redis: Option<RedisL2>,
    pub(crate) stats: FeedStats,
    /// How stream entries are judged (size, signature, chains), fixed at start.
    pub(crate) entry_rules: crate::entry::EntryRules,
    /// Whether L2 answered its last check.
    pub(crate) l2_ok: AtomicBool,
    pub(crate) ready: watch::Sender<bool>,
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) listener: parking_lot::Mutex<Option<std::net::TcpListener>>,
    pub(crate) local_addr: Option<SocketAddr>,
    /// Warmer counters sampled by the background timer (never by readers).
    pub(crate) health_window: parking_lot::Mutex<HealthWindow>,
    pub(crate) started: Instant,
    /// The L1 coherence driver (client tracking), stopped when the service is dropped.
    pub(crate) coherence: Option<AbortOnDrop>,
    /// Held while a snapshot is saved: the periodic and the shutdown save write the same
    /// temp files.
    pub(crate) snapshot_saving: tokio::sync::Mutex<()>,
}

/// A spawned task aborted when its owner is dropped.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Shared {
    #[allow(clippy::too_many_arguments)] // called once, by the builder
    pub(crate) fn new(
        config: ServiceConfig,
        feed: FeedSource,
        cache: Arc<Cache>,
        parts: WarmingComponents<AnyL2>,
        processor: Processor<AnyL2>,
        rollout: Arc<RolloutControls>,
        shadow: Arc<ShadowTracker>,
        redis: Option<RedisL2>,
        listener: Option<std::net::TcpListener>,
    ) -> Self {
        Self {
            entry_rules: config.entry_rules(),
            config: parking_lot::Mutex::new(config),
            feed,
            metrics: parts.metrics.clone(),
            cache,
            parts,
            processor,
            rollout,
            shadow,
            redis,
            stats: FeedStats::default(),
            l2_ok: AtomicBool::new(true),
            ready: watch::channel(false).0,
            local_addr: listener.as_ref().and_then(|l| l.local_addr().ok()),
            listener: parking_lot::Mutex::new(listener),
            health_window: parking_lot::Mutex::default(),
            started: Instant::now(),
            coherence: None,
            snapshot_saving: tokio::sync::Mutex::new(()),
        }
    }

    /// Updates the readiness latch from the L2 and feed flags.
    pub(crate) fn refresh_ready(&self) {
        let ready = self.readiness().ready;
        self.ready
            .send_if_modified(|r| std::mem::replace(r, ready) != ready);
    }

    /// Marks the feed running or not and updates the latch.
    pub(crate) fn set_feed_running(&self, running: bool) {
        self.stats.running.store(running, Ordering::Relaxed);
        self.refresh_ready();
    }

    /// Updates handled so far: processed, dead-lettered (one update per flat entry) or
    /// refused inside an envelope. `PAIRWARM_MAX_UPDATES` counts these, not entries.
    pub(crate) fn handled_updates(&self) -> u64 {
        self.processor.counters.updates.load(Ordering::Relaxed)
            + self.stats.dead_lettered.load(Ordering::Relaxed)
            + self.stats.bad_updates.load(Ordering::Relaxed)
    }

    /// Samples the warmer and feed counters into the health windows (the background
    /// timer's job).
    pub(crate) fn sample_health(&self) {
        let stats = self.parts.warmer.stats();
        self.health_window.lock().sample(Instant::now(), stats);
        self.stats.sample(Instant::now());
    }

    pub(crate) fn readiness(&self) -> Readiness {
        let redis = self.redis.is_some();
        let l2 = !redis || self.l2_ok.load(Ordering::Relaxed);
        let feed = self.stats.running.load(Ordering::Relaxed);
        let feed_detail = match self.feed {
            FeedSource::Redis => "stream consumer",
            FeedSource::Synthetic => "synthetic feed",
            FeedSource::None | FeedSource::Auto => "fed by the embedding program",
        };
        let failing = self
            .processor
            .counters
            .l2_write_failing
            .load(Ordering::Relaxed);
        let limit = self.config.lock().feed.unready_after_l2_write_failures;
        let writes = limit == 0 || failing < limit;
        Readiness {
            ready: l2 && feed && writes,
            checks: vec![
                (
                    "l2".into(),
                    l2,
                    if redis { "redis PING" } else { "in-memory" }.into(),
                ),
                ("feed".into(), feed, feed_detail.into()),
                (
                    "l2_writes".into(),
                    writes,
                    format!("{failing} failed batch writes in a row (unready from {limit})"),
                ),
            ],
        }
    }

    pub(crate) fn health(&self) -> Health {
        let tracker = self.parts.tracker.stats();
        let warmer = self.parts.warmer.stats();
        // Before the timer's first sample the window reaches back to the start (all
        // counters were zero then), so early failures are not hidden.
        let before = self
            .health_window
            .lock()
            .baseline()
            .cloned()
            .unwrap_or_default();
        let mut failures = Vec::new();
        if !self.stats.running.load(Ordering::Relaxed) {
            failures.push("price feed not running".to_owned());
        }
        let mut degradations = self.stats.degradations(self.feed);
        let waiting = self.stats.dead_letters_waiting.load(Ordering::Relaxed);
        if waiting > 0 {
            degradations.push(format!(
                "{waiting} entries wait for their dead-letter copy, which Redis refuses; they stay pending and are retried"
            ));
        }
        let counters = &self.processor.counters;
        let failing = counters.l2_write_failing.load(Ordering::Relaxed);
        if failing > 0 {
            degradations.push(format!(
                "L2 writes failing: {failing} batch writes in a row failed (last: {}); their entries stay pending and are retried",
                counters.last_l2_write_error.lock()
            ));
        }
        let strategy = self.parts.warmer.strategy();
        let (status, body) = warming_health(&HealthInputs {
            tracker: &tracker,
            learns_from: match self.parts.tracker.config().signal {
                pairwarm::tracker::Signal::Reads => "misses",
                pairwarm::tracker::Signal::Updates => "updates",
            },
            warmer: Some(&warmer),
            warmer_before: Some(&before),
            cache: &self.cache.stats(),
            strategy: Some((strategy.name(), strategy.config())),
            l2_ok: self
                .config
                .lock()
                .cache
                .l2_enabled
                .then(|| self.l2_ok.load(Ordering::Relaxed)),
            extra: vec![
                (
                    "rollout",
                    serde_json::to_value(self.rollout.state()).unwrap_or_default(),
                ),
                (
                    "shadow",
                    serde_json::to_value(self.shadow.stats()).unwrap_or_default(),
                ),
                ("stream", self.stats.health_json(self.feed)),
                (
                    "detector",
                    serde_json::json!({
                        "reads": counters.detector_reads.load(Ordering::Relaxed),
                        "opportunities": counters.opportunities.load(Ordering::Relaxed),
                        "updates": counters.updates.load(Ordering::Relaxed),
                        "l2WriteFailures": counters.l2_write_failures.load(Ordering::Relaxed),
                    }),
                ),
                (
                    "uptimeSeconds",
                    serde_json::json!(self.started.elapsed().as_secs()),
                ),
            ],
            failures,
            degradations,
        });
        Health { status, body }
    }

    /// Copies the cache's counters and the gauges into the metric set before a scrape.
    #[cfg(feature = "http")]
    pub(crate) fn sync_metrics(&self) {
        let Some(m) = &self.metrics else {
            return;
        };
        m.sync_cache(&self.cache.stats_by_chain());
        if let Some(c) = self.cache.coherence() {
            m.sync_coherence(&c.stats());
        }
        let w = self.parts.warmer.stats();
        m.set_pending((w.queue_depth as u64 + w.in_flight) as usize);
        m.set_cache_entries(pairwarm::metrics::CacheLevel::L1, self.cache.l1_len());
        if self.config.lock().cache.l2_enabled {
            m.set_l2_reachable(self.l2_ok.load(Ordering::Relaxed));
        }
        let rollout = self.rollout.state();
        m.set_rollout(rollout.enabled, rollout.shadow_mode);
        m.sync_tracker(&self.parts.tracker.stats());
        // Tracked pairs per chain (at most max_tracked_pairs lookups per scrape).
        let interner = self.cache.interner();
        let mut per_chain = [0usize; pairwarm::pair::MAX_CHAINS];
        self.parts.tracker.for_each_tracked(|id| {
            if let Some(n) = per_chain.get_mut(interner.chain_of(id).index()) {
                *n += 1;
            }
        });
        for (i, name) in interner.chain_names().iter().enumerate() {
            if let Ok(chain) = interner.chain_id(name) {
                m.chain(chain, name).set_pairs_tracked(per_chain[i]);
            }
        }
    }

    /// The HTTP endpoints' view of this service.
    #[cfg(feature = "http")]
    pub(crate) fn http_state(self: &Arc<Self>) -> crate::http::HttpState {
        let (scrape, health, ready, change) =
            (self.clone(), self.clone(), self.clone(), self.clone());
        crate::http::HttpState {
            metrics: self.metrics.clone(),
            before_scrape: Arc::new(move || scrape.sync_metrics()),
            health: Arc::new(move || health.health()),
            ready: Arc::new(move || ready.readiness()),
            rollout: self.rollout.clone(),
            admin_token: self
                .config
                .lock()
                .admin_token
                .as_ref()
                .map(|t| t.expose().to_owned()),
            on_rollout_change: Arc::new(move |state| {
                change.parts.warmer.set_enabled(state.enabled);
            }),
        }
    }
}
