//! The `/health/warming` document of a running service: reading it must not change it.

mod support;

use pairwarm::cache::MemoryL2;
use pairwarm::pair::{Address, PairId};
use pairwarm_service::entry::PriceUpdate;
use pairwarm_service::health::Status;
use pairwarm_service::{Service, ServiceConfig};
use support::Running;

const T0: u64 = 1_700_000_000_000;

fn update(n: u32, tokens: (&str, &str), ts_ms: u64) -> PriceUpdate {
    PriceUpdate {
        chain: "ethereum".into(),
        pair: Address::parse(&format!("0x{n:040x}")).unwrap(),
        dex: Some("uniswap".into()),
        token0: Some(tokens.0.into()),
        token1: Some(tokens.1.into()),
        price: 1000.0,
        reserve0: pairwarm::cache::Reserve::ZERO,
        reserve1: pairwarm::cache::Reserve::ZERO,
        block: 0,
        ts_ms: Some(ts_ms),
    }
}

/// Two pools of unrelated tokens (the detector never reads one for the other) that always
/// update together, so the tracker pairs them and an update of `a` warms `b`.
async fn learn(service: &Service) -> PairId {
    for block in 0..6u64 {
        let t = T0 + block * 12_000;
        service
            .process(&[
                update(1, ("weth", "usdc"), t),
                update(2, ("wbtc", "dai"), t + 2),
            ])
            .await;
    }
    service
        .cache()
        .interner()
        .intern_str("ethereum", &format!("0x{:040x}", 2))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_the_health_document_does_not_change_it() {
    let l2 = MemoryL2::new();
    let config = ServiceConfig::builder()
        .set("PAIRWARM_FEED", "none")
        .set("WARMING_ASYNC", "false")
        .set("CACHE_L1_SIZE", "1")
        // `learn` pairs two pools by update co-occurrence (serve's default learns from
        // the detector's misses, and it never reads one pool for the other).
        .set("WARMING_LEARN_FROM", "updates")
        .build()
        .unwrap();
    let service = Service::builder(config)
        .l2(l2.clone())
        .listen(false)
        .build()
        .unwrap();
    let running = Running::start(service.clone()).await;
    assert_eq!(service.health().status, Status::Healthy);

    let b = learn(&service).await;
    // L2 goes down: every warm of `b` (evicted each time, so there is something to fetch)
    // fails.
    l2.set_down(true);
    for i in 0..20u64 {
        service.cache().invalidate_l1(b);
        service
            .process(&[update(1, ("weth", "usdc"), T0 + 100_000 + i)])
            .await;
    }
    let warmer = service.warming().warmer.stats();
    assert!(warmer.failed_ops >= 20, "{warmer:?}");

    let first = service.health();
    let second = service.health();
    assert_eq!(first.status, Status::Degraded, "{:#}", first.body);
    assert_eq!(
        second.status,
        Status::Degraded,
        "the first read changed the answer of the second: {:#}",
        second.body
    );
    assert_eq!(first.body["reasons"], second.body["reasons"]);
    assert_eq!(
        first.body["tracker"]["learnsFrom"], "updates",
        "{:#}",
        first.body
    );

    running.stop().await;
}
