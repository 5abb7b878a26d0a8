//! Trace replay: measure what warming does to the L1 hit rate, against baselines and an
//! oracle, with the real components on a virtual clock.
//!
//! Every run gets a fresh [`HierarchicalCache`](pairwarm::cache::HierarchicalCache) (on a
//! [`MemoryL2`](pairwarm::cache::MemoryL2) that holds every pair of the trace, as Redis holds
//! every price), a fresh [`CorrelationTracker`](pairwarm::tracker::CorrelationTracker) and,
//! for a strategy, a real [`CacheWarmer`](pairwarm::warmer::CacheWarmer) whose synchronous
//! [`CacheWarmer::plan`](pairwarm::warmer::CacheWarmer::plan) decides what to
//! fetch. Nothing is re-implemented: the simulator only plays the parts a real deployment
//! would — the detector's reads, the price feed's writes, and the network:
//!
//! - an update (`u`) writes the price through to L1 and is recorded in the tracker; then the
//!   warmer plans a warm for that pair and its fetched pairs **land in L1 `l2_latency_us`
//!   later** (a warm issued now cannot serve a read that comes before it lands). As in
//!   `serve` ([`HierarchicalCache::fetch_for_warm`](pairwarm::cache::HierarchicalCache::fetch_for_warm)),
//!   a guarded warm skips the pairs L1 could not admit now (no L1 TTL): they cost no round trip;
//! - a read (`r`) is an L1 lookup: a hit, or a miss that loads the pair into L1 on demand
//!   (one L2 round trip, as the detector would). A miss for a pair whose warm is still in
//!   flight is counted as `late`;
//! - with an L1 TTL, entries expire that long after they were written, loaded or warmed, so
//!   warming also works as refresh-ahead.
//!
//! Baselines in the same invocation: `none` (no warming), `oracle` (after each update, warm
//! the `K` pairs whose next access is a read soonest after the warm can land, and that are
//! not in L1 — an upper reference with the same latency), `belady` (the optimal offline
//! eviction with no warming: the ceiling of what the eviction policy alone can give), and
//! `perfect-lfu` (L1 holds the pools read most over the trace: what knowing each pool's
//! read rate, but not the order of the reads, is worth).
//!
//! Runs are independent and run in parallel on scoped threads; results are deterministic
//! (fixed hashers, no wall-clock inputs except the reported `wall_ms`).

//!
//! ## This crate
//!
//! `pairwarm-sim` is the measuring side of pairwarm, kept out of the core an embedding
//! detector links: [`trace`] (the trace and pairs file formats, and the synthetic DEX
//! workload generator), the replay above ([`simulate`]), and with the `plot` feature
//! [`plot`](crate#features) (hit rate over time as SVG/PNG; plotters and its font
//! rasteriser are the heavy part).
//!
//! ## Features
//!
//! - `plot` (off by default): `plot::draw`.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

mod belady;
mod oracle;
mod perfect_lfu;
#[cfg(feature = "plot")]
pub mod plot;
mod replay;
mod report;
mod structure;
pub mod trace;

// The core crate's modules under the paths this crate's modules used when they lived in
// `pairwarm` (`crate::cache`, `crate::pair`, ...).
use pairwarm::{cache, pair, strategy, tracker, warmer};

pub use report::{ResultRow, SimReport, TimelinePoint, TraceSummary};

use std::sync::atomic::{AtomicU64, Ordering};

use crate::cache::L1Policy;
use crate::strategy::{StrategyConfig, StrategyConfigError};
use crate::trace::{Trace, TraceEvent};
use crate::tracker::{Signal, TrackerConfig};
use crate::warmer::{RefreshConfig, WarmerConfig};

/// What one run warms with.
#[derive(Clone, Debug, PartialEq)]
pub enum RunKind {
    /// No warming: the baseline.
    None,
    /// Perfect knowledge of the future reads (upper reference).
    Oracle,
    /// Optimal offline eviction, no warming (ceiling of the policy lever).
    Belady,
    /// The pools read most over the trace held, no warming (`perfect-lfu`): what knowing
    /// each pool's read rate, but not the order of the reads, gives; the optimum were the
    /// reads independent draws. A reference, not a ceiling.
    PerfectLfu,
    /// Structure-aware candidates from the pairs file ([`SimConfig::pairs`]): after an
    /// update, the same token pair on the chain's other DEXes and on other chains, then the
    /// triangle legs through the chain's two biggest hub tokens; at most
    /// `max_pairs_per_warm` of them not in L1. Warmed with the product's admission.
    Structure,
    /// A real strategy fed by a real tracker learning from `learn`.
    Strategy {
        /// The strategy and its settings.
        config: StrategyConfig,
        /// What the tracker learns from.
        learn: Learn,
    },
}

/// What a strategy run's tracker learns from (the run name's `:updates`, `:reads` or
/// `:misses` suffix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Learn {
    /// Update co-occurrence ([`Signal::Updates`]): pools updated together.
    Updates,
    /// Every read after an update ([`Signal::Reads`]).
    Reads,
    /// [`Signal::Reads`] fed only the reads a warm could have served: those that missed
    /// L1 and those that took a warmed entry (its first read). A read that hit an entry
    /// the cache kept anyway needs no warm; counting it dilutes the pairs that do, and
    /// the credits each update may give (`max_credits_per_update`) go to them.
    Misses,
}

impl Learn {
    /// The tracker's signal for this kind of learning.
    pub fn signal(self) -> Signal {
        match self {
            Learn::Updates => Signal::Updates,
            Learn::Reads | Learn::Misses => Signal::Reads,
        }
    }
}

/// How a run's warms enter L1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Admission {
    /// The product's ([`HierarchicalCache::promote`](pairwarm::cache::HierarchicalCache::promote)):
    /// a warm is a guess, held in the policy's speculative quota and never displacing a
    /// protected entry (LRU: only a free or expired slot).
    #[default]
    Guarded,
    /// The original's: the fetched value is `cache.set` like any write (most recent in LRU,
    /// whatever it displaces), and its L1 check (`cache.get`) touches the selected pairs
    /// already in L1. The baseline `--l1-policy lru --strategy topn`.
    Original,
}

/// A named run of the comparison (`topn`, `topn:reads`, `oracle`, ...).
#[derive(Clone, Debug, PartialEq)]
pub struct RunSpec {
    /// Name in reports.
    pub name: String,
    /// What it does.
    pub kind: RunKind,
    /// Refresh-ahead alongside (only acts with an L1 TTL): batches of expiring, recently
    /// read entries re-fetched from L2, each batch one round trip landing `l2_latency_us`
    /// later.
    pub refresh: Option<RefreshConfig>,
    /// Warm start at the simulated restart ([`SimConfig::cold_start_s`]): L1 is preloaded
    /// with the tracker's hottest pairs in one round trip.
    pub warm_start: bool,
    /// How warms enter L1.
    pub admission: Admission,
    /// A strategy also warms the updated pool's structural neighbours, when the pairs file
    /// ([`SimConfig::pairs`]) gives the pools' tokens (`serve` learns them from the feed):
    /// on for `default`, off for the named strategies (the original's did not).
    pub structure: bool,
}

/// Errors of simulation setup.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A strategy name or its config is invalid.
    #[error("strategy {name:?}: {reason}")]
    Strategy {
        /// The name as given.
        name: String,
        /// What was wrong.
        reason: String,
    },
    /// An L1 size is zero.
    #[error("L1 size must be at least 1 entry")]
    BadL1Size,
    /// The warmer configuration is invalid.
    #[error(transparent)]
    Warmer(#[from] crate::warmer::WarmerConfigError),
    /// The tracker configuration is invalid.
    #[error("tracker config: {0}")]
    Tracker(String),
    /// The trace has more distinct pairs than one run can intern.
    #[error("trace has {0} distinct pairs; at most 16,777,216 are supported")]
    TooManyPairs(usize),
}

impl RunSpec {
    /// Parses a run name: `none`, `oracle`, `belady`, `perfect-lfu`, or a strategy (`topn`, `threshold`,
    /// `adaptive`, `timebased`) optionally suffixed `:reads` to make its tracker learn from
    /// reads after updates instead of update co-occurrence; a strategy warms as the
    /// original did ([`Admission::Original`]) unless suffixed `+guarded` (the product's
    /// admission); any of them but `belady` and `perfect-lfu` suffixed `+refresh` adds refresh-ahead; `refresh` is `none+refresh`; `default` is
    /// what `serve` runs by default ([`RunSpec::production_default`]). `json` is the strategy
    /// config (camelCase, as `WARMING_STRATEGY_CONFIG`), applied to strategies only.
    pub fn parse(name: &str, json: Option<&str>) -> Result<Self, SimError> {
        if name == "default" {
            return Ok(Self::production_default());
        }
        // `default:updates` and the like: the production default learning from another
        // signal (`default` alone is what `serve` runs: `:misses`, since round 11).
        if let Some(signal) = name.strip_prefix("default:") {
            let mut spec = Self::production_default();
            if let RunKind::Strategy { learn, .. } = &mut spec.kind {
                *learn = Self::learn(name, signal)?;
            }
            spec.name = name.to_owned();
            return Ok(spec);
        }
        if name == "refresh" {
            return Ok(Self {
                name: name.to_owned(),
                kind: RunKind::None,
                refresh: Some(RefreshConfig::default()),
                warm_start: false,
                admission: Admission::Guarded,
                structure: false,
            });
        }
        if name == "warmstart" {
            return Ok(Self {
                name: name.to_owned(),
                kind: RunKind::None,
                refresh: None,
                warm_start: true,
                admission: Admission::Guarded,
                structure: false,
            });
        }
        if let Some(base) = name.strip_suffix("+refresh") {
            if base == "belady" || base == "perfect-lfu" {
                return Err(SimError::Strategy {
                    name: name.to_owned(),
                    reason: format!("{base} models eviction only; it cannot refresh"),
                });
            }
            let mut spec = Self::parse(base, json)?;
            spec.name = name.to_owned();
            spec.refresh = Some(RefreshConfig::default());
            return Ok(spec);
        }
        if let Some(base) = name.strip_suffix("+guarded") {
            let mut spec = Self::parse(base, json)?;
            if !matches!(spec.kind, RunKind::Strategy { .. }) {
                return Err(SimError::Strategy {
                    name: name.to_owned(),
                    reason: "only a strategy's warms can be guarded".into(),
                });
            }
            spec.name = name.to_owned();
            spec.admission = Admission::Guarded;
            return Ok(spec);
        }
        let kind = match name {
            "none" => RunKind::None,
            "oracle" => RunKind::Oracle,
            "structure" => RunKind::Structure,
            "belady" => RunKind::Belady,
            "perfect-lfu" => RunKind::PerfectLfu,
            other => {
                let (base, learn) = match other.split_once(':') {
                    None => (other, Learn::Updates),
                    Some((base, signal)) => (base, Self::learn(name, signal)?),
                };
                let config =
                    StrategyConfig::parse(base, json).map_err(|e: StrategyConfigError| {
                        SimError::Strategy {
                            name: name.to_owned(),
                            reason: e.to_string(),
                        }
                    })?;
                RunKind::Strategy { config, learn }
            }
        };
        let admission = if matches!(kind, RunKind::Strategy { .. }) {
            Admission::Original
        } else {
            Admission::Guarded
        };
        Ok(Self {
            name: name.to_owned(),
            kind,
            refresh: None,
            warm_start: false,
            admission,
            structure: false,
        })
    }

    /// The learning a `:signal` suffix names.
    fn learn(name: &str, signal: &str) -> Result<Learn, SimError> {
        match signal {
            "updates" => Ok(Learn::Updates),
            "reads" => Ok(Learn::Reads),
            "misses" => Ok(Learn::Misses),
            _ => Err(SimError::Strategy {
                name: name.to_owned(),
                reason: format!(
                    "unknown signal {signal:?}: expected `updates`, `reads` or `misses`"
                ),
            }),
        }
    }

    /// What `serve` runs by default: its default strategy (`topn`, top 5, min score 0.3,
    /// learning from the cache's misses, `WARMING_LEARN_FROM=misses`, since round 11)
    /// after the updated pool's structural neighbours (when
    /// the pools' tokens are known: the feed's `token0`/`token1` in `serve`, `--pairs`
    /// here), with warms admitted as guesses (the speculation gate), refresh-ahead (which
    /// acts only when L1 has a TTL, `CACHE_L1_TTL_MS`) and warm start after a restart.
    pub fn production_default() -> Self {
        Self {
            name: "default".into(),
            kind: RunKind::Strategy {
                config: StrategyConfig::default(),
                learn: Learn::Misses,
            },
            refresh: Some(RefreshConfig::default()),
            warm_start: true,
            admission: Admission::Guarded,
            structure: true,
        }
    }
}

/// Settings of a simulation.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// L1 bounds (entries) to compare.
    pub l1_sizes: Vec<usize>,
    /// Runs to compare at each L1 size (`none` is added if missing: gains need it).
    pub runs: Vec<RunSpec>,
    /// Time for a warmed entry to land in L1 (an L2 round trip), µs.
    pub l2_latency_us: u64,
    /// L1 entry lifetime, ms (`None`: entries live until evicted).
    pub l1_ttl_ms: Option<u64>,
    /// L1 eviction policy of every run.
    pub l1_policy: L1Policy,
    /// Pairs the oracle warms per update.
    pub oracle_k: usize,
    /// Reads in the first `warmup_s` seconds of the trace are not counted.
    pub warmup_s: f64,
    /// Tracker settings of every strategy run (signal overridden per run).
    pub tracker: TrackerConfig,
    /// Warmer settings of every strategy run.
    pub warmer: WarmerConfig,
    /// Points of the hit-rate-over-time series.
    pub timeline_points: usize,
    /// Worker threads (0: available parallelism).
    pub threads: usize,
    /// Simulate a restart this many seconds into the trace: L1 is emptied (the tracker keeps
    /// what it learned, as restored from a snapshot), and each row reports its hit rate over
    /// the following `cold_window_s`.
    pub cold_start_s: Option<f64>,
    /// Length of the window after the restart, seconds (default 60).
    pub cold_window_s: f64,
    /// Whether the simulated restart resumes the L1 policy's learned window (as `serve`
    /// does when it restores a snapshot, `<PAIRWARM_SNAPSHOT>.policy`); `false` models a
    /// restart without it (a new tuner at LRU). Default `true`.
    pub cold_start_resumes_policy: bool,
    /// The pairs file's descriptions (`--pairs`), for `structure` runs.
    pub pairs: Vec<trace::PairInfo>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            l1_sizes: vec![128],
            runs: Vec::new(),
            l2_latency_us: 250,
            l1_ttl_ms: None,
            l1_policy: L1Policy::Default,
            oracle_k: 10,
            warmup_s: 0.0,
            tracker: TrackerConfig::default(),
            warmer: WarmerConfig::default(),
            timeline_points: 100,
            threads: 0,
            cold_start_s: None,
            cold_window_s: 60.0,
            cold_start_resumes_policy: true,
            pairs: Vec::new(),
        }
    }
}

/// Raw counts of one run, before comparison with the baselines.
#[derive(Clone, Debug, Default)]
pub(crate) struct RunCounts {
    pub(crate) reads: u64,
    pub(crate) hits: u64,
    pub(crate) late: u64,
    pub(crate) warms: u64,
    pub(crate) warmed_entries: u64,
    pub(crate) warmed_read: u64,
    pub(crate) pollution: u64,
    pub(crate) l2_round_trips: u64,
    pub(crate) refreshes: u64,
    pub(crate) refreshed_pairs: u64,
    pub(crate) cold_reads: u64,
    pub(crate) cold_hits: u64,
    pub(crate) wall_ms: f64,
    /// One bit per counted read: hit (1) or miss (0), for coverage against `none`.
    pub(crate) hit_bits: Vec<u64>,
    pub(crate) timeline: Vec<(u64, u64)>,
}

impl RunCounts {
    pub(crate) fn new(timeline_points: usize) -> Self {
        Self {
            timeline: vec![(0, 0); timeline_points.max(1)],
            ..Self::default()
        }
    }

    /// Records a counted read at trace position `ts_us`.
    pub(crate) fn read(&mut self, hit: bool, bucket: usize) {
        let ix = self.reads as usize;
        if ix / 64 >= self.hit_bits.len() {
            self.hit_bits.push(0);
        }
        if hit {
            self.hits += 1;
            self.hit_bits[ix / 64] |= 1 << (ix % 64);
        }
        self.reads += 1;
        if let Some(point) = self.timeline.get_mut(bucket) {
            point.1 += 1;
            if hit {
                point.0 += 1;
            }
        }
    }
}

/// Replays the trace through an offline reference (`belady`, `perfect-lfu`): for each
/// event, `access(index, event)` updates the reference's state and returns whether the
/// pair was in L1 *before* it (`None`: not a pair of this trace, not counted); a counted
/// read is a hit if so, else a miss and an L2 round trip. No warming, no TTL.
pub(crate) fn replay_offline(
    prepared: &Prepared<'_>,
    config: &SimConfig,
    progress: &(dyn Fn(u64) + Sync),
    mut access: impl FnMut(usize, &TraceEvent) -> Option<bool>,
) -> RunCounts {
    const PROGRESS_EVERY: usize = 1 << 14;
    let started = std::time::Instant::now();
    let events = &prepared.trace.events;
    let mut counts = RunCounts::new(config.timeline_points);
    for (i, e) in events.iter().enumerate() {
        if i % PROGRESS_EVERY == PROGRESS_EVERY - 1 {
            progress(PROGRESS_EVERY as u64);
        }
        let Some(resident) = access(i, e) else {
            continue;
        };
        if e.op == trace::Op::Read && prepared.counted(e.ts_us) {
            counts.read(resident, prepared.bucket(e.ts_us, config.timeline_points));
            if !resident {
                counts.l2_round_trips += 1;
            }
        }
    }
    progress((events.len() % PROGRESS_EVERY) as u64);
    counts.wall_ms = started.elapsed().as_secs_f64() * 1e3;
    counts
}

/// Shared per-trace facts all runs need (computed once).
pub(crate) struct Prepared<'t> {
    pub(crate) trace: &'t Trace,
    pub(crate) start_us: u64,
    pub(crate) span_us: u64,
    pub(crate) warmup_end_us: u64,
    /// The simulated restart and the end of its window, µs.
    pub(crate) cold_start: Option<(u64, u64)>,
    /// The restart resumes the L1 policy's window ([`SimConfig::cold_start_resumes_policy`]).
    pub(crate) resumes_policy: bool,
}

impl Prepared<'_> {
    pub(crate) fn counted(&self, ts_us: u64) -> bool {
        ts_us >= self.warmup_end_us
    }

    pub(crate) fn bucket(&self, ts_us: u64, points: usize) -> usize {
        if self.span_us == 0 {
            return 0;
        }
        let offset = ts_us.saturating_sub(self.start_us) as u128;
        ((offset * points as u128) / (self.span_us as u128 + 1)) as usize
    }
}

/// Replays `trace` once per run and L1 size; `progress` receives the number of events
/// replayed so far across all runs (for a progress bar; total = events x runs x sizes).
pub fn simulate(
    trace: &Trace,
    config: &SimConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<SimReport, SimError> {
    if config.l1_sizes.contains(&0) {
        return Err(SimError::BadL1Size);
    }
    if trace.pairs.len() > 1 << 23 {
        return Err(SimError::TooManyPairs(trace.pairs.len()));
    }
    config.warmer.validate()?;
    let mut runs = config.runs.clone();
    if !runs
        .iter()
        .any(|r| r.kind == RunKind::None && r.refresh.is_none())
    {
        runs.insert(
            0,
            RunSpec {
                name: "none".into(),
                kind: RunKind::None,
                refresh: None,
                warm_start: false,
                admission: Admission::Guarded,
                structure: false,
            },
        );
    }
    let summary = TraceSummary::of(trace);
    let start_us = trace.events.first().map_or(0, |e| e.ts_us);
    let end_us = trace.events.last().map_or(0, |e| e.ts_us);
    let prepared = Prepared {
        trace,
        start_us,
        span_us: end_us - start_us,
        warmup_end_us: start_us.saturating_add((config.warmup_s.max(0.0) * 1e6) as u64),
        cold_start: config.cold_start_s.map(|s| {
            let at = start_us.saturating_add((s.max(0.0) * 1e6) as u64);
            (
                at,
                at.saturating_add((config.cold_window_s.max(0.0) * 1e6) as u64),
            )
        }),
        resumes_policy: config.cold_start_resumes_policy,
    };
    let oracle_index = runs
        .iter()
        .any(|r| r.kind == RunKind::Oracle)
        .then(|| oracle::OracleIndex::build(trace));
    if runs.iter().any(|r| r.kind == RunKind::Structure) && config.pairs.is_empty() {
        return Err(SimError::Strategy {
            name: "structure".into(),
            reason: "needs the pools' tokens: give a pairs file (--pairs)".into(),
        });
    }
    let described = structure::Described::new(trace, &config.pairs);
    let belady_index = runs
        .iter()
        .any(|r| r.kind == RunKind::Belady)
        .then(|| belady::next_reads(trace));
    let read_ranks = runs
        .iter()
        .any(|r| r.kind == RunKind::PerfectLfu)
        .then(|| perfect_lfu::read_ranks(trace));

    let jobs: Vec<(usize, usize)> = (0..config.l1_sizes.len())
        .flat_map(|s| (0..runs.len()).map(move |r| (s, r)))
        .collect();
    let done = AtomicU64::new(0);
    let next = AtomicU64::new(0);
    let threads = if config.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        config.threads
    }
    .min(jobs.len().max(1));
    let report_progress = |n: u64| progress(done.fetch_add(n, Ordering::Relaxed) + n);
    let mut results: Vec<Option<Result<RunCounts, SimError>>> = Vec::new();
    results.resize_with(jobs.len(), || None);
    let results = parking_lot::Mutex::new(results);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let j = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(&(s, r)) = jobs.get(j) else {
                        break;
                    };
                    let l1 = config.l1_sizes[s];
                    let run = &runs[r];
                    let counts = match &run.kind {
                        RunKind::Belady => Ok(belady::run(
                            &prepared,
                            belady_index.as_deref().unwrap_or(&[]),
                            l1,
                            config,
                            &report_progress,
                        )),
                        RunKind::PerfectLfu => Ok(perfect_lfu::run(
                            &prepared,
                            read_ranks.as_deref().unwrap_or(&[]),
                            l1,
                            config,
                            &report_progress,
                        )),
                        _ => replay::run(
                            &prepared,
                            run,
                            (oracle_index.as_ref(), &described),
                            l1,
                            config,
                            &report_progress,
                        ),
                    };
                    results.lock()[j] = Some(counts);
                }
            });
        }
    });
    let mut counts = Vec::with_capacity(jobs.len());
    for (j, slot) in results.into_inner().into_iter().enumerate() {
        match slot {
            Some(Ok(c)) => counts.push((jobs[j], c)),
            Some(Err(e)) => return Err(e),
            None => {
                return Err(SimError::Tracker(
                    "a simulation worker stopped before finishing".into(),
                ));
            }
        }
    }
    Ok(report::assemble(
        summary,
        config,
        &runs,
        counts,
        prepared.start_us,
        prepared.span_us,
    ))
}
