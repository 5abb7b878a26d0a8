//! Criterion benches of the correlation tracker, against a baseline that mimics the
//! original TypeScript algorithm, in the same run.
//!
//! - `record_price_update/steady`: one update per ms, Zipf(1.0) over 5,000 pairs.
//! - `record_price_update/burst`: bursts of 3-200 updates in the same ms every 100 ms,
//!   Zipf(1.0) over 5,000 pairs (`BurstWorkload::new`).
//! - `pairs_to_warm`: top 5, min score 0.3, for Zipf-drawn pairs, after the burst warm-up.
//! - `original_style/{steady,burst}`: per update, walk the whole recent-update map
//!   (deleting stale entries) and upsert `HashMap<String, HashMap<String, count>>` both
//!   ways with `String` keys, as the original's `trackCoOccurrences` does.
//!
//! Run: `cargo bench -p pairwarm --bench tracker` (add `-- --quick` on a busy machine).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use pairwarm::pair::PairId;
use pairwarm::tracker::workload::BurstWorkload;
use pairwarm::tracker::{CorrelationTracker, TrackerConfig};

const PAIRS: u32 = 5_000;
const STREAM: usize = 1 << 16;

/// A recorded stream replayed forever, shifted in time at each lap so timestamps keep
/// increasing.
struct Replay {
    updates: Vec<(PairId, u64)>,
    span: u64,
    i: usize,
    offset: u64,
}

impl Replay {
    fn new(mut workload: BurstWorkload) -> Self {
        let updates = workload.take(STREAM);
        let span = updates.last().map_or(0, |u| u.1) - updates.first().map_or(0, |u| u.1) + 100;
        Self {
            updates,
            span,
            i: 0,
            offset: 0,
        }
    }

    #[inline]
    fn next(&mut self) -> (PairId, u64) {
        let (pair, ts) = self.updates[self.i];
        let out = (pair, ts + self.offset);
        self.i += 1;
        if self.i == self.updates.len() {
            self.i = 0;
            self.offset += self.span;
        }
        out
    }
}

fn steady() -> BurstWorkload {
    BurstWorkload::with_shape(PAIRS, 11, 1, 1, 1, 1.0)
}

fn burst() -> BurstWorkload {
    BurstWorkload::new(PAIRS, 12)
}

fn warmed(replay: &mut Replay) -> CorrelationTracker {
    let tracker = CorrelationTracker::new(TrackerConfig::default()).unwrap();
    for _ in 0..STREAM * 8 {
        let (p, t) = replay.next();
        tracker.record_price_update(p, t);
    }
    tracker
}

/// The original's algorithm, in Rust, for comparison: string keys, nested hash maps,
/// a walk of every recently updated pair on every update.
#[derive(Default)]
struct OriginalStyle {
    recent: HashMap<String, u64>,
    co: HashMap<String, HashMap<String, (u32, u64)>>,
    totals: HashMap<String, u64>,
}

impl OriginalStyle {
    fn record(&mut self, address: &str, ts: u64) {
        let key = address.to_lowercase();
        *self.totals.entry(key.clone()).or_default() += 1;
        let window_start = ts.saturating_sub(1000);
        self.recent.retain(|_, last| *last >= window_start);
        for other in self.recent.keys() {
            if *other == key {
                continue;
            }
            let e = self
                .co
                .entry(key.clone())
                .or_default()
                .entry(other.clone())
                .or_default();
            e.0 += 1;
            e.1 = ts;
            let e = self
                .co
                .entry(other.clone())
                .or_default()
                .entry(key.clone())
                .or_default();
            e.0 += 1;
            e.1 = ts;
        }
        self.recent.insert(key, ts);
    }
}

fn address(pair: PairId) -> String {
    format!(
        "0x{:040X}",
        u128::from(pair.raw()) * 0x9e37_79b9_7f4a_7c15 + 1
    )
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("record_price_update");
    for (name, workload) in [("steady", steady()), ("burst", burst())] {
        let mut replay = Replay::new(workload);
        let tracker = warmed(&mut replay);
        group.bench_function(name, |b| {
            b.iter(|| {
                let (p, t) = replay.next();
                tracker.record_price_update(black_box(p), black_box(t));
            })
        });
    }
    group.finish();

    let mut replay = Replay::new(burst());
    let tracker = warmed(&mut replay);
    let now = replay.next().1;
    let mut queries = BurstWorkload::new(PAIRS, 13);
    let mut out = Vec::with_capacity(16);
    c.bench_function("pairs_to_warm", |b| {
        b.iter(|| {
            let (p, _) = queries.next_update();
            tracker.pairs_to_warm_into(black_box(p), now, 5, 0.3, &mut out);
            black_box(out.len())
        })
    });

    let mut group = c.benchmark_group("original_style");
    for (name, workload) in [("steady", steady()), ("burst", burst())] {
        let mut replay = Replay::new(workload);
        let names: HashMap<u32, String> = (0..PAIRS)
            .map(|p| (p, address(PairId::from_raw(p))))
            .collect();
        let mut original = OriginalStyle::default();
        // Enough to fill its window (~1,000 recent pairs); each update costs ~1 ms here.
        for _ in 0..5_000 {
            let (p, t) = replay.next();
            original.record(&names[&p.raw()], t);
        }
        group.bench_function(name, |b| {
            b.iter(|| {
                let (p, t) = replay.next();
                original.record(black_box(&names[&p.raw()]), black_box(t));
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
