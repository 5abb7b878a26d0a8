//! `pairwarm bench tracker`: p50/p99 of `record_price_update` over many calls.
//!
//! Workload: [`BurstWorkload`] (bursts of 3-200 updates in the same millisecond, one burst
//! every 100 ms, pairs drawn Zipf(1.0) from `--pairs`), after a warm-up that fills the
//! tracker. Each call is timed alone with two `Instant::now()` reads; the cost of that pair
//! of reads (measured first, its median) is subtracted from every sample, and reported. The
//! updates are generated in chunks outside the timed region.
//!
//! `--signal updates` (the default, the original's learning) credits co-occurring updates
//! on every update. `--signal reads` is what `serve` runs by default (learning from the
//! reads a warm could have served): an update is only recorded, and the crediting moves to
//! `record_read`, called once per such read; each update is then followed by one read of
//! a pair drawn from the same distribution, and both calls are timed.

use std::time::Instant;

use anyhow::Context;
use hdrhistogram::Histogram;
use pairwarm::pair::PairId;
use pairwarm::tracker::workload::BurstWorkload;
use pairwarm::tracker::{CorrelationTracker, Signal, TrackerConfig};

/// What the benchmarked tracker learns from.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchSignal {
    /// Update co-occurrence, credited in `record_price_update` (the original's learning).
    Updates,
    /// Reads after updates, credited in `record_read` (`serve`'s default).
    Reads,
}

/// Arguments of `pairwarm bench tracker`.
#[derive(clap::Args, Debug)]
pub struct TrackerBenchArgs {
    /// Tracked pairs (`max_tracked_pairs`) and distinct pairs in the workload.
    #[arg(long, default_value_t = 5_000)]
    pairs: u32,
    /// Timed calls.
    #[arg(long, default_value_t = 10_000_000)]
    calls: u64,
    /// Distinct pairs of the flood used for the memory check.
    #[arg(long, default_value_t = 1_000_000)]
    flood: u32,
    /// `max_credits_per_update` (default: the tracker's default).
    #[arg(long)]
    credits: Option<usize>,
    /// `neighbours_per_pair` (default: the tracker's default).
    #[arg(long)]
    neighbours: Option<usize>,
    /// Workload seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// What the tracker learns from: `updates` (credits in `record_price_update`) or
    /// `reads` (serve's default: credits in `record_read`, one read timed per update).
    #[arg(long, value_enum, default_value_t = BenchSignal::Updates)]
    signal: BenchSignal,
    /// Print exactly `{"pairs":N,"calls":C,"p50_ns":..,"p99_ns":..,"memory_bytes":..}`
    /// (with `--signal reads`, also `"read_p50_ns":..,"read_p99_ns":..` before the memory).
    #[arg(long)]
    json: bool,
}

const CHUNK: usize = 1 << 16;

/// Median cost of the two clock reads that bracket a timed call.
fn timer_overhead_ns() -> anyhow::Result<u64> {
    let mut h = Histogram::<u64>::new_with_bounds(1, 1_000_000, 3)?;
    for _ in 0..1_000_000 {
        let t = Instant::now();
        let ns = t.elapsed().as_nanos() as u64;
        h.saturating_record(ns.max(1));
    }
    Ok(h.value_at_quantile(0.5))
}

pub fn run(args: TrackerBenchArgs) -> anyhow::Result<()> {
    let pairs = args.pairs.max(2);
    let defaults = TrackerConfig::default();
    let config = TrackerConfig {
        max_tracked_pairs: pairs as usize,
        max_credits_per_update: args.credits.unwrap_or(defaults.max_credits_per_update),
        neighbours_per_pair: args.neighbours.unwrap_or(defaults.neighbours_per_pair),
        signal: match args.signal {
            BenchSignal::Updates => Signal::Updates,
            BenchSignal::Reads => Signal::Reads,
        },
        ..defaults
    };
    let reads = args.signal == BenchSignal::Reads;
    // The pairs read after each update, drawn from the same distribution (another seed).
    let mut readers = BurstWorkload::new(pairs, args.seed ^ 0x5EED);
    let mut read_pairs: Vec<PairId> = Vec::with_capacity(CHUNK);
    let tracker = CorrelationTracker::new(config.clone()).context("tracker config")?;
    let mut workload = BurstWorkload::new(pairs, args.seed);
    let mut chunk: Vec<(PairId, u64)> = Vec::with_capacity(CHUNK);

    // Warm-up: enough updates that every pair has been seen and tables are full.
    let warmup = (u64::from(pairs) * 40).max(1_000_000);
    let mut done = 0;
    while done < warmup {
        chunk.clear();
        chunk.extend((0..CHUNK).map(|_| workload.next_update()));
        for &(pair, ts) in &chunk {
            tracker.record_price_update(pair, ts);
            if reads {
                tracker.record_read(readers.next_update().0, ts);
            }
        }
        done += CHUNK as u64;
    }

    let overhead = timer_overhead_ns()?;
    let mut hist = Histogram::<u64>::new_with_bounds(1, 100_000_000, 3)?;
    let mut raw = Histogram::<u64>::new_with_bounds(1, 100_000_000, 3)?;
    let mut read_hist = Histogram::<u64>::new_with_bounds(1, 100_000_000, 3)?;
    let mut timed = 0u64;
    let started = Instant::now();
    while timed < args.calls {
        let n = CHUNK.min((args.calls - timed) as usize);
        chunk.clear();
        chunk.extend((0..n).map(|_| workload.next_update()));
        read_pairs.clear();
        if reads {
            read_pairs.extend((0..n).map(|_| readers.next_update().0));
        }
        for (i, &(pair, ts)) in chunk.iter().enumerate() {
            let t = Instant::now();
            tracker.record_price_update(pair, ts);
            let ns = t.elapsed().as_nanos() as u64;
            raw.saturating_record(ns.max(1));
            hist.saturating_record(ns.saturating_sub(overhead).max(1));
            if let Some(&reader) = read_pairs.get(i) {
                let t = Instant::now();
                tracker.record_read(reader, ts);
                let ns = t.elapsed().as_nanos() as u64;
                read_hist.saturating_record(ns.saturating_sub(overhead).max(1));
            }
        }
        timed += n as u64;
    }
    let wall = started.elapsed();
    let stats = tracker.stats();

    if args.json {
        let read_fields = if reads {
            format!(
                "\"read_p50_ns\":{},\"read_p99_ns\":{},",
                read_hist.value_at_quantile(0.5),
                read_hist.value_at_quantile(0.99)
            )
        } else {
            String::new()
        };
        println!(
            "{{\"pairs\":{},\"calls\":{},\"p50_ns\":{},\"p99_ns\":{},{read_fields}\"memory_bytes\":{}}}",
            pairs,
            timed,
            hist.value_at_quantile(0.5),
            hist.value_at_quantile(0.99),
            stats.memory_bytes
        );
        return Ok(());
    }

    // Flood: distinct pairs never seen before; memory must not move.
    let flood = CorrelationTracker::new(config.clone()).context("tracker config")?;
    let before = flood.stats().memory_bytes;
    let flood_started = Instant::now();
    for i in 0..args.flood {
        flood.record_price_update(PairId::from_raw(i), 1_700_000_000_000 + u64::from(i / 100));
    }
    let flood_time = flood_started.elapsed();
    let after = flood.stats();

    println!(
        "pairwarm bench tracker: record_price_update, {pairs} tracked pairs, m = {}, cap = {} credits/update, learning from {}",
        config.neighbours_per_pair,
        config.max_credits_per_update,
        if reads {
            "reads (serve's default; one record_read timed after each update)"
        } else {
            "updates"
        }
    );
    println!(
        "  workload   bursts of 3-200 updates in one ms every 100 ms, Zipf(1.0) pairs, seed {}",
        args.seed
    );
    println!(
        "  calls      {timed} updates timed after {done} warm-up{} ({:.2} s wall incl. timing)",
        if reads {
            ", each update followed by one timed read"
        } else {
            ""
        },
        wall.as_secs_f64()
    );
    println!("  timer      {overhead} ns per Instant pair (median), subtracted from each sample");
    println!("  quantile   net ns   raw ns");
    for (label, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)] {
        println!(
            "  {label:<9}  {:<8} {}",
            hist.value_at_quantile(q),
            raw.value_at_quantile(q)
        );
    }
    println!("  max        {:<8} {}", hist.max(), raw.max());
    if reads {
        println!(
            "  record_read net ns: p50 {}, p90 {}, p99 {}, max {}",
            read_hist.value_at_quantile(0.5),
            read_hist.value_at_quantile(0.9),
            read_hist.value_at_quantile(0.99),
            read_hist.max()
        );
    }
    println!(
        "  tracker    {} pairs, {} updates, {} co-occurrences credited, {} calls capped, {} evictions",
        stats.total_pairs,
        stats.total_updates,
        stats.total_co_occurrences,
        stats.capped_calls,
        stats.evictions
    );
    println!("  memory     {} bytes at {pairs} pairs", stats.memory_bytes);
    println!(
        "  flood      {} distinct pairs in {:.2} s: memory {} -> {} bytes, {} pairs tracked, {} evictions",
        args.flood,
        flood_time.as_secs_f64(),
        before,
        after.memory_bytes,
        after.total_pairs,
        after.evictions
    );
    Ok(())
}
