//! L1 coherence at the service level: two services in one consumer group share a Redis
//! feed, a foreign writer (the original's detectors) rewrites the prices; every L1 with
//! coherence on stops serving the old price, one with `CACHE_L1_COHERENCE=off` does not.

mod support;

use std::time::Duration;

use pairwarm_service::{Service, ServiceConfig};
use pairwarm_testkit::RedisServer;
use support::{Running, num};

const STREAM: &str = "stream:price-updates";
const WAIT: Duration = Duration::from_secs(30);
const PAIRS: u32 = 40;

async fn start(redis: &RedisServer, consumer: &str, coherence: &str) -> Running {
    let config = ServiceConfig::builder()
        .set("REDIS_URL", redis.url())
        .set("PAIRWARM_CONSUMER", consumer)
        .set("PAIRWARM_STATUS_INTERVAL", "0")
        .set("PAIRWARM_GROUP_START", "beginning")
        .set("CACHE_L1_COHERENCE", coherence)
        .build()
        .unwrap();
    Running::start(Service::builder(config).listen(false).build().unwrap()).await
}

fn address(n: u32) -> String {
    format!("0x{:040x}", 0xfeed_0000_u64 + u64::from(n))
}

/// The L1 price of pair `n` in `running`'s cache (not counted as a read).
fn in_l1(running: &Running, n: u32) -> Option<f64> {
    let cache = running.service.cache();
    let id = cache.interner().intern_str("ethereum", &address(n)).ok()?;
    cache.peek_l1(id).map(|p| p.price)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_services_and_a_foreign_writer_keep_every_coherent_l1_current() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    for n in 0..PAIRS {
        let _: String = redis::cmd("XADD")
            .arg(STREAM)
            .arg("*")
            .arg("chain")
            .arg("ethereum")
            .arg("pair")
            .arg(address(n))
            .arg("price")
            .arg("1850.5")
            .query(&mut conn)
            .unwrap();
    }
    let a = start(&redis, "a", "tracking").await;
    let b = start(&redis, "b", "tracking").await;
    let off = start(&redis, "off", "off").await;
    let processed = |r: &Running| num(&r.service.health().body, "stream.processed");
    support::wait_for(WAIT, "the group to process the feed", || {
        (processed(&a) + processed(&b) + processed(&off) == u64::from(PAIRS)).then_some(())
    })
    .await;
    // Every instance reads every pair, so each L1 holds the feed's price.
    for r in [&a, &b, &off] {
        let cache = r.service.cache();
        for n in 0..PAIRS {
            let id = cache
                .interner()
                .intern_str("ethereum", &address(n))
                .unwrap();
            let price = cache.get(id).await.unwrap().map(|p| p.price);
            assert_eq!(price, Some(1850.5), "pair {n}");
        }
    }
    support::wait_for(WAIT, "the feed's price in every L1", || {
        (0..PAIRS)
            .all(|n| [&a, &b, &off].iter().all(|r| in_l1(r, n) == Some(1850.5)))
            .then_some(())
    })
    .await;

    // The original's detectors write the same keys (its value shape, SETEX 300).
    for n in 0..PAIRS {
        let _: () = redis::cmd("SETEX")
            .arg(format!("cache:l2:price:ethereum:{}", address(n)))
            .arg(300)
            .arg(format!(
                r#"{{"price":2.5e-9,"reserve0":"50000000000000","reserve1":"20000000000000000000000","timestamp":1795923835406,"blockNumber":{}}}"#,
                21_000_000 + n
            ))
            .query(&mut conn)
            .unwrap();
    }
    // Both coherent instances hold the new price again (re-fetched, no read needed).
    support::wait_for(WAIT, "the foreign price in both coherent L1s", || {
        (0..PAIRS)
            .all(|n| [&a, &b].iter().all(|r| in_l1(r, n) == Some(2.5e-9)))
            .then_some(())
    })
    .await;
    for r in [&a, &b] {
        let stats = r.service.cache().coherence().unwrap().stats();
        assert!(stats.live, "{stats:?}");
        assert!(stats.invalidations >= u64::from(PAIRS), "{stats:?}");
        assert_eq!(stats.resets, 0, "{stats:?}");
    }
    // Without coherence the L1 keeps the old price: what this guards against.
    assert!(off.service.cache().coherence().is_none());
    assert!((0..PAIRS).all(|n| in_l1(&off, n) == Some(1850.5)));
    for r in [a, b, off] {
        r.stop().await;
    }
}
