//! [`WarmingMetrics`]: the registry, the per-chain handle table and the scrape-time sync.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::cache::ChainCacheStats;
use crate::pair::{ChainId, MAX_CHAINS};

use super::chain::{CacheLevel, ChainMetrics, WarmOutcome, saturating_i64};
use super::family::{Families, JsonFamily, JsonSample, MetricSpec, SeriesFamily};
use super::histogram::AtomicHistogram;
use super::spec;
use super::{MetricsError, validate_prefix};

/// The prefix used when none is configured (`METRICS_PREFIX` unset), as the original.
pub const DEFAULT_PREFIX: &str = "arbitrage_";

/// The `chain` label of the handle returned once more than [`MAX_CHAINS`] distinct chain
/// names have been seen: further chains share it, so the series count stays bounded and the
/// overflow is visible on dashboards instead of silently dropped.
pub const OVERFLOW_CHAIN: &str = "_overflow";

/// Why a stream entry was dead-lettered (the `reason` label of `stream_dead_letter_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadLetterReason {
    /// The entry could not be parsed.
    Malformed,
    /// The entry was delivered too many times without being acknowledged.
    MaxDeliveries,
    /// The entry was trimmed from the stream before it could be processed.
    Trimmed,
    /// Anything else.
    Other,
}

impl DeadLetterReason {
    /// Every reason, in handle order.
    pub const ALL: [Self; 4] = [
        Self::Malformed,
        Self::MaxDeliveries,
        Self::Trimmed,
        Self::Other,
    ];

    /// The `reason` label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::MaxDeliveries => "max_deliveries",
            Self::Trimmed => "trimmed",
            Self::Other => "other",
        }
    }

    const fn index(self) -> usize {
        match self {
            Self::Malformed => 0,
            Self::MaxDeliveries => 1,
            Self::Trimmed => 2,
            Self::Other => 3,
        }
    }
}

/// Handles of the `serve` command's stream consumer.
#[derive(Debug)]
pub struct StreamMetrics {
    /// `stream_entries_processed_total`.
    pub entries_processed: Counter,
    /// `stream_consumer_lag`.
    pub consumer_lag: Gauge,
    /// `stream_dead_letter_refused_total`.
    pub dead_letter_refused: Counter,
    dead_letter: [Counter; 4],
}

impl StreamMetrics {
    /// The `stream_dead_letter_total{reason}` handle.
    pub fn dead_letter(&self, reason: DeadLetterReason) -> &Counter {
        // `index()` is < 4 for every variant, so this never falls back.
        &self.dead_letter[reason.index()]
    }

    /// Sets `stream_consumer_lag`.
    pub fn set_consumer_lag(&self, entries: u64) {
        self.consumer_lag.set(saturating_i64(entries));
    }
}

/// One entry of the JSON catalogue.
pub(crate) struct CatalogEntry {
    /// Exposed name: prefix + spec name.
    pub(crate) name: String,
    pub(crate) spec: &'static MetricSpec,
    pub(crate) family: Box<dyn JsonFamily>,
}

/// Registers families with the prometheus-client registry and the JSON catalogue.
struct Builder<'a> {
    prefix: &'a str,
    registry: Registry,
    catalog: Vec<CatalogEntry>,
}

impl Builder<'_> {
    fn define<M>(&mut self, spec: &'static MetricSpec, new_metric: fn() -> M) -> SeriesFamily<M>
    where
        M: JsonSample
            + prometheus_client::encoding::EncodeMetric
            + prometheus_client::metrics::TypedMetric
            + Clone
            + Send
            + Sync
            + std::fmt::Debug
            + 'static,
    {
        let family = SeriesFamily::new(spec, new_metric);
        self.registry.register(
            format!("{}{}", self.prefix, spec.registry_name()),
            spec.help,
            family.clone(),
        );
        self.catalog.push(CatalogEntry {
            name: format!("{}{}", self.prefix, spec.name),
            spec,
            family: Box::new(family.clone()),
        });
        family
    }
}

/// The pairwarm metric set: a prometheus-client [`Registry`] plus cached handles.
///
/// Build one per process (it is `Send + Sync`; share it in an `Arc`), resolve a
/// [`ChainMetrics`] per chain once, and update its fields on hot paths. At scrape time call
/// [`sync_cache`](Self::sync_cache) and the gauge setters, then one of the encoders.
///
/// ```
/// use std::time::Duration;
/// use pairwarm::metrics::{ExportFormat, WarmOutcome, WarmingMetrics};
/// use pairwarm::pair::PairInterner;
///
/// let interner = PairInterner::new(1_000);
/// let eth = interner.chain_id("ethereum").unwrap();
/// let metrics = WarmingMetrics::new("arbitrage_").unwrap();
///
/// // Hot path: resolve the handles once, then plain atomic updates.
/// let chain = metrics.chain(eth, "ethereum");
/// chain.price_updates.inc();
/// chain.record_warm(WarmOutcome::Success, 3, Duration::from_micros(200));
///
/// let text = metrics.encode_prometheus().unwrap();
/// assert!(text.contains(r#"arbitrage_warming_operations_total{chain="ethereum",status="success"} 1"#));
/// assert!(text.contains(r#"arbitrage_warming_duration_ms_bucket{chain="ethereum",le="0.25"} 1"#));
/// assert_eq!(ExportFormat::negotiate(Some("application/openmetrics-text")), ExportFormat::OpenMetrics);
/// ```
pub struct WarmingMetrics {
    prefix: String,
    started: SystemTime,
    pub(crate) registry: Registry,
    pub(crate) catalog: Vec<CatalogEntry>,
    families: Families,
    /// Handles by creation order; `MAX_CHAINS` named chains, then the overflow handle.
    named: Box<[OnceLock<ChainMetrics>]>,
    /// `ChainId::index()` → index into `named`.
    by_id: Box<[OnceLock<u8>]>,
    /// Serialises handle creation (cold).
    create_lock: Mutex<()>,
    /// Serialises `sync_cache`, so two concurrent scrapes cannot both add one delta.
    sync_lock: Mutex<()>,
    pending: Gauge,
    cache_entries: [OnceLock<Gauge>; 2],
    cache_size_bytes: [OnceLock<Gauge>; 2],
    stream: OnceLock<StreamMetrics>,
    /// Unlabelled gauges and counters that appear once set (service state, tracker size).
    state: StateHandles,
}

/// Handles of the unlabelled state series; each appears on its first set.
#[derive(Default)]
struct StateHandles {
    l2_reachable: OnceLock<Gauge>,
    warming_enabled: OnceLock<Gauge>,
    shadow_mode: OnceLock<Gauge>,
    pairs_capacity: OnceLock<Gauge>,
    /// `correlation_pairs_evicted_total` and the tracker's count at the previous sync.
    pairs_evicted: OnceLock<(Counter, Mutex<u64>)>,
    /// The L1 coherence series and the counts at the previous sync.
    coherence: OnceLock<(CoherenceSeries, Mutex<[u64; 4]>)>,
}

/// `cache_l1_coherent` and the four coherence counters.
struct CoherenceSeries {
    live: Gauge,
    /// Invalidations, drops, re-fetches, resets.
    counters: [Counter; 4],
}

impl std::fmt::Debug for WarmingMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarmingMetrics")
            .field("prefix", &self.prefix)
            .field("chains", &self.chains().count())
            .finish_non_exhaustive()
    }
}

impl Default for WarmingMetrics {
    /// The metric set with [`DEFAULT_PREFIX`].
    fn default() -> Self {
        Self::build(DEFAULT_PREFIX)
    }
}

impl WarmingMetrics {
    /// A metric set whose names start with `prefix`, used verbatim (`"arbitrage_"` gives
    /// `arbitrage_price_updates_total`; `"arb"` would give `arbprice_updates_total`; `""`
    /// gives bare names).
    ///
    /// # Errors
    /// [`MetricsError::InvalidPrefix`] unless `prefix` is empty or matches
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    pub fn new(prefix: &str) -> Result<Self, MetricsError> {
        validate_prefix(prefix)?;
        Ok(Self::build(prefix))
    }

    fn build(prefix: &str) -> Self {
        let mut b = Builder {
            prefix,
            registry: Registry::default(),
            catalog: Vec::with_capacity(spec::ALL_METRICS.len()),
        };
        let families = Families {
            warming_operations: b.define(&spec::WARMING_OPERATIONS, Counter::default),
            pairs_warmed: b.define(&spec::WARMING_PAIRS_WARMED, Counter::default),
            warming_duration: b.define(
                &spec::WARMING_DURATION,
                AtomicHistogram::warming_duration_ms,
            ),
            debounced: b.define(&spec::WARMING_DEBOUNCED, Counter::default),
            dropped: b.define(&spec::WARMING_DROPPED, Counter::default),
            warming_errors: b.define(&spec::WARMING_ERRORS, Counter::default),
            pending: b.define(&spec::WARMING_PENDING, Gauge::default),
            shadow_predictions: b.define(&spec::WARMING_SHADOW_PREDICTIONS, Counter::default),
            shadow_hits: b.define(&spec::WARMING_SHADOW_HITS, Counter::default),
            warming_enabled: b.define(&spec::WARMING_ENABLED, Gauge::default),
            shadow_mode: b.define(&spec::WARMING_SHADOW_MODE, Gauge::default),
            tracking_duration: b.define(
                &spec::CORRELATION_TRACKING_DURATION,
                AtomicHistogram::tracking_duration_us,
            ),
            pairs_tracked: b.define(&spec::CORRELATION_PAIRS_TRACKED, Gauge::default),
            pairs_capacity: b.define(&spec::CORRELATION_PAIRS_CAPACITY, Gauge::default),
            pairs_evicted: b.define(&spec::CORRELATION_PAIRS_EVICTED, Counter::default),
            cache_hits: b.define(&spec::CACHE_HITS, Counter::default),
            cache_misses: b.define(&spec::CACHE_MISSES, Counter::default),
            cache_entries: b.define(&spec::CACHE_ENTRIES, Gauge::default),
            cache_size_bytes: b.define(&spec::CACHE_SIZE_BYTES, Gauge::default),
            l2_reachable: b.define(&spec::CACHE_L2_REACHABLE, Gauge::default),
            price_updates: b.define(&spec::PRICE_UPDATES, Counter::default),
            opportunities: b.define(&spec::DETECTOR_OPPORTUNITIES, Counter::default),
            stream_processed: b.define(&spec::STREAM_ENTRIES_PROCESSED, Counter::default),
            stream_dead_letter: b.define(&spec::STREAM_DEAD_LETTER, Counter::default),
            stream_dead_letter_reasons: b
                .define(&spec::STREAM_DEAD_LETTER_REASONS, Counter::default),
            stream_bad_updates: b.define(&spec::STREAM_BAD_UPDATES, Counter::default),
            stream_signature_failures: b.define(&spec::STREAM_SIGNATURE_FAILURES, Counter::default),
            stream_dead_letter_refused: b
                .define(&spec::STREAM_DEAD_LETTER_REFUSED, Counter::default),
            stream_lag: b.define(&spec::STREAM_CONSUMER_LAG, Gauge::default),
            l2_write_failures: b.define(&spec::CACHE_L2_WRITE_FAILURES, Counter::default),
            l1_coherent: b.define(&spec::CACHE_L1_COHERENT, Gauge::default),
            l1_invalidations: b.define(&spec::CACHE_L1_INVALIDATIONS, Counter::default),
            l1_invalidation_drops: b.define(&spec::CACHE_L1_INVALIDATION_DROPS, Counter::default),
            l1_refetches: b.define(&spec::CACHE_L1_REFETCHES, Counter::default),
            l1_coherence_resets: b.define(&spec::CACHE_L1_COHERENCE_RESETS, Counter::default),
        };
        debug_assert_eq!(b.catalog.len(), spec::ALL_METRICS.len());
        let pending = families.pending.get_or_create(&[]);
        Self {
            prefix: prefix.to_owned(),
            started: SystemTime::now(),
            registry: b.registry,
            catalog: b.catalog,
            families,
            named: (0..=MAX_CHAINS).map(|_| OnceLock::new()).collect(),
            by_id: (0..MAX_CHAINS).map(|_| OnceLock::new()).collect(),
            create_lock: Mutex::new(()),
            sync_lock: Mutex::new(()),
            pending,
            cache_entries: [OnceLock::new(), OnceLock::new()],
            cache_size_bytes: [OnceLock::new(), OnceLock::new()],
            stream: OnceLock::new(),
            state: StateHandles::default(),
        }
    }

    /// The prefix every name starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// When this metric set was created (reported in the JSON metadata).
    pub fn started_at(&self) -> SystemTime {
        self.started
    }

    /// The prometheus-client registry, e.g. for another encoder (protobuf).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The handles of `chain`, created on first use with `name` as the `chain` label.
    ///
    /// After the first call for an id this is two atomic loads: callers may call it per
    /// event. `name` is only read the first time an id is seen, so ids must all come from
    /// one [`PairInterner`](crate::pair::PairInterner). Two ids with the same name share
    /// one set of series.
    #[inline]
    pub fn chain(&self, chain: ChainId, name: &str) -> &ChainMetrics {
        match self.chain_if_registered(chain) {
            Some(handles) => handles,
            None => self.register_chain(chain, name),
        }
    }

    /// The handles of `chain` if [`chain`](Self::chain) has already been called for it.
    #[inline]
    pub fn chain_if_registered(&self, chain: ChainId) -> Option<&ChainMetrics> {
        let index = *self.by_id.get(chain.index())?.get()?;
        self.named.get(usize::from(index))?.get()
    }

    #[cold]
    fn register_chain(&self, chain: ChainId, name: &str) -> &ChainMetrics {
        let index = self.named_index(name);
        let index = match self.by_id.get(chain.index()) {
            // If another thread registered this id first, its choice stands.
            Some(slot) => usize::from(*slot.get_or_init(|| index as u8)),
            None => index,
        };
        self.named_at(index)
    }

    /// The handles of the chain called `name`, created on first use. A slow path (a short
    /// lock and a scan of at most [`MAX_CHAINS`] names): hot paths use [`chain`](Self::chain).
    pub fn chain_by_name(&self, name: &str) -> &ChainMetrics {
        let index = self.named_index(name);
        self.named_at(index)
    }

    /// All chains registered so far (the overflow handle last, if used).
    pub fn chains(&self) -> impl Iterator<Item = &ChainMetrics> {
        self.named.iter().filter_map(OnceLock::get)
    }

    /// Index in `named` of the chain called `name`, creating its handles if new.
    fn named_index(&self, name: &str) -> usize {
        let _guard = self.create_lock.lock();
        for (index, cell) in self.named.iter().enumerate().take(MAX_CHAINS) {
            match cell.get() {
                Some(handles) if handles.name() == name => return index,
                Some(_) => {}
                None => {
                    let _ = cell.set(ChainMetrics::build(&self.families, name, index));
                    return index;
                }
            }
        }
        if self.named[MAX_CHAINS].get().is_none() {
            tracing::warn!(
                chain = name,
                limit = MAX_CHAINS,
                "more distinct chains than the metrics table holds; counting the rest as chain=\"{OVERFLOW_CHAIN}\""
            );
        }
        MAX_CHAINS
    }

    fn named_at(&self, index: usize) -> &ChainMetrics {
        let cell = &self.named[index.min(MAX_CHAINS)];
        match cell.get() {
            Some(handles) => handles,
            None => {
                cell.get_or_init(|| ChainMetrics::build(&self.families, OVERFLOW_CHAIN, MAX_CHAINS))
            }
        }
    }

    /// Records a finished warm on `chain`; see [`ChainMetrics::record_warm`].
    pub fn record_warm(
        &self,
        chain: ChainId,
        name: &str,
        outcome: WarmOutcome,
        pairs_warmed: usize,
        duration: Duration,
    ) {
        self.chain(chain, name)
            .record_warm(outcome, pairs_warmed, duration);
    }

    /// `warming_pending_operations`, for callers that `inc`/`dec` it.
    pub fn pending(&self) -> &Gauge {
        &self.pending
    }

    /// `cache_l2_write_failures_total` (the series appears on the first call: a program
    /// whose writes never fail, or that never writes through, exports none).
    pub fn l2_write_failures(&self) -> Counter {
        self.families.l2_write_failures.get_or_create(&[])
    }

    /// Sets `warming_pending_operations`.
    pub fn set_pending(&self, operations: usize) {
        self.pending.set(saturating_i64(operations as u64));
    }

    /// Sets `cache_entries{cache_level}` (the series appears on the first call).
    pub fn set_cache_entries(&self, level: CacheLevel, entries: usize) {
        self.level_gauge(&self.cache_entries, &self.families.cache_entries, level)
            .set(saturating_i64(entries as u64));
    }

    /// Sets `cache_size_bytes{cache_level}` to a caller-supplied estimate (e.g. entries ×
    /// the L1 policy's bytes per entry). The series appears on the first call, so nothing
    /// is exported for a level nobody can estimate — the original exported a constant 0.
    pub fn set_cache_size_bytes(&self, level: CacheLevel, bytes: u64) {
        self.level_gauge(
            &self.cache_size_bytes,
            &self.families.cache_size_bytes,
            level,
        )
        .set(saturating_i64(bytes));
    }

    fn level_gauge<'a>(
        &self,
        cells: &'a [OnceLock<Gauge>; 2],
        family: &SeriesFamily<Gauge>,
        level: CacheLevel,
    ) -> &'a Gauge {
        // `index()` is 0 or 1.
        cells[level.index()].get_or_init(|| family.get_or_create(&[level.as_str()]))
    }

    /// The stream consumer's handles; the series appear on the first call, so a library
    /// user that never runs `serve` exports no stream metrics.
    pub fn stream(&self) -> &StreamMetrics {
        self.stream.get_or_init(|| StreamMetrics {
            entries_processed: self.families.stream_processed.get_or_create(&[]),
            consumer_lag: self.families.stream_lag.get_or_create(&[]),
            dead_letter_refused: self.families.stream_dead_letter_refused.get_or_create(&[]),
            dead_letter: DeadLetterReason::ALL.map(|r| {
                self.families
                    .stream_dead_letter
                    .get_or_create(&[r.as_str()])
            }),
        })
    }

    /// `stream_dead_letter_reasons_total{reason}`: the fine reason (a fixed label such as
    /// `bad_json` or `unsigned`; never input text, so the series stay few).
    pub fn stream_dead_letter_reason(&self, reason: &'static str) -> Counter {
        self.families
            .stream_dead_letter_reasons
            .get_or_create(&[reason])
    }

    /// `stream_bad_updates_total{reason}` (fixed labels, as above).
    pub fn stream_bad_updates(&self, reason: &'static str) -> Counter {
        self.families.stream_bad_updates.get_or_create(&[reason])
    }

    /// `stream_signature_failures_total{reason}` (`unsigned`, `bad_signature`).
    pub fn stream_signature_failures(&self, reason: &'static str) -> Counter {
        self.families
            .stream_signature_failures
            .get_or_create(&[reason])
    }

    /// Sets `cache_l2_reachable` (1 or 0) from the latest L2 health check. Leave it unset
    /// when there is no L2, so no alert reads a fake value.
    pub fn set_l2_reachable(&self, reachable: bool) {
        unlabelled(&self.state.l2_reachable, &self.families.l2_reachable).set(i64::from(reachable));
    }

    /// Sets `warming_enabled` (the master switch) and `warming_shadow_mode`.
    pub fn set_rollout(&self, enabled: bool, shadow_mode: bool) {
        unlabelled(&self.state.warming_enabled, &self.families.warming_enabled)
            .set(i64::from(enabled));
        unlabelled(&self.state.shadow_mode, &self.families.shadow_mode).set(i64::from(shadow_mode));
    }

    /// Brings `cache_l1_coherent` and the L1 coherence counters
    /// (`cache_l1_invalidations_total`, `cache_l1_invalidation_drops_total`,
    /// `cache_l1_refetches_total`, `cache_l1_coherence_resets_total`) up to the cache's
    /// [`CoherenceStats`](crate::cache::CoherenceStats); call it at scrape time (the series
    /// appear on the first call). Counters advance by the increase since the previous sync.
    pub fn sync_coherence(&self, stats: &crate::cache::CoherenceStats) {
        let (series, last) = self.state.coherence.get_or_init(|| {
            let f = &self.families;
            (
                CoherenceSeries {
                    live: f.l1_coherent.get_or_create(&[]),
                    counters: [
                        f.l1_invalidations.get_or_create(&[]),
                        f.l1_invalidation_drops.get_or_create(&[]),
                        f.l1_refetches.get_or_create(&[]),
                        f.l1_coherence_resets.get_or_create(&[]),
                    ],
                },
                Mutex::new([0; 4]),
            )
        });
        series.live.set(i64::from(stats.live));
        let now = [
            stats.invalidations,
            stats.dropped,
            stats.refetched,
            stats.resets,
        ];
        let mut last = last.lock();
        for ((counter, prev), value) in series.counters.iter().zip(last.iter_mut()).zip(now) {
            let delta = value.saturating_sub(*prev);
            if delta > 0 {
                counter.inc_by(delta);
            }
            *prev = value;
        }
    }

    /// Brings `correlation_pairs_capacity` and `correlation_pairs_evicted_total` up to the
    /// tracker's own figures (`CorrelationTracker::stats()`); call it at scrape time. The
    /// counter advances by the increase since the previous sync (the whole value if the
    /// tracker's count went down, as [`sync_cache`](Self::sync_cache) does).
    pub fn sync_tracker(&self, stats: &crate::tracker::TrackerStats) {
        unlabelled(&self.state.pairs_capacity, &self.families.pairs_capacity)
            .set(saturating_i64(stats.capacity as u64));
        let (counter, last) = self.state.pairs_evicted.get_or_init(|| {
            (
                self.families.pairs_evicted.get_or_create(&[]),
                Mutex::new(0),
            )
        });
        let mut last = last.lock();
        let delta = if stats.evictions >= *last {
            stats.evictions - *last
        } else {
            stats.evictions
        };
        if delta > 0 {
            counter.inc_by(delta);
        }
        *last = stats.evictions;
    }

    /// Brings `cache_hits_total` / `cache_misses_total` up to the cache's own cumulative
    /// counters (`HierarchicalCache::stats_by_chain()`); call it at scrape time.
    ///
    /// Each counter advances by the increase since the previous sync. If a source value went
    /// down, the cache was reset (`reset_stats`), and the whole new value is added, so the
    /// exported counters stay monotonic (the original compared against one global previous
    /// value for all chains and dropped decreases). Chains are matched by name.
    ///
    /// Limit: a reset is only visible as a decrease. If, between two syncs, the cache is reset
    /// and counts back up to at least the previous value, the counts below that value are
    /// lost (Prometheus' own `rate()` has the same blind spot). Syncing at every scrape keeps
    /// the window short; a reset generation in `ChainCacheStats` would close it.
    pub fn sync_cache(&self, per_chain: &[ChainCacheStats]) {
        let _guard = self.sync_lock.lock();
        for stats in per_chain {
            self.chain_by_name(&stats.chain).sync_cache([
                stats.l1_hits,
                stats.l1_misses,
                stats.l2_hits,
                stats.l2_misses,
            ]);
        }
    }
}

/// The handle of an unlabelled series, created on first use.
fn unlabelled<'a, M: Clone>(cell: &'a OnceLock<M>, family: &SeriesFamily<M>) -> &'a M {
    cell.get_or_init(|| family.get_or_create(&[]))
}
