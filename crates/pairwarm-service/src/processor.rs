//! The per-batch update pipeline of `pairwarm serve`, independent of where updates come
//! from (Redis Streams or the embedded synthetic feed).
//!
//! For a batch of parsed updates:
//! 1. intern each pool and record its metadata for the detector;
//! 2. write all prices through the cache in one L2 round trip (`set_many`);
//! 3. `record_price_update` in the tracker (1 in 64 calls timed for the histogram);
//! 4. per the rollout controls: enqueue a warm, plan one in shadow mode, or skip;
//! 5. look the update's detector reads up in L1 (steps 3-5 run update by update, so a
//!    tracker learning from misses hears each miss right after the update that asked
//!    for it);
//! 6. fetch all L1 misses of the batch in one `MGET` and run the detector; spreads above
//!    the threshold are returned.
//!
//! A failing L2 read is counted and logged; the detector then reads L1 only. A failing L2
//! write is counted too ([`ProcessorCounters::l2_write_failures`], the metric
//! `cache_l2_write_failures_total`). Failures are logged at most once per kind per 10 s,
//! with the chain and pair and the count held back. After a failed write, what happens
//! next depends on the caller:
//! [`Processor::process_durable`] (the Redis feed) stops there and returns the error, so
//! the batch's entries are not acknowledged and are retried; [`Processor::process`] (the
//! synthetic feed, an embedding program) goes on with L1 holding the new prices.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::detector::{Detector, Opportunity, ReadPlan};
use crate::entry::PriceUpdate;
use crate::rollout::{Decision, RolloutControls};
use crate::shadow::ShadowTracker;
use pairwarm::cache::{HierarchicalCache, L2Store, Price};
use pairwarm::log_throttle::LogThrottle;
use pairwarm::metrics::WarmingMetrics;
use pairwarm::pair::{Address, PairId, PairKey};
use pairwarm::tracker::CorrelationTracker;
use pairwarm::warmer::CacheWarmer;

/// Milliseconds since the Unix epoch: the time of an update that carries none.
fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Counters of the pipeline.
#[derive(Default)]
pub struct ProcessorCounters {
    /// Updates processed.
    pub updates: AtomicU64,
    /// Updates whose pool could not be interned (bad chain beyond the chain limit).
    pub rejected: AtomicU64,
    /// Warms queued (or run inline).
    pub warms_triggered: AtomicU64,
    /// Updates skipped by rollout (chain, percentage, master switch).
    pub warms_skipped: AtomicU64,
    /// Detector reads.
    pub detector_reads: AtomicU64,
    /// Opportunities found.
    pub opportunities: AtomicU64,
    /// L2 failures seen by the pipeline (writes and detector reads).
    pub l2_errors: AtomicU64,
    /// Batch write-throughs to L2 that failed.
    pub l2_write_failures: AtomicU64,
    /// Failed batch write-throughs since the last one that succeeded (0: L2 writes work).
    pub l2_write_failing: AtomicU64,
    /// The last L2 write error, for the health document's reason.
    pub last_l2_write_error: parking_lot::Mutex<String>,
    /// Rate limit of the warnings about those failures.
    l2_warnings: L2Warnings,
}

/// The pipeline's L2 failure warnings: one line per kind (write, read) per 10 s, naming the
/// chain and pair of the first update of the failed batch and the count held back, so a
/// Redis outage logs a line every 10 s rather than one per batch.
struct L2Warnings(LogThrottle<2>);

impl Default for L2Warnings {
    fn default() -> Self {
        Self(LogThrottle::new(Duration::from_secs(10)))
    }
}

#[derive(Clone, Copy)]
enum L2Failure {
    Write,
    Read,
}

impl L2Warnings {
    fn report(
        &self,
        kind: L2Failure,
        first: Option<(&str, &Address)>,
        err: &dyn std::fmt::Display,
    ) {
        let Some(suppressed) = self.0.admit(kind as usize) else {
            return;
        };
        let (chain, pair) = first.map_or(("", String::new()), |(c, a)| (c, a.to_string()));
        let (error_kind, message) = match kind {
            L2Failure::Write => ("l2_write", "L2 write failed; prices kept in L1"),
            L2Failure::Read => ("l2_read", "detector L2 read failed; using L1 only"),
        };
        tracing::warn!(chain, pair, error_kind, error = %err, suppressed, "{message}");
    }
}

/// The batch's write-through to L2 failed: nothing after it (tracking, warming, detector)
/// was done, so the whole batch can be retried.
#[derive(Debug, thiserror::Error)]
#[error("L2 write of {updates} updates failed: {source}")]
pub struct L2WriteFailed {
    /// Updates of the batch.
    pub updates: usize,
    /// The cache's error.
    pub source: pairwarm::cache::CacheError,
}

/// A batch between its write-through and the rest of the pipeline.
struct Prepared {
    /// `(id, price, ts)` per update the pipeline accepted.
    ids: Vec<(PairId, f64, u64)>,
    /// Position in the batch's updates of each entry of `ids` (for the detector's output).
    origin: Vec<usize>,
    addresses: Vec<pairwarm::pair::Address>,
    writes: Vec<(PairId, Price)>,
}

/// One opportunity with the pools' addresses, ready to publish.
#[derive(Clone, Debug, PartialEq)]
pub struct Published {
    /// Chain name.
    pub chain: String,
    /// The opportunity.
    pub opportunity: Opportunity,
    /// Address of the updated pool.
    pub pool: String,
    /// Address of the buy leg.
    pub buy: String,
    /// Address of the sell leg.
    pub sell: String,
    /// DEX of the buy leg (empty if unknown).
    pub buy_dex: String,
    /// DEX of the sell leg (empty if unknown).
    pub sell_dex: String,
    /// token0 of the updated pool, if the update named it.
    pub token0: Option<String>,
    /// token1 of the updated pool, if the update named it.
    pub token1: Option<String>,
    /// Block of the update.
    pub block: u64,
    /// Time of the update, ms.
    pub ts_ms: u64,
}

/// The pipeline's components.
pub struct Processor<L: L2Store> {
    /// The cache.
    pub cache: Arc<HierarchicalCache<L>>,
    /// The tracker.
    pub tracker: Arc<CorrelationTracker>,
    /// The warmer (`None` when warming is not built at all).
    pub warmer: Option<CacheWarmer<L>>,
    /// Rollout controls.
    pub rollout: Arc<RolloutControls>,
    /// Shadow accounting.
    pub shadow: Arc<ShadowTracker>,
    /// The detector.
    pub detector: Arc<Detector>,
    /// Metrics, when enabled.
    pub metrics: Option<Arc<WarmingMetrics>>,
    /// Counters.
    pub counters: Arc<ProcessorCounters>,
}

/// A batch's detector reads: each update's plan and its span of `reads`, the prices L1
/// gave (L2's filled in later) and which reads missed L1.
struct BatchReads {
    plans: Vec<ReadPlan>,
    reads: Vec<PairId>,
    /// (start, len) of each update's reads in `reads`.
    spans: Vec<(usize, usize)>,
    prices: Vec<Option<Price>>,
    /// Positions in `reads` that missed L1.
    missing: Vec<usize>,
}

impl BatchReads {
    fn with_capacity(updates: usize) -> Self {
        Self {
            plans: Vec::with_capacity(updates),
            reads: Vec::new(),
            spans: Vec::with_capacity(updates),
            prices: Vec::new(),
            missing: Vec::new(),
        }
    }
}

impl<L: L2Store> Processor<L> {
    /// Processes one batch; returns the opportunities to publish. A failed L2 write is
    /// counted and the batch goes on (L1 has the prices): for callers that cannot retry.
    pub async fn process(&self, updates: &[PriceUpdate]) -> Vec<Published> {
        let batch = self.prepare(updates);
        let _ = self.write(&batch, updates).await;
        self.after_write(batch, updates).await
    }

    /// Processes one batch only if its L2 write-through succeeds: on a failed write nothing
    /// else is done (no tracking, warming or detection), so retrying the same batch later
    /// neither loses a price nor counts an update twice.
    ///
    /// # Errors
    /// [`L2WriteFailed`] when L2 refused or did not answer the write.
    pub async fn process_durable(
        &self,
        updates: &[PriceUpdate],
    ) -> Result<Vec<Published>, L2WriteFailed> {
        let batch = self.prepare(updates);
        self.write(&batch, updates).await?;
        Ok(self.after_write(batch, updates).await)
    }

    fn prepare(&self, updates: &[PriceUpdate]) -> Prepared {
        let interner = self.cache.interner();
        let now = wall_clock_ms();
        let mut ids: Vec<(PairId, f64, u64)> = Vec::with_capacity(updates.len());
        // Position in `updates` of each entry of `ids` (for the detector's output).
        let mut origin: Vec<usize> = Vec::with_capacity(updates.len());
        let mut addresses = Vec::with_capacity(updates.len());
        let mut writes: Vec<(PairId, Price)> = Vec::with_capacity(updates.len());
        for (n, u) in updates.iter().enumerate() {
            let Ok(chain) = interner.chain_id(&u.chain) else {
                self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let id = interner.intern(PairKey {
                chain,
                address: u.pair,
            });
            if let (Some(t0), Some(t1)) = (&u.token0, &u.token1) {
                if let Some(dex) = &u.dex {
                    self.detector.registry().observe(id, chain, dex, t0, t1);
                }
                // The warmer's pool structure (a no-op for a pool already described).
                if let Some(w) = &self.warmer {
                    w.structure().observe(id, chain, t0, t1);
                }
            }
            let ts = u.ts_ms.unwrap_or(now);
            ids.push((id, u.price, ts));
            origin.push(n);
            addresses.push(u.pair);
            writes.push((
                id,
                Price::new(u.price, u.block, ts).with_reserves(u.reserve0, u.reserve1),
            ));
        }
        Prepared {
            ids,
            origin,
            addresses,
            writes,
        }
    }

    /// The batch's write-through (L1, then L2 in one round trip); counts a failure.
    async fn write(&self, batch: &Prepared, updates: &[PriceUpdate]) -> Result<(), L2WriteFailed> {
        match self.cache.set_many(&batch.writes).await {
            Ok(_) => {
                self.counters.l2_write_failing.store(0, Ordering::Relaxed);
                Ok(())
            }
            Err(source) => {
                let c = &self.counters;
                c.l2_errors.fetch_add(1, Ordering::Relaxed);
                c.l2_write_failures.fetch_add(1, Ordering::Relaxed);
                c.l2_write_failing.fetch_add(1, Ordering::Relaxed);
                *c.last_l2_write_error.lock() = source.to_string();
                if let Some(m) = &self.metrics {
                    m.l2_write_failures().inc();
                }
                let first = updates.first().map(|u| (u.chain.as_str(), &u.pair));
                c.l2_warnings.report(L2Failure::Write, first, &source);
                Err(L2WriteFailed {
                    updates: batch.writes.len(),
                    source,
                })
            }
        }
    }

    /// Tracking, warming and the detector, once the prices are written. Each update's
    /// detector reads look L1 up right after it is tracked and warmed, as a detector
    /// reading after every update would: a miss is then heard (by a tracker learning from
    /// misses) after the update that asked for it and those just before, not after the
    /// whole batch. The misses of the batch are fetched from L2 together, in one round
    /// trip.
    async fn after_write(&self, batch: Prepared, updates: &[PriceUpdate]) -> Vec<Published> {
        let Prepared {
            ids,
            origin,
            addresses,
            ..
        } = batch;
        let interner = self.cache.interner();
        let mut reads = BatchReads::with_capacity(ids.len());
        for (&(id, _, ts), address) in ids.iter().zip(&addresses) {
            self.track(id, ts);
            self.warm(id, address, ts).await;
            let plan = self.detector.plan(id, interner.chain_of(id));
            self.read_l1(&mut reads, plan, ts);
        }
        self.counters
            .updates
            .fetch_add(ids.len() as u64, Ordering::Relaxed);
        self.detect(&ids, updates, &origin, reads).await
    }

    fn track(&self, id: PairId, ts: u64) {
        let Some(metrics) = &self.metrics else {
            self.tracker.record_price_update(id, ts);
            return;
        };
        let interner = self.cache.interner();
        let chain = interner.chain_of(id);
        let handles = metrics.chain(chain, interner.chain_name(chain).unwrap_or("unknown"));
        handles.price_updates.inc();
        let _timer = handles.start_tracking_timer();
        self.tracker.record_price_update(id, ts);
    }

    async fn warm(&self, id: PairId, address: &pairwarm::pair::Address, ts: u64) {
        let Some(warmer) = &self.warmer else {
            return;
        };
        let interner = self.cache.interner();
        let chain = interner.chain_of(id);
        match self
            .rollout
            .decide(chain, || interner.chain_name(chain), address)
        {
            Decision::Warm => {
                self.counters
                    .warms_triggered
                    .fetch_add(1, Ordering::Relaxed);
                if warmer.config().async_warming {
                    warmer.enqueue(id, ts);
                } else {
                    warmer.warm_now(id, ts).await;
                }
            }
            Decision::Shadow => {
                let plan = warmer.plan(id, ts);
                self.shadow.predicted(&plan.to_fetch, ts);
                if let Some(m) = &self.metrics {
                    m.chain(chain, interner.chain_name(chain).unwrap_or("unknown"))
                        .shadow_predictions
                        .inc_by(plan.to_fetch.len() as u64);
                }
            }
            _ => {
                self.counters.warms_skipped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The L1 half of one update's detector reads (after shadow mode's accounting, which
    /// needs to know which reads L1 could answer: it costs an L1 peek per read).
    fn read_l1(&self, batch: &mut BatchReads, plan: ReadPlan, ts: u64) {
        let start = batch.reads.len();
        batch.reads.extend(plan.pools());
        let pools = start..batch.reads.len();
        if self.rollout.state_shadow() {
            let interner = self.cache.interner();
            for &q in &batch.reads[pools.clone()] {
                let hit = self.cache.contains_l1(q);
                if self.shadow.read(q, hit, ts)
                    && let Some(m) = &self.metrics
                {
                    let chain = interner.chain_of(q);
                    m.chain(chain, interner.chain_name(chain).unwrap_or("unknown"))
                        .shadow_hits
                        .inc();
                }
            }
        }
        for n in pools.clone() {
            let price = self.cache.get_l1_only(batch.reads[n]);
            if price.is_none() {
                batch.missing.push(n);
            }
            batch.prices.push(price);
        }
        batch.spans.push((pools.start, pools.len()));
        batch.plans.push(plan);
    }

    async fn detect(
        &self,
        ids: &[(PairId, f64, u64)],
        updates: &[PriceUpdate],
        origin: &[usize],
        batch: BatchReads,
    ) -> Vec<Published> {
        let interner = self.cache.interner();
        let BatchReads {
            plans,
            reads,
            spans,
            mut prices,
            missing,
        } = batch;
        if reads.is_empty() {
            return Vec::new();
        }
        self.counters
            .detector_reads
            .fetch_add(reads.len() as u64, Ordering::Relaxed);
        let miss_ids: Vec<PairId> = missing.iter().map(|&n| reads[n]).collect();
        match self.cache.load_many(&miss_ids).await {
            Ok(looked) => {
                for (&n, lookup) in missing.iter().zip(looked) {
                    prices[n] = lookup.ok().flatten();
                }
            }
            Err(e) => {
                self.counters.l2_errors.fetch_add(1, Ordering::Relaxed);
                let first = miss_ids.first().and_then(|&q| {
                    let key = interner.resolve(q)?;
                    Some((interner.chain_name(key.chain)?, key.address))
                });
                self.counters.l2_warnings.report(
                    L2Failure::Read,
                    first.as_ref().map(|(c, a)| (*c, a)),
                    &e,
                );
                // L1 only: a warm may have landed since the lookup.
                for &n in &missing {
                    prices[n] = self.cache.peek_l1(reads[n]);
                }
            }
        }
        let mut out = Vec::new();
        let registry = self.detector.registry();
        let dex_of = |p: PairId| {
            registry
                .meta(p)
                .and_then(|m| registry.with_dex_name(m.dex, str::to_owned))
                .unwrap_or_default()
        };
        for (((&(id, price, ts), plan), &(start, len)), &n) in
            ids.iter().zip(&plans).zip(&spans).zip(origin)
        {
            let update = &updates[n];
            for opportunity in self
                .detector
                .evaluate(id, price, plan, &prices[start..start + len])
            {
                let chain = interner.chain_of(id);
                let chain_name = interner.chain_name(chain).unwrap_or("unknown").to_owned();
                if let Some(m) = &self.metrics {
                    m.chain(chain, &chain_name).opportunities.inc();
                }
                let addr = |p: PairId| {
                    interner
                        .resolve(p)
                        .map_or_else(String::new, |k| k.address.to_string())
                };
                out.push(Published {
                    chain: chain_name,
                    pool: addr(opportunity.pool),
                    buy: addr(opportunity.buy),
                    sell: addr(opportunity.sell),
                    buy_dex: dex_of(opportunity.buy),
                    sell_dex: dex_of(opportunity.sell),
                    token0: update.token0.clone(),
                    token1: update.token1.clone(),
                    block: update.block,
                    opportunity,
                    ts_ms: ts,
                });
            }
        }
        self.counters
            .opportunities
            .fetch_add(out.len() as u64, Ordering::Relaxed);
        out
    }
}
