//! Memory of the tracker measured by a counting allocator, not by its own report:
//! `memory_bytes` is what construction allocates, and the hot paths (recording an update,
//! choosing what to warm) never allocate.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use std::sync::Arc;

use pairwarm::cache::HierarchicalCache;
use pairwarm::pair::PairId;
use pairwarm::strategy::{StrategyConfig, WarmingContext};
use pairwarm::tracker::workload::BurstWorkload;
use pairwarm::tracker::{CorrelationTracker, PairCorrelation, Signal, TrackerConfig};
use pairwarm::warmer::{CacheWarmer, WarmPlan, WarmerConfig};

/// Counts bytes and calls allocated by the current thread (other test threads do not
/// disturb the count).
struct Counting;

thread_local! {
    static BYTES: Cell<usize> = const { Cell::new(0) };
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = BYTES.try_with(|b| b.set(b.get() + layout.size()));
        let _ = CALLS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocated() -> (usize, usize) {
    (BYTES.with(Cell::get), CALLS.with(Cell::get))
}

#[test]
fn memory_bytes_is_what_construction_allocates() {
    for config in [
        TrackerConfig::default(),
        TrackerConfig {
            max_tracked_pairs: 100_000,
            neighbours_per_pair: 32,
            ..TrackerConfig::default()
        },
        TrackerConfig {
            max_tracked_pairs: 2,
            neighbours_per_pair: 4,
            max_credits_per_update: 64,
            ..TrackerConfig::default()
        },
    ] {
        let (before, _) = allocated();
        let t = CorrelationTracker::new(config.clone()).unwrap();
        let (after, _) = allocated();
        let reported = t.stats().memory_bytes;
        assert_eq!(after - before, reported, "{config:?}");
    }
    let t = CorrelationTracker::new(TrackerConfig::default()).unwrap();
    assert!(t.stats().memory_bytes <= 4 << 20);
}

#[test]
fn the_hot_path_never_allocates() {
    for signal in [Signal::Updates, Signal::Reads] {
        let t = CorrelationTracker::new(TrackerConfig {
            signal,
            ..TrackerConfig::default()
        })
        .unwrap();
        let mut workload = BurstWorkload::new(5_000, 3);
        let updates = workload.take(200_000);
        let mut out = Vec::with_capacity(16);
        let (bytes, calls) = allocated();
        for (i, &(pair, ts)) in updates.iter().enumerate() {
            t.record_price_update(pair, ts);
            t.record_read(PairId::from_raw(pair.raw() ^ 1), ts + 1);
            if i % 64 == 0 {
                t.pairs_to_warm_into(pair, ts + 1, 5, 0.3, &mut out);
            }
        }
        // A flood of a million distinct pairs: admissions and evictions, still nothing.
        for i in 0..1_000_000u32 {
            t.record_price_update(
                PairId::from_raw(10_000_000 + i),
                1_800_000_000_000 + u64::from(i),
            );
        }
        // Batches reuse their buffer.
        for k in 0..100u64 {
            t.begin_batch();
            for n in 0..300u32 {
                t.record_price_update(PairId::from_raw(n), 1_900_000_000_000 + k * 1000);
            }
            t.end_batch();
        }
        assert_eq!(
            allocated(),
            (bytes, calls),
            "{signal:?}: the hot path allocated"
        );
        let s = t.stats();
        assert!(s.total_pairs <= 5000);
    }
}

const STRATEGIES: [&str; 4] = ["topn", "threshold", "adaptive", "timebased"];

/// A strategy with nothing to select allocates nothing (its reason is data, not a string).
#[test]
fn selecting_nothing_allocates_nothing() {
    let weak = [PairCorrelation {
        pair: PairId::from_raw(2),
        score: 0.01,
        co_occurrences: 3.0,
        last_seen_ms: 0,
    }];
    for name in STRATEGIES {
        let strategy = StrategyConfig::parse(name, None).unwrap().build();
        let ctx = WarmingContext {
            source: PairId::from_raw(1),
            now_ms: 10_000_000,
            l1_hit_rate: 0.5,
            l1_size: 10,
            l1_capacity: 100,
            correlations: &weak,
        };
        let before = allocated();
        let selection = strategy.select(&ctx);
        assert_eq!(allocated(), before, "{name}: {}", selection.reason);
        assert!(selection.candidates.is_empty(), "{name}");
    }
}

/// `plan_into` with a reused plan: the tracker query, the strategy's selection, the cap
/// and the L1 check allocate nothing, for every strategy.
#[test]
fn planning_a_warm_allocates_nothing() {
    let cache = Arc::new(
        HierarchicalCache::builder()
            .l1_entries(1024)
            .build_in_memory(),
    );
    let pairs: Vec<PairId> = (0..64u32)
        .map(|n| {
            cache
                .interner()
                .intern_str("ethereum", &format!("0x{:040x}", 0xa11_0000 + n))
                .unwrap()
        })
        .collect();
    // Blocks of 8 pools updating together, every 12 s.
    let tracker = Arc::new(CorrelationTracker::new(TrackerConfig::default()).unwrap());
    let mut now = 1_700_000_000_000u64;
    for _ in 0..20 {
        for block in pairs.chunks(8) {
            for (i, &p) in block.iter().enumerate() {
                tracker.record_price_update(p, now + i as u64);
            }
        }
        now += 12_000;
    }
    for name in STRATEGIES {
        let strategy = StrategyConfig::parse(name, None).unwrap().build();
        let config = WarmerConfig {
            min_correlation_score: 0.0,
            ..WarmerConfig::default()
        };
        let warmer = CacheWarmer::new(cache.clone(), tracker.clone(), strategy, config).unwrap();
        let mut plan = WarmPlan::default();
        // Warm-up: the plan's buffers grow to their working size.
        for &p in &pairs {
            warmer.plan_into(p, now, &mut plan);
        }
        let before = allocated();
        let mut selected = 0;
        for round in 0..50 {
            for &p in &pairs {
                warmer.plan_into(p, now + round, &mut plan);
                selected += plan.selected.len();
            }
        }
        assert_eq!(allocated(), before, "{name}: planning allocated");
        assert!(selected > 0, "{name}: nothing was ever selected");
    }
}
