//! Integration tests of `pairwarm serve` and `pairwarm feed` (issue 7): the real binary as
//! a child process against a real `redis-server` (the testkit fixture), observed through
//! its HTTP endpoints and through Redis itself.
//!
//! Every serve listens on `127.0.0.1:0` and the test reads the bound address from its
//! banner, so tests never race for ports. Children are killed on drop.

mod support;

use std::time::Duration;

use pairwarm_testkit::RedisServer;
use serde_json::Value;
use support::*;

const STREAM: &str = "stream:price-updates";
const DLQ: &str = "stream:price-updates:dlq";
const GROUP: &str = "pairwarm";
const WAIT: Duration = Duration::from_secs(60);
const SHUTDOWN: Duration = Duration::from_secs(15);

/// 1 MB of L1 = 1,024 entries, fewer than the synthetic universe's ~3,500 pools, so
/// warms have something to fetch from L2 (with the 64 MB default everything stays in L1).
const SMALL_L1: (&str, &str) = ("CACHE_L1_SIZE", "1");

/// Feeds `n` synthetic updates (seed `seed`), starts serve on them with `env`, and waits
/// until all are processed and the warmer is idle; returns serve and the health document.
fn serve_fed(redis: &RedisServer, n: u64, seed: u64, env: &[(&str, &str)]) -> (Serve, Value) {
    feed_synthetic(&redis.url(), STREAM, n, seed);
    let serve = Serve::start(Some(&redis.url()), &[], env);
    serve.wait_processed(n, WAIT);
    let h = serve.wait_warmer_idle();
    (serve, h)
}

/// Borrowed stream fields, as given to XADD.
type RawFields<'a> = Vec<(&'a [u8], &'a [u8])>;

fn num(v: &Value, path: &str) -> f64 {
    let mut cur = v;
    for part in path.split('.') {
        cur = &cur[part];
    }
    cur.as_f64()
        .unwrap_or_else(|| panic!("/health/warming {path} is not a number: {v:#}"))
}

// 1. feed N entries -> serve processes all of them.
#[test]
fn feed_then_serve_processes_every_entry() {
    const N: u64 = 5_000;
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    feed_synthetic(&redis.url(), STREAM, N, 1);
    let len: u64 = redis::cmd("XLEN").arg(STREAM).query(&mut conn).unwrap();
    assert_eq!(len, N);

    // A generous warm deadline: a loaded 2-core test machine must not turn warms into
    // timeouts and make the success rate below flaky.
    let serve = Serve::start(
        Some(&redis.url()),
        &[],
        &[SMALL_L1, ("WARMING_TIMEOUT_MS", "5000")],
    );
    // Readiness turns 200 once the consumer runs (it may answer 503 for a moment at start).
    let ready = wait_for(
        WAIT,
        "/ready 200",
        || Some(serve.get("/ready")).filter(|r| r.status == 200),
        || serve.ctx(),
    );
    assert_eq!(ready.json()["ready"], true, "{}", ready.body);
    serve.wait_processed(N, WAIT);
    assert_eq!(xpending_total(&mut conn, STREAM, GROUP), 0);
    let info = group_info(&mut conn, STREAM, GROUP);
    assert_eq!((info.entries_read, info.lag, info.pending), (N, 0, 0));

    // Queued warms finish after the last entry is acknowledged: compare health and
    // metrics once the warmer is idle (nothing changes after that).
    let h = serve.wait_warmer_idle();
    let m = serve.metrics();
    assert_eq!(m.sum("arbitrage_price_updates_total", &[]), N as f64);
    assert_eq!(
        m.sum("arbitrage_stream_entries_processed_total", &[]),
        N as f64
    );
    assert_eq!(m.sum("arbitrage_stream_dead_letter_total", &[]), 0.0);
    assert!(
        m.by_label("arbitrage_price_updates_total", "chain").len() >= 2,
        "the synthetic feed spans several chains: {:?}",
        m.by_label("arbitrage_price_updates_total", "chain")
    );
    let l1 = [("cache_level", "L1")];
    let (hits, misses) = (
        m.sum("arbitrage_cache_hits_total", &l1),
        m.sum("arbitrage_cache_misses_total", &l1),
    );
    assert!(
        hits > 0.0 && misses > 0.0,
        "L1 hits {hits}, misses {misses}"
    );
    assert_eq!(
        hits + misses,
        num(&h, "detector.reads"),
        "every detector read is counted once at L1"
    );
    assert!(m.sum("arbitrage_warming_operations_total", &[]) > 0.0);

    // The seed's fields, with plausible values.
    let status = h["status"].as_str().unwrap_or_default();
    assert!(status == "healthy" || status == "degraded", "{h:#}");
    let pairs = num(&h, "tracker.totalPairs");
    assert!(pairs > 100.0 && pairs <= N as f64, "{h:#}");
    // serve's default learner: the detector's misses (WARMING_LEARN_FROM=misses).
    assert_eq!(h["tracker"]["learnsFrom"], "misses", "{h:#}");
    // The tracked pairs, exported per chain, add up to the tracker's count.
    assert_eq!(
        serve
            .metrics()
            .sum("arbitrage_correlation_pairs_tracked", &[]),
        pairs,
        "{h:#}"
    );
    assert_eq!(num(&h, "tracker.totalUpdates"), N as f64, "{h:#}");
    let ops = num(&h, "warmer.totalWarmingOps");
    assert!(ops > 0.0 && ops <= N as f64, "{h:#}");
    // Warms are guesses admitted only into free or expired L1 slots: once L1 is full (and
    // without a TTL) they are fetched but not admitted, never displacing a live entry.
    assert!(
        num(&h, "warmer.totalPairsWarmed") + num(&h, "warmer.pairsNotAdmitted") > 0.0,
        "{h:#}"
    );
    let rate = num(&h, "warmer.successRate");
    assert!(
        (0.99..=1.0).contains(&rate),
        "loopback warms succeed: {h:#}"
    );
    assert_eq!(
        m.sum("arbitrage_warming_operations_total", &[]),
        ops,
        "metrics and health agree"
    );
    assert_eq!(h["stream"]["mode"], "redis");
    // The lag is sampled about once a second: it must come down to 0 once drained.
    wait_for(
        Duration::from_secs(10),
        "stream lag 0 in health and metrics",
        || {
            let lag = num(&serve.health(), "stream.lag");
            let gauge = serve.metrics().sum("arbitrage_stream_consumer_lag", &[]);
            (lag == 0.0 && gauge == 0.0).then_some(())
        },
        || serve.ctx(),
    );

    serve.terminate(SHUTDOWN);
    assert_eq!(xpending_total(&mut conn, STREAM, GROUP), 0);
}

// 1b. `feed --trace` replays a trace's updates (with its pairs file) in the entry format.
#[test]
fn feed_replays_a_trace_file_that_serve_processes() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let dir = tempfile::tempdir().unwrap();
    let (trace, pairs) = (dir.path().join("t.csv"), dir.path().join("pairs.csv"));
    let out = pairwarm()
        .args([
            "trace", "generate", "--events", "4000", "--seed", "3", "--quiet",
        ])
        .arg("--out")
        .arg(&trace)
        .arg("--pairs-out")
        .arg(&pairs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&trace).unwrap();
    let updates = text.lines().filter(|l| l.contains(",u,")).count() as u64;
    assert!(updates > 500, "{updates} updates in the trace");

    let out = pairwarm()
        .args([
            "feed", "--format", "flat", "--rate", "0", "--quiet", "--trace",
        ])
        .arg(&trace)
        .arg("--pairs")
        .arg(&pairs)
        .env("REDIS_URL", redis.url())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(&format!("fed {updates} updates")), "{err}");
    let entries = xrange(&mut conn, STREAM);
    assert_eq!(entries.len() as u64, updates);
    let first: Vec<&[u8]> = entries[0].1.iter().map(|(k, _)| k.as_slice()).collect();
    for field in [
        &b"chain"[..],
        b"pair",
        b"price",
        b"ts_ms",
        b"dex",
        b"token0",
        b"token1",
    ] {
        assert!(first.contains(&field), "{:?}", entries[0]);
    }

    let serve = Serve::start(Some(&redis.url()), &[], &[]);
    serve.wait_processed(updates, WAIT);
    let m = serve.metrics();
    assert_eq!(m.sum("arbitrage_price_updates_total", &[]), updates as f64);
    assert_eq!(m.sum("arbitrage_stream_dead_letter_total", &[]), 0.0);
    assert_eq!(xpending_total(&mut conn, STREAM, GROUP), 0);
    serve.terminate(SHUTDOWN);
}

// 2. Malformed entries are dead-lettered with their reason, acknowledged and counted.
#[test]
fn malformed_entries_are_dead_lettered_with_their_reason() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let pair = b"0xb4e16d0168e52d35cacd2c6185b44281ec28c9dc".as_slice();
    let bad: Vec<(&str, RawFields<'_>)> = vec![
        (
            "missing_field",
            vec![(b"chain", b"ethereum"), (b"price", b"1850.5")],
        ),
        (
            "bad_address",
            vec![
                (b"chain", b"ethereum"),
                (b"pair", b"0x12zz"),
                (b"price", b"1"),
            ],
        ),
        (
            "bad_price",
            vec![(b"chain", b"bsc"), (b"pair", pair), (b"price", b"-5")],
        ),
        (
            "bad_price",
            vec![
                (b"chain", b"bsc"),
                (b"pair", pair),
                (b"price", b"\xff\xfe1"),
            ],
        ),
        (
            "bad_json",
            vec![(b"data", b"{\"chain\": \"bsc\", \"pair\"")],
        ),
    ];
    let mut expected = Vec::new();
    let mut valid = 0u64;
    for (i, (reason, fields)) in bad.iter().enumerate() {
        // Valid entries before, between and after the bad ones.
        for j in 0..3 {
            xadd(
                &mut conn,
                STREAM,
                &as_refs(&valid_entry("ethereum", (i * 3 + j) as u32 + 1)),
            );
            valid += 1;
        }
        let id = xadd(&mut conn, STREAM, fields);
        expected.push((id, *reason, fields.clone()));
    }
    for j in 0..3 {
        xadd(&mut conn, STREAM, &as_refs(&valid_entry("bsc", 100 + j)));
        valid += 1;
    }
    let total = valid + bad.len() as u64;

    let serve = Serve::start(Some(&redis.url()), &[], &[]);
    let h = serve.wait_processed(total, WAIT);
    assert_eq!(num(&h, "stream.deadLettered"), bad.len() as f64, "{h:#}");
    assert_eq!(xpending_total(&mut conn, STREAM, GROUP), 0);

    let dlq = xrange(&mut conn, DLQ);
    assert_eq!(dlq.len(), bad.len(), "dead-letter stream: {dlq:?}");
    for (id, reason, fields) in &expected {
        let (_, letter) = dlq
            .iter()
            .find(|(_, f)| {
                f.iter()
                    .any(|(k, v)| k == b"source_id" && v == id.as_bytes())
            })
            .unwrap_or_else(|| panic!("no dead letter with source_id {id}: {dlq:?}"));
        let get = |k: &[u8]| {
            letter
                .iter()
                .find(|(lk, _)| lk == k)
                .map(|(_, v)| v.as_slice())
        };
        assert_eq!(get(b"reason"), Some(reason.as_bytes()), "{id}: {letter:?}");
        assert!(
            get(b"error").is_some_and(|e| !e.is_empty()),
            "{id}: {letter:?}"
        );
        for (k, v) in fields {
            assert_eq!(get(k), Some(*v), "{id}: original field kept byte for byte");
        }
    }

    let m = serve.metrics();
    assert_eq!(
        m.sum(
            "arbitrage_stream_dead_letter_total",
            &[("reason", "malformed")]
        ),
        bad.len() as f64
    );
    assert_eq!(
        m.sum("arbitrage_stream_dead_letter_total", &[]),
        bad.len() as f64
    );
    assert_eq!(m.sum("arbitrage_price_updates_total", &[]), valid as f64);
    assert_eq!(
        m.sum("arbitrage_price_updates_total", &[("chain", "bsc")]),
        3.0
    );
    assert_eq!(
        m.sum("arbitrage_stream_entries_processed_total", &[]),
        total as f64
    );
    serve.terminate(SHUTDOWN);
}

// 3. A second consumer claims what a dead consumer left pending.
#[test]
fn entries_left_pending_by_a_dead_consumer_are_claimed() {
    const DEAD: u64 = 200;
    const FRESH: u64 = 100;
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    create_group(&mut conn, STREAM, GROUP);
    feed_synthetic(&redis.url(), STREAM, DEAD, 3);
    // The "dead" consumer reads everything and never acknowledges.
    let read = read_without_ack(&mut conn, STREAM, GROUP, "dead", 10_000);
    assert!(matches!(
        read,
        redis::Value::Array(_) | redis::Value::Map(_)
    ));
    assert_eq!(xpending_total(&mut conn, STREAM, GROUP), DEAD);
    // Two of them are deleted from the stream while pending: the claim must still take
    // them off the pending list and dead-letter them as `deleted`.
    let ids: Vec<String> = xrange(&mut conn, STREAM)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let gone = [ids[10].clone(), ids[150].clone()];
    let deleted: u64 = redis::cmd("XDEL")
        .arg(STREAM)
        .arg(&gone)
        .query(&mut conn)
        .unwrap();
    assert_eq!(deleted, 2);
    feed_synthetic(&redis.url(), STREAM, FRESH, 4);

    let serve = Serve::start(
        Some(&redis.url()),
        &["--consumer", "alive", "--claim-idle-ms", "200"],
        &[],
    );
    let h = serve.wait_processed(DEAD + FRESH, WAIT);
    assert_eq!(xpending_total(&mut conn, STREAM, GROUP), 0, "{h:#}");
    let m = serve.metrics();
    assert_eq!(
        m.sum("arbitrage_price_updates_total", &[]),
        (DEAD + FRESH - 2) as f64,
        "each remaining entry processed exactly once"
    );
    assert_eq!(
        m.sum("arbitrage_stream_entries_processed_total", &[]),
        (DEAD + FRESH) as f64
    );
    assert_eq!(
        m.sum(
            "arbitrage_stream_dead_letter_total",
            &[("reason", "trimmed")]
        ),
        2.0
    );
    assert_dead_letters(&mut conn, &gone, "deleted");
    assert!(
        serve.proc.stderr().contains("claimed entries"),
        "{}",
        serve.ctx()
    );
    serve.terminate(SHUTDOWN);
}

/// The dead-letter stream holds exactly `ids` (by `source_id`), each with `reason`.
fn assert_dead_letters(conn: &mut redis::Connection, ids: &[String], reason: &str) {
    let dlq = xrange(conn, DLQ);
    assert_eq!(dlq.len(), ids.len(), "{dlq:?}");
    for id in ids {
        let found = dlq.iter().any(|(_, f)| {
            f.iter()
                .any(|(k, v)| k == b"source_id" && v == id.as_bytes())
                && f.iter()
                    .any(|(k, v)| k == b"reason" && v == reason.as_bytes())
        });
        assert!(found, "no `{reason}` dead letter for {id}: {dlq:?}");
    }
}

// 3b. A consumer restarted under its name first re-reads what it had read and not acked
// (crash recovery without waiting for the claim timeout), including entries deleted since.
#[test]
fn a_restarted_consumer_recovers_its_own_pending_entries() {
    const READ: usize = 200;
    const TOTAL: u64 = 300;
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    create_group(&mut conn, STREAM, GROUP);
    feed_synthetic(&redis.url(), STREAM, TOTAL, 12);
    // "crashy" read 200 entries and died before acknowledging them.
    let _ = read_without_ack(&mut conn, STREAM, GROUP, "crashy", READ);
    assert_eq!(xpending_total(&mut conn, STREAM, GROUP), READ as u64);
    let ids: Vec<String> = xrange(&mut conn, STREAM)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let gone = [ids[0].clone(), ids[READ - 1].clone()];
    let _: u64 = redis::cmd("XDEL")
        .arg(STREAM)
        .arg(&gone)
        .query(&mut conn)
        .unwrap();

    // The default claim timeout (30 s) rules out XAUTOCLAIM: only the own-pending
    // re-read can recover these within the wait.
    let serve = Serve::start(Some(&redis.url()), &["--consumer", "crashy"], &[]);
    serve.wait_processed(TOTAL, Duration::from_secs(20));
    assert_eq!(xpending_total(&mut conn, STREAM, GROUP), 0);
    let m = serve.metrics();
    assert_eq!(
        m.sum("arbitrage_price_updates_total", &[]),
        (TOTAL - 2) as f64
    );
    assert_eq!(
        m.sum(
            "arbitrage_stream_dead_letter_total",
            &[("reason", "trimmed")]
        ),
        2.0
    );
    assert_dead_letters(&mut conn, &gone, "deleted");
    assert!(
        !serve.proc.stderr().contains("claimed entries"),
        "{}",
        serve.ctx()
    );
    serve.terminate(SHUTDOWN);
}

// 4. Shadow mode predicts, reports, and never warms.
#[test]
fn shadow_mode_predicts_but_never_warms() {
    const N: u64 = 20_000;
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let (serve, h) = serve_fed(&redis, N, 5, &[("WARMING_SHADOW_MODE", "true"), SMALL_L1]);
    assert_eq!(h["rollout"]["shadowMode"], true, "{h:#}");
    assert_eq!(num(&h, "warmer.totalWarmingOps"), 0.0, "{h:#}");
    assert_eq!(num(&h, "warmer.totalPairsWarmed"), 0.0, "{h:#}");
    assert!(num(&h, "shadow.predictions") > 0.0, "{h:#}");
    assert!(num(&h, "shadow.reads") > 0.0, "{h:#}");
    let m = serve.metrics();
    assert_eq!(m.sum("arbitrage_price_updates_total", &[]), N as f64);
    assert_eq!(m.sum("arbitrage_warming_operations_total", &[]), 0.0);
    assert_eq!(m.sum("arbitrage_warming_pairs_warmed_total", &[]), 0.0);
    assert_eq!(
        m.sum("arbitrage_warming_shadow_predictions_total", &[]),
        num(&h, "shadow.predictions")
    );
    assert_eq!(xpending_total(&mut conn, STREAM, GROUP), 0);
    serve.terminate(SHUTDOWN);
}

// 5a. Canary chains: warming only where configured.
#[test]
fn canary_chain_list_limits_warming_to_those_chains() {
    const N: u64 = 5_000;
    let redis = RedisServer::start();
    let (serve, h) = serve_fed(
        &redis,
        N,
        6,
        &[("WARMING_ENABLED_CHAINS", "ethereum"), SMALL_L1],
    );
    assert_eq!(
        h["rollout"]["enabledChains"],
        serde_json::json!(["ethereum"])
    );
    let m = serve.metrics();
    let updates = m.by_label("arbitrage_price_updates_total", "chain");
    let ops = m.by_label("arbitrage_warming_operations_total", "chain");
    assert!(
        updates.get("ethereum").is_some_and(|&n| n > 0.0),
        "{updates:?}"
    );
    assert!(
        updates.keys().any(|c| c != "ethereum"),
        "the feed must cover other chains for this test to mean anything: {updates:?}"
    );
    assert!(ops.get("ethereum").is_some_and(|&n| n > 0.0), "{ops:?}");
    for (chain, n) in &ops {
        if chain != "ethereum" {
            assert_eq!(*n, 0.0, "warming on non-canary chain {chain}: {ops:?}");
        }
    }
    assert_eq!(ops.values().sum::<f64>(), num(&h, "warmer.totalWarmingOps"));
    serve.terminate(SHUTDOWN);
}

// 5b. Rollout percentage 0: updates flow, nothing is warmed.
#[test]
fn rollout_percentage_zero_warms_nothing() {
    const N: u64 = 3_000;
    let redis = RedisServer::start();
    let (serve, h) = serve_fed(
        &redis,
        N,
        7,
        &[("WARMING_ROLLOUT_PERCENTAGE", "0"), SMALL_L1],
    );
    assert_eq!(num(&h, "rollout.percentage"), 0.0, "{h:#}");
    assert_eq!(num(&h, "warmer.totalWarmingOps"), 0.0, "{h:#}");
    let m = serve.metrics();
    assert_eq!(m.sum("arbitrage_price_updates_total", &[]), N as f64);
    assert_eq!(m.sum("arbitrage_warming_operations_total", &[]), 0.0);
    assert_eq!(m.sum("arbitrage_warming_pairs_warmed_total", &[]), 0.0);
    serve.terminate(SHUTDOWN);
}

// 6a. Without a token the admin routes do not exist.
#[test]
fn admin_routes_are_absent_without_a_token() {
    let serve = Serve::start(None, &["--rate", "500"], &[]);
    for (method, body) in [("GET", None), ("POST", Some(r#"{"enabled":false}"#))] {
        let r = serve.request(
            method,
            "/admin/warming",
            &[("Authorization", "Bearer anything-at-all-1234")],
            body,
        );
        assert_eq!(r.status, 404, "{method}: {}", r.body);
    }
    let h = serve.health();
    assert_eq!(h["rollout"]["enabled"], true, "nothing changed: {h:#}");
    serve.terminate(SHUTDOWN);
}

// 6b. With a token: 401 / 403 / 200, and the switch takes effect at once, without a restart.
#[test]
fn admin_switch_needs_the_token_and_stops_warming_live() {
    const TOKEN: &str = "test-admin-token-0123456789";
    const N: u64 = 3_000;
    let redis = RedisServer::start();
    feed_synthetic(&redis.url(), STREAM, N, 8);
    let serve = Serve::start(
        Some(&redis.url()),
        &[],
        &[("PAIRWARM_ADMIN_TOKEN", TOKEN), SMALL_L1],
    );
    let pid = serve.proc.pid();
    serve.wait_processed(N, WAIT);
    serve.wait_warmer_idle();

    let off = Some(r#"{"enabled":false}"#);
    let r = serve.request("GET", "/admin/warming", &[], None);
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(
        r.header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer")),
        "{r:?}"
    );
    let r = serve.request("POST", "/admin/warming", &[], off);
    assert_eq!(r.status, 401, "{}", r.body);
    let wrong = [("Authorization", "Bearer not-the-token-0123456789")];
    assert_eq!(
        serve.request("GET", "/admin/warming", &wrong, None).status,
        403
    );
    assert_eq!(
        serve.request("POST", "/admin/warming", &wrong, off).status,
        403
    );
    assert_eq!(
        serve.health()["rollout"]["enabled"],
        true,
        "a refused request changes nothing"
    );

    let before = serve.metrics();
    let ops_before = before.sum("arbitrage_warming_operations_total", &[]);
    assert!(ops_before > 0.0, "warming ran before the switch");
    assert_eq!(before.sum("arbitrage_price_updates_total", &[]), N as f64);

    let auth = format!("Bearer {TOKEN}");
    let right = [("Authorization", auth.as_str())];
    let r = serve.request("POST", "/admin/warming", &right, off);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["enabled"], false, "{}", r.body);

    feed_synthetic(&redis.url(), STREAM, N, 9);
    serve.wait_processed(2 * N, WAIT);
    let h = serve.wait_warmer_idle();
    let after = serve.metrics();
    assert_eq!(
        after.sum("arbitrage_price_updates_total", &[]),
        (2 * N) as f64,
        "updates keep flowing"
    );
    assert_eq!(
        after.sum("arbitrage_warming_operations_total", &[]),
        ops_before,
        "no warm after the switch"
    );
    assert_eq!(num(&h, "warmer.totalWarmingOps"), ops_before, "{h:#}");
    assert_eq!(h["rollout"]["enabled"], false, "{h:#}");

    let r = serve.request("GET", "/admin/warming", &right, None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["enabled"], false, "{}", r.body);
    assert_eq!(serve.proc.pid(), pid);
    assert!(
        !serve.proc.stderr().contains("shutting down"),
        "no restart: {}",
        serve.ctx()
    );
    serve.terminate(SHUTDOWN);
}

/// Runs serve with `--snapshot <spec>` over correlated traffic and stops it with SIGTERM;
/// returns the tracker's pair count at the end.
fn learn_and_stop(redis: &RedisServer, spec: &str) -> f64 {
    const N: u64 = 5_000;
    feed_synthetic(&redis.url(), STREAM, N, 10);
    let serve = Serve::start(Some(&redis.url()), &["--snapshot", spec], &[]);
    let h = serve.wait_processed(N, WAIT);
    let pairs = num(&h, "tracker.totalPairs");
    assert!(pairs > 0.0, "{h:#}");
    let err = serve.terminate(SHUTDOWN);
    assert!(!err.contains("snapshot not saved"), "{err}");
    pairs
}

/// Starts serve with `--snapshot <spec>` on a drained stream and returns its health at
/// once, with its stderr (which shows the restore report).
fn restart_health(redis: &RedisServer, snapshot: Option<&str>) -> (Value, String) {
    let args: Vec<&str> = snapshot.map_or(vec![], |s| vec!["--snapshot", s]);
    let serve = Serve::start(Some(&redis.url()), &args, &[]);
    let h = serve.health();
    assert_eq!(
        num(&h, "stream.processed"),
        0.0,
        "nothing new was fed: {h:#}"
    );
    let err = serve.terminate(SHUTDOWN);
    (h, err)
}

// 7a. A file snapshot survives a restart.
#[test]
fn tracker_snapshot_file_survives_a_restart() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tracker.snap");
    let spec = path.to_str().unwrap();
    let learned = learn_and_stop(&redis, spec);
    let size = std::fs::metadata(&path)
        .unwrap_or_else(|e| panic!("snapshot file {spec}: {e}"))
        .len();
    assert!(size > 0, "empty snapshot");
    for tmp in ["tracker.snap.tmp", "tracker.snap.policy.tmp"] {
        assert!(!dir.path().join(tmp).exists(), "temp file {tmp} left");
    }
    // Next to it, the L1 policy's window (every shard of the default L1 is tuned).
    let policy = std::fs::read(dir.path().join("tracker.snap.policy")).unwrap();
    let image = pairwarm::cache::PolicySnapshot::decode(&policy).unwrap();
    assert!(
        image.tuned_shards() > 0 && image.tuned_shards() == image.shards(),
        "{image}"
    );

    // Control: the same stream without the snapshot starts with an empty tracker.
    let (h, _) = restart_health(&redis, None);
    assert_eq!(num(&h, "tracker.totalPairs"), 0.0, "{h:#}");
    let (h, err) = restart_health(&redis, Some(spec));
    let restored = num(&h, "tracker.totalPairs");
    assert!(
        restored > 0.0 && restored <= learned,
        "restored {restored} of {learned}: {h:#}\n{err}"
    );
    assert!(err.contains("restored tracker snapshot"), "{err}");
    assert!(
        err.contains("resumed L1 policy window") && err.contains(&format!("windows={image}")),
        "{err}"
    );

    // A window other than LRU (a hand-made image: the 10% filter window, candidate 2, on
    // every shard) is resumed, and saved again at shutdown as it was resumed (no read
    // came to move it).
    let mut made = b"PWPOLICY\x01\x00".to_vec();
    made.extend_from_slice(&u16::try_from(image.shards()).unwrap().to_le_bytes());
    for _ in 0..image.shards() {
        made.extend_from_slice(&[2, 2]);
    }
    let crc = crc32fast::hash(&made);
    made.extend_from_slice(&crc.to_le_bytes());
    std::fs::write(dir.path().join("tracker.snap.policy"), &made).unwrap();
    let (_, err) = restart_health(&redis, Some(spec));
    assert!(err.contains("resumed L1 policy window"), "{err}");
    let policy = std::fs::read(dir.path().join("tracker.snap.policy")).unwrap();
    let resumed = pairwarm::cache::PolicySnapshot::decode(&policy).unwrap();
    assert_eq!(
        resumed.to_string(),
        format!(
            "{0} shard(s), window in use: {0} × filter 10%",
            image.shards()
        )
    );

    // A damaged window image is refused, named, and the service runs without it.
    std::fs::write(dir.path().join("tracker.snap.policy"), b"PWPOLICY\x01\x00").unwrap();
    let (h, err) = restart_health(&redis, Some(spec));
    assert!(num(&h, "tracker.totalPairs") > 0.0, "{h:#}");
    assert!(
        err.contains("L1 policy window rejected") && err.contains("truncated"),
        "{err}"
    );
}

// 7b. The same with the snapshot kept in Redis.
#[test]
fn tracker_snapshot_in_redis_survives_a_restart() {
    const KEY: &str = "pairwarm:test:tracker-snapshot";
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let spec = format!("redis:{KEY}");
    let learned = learn_and_stop(&redis, &spec);
    let size: u64 = redis::cmd("STRLEN").arg(KEY).query(&mut conn).unwrap();
    assert!(size > 0, "no snapshot under {KEY}");
    let (h, err) = restart_health(&redis, Some(&spec));
    let restored = num(&h, "tracker.totalPairs");
    assert!(
        restored > 0.0 && restored <= learned,
        "restored {restored} of {learned}: {h:#}\n{err}"
    );
    assert!(err.contains("restored tracker snapshot"), "{err}");
    let policy: Vec<u8> = redis::cmd("GET")
        .arg(format!("{KEY}:policy"))
        .query(&mut conn)
        .unwrap();
    let image = pairwarm::cache::PolicySnapshot::decode(&policy).unwrap();
    assert!(
        err.contains("resumed L1 policy window") && err.contains(&format!("windows={image}")),
        "{err}"
    );
}

// 8. SIGTERM mid-backlog: exit 0, nothing pending; a second run finishes the rest.
#[test]
fn sigterm_mid_backlog_leaves_nothing_pending() {
    const N: u64 = 50_000;
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    feed_synthetic(&redis.url(), STREAM, N, 11);

    let serve = Serve::start(
        Some(&redis.url()),
        &["--shutdown-timeout", "5s", "--consumer", "first"],
        &[],
    );
    wait_for(
        WAIT,
        "a part of the backlog processed",
        || (num(&serve.health(), "stream.processed") >= 5_000.0).then_some(()),
        || serve.ctx(),
    );
    // Within the shutdown timeout: reaching it would mean the graceful path was cut short
    // (the process still exits 0 then, so the time is the only witness).
    let started = std::time::Instant::now();
    serve.terminate(Duration::from_secs(10));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    let first = group_info(&mut conn, STREAM, GROUP);
    assert_eq!(
        first.pending, 0,
        "everything read was acknowledged: {first:?}"
    );
    assert_eq!(xpending_total(&mut conn, STREAM, GROUP), 0);
    assert!(
        first.entries_read >= 5_000 && first.entries_read < N,
        "stopped mid-way: {first:?}"
    );
    assert_eq!(first.entries_read + first.lag, N, "{first:?}");

    let rest = N - first.entries_read;
    let restarted = std::time::Instant::now();
    let serve = Serve::start(Some(&redis.url()), &["--consumer", "second"], &[]);
    let resumed_in = wait_resumed(&serve, 0, restarted);
    serve.wait_processed(rest, WAIT);
    let recovered_in = restarted.elapsed();
    let m = serve.metrics();
    assert_eq!(m.sum("arbitrage_price_updates_total", &[]), rest as f64);
    assert_eq!(
        first.entries_read + m.sum("arbitrage_stream_entries_processed_total", &[]) as u64,
        N,
        "the two runs' counts add up"
    );
    serve.terminate(SHUTDOWN);
    let end = group_info(&mut conn, STREAM, GROUP);
    assert_eq!(
        end,
        GroupInfo {
            entries_read: N,
            lag: 0,
            pending: 0
        }
    );
    let (_, missing) = l2_keys_missing(&mut conn, STREAM);
    assert_eq!(missing, 0);
    FaultRow {
        fault: "SIGTERM under load (backlog), restarted",
        sent: N,
        processed: first.entries_read + rest,
        dead_lettered: 0,
        lost: xpending_total(&mut conn, STREAM, GROUP),
        l2_missing: missing,
        resumed_in,
        recovered_in,
    }
    .print();
}

// 9. SIGHUP re-reads --env-file without a restart.
#[test]
fn sighup_rereads_the_env_file() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("pairwarm.env");
    std::fs::write(&env_file, "FEATURE_CACHE_WARMING_ENABLED=true\n").unwrap();
    let serve = Serve::start(
        None,
        &["--env-file", env_file.to_str().unwrap(), "--rate", "2000"],
        &[],
    );
    let pid = serve.proc.pid();
    let h = serve.health();
    assert_eq!(h["rollout"]["enabled"], true, "{h:#}");
    wait_for(
        WAIT,
        "warming ops before the reload",
        || (num(&serve.health(), "warmer.totalWarmingOps") > 0.0).then_some(()),
        || serve.ctx(),
    );

    std::fs::write(&env_file, "FEATURE_CACHE_WARMING_ENABLED=false\n").unwrap();
    serve.proc.signal("HUP");
    let h = wait_for(
        Duration::from_secs(10),
        "rollout.enabled == false after SIGHUP",
        || {
            let h = serve.health();
            (h["rollout"]["enabled"] == false).then_some(h)
        },
        || serve.ctx(),
    );
    // Warming has stopped while updates continue, in the same process.
    let h0 = serve.wait_warmer_idle();
    let (ops0, updates0) = (
        num(&h0, "warmer.totalWarmingOps"),
        num(&h0, "detector.updates"),
    );
    std::thread::sleep(Duration::from_millis(500));
    let h1 = serve.health();
    assert_eq!(num(&h1, "warmer.totalWarmingOps"), ops0, "{h1:#}");
    assert!(num(&h1, "detector.updates") > updates0, "{h1:#}");
    assert!(
        num(&h1, "uptimeSeconds") >= num(&h, "uptimeSeconds"),
        "{h1:#}"
    );
    // An invalid file is refused as a whole and changes nothing.
    std::fs::write(
        &env_file,
        "FEATURE_CACHE_WARMING_ENABLED=true\nWARMING_ROLLOUT_PERCENTAGE=7\n",
    )
    .unwrap();
    serve.proc.signal("HUP");
    wait_for(
        Duration::from_secs(10),
        "the refused reload logged",
        || {
            serve
                .proc
                .stderr()
                .contains("SIGHUP: invalid settings")
                .then_some(())
        },
        || serve.ctx(),
    );
    let h2 = serve.health();
    assert_eq!(h2["rollout"]["enabled"], false, "{h2:#}");
    assert_eq!(num(&h2, "rollout.percentage"), 1.0, "{h2:#}");
    assert!(serve.proc.stderr().contains("WARMING_ROLLOUT_PERCENTAGE"));

    let mut serve = serve;
    assert_eq!(
        serve.proc.try_exit(),
        None,
        "still running: {}",
        serve.ctx()
    );
    assert_eq!(serve.proc.pid(), pid);
    serve.terminate(SHUTDOWN);
}

// Precedence on start and on SIGHUP: defaults < env file < environment < flags. A reload
// re-reads the file, and what the environment or a flag sets still wins over it.
#[test]
fn environment_and_flags_win_over_the_env_file_also_after_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("pairwarm.env");
    std::fs::write(
        &env_file,
        "WARMING_SHADOW_MODE=true\nWARMING_ROLLOUT_PERCENTAGE=0.2\n",
    )
    .unwrap();
    let serve = Serve::start(
        None,
        &[
            "--env-file",
            env_file.to_str().unwrap(),
            "--rollout-percentage",
            "0.5",
        ],
        &[("WARMING_SHADOW_MODE", "false")],
    );
    let h = serve.health();
    assert_eq!(
        h["rollout"]["shadowMode"], false,
        "environment over file: {h:#}"
    );
    assert_eq!(num(&h, "rollout.percentage"), 0.5, "flag over file: {h:#}");
    assert_eq!(h["rollout"]["enabled"], true, "{h:#}");

    std::fs::write(
        &env_file,
        "WARMING_SHADOW_MODE=true\nWARMING_ROLLOUT_PERCENTAGE=0.1\nFEATURE_CACHE_WARMING_ENABLED=false\n",
    )
    .unwrap();
    serve.proc.signal("HUP");
    let h = wait_for(
        Duration::from_secs(10),
        "the file's own setting applied after SIGHUP",
        || {
            let h = serve.health();
            (h["rollout"]["enabled"] == false).then_some(h)
        },
        || serve.ctx(),
    );
    assert_eq!(
        h["rollout"]["shadowMode"], false,
        "environment still wins: {h:#}"
    );
    assert_eq!(
        num(&h, "rollout.percentage"),
        0.5,
        "the flag still wins: {h:#}"
    );
    serve.terminate(SHUTDOWN);
}

// 10. Bad configuration stops start-up with a message naming the variable.
#[test]
fn bad_configuration_is_rejected_naming_the_variable() {
    // (environment, flags, the variable the error must name)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: &[Case<'_>] = &[
        (
            &[("WARMING_ROLLOUT_PERCENTAGE", "1.5")],
            &[],
            "WARMING_ROLLOUT_PERCENTAGE",
        ),
        (
            &[],
            &["--rollout-percentage", "2"],
            "WARMING_ROLLOUT_PERCENTAGE",
        ),
        (&[("CACHE_L1_SIZE", "lots")], &[], "CACHE_L1_SIZE"),
        (&[("WARMING_STRATEGY", "psychic")], &[], "WARMING_STRATEGY"),
        (
            &[("WARMING_SHADOW_MODE", "maybe")],
            &[],
            "WARMING_SHADOW_MODE",
        ),
    ];
    for (env, args, variable) in cases {
        let mut cmd = pairwarm();
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--max-updates", "1"])
            .args(*args)
            .envs(env.iter().copied());
        let mut p = Proc::spawn(cmd);
        let status = p.wait_exit(Duration::from_secs(20));
        let err = p.stderr();
        assert!(!status.success(), "{env:?} {args:?} was accepted: {err}");
        assert!(
            err.contains(variable),
            "{env:?} {args:?}: stderr does not name {variable}: {err}"
        );
        assert!(err.contains("expected"), "names the accepted form: {err}");
        assert!(!err.contains("http://"), "did not start serving: {err}");
    }
}

// 11. The embedded default runs with no Redis and stops by itself.
#[test]
fn embedded_default_is_ready_and_stops_by_itself() {
    let mut serve = Serve::start(None, &["--max-updates", "3000", "--rate", "20000"], &[]);
    let mut ready = None;
    let status = loop {
        if let Some(status) = serve.proc.try_exit() {
            break status;
        }
        if let Ok(r) = http(serve.addr, "GET", "/ready", &[], None)
            && r.status == 200
        {
            ready = Some(r);
        }
        assert!(
            serve.proc.stderr().len() < 1 << 20,
            "runaway stderr: {}",
            serve.ctx()
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = serve.proc.wait_exit(SHUTDOWN);
    assert!(status.success(), "exit {status}\n{}", serve.ctx());
    let ready = ready.unwrap_or_else(|| panic!("/ready never answered 200\n{}", serve.ctx()));
    let body = ready.json();
    assert_eq!(body["ready"], true, "{body:#}");
    let err = serve.proc.stderr();
    assert!(err.contains("embedded default"), "{err}");
    assert!(err.contains("final:"), "{err}");
}

// A signal right after the banner is handled (regression: the handlers were registered
// only once the HTTP server and the feed were running, so a SIGTERM or SIGHUP in that
// window killed serve with the default action: no graceful shutdown, no snapshot).
#[test]
fn signals_right_after_start_are_handled() {
    for round in 0..20 {
        let mut serve = Serve::start(None, &["--rate", "100"], &[]);
        if round % 2 == 0 {
            serve.proc.signal("HUP");
            let r = serve.get("/health");
            assert_eq!(r.status, 200, "alive after an early SIGHUP: {}", r.body);
            assert_eq!(serve.proc.try_exit(), None, "{}", serve.ctx());
        }
        serve.terminate(SHUTDOWN);
    }
}

// Redis going away makes serve unready (not dead); when it is back, the consumer
// reconnects, recreates its group on the empty server and the feed flows again.
#[test]
fn redis_restart_degrades_then_recovers() {
    let mut redis = RedisServer::start();
    let serve = Serve::start(Some(&redis.url()), &[], &[]);
    feed_synthetic(&redis.url(), STREAM, 1_000, 13);
    serve.wait_processed(1_000, WAIT);
    assert_eq!(serve.get("/ready").status, 200);

    redis.stop();
    // The consumer notices at its next read, the L2 check within 500 ms.
    let h = wait_for(
        WAIT,
        "/ready 503 and /health/warming 503 with Redis down",
        || {
            let h = serve.get("/health/warming");
            (serve.get("/ready").status == 503 && h.status == 503).then_some(h)
        },
        || serve.ctx(),
    );
    assert_eq!(h.json()["status"], "unhealthy", "{}", h.body);
    assert_eq!(h.json()["stream"]["feedRunning"], false, "{}", h.body);
    assert_eq!(serve.get("/health").status, 200, "still alive");

    redis.restart();
    wait_for(
        WAIT,
        "/ready 200 with Redis back",
        || (serve.get("/ready").status == 200).then_some(()),
        || serve.ctx(),
    );
    // The restarted server is empty: the group is recreated by the consumer's reconnect.
    feed_synthetic(&redis.url(), STREAM, 1_000, 14);
    serve.wait_processed(2_000, WAIT);
    let mut conn = redis.connection();
    assert_eq!(xpending_total(&mut conn, STREAM, GROUP), 0);
    let m = serve.metrics();
    assert_eq!(m.sum("arbitrage_price_updates_total", &[]), 2_000.0);
    serve.terminate(SHUTDOWN);
}

// Entries of chains beyond the interner's chain limit (64) cannot be processed; they are
// dead-lettered with a reason, never acknowledged silently. (Only chains the operator
// accepts can get there: the original's 20 canonical ones and PAIRWARM_EXTRA_CHAINS.)
#[test]
fn entries_beyond_the_chain_limit_are_dead_lettered() {
    const CHAINS: u32 = 70;
    const LIMIT: u32 = 64;
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let mut ids = Vec::new();
    for i in 0..CHAINS {
        ids.push(xadd(
            &mut conn,
            STREAM,
            &as_refs(&valid_entry(&format!("chain{i:02}"), i + 1)),
        ));
    }
    let extra: Vec<String> = (0..CHAINS).map(|i| format!("chain{i:02}")).collect();
    let serve = Serve::start(
        Some(&redis.url()),
        &[],
        &[("PAIRWARM_EXTRA_CHAINS", &extra.join(","))],
    );
    let h = serve.wait_processed(u64::from(CHAINS), WAIT);
    assert_eq!(
        num(&h, "stream.deadLettered"),
        f64::from(CHAINS - LIMIT),
        "{h:#}"
    );
    assert_eq!(xpending_total(&mut conn, STREAM, GROUP), 0);
    let m = serve.metrics();
    assert_eq!(
        m.sum("arbitrage_price_updates_total", &[]),
        f64::from(LIMIT)
    );
    assert_eq!(
        m.sum("arbitrage_stream_dead_letter_total", &[("reason", "other")]),
        f64::from(CHAINS - LIMIT)
    );
    assert_dead_letters(&mut conn, &ids[LIMIT as usize..], "chain_limit");
    serve.terminate(SHUTDOWN);
}

// One stream per chain: `--streams a,b` reads, acknowledges and dead-letters per stream.
#[test]
fn several_streams_are_consumed_and_dead_lettered_per_stream() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let (eth, bsc) = ("stream:prices:ethereum", "stream:prices:bsc");
    feed_synthetic(&redis.url(), eth, 700, 15);
    feed_synthetic(&redis.url(), bsc, 300, 16);
    let bad = xadd(&mut conn, bsc, &[(b"chain", b"bsc"), (b"price", b"1")]);
    let streams = format!("{eth},{bsc}");
    let serve = Serve::start(Some(&redis.url()), &["--streams", &streams], &[]);
    serve.wait_processed(1_001, WAIT);
    for s in [eth, bsc] {
        assert_eq!(xpending_total(&mut conn, s, GROUP), 0, "{s}");
        assert_eq!(group_info(&mut conn, s, GROUP).lag, 0, "{s}");
    }
    let dlq = xrange(&mut conn, &format!("{bsc}:dlq"));
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    assert!(
        dlq[0]
            .1
            .iter()
            .any(|(k, v)| k == b"source_id" && v == bad.as_bytes())
    );
    let eth_dlq: u64 = redis::cmd("XLEN")
        .arg(format!("{eth}:dlq"))
        .query(&mut conn)
        .unwrap();
    assert_eq!(eth_dlq, 0);
    let m = serve.metrics();
    assert_eq!(m.sum("arbitrage_price_updates_total", &[]), 1_000.0);
    serve.terminate(SHUTDOWN);
}

// Two instances in one consumer group share the backlog: each entry processed once.
#[test]
fn two_instances_in_one_group_share_the_work() {
    const N: u64 = 20_000;
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    feed_synthetic(&redis.url(), STREAM, N, 17);
    let a = Serve::start(
        Some(&redis.url()),
        &["--consumer", "a", "--batch-size", "256"],
        &[],
    );
    let b = Serve::start(
        Some(&redis.url()),
        &["--consumer", "b", "--batch-size", "256"],
        &[],
    );
    let processed = |s: &Serve| num(&s.health(), "stream.processed") as u64;
    wait_for(
        WAIT,
        "the backlog processed by the two instances",
        || (processed(&a) + processed(&b) >= N).then_some(()),
        || format!("{}\n{}", a.ctx(), b.ctx()),
    );
    let (pa, pb) = (processed(&a), processed(&b));
    assert_eq!(pa + pb, N, "each entry processed exactly once");
    assert!(pa > 0 && pb > 0, "both took a share: a {pa}, b {pb}");
    let updates = a.metrics().sum("arbitrage_price_updates_total", &[])
        + b.metrics().sum("arbitrage_price_updates_total", &[]);
    assert_eq!(updates, N as f64);
    assert_eq!(xpending_total(&mut conn, STREAM, GROUP), 0);
    a.terminate(SHUTDOWN);
    b.terminate(SHUTDOWN);
}

// `--max-updates` with Redis: the run ends by itself, exit 0, everything it read acked.
#[test]
fn max_updates_ends_a_redis_run_by_itself() {
    const N: u64 = 2_000;
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    feed_synthetic(&redis.url(), STREAM, N, 18);
    let mut serve = Serve::start(Some(&redis.url()), &["--max-updates", &N.to_string()], &[]);
    let status = serve.proc.wait_exit(WAIT);
    assert!(status.success(), "{status}\n{}", serve.ctx());
    assert!(serve.proc.stderr().contains("final:"), "{}", serve.ctx());
    assert_eq!(
        group_info(&mut conn, STREAM, GROUP),
        GroupInfo {
            entries_read: N,
            lag: 0,
            pending: 0
        }
    );
}

/// A SIGHUP that does not change the master switch in the env file leaves an emergency
/// switch made through the admin endpoint alone; changing it in the file applies.
#[test]
fn sighup_does_not_undo_an_admin_kill_switch() {
    const TOKEN: &str = "test-admin-token-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("pairwarm.env");
    std::fs::write(&env_file, "FEATURE_CACHE_WARMING_ENABLED=true\n").unwrap();
    let serve = Serve::start(
        None,
        &["--env-file", env_file.to_str().unwrap(), "--rate", "2000"],
        &[("PAIRWARM_ADMIN_TOKEN", TOKEN)],
    );
    let auth = [("Authorization", "Bearer test-admin-token-0123456789")];
    let r = serve.request(
        "POST",
        "/admin/warming",
        &auth,
        Some(r#"{"enabled":false}"#),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    // An unrelated change: the admin switch must survive it.
    std::fs::write(
        &env_file,
        "FEATURE_CACHE_WARMING_ENABLED=true\nWARMING_TIMEOUT_MS=60\n",
    )
    .unwrap();
    let reloads = || {
        serve
            .proc
            .stderr()
            .matches("SIGHUP: settings reloaded")
            .count()
    };
    let hup_and_wait = |n: usize| {
        serve.proc.signal("HUP");
        wait_for(
            Duration::from_secs(10),
            "the reload logged",
            || (reloads() >= n).then_some(()),
            || serve.ctx(),
        );
    };
    hup_and_wait(1);
    let h = serve.health();
    assert_eq!(h["rollout"]["enabled"], false, "{h:#}");

    // Changing the switch in the file is applied.
    std::fs::write(
        &env_file,
        "FEATURE_CACHE_WARMING_ENABLED=false\nWARMING_TIMEOUT_MS=60\n",
    )
    .unwrap();
    hup_and_wait(2);
    assert_eq!(serve.health()["rollout"]["enabled"], false);
    std::fs::write(
        &env_file,
        "FEATURE_CACHE_WARMING_ENABLED=true\nWARMING_TIMEOUT_MS=60\n",
    )
    .unwrap();
    hup_and_wait(3);
    let h = serve.health();
    assert_eq!(h["rollout"]["enabled"], true, "{h:#}");
}

/// When Redis refuses the dead-letter copies, the good entries of the batch are still
/// processed and acknowledged, the bad ones stay pending (never acked without a copy), and
/// they are dead-lettered once the dead-letter stream accepts them again.
#[test]
fn refused_dead_letters_stay_pending_until_they_can_be_copied() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    // A plain string where the dead-letter stream should be: XADD fails with WRONGTYPE.
    let _: () = redis::cmd("SET")
        .arg(DLQ)
        .arg("in the way")
        .query(&mut conn)
        .unwrap();
    let good = 40u64;
    for i in 0..good {
        xadd(
            &mut conn,
            STREAM,
            &as_refs(&valid_entry("ethereum", i as u32 + 1)),
        );
    }
    let bad: RawFields<'_> = vec![(b"chain", b"ethereum"), (b"price", b"1")];
    xadd(&mut conn, STREAM, &bad);
    xadd(&mut conn, STREAM, &bad);

    let serve = Serve::start(Some(&redis.url()), &[], &[]);
    wait_for(
        WAIT,
        "the good entries processed",
        || (num(&serve.health(), "detector.updates") >= good as f64).then_some(()),
        || serve.ctx(),
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        xpending_total(&mut conn, STREAM, GROUP),
        2,
        "{}",
        serve.ctx()
    );
    assert_eq!(num(&serve.health(), "stream.deadLettered"), 0.0);

    let _: () = redis::cmd("DEL").arg(DLQ).query(&mut conn).unwrap();
    wait_for(
        WAIT,
        "the bad entries dead-lettered after the retry",
        || (xpending_total(&mut conn, STREAM, GROUP) == 0).then_some(()),
        || serve.ctx(),
    );
    assert_eq!(xrange(&mut conn, DLQ).len(), 2);
    let h = serve.health();
    assert_eq!(num(&h, "stream.deadLettered"), 2.0, "{h:#}");
    // The good entries were processed once, not again on every retry.
    assert_eq!(num(&h, "detector.updates"), good as f64, "{h:#}");
    serve.terminate(SHUTDOWN);
}
