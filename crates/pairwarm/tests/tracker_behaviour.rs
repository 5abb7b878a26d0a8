//! Behaviour of the correlation tracker: window, gate, scores, decay, eviction, batches,
//! the read signal, stats and reset.

use std::sync::Arc;

use pairwarm::pair::PairId;
use pairwarm::tracker::{
    BATCH_CAPACITY, CorrelationTracker, PairCorrelation, Signal, TrackerConfig,
};

fn p(n: u32) -> PairId {
    PairId::from_raw(n)
}

fn tracker() -> CorrelationTracker {
    CorrelationTracker::new(TrackerConfig::default()).unwrap()
}

fn with(config: TrackerConfig) -> CorrelationTracker {
    CorrelationTracker::new(config).unwrap()
}

/// Defaults with a half-life (74 h) far above any test's span: counts stay whole numbers.
fn no_decay() -> TrackerConfig {
    TrackerConfig {
        half_life_ms: 1 << 28,
        ..TrackerConfig::default()
    }
}

fn sorted(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v
}

fn pairs(v: &[PairCorrelation]) -> Vec<u32> {
    v.iter().map(|c| c.pair.raw()).collect()
}

const BLOCK: u64 = 12_000;

#[test]
fn send_sync() {
    fn assert<T: Send + Sync>() {}
    assert::<CorrelationTracker>();
}

#[test]
fn updates_within_the_window_are_returned_and_outside_are_not() {
    let t = tracker();
    for k in 1..=5 {
        let base = k * BLOCK;
        t.record_price_update(p(1), base);
        t.record_price_update(p(2), base + 400);
        // Exactly one window after A: still counts (the original's inclusive boundary).
        t.record_price_update(p(3), base + 1000);
        // One ms more than a window after the last update that could pair with it.
        t.record_price_update(p(4), base + 2001);
    }
    let now = 5 * BLOCK + 2001;
    let warm = t.pairs_to_warm(p(1), now, 10, 0.0);
    assert_eq!(sorted(pairs(&warm)), vec![2, 3], "{warm:?}");
    // 4 is more than a window after 1 and 2 and 3.
    assert!(t.pairs_to_warm(p(3), now, 10, 0.0).is_empty());
    assert_eq!(t.correlation_score(p(1), p(4), now), None);
    assert_eq!(t.correlation_score(p(3), p(4), now), None);
    // The relation is symmetric for correlation_score.
    assert!(t.correlation_score(p(2), p(1), now).unwrap() > 0.99);
}

#[test]
fn min_co_occurrences_gates_noise() {
    let t = with(no_decay());
    for k in 1..=2 {
        t.record_price_update(p(1), k * BLOCK);
        t.record_price_update(p(2), k * BLOCK + 10);
    }
    let now = 2 * BLOCK + 10;
    assert!(
        t.pairs_to_warm(p(1), now, 5, 0.0).is_empty(),
        "2 < 3 co-occurrences"
    );
    t.record_price_update(p(1), 3 * BLOCK);
    t.record_price_update(p(2), 3 * BLOCK + 10);
    let warm = t.pairs_to_warm(p(1), 3 * BLOCK + 10, 5, 0.0);
    assert_eq!(pairs(&warm), vec![2]);
    assert!((warm[0].co_occurrences - 3.0).abs() < 0.01, "{warm:?}");
    assert_eq!(warm[0].last_seen_ms, 3 * BLOCK + 10);
}

#[test]
fn score_is_relative_to_the_rarer_pair() {
    let t = with(no_decay());
    for k in 1..=10 {
        t.record_price_update(p(1), k * BLOCK);
        if k % 2 == 0 {
            t.record_price_update(p(2), k * BLOCK + 5);
        }
    }
    let now = 10 * BLOCK + 5;
    // 5 co-occurrences, pair 2 updated 5 times: every update of the rarer pair co-occurred.
    let s = t.correlation_score(p(1), p(2), now).unwrap();
    assert!((s - 1.0).abs() < 1e-4, "{s}");
    // Make pair 2 update 5 more times alone: min(10, 10) = 10, score 0.5.
    for k in 11..=15 {
        t.record_price_update(p(2), k * BLOCK);
    }
    let s = t.correlation_score(p(1), p(2), 15 * BLOCK).unwrap();
    assert!((s - 0.5).abs() < 1e-3, "{s}");
    let st = t.stats();
    assert!(st.avg_correlation_score > 0.0 && st.avg_correlation_score <= 1.0);
}

#[test]
fn both_orders_add_up_like_the_original() {
    let t = with(no_decay());
    // 1 then 2 in odd blocks, 2 then 1 in even blocks: 3 + 3 co-occurrences.
    for k in 1..=6 {
        let (a, b) = if k % 2 == 1 { (1, 2) } else { (2, 1) };
        t.record_price_update(p(a), k * BLOCK);
        t.record_price_update(p(b), k * BLOCK + 5);
    }
    let now = 6 * BLOCK + 5;
    for (a, b) in [(1, 2), (2, 1)] {
        let warm = t.pairs_to_warm(p(a), now, 5, 0.0);
        assert_eq!(pairs(&warm), vec![b]);
        assert!((warm[0].co_occurrences - 6.0).abs() < 0.01, "{warm:?}");
        assert!(warm[0].score > 0.99);
    }
}

#[test]
fn decay_lets_a_fresh_partner_overtake_an_old_one() {
    let t = with(TrackerConfig {
        half_life_ms: 60_000,
        ..TrackerConfig::default()
    });
    // Regime 1 (20 minutes): 1 is followed by 2; 2 also keeps updating on its own later.
    let mut now = 0;
    for k in 0..1200u64 {
        now = 1_000_000 + k * 1000;
        t.record_price_update(p(1), now);
        t.record_price_update(p(2), now + 10);
    }
    let before = t.pairs_to_warm(p(1), now + 10, 5, 0.0);
    assert_eq!(pairs(&before), vec![2]);
    // Regime 2 (25 minutes): 1 is followed by 3; 2 keeps updating, but alone.
    for _ in 0..300u64 {
        now += 5000;
        t.record_price_update(p(1), now);
        t.record_price_update(p(3), now + 10);
        t.record_price_update(p(2), now + 2500);
    }
    let after = t.pairs_to_warm(p(1), now + 10, 5, 0.0);
    assert_eq!(after.first().map(|c| c.pair), Some(p(3)), "{after:?}");
    let old = t.correlation_score(p(1), p(2), now + 10).unwrap_or(0.0);
    let fresh = t.correlation_score(p(1), p(3), now + 10).unwrap();
    assert!(old < 0.1 && fresh > 0.9, "old {old}, fresh {fresh}");
    // The old relation has decayed under the noise gate entirely.
    assert_eq!(t.correlation_score(p(1), p(2), now + 10), None);
}

#[test]
fn results_are_sorted_deduplicated_and_never_the_source() {
    let t = tracker();
    for k in 1..=20u64 {
        t.record_price_update(p(1), k * BLOCK);
        for n in 2..=6 {
            if k % u64::from(n) != 0 {
                t.record_price_update(p(n), k * BLOCK + u64::from(n));
            }
        }
    }
    let now = 21 * BLOCK;
    let warm = t.pairs_to_warm(p(1), now, 10, 0.0);
    assert!(!warm.is_empty());
    assert!(
        warm.windows(2).all(|w| w[0].score >= w[1].score),
        "{warm:?}"
    );
    let mut ids = pairs(&warm);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), warm.len());
    assert!(!ids.contains(&1));
    assert!(warm.iter().all(|c| (0.0..=1.0).contains(&c.score)));
    // top_n and min_score are honoured (inclusive).
    assert_eq!(t.pairs_to_warm(p(1), now, 2, 0.0).len(), 2);
    let min = warm[1].score;
    assert!(
        t.pairs_to_warm(p(1), now, 10, min)
            .iter()
            .all(|c| c.score >= min)
    );
    assert!(t.pairs_to_warm(p(1), now, 10, min).len() >= 2);
    assert!(t.pairs_to_warm(p(1), now, 0, 0.0).is_empty());
    assert!(t.pairs_to_warm(p(99), now, 5, 0.0).is_empty());
}

#[test]
fn pairs_to_warm_into_reuses_the_vector() {
    let t = tracker();
    for k in 1..=5 {
        t.record_price_update(p(1), k * BLOCK);
        t.record_price_update(p(2), k * BLOCK + 1);
    }
    let mut out = Vec::with_capacity(16);
    out.push(PairCorrelation {
        pair: p(77),
        score: 1.0,
        co_occurrences: 1.0,
        last_seen_ms: 0,
    });
    let ptr = out.as_ptr();
    t.pairs_to_warm_into(p(1), 5 * BLOCK + 1, 5, 0.0, &mut out);
    assert_eq!(pairs(&out), vec![2]);
    assert_eq!(out.as_ptr(), ptr);
    t.pairs_to_warm_into(p(42), 5 * BLOCK + 1, 5, 0.0, &mut out);
    assert!(out.is_empty());
}

#[test]
fn bursts_are_capped_per_update() {
    let t = with(TrackerConfig {
        max_credits_per_update: 4,
        ..TrackerConfig::default()
    });
    for n in 0..100 {
        t.record_price_update(p(n), 5_000);
    }
    let s = t.stats();
    // Update k credits min(k, 4) predecessors.
    assert_eq!(
        s.total_co_occurrences,
        (0..100u64).map(|k| k.min(4)).sum::<u64>()
    );
    assert_eq!(s.capped_calls, 96);
    // Each pair lists at most its 4 nearest followers.
    let cfg = TrackerConfig {
        min_co_occurrences: 0.5,
        max_credits_per_update: 4,
        ..TrackerConfig::default()
    };
    let t = with(cfg);
    for n in 0..100 {
        t.record_price_update(p(n), 5_000);
    }
    assert_eq!(pairs(&t.pairs_to_warm(p(50), 5_000, 10, 0.0)).len(), 4);
}

#[test]
fn evicted_pairs_leave_no_dangling_references() {
    let t = with(TrackerConfig {
        max_tracked_pairs: 32,
        ..TrackerConfig::default()
    });
    for k in 1..=5 {
        t.record_price_update(p(1), k * BLOCK);
        t.record_price_update(p(2), k * BLOCK + 1);
    }
    assert_eq!(
        pairs(&t.pairs_to_warm(p(1), 5 * BLOCK + 1, 5, 0.0)),
        vec![2]
    );
    // A flood of one-off pairs; pair 1 stays hot, pair 2 goes cold.
    let mut now = 6 * BLOCK;
    let mut next = 1_000;
    while t.is_tracked(p(2)) {
        now += 2_000;
        t.record_price_update(p(1), now);
        for _ in 0..8 {
            t.record_price_update(p(next), now + 1500);
            next += 1;
        }
        assert!(next < 100_000, "pair 2 never evicted");
    }
    t.check_invariants().unwrap();
    for n in [1, 2] {
        for c in t.pairs_to_warm(p(n), now, 32, 0.0) {
            assert!(t.is_tracked(c.pair), "returned untracked {:?}", c.pair);
        }
    }
    // Re-admitted, pair 2 starts from scratch: the old relation does not come back.
    t.record_price_update(p(2), now + 3_000);
    assert_eq!(t.correlation_score(p(1), p(2), now + 3_000), None);
    assert!(t.stats().evictions > 0);
    assert!(t.stats().total_pairs <= 32);
}

#[test]
fn batch_makes_every_pair_of_a_block_co_occur_once() {
    let t = with(no_decay());
    for k in 1..=3u64 {
        t.begin_batch();
        // Timestamps far apart inside the block: the batch ignores the window.
        t.record_price_update(p(1), k * BLOCK);
        t.record_price_update(p(2), k * BLOCK + 5_000);
        t.record_price_update(p(3), k * BLOCK + 9_000);
        t.record_price_update(p(1), k * BLOCK + 9_000);
        assert_eq!(t.end_batch(), 4);
    }
    let now = 3 * BLOCK + 9_000;
    for a in 1..=3 {
        let warm = t.pairs_to_warm(p(a), now, 5, 0.0);
        assert_eq!(warm.len(), 2, "pair {a}: {warm:?}");
        for c in &warm {
            assert!((c.co_occurrences - 3.0).abs() < 0.01, "{c:?}");
            assert_eq!(c.last_seen_ms, now);
        }
    }
    let s = t.stats();
    assert_eq!(s.total_updates, 12);
    assert_eq!(s.total_co_occurrences, 9);
    // A pair updated right after a block co-occurs with its pairs (they enter the window).
    t.record_price_update(p(4), now + 10);
    assert_eq!(t.stats().total_co_occurrences, 12);
}

#[test]
fn batch_edge_cases() {
    let t = tracker();
    assert_eq!(t.end_batch(), 0, "no batch open");
    t.begin_batch();
    t.record_price_update(p(1), 10);
    t.begin_batch(); // ignored: the open batch is kept
    t.record_price_update(p(2), 11);
    assert_eq!(t.end_batch(), 2);
    t.begin_batch();
    assert_eq!(t.end_batch(), 0, "empty batch");
    // Overflow: the buffer is bounded, the rest is recorded directly, nothing is lost.
    t.begin_batch();
    for n in 0..BATCH_CAPACITY as u32 + 44 {
        t.record_price_update(p(100 + n), 20);
    }
    assert_eq!(t.end_batch(), BATCH_CAPACITY);
    let s = t.stats();
    assert_eq!(s.batch_overflows, 44);
    assert_eq!(s.total_updates, 2 + BATCH_CAPACITY as u64 + 44);
}

#[test]
fn read_signal_learns_reads_after_updates() {
    let t = with(TrackerConfig {
        signal: Signal::Reads,
        ..no_decay()
    });
    for k in 1..=6u64 {
        let base = k * BLOCK;
        t.record_price_update(p(1), base);
        // Read twice after the same update: credited once.
        t.record_read(p(7), base + 10);
        t.record_read(p(7), base + 20);
        // Read of the source itself: never a relation.
        t.record_read(p(1), base + 30);
        if k % 2 == 0 {
            t.record_read(p(8), base + 40);
        }
        // Too late: outside the window.
        t.record_read(p(9), base + 1_001);
    }
    let now = 6 * BLOCK + 1_001;
    let warm = t.pairs_to_warm(p(1), now, 5, 0.0);
    assert_eq!(pairs(&warm), vec![7, 8], "{warm:?}");
    assert!((warm[0].co_occurrences - 6.0).abs() < 0.01);
    assert!(
        warm[0].score > 0.99,
        "every update of 1 was followed by a read of 7"
    );
    assert!(
        (warm[1].score - 0.5).abs() < 0.01,
        "half of them by a read of 8"
    );
    // Directional: 7 never updated, so nothing is learned for 7.
    assert!(t.pairs_to_warm(p(7), now, 5, 0.0).is_empty());
    let s = t.stats();
    assert_eq!(s.total_reads, 6 * 5 - 3);
    assert_eq!(s.total_co_occurrences, 6 + 3);
}

#[test]
fn lead_time_aware_reads_skip_reads_no_warm_can_beat() {
    let t = with(TrackerConfig {
        signal: Signal::Reads,
        min_lead_ms: 5,
        ..no_decay()
    });
    for k in 1..=6u64 {
        let base = k * BLOCK;
        // 2 updates 100 ms before the block's second update of 1: the reads of 8 come
        // 3 ms after the latest update of 1 (too soon), the reads of 7 5 ms after (kept).
        t.record_price_update(p(1), base);
        t.record_price_update(p(1), base + 100);
        t.record_read(p(7), base + 105);
        t.record_read(p(8), base + 103);
    }
    let warm = t.pairs_to_warm(p(1), 6 * BLOCK + 105, 5, 0.0);
    // 8 is never credited, not even to the earlier update of 1 (103 ms before it): the
    // read answers the latest update.
    assert_eq!(pairs(&warm), vec![7], "{warm:?}");
    assert!((warm[0].co_occurrences - 6.0).abs() < 0.01, "{warm:?}");
    let bad = TrackerConfig {
        min_lead_ms: 2_000,
        ..TrackerConfig::default()
    };
    let err = bad.validate().unwrap_err().to_string();
    assert!(err.contains("min_lead_ms = 2000"), "{err}");
}

#[test]
fn update_signal_only_counts_reads() {
    let t = tracker();
    for k in 1..=5u64 {
        t.record_price_update(p(1), k * BLOCK);
        t.record_read(p(7), k * BLOCK + 10);
    }
    assert!(t.pairs_to_warm(p(1), 5 * BLOCK + 10, 5, 0.0).is_empty());
    assert!(!t.is_tracked(p(7)));
    let s = t.stats();
    assert_eq!((s.total_reads, s.total_co_occurrences), (5, 0));
}

#[test]
fn stats_and_reset() {
    let t = tracker();
    let empty = t.stats();
    assert_eq!(empty.total_pairs, 0);
    assert!(
        empty.memory_bytes > 0 && empty.memory_bytes <= 4 << 20,
        "{empty:?}"
    );
    assert_eq!(empty.capacity, 5000);
    for k in 1..=4 {
        t.record_price_update(p(1), k * BLOCK);
        t.record_price_update(p(2), k * BLOCK + 1);
        t.record_price_update(p(3), k * BLOCK + 2);
    }
    let s = t.stats();
    assert_eq!(s.total_pairs, 3);
    assert_eq!(s.total_updates, 12);
    assert_eq!(s.total_co_occurrences, 4 * 3);
    assert_eq!(s.scored_relations, 3);
    assert!(s.avg_correlation_score > 0.99);
    assert_eq!(s.memory_bytes, empty.memory_bytes);
    assert_eq!(s.latest_ts_ms, 4 * BLOCK + 2);
    t.reset();
    let r = t.stats();
    assert_eq!(
        (r.total_pairs, r.total_updates, r.total_co_occurrences),
        (0, 0, 0)
    );
    assert!(t.pairs_to_warm(p(1), 4 * BLOCK, 5, 0.0).is_empty());
    t.check_invariants().unwrap();
    // Usable again after reset.
    for k in 5..=8 {
        t.record_price_update(p(1), k * BLOCK);
        t.record_price_update(p(2), k * BLOCK + 1);
    }
    assert_eq!(
        pairs(&t.pairs_to_warm(p(1), 8 * BLOCK + 1, 5, 0.0)),
        vec![2]
    );
}

#[test]
fn odd_timestamps_do_not_break_anything() {
    let t = tracker();
    for (n, ts) in [
        (1, 0),
        (2, u64::MAX),
        (3, u64::MAX - 1),
        (1, 5),
        (2, 3),
        (4, 1_700_000_000_000),
        (1, 2),
        (5, 1_699_000_000_000),
    ] {
        t.record_price_update(p(n), ts);
        t.record_read(p(n), ts);
    }
    t.check_invariants().unwrap();
    for n in 1..=5 {
        for now in [0, 1_700_000_000_000, u64::MAX] {
            for c in t.pairs_to_warm(p(n), now, 5, 0.0) {
                assert!((0.0..=1.0).contains(&c.score) && c.co_occurrences.is_finite());
            }
        }
    }
}

#[test]
fn config_is_validated() {
    for bad in [
        TrackerConfig {
            neighbours_per_pair: 6,
            ..TrackerConfig::default()
        },
        TrackerConfig {
            max_tracked_pairs: 1,
            ..TrackerConfig::default()
        },
        TrackerConfig {
            half_life_ms: 0,
            ..TrackerConfig::default()
        },
        TrackerConfig {
            min_co_occurrences: -1.0,
            ..TrackerConfig::default()
        },
    ] {
        let err = CorrelationTracker::new(bad).unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
    }
    let t = tracker();
    assert_eq!(t.config(), &TrackerConfig::default());
}

#[test]
fn concurrent_writers_and_readers_stay_in_bounds() {
    let t = Arc::new(with(TrackerConfig {
        max_tracked_pairs: 256,
        ..TrackerConfig::default()
    }));
    let memory = t.stats().memory_bytes;
    let threads: Vec<_> = (0..4u32)
        .map(|id| {
            let t = Arc::clone(&t);
            std::thread::spawn(move || {
                let mut x = 0x9E37_79B9u32.wrapping_mul(id + 1);
                for i in 0..20_000u64 {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    let pair = p(x % 1_000);
                    t.record_price_update(pair, 1_000_000 + i);
                    if i % 16 == 0 {
                        t.record_read(pair, 1_000_000 + i);
                        for c in t.pairs_to_warm(pair, 1_000_000 + i, 8, 0.0) {
                            assert!((0.0..=1.0).contains(&c.score));
                            assert_ne!(c.pair, pair);
                        }
                    }
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    let s = t.stats();
    assert_eq!(s.total_updates, 80_000);
    assert!(s.total_pairs <= 256);
    assert_eq!(s.memory_bytes, memory);
}
