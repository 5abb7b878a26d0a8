//! The warmer against a real `redis-server`, and its async queue under bursts.

use std::sync::Arc;
use std::time::Duration;

use pairwarm::cache::{HierarchicalCache, L2Store, MemoryL2, Price, RedisL2, RedisL2Config};
use pairwarm::container::{
    Profile, WarmingConfig, WarmingContainer, create_adaptive_warming, create_test_warming,
    create_top_n_warming,
};
use pairwarm::pair::PairId;
use pairwarm::strategy::StrategyConfig;
use pairwarm::tracker::{CorrelationTracker, TrackerConfig};
use pairwarm::warmer::{CacheWarmer, WarmStatus, WarmerConfig};
use pairwarm_testkit::RedisServer;

fn addr(n: u32) -> String {
    format!("0x{:040x}", 0x5eed_0000_u64 + u64::from(n))
}

fn ids<L: L2Store>(cache: &HierarchicalCache<L>, n: u32) -> Vec<PairId> {
    (0..n)
        .map(|i| cache.interner().intern_str("ethereum", &addr(i)).unwrap())
        .collect()
}

/// Makes `source` co-update with each of `partners` five times (inside the window), so the
/// tracker predicts them online.
fn train(tracker: &CorrelationTracker, source: PairId, partners: &[PairId], start_ms: u64) -> u64 {
    let mut t = start_ms;
    for _ in 0..5 {
        tracker.record_price_update(source, t);
        for (i, &p) in partners.iter().enumerate() {
            tracker.record_price_update(p, t + 1 + i as u64);
        }
        t += 5_000;
    }
    t
}

fn sync_config() -> WarmerConfig {
    WarmerConfig {
        async_warming: false,
        timeout_ms: 1_000,
        ..WarmerConfig::default()
    }
}

fn redis_cache(server: &RedisServer) -> Arc<HierarchicalCache<RedisL2>> {
    let l2 = RedisL2::connect_lazy(&RedisL2Config::new(server.url())).unwrap();
    Arc::new(HierarchicalCache::builder().l1_entries(1024).build(l2))
}

fn warmer_for<L: L2Store>(
    cache: &Arc<HierarchicalCache<L>>,
    config: WarmerConfig,
) -> (CacheWarmer<L>, Arc<CorrelationTracker>) {
    let tracker = Arc::new(CorrelationTracker::new(TrackerConfig::default()).unwrap());
    let strategy = StrategyConfig::parse("topn", None).unwrap().build();
    let warmer = CacheWarmer::new(cache.clone(), tracker.clone(), strategy, config).unwrap();
    (warmer, tracker)
}

#[tokio::test]
async fn warming_promotes_from_redis_with_one_mget_and_no_writes() {
    let server = RedisServer::start();
    let writer = redis_cache(&server);
    let cache = redis_cache(&server);
    let (warmer, tracker) = warmer_for(&cache, sync_config());
    let p = ids(&cache, 6);
    let now = train(&tracker, p[0], &[p[1], p[2], p[3], p[4]], 1_000_000);
    // Prices of 1, 2, 3 are in Redis (written by another process); 4 is nowhere.
    let w = ids(&writer, 6);
    for &i in &[1usize, 2, 3] {
        writer.set(w[i], Price::new(i as f64, 7, 7)).await.unwrap();
    }
    // 3 is already in this process's L1.
    cache.promote(p[3], Price::new(3.0, 7, 7));
    server.reset_stats();

    let result = warmer.warm_now(p[0], now).await;
    assert_eq!(result.status, WarmStatus::Completed);
    assert!(result.success);
    assert_eq!(result.pairs_attempted, 4, "{result:?}");
    assert_eq!(result.pairs_already_in_l1, 1);
    assert_eq!(result.pairs_warmed, 2);
    assert_eq!(result.pairs_not_found, 1);
    assert_eq!(server.command_calls("mget"), 1, "one round trip per warm");
    assert_eq!(server.command_calls("get"), 0);
    assert_eq!(
        server.command_calls("set"),
        0,
        "warming never writes back to Redis"
    );

    // The next read of a warmed pair is an L1 hit.
    let before = cache.stats();
    assert_eq!(cache.get(p[1]).await.unwrap().map(|p| p.price), Some(1.0));
    let after = cache.stats();
    assert_eq!(after.l1.hits, before.l1.hits + 1);
    assert_eq!(after.l2.hits, before.l2.hits);

    let stats = warmer.stats();
    assert_eq!(
        (
            stats.total_warming_ops,
            stats.successful_ops,
            stats.total_pairs_warmed
        ),
        (1, 1, 2)
    );
    assert_eq!(stats.total_pairs_already_in_l1, 1);
    assert_eq!(stats.total_pairs_not_found, 1);
    assert_eq!(stats.success_rate, 1.0);
}

#[tokio::test]
async fn redis_outage_fails_warms_but_tracking_goes_on() {
    let mut server = RedisServer::start();
    let cache = redis_cache(&server);
    let (warmer, tracker) = warmer_for(&cache, sync_config());
    let p = ids(&cache, 3);
    let now = train(&tracker, p[0], &[p[1], p[2]], 1_000_000);
    server.stop();
    let result = warmer.warm_now(p[0], now).await;
    assert!(!result.success);
    assert!(matches!(
        result.status,
        WarmStatus::Failed | WarmStatus::TimedOut
    ));
    // The tracker keeps learning while Redis is down.
    let updates_before = tracker.stats().total_updates;
    for k in 0..100 {
        tracker.record_price_update(p[k % 3], now + k as u64);
    }
    assert_eq!(tracker.stats().total_updates, updates_before + 100);
    let stats = warmer.stats();
    assert_eq!((stats.total_warming_ops, stats.failed_ops), (1, 1));
    assert_eq!(stats.success_rate, 0.0);
    server.restart();
}

#[tokio::test]
async fn slow_l2_hits_the_timeout_and_is_counted() {
    let cache = Arc::new(
        HierarchicalCache::builder()
            .l1_entries(64)
            .build(MemoryL2::new().with_latency(Duration::from_millis(200))),
    );
    let (warmer, tracker) = warmer_for(
        &cache,
        WarmerConfig {
            async_warming: false,
            timeout_ms: 20,
            ..WarmerConfig::default()
        },
    );
    let p = ids(&cache, 2);
    let now = train(&tracker, p[0], &[p[1]], 1_000_000);
    let started = std::time::Instant::now();
    let result = warmer.warm_now(p[0], now).await;
    assert_eq!(result.status, WarmStatus::TimedOut);
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "the timeout must cancel the L2 call, not wait for it"
    );
    let stats = warmer.stats();
    assert_eq!((stats.timeouts, stats.failed_ops), (1, 1));
}

#[tokio::test]
async fn async_queue_debounces_and_drops_oldest_under_a_burst() {
    // A slow L2 keeps warms pending while the burst arrives.
    let cache = Arc::new(
        HierarchicalCache::builder()
            .l1_entries(64)
            .build(MemoryL2::new().with_latency(Duration::from_millis(50))),
    );
    let (warmer, tracker) = warmer_for(
        &cache,
        WarmerConfig {
            async_warming: true,
            queue_capacity: 8,
            concurrency: 1,
            timeout_ms: 1_000,
            ..WarmerConfig::default()
        },
    );
    let p = ids(&cache, 40);
    let now = train(&tracker, p[0], &[p[1]], 1_000_000);
    // The same pair 10 times: queued once, debounced 9 times.
    for _ in 0..10 {
        let r = warmer.warm_for_pair_at(p[0], now).await;
        assert!(matches!(
            r.status,
            WarmStatus::Queued | WarmStatus::Debounced
        ));
    }
    assert_eq!(warmer.stats().debounced, 9);
    // 30 distinct pairs into a queue of 8: the oldest are dropped and counted.
    for &q in &p[2..32] {
        assert_eq!(
            warmer.warm_for_pair_at(q, now).await.status,
            WarmStatus::Queued
        );
    }
    let stats = warmer.stats();
    assert!(stats.queue_depth <= 8, "{stats:?}");
    assert!(stats.dropped >= 21, "{stats:?}");
    assert!(warmer.drain(Duration::from_secs(10)).await, "queue drains");
    let stats = warmer.stats();
    assert_eq!(stats.queue_depth, 0);
    assert_eq!(
        stats.total_warming_ops + stats.dropped,
        stats.queued,
        "{stats:?}"
    );
    warmer.shutdown();
}

#[tokio::test]
async fn disabled_warmer_does_nothing_and_counts_nothing() {
    let cache = Arc::new(
        HierarchicalCache::builder()
            .l1_entries(64)
            .build_in_memory(),
    );
    let (warmer, tracker) = warmer_for(&cache, sync_config());
    let p = ids(&cache, 2);
    let now = train(&tracker, p[0], &[p[1]], 1_000_000);
    warmer.set_enabled(false);
    assert_eq!(
        warmer.warm_now(p[0], now).await.status,
        WarmStatus::Disabled
    );
    assert_eq!(
        warmer.warm_for_pair(p[0]).await.status,
        WarmStatus::Disabled
    );
    assert_eq!(warmer.stats().total_warming_ops, 0);
    // Runtime update validates: a bad value changes nothing.
    let mut bad = warmer.config();
    bad.max_pairs_per_warm = 0;
    let err = warmer.update_config(bad).unwrap_err();
    assert_eq!(err.field, "maxPairsPerWarm");
    assert!(!warmer.config().enabled);
}

#[tokio::test]
async fn factories_and_profiles_match_the_seed() {
    let cache = Arc::new(
        HierarchicalCache::builder()
            .l1_entries(64)
            .build_in_memory(),
    );
    let topn = create_top_n_warming(cache.clone(), 7, 0.4).unwrap();
    assert_eq!(topn.strategy.name(), "topn");
    assert_eq!(topn.strategy.config()["topN"], 7);
    assert!(topn.metrics.is_some());
    let adaptive = create_adaptive_warming(cache.clone(), 0.95, 12).unwrap();
    assert_eq!(adaptive.strategy.name(), "adaptive");
    assert_eq!(adaptive.strategy.config()["maxPairs"], 12);
    let test = create_test_warming(cache.clone()).unwrap();
    assert!(test.metrics.is_none());
    assert!(!test.warmer.config().async_warming);
    // The shared tracker is shared per interner; the test factory's is private.
    assert!(Arc::ptr_eq(&topn.tracker, &adaptive.tracker));
    assert!(!Arc::ptr_eq(&topn.tracker, &test.tracker));

    let dev = WarmingConfig::profile(Profile::Development);
    assert_eq!(dev.strategy.kind(), "topn");
    assert_eq!(
        (
            dev.warmer.max_pairs_per_warm,
            dev.warmer.async_warming,
            dev.warmer.timeout_ms
        ),
        (3, false, 100)
    );
    assert!(!dev.enable_metrics && !dev.use_shared_analyzer);
    let prod = WarmingConfig::profile(Profile::Production);
    assert_eq!(prod.strategy.kind(), "adaptive");
    assert_eq!(prod.warmer.max_pairs_per_warm, 10);
    assert!(prod.metrics.include_metadata);
    let parts = WarmingContainer::new(cache.clone(), prod).build().unwrap();
    assert_eq!(parts.strategy.config()["targetHitRate"], 0.97);
    // A warm is reported to the metrics with its chain and status.
    let p = ids(&cache, 1);
    parts.warmer.warm_now(p[0], 1_000).await;
    let text = parts
        .metrics
        .unwrap()
        .render(pairwarm::metrics::ExportFormat::Prometheus)
        .unwrap();
    assert!(
        text.contains(r#"arbitrage_warming_operations_total{chain="ethereum",status="success"} 1"#),
        "{text}"
    );
}

/// A strategy that panics on a chosen source pair (a bug in a user's strategy).
struct PanicsOn(PairId);

impl pairwarm::strategy::WarmingStrategy for PanicsOn {
    fn select_into(
        &self,
        ctx: &pairwarm::strategy::WarmingContext<'_>,
        out: &mut Vec<pairwarm::strategy::WarmingCandidate>,
    ) -> pairwarm::strategy::SelectionReason {
        assert!(ctx.source != self.0, "strategy bug");
        out.clear();
        pairwarm::strategy::SelectionReason::Other("nothing")
    }
    fn name(&self) -> &'static str {
        "panics"
    }
    fn config(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn max_candidates(&self) -> usize {
        1
    }
    fn min_score(&self) -> f64 {
        0.0
    }
}

#[tokio::test]
async fn a_panicking_warm_frees_its_pair_and_does_not_block_drain() {
    let cache = Arc::new(
        HierarchicalCache::builder()
            .l1_entries(64)
            .build_in_memory(),
    );
    let p = ids(&cache, 2);
    let tracker = Arc::new(CorrelationTracker::new(TrackerConfig::default()).unwrap());
    let warmer = CacheWarmer::new(
        cache.clone(),
        tracker,
        Arc::new(PanicsOn(p[0])),
        WarmerConfig::default(),
    )
    .unwrap();
    assert_eq!(warmer.enqueue(p[0], 1), WarmStatus::Queued);
    assert!(warmer.drain(Duration::from_secs(5)).await, "drain returns");
    assert_eq!(warmer.stats().in_flight, 0);
    // The pair is no longer pending: a new trigger queues again instead of being debounced.
    assert_eq!(warmer.enqueue(p[0], 2), WarmStatus::Queued);
    assert!(warmer.drain(Duration::from_secs(5)).await);
    // Other pairs are warmed normally by the same worker.
    assert_eq!(warmer.enqueue(p[1], 3), WarmStatus::Queued);
    assert!(warmer.drain(Duration::from_secs(5)).await);
    assert_eq!(warmer.stats().total_warming_ops, 1);
}

#[tokio::test]
async fn shutdown_leaves_queued_jobs_and_dropping_the_warmer_frees_it() {
    let cache = Arc::new(
        HierarchicalCache::builder()
            .l1_entries(64)
            .build_in_memory(),
    );
    let (warmer, _tracker) = warmer_for(&cache, WarmerConfig::default());
    let p = ids(&cache, 3);
    assert_eq!(warmer.enqueue(p[0], 1), WarmStatus::Queued);
    assert!(warmer.drain(Duration::from_secs(5)).await);
    warmer.shutdown();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // After shutdown, triggers are queued but no worker runs them.
    assert_eq!(warmer.enqueue(p[1], 2), WarmStatus::Queued);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stats = warmer.stats();
    assert_eq!((stats.queue_depth, stats.total_warming_ops), (1, 1));
    // The worker does not keep the warmer (and through it the cache) alive.
    let before = Arc::strong_count(&cache);
    drop(warmer);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(Arc::strong_count(&cache) < before, "the warmer was freed");
    assert_eq!(Arc::strong_count(&cache), 1);
}
