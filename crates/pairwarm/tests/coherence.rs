//! L1 coherence (client tracking) against real `redis-server`s: two caches on one Redis and
//! a foreign writer writing the original's value shape; loss of the invalidation channel.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pairwarm::cache::{
    Coherence, CoherenceStats, HierarchicalCache, Price, RedisL2, RedisL2Config, TrackingDriver,
    connect_tracked,
};
use pairwarm::cache::{RedisTarget, RedisTls};
use pairwarm::pair::PairId;
use pairwarm_testkit::{RedisOptions, RedisServer};

type Cache = Arc<HierarchicalCache<RedisL2>>;

/// A cache with coherence on, its driver running, live.
struct Tracked {
    cache: Cache,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

async fn tracked(server: &RedisServer) -> Tracked {
    tracked_on(&RedisL2Config::new(server.url())).await
}

async fn tracked_on(config: &RedisL2Config) -> Tracked {
    let (l2, pushes) = connect_tracked(config).unwrap();
    let cache = Arc::new(
        HierarchicalCache::builder()
            .l1_entries(1024)
            .coherence(Coherence::new())
            .build(l2.clone()),
    );
    let driver = TrackingDriver::new(cache.clone(), l2, pushes).unwrap();
    let driver = tokio::spawn(driver.run(std::future::pending()));
    let t = Tracked { cache, driver };
    wait_for("tracking on", || t.stats().live).await;
    t
}

impl Tracked {
    fn stats(&self) -> CoherenceStats {
        self.cache.coherence().unwrap().stats()
    }

    fn id(&self, n: u32) -> PairId {
        self.cache
            .interner()
            .intern_str("ethereum", &addr(n))
            .unwrap()
    }
}

/// Waits (bounded) for `cond`; the bound only keeps a broken build from hanging.
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Reads `id` until L1 holds `price` (a read racing with the invalidation of the write it
/// reads is not put into L1, rightly; the next one is).
async fn read_until_cached(cache: &Cache, id: PairId, price: f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert_eq!(cache.get(id).await.unwrap().map(|x| x.price), Some(price));
        if cache.peek_l1(id).map(|x| x.price) == Some(price) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {price} in L1"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Waits (bounded) until L1 holds `price` for `id` (re-fetched, or written).
async fn wait_in_l1(cache: &Cache, id: PairId, price: f64) {
    wait_for(&format!("{price} in L1"), || {
        cache.peek_l1(id).map(|x| x.price) == Some(price)
    })
    .await;
}

fn addr(n: u32) -> String {
    format!("0x{:040x}", 0xc0de_0000_u64 + u64::from(n))
}

fn key(n: u32) -> String {
    format!("cache:l2:price:ethereum:{}", addr(n))
}

/// A write by another client, in the original's shape (`SETEX key 300 <json>`).
fn foreign_write(server: &RedisServer, n: u32, price: f64, block: u64) {
    let json = format!(
        r#"{{"price":{price},"reserve0":"50000000000000","reserve1":"20000000000000000000000","timestamp":1795923835406,"blockNumber":{block}}}"#
    );
    let _: () = redis::cmd("SETEX")
        .arg(key(n))
        .arg(300)
        .arg(json)
        .query(&mut server.connection())
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_write_reaches_every_l1_and_hot_keys_are_refetched() {
    let server = RedisServer::start();
    let a = tracked(&server).await;
    let b = tracked(&server).await;
    let (pa, pb) = (a.id(1), b.id(1));
    a.cache
        .set(pa, Price::new(100.0, 21_000_000, 1_795_923_835_000))
        .await
        .unwrap();
    // B loads the value into its L1; both now serve it from L1. (A's own newer-wins
    // script write may come back to A despite NOLOOP, see the module docs: then A drops
    // and re-fetches it.)
    wait_for("B told of A's write", || b.stats().invalidations == 1).await;
    read_until_cached(&b.cache, pb, 100.0).await;
    wait_for("A's value in A's L1", || {
        a.cache.peek_l1(pa).map(|p| p.price) == Some(100.0)
    })
    .await;

    foreign_write(&server, 1, 2.5e-9, 21_000_001);
    // Both L1s stop serving 100.0 and hold the new value again without a read (re-fetched).
    for t in [&a, &b] {
        wait_in_l1(&t.cache, t.id(1), 2.5e-9).await;
        let s = t.stats();
        assert!(s.dropped >= 1 && s.refetched >= 1, "{s:?}");
    }
    let got = a.cache.get_l1_only(pa).unwrap();
    assert_eq!(
        (got.price, got.block, got.reserve0.to_string()),
        (2.5e-9, 21_000_001, "50000000000000".to_owned())
    );
    // B never writes: it was told of exactly A's write and the foreign one.
    assert_eq!(b.stats().invalidations, 2);

    // A key of a pair neither cache knows: counted, nothing interned.
    let interned = b.cache.interner().len();
    foreign_write(&server, 99, 1.0, 1);
    wait_for("the unknown key's invalidation", || {
        b.stats().invalidations == 3
    })
    .await;
    assert_eq!(b.cache.interner().len(), interned);
    assert_eq!((a.stats().resets, b.stats().resets), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_tracking_connection_flushes_l1_then_tracks_again() {
    let server = RedisServer::start();
    let a = tracked(&server).await;
    let p = a.id(2);
    a.cache
        .set(p, Price::new(7.0, 100, 1_795_923_835_000))
        .await
        .unwrap();
    wait_in_l1(&a.cache, p, 7.0).await;

    // Kill every client connection and write while A's tracking is off.
    let mut admin = server.connection();
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .query(&mut admin)
        .unwrap();
    foreign_write(&server, 2, 8.0, 101);
    wait_for("the reset", || a.stats().resets == 1).await;
    wait_for("tracking on again", || a.stats().live).await;
    // L1 was flushed: the first read goes to L2 and finds the value written meanwhile.
    assert_eq!(a.cache.peek_l1(p), None);
    read_until_cached(&a.cache, p, 8.0).await;

    // Coherent again on the new connection.
    foreign_write(&server, 2, 9.0, 102);
    wait_in_l1(&a.cache, p, 9.0).await;
    assert_eq!(a.stats().resets, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_and_a_flushall_flush_l1() {
    let mut server = RedisServer::start();
    let a = tracked(&server).await;
    let p = a.id(3);
    a.cache.set(p, Price::new(1.0, 1, 1)).await.unwrap();
    wait_for("the value in L1", || a.cache.peek_l1(p).is_some()).await;

    let _: () = redis::cmd("FLUSHALL")
        .query(&mut server.connection())
        .unwrap();
    wait_for("the flush", || a.stats().resets == 1).await;
    assert_eq!(a.cache.l1_len(), 0);
    assert!(a.stats().live, "a flush keeps tracking on");

    a.cache.set(p, Price::new(2.0, 2, 2)).await.unwrap();
    server.restart();
    // Redis came back empty: L1 must not keep serving 2.0.
    wait_for("the reset after the restart", || a.stats().resets == 2).await;
    assert_eq!(a.cache.get_l1_only(p), None);
    wait_for("tracking on again", || a.stats().live).await;
    foreign_write(&server, 3, 3.0, 3);
    read_until_cached(&a.cache, p, 3.0).await;
    foreign_write(&server, 3, 4.0, 4);
    wait_in_l1(&a.cache, p, 4.0).await;
}

#[tokio::test]
async fn a_cache_without_coherence_cannot_be_driven() {
    let server = RedisServer::start();
    let (l2, pushes) = connect_tracked(&RedisL2Config::new(server.url())).unwrap();
    let cache = Arc::new(HierarchicalCache::builder().build(l2.clone()));
    assert!(TrackingDriver::new(cache, l2, pushes).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_works_over_tls_with_a_password() {
    let server = RedisServer::start_with(RedisOptions {
        tls: Some(true),
        password: Some("s3cret-pw".into()),
        ..RedisOptions::default()
    });
    let certs = server.tls().unwrap();
    let read = |p: &std::path::Path| std::fs::read(p).unwrap();
    let target = RedisTarget {
        url: server.url().into(),
        tls: RedisTls {
            ca_pem: Some(read(&certs.ca_cert)),
            client_pem: Some((read(&certs.client_cert), read(&certs.client_key))),
        },
        ..RedisTarget::default()
    };
    assert!(target.url.is_tls());
    let a = tracked_on(&RedisL2Config::new(target)).await;
    let p = a.id(4);
    foreign_write(&server, 4, 1.0, 1);
    read_until_cached(&a.cache, p, 1.0).await;
    foreign_write(&server, 4, 2.0, 2);
    wait_in_l1(&a.cache, p, 2.0).await;
}
