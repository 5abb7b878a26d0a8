//! Cache micro-benchmarks: L1 hit/miss per policy against well-kept crates in the same run,
//! the price matrix, `MemoryL2`, and `RedisL2::get_many` of 1/10/100 keys on loopback.
//!
//! `cargo bench -p pairwarm --bench cache` (starts its own redis-server on 127.0.0.1).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pairwarm::cache::{
    HierarchicalCache, L1Policy, L2Store, MemoryL2, Price, RedisL2, RedisL2Config,
};
use pairwarm::container::{WarmingConfig, WarmingContainer};
use pairwarm::pair::{Address, PairId, PairKey};
use pairwarm_testkit::RedisServer;

const ENTRIES: u32 = 4096;

fn address(n: u32) -> Address {
    let mut b = [0u8; 20];
    b[..4].copy_from_slice(&n.to_be_bytes());
    Address::from_bytes(b)
}

fn filled(builder: pairwarm::cache::CacheBuilder) -> (HierarchicalCache<MemoryL2>, Vec<PairId>) {
    filled_with(builder, ENTRIES, ENTRIES as usize * 2)
}

/// The ids of ethereum pools `range` in `interner`.
fn pools(interner: &pairwarm::pair::PairInterner, range: std::ops::Range<u32>) -> Vec<PairId> {
    let chain = interner.chain_id("ethereum").unwrap();
    range
        .map(|n| {
            interner.intern(PairKey {
                chain,
                address: address(n),
            })
        })
        .collect()
}

/// A cache of `capacity` L1 entries holding pairs `0..entries`.
fn filled_with(
    builder: pairwarm::cache::CacheBuilder,
    entries: u32,
    capacity: usize,
) -> (HierarchicalCache<MemoryL2>, Vec<PairId>) {
    let cache = builder.l1_entries(capacity).build_in_memory();
    let chain = cache.interner().chain_id("ethereum").unwrap();
    let ids: Vec<PairId> = (0..entries)
        .map(|n| {
            let id = cache.interner().intern(PairKey {
                chain,
                address: address(n),
            });
            cache.set_l1(id, Price::new(f64::from(n), 1, 1));
            id
        })
        .collect();
    (cache, ids)
}

/// Two threads each making `iters` calls of `read(start, i)` (`start`: 0 or half the ids),
/// started together; the time from the start to the last one done.
fn two_readers(iters: u64, read: impl Fn(usize, usize) + Sync) -> std::time::Duration {
    let start = std::sync::Barrier::new(3);
    let (read, start_ref) = (&read, &start);
    std::thread::scope(|s| {
        for t in 0..2usize {
            s.spawn(move || {
                start_ref.wait();
                for i in 0..iters as usize {
                    read(t * (ENTRIES as usize / 2), i);
                }
            });
        }
        start.wait();
        let started = std::time::Instant::now();
        // The scope joins both threads before returning.
        started
    })
    .elapsed()
}

fn l1(c: &mut Criterion) {
    let mut g = c.benchmark_group("l1_hit");
    g.throughput(Throughput::Elements(1));
    let mut kinds: Vec<(String, pairwarm::cache::CacheBuilder)> = vec![(
        "pairwarm_default".into(),
        HierarchicalCache::builder().l1_policy(L1Policy::Default),
    )];
    for p in L1Policy::ALL {
        kinds.push((
            format!("pairwarm_{}", p.name().replace('-', "_")),
            HierarchicalCache::builder().l1_policy(p),
        ));
    }
    kinds.push((
        "pairwarm_price_matrix".into(),
        HierarchicalCache::builder().use_price_matrix(true),
    ));
    for (name, builder) in kinds {
        let (cache, ids) = filled(builder);
        let mut i = 0usize;
        g.bench_function(name.as_str(), |b| {
            b.iter(|| {
                i = (i + 1) & (ENTRIES as usize - 1);
                black_box(cache.get_l1_only(ids[i]))
            })
        });
    }
    // The same work on well-kept crates directly (no stats, no TTL check).
    let quick = quick_cache::sync::Cache::<u32, Price>::new(ENTRIES as usize * 2);
    let moka = moka::sync::Cache::<u32, Price>::new(u64::from(ENTRIES) * 2);
    for n in 0..ENTRIES {
        quick.insert(n, Price::new(f64::from(n), 1, 1));
        moka.insert(n, Price::new(f64::from(n), 1, 1));
    }
    // foyer-memory (single shard, as our small-cache policies): S3-FIFO and W-TinyLFU.
    let foyer_s3 = foyer_memory::CacheBuilder::new(ENTRIES as usize * 2)
        .with_shards(1)
        .with_eviction_config(foyer_memory::S3FifoConfig::default())
        .build::<foyer_memory::CacheProperties>();
    let foyer_lfu = foyer_memory::CacheBuilder::new(ENTRIES as usize * 2)
        .with_shards(1)
        .with_eviction_config(foyer_memory::LfuConfig::default())
        .build::<foyer_memory::CacheProperties>();
    for n in 0..ENTRIES {
        foyer_s3.insert(n, Price::new(f64::from(n), 1, 1));
        foyer_lfu.insert(n, Price::new(f64::from(n), 1, 1));
    }
    let mut i = 0u32;
    g.bench_function("foyer_s3fifo_raw", |b| {
        b.iter(|| {
            i = (i + 1) & (ENTRIES - 1);
            black_box(foyer_s3.get(&i).map(|e| *e.value()))
        })
    });
    g.bench_function("foyer_wtinylfu_raw", |b| {
        b.iter(|| {
            i = (i + 1) & (ENTRIES - 1);
            black_box(foyer_lfu.get(&i).map(|e| *e.value()))
        })
    });
    g.bench_function("quick_cache_raw", |b| {
        b.iter(|| {
            i = (i + 1) & (ENTRIES - 1);
            black_box(quick.get(&i))
        })
    });
    g.bench_function("moka_raw", |b| {
        b.iter(|| {
            i = (i + 1) & (ENTRIES - 1);
            black_box(moka.get(&i))
        })
    });
    g.finish();

    // The same hits in a shuffled order (a fixed permutation): no id's neighbours in
    // memory are read next, as in a detector whose pools are read in no particular order.
    let mut g = c.benchmark_group("l1_hit_shuffled");
    g.throughput(Throughput::Elements(1));
    let mut order: Vec<u32> = (0..ENTRIES).collect();
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    for k in (1..order.len()).rev() {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        order.swap(k, (rng % (k as u64 + 1)) as usize);
    }
    for (name, policy) in [
        ("pairwarm_default", L1Policy::Default),
        ("pairwarm_lru", L1Policy::Lru),
    ] {
        let (cache, ids) = filled(HierarchicalCache::builder().l1_policy(policy));
        let mut i = 0usize;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) & (ENTRIES as usize - 1);
                black_box(cache.get_l1_only(ids[order[i] as usize]))
            })
        });
    }
    let mut i = 0usize;
    g.bench_function("quick_cache_raw", |b| {
        b.iter(|| {
            i = (i + 1) & (ENTRIES as usize - 1);
            black_box(quick.get(&order[i]))
        })
    });
    g.finish();

    // Two threads reading one cache at once, each through every id in the shuffled order,
    // half the ids apart (so two reads meet in one shard only by chance, as in a detector
    // with two reader tasks): time per read, per thread. On 2 cores this is where a write
    // every read makes to a shared line shows.
    // The policies shard by capacity (at least 4,096 entries a shard, at most 16 shards):
    // this cache has 2, so two readers often want the same shard; `_16_shards` reads the
    // same 4,096 pools from a cache of the seed's production size (131,072 entries).
    // Criterion's throughput here is per thread: each of the two does `iters` reads.
    let mask = ENTRIES as usize - 1;
    let mut g = c.benchmark_group("l1_hit_2_threads");
    g.throughput(Throughput::Elements(1));
    for (name, policy, capacity) in [
        ("pairwarm_default", L1Policy::Default, ENTRIES as usize * 2),
        ("pairwarm_default_16_shards", L1Policy::Default, 131_072),
        ("pairwarm_lru", L1Policy::Lru, ENTRIES as usize * 2),
    ] {
        let (cache, ids) = filled_with(
            HierarchicalCache::builder().l1_policy(policy),
            ENTRIES,
            capacity,
        );
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                two_readers(iters, |t, i| {
                    black_box(cache.get_l1_only(ids[order[(t + i) & mask] as usize]));
                })
            })
        });
    }
    // The baseline: the same reads on quick_cache directly.
    g.bench_function("quick_cache_raw", |b| {
        b.iter_custom(|iters| {
            two_readers(iters, |t, i| {
                black_box(quick.get(&order[(t + i) & mask]));
            })
        })
    });
    g.finish();

    // Small caches, full: up to 512 entries the default policy's tuner simulates every
    // read on its eight shadows (`FULL_SIMULATION_MAX`), above it a sample (1 in 8 at
    // 1,024 entries, 1 in 16 at 2,048). LRU beside it gives the ratio this costs.
    let mut g = c.benchmark_group("l1_hit_small");
    g.throughput(Throughput::Elements(1));
    for entries in [512u32, 1024, 2048] {
        for (name, policy) in [("default", L1Policy::Default), ("lru", L1Policy::Lru)] {
            let (cache, ids) = filled_with(
                HierarchicalCache::builder().l1_policy(policy),
                entries,
                entries as usize,
            );
            let order: Vec<usize> = order
                .iter()
                .map(|&o| o as usize)
                .filter(|&o| o < ids.len())
                .collect();
            let mut i = 0usize;
            g.bench_function(BenchmarkId::new(name, entries), |b| {
                b.iter(|| {
                    i = (i + 1) % order.len();
                    black_box(cache.get_l1_only(ids[order[i]]))
                })
            });
        }
    }
    g.finish();

    let mut g = c.benchmark_group("l1_miss");
    let (cache, _) = filled(HierarchicalCache::builder());
    let absent = pools(cache.interner(), ENTRIES..2 * ENTRIES);
    let mut i = 0usize;
    g.bench_function("pairwarm_default", |b| {
        b.iter(|| {
            i = (i + 1) & (ENTRIES as usize - 1);
            black_box(cache.get_l1_only(absent[i]))
        })
    });
    // The same misses heard by a tracker learning from them (`serve`'s default,
    // `WARMING_LEARN_FROM=misses`): the learner stamps each in the feed's time and the
    // tracker credits the updates just before it. The ratio to the plain miss above is
    // what learning costs per miss (a miss then waits ~250 µs for L2 anyway).
    let cache = std::sync::Arc::new(
        HierarchicalCache::builder()
            .l1_entries(ENTRIES as usize * 2)
            .build_in_memory(),
    );
    let config = WarmingConfig {
        learn_from_misses: true,
        use_shared_analyzer: false,
        enable_metrics: false,
        ..WarmingConfig::default()
    };
    let parts = WarmingContainer::new(cache.clone(), config)
        .build()
        .unwrap();
    let updated = pools(cache.interner(), 0..ENTRIES);
    let missing = pools(cache.interner(), ENTRIES..2 * ENTRIES);
    let t0 = 1_700_000_000_000u64;
    let mut i = 0usize;
    g.bench_function("pairwarm_default_learning_from_misses", |b| {
        b.iter(|| {
            i = (i + 1) & (ENTRIES as usize - 1);
            // One update every 8 reads, as a detector reads a few pools per update.
            if i.is_multiple_of(8) {
                parts.tracker.record_price_update(updated[i], t0 + i as u64);
            }
            black_box(cache.get_l1_only(missing[i]))
        })
    });
    g.finish();
}

fn l2(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let memory = MemoryL2::new();
    let keys: Vec<String> = (0..100)
        .map(|n| format!("cache:l2:price:ethereum:{}", address(n)))
        .collect();
    let server = RedisServer::start();
    let redis = rt
        .block_on(RedisL2::connect(&RedisL2Config::new(server.url())))
        .unwrap();
    rt.block_on(async {
        for (n, key) in keys.iter().enumerate() {
            let value = pairwarm::cache::codec::encode(&Price::new(n as f64, 1, 1));
            memory
                .set(key, value.clone(), std::time::Duration::from_secs(600))
                .await
                .unwrap();
            redis
                .set(key, value, std::time::Duration::from_secs(600))
                .await
                .unwrap();
        }
    });
    let mut g = c.benchmark_group("memory_l2_get");
    g.bench_function("1_key", |b| {
        b.iter(|| rt.block_on(memory.get_many(black_box(&keys[..1]))))
    });
    g.finish();

    let mut g = c.benchmark_group("redis_l2_get_many");
    for n in [1usize, 10, 100] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter(|| rt.block_on(redis.get_many(black_box(&keys[..n]))))
        });
    }
    g.finish();
}

criterion_group!(benches, l1, l2);
criterion_main!(benches);
