//! Warm start and refresh-ahead through the warmer's public API, on an in-memory L2 and a
//! manual clock.

use std::sync::Arc;
use std::time::Duration;

use pairwarm::cache::{Clock, HierarchicalCache, MemoryL2, Price};
use pairwarm::pair::{Address, PairId, PairKey};
use pairwarm::strategy::StrategyConfig;
use pairwarm::tracker::{CorrelationTracker, TrackerConfig};
use pairwarm::warmer::{CacheWarmer, RefreshConfig, WarmStatus, WarmerConfig};

fn address(n: u32) -> Address {
    let mut b = [0u8; 20];
    b[..4].copy_from_slice(&n.to_be_bytes());
    b[19] = 0x77;
    Address::from_bytes(b)
}

struct Setup {
    cache: Arc<HierarchicalCache<MemoryL2>>,
    tracker: Arc<CorrelationTracker>,
    warmer: CacheWarmer<MemoryL2>,
    ids: Vec<PairId>,
    clock: Clock,
}

fn setup(l1: usize, ttl_ms: Option<u64>) -> Setup {
    let clock = Clock::manual(1_000_000);
    let cache = Arc::new(
        HierarchicalCache::builder()
            .l1_entries(l1)
            .l1_ttl(ttl_ms.map(Duration::from_millis))
            .clock(clock.clone())
            .build(MemoryL2::new()),
    );
    let tracker = Arc::new(CorrelationTracker::new(TrackerConfig::default()).unwrap());
    let warmer = CacheWarmer::new(
        cache.clone(),
        tracker.clone(),
        StrategyConfig::default().build(),
        WarmerConfig {
            async_warming: false,
            ..WarmerConfig::default()
        },
    )
    .unwrap();
    let chain = cache.interner().chain_id("ethereum").unwrap();
    let ids = (0..20)
        .map(|n| {
            cache.interner().intern(PairKey {
                chain,
                address: address(n),
            })
        })
        .collect();
    Setup {
        cache,
        tracker,
        warmer,
        ids,
        clock,
    }
}

#[tokio::test]
async fn warm_start_loads_the_hottest_tracked_pairs_up_to_the_l1_size() {
    let s = setup(4, None);
    // Pair i is updated 20 - i times: 0 is the hottest.
    for (i, &id) in s.ids.iter().enumerate() {
        s.cache.set(id, Price::new(i as f64, 1, 1)).await.unwrap();
        for k in 0..(20 - i as u64) {
            s.tracker.record_price_update(id, 1_000 + k * 10_000);
        }
    }
    assert_eq!(s.tracker.hottest(3, 300_000), s.ids[..3].to_vec());
    // A restart: L1 empty, the tracker as restored.
    s.cache.clear_l1();
    let result = s.warmer.warm_start(300_000).await;
    assert_eq!(result.status, WarmStatus::Completed);
    assert_eq!(result.pairs_warmed, 4);
    for (i, &id) in s.ids.iter().enumerate() {
        assert_eq!(s.cache.contains_l1(id), i < 4, "pair {i}");
    }
    assert_eq!(s.cache.peek_l1(s.ids[2]), Some(Price::new(2.0, 1, 1)));
}

#[tokio::test]
async fn refresh_once_renews_read_entries_in_one_batch() {
    let s = setup(64, Some(1_000));
    for (i, &id) in s.ids.iter().enumerate() {
        s.cache.set(id, Price::new(i as f64, 1, 1)).await.unwrap();
    }
    // Pairs 0..5 are read; the others are not.
    s.clock.advance_ms(100);
    for &id in &s.ids[..5] {
        assert!(s.cache.get_l1_only(id).is_some());
    }
    let config = RefreshConfig::default();
    // Long before expiry nothing is due.
    assert_eq!(s.warmer.refresh_once(&config, 5).await, 0);
    // 900 ms after the write, expiry (1,000 ms) falls within the next interval.
    s.clock.advance_ms(800);
    assert_eq!(s.warmer.refresh_once(&config, 5).await, 5);
    assert_eq!(s.warmer.stats().refresh_batches, 1);
    assert_eq!(s.warmer.stats().pairs_refreshed, 5);
    // Past the original expiry: the read pairs are fresh, the others expired.
    s.clock.advance_ms(300);
    for (i, &id) in s.ids.iter().enumerate() {
        assert_eq!(s.cache.contains_l1(id), i < 5, "pair {i}");
    }
}
