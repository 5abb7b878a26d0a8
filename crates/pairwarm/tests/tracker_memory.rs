//! Memory of the tracker measured by a counting allocator, not by its own report:
//! `memory_bytes` is what construction allocates, and the hot path never allocates.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use pairwarm::pair::PairId;
use pairwarm::tracker::workload::BurstWorkload;
use pairwarm::tracker::{CorrelationTracker, Signal, TrackerConfig};

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
