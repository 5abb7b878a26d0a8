//! The cache warmer: turns the tracker's predictions into warm L1 entries.
//!
//! One warm for a source pair:
//! 1. [`CacheWarmer::plan`] asks the tracker for the source's best partners and the strategy
//!    which of them to warm (with the live L1 hit rate and capacity as context), caps the
//!    choice at `max_pairs_per_warm`, and drops pairs already in L1 — all synchronous, no I/O.
//! 2. [`CacheWarmer::execute`] fetches the rest from L2 in **one** batched call (one Redis
//!    `MGET`), bounded by `timeout_ms` (the timeout drops the call: nothing keeps running in
//!    the background), and promotes what it found into **L1 only** (L2 is not rewritten, so
//!    TTLs there are not extended and Redis sees one read, not a read and a write per pair).
//!
//! With `async_warming` (the default) [`CacheWarmer::warm_for_pair`] only enqueues and
//! returns: a bounded queue (newest wins, the oldest job is dropped and counted when full),
//! at most one pending warm per source pair (repeated triggers are debounced and counted),
//! drained by a worker task that runs up to `concurrency` warms at once on the multiplexed
//! connection. A failed or timed-out warm is counted and logged at most once per interval;
//! it never reaches `record_price_update` or the detector's reads.
//!
//! The split into `plan` and `execute` is also what the simulator uses: it runs the real
//! planning and models the L2 round trip on its virtual clock.

mod queue;
mod refresh;

pub use refresh::{REFRESH_IDLE_MIN_MS, REFRESH_IDLE_TTLS, RefreshConfig};

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use crate::cache::{CacheError, HierarchicalCache, L2Store};
use crate::log_throttle::LogThrottle;
use crate::pair::PairId;
use crate::strategy::{SelectionReason, WarmingCandidate, WarmingContext, WarmingStrategy};
use crate::structure::PoolStructure;
use crate::tracker::{CorrelationTracker, PairCorrelation};
use queue::{Enqueued, Job, WarmQueue};

/// Warmer settings (JSON: the original's camelCase `warmerConfig`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct WarmerConfig {
    /// Hard cap on pairs warmed per source update (default 5).
    pub max_pairs_per_warm: usize,
    /// Lowest score warmed (default 0.3), whatever the strategy: the tracker is asked
    /// for scores >= the stricter of this and the strategy's own minimum.
    pub min_correlation_score: f64,
    /// Enqueue and return at once (default true); `false` warms inline.
    pub async_warming: bool,
    /// Deadline of one warm's L2 fetch in ms (default 50).
    pub timeout_ms: u64,
    /// Master switch (default true).
    pub enabled: bool,
    /// Queue bound for async warming (default 4096 jobs).
    pub queue_capacity: usize,
    /// Warms the worker runs at once (default 16; they share one multiplexed connection).
    pub concurrency: usize,
    /// Also warm the updated pool's structural neighbours (default true): the same token
    /// pair on other DEXes and chains and the triangle legs through the chain's hubs
    /// ([`PoolStructure`], fed with the pools' tokens by [`CacheWarmer::structure`]'s
    /// owner). They come first, the strategy's picks fill the rest of
    /// `max_pairs_per_warm`. Without token metadata there is nothing to add.
    #[serde(default = "default_structure")]
    pub structure: bool,
}

impl Default for WarmerConfig {
    fn default() -> Self {
        Self {
            max_pairs_per_warm: 5,
            min_correlation_score: 0.3,
            async_warming: true,
            timeout_ms: 50,
            enabled: true,
            queue_capacity: 4096,
            concurrency: 16,
            structure: true,
        }
    }
}

fn default_structure() -> bool {
    true
}

/// An invalid warmer setting, naming the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid warmer config: {field} = {value} ({expected})")]
pub struct WarmerConfigError {
    /// The field (camelCase, as in JSON).
    pub field: &'static str,
    /// The rejected value.
    pub value: String,
    /// The accepted range.
    pub expected: &'static str,
}

impl WarmerConfig {
    /// Checks ranges; errors name the field.
    pub fn validate(&self) -> Result<(), WarmerConfigError> {
        let err = |field, value: String, expected| {
            Err(WarmerConfigError {
                field,
                value,
                expected,
            })
        };
        if !(1..=1000).contains(&self.max_pairs_per_warm) {
            return err(
                "maxPairsPerWarm",
                self.max_pairs_per_warm.to_string(),
                "an integer in 1..=1000",
            );
        }
        if !(0.0..=1.0).contains(&self.min_correlation_score) {
            return err(
                "minCorrelationScore",
                self.min_correlation_score.to_string(),
                "a number in [0, 1]",
            );
        }
        if !(1..=60_000).contains(&self.timeout_ms) {
            return err(
                "timeoutMs",
                self.timeout_ms.to_string(),
                "an integer in 1..=60000",
            );
        }
        if !(1..=1 << 20).contains(&self.queue_capacity) {
            return err(
                "queueCapacity",
                self.queue_capacity.to_string(),
                "an integer in 1..=1048576",
            );
        }
        if !(1..=1024).contains(&self.concurrency) {
            return err(
                "concurrency",
                self.concurrency.to_string(),
                "an integer in 1..=1024",
            );
        }
        Ok(())
    }
}

/// How a warm call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarmStatus {
    /// The warm ran to completion (possibly with nothing to warm).
    Completed,
    /// Queued for the async worker.
    Queued,
    /// A warm for this pair was already pending; counted as debounced.
    Debounced,
    /// Warming is disabled.
    Disabled,
    /// The L2 fetch failed (unreachable, command error).
    Failed,
    /// The L2 fetch exceeded `timeout_ms` and was cancelled.
    TimedOut,
}

/// Outcome of one warm (the original's `WarmingResult`, with a status).
#[derive(Clone, Debug, PartialEq)]
pub struct WarmingResult {
    /// Pairs selected: structural neighbours not in L1, then the strategy's picks (after
    /// the `max_pairs_per_warm` cap).
    pub pairs_attempted: usize,
    /// Pairs fetched from L2 and promoted into L1.
    pub pairs_warmed: usize,
    /// Selected pairs that were already in L1 (skipped, no L2 call for them).
    pub pairs_already_in_l1: usize,
    /// Selected pairs that L2 did not have (or held an unusable value).
    pub pairs_not_found: usize,
    /// Fetched pairs the L1 policy did not admit: a warm only takes a free or expired slot,
    /// never a live entry's.
    pub pairs_not_admitted: usize,
    /// Wall time of the warm.
    pub duration: Duration,
    /// The pair whose update triggered the warm.
    pub source_pair: PairId,
    /// Time of the trigger (ms, the tracker's time base).
    pub timestamp: u64,
    /// False if the L2 fetch failed or timed out.
    pub success: bool,
    /// How the call ended.
    pub status: WarmStatus,
}

impl WarmingResult {
    fn empty(source_pair: PairId, timestamp: u64, status: WarmStatus) -> Self {
        Self {
            pairs_attempted: 0,
            pairs_warmed: 0,
            pairs_already_in_l1: 0,
            pairs_not_found: 0,
            pairs_not_admitted: 0,
            duration: Duration::ZERO,
            source_pair,
            timestamp,
            success: !matches!(status, WarmStatus::Failed | WarmStatus::TimedOut),
            status,
        }
    }
}

/// What a warm would do, decided without I/O (see the module docs). A plan reused with
/// [`CacheWarmer::plan_into`] keeps its buffers, so planning allocates nothing.
#[derive(Clone, Debug)]
pub struct WarmPlan {
    /// The triggering pair.
    pub source: PairId,
    /// Time of the trigger (ms).
    pub now_ms: u64,
    /// Pairs selected, best first (after the cap).
    pub selected: Vec<PairId>,
    /// Selected pairs not in L1: what the L2 fetch asks for.
    pub to_fetch: Vec<PairId>,
    /// The strategy's explanation.
    pub reason: SelectionReason,
    /// The tracker's answer (scratch).
    correlations: Vec<PairCorrelation>,
    /// The strategy's answer (scratch).
    candidates: Vec<WarmingCandidate>,
    /// The pool structure's answer (scratch).
    neighbours: Vec<PairId>,
}

impl Default for WarmPlan {
    fn default() -> Self {
        Self {
            source: PairId::from_raw(0),
            now_ms: 0,
            selected: Vec::new(),
            to_fetch: Vec::new(),
            reason: SelectionReason::NothingFound { min_score: 0.0 },
            correlations: Vec::new(),
            candidates: Vec::new(),
            neighbours: Vec::new(),
        }
    }
}

impl WarmPlan {
    /// Selected pairs already in L1.
    pub fn already_in_l1(&self) -> usize {
        self.selected.len() - self.to_fetch.len()
    }
}

/// Cumulative warmer counters (`stats()`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct WarmerStats {
    /// Warms executed (queued ones count when they run).
    pub total_warming_ops: u64,
    /// Warms whose L2 fetch succeeded (or that had nothing to fetch).
    pub successful_ops: u64,
    /// Warms that failed or timed out.
    pub failed_ops: u64,
    /// Of the failed, those cut by the timeout.
    pub timeouts: u64,
    /// Pairs selected over all warms.
    pub total_pairs_attempted: u64,
    /// Pairs promoted into L1 over all warms.
    pub total_pairs_warmed: u64,
    /// Pairs skipped because already in L1.
    pub total_pairs_already_in_l1: u64,
    /// Pairs L2 did not have.
    pub total_pairs_not_found: u64,
    /// Fetched pairs the L1 policy did not admit (no free or expired slot).
    pub total_pairs_not_admitted: u64,
    /// L2 values that could not be decoded (counted in not found too).
    pub value_errors: u64,
    /// Mean wall time of an executed warm, ms.
    pub avg_duration_ms: f64,
    /// `successful_ops / total_warming_ops` as a fraction in [0, 1] (the original reported
    /// a percentage; the seed's health example divided pairs by ops — see `avg_pairs_per_op`).
    pub success_rate: f64,
    /// `total_pairs_warmed / total_warming_ops`.
    pub avg_pairs_per_op: f64,
    /// Jobs waiting in the async queue now.
    pub queue_depth: usize,
    /// Warms running now.
    pub in_flight: u64,
    /// Triggers ignored because a warm for the same pair was pending.
    pub debounced: u64,
    /// Queued jobs dropped because the queue was full (oldest first).
    pub dropped: u64,
    /// Triggers accepted into the queue.
    pub queued: u64,
    /// Refresh-ahead batches run (each one L2 round trip).
    pub refresh_batches: u64,
    /// Pairs renewed in L1 by refresh-ahead.
    pub pairs_refreshed: u64,
}

#[derive(Default)]
struct Counters {
    ops: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    timeouts: AtomicU64,
    attempted: AtomicU64,
    warmed: AtomicU64,
    in_l1: AtomicU64,
    not_found: AtomicU64,
    not_admitted: AtomicU64,
    value_errors: AtomicU64,
    duration_us: AtomicU64,
    debounced: AtomicU64,
    dropped: AtomicU64,
    queued: AtomicU64,
    refresh_batches: AtomicU64,
    refreshed: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn reset(&self) {
        for c in [
            &self.ops,
            &self.ok,
            &self.failed,
            &self.timeouts,
            &self.attempted,
            &self.warmed,
            &self.in_l1,
            &self.not_found,
            &self.not_admitted,
            &self.value_errors,
            &self.duration_us,
            &self.debounced,
            &self.dropped,
            &self.queued,
            &self.refresh_batches,
            &self.refreshed,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// Smoothed L1 hit rate from the cache's counters, so strategies react to the current
/// regime rather than the lifetime average. Refreshed every `REFRESH` plans: summing the
/// per-chain counters on every warm would cost more than the warm's own planning.
#[derive(Default)]
struct HitRate {
    last: Mutex<(u64, u64, Option<f64>)>,
    l1_size: AtomicU64,
    calls: AtomicU64,
}

impl HitRate {
    const ALPHA: f64 = 0.2;
    const REFRESH: u64 = 16;

    /// The smoothed hit rate and the L1 size, refreshed from `counts` (hits, misses,
    /// size) every `REFRESH` calls.
    fn current(&self, counts: impl FnOnce() -> (u64, u64, usize)) -> (f64, usize) {
        if self
            .calls
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(Self::REFRESH)
        {
            let (hits, misses, size) = counts();
            self.l1_size.store(size as u64, Ordering::Relaxed);
            return (self.update(hits, misses), size);
        }
        (
            self.last.lock().2.unwrap_or(0.0),
            self.l1_size.load(Ordering::Relaxed) as usize,
        )
    }

    fn update(&self, hits: u64, misses: u64) -> f64 {
        let mut last = self.last.lock();
        let (h0, m0, ewma) = *last;
        let (dh, dm) = (hits.saturating_sub(h0), misses.saturating_sub(m0));
        let rate = match (ewma, dh + dm) {
            (prev, 0) => prev.unwrap_or(0.0),
            (None, n) => dh as f64 / n as f64,
            (Some(prev), n) => prev + Self::ALPHA * (dh as f64 / n as f64 - prev),
        };
        *last = (hits, misses, Some(rate));
        rate
    }
}

/// Why a warm failed, as the `error_kind` of its log line (the `error_type` label values
/// of `warming_errors_total`).
#[derive(Clone, Copy)]
enum WarmFailure {
    Timeout,
    L2,
    Decode,
}

impl WarmFailure {
    /// The kind of a failed L2 fetch: its own timeout, or any other L2 failure.
    fn of(e: &CacheError) -> Self {
        match e {
            CacheError::L2(crate::cache::L2Error::Timeout { .. }) => Self::Timeout,
            _ => Self::L2,
        }
    }

    const fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::L2 => "l2",
            Self::Decode => "decode",
        }
    }
}

/// Logs warming failures: one line per kind per [`ErrorLog::INTERVAL`], naming the chain
/// and pair of the warm, the error kind and how many lines of that kind were suppressed, so
/// an L2 outage cannot flood the log.
struct ErrorLog(LogThrottle<3>);

impl ErrorLog {
    const INTERVAL: Duration = Duration::from_secs(10);

    fn new() -> Self {
        Self(LogThrottle::new(Self::INTERVAL))
    }

    fn report(
        &self,
        kind: WarmFailure,
        source: PairId,
        interner: &crate::pair::PairInterner,
        err: &dyn std::fmt::Display,
    ) {
        let Some(suppressed) = self.0.admit(kind as usize) else {
            return;
        };
        let key = interner.resolve(source);
        let chain = key
            .and_then(|k| interner.chain_name(k.chain))
            .unwrap_or("unknown");
        let pair = key.map_or_else(|| source.to_string(), |k| k.address.to_string());
        tracing::warn!(
            chain,
            pair,
            error_kind = kind.as_str(),
            error = %err,
            suppressed,
            "cache warming failed (warming degrades, reads and tracking continue)"
        );
    }
}

/// Milliseconds since the Unix epoch (the time base of price updates in `serve`).
pub(crate) fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Receives every finished warm (metrics, the health endpoint, shadow accounting).
pub trait WarmObserver: Send + Sync {
    /// Called once per executed warm.
    fn on_warm(&self, result: &WarmingResult);
    /// Called when a trigger was debounced.
    fn on_debounced(&self, _source: PairId) {}
    /// Called when a queued job was dropped to make room.
    fn on_dropped(&self, _dropped: PairId) {}
}

struct Inner<L: L2Store> {
    cache: Arc<HierarchicalCache<L>>,
    tracker: Arc<CorrelationTracker>,
    strategy: RwLock<Arc<dyn WarmingStrategy>>,
    config: RwLock<WarmerConfig>,
    counters: Counters,
    hit_rate: HitRate,
    errors: ErrorLog,
    queue: WarmQueue,
    worker_started: AtomicBool,
    shutdown: AtomicBool,
    /// Jobs taken off the queue and not finished yet.
    in_flight: AtomicU64,
    observer: RwLock<Option<Arc<dyn WarmObserver>>>,
    /// Pool structure (empty until someone describes pools to it).
    structure: Arc<PoolStructure>,
}

impl<L: L2Store> Drop for Inner<L> {
    fn drop(&mut self) {
        // Wake an idle worker so it notices the warmer is gone and exits.
        self.queue.wake.notify_one();
    }
}

/// Promotes predicted pairs from L2 into L1 (see the module docs). Cloning shares it.
pub struct CacheWarmer<L: L2Store> {
    inner: Arc<Inner<L>>,
}

impl<L: L2Store> Clone for CacheWarmer<L> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<L: L2Store> CacheWarmer<L> {
    /// A warmer over `cache`, asking `tracker` and `strategy`. Invalid config is an error.
    pub fn new(
        cache: Arc<HierarchicalCache<L>>,
        tracker: Arc<CorrelationTracker>,
        strategy: Arc<dyn WarmingStrategy>,
        config: WarmerConfig,
    ) -> Result<Self, WarmerConfigError> {
        config.validate()?;
        let interner = cache.interner();
        let structure = Arc::new(PoolStructure::for_interner(interner.clone()));
        let queue = WarmQueue::new(
            config.queue_capacity,
            interner.capacity(),
            interner.slot_mask(),
        );
        Ok(Self {
            inner: Arc::new(Inner {
                cache,
                tracker,
                strategy: RwLock::new(strategy),
                config: RwLock::new(config),
                counters: Counters::default(),
                hit_rate: HitRate::default(),
                errors: ErrorLog::new(),
                queue,
                worker_started: AtomicBool::new(false),
                shutdown: AtomicBool::new(false),
                in_flight: AtomicU64::new(0),
                observer: RwLock::new(None),
                structure,
            }),
        })
    }

    /// The cache being warmed.
    pub fn cache(&self) -> &Arc<HierarchicalCache<L>> {
        &self.inner.cache
    }

    /// The tracker consulted.
    pub fn tracker(&self) -> &Arc<CorrelationTracker> {
        &self.inner.tracker
    }

    /// The pool structure consulted when `structure` is on: describe pools to it
    /// ([`PoolStructure::observe`]) as their tokens become known (`serve` does, from the
    /// feed's `token0`/`token1`).
    pub fn structure(&self) -> &Arc<PoolStructure> {
        &self.inner.structure
    }

    /// The strategy in use.
    pub fn strategy(&self) -> Arc<dyn WarmingStrategy> {
        self.inner.strategy.read().clone()
    }

    /// Replaces the strategy at run time.
    pub fn set_strategy(&self, strategy: Arc<dyn WarmingStrategy>) {
        *self.inner.strategy.write() = strategy;
    }

    /// Current settings.
    pub fn config(&self) -> WarmerConfig {
        self.inner.config.read().clone()
    }

    /// Replaces the settings at run time (validated first; on error nothing changes).
    /// A new `queue_capacity` resizes the queue, keeping the newest jobs; jobs that no
    /// longer fit are dropped and counted as `dropped`.
    pub fn update_config(&self, config: WarmerConfig) -> Result<(), WarmerConfigError> {
        config.validate()?;
        let capacity = config.queue_capacity;
        *self.inner.config.write() = config;
        let dropped = self.inner.queue.resize(capacity);
        if !dropped.is_empty() {
            Counters::add(&self.inner.counters.dropped, dropped.len() as u64);
            if let Some(o) = self.inner.observer.read().clone() {
                dropped.iter().for_each(|&p| o.on_dropped(p));
            }
        }
        Ok(())
    }

    /// Turns warming on or off (the emergency switch).
    pub fn set_enabled(&self, enabled: bool) {
        self.inner.config.write().enabled = enabled;
    }

    /// Registers the observer told about every warm.
    pub fn set_observer(&self, observer: Arc<dyn WarmObserver>) {
        *self.inner.observer.write() = Some(observer);
    }

    /// Decides what a warm for `source` at `now_ms` would fetch, without any I/O.
    pub fn plan(&self, source: PairId, now_ms: u64) -> WarmPlan {
        let mut plan = WarmPlan::default();
        self.plan_into(source, now_ms, &mut plan);
        plan
    }

    /// [`CacheWarmer::plan`] into a reused plan (its previous content is replaced): no
    /// allocation once its buffers have grown to the strategy's candidate count.
    pub fn plan_into(&self, source: PairId, now_ms: u64, plan: &mut WarmPlan) {
        let (max_pairs, min_correlation_score, structure) = {
            let config = self.inner.config.read();
            (
                config.max_pairs_per_warm,
                config.min_correlation_score,
                config.structure,
            )
        };
        let strategy = self.strategy();
        let cache = &self.inner.cache;
        let (l1_hit_rate, l1_size) = self.inner.hit_rate.current(|| {
            let (hits, misses) = cache.l1_counts();
            (hits, misses, cache.l1_len())
        });
        let want = strategy.max_candidates().max(max_pairs);
        // The stricter of the two bars: `min_correlation_score` is the lowest score warmed
        // whatever the strategy (the original filtered candidates at it).
        let min_score = strategy.min_score().max(min_correlation_score);
        plan.source = source;
        plan.now_ms = now_ms;
        self.inner.tracker.pairs_to_warm_into(
            source,
            now_ms,
            want,
            min_score,
            &mut plan.correlations,
        );
        plan.reason = strategy.select_into(
            &WarmingContext {
                source,
                now_ms,
                l1_hit_rate,
                l1_size,
                l1_capacity: cache.l1_capacity(),
                correlations: &plan.correlations,
            },
            &mut plan.candidates,
        );
        plan.selected.clear();
        if structure {
            // Structural neighbours not in L1 first: they are known, not guessed.
            self.inner
                .structure
                .neighbours_into(source, &mut plan.neighbours);
            for &q in &plan.neighbours {
                if plan.selected.len() == max_pairs {
                    break;
                }
                if !cache.contains_l1(q) {
                    plan.selected.push(q);
                }
            }
        }
        for candidate in &plan.candidates {
            if plan.selected.len() == max_pairs {
                break;
            }
            if candidate.pair != source && !plan.selected.contains(&candidate.pair) {
                plan.selected.push(candidate.pair);
            }
        }
        plan.to_fetch.clear();
        plan.to_fetch.extend(
            plan.selected
                .iter()
                .copied()
                .filter(|&p| !cache.contains_l1(p)),
        );
    }

    /// Runs a planned warm: one bounded L2 batch fetch, promotion into L1, counters.
    pub async fn execute(&self, plan: &WarmPlan) -> WarmingResult {
        let started = Instant::now();
        let inner = &self.inner;
        let timeout = Duration::from_millis(inner.config.read().timeout_ms);
        let interner = inner.cache.interner();
        let mut result = WarmingResult::empty(plan.source, plan.now_ms, WarmStatus::Completed);
        result.pairs_attempted = plan.selected.len();
        result.pairs_already_in_l1 = plan.already_in_l1();
        if !plan.to_fetch.is_empty() {
            match tokio::time::timeout(timeout, inner.cache.fetch_for_warm(&plan.to_fetch)).await {
                Ok(Ok(fetch)) => {
                    result.pairs_warmed = fetch.promoted;
                    // A pair written meanwhile is in L1 with a newer price (or was, and
                    // L2 has it): not warmed, not an error.
                    result.pairs_already_in_l1 += fetch.superseded;
                    // A guess the L1 policy did not admit (no free or expired slot).
                    result.pairs_not_admitted = fetch.not_admitted;
                    result.pairs_not_found = fetch.not_found + fetch.undecodable;
                    if let Some(e) = &fetch.first_error {
                        Counters::add(&inner.counters.value_errors, fetch.undecodable as u64);
                        inner
                            .errors
                            .report(WarmFailure::Decode, plan.source, interner, e);
                    }
                }
                Ok(Err(e)) => {
                    let kind = WarmFailure::of(&e);
                    inner.errors.report(kind, plan.source, interner, &e);
                    result.status = match kind {
                        WarmFailure::Timeout => WarmStatus::TimedOut,
                        _ => WarmStatus::Failed,
                    };
                    result.success = false;
                }
                Err(_) => {
                    inner.errors.report(
                        WarmFailure::Timeout,
                        plan.source,
                        interner,
                        &format_args!(
                            "L2 fetch of {} pairs exceeded {timeout:?}",
                            plan.to_fetch.len()
                        ),
                    );
                    result.status = WarmStatus::TimedOut;
                    result.success = false;
                }
            }
        }
        result.duration = started.elapsed();
        self.record(&result);
        result
    }

    fn record(&self, result: &WarmingResult) {
        let c = &self.inner.counters;
        Counters::add(&c.ops, 1);
        if result.success {
            Counters::add(&c.ok, 1);
        } else {
            Counters::add(&c.failed, 1);
            if result.status == WarmStatus::TimedOut {
                Counters::add(&c.timeouts, 1);
            }
        }
        Counters::add(&c.attempted, result.pairs_attempted as u64);
        Counters::add(&c.warmed, result.pairs_warmed as u64);
        Counters::add(&c.in_l1, result.pairs_already_in_l1 as u64);
        Counters::add(&c.not_found, result.pairs_not_found as u64);
        Counters::add(&c.not_admitted, result.pairs_not_admitted as u64);
        Counters::add(&c.duration_us, result.duration.as_micros() as u64);
        if let Some(observer) = self.inner.observer.read().as_ref() {
            observer.on_warm(result);
        }
    }

    /// Warms for `source` now, whatever `async_warming` says (the worker's path, and the
    /// synchronous mode's). `now_ms` is in the tracker's time base.
    pub async fn warm_now(&self, source: PairId, now_ms: u64) -> WarmingResult {
        if !self.inner.config.read().enabled {
            return WarmingResult::empty(source, now_ms, WarmStatus::Disabled);
        }
        let plan = self.plan(source, now_ms);
        self.execute(&plan).await
    }

    /// Warms the pairs likely to be read after `source`'s update: queued when
    /// `async_warming` is on (returns at once with `Queued`/`Debounced`), inline otherwise.
    /// Uses the wall clock as "now"; see [`CacheWarmer::warm_for_pair_at`].
    pub async fn warm_for_pair(&self, source: PairId) -> WarmingResult {
        self.warm_for_pair_at(source, wall_clock_ms()).await
    }

    /// [`CacheWarmer::warm_for_pair`] with an explicit time (the update's timestamp).
    pub async fn warm_for_pair_at(&self, source: PairId, now_ms: u64) -> WarmingResult {
        let config = self.inner.config.read().clone();
        if !config.enabled {
            return WarmingResult::empty(source, now_ms, WarmStatus::Disabled);
        }
        if !config.async_warming {
            return self.warm_now(source, now_ms).await;
        }
        WarmingResult::empty(source, now_ms, self.enqueue(source, now_ms))
    }

    /// Queues a warm without awaiting anything (callable from synchronous code running
    /// inside a tokio runtime; the worker starts on first use).
    pub fn enqueue(&self, source: PairId, now_ms: u64) -> WarmStatus {
        let inner = &self.inner;
        let outcome = inner.queue.push(Job {
            pair: source,
            now_ms,
        });
        let observer = inner.observer.read().clone();
        match outcome {
            Enqueued::Debounced => {
                Counters::add(&inner.counters.debounced, 1);
                if let Some(o) = observer {
                    o.on_debounced(source);
                }
                return WarmStatus::Debounced;
            }
            Enqueued::DroppedOldest(dropped) => {
                Counters::add(&inner.counters.dropped, 1);
                if let Some(o) = observer {
                    o.on_dropped(dropped);
                }
            }
            Enqueued::Queued => {}
        }
        Counters::add(&inner.counters.queued, 1);
        self.ensure_worker();
        WarmStatus::Queued
    }

    fn ensure_worker(&self) {
        if self.inner.shutdown.load(Ordering::Acquire)
            || self.inner.worker_started.load(Ordering::Acquire)
            || self.inner.worker_started.swap(true, Ordering::AcqRel)
        {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                // The worker holds the warmer weakly: dropping every `CacheWarmer` frees it.
                let inner = Arc::downgrade(&self.inner);
                let wake = self.inner.queue.wake.clone();
                handle.spawn(run_worker(inner, wake));
            }
            Err(_) => {
                self.inner.worker_started.store(false, Ordering::Release);
                tracing::error!("async warming needs a tokio runtime; jobs stay queued");
            }
        }
    }

    /// Warms an explicit list of pairs (manual warming; no tracker, no strategy).
    pub async fn warm_pairs(&self, pairs: &[PairId]) -> WarmingResult {
        let now_ms = wall_clock_ms();
        let manual = PairId::from_raw(u32::MAX);
        if !self.inner.config.read().enabled || pairs.is_empty() {
            return WarmingResult::empty(manual, now_ms, WarmStatus::Disabled);
        }
        // Each pair once, in first-seen order.
        let mut seen = std::collections::HashSet::with_capacity(pairs.len());
        let selected: Vec<PairId> = pairs.iter().copied().filter(|&p| seen.insert(p)).collect();
        let to_fetch = selected
            .iter()
            .copied()
            .filter(|&p| !self.inner.cache.contains_l1(p))
            .collect();
        self.execute(&WarmPlan {
            source: manual,
            now_ms,
            selected,
            to_fetch,
            reason: SelectionReason::Manual,
            ..WarmPlan::default()
        })
        .await
    }

    /// Warm start: preloads an empty (or cold) L1 with the hottest pairs the tracker knows
    /// (e.g. right after [`CorrelationTracker::restore`]), at most the L1 capacity, in one
    /// batched L2 fetch. Call it once on start, after the snapshot is restored and before
    /// the detector reads. Warms take free L1 slots only, so it never displaces a value
    /// written meanwhile.
    pub async fn warm_start(&self, now_ms: u64) -> WarmingResult {
        let inner = &self.inner;
        let limit = inner
            .cache
            .l1_capacity()
            .saturating_sub(inner.cache.l1_len());
        let hottest = inner.tracker.hottest(limit, now_ms);
        if !inner.config.read().enabled || hottest.is_empty() {
            return WarmingResult::empty(PairId::from_raw(u32::MAX), now_ms, WarmStatus::Disabled);
        }
        let to_fetch = hottest
            .iter()
            .copied()
            .filter(|&p| !inner.cache.contains_l1(p))
            .collect();
        self.execute(&WarmPlan {
            source: PairId::from_raw(u32::MAX),
            now_ms,
            selected: hottest,
            to_fetch,
            reason: SelectionReason::Manual,
            ..WarmPlan::default()
        })
        .await
    }

    /// Waits until the queue is empty and no warm is running (tests, graceful shutdown),
    /// or `limit` passes. Returns whether it drained.
    pub async fn drain(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let idle =
                self.inner.queue.len() == 0 && self.inner.in_flight.load(Ordering::Acquire) == 0;
            if idle {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Stops the worker after the jobs it is running; queued jobs are left, and later
    /// triggers are queued but not run.
    pub fn shutdown(&self) {
        self.inner.shutdown.store(true, Ordering::Release);
        self.inner.queue.wake.notify_one();
    }

    /// Cumulative counters.
    pub fn stats(&self) -> WarmerStats {
        let c = &self.inner.counters;
        let ops = Counters::get(&c.ops);
        let ok = Counters::get(&c.ok);
        let warmed = Counters::get(&c.warmed);
        let per_op = |v: f64| if ops == 0 { 0.0 } else { v / ops as f64 };
        WarmerStats {
            total_warming_ops: ops,
            successful_ops: ok,
            failed_ops: Counters::get(&c.failed),
            timeouts: Counters::get(&c.timeouts),
            total_pairs_attempted: Counters::get(&c.attempted),
            total_pairs_warmed: warmed,
            total_pairs_already_in_l1: Counters::get(&c.in_l1),
            total_pairs_not_found: Counters::get(&c.not_found),
            total_pairs_not_admitted: Counters::get(&c.not_admitted),
            value_errors: Counters::get(&c.value_errors),
            avg_duration_ms: per_op(Counters::get(&c.duration_us) as f64 / 1000.0),
            success_rate: per_op(ok as f64),
            avg_pairs_per_op: per_op(warmed as f64),
            queue_depth: self.inner.queue.len(),
            in_flight: self.inner.in_flight.load(Ordering::Relaxed),
            debounced: Counters::get(&c.debounced),
            dropped: Counters::get(&c.dropped),
            queued: Counters::get(&c.queued),
            refresh_batches: Counters::get(&c.refresh_batches),
            pairs_refreshed: Counters::get(&c.refreshed),
        }
    }

    /// Zeroes the counters.
    pub fn reset_stats(&self) {
        self.inner.counters.reset();
    }

    /// Capacity of the async queue.
    pub fn queue_capacity(&self) -> usize {
        self.inner.queue.capacity()
    }
}

/// Resets `worker_started` however the worker ends (shutdown, warmer dropped, or the
/// runtime dropping the task), so a later trigger can start a new one.
struct WorkerGuard<L: L2Store>(Weak<Inner<L>>);

impl<L: L2Store> Drop for WorkerGuard<L> {
    fn drop(&mut self) {
        if let Some(inner) = self.0.upgrade() {
            inner.worker_started.store(false, Ordering::Release);
        }
    }
}

/// Marks a popped job finished however its task ends (a panicking strategy included), so
/// its pair can be queued again and `drain` does not wait for it forever.
struct JobGuard<L: L2Store> {
    inner: Arc<Inner<L>>,
    pair: PairId,
}

impl<L: L2Store> Drop for JobGuard<L> {
    fn drop(&mut self) {
        self.inner.queue.done(self.pair);
        self.inner.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn run_worker<L: L2Store>(weak: Weak<Inner<L>>, wake: Arc<tokio::sync::Notify>) {
    let _guard = WorkerGuard(weak.clone());
    let mut running = tokio::task::JoinSet::new();
    loop {
        let Some(inner) = weak.upgrade() else {
            break;
        };
        let stopping = inner.shutdown.load(Ordering::Acquire);
        if !stopping {
            let limit = inner.config.read().concurrency;
            while running.len() < limit {
                // Count before popping so `drain` never sees an empty queue and no job
                // in flight while a popped job is about to start.
                inner.in_flight.fetch_add(1, Ordering::AcqRel);
                let Some(job) = inner.queue.pop() else {
                    inner.in_flight.fetch_sub(1, Ordering::AcqRel);
                    break;
                };
                let guard = JobGuard {
                    inner: inner.clone(),
                    pair: job.pair,
                };
                running.spawn(async move {
                    let warmer = CacheWarmer {
                        inner: guard.inner.clone(),
                    };
                    warmer.warm_now(job.pair, job.now_ms).await;
                    drop(guard);
                });
            }
        }
        if stopping && running.is_empty() {
            break;
        }
        // Do not keep the warmer alive while waiting.
        drop(inner);
        if running.is_empty() {
            wake.notified().await;
        } else {
            tokio::select! {
                _ = running.join_next() => {}
                _ = wake.notified() => {}
            }
        }
    }
}
