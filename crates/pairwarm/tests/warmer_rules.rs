//! The warmer's rules that need no Redis: a warm in flight never brings back a price
//! deleted or invalidated meanwhile, manual warms count each pair once, the configured
//! minimum score can raise the strategy's bar, and `update_config` resizes the queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pairwarm::cache::{HierarchicalCache, L2Error, L2Store, L2Write, MemoryL2, Price};
use pairwarm::pair::PairId;
use pairwarm::strategy::StrategyConfig;
use pairwarm::tracker::{CorrelationTracker, TrackerConfig};
use pairwarm::warmer::{CacheWarmer, WarmStatus, WarmerConfig};
use tokio::sync::{Notify, Semaphore};

/// An L2 whose `MGET` reads at once and then, while armed, waits for `release` before
/// answering: the window in which a warm is in flight with a value already read.
#[derive(Clone)]
struct GatedL2 {
    inner: MemoryL2,
    armed: Arc<AtomicBool>,
    read: Arc<Notify>,
    gate: Arc<Semaphore>,
}

impl Default for GatedL2 {
    fn default() -> Self {
        Self {
            inner: MemoryL2::new(),
            armed: Arc::default(),
            read: Arc::default(),
            gate: Arc::new(Semaphore::new(0)),
        }
    }
}

impl GatedL2 {
    fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    fn release(&self) {
        self.armed.store(false, Ordering::SeqCst);
        self.gate.add_permits(1);
    }
}

impl L2Store for GatedL2 {
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, L2Error> {
        let values = self.inner.get_many(keys).await?;
        if self.armed.load(Ordering::SeqCst) {
            self.read.notify_one();
            let _ = self.gate.acquire().await;
        }
        Ok(values)
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), L2Error> {
        self.inner.set(key, value, ttl).await
    }

    async fn set_many(&self, items: Vec<L2Write>, ttl: Duration) -> Result<Vec<bool>, L2Error> {
        self.inner.set_many(items, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<(), L2Error> {
        self.inner.delete(key).await
    }

    fn round_trips(&self) -> u64 {
        self.inner.round_trips()
    }

    fn name(&self) -> &'static str {
        "gated"
    }
}

fn pair<L: L2Store>(cache: &HierarchicalCache<L>, n: u32) -> PairId {
    cache
        .interner()
        .intern_str(
            "ethereum",
            &format!("0x{:040x}", 0xfeed_0000_u64 + u64::from(n)),
        )
        .unwrap()
}

fn sync_config() -> WarmerConfig {
    WarmerConfig {
        async_warming: false,
        timeout_ms: 5_000,
        ..WarmerConfig::default()
    }
}

fn warmer<L: L2Store>(cache: &Arc<HierarchicalCache<L>>, config: WarmerConfig) -> CacheWarmer<L> {
    let tracker = Arc::new(CorrelationTracker::new(TrackerConfig::default()).unwrap());
    let strategy = StrategyConfig::parse("topn", None).unwrap().build();
    CacheWarmer::new(cache.clone(), tracker, strategy, config).unwrap()
}

/// How the pair's price changes while the warm is in flight.
#[derive(Clone, Copy, Debug)]
enum Meanwhile {
    /// `delete`: gone from L1 and L2.
    Delete,
    /// Another process writes L2 and tells us to drop our L1 copy.
    InvalidateL1,
}

async fn warm_in_flight_then(meanwhile: Meanwhile) {
    let l2 = GatedL2::default();
    let cache = Arc::new(
        HierarchicalCache::builder()
            .l1_entries(64)
            .build(l2.clone()),
    );
    let p = pair(&cache, 1);
    let old = Price::new(100.0, 1, 1_000);
    cache.set(p, old).await.unwrap();
    cache.invalidate_l1(p);
    let warmer = warmer(&cache, sync_config());

    l2.arm();
    let warm = tokio::spawn({
        let warmer = warmer.clone();
        async move { warmer.warm_pairs(&[p]).await }
    });
    // The warm's MGET has read `old` and is on its way back.
    l2.read.notified().await;
    match meanwhile {
        Meanwhile::Delete => cache.delete(p).await.unwrap(),
        Meanwhile::InvalidateL1 => {
            let key = cache.l2_key(p).unwrap();
            let newer = br#"{"price":101.0,"block":2,"timestamp":2000}"#.to_vec();
            l2.inner
                .set(&key, newer, Duration::from_secs(60))
                .await
                .unwrap();
            assert!(!cache.invalidate_l1(p), "nothing was in L1 yet");
        }
    }
    l2.release();
    let result = warm.await.unwrap();

    assert_eq!(result.status, WarmStatus::Completed, "{meanwhile:?}");
    assert_eq!(result.pairs_warmed, 0, "{meanwhile:?}: {result:?}");
    assert_eq!(
        cache.peek_l1(p),
        None,
        "{meanwhile:?}: old price back in L1"
    );
    let now = cache.get(p).await.unwrap();
    match meanwhile {
        Meanwhile::Delete => assert_eq!(now, None),
        Meanwhile::InvalidateL1 => assert_eq!(now.map(|p| p.price), Some(101.0)),
    }
}

#[tokio::test]
async fn a_warm_in_flight_never_restores_a_deleted_price() {
    warm_in_flight_then(Meanwhile::Delete).await;
}

#[tokio::test]
async fn a_warm_in_flight_never_restores_an_invalidated_price() {
    warm_in_flight_then(Meanwhile::InvalidateL1).await;
}

#[tokio::test]
async fn warm_pairs_counts_and_fetches_each_pair_once() {
    let l2 = MemoryL2::new();
    let cache = Arc::new(
        HierarchicalCache::builder()
            .l1_entries(64)
            .build(l2.clone()),
    );
    let (a, b) = (pair(&cache, 1), pair(&cache, 2));
    for p in [a, b] {
        cache.set(p, Price::new(1.0, 1, 1)).await.unwrap();
        cache.invalidate_l1(p);
    }
    let warmer = warmer(&cache, sync_config());
    let trips = l2.round_trips();
    let result = warmer.warm_pairs(&[a, b, a, b, a]).await;
    assert_eq!(
        (result.pairs_attempted, result.pairs_warmed),
        (2, 2),
        "{result:?}"
    );
    assert_eq!(l2.round_trips() - trips, 1, "one MGET");
    assert_eq!(warmer.stats().total_pairs_warmed, 2);
}

/// `source` updates 10 times, `partner` 10 times, 5 of them right after `source`:
/// a score of about 0.5.
fn half_correlated(tracker: &CorrelationTracker, source: PairId, partner: PairId) -> u64 {
    let mut t = 1_000;
    for i in 0..10 {
        tracker.record_price_update(source, t);
        if i % 2 == 0 {
            tracker.record_price_update(partner, t + 1);
        } else {
            tracker.record_price_update(partner, t + 3_000);
        }
        t += 6_000;
    }
    t
}

#[test]
fn the_configured_minimum_score_can_raise_the_strategys_bar() {
    let cache = Arc::new(
        HierarchicalCache::builder()
            .l1_entries(64)
            .build_in_memory(),
    );
    let (source, partner) = (pair(&cache, 1), pair(&cache, 2));
    let tracker = Arc::new(CorrelationTracker::new(TrackerConfig::default()).unwrap());
    let now = half_correlated(&tracker, source, partner);
    let score = tracker.correlation_score(source, partner, now).unwrap();
    assert!((0.4..0.6).contains(&score), "score {score}");

    // topn's own bar is 0.3.
    let strategy = StrategyConfig::parse("topn", None).unwrap().build();
    let warmer = |min_correlation_score| {
        CacheWarmer::new(
            cache.clone(),
            tracker.clone(),
            strategy.clone(),
            WarmerConfig {
                min_correlation_score,
                ..sync_config()
            },
        )
        .unwrap()
    };
    assert_eq!(warmer(0.3).plan(source, now).selected, vec![partner]);
    assert_eq!(warmer(0.0).plan(source, now).selected, vec![partner]);
    assert_eq!(
        warmer(0.9).plan(source, now).selected,
        Vec::<PairId>::new(),
        "a bar of 0.9 must not warm a pair scoring {score}"
    );
    // The strategy's bar still holds when the configured one is lower.
    let strict = StrategyConfig::parse("topn", Some(r#"{"topN":5,"minScore":0.9}"#))
        .unwrap()
        .build();
    let w = CacheWarmer::new(cache.clone(), tracker.clone(), strict, sync_config()).unwrap();
    assert!(w.plan(source, now).selected.is_empty());
}

#[test]
fn update_config_resizes_the_queue() {
    // No runtime: the worker cannot start, so queued jobs stay queued.
    let cache = Arc::new(
        HierarchicalCache::builder()
            .l1_entries(64)
            .build_in_memory(),
    );
    let warmer = warmer(&cache, WarmerConfig::default());
    assert_eq!(warmer.queue_capacity(), 4096);
    let pairs: Vec<PairId> = (0..20).map(|n| pair(&cache, n)).collect();
    for &p in &pairs {
        assert_eq!(warmer.enqueue(p, 1), WarmStatus::Queued);
    }
    assert_eq!(warmer.stats().queue_depth, 20);

    // Shrinking keeps the newest jobs and frees the dropped pairs for later triggers.
    warmer
        .update_config(WarmerConfig {
            queue_capacity: 8,
            ..WarmerConfig::default()
        })
        .unwrap();
    assert_eq!(warmer.queue_capacity(), 8);
    let stats = warmer.stats();
    assert_eq!((stats.queue_depth, stats.dropped), (8, 12), "{stats:?}");
    assert_eq!(warmer.enqueue(pairs[19], 2), WarmStatus::Debounced);
    assert_eq!(warmer.enqueue(pairs[0], 2), WarmStatus::Queued);
    assert_eq!(warmer.stats().queue_depth, 8);

    // Growing keeps every queued job.
    warmer
        .update_config(WarmerConfig {
            queue_capacity: 32,
            ..WarmerConfig::default()
        })
        .unwrap();
    assert_eq!(warmer.queue_capacity(), 32);
    for &p in &pairs[1..12] {
        assert_eq!(warmer.enqueue(p, 3), WarmStatus::Queued);
    }
    assert_eq!(warmer.stats().queue_depth, 19);
}

/// With the pools' tokens described, a warm plans the updated pool's structural neighbours
/// first (those not in L1), then the strategy's picks, within `max_pairs_per_warm`; with
/// `structure` off, or for a pool without tokens, only the strategy's.
#[test]
fn structural_neighbours_come_first_and_only_when_enabled() {
    let cache = Arc::new(
        HierarchicalCache::builder()
            .l1_entries(64)
            .build_in_memory(),
    );
    let p: Vec<PairId> = (0..6).map(|n| pair(&cache, n)).collect();
    let eth = cache.interner().chain_id("ethereum").unwrap();
    let tracker = Arc::new(CorrelationTracker::new(TrackerConfig::default()).unwrap());
    let now = half_correlated(&tracker, p[0], p[5]);
    let config = WarmerConfig {
        max_pairs_per_warm: 3,
        ..sync_config()
    };
    let topn = StrategyConfig::parse("topn", None).unwrap().build();
    let w = CacheWarmer::new(cache.clone(), tracker.clone(), topn, config.clone()).unwrap();
    // p1..p3 trade the same tokens as p0 (other DEXes); p4 another pair.
    for (i, tokens) in [
        ("USDC", "WETH"),
        ("WETH", "USDC"),
        ("USDC", "WETH"),
        ("USDC", "WETH"),
        ("DAI", "WBTC"),
    ]
    .iter()
    .enumerate()
    {
        assert!(w.structure().observe(p[i], eth, tokens.0, tokens.1));
    }
    cache.set_l1(p[2], Price::new(1.0, 1, 1));
    let plan = w.plan(p[0], now);
    // p2 is in L1: skipped; p1 and p3 first, then topn's partner p5.
    assert_eq!(plan.selected, vec![p[1], p[3], p[5]]);
    assert_eq!(plan.to_fetch, vec![p[1], p[3], p[5]]);
    // A pool without tokens: the strategy alone.
    let plan = w.plan(p[5], now);
    assert!(!plan.selected.contains(&p[1]), "{:?}", plan.selected);
    w.update_config(WarmerConfig {
        structure: false,
        ..config
    })
    .unwrap();
    assert_eq!(w.plan(p[0], now).selected, vec![p[5]]);
}
