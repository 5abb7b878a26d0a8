//! The per-batch pipeline on its own: write-through, tracking, rollout decisions, warming,
//! the detector, and what happens when L2 fails. In-memory L2, no network.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use pairwarm::cache::{HierarchicalCache, MemoryL2};
use pairwarm::container::{WarmingConfig, WarmingContainer};
use pairwarm::pair::{Address, PairKey};
use pairwarm_service::detector::{Detector, DetectorConfig, OpportunityKind, PoolRegistry};
use pairwarm_service::entry::PriceUpdate;
use pairwarm_service::processor::{Processor, ProcessorCounters};
use pairwarm_service::rollout::{RolloutControls, RolloutState};
use pairwarm_service::shadow::ShadowTracker;

struct Pipeline {
    processor: Processor<MemoryL2>,
    l2: MemoryL2,
}

impl Pipeline {
    fn new(rollout: RolloutState, inline_warms: bool) -> Self {
        Self::learning(rollout, inline_warms, false)
    }

    fn learning(rollout: RolloutState, inline_warms: bool, learn_from_misses: bool) -> Self {
        let l2 = MemoryL2::new();
        let cache = Arc::new(HierarchicalCache::builder().l1_size_mb(1).build(l2.clone()));
        let mut config = WarmingConfig {
            learn_from_misses,
            use_shared_analyzer: !learn_from_misses,
            ..WarmingConfig::default()
        };
        config.warmer.async_warming = !inline_warms;
        config.enable_metrics = true;
        let parts = WarmingContainer::new(cache.clone(), config)
            .build()
            .unwrap();
        let interner = cache.interner().clone();
        let processor = Processor {
            cache: cache.clone(),
            tracker: parts.tracker.clone(),
            warmer: Some(parts.warmer.clone()),
            rollout: Arc::new(RolloutControls::new(&rollout).unwrap()),
            shadow: Arc::new(ShadowTracker::for_interner(&interner, 5_000)),
            detector: Arc::new(Detector::new(
                Arc::new(PoolRegistry::new(interner)),
                DetectorConfig::default(),
            )),
            metrics: parts.metrics.clone(),
            counters: Arc::new(ProcessorCounters::default()),
        };
        Self { processor, l2 }
    }

    fn counters(&self) -> &ProcessorCounters {
        &self.processor.counters
    }

    fn id(&self, chain: &str, n: u32) -> pairwarm::pair::PairId {
        let interner = self.processor.cache.interner();
        interner.intern(PairKey {
            chain: interner.chain_id(chain).unwrap(),
            address: pool(n),
        })
    }
}

fn pool(n: u32) -> Address {
    Address::parse(&format!("0x{n:040x}")).unwrap()
}

fn update(chain: &str, n: u32, dex: &str, price: f64, ts_ms: u64) -> PriceUpdate {
    PriceUpdate {
        chain: chain.into(),
        pair: pool(n),
        dex: Some(dex.into()),
        token0: Some("weth".into()),
        token1: Some("usdc".into()),
        price,
        reserve0: pairwarm::cache::Reserve::ZERO,
        reserve1: pairwarm::cache::Reserve::ZERO,
        block: ts_ms / 12_000,
        ts_ms: Some(ts_ms),
    }
}

const T0: u64 = 1_700_000_000_000;

#[tokio::test]
async fn a_batch_is_written_through_tracked_and_counted() {
    let p = Pipeline::new(RolloutState::default(), true);
    let batch: Vec<PriceUpdate> = (1..=20)
        .map(|n| update("ethereum", n, &format!("dex{n}"), 1000.0, T0 + u64::from(n)))
        .collect();
    p.processor.process(&batch).await;
    assert_eq!(p.counters().updates.load(Ordering::Relaxed), 20);
    assert_eq!(p.processor.tracker.stats().total_updates, 20);
    // Every price in L1 and, written through, in L2 (one key per pool).
    for n in 1..=20 {
        let price = p.processor.cache.get_l1_only(p.id("ethereum", n));
        assert_eq!(price.map(|p| p.price), Some(1000.0), "pool {n}");
    }
    assert_eq!(p.l2.len(), 20);
    // Metrics: price updates per chain.
    let metrics = p.processor.metrics.as_ref().unwrap();
    assert_eq!(metrics.chain_by_name("ethereum").price_updates.get(), 20);
}

#[tokio::test]
async fn cross_dex_spreads_are_returned_ready_to_publish() {
    let p = Pipeline::new(RolloutState::default(), true);
    // Same token pair on two DEXes: 2% apart, 60 bps of fees: an opportunity of ~140 bps.
    p.processor
        .process(&[update("ethereum", 1, "uniswap", 1000.0, T0)])
        .await;
    let found = p
        .processor
        .process(&[update("ethereum", 2, "sushiswap", 1020.0, T0 + 1)])
        .await;
    assert_eq!(found.len(), 1, "{found:?}");
    let o = &found[0];
    assert_eq!(o.chain, "ethereum");
    assert_eq!(o.opportunity.kind, OpportunityKind::CrossDex);
    // Prices are reserve0 / reserve1 (token0 per token1): token0 is cheapest in token1
    // where that price is highest, so it is bought on pool 2.
    assert_eq!(
        (o.buy.as_str(), o.sell.as_str()),
        (pool(2).to_string().as_str(), pool(1).to_string().as_str())
    );
    assert_eq!(
        (o.opportunity.buy_price, o.opportunity.sell_price),
        (1020.0, 1000.0)
    );
    assert_eq!(
        (o.buy_dex.as_str(), o.sell_dex.as_str()),
        ("sushiswap", "uniswap")
    );
    assert_eq!(o.pool, pool(2).to_string());
    assert!((o.opportunity.spread_bps - 140.0).abs() < 0.5, "{o:?}");
    assert_eq!(o.ts_ms, T0 + 1);
    assert_eq!(p.counters().opportunities.load(Ordering::Relaxed), 1);
    assert!(p.counters().detector_reads.load(Ordering::Relaxed) >= 1);
}

/// Six blocks in which pool 3 (the same token pair as pool 1 on another DEX) is written
/// and leaves L1, then pool 1 updates, with `others` after it in the same batch: the
/// detector reads pool 3 for pool 1's update, and misses. Returns the time after them.
async fn miss_pool_3_after_pool_1(p: &Pipeline, others: impl Fn(u64) -> Vec<PriceUpdate>) -> u64 {
    let b = p.id("ethereum", 3);
    for block in 0..6u64 {
        let t = T0 + block * 12_000;
        p.processor
            .process(&[update("ethereum", 3, "sushiswap", 1000.0, t)])
            .await;
        p.processor.cache.invalidate_l1(b);
        let mut batch = vec![update("ethereum", 1, "uniswap", 1000.0, t + 2)];
        batch.extend(others(t + 2));
        p.processor.process(&batch).await;
    }
    T0 + 5 * 12_000 + 3
}

/// `serve`'s default learner: the detector's reads that miss L1 credit the updates just
/// before them, in the feed's time (here three years behind the wall clock, which a
/// wall-clock stamp would have put outside every window).
#[tokio::test]
async fn the_detectors_misses_teach_the_tracker_in_the_feeds_time() {
    let p = Pipeline::learning(RolloutState::default(), true, false);
    assert_eq!(
        p.processor.tracker.config().signal,
        pairwarm::tracker::Signal::Updates
    );
    let p = Pipeline::learning(RolloutState::default(), true, true);
    assert_eq!(
        p.processor.tracker.config().signal,
        pairwarm::tracker::Signal::Reads
    );
    let (a, b) = (p.id("ethereum", 1), p.id("ethereum", 3));
    // a's update makes the detector read b: a miss, credited to a.
    let now = miss_pool_3_after_pool_1(&p, |_| Vec::new()).await;
    let ab = p
        .processor
        .tracker
        .correlation_score(a, b, now)
        .unwrap_or(0.0);
    assert!(ab > 0.5, "b's misses follow a's updates: {ab}");
    // a stays in L1 after its first update: b's updates are followed by at most one miss
    // of a (in the first block).
    let ba = p
        .processor
        .tracker
        .correlation_score(b, a, now)
        .unwrap_or(0.0);
    assert!(ab > ba + 0.5, "{ab} vs {ba}");
}

/// Within a batch, a miss is heard right after the update whose detector read it, not
/// after the batch's last updates: the credit goes to that update.
#[tokio::test]
async fn a_batchs_misses_credit_the_update_that_read_them() {
    let p = Pipeline::learning(RolloutState::default(), true, true);
    let (a, b) = (p.id("ethereum", 1), p.id("ethereum", 3));
    // Four pools of unrelated token pairs, updated after a in the same batch.
    let others = |t: u64| {
        (10..14u32)
            .map(|n| PriceUpdate {
                token0: Some(format!("tok{n}")),
                token1: Some("dai".into()),
                ..update("ethereum", n, "curve", 1.0, t)
            })
            .collect()
    };
    let now = miss_pool_3_after_pool_1(&p, others).await;
    let score = |x| {
        p.processor
            .tracker
            .correlation_score(x, b, now)
            .unwrap_or(0.0)
    };
    assert!(score(a) > 0.5, "a's detector read b: {}", score(a));
    for n in 10..14u32 {
        assert_eq!(
            score(p.id("ethereum", n)),
            0.0,
            "pool {n} updated after the read"
        );
    }
}

/// Two pools of unrelated tokens (so the detector never reads one for the other) that
/// always update together: after a few blocks the tracker pairs them, and an update of one
/// warms the other back into L1.
async fn learn_and_evict(p: &Pipeline) -> (pairwarm::pair::PairId, pairwarm::pair::PairId) {
    for block in 0..6u64 {
        let t = T0 + block * 12_000;
        let other = PriceUpdate {
            token0: Some("wbtc".into()),
            token1: Some("dai".into()),
            ..update("ethereum", 2, "sushiswap", 1000.0, t + 2)
        };
        p.processor
            .process(&[update("ethereum", 1, "uniswap", 1000.0, t), other])
            .await;
    }
    let (a, b) = (p.id("ethereum", 1), p.id("ethereum", 2));
    p.processor.cache.invalidate_l1(b);
    (a, b)
}

#[tokio::test]
async fn rollout_decides_per_update_whether_to_warm() {
    // Warming on: the update of `a` brings `b` back into L1.
    let p = Pipeline::new(RolloutState::default(), true);
    let (_, b) = learn_and_evict(&p).await;
    p.processor
        .process(&[update("ethereum", 1, "uniswap", 1000.0, T0 + 80_000)])
        .await;
    assert!(p.processor.cache.contains_l1(b), "warmed");
    assert!(p.counters().warms_triggered.load(Ordering::Relaxed) > 0);

    // Master switch off: nothing is warmed, every update is counted as skipped.
    let off = RolloutState {
        enabled: false,
        ..RolloutState::default()
    };
    let p = Pipeline::new(off, true);
    let (_, b) = learn_and_evict(&p).await;
    p.processor
        .process(&[update("ethereum", 1, "uniswap", 1000.0, T0 + 80_000)])
        .await;
    assert!(!p.processor.cache.contains_l1(b), "not warmed");
    assert_eq!(p.counters().warms_triggered.load(Ordering::Relaxed), 0);
    assert_eq!(p.counters().warms_skipped.load(Ordering::Relaxed), 13);

    // Shadow mode: predicted (and counted) but not warmed.
    let shadow = RolloutState {
        shadow_mode: true,
        ..RolloutState::default()
    };
    let p = Pipeline::new(shadow, true);
    let (_, b) = learn_and_evict(&p).await;
    p.processor
        .process(&[update("ethereum", 1, "uniswap", 1000.0, T0 + 80_000)])
        .await;
    assert!(!p.processor.cache.contains_l1(b), "shadow mode never warms");
    assert!(p.processor.shadow.stats().predictions > 0);

    // Canary chains: warming only where listed.
    let canary = RolloutState {
        enabled_chains: Some(vec!["bsc".into()]),
        ..RolloutState::default()
    };
    let p = Pipeline::new(canary, true);
    let (_, b) = learn_and_evict(&p).await;
    p.processor
        .process(&[update("ethereum", 1, "uniswap", 1000.0, T0 + 80_000)])
        .await;
    assert!(
        !p.processor.cache.contains_l1(b),
        "ethereum is not a canary"
    );
    assert_eq!(p.counters().warms_triggered.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_failing_l2_is_counted_and_the_batch_still_lands_in_l1() {
    let p = Pipeline::new(RolloutState::default(), true);
    p.l2.set_down(true);
    let found = p
        .processor
        .process(&[
            update("ethereum", 1, "uniswap", 1000.0, T0),
            update("ethereum", 2, "sushiswap", 1020.0, T0 + 1),
        ])
        .await;
    assert!(p.counters().l2_errors.load(Ordering::Relaxed) >= 1);
    assert_eq!(p.counters().updates.load(Ordering::Relaxed), 2);
    assert!(p.processor.cache.contains_l1(p.id("ethereum", 1)));
    // The detector falls back to L1 and still sees the spread (from both pools' updates).
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found
            .iter()
            .all(|o| (o.opportunity.spread_bps - 140.0).abs() < 0.5)
    );
    assert_eq!(p.l2.len(), 0);
}

/// A detector read that misses L1 while L2 is down is counted as an L2 error; the batch
/// goes on with what L1 holds (here nothing for the missing pool: no opportunity).
#[tokio::test]
async fn a_failing_l2_read_is_counted_and_the_detector_reads_l1_only() {
    let p = Pipeline::new(RolloutState::default(), true);
    p.processor
        .process(&[update("ethereum", 2, "sushiswap", 1020.0, T0)])
        .await;
    let b = p.id("ethereum", 2);
    p.processor.cache.invalidate_l1(b);
    let errors = p.counters().l2_errors.load(Ordering::Relaxed);
    let reads = p.counters().detector_reads.load(Ordering::Relaxed);
    p.l2.set_down(true);
    // The write-through fails too; `process` goes on (its caller cannot retry).
    let found = p
        .processor
        .process(&[update("ethereum", 1, "uniswap", 1000.0, T0 + 1)])
        .await;
    assert!(found.is_empty(), "b's price is in neither tier: {found:?}");
    assert_eq!(p.counters().l2_errors.load(Ordering::Relaxed), errors + 2);
    assert_eq!(
        p.counters().detector_reads.load(Ordering::Relaxed),
        reads + 1
    );
    // Back up: the same read finds b in L2 and the spread.
    p.l2.set_down(false);
    p.processor
        .process(&[update("ethereum", 2, "sushiswap", 1020.0, T0 + 2)])
        .await;
    p.processor.cache.invalidate_l1(b);
    let found = p
        .processor
        .process(&[update("ethereum", 1, "uniswap", 1000.0, T0 + 3)])
        .await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(p.processor.cache.contains_l1(b), "promoted from L2");
}

#[tokio::test]
async fn chains_beyond_the_interner_limit_are_rejected_not_processed() {
    let p = Pipeline::new(RolloutState::default(), true);
    let max = pairwarm::pair::MAX_CHAINS as u32;
    let batch: Vec<PriceUpdate> = (0..=max)
        .map(|n| update(&format!("chain{n}"), n + 1, "dex", 1.0, T0))
        .collect();
    p.processor.process(&batch).await;
    assert_eq!(p.counters().rejected.load(Ordering::Relaxed), 1);
    assert_eq!(p.counters().updates.load(Ordering::Relaxed), u64::from(max));
}

/// The feed's `token0`/`token1` describe each pool to the warmer's pool structure, so the
/// pools trading the same tokens (other DEXes, then other chains) are warmed first.
#[tokio::test]
async fn the_feeds_tokens_describe_the_pool_structure() {
    let p = Pipeline::new(RolloutState::default(), true);
    let mut batch: Vec<PriceUpdate> = (1..=3)
        .map(|n| update("ethereum", n, &format!("dex{n}"), 1000.0, T0 + u64::from(n)))
        .collect();
    batch.push(update("arbitrum", 4, "dex1", 1001.0, T0 + 4));
    let mut tokenless = update("ethereum", 5, "dex5", 999.0, T0 + 5);
    tokenless.token0 = None;
    batch.push(tokenless);
    p.processor.process(&batch).await;
    let structure = p.processor.warmer.as_ref().unwrap().structure();
    assert_eq!(
        structure.len(),
        4,
        "the pool without tokens is not described"
    );
    let mut out = Vec::new();
    structure.neighbours_into(p.id("ethereum", 1), &mut out);
    assert_eq!(
        out,
        vec![
            p.id("ethereum", 2),
            p.id("ethereum", 3),
            p.id("arbitrum", 4)
        ]
    );
}
