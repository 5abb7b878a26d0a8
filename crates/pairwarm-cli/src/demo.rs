//! `pairwarm demo`: the cache on the embedded default, end to end, in a few lines of output.

use std::time::Instant;

use anyhow::Context;
use pairwarm::cache::{HierarchicalCache, L2Store, Price};

/// Arguments of `pairwarm demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Distinct pools written to the cache.
    #[arg(long, default_value_t = 20_000)]
    pairs: u32,
    /// Reads issued (skewed towards popular pools).
    #[arg(long, default_value_t = 200_000)]
    reads: u32,
    /// L1 bound in entries (L1 is smaller than the working set, so both levels answer).
    #[arg(long, default_value_t = 4096)]
    l1_entries: usize,
}

fn address(n: u32) -> String {
    format!("0x{:040x}", u128::from(n) * 0x9e37_79b9_7f4a_7c15 + 1)
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start tokio runtime")?;
    runtime.block_on(async move {
        let cache = HierarchicalCache::builder()
            .l1_entries(args.l1_entries)
            .build_in_memory();
        let chains = ["ethereum", "bsc", "arbitrum"];
        let mut ids = Vec::with_capacity(args.pairs as usize);
        for n in 0..args.pairs {
            let chain = chains[(n % 3) as usize];
            ids.push(cache.interner().intern_str(chain, &address(n))?);
        }
        let started = Instant::now();
        for (n, &id) in ids.iter().enumerate() {
            cache
                .set(id, Price::new(1000.0 + n as f64, 19_000_000, 0))
                .await?;
        }
        // Reads with a simple power-law skew: low indices are far more popular.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..args.reads {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            let ix = ((args.pairs as f64).powf(u) as usize).saturating_sub(1);
            let price = cache.get(ids[ix.min(ids.len() - 1)]).await?;
            anyhow::ensure!(price.is_some(), "pool {ix} lost its price");
        }
        let elapsed = started.elapsed();
        let stats = cache.stats();
        println!(
            "pairwarm demo: {} pools written, {} reads in {:.1} ms (L1 bound {} entries, L2 in memory)",
            args.pairs,
            args.reads,
            elapsed.as_secs_f64() * 1e3,
            stats.l1.capacity
        );
        println!("level  hits      misses    hit rate  size");
        println!(
            "L1     {:<9} {:<9} {:<9.4} {}",
            stats.l1.hits,
            stats.l1.misses,
            stats.l1.hit_rate(),
            stats.l1.size
        );
        println!(
            "L2     {:<9} {:<9} {:<9.4} {}",
            stats.l2.hits,
            stats.l2.misses,
            stats.l2.hit_rate(),
            stats.l2.size
        );
        println!(
            "L1 evictions {}, promotions {}, L2 round trips {}",
            stats.l1.evictions,
            stats.promotions,
            cache.l2().map_or(0, |l2| l2.round_trips())
        );
        for chain in cache.stats_by_chain() {
            println!(
                "  {:<9} L1 {}/{} hits, L2 {}/{} hits",
                chain.chain,
                chain.l1_hits,
                chain.l1_hits + chain.l1_misses,
                chain.l2_hits,
                chain.l2_hits + chain.l2_misses
            );
        }
        Ok(())
    })
}
