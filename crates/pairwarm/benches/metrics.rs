//! Hot-path cost of the metrics: handle lookup + counter add, the sampled tracking timer,
//! `record_warm`, and a full scrape. Run with `cargo bench -p pairwarm --bench metrics`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use pairwarm::cache::ChainCacheStats;
use pairwarm::metrics::{WarmOutcome, WarmingMetrics};
use pairwarm::pair::PairInterner;

fn hot_path(c: &mut Criterion) {
    let interner = PairInterner::new(100);
    let eth = interner
        .chain_id("ethereum")
        .unwrap_or_else(|e| panic!("{e}"));
    let metrics = WarmingMetrics::default();
    metrics.chain(eth, "ethereum");

    c.bench_function("metrics/chain_lookup_and_inc", |b| {
        b.iter(|| {
            metrics
                .chain(black_box(eth), "ethereum")
                .price_updates
                .inc()
        })
    });
    let handles = metrics.chain(eth, "ethereum");
    c.bench_function("metrics/cached_handle_inc", |b| {
        b.iter(|| black_box(handles).price_updates.inc())
    });
    c.bench_function("metrics/tracking_timer_sampled_1_in_64", |b| {
        b.iter(|| {
            let _timer = handles.start_tracking_timer();
            black_box(1u64)
        })
    });
    c.bench_function("metrics/record_warm", |b| {
        b.iter(|| {
            handles.record_warm(
                WarmOutcome::Success,
                3,
                black_box(Duration::from_micros(200)),
            )
        })
    });
}

fn scrape(c: &mut Criterion) {
    let metrics = WarmingMetrics::default();
    let chains = [
        "ethereum",
        "bsc",
        "arbitrum",
        "polygon",
        "optimism",
        "base",
        "avalanche",
        "fantom",
    ];
    let stats: Vec<ChainCacheStats> = chains
        .iter()
        .map(|name| {
            metrics.chain_by_name(name).record_warm(
                WarmOutcome::Success,
                2,
                Duration::from_millis(1),
            );
            ChainCacheStats {
                chain: (*name).to_owned(),
                l1_hits: 10,
                l1_misses: 1,
                l2_hits: 1,
                l2_misses: 0,
            }
        })
        .collect();
    c.bench_function("metrics/scrape_8_chains_prometheus", |b| {
        b.iter(|| {
            metrics.sync_cache(&stats);
            metrics.encode_prometheus().map(|s| s.len()).unwrap_or(0)
        })
    });
}

criterion_group!(benches, hot_path, scrape);
criterion_main!(benches);
