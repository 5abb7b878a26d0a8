//! The cache against a real `redis-server` started on a free loopback port.

use std::time::{Duration, Instant};

use pairwarm::cache::{
    CacheError, HierarchicalCache, L2Error, L2Store, Price, RedisL2, RedisL2Config, ValueError,
};
use pairwarm::cache::{RedisTarget, RedisTls};
use pairwarm::pair::PairId;
use pairwarm_testkit::{RedisOptions, RedisServer};

fn config(server: &RedisServer) -> RedisL2Config {
    RedisL2Config::new(server.url())
}

fn cache_on(server: &RedisServer, l1: usize) -> HierarchicalCache<RedisL2> {
    let l2 = RedisL2::connect_lazy(&config(server)).unwrap();
    HierarchicalCache::builder().l1_entries(l1).build(l2)
}

fn addr(n: u32) -> String {
    format!("0x{:040x}", 0xabc0_0000_u64 + u64::from(n))
}

fn intern(cache: &HierarchicalCache<RedisL2>, n: u32) -> PairId {
    cache.interner().intern_str("ethereum", &addr(n)).unwrap()
}

#[tokio::test]
async fn values_written_by_one_client_are_read_by_another() {
    let server = RedisServer::start();
    let writer = cache_on(&server, 64);
    let reader = cache_on(&server, 64);
    let w = intern(&writer, 1);
    writer
        .set(w, Price::new(1850.25, 19_000_001, 1_700_000_000_000))
        .await
        .unwrap();
    // The key layout is the original's `cache:l2:` prefix plus ours.
    let raw: String = redis::cmd("GET")
        .arg(format!("cache:l2:price:ethereum:{}", addr(1)))
        .query(&mut server.connection())
        .unwrap();
    // ... and the value the original's shape.
    assert_eq!(
        raw,
        r#"{"price":1850.25,"reserve0":"0","reserve1":"0","timestamp":1700000000000,"blockNumber":19000001}"#
    );
    let r = intern(&reader, 1);
    assert_eq!(
        reader.get(r).await.unwrap(),
        Some(Price::new(1850.25, 19_000_001, 1_700_000_000_000))
    );
    let stats = reader.stats();
    assert_eq!((stats.l1.misses, stats.l2.hits), (1, 1));
    // Promoted: the second read is local.
    reader.get(r).await.unwrap();
    assert_eq!(reader.stats().l1.hits, 1);
}

#[tokio::test]
async fn get_many_is_one_round_trip() {
    let server = RedisServer::start();
    let cache = cache_on(&server, 64);
    let ids: Vec<PairId> = (0..10).map(|n| intern(&cache, n)).collect();
    for (n, &id) in ids.iter().enumerate().take(7) {
        cache.set(id, Price::new(n as f64, 1, 1)).await.unwrap();
        cache.invalidate_l1(id);
    }
    server.reset_stats();
    let got = cache.get_many(&ids).await.unwrap();
    assert_eq!(server.command_calls("mget"), 1);
    assert_eq!(server.command_calls("get"), 0);
    let prices: Vec<Option<f64>> = got
        .into_iter()
        .map(|r| r.unwrap().map(|p| p.price))
        .collect();
    let expected: Vec<Option<f64>> = (0..10).map(|n| (n < 7).then_some(f64::from(n))).collect();
    assert_eq!(prices, expected);
    // The 7 found were promoted; a second batch needs one MGET for the 3 absent only.
    server.reset_stats();
    cache.get_many(&ids).await.unwrap();
    assert_eq!(server.command_calls("mget"), 1);
    assert_eq!(cache.stats().l1.hits, 7);
}

#[tokio::test]
async fn l2_ttl_expires_values() {
    let server = RedisServer::start();
    let l2 = RedisL2::connect_lazy(&config(&server)).unwrap();
    let cache = HierarchicalCache::builder()
        .l1_entries(16)
        .l2_ttl(Duration::from_millis(150))
        .build(l2);
    let id = intern(&cache, 3);
    cache.set(id, Price::new(2.0, 1, 1)).await.unwrap();
    let pttl: i64 = redis::cmd("PTTL")
        .arg(cache.l2_key(id).unwrap())
        .query(&mut server.connection())
        .unwrap();
    assert!((1..=150).contains(&pttl), "PTTL {pttl}");
    cache.invalidate_l1(id);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(cache.get(id).await.unwrap(), None);
    assert_eq!(cache.stats().l2.misses, 1);
}

#[tokio::test]
async fn outage_returns_errors_then_recovers_without_rebuilding() {
    let mut server = RedisServer::start();
    let cfg = config(&server);
    let l2 = RedisL2::connect(&cfg).await.unwrap();
    let cache = HierarchicalCache::builder().l1_entries(16).build(l2);
    let id = intern(&cache, 4);
    cache.set(id, Price::new(4.0, 1, 1)).await.unwrap();
    cache.invalidate_l1(id);

    server.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let err = cache.get(id).await.unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            matches!(
                err,
                CacheError::L2(L2Error::Unavailable { .. } | L2Error::Timeout { .. })
            ),
            "unexpected error {err:?}"
        );
        // Bounded by the configured deadline (plus scheduling slack), never a hang.
        assert!(
            elapsed < cfg.op_timeout + Duration::from_secs(1),
            "call took {elapsed:?}"
        );
    }
    assert!(cache.stats().l2.errors >= 3);
    // L1 keeps serving what it has while L2 is down.
    cache.promote(id, Price::new(4.5, 2, 2));
    assert_eq!(cache.get_l1_only(id).map(|p| p.price), Some(4.5));
    cache.invalidate_l1(id);

    server.restart();
    // The same cache object recovers once the connection manager has reconnected.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut recovered = false;
    while Instant::now() < deadline {
        match cache.set(id, Price::new(5.0, 3, 3)).await {
            Ok(()) => {
                recovered = true;
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert!(
        recovered,
        "cache did not recover within 10 s of the restart"
    );
    cache.invalidate_l1(id);
    assert_eq!(cache.get(id).await.unwrap().map(|p| p.price), Some(5.0));
}

#[tokio::test]
async fn unreachable_server_fails_fast_at_connect() {
    let server = RedisServer::start();
    let mut cfg = config(&server);
    drop(server);
    cfg.op_timeout = Duration::from_millis(300);
    let started = Instant::now();
    assert!(RedisL2::connect(&cfg).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(
        RedisL2::connect_lazy(&RedisL2Config::new("not-a-url")),
        Err(L2Error::Config(_))
    ));
}

#[tokio::test]
async fn bad_values_in_redis_give_typed_errors() {
    let server = RedisServer::start();
    let cache = cache_on(&server, 16);
    let junk = intern(&cache, 5);
    let huge = intern(&cache, 6);
    let good = intern(&cache, 7);
    let mut conn = server.connection();
    let _: () = redis::cmd("SET")
        .arg(cache.l2_key(junk).unwrap())
        .arg("{not json")
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(cache.l2_key(huge).unwrap())
        .arg(vec![b'1'; 10_000])
        .query(&mut conn)
        .unwrap();
    cache.set(good, Price::new(7.0, 1, 1)).await.unwrap();
    cache.invalidate_l1(good);

    match cache.get(junk).await {
        Err(CacheError::Value(ValueError::Undecodable { key, .. })) => {
            assert_eq!(key, cache.l2_key(junk).unwrap())
        }
        other => panic!("expected Undecodable, got {other:?}"),
    }
    assert!(matches!(
        cache.get(huge).await,
        Err(CacheError::Value(ValueError::TooLarge { len: 10_000, .. }))
    ));
    // In a batch, a bad value fails only its own key.
    let got = cache.get_many(&[junk, good, huge]).await.unwrap();
    assert!(matches!(got[0], Err(ValueError::Undecodable { .. })));
    assert_eq!(got[1].as_ref().unwrap().map(|p| p.price), Some(7.0));
    assert!(matches!(got[2], Err(ValueError::TooLarge { .. })));
    // Nothing bad was promoted into L1.
    assert!(!cache.contains_l1(junk) && !cache.contains_l1(huge));
    assert_eq!(
        cache.l2().unwrap().name(),
        "redis",
        "the test ran against Redis"
    );
}

#[tokio::test]
async fn set_many_writes_all_in_one_round_trip() {
    let server = RedisServer::start();
    let cache = cache_on(&server, 64);
    let items: Vec<(PairId, Price)> = (0..50)
        .map(|n| (intern(&cache, 100 + n), Price::new(f64::from(n), 2, 3)))
        .collect();
    // The first write loads the newer-wins script (NOSCRIPT, SCRIPT LOAD, retry).
    cache.set_many(&items[..1]).await.unwrap();
    let before = cache.l2().unwrap().round_trips();
    server.reset_stats();
    cache.set_many(&items).await.unwrap();
    assert_eq!(cache.l2().unwrap().round_trips(), before + 1);
    // One newer-wins script call for the batch (up to 256 keys per call).
    assert_eq!(server.command_calls("evalsha"), 1);
    let other = cache_on(&server, 64);
    let ids: Vec<PairId> = (0..50).map(|n| intern(&other, 100 + n)).collect();
    let got = other.get_many(&ids).await.unwrap();
    assert_eq!(server.command_calls("mget"), 1);
    for (n, lookup) in got.into_iter().enumerate() {
        assert_eq!(lookup.unwrap(), Some(Price::new(n as f64, 2, 3)));
    }
    let pttl: i64 = redis::cmd("PTTL")
        .arg(cache.l2_key(items[0].0).unwrap())
        .query(&mut server.connection())
        .unwrap();
    assert!(pttl > 290_000, "default L2 TTL is 300 s, got {pttl} ms");
}

/// Newer wins, atomically in Redis: an older update (lower `blockNumber`, or the same block
/// and an earlier `timestamp`) never replaces a newer value, whoever wrote it.
#[tokio::test]
async fn an_older_update_never_overwrites_a_newer_value() {
    let server = RedisServer::start();
    let cache = cache_on(&server, 64);
    let id = intern(&cache, 7);
    let key = cache.l2_key(id).unwrap();
    let mut conn = server.connection();
    let raw = |conn: &mut redis::Connection| -> String {
        redis::cmd("GET").arg(&key).query(conn).unwrap()
    };
    // The original wrote block 21000005 (its exact value shape, SETEX 300).
    let original = r#"{"price":2.5e-9,"reserve0":"50000000000000","reserve1":"20000000000000000000000","timestamp":1795923835406,"blockNumber":21000005}"#;
    let _: () = redis::cmd("SETEX")
        .arg(&key)
        .arg(300)
        .arg(original)
        .query(&mut conn)
        .unwrap();
    // A replayed older block, and the same block with an earlier timestamp: refused.
    for older in [
        Price::new(9.0, 21_000_004, 1_795_923_999_999),
        Price::new(9.0, 21_000_005, 1_795_923_835_405),
    ] {
        assert_eq!(cache.set_many(&[(id, older)]).await.unwrap(), 1);
        assert_eq!(raw(&mut conn), original);
    }
    // L1 does not keep the refused price: the next read is L2's newer value.
    assert_eq!(
        cache.get(id).await.unwrap().map(|p| p.block),
        Some(21_000_005)
    );
    // Same block, later timestamp; then a later block: written.
    let newer = Price::new(3.0, 21_000_005, 1_795_923_835_407);
    assert_eq!(cache.set_many(&[(id, newer)]).await.unwrap(), 0);
    assert!(raw(&mut conn).contains(r#""timestamp":1795923835407"#));
    cache.set(id, Price::new(4.0, 21_000_006, 1)).await.unwrap();
    assert!(raw(&mut conn).contains(r#""blockNumber":21000006"#));
    // And the older block cannot come back through `set` either.
    cache.set(id, Price::new(5.0, 21_000_005, 9)).await.unwrap();
    assert!(raw(&mut conn).contains(r#""blockNumber":21000006"#));
    let pttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut conn).unwrap();
    assert!(
        pttl > 290_000 && pttl <= 300_000,
        "TTL 300 s, got {pttl} ms"
    );
}

/// A batch holding a pair several times writes it once, its newest price; a batch above
/// 256 keys is several script calls in the one round trip.
#[tokio::test]
async fn a_batch_writes_each_pair_once_with_its_newest_price() {
    let server = RedisServer::start();
    let cache = cache_on(&server, 64);
    let id = intern(&cache, 9);
    let refused = cache
        .set_many(&[
            (id, Price::new(1.0, 5, 0)),
            (id, Price::new(2.0, 7, 1)),
            (id, Price::new(3.0, 3, 0)),
        ])
        .await
        .unwrap();
    assert_eq!(refused, 2);
    let raw: String = redis::cmd("GET")
        .arg(cache.l2_key(id).unwrap())
        .query(&mut server.connection())
        .unwrap();
    assert!(raw.starts_with(r#"{"price":2.0,"#), "{raw}");
    let many: Vec<(PairId, Price)> = (0..300)
        .map(|n| (intern(&cache, 1000 + n), Price::new(1.0, 1, 1)))
        .collect();
    let before = cache.l2().unwrap().round_trips();
    server.reset_stats();
    assert_eq!(cache.set_many(&many).await.unwrap(), 0);
    assert_eq!(cache.l2().unwrap().round_trips(), before + 1);
    assert_eq!(server.command_calls("evalsha"), 2);
}

#[tokio::test]
async fn refusals_are_permanent_and_never_show_the_password() {
    let password = "pw-Hunter2-l2";
    let mut server = RedisServer::start_with(RedisOptions {
        password: Some(password.into()),
        ..RedisOptions::default()
    });
    let good = RedisL2Config::new(server.url());
    RedisL2::probe(&good).await.unwrap();
    for url in [
        server.url().replace(password, "wrong-password"),
        format!("redis://127.0.0.1:{}/", server.port()),
    ] {
        let err = RedisL2::probe(&RedisL2Config::new(url.clone()))
            .await
            .unwrap_err();
        assert!(
            matches!(err, L2Error::Refused { .. }) && err.is_permanent(),
            "{url}: {err}"
        );
        assert!(err.to_string().contains("authentication failed"), "{err}");
        assert!(!err.to_string().contains("wrong-password"), "{err}");
    }
    // A refusal through the shared connection is classified the same way.
    let l2 = RedisL2::connect_lazy(&RedisL2Config::new(
        server.url().replace(password, "wrong-password"),
    ))
    .unwrap();
    let err = l2.ping().await.unwrap_err();
    assert!(!err.to_string().contains("wrong-password"), "{err}");
    // Down is not refused: it may come back.
    server.stop();
    let err = RedisL2::probe(&good).await.unwrap_err();
    assert!(!err.is_permanent(), "{err}");
    assert!(!err.to_string().contains(password), "{err}");
}

#[tokio::test]
async fn rediss_verifies_the_server_with_the_configured_ca() {
    let server = RedisServer::start_with(RedisOptions {
        tls: Some(true),
        ..RedisOptions::default()
    });
    let certs = server.tls().unwrap();
    let read = |p: &std::path::Path| std::fs::read(p).unwrap();
    let tls = |ca: &std::path::Path| RedisTls {
        ca_pem: Some(read(ca)),
        client_pem: Some((read(&certs.client_cert), read(&certs.client_key))),
    };
    let target = RedisTarget {
        url: server.url().into(),
        tls: tls(&certs.ca_cert),
        ..RedisTarget::default()
    };
    let l2 = RedisL2::connect(&RedisL2Config::new(target)).await.unwrap();
    l2.set("k", b"v".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        l2.get_many(&["k".to_owned()]).await.unwrap(),
        [Some(b"v".to_vec())]
    );
    let wrong_ca = RedisTarget {
        url: server.url().into(),
        tls: tls(&certs.other_ca_cert),
        ..RedisTarget::default()
    };
    let err = RedisL2::probe(&RedisL2Config::new(wrong_ca))
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "{err}");
    assert!(err.to_string().contains("TLS failed"), "{err}");
}
