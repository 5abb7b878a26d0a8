//! `pairwarm bench warm`: `warm_for_pair` latency against a real Redis, next to the
//! original system's approach (one sequential `GET` per pair, then a write-back `SET`) in the
//! same run. Round trips are counted by the server (`INFO commandstats`), not assumed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use pairwarm::cache::{HierarchicalCache, L2Store, Price, RedisL2, RedisL2Config, RedisUrl, codec};
use pairwarm::pair::PairId;
use pairwarm::strategy::StrategyConfig;
use pairwarm::tracker::{CorrelationTracker, TrackerConfig};
use pairwarm::warmer::{CacheWarmer, WarmStatus, WarmerConfig};
use serde::Serialize;

/// Arguments of `pairwarm bench warm`.
#[derive(clap::Args, Debug)]
pub struct WarmBenchArgs {
    /// Redis to measure against (a scratch instance: keys under `cache:l2:price:bench:`).
    #[arg(long, env = "REDIS_URL", hide_env_values = true, value_parser = crate::redis_url)]
    pub redis_url: RedisUrl,
    /// Warms per pair count.
    #[arg(long, default_value_t = 2_000)]
    pub warms: u32,
    /// Pair counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,5,10")]
    pub pairs: Vec<usize>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One row of the result.
#[derive(Debug, Serialize)]
pub struct WarmBenchRow {
    pub pairs: usize,
    pub warms: u32,
    pub p50_us: f64,
    pub p99_us: f64,
    pub round_trips_per_warm: f64,
    pub baseline_p50_us: f64,
    pub baseline_p99_us: f64,
    pub baseline_round_trips_per_warm: f64,
}

async fn command_calls(
    conn: &mut pairwarm::cache::RedisConnection,
    cmd: &str,
) -> anyhow::Result<u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .context("INFO commandstats")?;
    let prefix = format!("cmdstat_{cmd}:");
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|rest| rest.split(',').find_map(|kv| kv.strip_prefix("calls=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}

async fn reset_stats(conn: &mut pairwarm::cache::RedisConnection) -> anyhow::Result<()> {
    redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async::<()>(conn)
        .await
        .context("CONFIG RESETSTAT")
}

fn quantile_us(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

pub fn run(args: WarmBenchArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start tokio runtime")?;
    let rows = runtime.block_on(measure(&args))?;
    if args.json {
        // A struct keeps the documented key order (json! would sort the keys).
        #[derive(Serialize)]
        struct Out<'a> {
            results: &'a [WarmBenchRow],
        }
        println!("{}", serde_json::to_string(&Out { results: &rows })?);
    } else {
        println!(
            "{:>5} {:>7} {:>9} {:>9} {:>8} | {:>12} {:>12} {:>8} | {:>7}",
            "pairs",
            "warms",
            "p50_us",
            "p99_us",
            "rt/warm",
            "orig_p50_us",
            "orig_p99_us",
            "rt/warm",
            "p99 x"
        );
        for r in &rows {
            println!(
                "{:>5} {:>7} {:>9.1} {:>9.1} {:>8.2} | {:>12.1} {:>12.1} {:>8.2} | {:>7.1}",
                r.pairs,
                r.warms,
                r.p50_us,
                r.p99_us,
                r.round_trips_per_warm,
                r.baseline_p50_us,
                r.baseline_p99_us,
                r.baseline_round_trips_per_warm,
                r.baseline_p99_us / r.p99_us.max(1e-9)
            );
        }
    }
    Ok(())
}

pub async fn measure(args: &WarmBenchArgs) -> anyhow::Result<Vec<WarmBenchRow>> {
    let mut config = RedisL2Config::new(args.redis_url.clone());
    config.op_timeout = Duration::from_secs(2);
    let l2 = RedisL2::connect(&config)
        .await
        .with_context(|| format!("connect to {}", args.redis_url))?;
    let mut admin = l2.connection();
    let mut rows = Vec::new();
    for &k in &args.pairs {
        let k = k.clamp(1, 100);
        let cache = Arc::new(
            HierarchicalCache::builder()
                .l1_entries(4096)
                .build(l2.clone()),
        );
        let ids: Vec<PairId> = (0..=k as u32)
            .map(|n| {
                cache
                    .interner()
                    .intern_str("bench", &format!("0x{:040x}", 0xbe7c_0000 + n))
            })
            .collect::<Result<_, _>>()?;
        let (source, partners) = (ids[0], &ids[1..]);
        for &p in partners {
            cache.set(p, Price::new(1.0, 1, 1)).await?;
        }
        // Train the tracker so that `source` predicts exactly its k partners.
        let tracker = Arc::new(CorrelationTracker::new(TrackerConfig {
            max_credits_per_update: 64,
            ..TrackerConfig::default()
        })?);
        let mut t = 1_000_000u64;
        for _ in 0..6 {
            tracker.record_price_update(source, t);
            for (i, &p) in partners.iter().enumerate() {
                tracker.record_price_update(p, t + 1 + i as u64);
            }
            t += 10_000;
        }
        let strategy =
            StrategyConfig::parse("topn", Some(&format!(r#"{{"topN":{k},"minScore":0.0}}"#)))?
                .build();
        let warmer = CacheWarmer::new(
            cache.clone(),
            tracker,
            strategy,
            WarmerConfig {
                max_pairs_per_warm: k,
                min_correlation_score: 0.0,
                async_warming: false,
                timeout_ms: 1_000,
                ..WarmerConfig::default()
            },
        )?;
        let mut ours = Histogram::<u64>::new(3)?;
        reset_stats(&mut admin).await?;
        for _ in 0..args.warms {
            for &p in partners {
                cache.invalidate_l1(p);
            }
            let started = Instant::now();
            let result = warmer.warm_now(source, t).await;
            let ns = started.elapsed().as_nanos() as u64;
            anyhow::ensure!(
                result.status == WarmStatus::Completed && result.pairs_warmed == k,
                "warm did not fetch the {k} trained partners: {result:?}"
            );
            ours.record(ns.max(1))?;
        }
        let mget = command_calls(&mut admin, "mget").await?;
        let round_trips = mget
            + command_calls(&mut admin, "get").await?
            + command_calls(&mut admin, "set").await?;

        // The original: per pair, `await cache.get(pair)` then `await cache.set(pair, value)`
        // (SETEX to Redis), one after the other.
        let keys: Vec<String> = partners
            .iter()
            .map(|&p| cache.l2_key(p))
            .collect::<Result<_, _>>()?;
        let mut conn = l2.connection();
        let mut baseline = Histogram::<u64>::new(3)?;
        reset_stats(&mut admin).await?;
        for _ in 0..args.warms {
            let started = Instant::now();
            for key in &keys {
                let value: Option<Vec<u8>> =
                    redis::cmd("GET").arg(key).query_async(&mut conn).await?;
                if let Some(value) = value {
                    let price = codec::decode(key, &value)?;
                    redis::cmd("SETEX")
                        .arg(key)
                        .arg(300)
                        .arg(codec::encode(&price))
                        .query_async::<()>(&mut conn)
                        .await?;
                }
            }
            baseline.record((started.elapsed().as_nanos() as u64).max(1))?;
        }
        let base_trips =
            command_calls(&mut admin, "get").await? + command_calls(&mut admin, "setex").await?;
        rows.push(WarmBenchRow {
            pairs: k,
            warms: args.warms,
            p50_us: quantile_us(&ours, 0.5),
            p99_us: quantile_us(&ours, 0.99),
            round_trips_per_warm: round_trips as f64 / f64::from(args.warms.max(1)),
            baseline_p50_us: quantile_us(&baseline, 0.5),
            baseline_p99_us: quantile_us(&baseline, 0.99),
            baseline_round_trips_per_warm: base_trips as f64 / f64::from(args.warms.max(1)),
        });
        let _ = l2.round_trips();
    }
    Ok(rows)
}
