use super::*;
use pairwarm::cache::HierarchicalCache;

fn setup() -> (
    HierarchicalCache<pairwarm::cache::MemoryL2>,
    Detector,
    Vec<PairId>,
    ChainId,
) {
    let cache = HierarchicalCache::builder()
        .l1_entries(64)
        .build_in_memory();
    let registry = Arc::new(PoolRegistry::new(cache.interner().clone()));
    let detector = Detector::new(
        registry.clone(),
        DetectorConfig {
            hub_tokens: vec!["weth".into()],
            min_spread_bps: 10.0,
            ..DetectorConfig::default()
        },
    );
    let chain = cache.interner().chain_id("ethereum").unwrap();
    let pools: Vec<PairId> = [
        ("uniswap", "usdc", "dai"),
        ("sushiswap", "dai", "usdc"),
        ("curve", "usdc", "dai"),
        ("uniswap", "usdc", "weth"),
        ("uniswap", "dai", "weth"),
    ]
    .iter()
    .enumerate()
    .map(|(n, (dex, t0, t1))| {
        let id = cache
            .interner()
            .intern_str("ethereum", &format!("0x{:040x}", n + 1))
            .unwrap();
        registry.observe(id, chain, dex, t0, t1);
        id
    })
    .collect();
    (cache, detector, pools, chain)
}

#[test]
fn plans_siblings_and_triangle_legs() {
    let (_cache, detector, pools, chain) = setup();
    let plan = detector.plan(pools[0], chain);
    assert_eq!(plan.siblings, vec![pools[1], pools[2]]);
    assert_eq!(plan.legs, vec![(pools[3], pools[4])]);
    assert_eq!(plan.pools().len(), 4);
}

#[tokio::test]
async fn finds_cross_dex_spread_net_of_fees() {
    let (cache, detector, pools, chain) = setup();
    // Prices are the original's reserve0 / reserve1 (token0 per token1).
    // usdc->dai 1.00 on uniswap (usdc/dai at 1); sushiswap's dai/usdc pool holds 1.02 dai
    // per usdc (usdc->dai 1.02); curve's usdc/dai 1/1.001 usdc per dai.
    cache.set(pools[1], Price::new(1.02, 1, 1)).await.unwrap();
    cache
        .set(pools[2], Price::new(1.0 / 1.001, 1, 1))
        .await
        .unwrap();
    let found = detector.check(&cache, pools[0], chain, 1.0).await.unwrap();
    assert_eq!(found.len(), 1);
    let o = &found[0];
    assert_eq!(
        (o.kind, o.buy, o.sell),
        (OpportunityKind::CrossDex, pools[0], pools[1])
    );
    // 200 bps gross, minus 2 x 30 bps fees.
    assert!((o.spread_bps - 140.0).abs() < 1e-6, "{}", o.spread_bps);
    // The reads went through the cache (4 pools: 2 siblings + 2 legs; legs absent).
    assert_eq!(cache.stats().l1.hits + cache.stats().l1.misses, 4);
}

#[tokio::test]
async fn triangle_and_no_false_positive_below_fees() {
    let (cache, detector, pools, chain) = setup();
    cache.set(pools[1], Price::new(1.0, 1, 1)).await.unwrap();
    cache
        .set(pools[2], Price::new(1.0 / 1.001, 1, 1))
        .await
        .unwrap();
    // usdc->weth 0.0005 (2000 usdc per weth), dai->weth 0.00049 => usdc->dai via weth =
    // 0.0005/0.00049 = 1.0204
    cache.set(pools[3], Price::new(2000.0, 1, 1)).await.unwrap();
    cache
        .set(pools[4], Price::new(1.0 / 0.00049, 1, 1))
        .await
        .unwrap();
    let found = detector.check(&cache, pools[0], chain, 1.0).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, OpportunityKind::Triangle);
    assert!(
        (found[0].spread_bps - (204.0816 - 90.0)).abs() < 0.01,
        "{}",
        found[0].spread_bps
    );
}

/// DEX names beyond the registry's limit must not borrow another DEX's fee.
#[test]
fn a_dex_beyond_the_limit_pays_the_default_fee() {
    let interner = Arc::new(pairwarm::pair::PairInterner::new(4096));
    let registry = Arc::new(PoolRegistry::new(interner.clone()));
    let detector = Detector::new(
        registry.clone(),
        DetectorConfig {
            default_fee_bps: 30.0,
            dex_fees_bps: [("dex1023".to_string(), 5.0)].into_iter().collect(),
            ..DetectorConfig::default()
        },
    );
    let chain = interner.chain_id("ethereum").unwrap();
    let pools: Vec<PairId> = (0..1025u32)
        .map(|n| {
            let id = interner
                .intern_str("ethereum", &format!("0x{n:040x}"))
                .unwrap();
            registry.observe(id, chain, &format!("dex{n}"), "weth", &format!("t{n}"));
            id
        })
        .collect();
    assert_eq!(
        detector.fee_bps(pools[1023]),
        5.0,
        "the 1,024th DEX has its fee"
    );
    assert_eq!(detector.fee_bps(pools[1024]), 30.0, "the 1,025th has none");
    assert_eq!(detector.fee_bps(pools[0]), 30.0);
}

/// The reference's sample batch (original-wire-formats.md §1), through the detector: the
/// USDC/WETH pools on uniswap_v2 and sushiswap differ by 2% (reserve1 20,000 vs 20,400
/// WETH), a cross-DEX spread of ~140 bps net of fees, never the 1.6e21 bps a reciprocal
/// price on one of the keys gave.
#[tokio::test]
async fn the_references_sample_batch_gives_a_sane_spread() {
    let cache = HierarchicalCache::builder()
        .l1_entries(64)
        .build_in_memory();
    let registry = Arc::new(PoolRegistry::new(cache.interner().clone()));
    let detector = Detector::new(
        registry.clone(),
        DetectorConfig {
            hub_tokens: vec!["0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2".into()],
            ..DetectorConfig::default()
        },
    );
    let chain = cache.interner().chain_id("ethereum").unwrap();
    let mut out = Vec::new();
    crate::entry::parse_entry(
        "stream:price-updates",
        &[(
            "data",
            include_str!("../../tests/data/reference_batch.json"),
        )],
        &crate::entry::EntryRules::default(),
        &mut out,
        &mut crate::entry::BadUpdates::default(),
    )
    .unwrap();
    let mut ids = Vec::new();
    for u in &out {
        let id = cache.interner().intern(pairwarm::pair::PairKey {
            chain,
            address: u.pair,
        });
        registry.observe(
            id,
            chain,
            u.dex.as_deref().unwrap(),
            u.token0.as_deref().unwrap(),
            u.token1.as_deref().unwrap(),
        );
        cache
            .set(
                id,
                Price::new(u.price, u.block, u.ts_ms.unwrap())
                    .with_reserves(u.reserve0, u.reserve1),
            )
            .await
            .unwrap();
        ids.push(id);
    }
    let mut spreads = Vec::new();
    for (u, &id) in out.iter().zip(&ids) {
        for o in detector.check(&cache, id, chain, u.price).await.unwrap() {
            spreads.push((o.kind, o.spread_bps, o.buy_price, o.sell_price));
        }
    }
    assert!(
        !spreads.is_empty(),
        "the 2% cross-DEX gap is an opportunity"
    );
    for (kind, bps, buy, sell) in spreads {
        assert_eq!(kind, OpportunityKind::CrossDex);
        // (20,400 / 20,000 - 1) = 200 bps gross, 2 x 30 bps fees.
        assert!((bps - 140.0).abs() < 0.5, "{bps} bps");
        // token0 (USDC) is bought where it is cheapest in WETH (uniswap_v2, fewer WETH per
        // USDC) and sold on sushiswap.
        assert!(buy == 2.5e-9 && sell == 2.450980392e-9, "{buy} {sell}");
    }
}
