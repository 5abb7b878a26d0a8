//! Comparison of runs: gains over `none`, share of the oracle's gain, coverage.

use serde::Serialize;

use super::{RunCounts, RunKind, RunSpec, SimConfig};
use crate::trace::{Op, Trace};

/// The trace's shape (the `trace` object of the JSON report).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TraceSummary {
    /// Events replayed.
    pub events: u64,
    /// Update events.
    pub updates: u64,
    /// Read events.
    pub reads: u64,
    /// Distinct pairs.
    pub pairs: u64,
    /// Time from first to last event, seconds.
    pub span_s: f64,
}

impl TraceSummary {
    /// Summarises a trace.
    pub fn of(trace: &Trace) -> Self {
        let reads = trace.events.iter().filter(|e| e.op == Op::Read).count() as u64;
        let span_us = match (trace.events.first(), trace.events.last()) {
            (Some(a), Some(b)) => b.ts_us - a.ts_us,
            _ => 0,
        };
        Self {
            events: trace.events.len() as u64,
            updates: trace.events.len() as u64 - reads,
            reads,
            pairs: trace.pairs.len() as u64,
            span_s: span_us as f64 / 1e6,
        }
    }
}

/// One row of the comparison (one run at one L1 size).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResultRow {
    /// Run name (`none`, `topn`, `oracle`, `belady`, ...).
    pub strategy: String,
    /// L1 eviction policy of the run (`default`, `lru`, `wtinylfu`, ...).
    pub l1_policy: String,
    /// L1 bound, entries.
    pub l1: usize,
    /// L1 hits / reads, after warm-up.
    pub hit_rate: f64,
    /// `hit_rate` minus `none`'s at the same L1 size.
    pub gain: f64,
    /// `gain` / the oracle's gain (null without an oracle run or when the oracle gains
    /// nothing).
    pub oracle_gain_captured: Option<f64>,
    /// Warmed entries read at least once before leaving L1 / warmed entries.
    pub accuracy: f64,
    /// Reads that missed under `none` and hit here / misses of `none`.
    pub coverage: f64,
    /// Warmed entries evicted unread.
    pub pollution: u64,
    /// Read misses of a pair whose warm was still in flight.
    pub late: u64,
    /// Warms issued (each one L2 round trip).
    pub warms: u64,
    /// L2 round trips: demand loads plus warms plus refresh batches.
    pub l2_round_trips: u64,
    /// Refresh-ahead batches (each one L2 round trip, counted in `l2_round_trips`).
    pub refreshes: u64,
    /// Pairs re-fetched by those batches.
    pub refreshed_pairs: u64,
    /// Hit rate over the window after the simulated restart (`--cold-start`), if any.
    pub cold_start_hit_rate: Option<f64>,
    /// Wall time of the run, ms.
    pub wall_ms: f64,
}

/// Hit rate over the trace's time, for plots.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimelinePoint {
    /// Seconds since the trace start (bucket end).
    pub t_s: f64,
    /// Hit rate of the reads in the bucket (`None` if no read fell in it).
    pub hit_rate: Option<f64>,
}

/// The result of [`simulate`](super::simulate).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimReport {
    /// The replayed trace's shape.
    pub trace: TraceSummary,
    /// Warm landing latency, µs.
    pub l2_latency_us: u64,
    /// One row per run and L1 size, in the order asked.
    pub results: Vec<ResultRow>,
    /// Hit rate over time per row (same order as `results`); not part of the JSON file.
    #[serde(skip)]
    pub timelines: Vec<Vec<TimelinePoint>>,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Reads that missed in `base` and hit in `other`.
fn removed_misses(base: &[u64], other: &[u64]) -> u64 {
    base.iter()
        .zip(other)
        .map(|(b, o)| u64::from((!b & o).count_ones()))
        .sum()
}

pub(super) fn assemble(
    trace: TraceSummary,
    config: &SimConfig,
    runs: &[RunSpec],
    counts: Vec<((usize, usize), RunCounts)>,
    _start_us: u64,
    span_us: u64,
) -> SimReport {
    let mut results = Vec::with_capacity(counts.len());
    let mut timelines = Vec::with_capacity(counts.len());
    for (s, &l1) in config.l1_sizes.iter().enumerate() {
        let at_size: Vec<(&RunSpec, &RunCounts)> = counts
            .iter()
            .filter(|((size, _), _)| *size == s)
            .map(|((_, r), c)| (&runs[*r], c))
            .collect();
        let none = at_size
            .iter()
            .find(|(r, _)| r.kind == RunKind::None && r.refresh.is_none());
        let none_rate = none.map_or(0.0, |(_, c)| ratio(c.hits, c.reads));
        let none_misses = none.map_or(0, |(_, c)| c.reads - c.hits);
        let oracle_gain = at_size
            .iter()
            .find(|(r, _)| r.kind == RunKind::Oracle)
            .map(|(_, c)| ratio(c.hits, c.reads) - none_rate);
        for (run, c) in &at_size {
            let hit_rate = ratio(c.hits, c.reads);
            let gain = hit_rate - none_rate;
            let removed = none.map_or(0, |(_, n)| removed_misses(&n.hit_bits, &c.hit_bits));
            results.push(ResultRow {
                strategy: run.name.clone(),
                l1_policy: config.l1_policy.name().to_owned(),
                l1,
                hit_rate,
                gain,
                oracle_gain_captured: oracle_gain.filter(|g| *g > 0.0).map(|g| gain / g),
                accuracy: ratio(c.warmed_read, c.warmed_entries),
                coverage: ratio(removed, none_misses),
                pollution: c.pollution,
                late: c.late,
                warms: c.warms,
                l2_round_trips: c.l2_round_trips,
                refreshes: c.refreshes,
                refreshed_pairs: c.refreshed_pairs,
                cold_start_hit_rate: config
                    .cold_start_s
                    .map(|_| ratio(c.cold_hits, c.cold_reads)),
                wall_ms: c.wall_ms,
            });
            let points = c.timeline.len().max(1);
            timelines.push(
                c.timeline
                    .iter()
                    .enumerate()
                    .map(|(i, &(hits, reads))| TimelinePoint {
                        t_s: (i + 1) as f64 * span_us as f64 / 1e6 / points as f64,
                        hit_rate: (reads > 0).then(|| ratio(hits, reads)),
                    })
                    .collect(),
            );
        }
    }
    SimReport {
        trace,
        l2_latency_us: config.l2_latency_us,
        results,
        timelines,
    }
}
