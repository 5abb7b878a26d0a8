//! `pairwarm bench coherence`: L1 coherence (client tracking) measured against a real Redis
//! (a scratch instance: keys under `cache:l2:price:bench-*:`), a measurement, not a test.
//!
//! 1. **Staleness bound**: two caches (two instances' worth of connections) hold a key in
//!    L1; another client writes it (`SETEX`, the original's value shape). Time from the
//!    write's reply until neither L1 returns the old value any more, and until both hold
//!    the new one again (re-fetched ahead of a read). p50/p99/max over `--writes` writes.
//! 2. **Cost**: two instances share a feed (each writes its half, newer-wins batches of 32)
//!    and both read Zipf-distributed pools; L1 hit rate, reads that returned an older price
//!    than the feed had written before the read began, and operations per second, with
//!    coherence `off` and `tracking`, in one run.
//!
//! ```sh
//! pairwarm bench coherence --redis-url redis://127.0.0.1:6391/0 [--writes 1000] [--steps 4000]
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use pairwarm::cache::{
    Coherence, CoherenceMode, HierarchicalCache, Price, RedisL2, RedisL2Config, RedisUrl,
    TrackingDriver, connect_tracked,
};
use pairwarm::pair::PairId;
use rand::SeedableRng;
use rand_distr::{Distribution, Zipf};

/// Arguments of `pairwarm bench coherence`.
#[derive(clap::Args, Debug)]
pub struct CoherenceBenchArgs {
    /// Redis to measure against (a scratch instance: keys under `cache:l2:price:bench-*:`).
    #[arg(long, env = "REDIS_URL", hide_env_values = true, value_parser = crate::redis_url)]
    pub redis_url: RedisUrl,
    /// Foreign writes timed for the staleness bound.
    #[arg(long, default_value_t = 1_000)]
    pub writes: u64,
    /// Steps of the cost run (each: a batch of 32 writes by one instance, 64 reads on each).
    #[arg(long, default_value_t = 4_000)]
    pub steps: u64,
}

type Cache = Arc<HierarchicalCache<RedisL2>>;

const KEYS: u32 = 2_000;

fn addr(n: u32) -> String {
    format!("0x{:040x}", 0x5eed_0000_u64 + u64::from(n))
}

fn key(chain: &str, n: u32) -> String {
    format!("cache:l2:price:{chain}:{}", addr(n))
}

fn original_value(block: u64) -> String {
    format!(
        r#"{{"price":2.5e-9,"reserve0":"50000000000000","reserve1":"20000000000000000000000","timestamp":1795923835406,"blockNumber":{block}}}"#
    )
}

/// One instance's cache; with `tracking`, its driver runs on the runtime until the
/// instance is dropped.
struct Instance {
    cache: Cache,
    driver: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(d) = &self.driver {
            d.abort();
        }
    }
}

fn instance(rt: &tokio::runtime::Runtime, url: &RedisUrl, mode: CoherenceMode) -> Instance {
    let config = RedisL2Config::new(url.clone());
    rt.block_on(async {
        let builder = HierarchicalCache::builder().l1_entries(4 * KEYS as usize);
        match mode {
            CoherenceMode::Off => Instance {
                cache: Arc::new(builder.build(RedisL2::connect_lazy(&config).unwrap())),
                driver: None,
            },
            CoherenceMode::Tracking => {
                let (l2, pushes) = connect_tracked(&config).unwrap();
                let cache = Arc::new(builder.coherence(Coherence::new()).build(l2.clone()));
                let driver = TrackingDriver::new(cache.clone(), l2, pushes).unwrap();
                let driver = tokio::spawn(driver.run(std::future::pending()));
                let deadline = Instant::now() + Duration::from_secs(10);
                while !cache.coherence().is_some_and(|c| c.is_live()) {
                    assert!(Instant::now() < deadline, "tracking did not come on");
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Instance {
                    cache,
                    driver: Some(driver),
                }
            }
        }
    })
}

fn ids(cache: &Cache, chain: &str) -> Vec<PairId> {
    (0..KEYS)
        .map(|n| cache.interner().intern_str(chain, &addr(n)).unwrap())
        .collect()
}

fn block_in_l1(cache: &Cache, id: PairId) -> Option<u64> {
    cache.peek_l1(id).map(|p| p.block)
}

fn us(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1_000.0
}

pub fn run(args: CoherenceBenchArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start tokio runtime")?;
    let mut conn = redis::Client::open(args.redis_url.expose())
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
        .with_context(|| format!("connect to {}", args.redis_url))?;
    staleness(&rt, &args.redis_url, &mut conn, args.writes);
    let off = cost(
        &rt,
        &args.redis_url,
        &mut conn,
        CoherenceMode::Off,
        args.steps,
    )?;
    let on = cost(
        &rt,
        &args.redis_url,
        &mut conn,
        CoherenceMode::Tracking,
        args.steps,
    )?;
    println!(
        "cost ratios (tracking / off): L1 hit rate {:.3}, ops/s {:.3}",
        on.hit_rate / off.hit_rate,
        on.ops_per_s / off.ops_per_s
    );
    Ok(())
}

/// Part 1: foreign write -> no instance returns the old value.
fn staleness(
    rt: &tokio::runtime::Runtime,
    url: &RedisUrl,
    conn: &mut redis::Connection,
    writes: u64,
) {
    const CHAIN: &str = "bench-stale";
    let instances = [
        instance(rt, url, CoherenceMode::Tracking),
        instance(rt, url, CoherenceMode::Tracking),
    ];
    let caches = [instances[0].cache.clone(), instances[1].cache.clone()];
    let ids: Vec<Vec<PairId>> = caches.iter().map(|c| ids(c, CHAIN)).collect();
    let keys = 100u32;
    let mut block = vec![1u64; keys as usize];
    for n in 0..keys {
        let _: () = redis::cmd("SETEX")
            .arg(key(CHAIN, n))
            .arg(300)
            .arg(original_value(1))
            .query(conn)
            .unwrap();
    }
    for (cache, ids) in caches.iter().zip(&ids) {
        rt.block_on(cache.get_many(&ids[..keys as usize])).unwrap();
    }
    let mut gone = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
    let mut renewed = gone.clone();
    let mut not_renewed = 0u64;
    for i in 0..writes {
        let n = (i % u64::from(keys)) as u32;
        let old = block[n as usize];
        // Both instances hold the current value before the write (loaded by a read if a
        // re-fetch did not land).
        for (cache, ids) in caches.iter().zip(&ids) {
            let id = ids[n as usize];
            if block_in_l1(cache, id) != Some(old) {
                rt.block_on(cache.get(id)).unwrap();
            }
        }
        let new = old + 1;
        let _: () = redis::cmd("SETEX")
            .arg(key(CHAIN, n))
            .arg(300)
            .arg(original_value(new))
            .query(conn)
            .unwrap();
        let t0 = Instant::now();
        let holds_old = |c: usize| block_in_l1(&caches[c], ids[c][n as usize]) == Some(old);
        while holds_old(0) || holds_old(1) {
            std::hint::spin_loop();
        }
        gone.record(t0.elapsed().as_nanos() as u64).unwrap();
        let holds_new = |c: usize| block_in_l1(&caches[c], ids[c][n as usize]) == Some(new);
        let deadline = t0 + Duration::from_secs(1);
        while !(holds_new(0) && holds_new(1)) && Instant::now() < deadline {
            std::hint::spin_loop();
        }
        if holds_new(0) && holds_new(1) {
            renewed.record(t0.elapsed().as_nanos() as u64).unwrap();
        } else {
            not_renewed += 1;
        }
        block[n as usize] = new;
    }
    let within_5ms = gone.count_between(0, 5_000_000) as f64 / gone.len().max(1) as f64;
    println!(
        "staleness, {writes} foreign writes, 2 instances, timed from the write's reply: old value gone from every L1 after p50 {:.1} us, p90 {:.1} us, p99 {:.1} us, max {:.1} us ({:.1}% within 5 ms); new value back in both L1s (re-fetched) p50 {:.1} us, p99 {:.1} us, max {:.1} us ({not_renewed} not re-fetched within 1 s)",
        us(&gone, 0.5),
        us(&gone, 0.9),
        us(&gone, 0.99),
        gone.max() as f64 / 1_000.0,
        100.0 * within_5ms,
        us(&renewed, 0.5),
        us(&renewed, 0.99),
        renewed.max() as f64 / 1_000.0,
    );
}

struct Cost {
    hit_rate: f64,
    ops_per_s: f64,
}

/// Part 2: two instances sharing a feed, with coherence `mode`.
fn cost(
    rt: &tokio::runtime::Runtime,
    url: &RedisUrl,
    conn: &mut redis::Connection,
    mode: CoherenceMode,
    steps: u64,
) -> anyhow::Result<Cost> {
    let chain = format!("bench-{mode}");
    // A previous run's newer prices would refuse this run's writes (newer wins).
    let keys: Vec<String> = (0..KEYS).map(|n| key(&chain, n)).collect();
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query(conn)
        .context("delete the previous run's keys")?;
    let instances = [instance(rt, url, mode), instance(rt, url, mode)];
    let caches = [instances[0].cache.clone(), instances[1].cache.clone()];
    let ids: Vec<Vec<PairId>> = caches.iter().map(|c| ids(c, &chain)).collect();
    let zipf = Zipf::new(f64::from(KEYS), 1.0).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut truth = vec![0u64; KEYS as usize];
    let mut next_block = 1u64;
    let (mut reads, mut stale) = (0u64, 0u64);
    let started = Instant::now();
    rt.block_on(async {
        for step in 0..steps {
            let writer = (step % 2) as usize;
            let batch: Vec<(PairId, Price)> = (0..32)
                .map(|_| {
                    let n = zipf.sample(&mut rng) as usize - 1;
                    next_block += 1;
                    truth[n] = next_block;
                    (
                        ids[writer][n],
                        Price::new(1.0 + next_block as f64, next_block, 1_795_923_835_406),
                    )
                })
                .collect();
            caches[writer].set_many(&batch).await.unwrap();
            for (cache, ids) in caches.iter().zip(&ids) {
                for _ in 0..64 {
                    let n = zipf.sample(&mut rng) as usize - 1;
                    let expected = truth[n];
                    let got = cache.get(ids[n]).await.unwrap().map_or(0, |p| p.block);
                    reads += 1;
                    if got < expected {
                        stale += 1;
                    }
                }
                // A detector does other work between reads; yield so the drivers run.
                tokio::task::yield_now().await;
            }
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let (mut hits, mut misses) = (0u64, 0u64);
    for c in &caches {
        let (h, m) = c.l1_counts();
        hits += h;
        misses += m;
    }
    let hit_rate = hits as f64 / (hits + misses).max(1) as f64;
    let ops = steps * 32 + reads;
    let coherence = caches[0].coherence().map(|c| c.stats());
    println!(
        "cost, coherence {mode}: {steps} steps, {ops} ops in {elapsed:.2} s = {:.0} ops/s; L1 hit rate {:.4}; stale reads {stale} of {reads} ({:.4}%); instance 0 coherence {coherence:?}",
        ops as f64 / elapsed,
        hit_rate,
        100.0 * stale as f64 / reads.max(1) as f64,
    );
    Ok(Cost {
        hit_rate,
        ops_per_s: ops as f64 / elapsed,
    })
}
