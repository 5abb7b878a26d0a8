//! Acknowledged means written: on the real binary against a real redis-server, an entry
//! is acknowledged only once its price is in L2. Redis full (`maxmemory` + `noeviction`)
//! acknowledges nothing, makes the service degraded and then unready, and every price
//! lands once memory is raised; client connections killed again and again during a feed
//! leave no price missing from L2.

mod support;

use std::time::{Duration, Instant};

use pairwarm_testkit::RedisServer;
use support::*;

const STREAM: &str = "stream:price-updates";
const GROUP: &str = "pairwarm";
const WAIT: Duration = Duration::from_secs(90);
const SHUTDOWN: Duration = Duration::from_secs(15);

fn stream_count(s: &Serve, field: &str) -> u64 {
    s.health()["stream"][field].as_u64().unwrap_or(0)
}

fn used_memory(conn: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("memory").query(conn).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO memory")
}

fn config_set(conn: &mut redis::Connection, name: &str, value: &str) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query(conn)
        .unwrap_or_else(|e| panic!("CONFIG SET {name} {value}: {e}"));
}

/// Keys of the L2 prefix.
fn l2_key_count(conn: &mut redis::Connection) -> usize {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("cache:l2:price:*")
        .query(conn)
        .unwrap();
    keys.len()
}

fn acknowledged_everything(conn: &mut redis::Connection) -> bool {
    let info = group_info(conn, STREAM, GROUP);
    info.lag == 0 && info.pending == 0
}

#[test]
fn redis_full_acknowledges_nothing_unwritten_and_every_price_lands_after() {
    const N: u64 = 3_000;
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let serve = Serve::start(
        Some(&redis.url()),
        &["--consumer", "one"],
        &[("PAIRWARM_UNREADY_AFTER_L2_WRITE_FAILURES", "3")],
    );
    wait_for(
        WAIT,
        "serve ready",
        || (serve.get("/ready").status == 200).then_some(()),
        || serve.ctx(),
    );
    // Stopped, so the entries wait in the stream (its blocked read may take some: they
    // are pending then) while Redis is made full.
    serve.proc.signal("STOP");
    feed_synthetic(&redis.url(), STREAM, N, 31);
    config_set(&mut conn, "maxmemory-policy", "noeviction");
    let used = used_memory(&mut conn);
    config_set(&mut conn, "maxmemory", &(used / 2).to_string());
    serve.proc.signal("CONT");

    wait_for(
        WAIT,
        "three failed L2 writes, /ready 503",
        || {
            let failures = serve.health()["detector"]["l2WriteFailures"]
                .as_u64()
                .unwrap_or(0);
            (failures >= 3 && serve.get("/ready").status == 503).then_some(())
        },
        || serve.ctx(),
    );
    let health = serve.health();
    assert_eq!(health["status"], "degraded", "{health:#}");
    let reasons = health["reasons"].to_string();
    assert!(reasons.contains("L2 writes failing"), "{health:#}");
    assert!(
        reasons.contains("OOM"),
        "the reason names Redis' refusal: {health:#}"
    );
    let ready = serve.get("/ready").json();
    assert!(
        ready["checks"].to_string().contains("l2_writes"),
        "{ready:#}"
    );
    let metrics = serve.metrics();
    assert!(
        metrics.sum("arbitrage_cache_l2_write_failures_total", &[]) >= 3.0,
        "metric counts the failures"
    );
    // Nothing acknowledged, nothing written.
    assert_eq!(stream_count(&serve, "processed"), 0, "{}", serve.ctx());
    assert_eq!(l2_key_count(&mut conn), 0);
    let info = group_info(&mut conn, STREAM, GROUP);
    assert_eq!(
        info.lag + info.pending,
        N,
        "every entry pending or undelivered: {info:?}"
    );

    let raised = Instant::now();
    config_set(&mut conn, "maxmemory", "0");
    let resumed_in = wait_resumed(&serve, 0, raised);
    wait_for(
        WAIT,
        "every entry acknowledged",
        || acknowledged_everything(&mut conn).then_some(()),
        || serve.ctx(),
    );
    let recovered_in = raised.elapsed();
    let (pools, missing) = l2_keys_missing(&mut conn, STREAM);
    assert!(pools > 100, "{pools} pools");
    assert_eq!(missing, 0, "{missing} of {pools} pools missing from L2");
    assert_eq!(xpending_total(&mut conn, STREAM, GROUP), 0);
    wait_for(
        WAIT,
        "ready again",
        || (serve.get("/ready").status == 200).then_some(()),
        || serve.ctx(),
    );
    let health = serve.health();
    assert_eq!(health["status"], "healthy", "{health:#}");
    // Retried from memory, not re-read: no entry was dead-lettered for its deliveries.
    assert_eq!(health["stream"]["deadLettered"], 0, "{health:#}");
    FaultRow::measured(
        "Redis maxmemory + noeviction",
        N,
        &serve,
        0,
        (&mut conn, missing),
        (resumed_in, recovered_in),
    )
    .print();
    serve.terminate(SHUTDOWN);
}

#[test]
fn client_connections_killed_repeatedly_leave_no_price_missing() {
    const N: u64 = 60_000;
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    feed_synthetic(&redis.url(), STREAM, N, 32);
    let serve = Serve::start(Some(&redis.url()), &["--consumer", "one"], &[]);
    wait_for(
        WAIT,
        "part of the stream processed",
        || (stream_count(&serve, "processed") >= 1_000).then_some(()),
        || serve.ctx(),
    );
    let mut killed = 0u64;
    for round in 0..10 {
        // Each round finds serve connected again (it reconnects with backoff), then
        // drops every client connection but the test's own.
        wait_for(
            WAIT,
            &format!("serve reconnected before kill {round}"),
            || {
                let list: String = redis::cmd("CLIENT")
                    .arg("LIST")
                    .arg("TYPE")
                    .arg("normal")
                    .query(&mut conn)
                    .unwrap();
                (list.lines().count() >= 2).then_some(())
            },
            || serve.ctx(),
        );
        let n: u64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("normal")
            .query(&mut conn)
            .unwrap();
        assert!(n >= 1, "kill {round} found no connection of serve");
        killed += n;
        std::thread::sleep(Duration::from_millis(100));
    }
    let last_kill = Instant::now();
    let at_last_kill = stream_count(&serve, "processed");
    let resumed_in = wait_resumed(&serve, at_last_kill, last_kill);
    eprintln!("{killed} connections killed; {at_last_kill} of {N} entries processed by then");
    assert!(killed >= 10, "serve's connections were killed ({killed})");
    wait_for(
        WAIT,
        "every entry acknowledged",
        || acknowledged_everything(&mut conn).then_some(()),
        || serve.ctx(),
    );
    let recovered_in = last_kill.elapsed();
    let (pools, missing) = l2_keys_missing(&mut conn, STREAM);
    assert_eq!(missing, 0, "{missing} of {pools} pools missing from L2");
    let processed = stream_count(&serve, "processed");
    assert!(processed >= N, "{processed} < {N}");
    FaultRow::measured(
        "client connections killed 10 times (CLIENT KILL TYPE normal)",
        N,
        &serve,
        0,
        (&mut conn, missing),
        (resumed_in, recovered_in),
    )
    .print();
    serve.terminate(SHUTDOWN);
}
