//! Learning from misses: the cache tells its `ReadObserver` of the reads a warm could have
//! served (misses, first reads of warmed entries) and of no other, and a container built
//! with `learn_from_misses` feeds them to its tracker as reads after updates.

use std::sync::Arc;
use std::time::Duration;

use pairwarm::cache::{Clock, HierarchicalCache, L1Policy, Price, ReadObserver};
use pairwarm::container::{WarmingComponents, WarmingConfig, WarmingContainer};
use pairwarm::pair::{Address, PairId, PairKey};
use pairwarm::tracker::Signal;
use parking_lot::Mutex;

#[derive(Default)]
struct Seen(Mutex<Vec<(PairId, u64)>>);

struct Recorder(Arc<Seen>);

impl ReadObserver for Recorder {
    fn on_warmable_read(&self, id: PairId, now_ms: u64) {
        self.0.0.lock().push((id, now_ms));
    }
}

fn pair(cache: &HierarchicalCache<pairwarm::cache::MemoryL2>, n: u8) -> PairId {
    let chain = cache.interner().chain_id("ethereum").unwrap();
    cache.interner().intern(PairKey {
        chain,
        address: Address::from_bytes([n; 20]),
    })
}

fn price(v: f64) -> Price {
    Price::new(v, 1, 1)
}

/// A 64-entry cache on `clock` (the system clock if `None`) with a container learning from
/// its misses (own tracker, `window_ms` as given), and three pools a, b, c.
fn learning(
    clock: Option<&Clock>,
    window_ms: u64,
) -> (
    Arc<HierarchicalCache<pairwarm::cache::MemoryL2>>,
    WarmingComponents<pairwarm::cache::MemoryL2>,
    [PairId; 3],
) {
    let mut builder = HierarchicalCache::builder().l1_entries(64);
    if let Some(clock) = clock {
        builder = builder.clock(clock.clone());
    }
    let cache = Arc::new(builder.build_in_memory());
    let pools = [pair(&cache, 1), pair(&cache, 2), pair(&cache, 3)];
    let mut config = WarmingConfig {
        learn_from_misses: true,
        use_shared_analyzer: false,
        enable_metrics: false,
        ..WarmingConfig::default()
    };
    config.tracker.window_ms = window_ms;
    let parts = WarmingContainer::new(cache.clone(), config)
        .build()
        .unwrap();
    (cache, parts, pools)
}

#[test]
fn the_observer_hears_misses_and_warmed_hits_only() {
    for policy in [
        L1Policy::Default,
        L1Policy::S3Fifo,
        L1Policy::QuickCacheAdaptive,
        L1Policy::Lru,
        L1Policy::QuickCache,
    ] {
        let clock = Clock::manual(5_000);
        let cache = HierarchicalCache::builder()
            .l1_entries(64)
            .l1_policy(policy)
            .l1_ttl(Some(Duration::from_millis(10_000)))
            .clock(clock.clone())
            .build_in_memory();
        let (a, b, c) = (pair(&cache, 1), pair(&cache, 2), pair(&cache, 3));
        let seen = Arc::new(Seen::default());
        cache.set_read_observer(Some(Box::new(Recorder(seen.clone()))));

        cache.set_l1(a, price(1.0));
        assert!(cache.get_l1_only(a).is_some());
        assert!(
            seen.0.lock().is_empty(),
            "{policy:?}: a plain hit is not heard"
        );

        clock.set_ms(5_007);
        assert!(cache.get_l1_only(b).is_none());
        assert_eq!(
            *seen.0.lock(),
            vec![(b, 5_007)],
            "{policy:?}: a miss is heard"
        );

        // A warmed entry's first read is a guess that paid; its second is a plain hit.
        assert!(
            cache.promote(c, price(3.0)).0,
            "{policy:?}: room for the guess"
        );
        assert!(cache.get_l1_only(c).is_some());
        assert!(cache.get_l1_only(c).is_some());
        let heard: Vec<PairId> = seen.0.lock().iter().map(|&(id, _)| id).collect();
        let mut expected = if matches!(policy, L1Policy::Lru | L1Policy::QuickCache) {
            // The crate-backed stores hold a guess as a plain entry: they cannot tell.
            vec![b]
        } else {
            vec![b, c]
        };
        assert_eq!(heard, expected, "{policy:?}");

        // An expired entry's read is a miss a refresh or a warm could have served.
        clock.set_ms(5_000 + 10_001);
        assert!(cache.get_l1_only(a).is_none());
        expected.push(a);
        let heard: Vec<PairId> = seen.0.lock().iter().map(|&(id, _)| id).collect();
        assert_eq!(heard, expected, "{policy:?}: expired");

        cache.set_read_observer(None);
        assert!(cache.get_l1_only(b).is_none());
        assert_eq!(seen.0.lock().len(), expected.len(), "{policy:?}: removed");
    }
}

#[test]
fn a_container_learning_from_misses_credits_the_update_before_a_miss() {
    let clock = Clock::manual(10_000);
    let (cache, parts, [a, b, c]) = learning(Some(&clock), 1_000);
    let tracker = &parts.tracker;
    assert_eq!(tracker.config().signal, Signal::Reads);
    cache.set_l1(c, price(3.0));
    for round in 0..5u64 {
        let t = 10_000 + round * 5_000;
        clock.set_ms(t);
        tracker.record_price_update(a, t);
        tracker.record_price_update(b, t);
        tracker.record_price_update(c, t);
        clock.set_ms(t + 3);
        // b missed 3 ms after a's update; c was read too, but hit.
        assert!(cache.get_l1_only(b).is_none());
        assert!(cache.get_l1_only(c).is_some());
    }
    let now = 10_000 + 4 * 5_000 + 3;
    let ab = tracker.correlation_score(a, b, now).unwrap_or(0.0);
    let ac = tracker.correlation_score(a, c, now).unwrap_or(0.0);
    assert!(ab > 0.5, "a's updates are followed by b's misses: {ab}");
    assert_eq!(ac, 0.0, "c's reads hit: nothing to learn");

    // Removed: the cache no longer feeds the tracker.
    cache.set_read_observer(None);
    let before = tracker.stats();
    clock.set_ms(now + 10);
    assert!(cache.get_l1_only(b).is_none());
    assert_eq!(tracker.stats(), before, "the observer was removed");
    // (A read the tracker is told of does change its stats.)
    tracker.record_price_update(a, now + 11);
    let updated = tracker.stats();
    tracker.record_read(b, now + 12);
    assert_ne!(tracker.stats(), updated);
}

/// On the system clock, reads are stamped in the feed's time base: a feed whose
/// timestamps are hours behind the wall clock (block times, a replayed backlog) still has
/// its misses credited to the updates just before them.
#[test]
fn on_the_system_clock_misses_are_stamped_in_the_feeds_time() {
    let (cache, parts, [a, b, c]) = learning(None, 1_000);
    let tracker = &parts.tracker;
    assert_eq!(tracker.newest_update_ms(), None);
    // Ten hours behind the wall clock, one update of a (then of c) every 5 s of feed time.
    let lag_ms = 10 * 3_600_000;
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        - lag_ms;
    for round in 0..5u64 {
        let t = start + round * 5_000;
        tracker.record_price_update(a, t);
        tracker.record_price_update(c, t);
        assert_eq!(tracker.newest_update_ms(), Some(t));
        assert!(
            cache.get_l1_only(b).is_none(),
            "b is never cached: it misses"
        );
    }
    let now = start + 4 * 5_000 + 1;
    let ab = tracker.correlation_score(a, b, now).unwrap_or(0.0);
    assert!(
        ab > 0.5,
        "b's misses follow a's updates in the feed's time: {ab}"
    );
}

/// The stamp advances with the wall clock while the feed is quiet: a miss longer than the
/// window after the newest update credits nothing, as a read that late in a replay would.
#[test]
fn a_miss_long_after_the_newest_update_credits_nothing() {
    let (cache, parts, [a, b, c]) = learning(None, 50);
    let tracker = &parts.tracker;
    // No update yet: a miss has nothing to credit, and is not recorded.
    assert!(cache.get_l1_only(b).is_none());
    assert_eq!(tracker.stats().total_pairs, 0);
    let start = 1_600_000_000_000u64;
    for round in 0..5u64 {
        let t = start + round * 5_000;
        tracker.record_price_update(a, t);
        assert!(cache.get_l1_only(b).is_none(), "at once: credited to a");
        std::thread::sleep(Duration::from_millis(80));
        assert!(
            cache.get_l1_only(c).is_none(),
            "80 ms later: past a's window"
        );
    }
    let now = start + 4 * 5_000 + 1;
    let ab = tracker.correlation_score(a, b, now).unwrap_or(0.0);
    let ac = tracker.correlation_score(a, c, now).unwrap_or(0.0);
    assert!(ab > 0.5, "b missed right after a's updates: {ab}");
    assert_eq!(ac, 0.0, "c missed 80 ms after, beyond the 50 ms window");
}

/// A shared tracker learning from the other signal is an error, not a learner that
/// silently learns nothing; and a container that does not learn from misses leaves the
/// cache's observer alone.
#[test]
fn a_shared_tracker_must_learn_from_the_same_signal() {
    let cache = Arc::new(
        HierarchicalCache::builder()
            .l1_entries(64)
            .build_in_memory(),
    );
    let plain = WarmingConfig {
        enable_metrics: false,
        ..WarmingConfig::default()
    };
    let first = WarmingContainer::new(cache.clone(), plain.clone())
        .build()
        .unwrap();
    assert_eq!(first.tracker.config().signal, Signal::Updates);
    let misses = WarmingConfig {
        learn_from_misses: true,
        ..plain.clone()
    };
    let err = WarmingContainer::new(cache.clone(), misses)
        .build()
        .err()
        .expect("signals differ")
        .to_string();
    assert!(err.contains("Updates") && err.contains("Reads"), "{err}");

    let seen = Arc::new(Seen::default());
    cache.set_read_observer(Some(Box::new(Recorder(seen.clone()))));
    let _again = WarmingContainer::new(cache.clone(), plain).build().unwrap();
    let b = pair(&cache, 2);
    assert!(cache.get_l1_only(b).is_none());
    assert_eq!(seen.0.lock().len(), 1, "the embedder's observer is kept");
}
