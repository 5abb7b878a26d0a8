//! The embedded default's feed: the trace generator's workload, paced in real time.
//!
//! Updates come from [`SyntheticWorkload`] (blocks, Zipf-popular tokens, cascades) in
//! order, re-timed to `rate` updates per second on the wall clock, in batches every 10 ms;
//! the detector's reads are made by the service itself, as they would be in production.

use std::time::{Duration, Instant};

use pairwarm::cache::L2Store;
use pairwarm_sim::trace::{GeneratorConfig, GeneratorError, Op, SyntheticWorkload};
use tokio::sync::watch;

use super::FeedError;
use crate::entry::PriceUpdate;
use crate::processor::Processor;

const TICK: Duration = Duration::from_millis(10);
const MAX_BATCH: usize = 512;

/// The price updates of the synthetic workload seeded with `seed`, in order: what the
/// embedded default feeds itself, and what `pairwarm feed --synthetic` writes to a stream.
/// Unbounded.
pub fn updates(seed: u64) -> Result<impl Iterator<Item = PriceUpdate> + Send, GeneratorError> {
    let mut workload = SyntheticWorkload::new(GeneratorConfig {
        seed,
        ..GeneratorConfig::default()
    })?;
    Ok(std::iter::from_fn(move || {
        loop {
            let event = workload.next()?;
            if event.op != Op::Update {
                continue;
            }
            let Some(pool) = workload.pairs().get(event.pair as usize) else {
                continue;
            };
            return Some(PriceUpdate {
                chain: pool.chain.clone(),
                pair: pool.pair,
                dex: Some(pool.dex.to_ascii_lowercase()),
                token0: Some(pool.token0.to_ascii_lowercase()),
                token1: Some(pool.token1.to_ascii_lowercase()),
                price: event.price.unwrap_or(1.0),
                reserve0: pairwarm::cache::Reserve::ZERO,
                reserve1: pairwarm::cache::Reserve::ZERO,
                block: event.block,
                ts_ms: None,
            });
        }
    }))
}

/// Runs until `stop` turns true or `max_updates` updates were fed.
pub async fn run<L: L2Store>(
    processor: &Processor<L>,
    rate: u64,
    seed: u64,
    max_updates: Option<u64>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), FeedError> {
    let mut updates = updates(seed).map_err(|e| FeedError::Synthetic(e.to_string()))?;
    let mut fed: u64 = 0;
    let started = Instant::now();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch: Vec<PriceUpdate> = Vec::with_capacity(MAX_BATCH);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return Ok(()),
        }
        if *stop.borrow() {
            return Ok(());
        }
        let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
        let due = max_updates.map_or(due, |m| due.min(m));
        while fed < due {
            batch.clear();
            let n = (due - fed).min(MAX_BATCH as u64) as usize;
            batch.extend(updates.by_ref().take(n));
            if batch.is_empty() {
                break;
            }
            fed += batch.len() as u64;
            processor.process(&batch).await;
        }
        if max_updates.is_some_and(|m| fed >= m) {
            return Ok(());
        }
    }
}
