//! Runtime behaviour of the metrics: scrape-time cache sync, tracking sampling, handle
//! lookup and bounds, and use from several threads.

use std::sync::Arc;
use std::time::Duration;

use pairwarm::cache::{ChainCacheStats, HierarchicalCache, Price};
use pairwarm::metrics::{
    CacheLevel, OVERFLOW_CHAIN, TRACKING_SAMPLE_PERIOD, WarmOutcome, WarmingMetrics,
};
use pairwarm::pair::{MAX_CHAINS, PairInterner};

fn stats(
    chain: &str,
    l1_hits: u64,
    l1_misses: u64,
    l2_hits: u64,
    l2_misses: u64,
) -> ChainCacheStats {
    ChainCacheStats {
        chain: chain.into(),
        l1_hits,
        l1_misses,
        l2_hits,
        l2_misses,
    }
}

#[test]
fn sync_cache_adds_deltas_and_survives_a_reset() {
    let m = WarmingMetrics::default();
    m.sync_cache(&[stats("ethereum", 10, 5, 3, 2), stats("bsc", 1, 1, 0, 0)]);
    let eth = m.chain_by_name("ethereum");
    assert_eq!(eth.cache_counts(CacheLevel::L1), (10, 5));
    assert_eq!(eth.cache_counts(CacheLevel::L2), (3, 2));

    // Same values again: nothing new.
    m.sync_cache(&[stats("ethereum", 10, 5, 3, 2)]);
    assert_eq!(eth.cache_counts(CacheLevel::L1), (10, 5));

    // Growth: only the delta is added.
    m.sync_cache(&[stats("ethereum", 25, 6, 3, 9)]);
    assert_eq!(eth.cache_counts(CacheLevel::L1), (25, 6));
    assert_eq!(eth.cache_counts(CacheLevel::L2), (3, 9));

    // The source was reset (reset_stats) and has counted 4 hits since: add them all.
    m.sync_cache(&[stats("ethereum", 4, 0, 1, 9)]);
    assert_eq!(eth.cache_counts(CacheLevel::L1), (29, 6));
    assert_eq!(eth.cache_counts(CacheLevel::L2), (4, 9));
    m.sync_cache(&[stats("ethereum", 6, 1, 1, 9)]);
    assert_eq!(eth.cache_counts(CacheLevel::L1), (31, 7));

    // Per chain: bsc's state is its own (the original kept one previous value for all).
    assert_eq!(m.chain_by_name("bsc").cache_counts(CacheLevel::L1), (1, 1));
    let text = m.encode_prometheus().unwrap();
    assert!(text.contains(r#"arbitrage_cache_hits_total{cache_level="L1",chain="ethereum"} 31"#));
    assert!(text.contains(r#"arbitrage_cache_misses_total{cache_level="L2",chain="bsc"} 0"#));
}

#[test]
fn sync_cache_from_a_real_cache_matches_its_counters() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let cache = HierarchicalCache::builder()
            .l1_entries(1_000)
            .build_in_memory();
        let interner = cache.interner().clone();
        let a = interner
            .intern_str("ethereum", "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc")
            .unwrap();
        let b = interner
            .intern_str("ethereum", "0x0d4a11d5EEaaC28EC3F61d100daF4d40471f1852")
            .unwrap();
        let price = Price::new(1850.25, 19_000_000, 1_700_000_000_000);
        cache.set(a, price).await.unwrap();
        cache.get(a).await.unwrap(); // l1 hit
        for _ in 0..3 {
            cache.get(b).await.unwrap(); // l1 miss, l2 miss
        }
        cache.get(a).await.unwrap(); // l1 hit

        let m = WarmingMetrics::default();
        let eth_id = interner.chain_id("ethereum").unwrap();
        let eth = m.chain(eth_id, "ethereum");
        m.sync_cache(&cache.stats_by_chain());
        assert_eq!(eth.cache_counts(CacheLevel::L1), (2, 3));
        assert_eq!(eth.cache_counts(CacheLevel::L2), (0, 3));

        cache.clear_l1();
        cache.reset_stats(); // zeroes the cache's counters
        cache.get(a).await.unwrap(); // l1 miss, l2 hit
        m.sync_cache(&cache.stats_by_chain());
        assert_eq!(eth.cache_counts(CacheLevel::L1), (2, 4));
        assert_eq!(eth.cache_counts(CacheLevel::L2), (1, 3));
    });
}

#[test]
fn tracking_is_sampled_exactly_one_in_64() {
    // A fresh thread: the sampler's thread-local counters start at zero.
    std::thread::spawn(|| {
        let interner = PairInterner::new(10);
        let eth = interner.chain_id("ethereum").unwrap();
        let bsc = interner.chain_id("bsc").unwrap();
        let m = WarmingMetrics::default();
        let (e, b) = (m.chain(eth, "ethereum"), m.chain(bsc, "bsc"));
        let mut sampled = 0u32;
        for i in 0..6_400u32 {
            sampled += u32::from(e.sampler().should_sample());
            // Interleaving another chain on the same thread must not starve or bias either.
            let n = b.time_tracking(|| i.wrapping_mul(3));
            std::hint::black_box(n);
        }
        assert_eq!(sampled, 6_400 / TRACKING_SAMPLE_PERIOD);
        assert_eq!(b.tracking_duration.snapshot().count, 100);
        assert_eq!(e.tracking_duration.snapshot().count, 0);
        for _ in 0..6_400 {
            let _timer = e.start_tracking_timer();
        }
        assert_eq!(e.tracking_duration.snapshot().count, 100);
        // A sampled timer measures real time.
        let sum = b.tracking_duration.snapshot().sum;
        assert!(sum > 0.0, "{sum}");
    })
    .join()
    .unwrap();
}

#[test]
fn timer_records_when_dropped_and_sampling_is_per_thread() {
    let m = Arc::new(WarmingMetrics::default());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                let h = m.chain_by_name("ethereum");
                for _ in 0..640 {
                    if let Some(timer) = h.start_tracking_timer() {
                        std::thread::sleep(Duration::from_micros(1));
                        timer.finish();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let snap = m.chain_by_name("ethereum").tracking_duration.snapshot();
    assert_eq!(snap.count, 4 * 10);
    // Each sampled call slept >= 1 µs.
    assert!(snap.sum >= 40.0, "{}", snap.sum);
}

#[test]
fn chain_handles_are_cached_and_shared_by_name() {
    let interner = PairInterner::new(10);
    let eth = interner.chain_id("ethereum").unwrap();
    let m = WarmingMetrics::default();
    assert!(m.chain_if_registered(eth).is_none());
    let first: *const _ = m.chain(eth, "ethereum");
    // The name is only read on first registration.
    let again: *const _ = m.chain(eth, "ignored");
    assert_eq!(first, again);
    assert!(std::ptr::eq(m.chain_by_name("ethereum"), first));
    assert!(std::ptr::eq(m.chain_if_registered(eth).unwrap(), first));
    assert_eq!(m.chains().count(), 1);
    assert_eq!(m.chains().next().map(|c| c.name()), Some("ethereum"));
}

#[test]
fn more_chains_than_the_table_holds_share_an_overflow_series() {
    let m = WarmingMetrics::default();
    for i in 0..MAX_CHAINS + 5 {
        m.chain_by_name(&format!("chain{i}")).price_updates.inc();
    }
    assert_eq!(m.chains().count(), MAX_CHAINS + 1);
    let overflow = m.chain_by_name("yet-another");
    assert_eq!(overflow.name(), OVERFLOW_CHAIN);
    assert_eq!(overflow.price_updates.get(), 5);
    let text = m.encode_prometheus().unwrap();
    assert!(text.contains(r#"arbitrage_price_updates_total{chain="_overflow"} 5"#));
    assert!(text.contains(r#"arbitrage_price_updates_total{chain="chain63"} 1"#));
}

#[test]
fn handles_are_usable_from_many_threads_while_scraping() {
    let interner = Arc::new(PairInterner::new(100));
    let chains: Vec<_> = ["ethereum", "bsc", "arbitrum", "polygon"]
        .iter()
        .map(|c| (interner.chain_id(c).unwrap(), *c))
        .collect();
    let m = Arc::new(WarmingMetrics::new("pw_").unwrap());
    const PER_THREAD: u64 = 5_000;
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let m = Arc::clone(&m);
            let chains = chains.clone();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    // Every thread touches every chain; registration races included.
                    let (id, name) = chains[((i + t) % 4) as usize];
                    let h = m.chain(id, name);
                    h.price_updates.inc();
                    h.record_warm(WarmOutcome::Success, 2, Duration::from_micros(150));
                }
            })
        })
        .collect();
    let scraper = {
        let m = Arc::clone(&m);
        std::thread::spawn(move || {
            for _ in 0..20 {
                let text = m.encode_prometheus().unwrap();
                openmetrics_parser::prometheus::parse_prometheus(&text).unwrap();
                let _ = m.encode_json(true);
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    scraper.join().unwrap();

    let total = 4 * PER_THREAD;
    let updates: u64 = m.chains().map(|c| c.price_updates.get()).sum();
    let warms: u64 = m.chains().map(|c| c.warming_success.get()).sum();
    let pairs: u64 = m.chains().map(|c| c.pairs_warmed.get()).sum();
    let observed: u64 = m
        .chains()
        .map(|c| c.warming_duration.snapshot().count)
        .sum();
    assert_eq!(m.chains().count(), 4);
    assert_eq!(
        (updates, warms, pairs, observed),
        (total, total, 2 * total, total)
    );
    for c in m.chains() {
        assert_eq!(c.price_updates.get(), PER_THREAD, "{}", c.name());
        let snap = c.warming_duration.snapshot();
        let le_025 = snap.buckets.iter().find(|(b, _)| *b == 0.25).map(|b| b.1);
        assert_eq!(le_025, Some(PER_THREAD));
        assert!((snap.sum - 0.15 * PER_THREAD as f64).abs() < 1e-6);
    }
}
