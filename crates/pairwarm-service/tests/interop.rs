//! Sharing a Redis with the original system (issue 12's acceptance), against a real
//! `redis-server` (testkit): the reference's exact entries, batch envelopes, signatures,
//! the original's L2 values, newer-wins writes, published opportunities, health.

mod support;

use std::time::Duration;

use pairwarm_service::entry::SigningKeys;
use pairwarm_service::health::Status;
use pairwarm_service::{Service, ServiceConfig};
use pairwarm_testkit::RedisServer;
use serde_json::Value;
use support::{Running, num};

const STREAM: &str = "stream:price-updates";
const DLQ: &str = "stream:price-updates:dlq";
const OPPORTUNITIES: &str = "stream:opportunities";
const KEY: &str = "interop-signing-key";
const WAIT: Duration = Duration::from_secs(30);
const BATCH: &str = include_str!("data/reference_batch.json");
const SINGLE: &str = include_str!("data/reference_single.json");
const SIGNED: &str = include_str!("data/reference_signed.json");
const SIG: &str = include_str!("data/reference_signed.sig");

async fn start(redis: &RedisServer, env: &[(&str, &str)]) -> Running {
    let mut builder = ServiceConfig::builder()
        .set("REDIS_URL", redis.url())
        .set("PAIRWARM_CONSUMER", "interop")
        .set("PAIRWARM_STATUS_INTERVAL", "0")
        .set("PAIRWARM_GROUP_START", "beginning");
    for (k, v) in env {
        builder = builder.set(*k, *v);
    }
    Running::start(
        Service::builder(builder.build().unwrap())
            .listen(false)
            .build()
            .unwrap(),
    )
    .await
}

fn xadd(conn: &mut redis::Connection, fields: &[(&str, &str)]) -> String {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(STREAM).arg("*");
    for (k, v) in fields {
        cmd.arg(*k).arg(*v);
    }
    cmd.query(conn).unwrap()
}

/// An entry of the original, signed with the reference's key.
fn signed(conn: &mut redis::Connection, data: &str) -> String {
    let sig = SigningKeys::new(KEY, None).sign(STREAM, data.as_bytes());
    xadd(conn, &[("data", data), ("sig", &sig)])
}

async fn wait_health(running: &Running, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    support::wait_for(WAIT, what, || {
        let h = running.service.health().body;
        ok(&h).then_some(h)
    })
    .await
}

fn pending(conn: &mut redis::Connection) -> u64 {
    redis::cmd("XPENDING")
        .arg(STREAM)
        .arg("pairwarm")
        .query::<(u64, Option<String>, Option<String>, redis::Value)>(conn)
        .map_or(0, |summary| summary.0)
}

fn stream_fields(conn: &mut redis::Connection, stream: &str) -> Vec<Vec<(String, String)>> {
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query(conn)
        .unwrap();
    entries.into_iter().map(|(_, f)| f).collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The reference's exact entries (batch, single, and the signed one) are consumed with no
/// dead letter, without a key and with the reference's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_references_exact_entries_are_consumed_with_no_dead_letter() {
    for keyed in [false, true] {
        let redis = RedisServer::start();
        let mut conn = redis.connection();
        if keyed {
            signed(&mut conn, BATCH);
            signed(&mut conn, SINGLE);
        } else {
            xadd(&mut conn, &[("data", BATCH)]);
            xadd(&mut conn, &[("data", SINGLE)]);
        }
        xadd(&mut conn, &[("data", SIGNED), ("sig", SIG)]);
        let env: &[(&str, &str)] = if keyed {
            &[("STREAM_SIGNING_KEY", KEY)]
        } else {
            &[]
        };
        let running = start(&redis, env).await;
        // `stream.processed` counts acknowledged entries (3), after their updates.
        let h = wait_health(&running, "3 entries acknowledged", |h| {
            num(h, "stream.processed") >= 3
        })
        .await;
        assert_eq!(num(&h, "stream.processed"), 3, "{h:#}");
        assert_eq!(num(&h, "detector.updates"), 5, "{h:#}");
        assert_eq!(num(&h, "stream.deadLettered"), 0, "{h:#}");
        assert_eq!(num(&h, "stream.badUpdates"), 0, "{h:#}");
        assert_eq!(num(&h, "tracker.totalUpdates"), 5, "{h:#}");
        assert_eq!(pending(&mut conn), 0);
        assert_eq!(h["status"], "healthy", "{h:#}");
        running.stop().await;
    }
}

/// A batch of 1,000 updates (~620 KB, as the original publishes at its largest) is one
/// entry: read once, acknowledged once, 1,000 updates tracked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_update_envelope_is_one_entry_acked_once() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let messages: Vec<String> = (0..1000u32)
        .map(|n| {
            SINGLE.replace(
                "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc",
                &format!("0x{:040x}", n + 1),
            )
        })
        .collect();
    let data = format!(
        r#"{{"type":"batch","count":1000,"messages":[{}],"timestamp":1795923834400}}"#,
        messages.join(",")
    );
    assert!(
        data.len() > 600_000 && data.len() < 700_000,
        "{} bytes",
        data.len()
    );
    signed(&mut conn, &data);
    redis.reset_stats();
    let running = start(&redis, &[("STREAM_SIGNING_KEY", KEY)]).await;
    let h = wait_health(&running, "the envelope processed", |h| {
        num(h, "stream.processed") >= 1
    })
    .await;
    assert_eq!(num(&h, "tracker.totalUpdates"), 1000, "{h:#}");
    assert_eq!(num(&h, "tracker.totalPairs"), 1000, "{h:#}");
    assert_eq!(num(&h, "detector.updates"), 1000, "{h:#}");
    assert_eq!(num(&h, "stream.processed"), 1, "{h:#}");
    assert_eq!(num(&h, "stream.deadLettered"), 0, "{h:#}");
    assert_eq!(pending(&mut conn), 0);
    assert_eq!(redis.command_calls("xack"), 1, "acknowledged once");
    running.stop().await;
}

/// With a key set: a wrong signature, a missing one and each malformed variant are
/// dead-lettered with their reason; the good entries after them are processed; a bad
/// update inside a good envelope is counted and sampled, and the envelope processed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_entries_are_dead_lettered_with_their_reason_and_good_ones_go_on() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let wrong_sig = SIG.replace('b', "c");
    xadd(&mut conn, &[("data", SIGNED), ("sig", &wrong_sig)]);
    xadd(&mut conn, &[("data", SIGNED)]);
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(5000));
    let malformed: &[(&str, &str)] = &[
        ("not json", "bad_json"),
        (r#"{"type":"batch","count":2}"#, "bad_envelope"),
        (r#"{"chain":"ethereum","price":1}"#, "missing_field"),
        (
            r#"{"chain":"ethereum","pairAddress":"0x1234","price":1}"#,
            "bad_address",
        ),
        (
            r#"{"chain":"mars","pairAddress":"0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc","price":1}"#,
            "unknown_chain",
        ),
        (
            r#"{"chain":"ethereum","pairAddress":"0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc","price":-2}"#,
            "bad_price",
        ),
        (&big, "too_large"),
    ];
    for (data, _) in malformed {
        signed(&mut conn, data);
    }
    // A good envelope with one bad update inside, then the good entries.
    let mixed = BATCH.replacen("0x397FF1542f962076d0BFE58eA045FfA2d347ACa0", "0xnope", 1);
    signed(&mut conn, &mixed);
    signed(&mut conn, BATCH);
    signed(&mut conn, SINGLE);
    let running = start(
        &redis,
        &[
            ("STREAM_SIGNING_KEY", KEY),
            ("PAIRWARM_MAX_ENTRY_BYTES", "4096"),
        ],
    )
    .await;
    let dead = 2 + malformed.len() as u64;
    let h = wait_health(&running, "every entry handled", |h| {
        num(h, "stream.processed") >= dead + 3
    })
    .await;
    assert_eq!(num(&h, "stream.deadLettered"), dead, "{h:#}");
    assert_eq!(num(&h, "stream.signatureFailures"), 2, "{h:#}");
    assert_eq!(num(&h, "stream.badUpdates"), 1, "{h:#}");
    // 2 good updates of the mixed envelope, 3 of the batch, 1 single.
    assert_eq!(num(&h, "detector.updates"), 6, "{h:#}");
    assert_eq!(pending(&mut conn), 0);
    let dlq = stream_fields(&mut conn, DLQ);
    let reasons: Vec<&str> = dlq.iter().filter_map(|f| field(f, "reason")).collect();
    let mut expected = vec!["bad_signature", "unsigned"];
    expected.extend(malformed.iter().map(|(_, r)| *r));
    // The bad update's sample (not a copy of its envelope) comes last.
    expected.push("bad_address");
    assert_eq!(reasons, expected, "{dlq:?}");
    let sample = dlq.last().unwrap();
    assert_eq!(field(sample, "index"), Some("1"));
    assert!(
        field(sample, "data").is_none(),
        "a sample, not the envelope"
    );
    // The too-large entry's copy is clipped.
    let clipped = &dlq[2 + malformed.len() - 1];
    assert!(field(clipped, "data").unwrap().len() <= 4096);
    assert!(field(clipped, "truncated").unwrap().starts_with("data="));
    let metrics = running.service.warming().metrics.clone().unwrap();
    let text = metrics.encode_prometheus().unwrap();
    // The fine reason of every dead-lettered entry is counted.
    for reason in ["bad_signature", "unsigned"]
        .into_iter()
        .chain(malformed.iter().map(|(_, r)| *r))
    {
        assert_eq!(dead_letter_reason_count(&running, reason), 1, "{reason}");
    }
    for line in [
        "arbitrage_stream_signature_failures_total{reason=\"bad_signature\"} 1",
        "arbitrage_stream_bad_updates_total{reason=\"bad_address\"} 1",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    running.stop().await;
}

/// A value pairwarm writes is the original's value for the same update, byte for byte,
/// with the original's TTL; an older update never overwrites it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l2_values_are_the_originals_and_newer_wins() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    xadd(&mut conn, &[("data", SINGLE)]);
    // The same pool one block older, afterwards (a replay): must not roll the value back.
    let older = SINGLE
        .replace("21000000", "20999999")
        .replace("\"price\":2.5e-9", "\"price\":9.5e-9");
    xadd(&mut conn, &[("data", &older)]);
    let running = start(&redis, &[]).await;
    wait_health(&running, "both entries acknowledged", |h| {
        num(h, "stream.processed") >= 2
    })
    .await;
    let key = "cache:l2:price:ethereum:0xb4e16d0168e52d35cacd2c6185b44281ec28c9dc";
    let value: String = redis::cmd("GET").arg(key).query(&mut conn).unwrap();
    // What the original writes for this update (price, reserves, timestamp, blockNumber).
    assert_eq!(
        value,
        r#"{"price":2.5e-9,"reserve0":"50000000000000","reserve1":"20000000000000000000000","timestamp":1795923834391,"blockNumber":21000000}"#
    );
    let ttl: i64 = redis::cmd("TTL").arg(key).query(&mut conn).unwrap();
    assert!(
        (290..=300).contains(&ttl),
        "TTL {ttl} s, the original's 300"
    );
    // Through the cache, too: the newer price, reserves exact.
    let cache = running.service.cache();
    let id = cache
        .interner()
        .intern_str("ethereum", "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc")
        .unwrap();
    let price = cache.get(id).await.unwrap().unwrap();
    assert_eq!((price.price, price.block), (2.5e-9, 21_000_000));
    assert_eq!(price.reserve1.to_string(), "20000000000000000000000");
    running.stop().await;
}

/// An opportunity pairwarm publishes has every field the original's coordinator reads, a
/// unique id and a valid signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_opportunities_are_what_the_coordinator_reads() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    signed(&mut conn, BATCH);
    signed(&mut conn, BATCH);
    let running = start(&redis, &[("STREAM_SIGNING_KEY", KEY)]).await;
    wait_health(&running, "both envelopes processed", |h| {
        num(h, "stream.processed") >= 2
    })
    .await;
    let published = stream_fields(&mut conn, OPPORTUNITIES);
    assert!(published.len() >= 2, "{published:?}");
    let keys = SigningKeys::new(KEY, None);
    let mut ids = std::collections::HashSet::new();
    for fields in &published {
        let data = field(fields, "data").unwrap();
        let sig = field(fields, "sig").unwrap();
        assert_eq!(keys.sign(OPPORTUNITIES, data.as_bytes()), sig);
        assert_eq!(fields.len(), 2, "exactly data and sig: {fields:?}");
        let o: Value = serde_json::from_str(data).unwrap();
        let id = o["id"].as_str().unwrap();
        assert!(
            !id.is_empty() && ids.insert(id.to_owned()),
            "unique id {id}"
        );
        for name in [
            "type",
            "chain",
            "buyDex",
            "sellDex",
            "buyPair",
            "sellPair",
            "tokenIn",
            "tokenOut",
            "buyPrice",
            "sellPrice",
            "profitPercentage",
            "confidence",
            "timestamp",
            "expiresAt",
            "blockNumber",
        ] {
            assert!(!o[name].is_null(), "{name} missing in {o:#}");
        }
        assert_eq!(o["type"], "cross-dex");
        assert_eq!(o["chain"], "ethereum");
        assert_eq!(
            (o["buyDex"].as_str(), o["sellDex"].as_str()),
            (Some("uniswap_v2"), Some("sushiswap"))
        );
        let profit = o["profitPercentage"].as_f64().unwrap();
        assert!((profit - 1.4).abs() < 0.01, "net 140 bps = 1.4%: {o:#}");
        let confidence = o["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&confidence));
        assert_eq!(
            o["expiresAt"].as_u64().unwrap(),
            o["timestamp"].as_u64().unwrap() + 60_000
        );
        assert!(id.starts_with(&format!(
            "{}-{}-{}-",
            o["buyPair"].as_str().unwrap(),
            o["sellPair"].as_str().unwrap(),
            o["timestamp"]
        )));
    }
    let maxlen_ok: i64 = redis::cmd("XLEN")
        .arg(OPPORTUNITIES)
        .query(&mut conn)
        .unwrap();
    assert_eq!(maxlen_ok as usize, published.len());
    running.stop().await;
}

/// `GET /health/warming` through the service's router: the HTTP status and the document.
async fn health_warming(running: &Running) -> (u16, Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = axum::http::Request::get("/health/warming")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = running.service.router().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

/// The fine reason's counter in the Prometheus text, 0 when absent.
fn dead_letter_reason_count(running: &Running, reason: &str) -> u64 {
    let text = running
        .service
        .warming()
        .metrics
        .clone()
        .unwrap()
        .encode_prometheus()
        .unwrap();
    let prefix = format!("arbitrage_stream_dead_letter_reasons_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |n| n.parse().unwrap())
}

/// `/health/warming` says `degraded`, with the reason, while every entry is dead-lettered
/// (malformed ones without a key; unsigned ones with a key, which is also a signature
/// failure), and the fine reason is counted in `stream_dead_letter_reasons_total`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_degraded_while_all_entries_are_dead_lettered() {
    for keyed in [false, true] {
        let redis = RedisServer::start();
        let mut conn = redis.connection();
        for _ in 0..5 {
            if keyed {
                xadd(&mut conn, &[("data", SIGNED)]);
            } else {
                xadd(&mut conn, &[("data", "not json")]);
            }
        }
        let env: &[(&str, &str)] = if keyed {
            &[("STREAM_SIGNING_KEY", KEY)]
        } else {
            &[]
        };
        let running = start(&redis, env).await;
        wait_health(&running, "the entries dead-lettered", |h| {
            num(h, "stream.deadLettered") >= 5
        })
        .await;
        let (code, h) = health_warming(&running).await;
        assert_eq!(
            (code, h["status"].as_str()),
            (200, Some("degraded")),
            "{h:#}"
        );
        let reasons = h["reasons"].to_string();
        assert!(
            reasons.contains("5 of the last 5 stream entries were dead-lettered"),
            "{reasons}"
        );
        assert_eq!(reasons.contains("signature"), keyed, "{reasons}");
        let fine = if keyed { "unsigned" } else { "bad_json" };
        assert_eq!(dead_letter_reason_count(&running, fine), 5);
        running.stop().await;
    }
}

/// A failing signature makes the feed `degraded` even while most entries are good, and
/// the status comes back to `healthy` once the failures leave the health window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_failure_degrades_health_until_it_leaves_the_window() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    for _ in 0..4 {
        signed(&mut conn, SINGLE);
    }
    xadd(
        &mut conn,
        &[("data", SIGNED), ("sig", &SIG.replace('b', "c"))],
    );
    let running = start(&redis, &[("STREAM_SIGNING_KEY", KEY)]).await;
    wait_health(&running, "every entry handled", |h| {
        num(h, "stream.processed") >= 5
    })
    .await;
    let (_, h) = health_warming(&running).await;
    assert_eq!(h["status"], "degraded", "{h:#}");
    let reasons = h["reasons"].to_string();
    assert!(
        reasons.contains("1 entries failed signature verification"),
        "{reasons}"
    );
    assert!(
        !reasons.contains("dead-lettered"),
        "1 of 5 is not most: {reasons}"
    );
    assert_eq!(dead_letter_reason_count(&running, "bad_signature"), 1);
    // The window is 10 s: wait (bounded) for the status to recover, never sleep a fixed time.
    support::wait_for(WAIT, "healthy again", || {
        (running.service.health().status == Status::Healthy).then_some(())
    })
    .await;
    running.stop().await;
}

/// A Solana pool (base58, case-sensitive) is a pair of its own: its L2 key keeps the case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn solana_pools_keep_their_base58_address_in_l2_keys() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let pool = "58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2";
    let data = format!(
        r#"{{"chain":"solana","dex":"raydium","pairAddress":"{pool}","token0":"So11111111111111111111111111111111111111112","token1":"EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v","price":0.0068,"reserve0":"680","reserve1":"100000","timestamp":1795923834391,"blockNumber":300000000}}"#
    );
    xadd(&mut conn, &[("data", &data)]);
    let running = start(&redis, &[]).await;
    wait_health(&running, "the entry acknowledged", |h| {
        num(h, "stream.processed") >= 1
    })
    .await;
    let value: Option<String> = redis::cmd("GET")
        .arg(format!("cache:l2:price:solana:{pool}"))
        .query(&mut conn)
        .unwrap();
    assert!(value.unwrap().contains(r#""reserve1":"100000""#));
    running.stop().await;
}

/// A new group starts at the stream's end by default: the history written before it is
/// not replayed into a shared Redis; entries added afterwards are processed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_group_starts_at_the_end_by_default() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    for _ in 0..3 {
        xadd(&mut conn, &[("data", "not json")]);
    }
    let config = ServiceConfig::builder()
        .set("REDIS_URL", redis.url())
        .set("PAIRWARM_STATUS_INTERVAL", "0")
        .build()
        .unwrap();
    let running = Running::start(Service::builder(config).listen(false).build().unwrap()).await;
    xadd(&mut conn, &[("data", SINGLE)]);
    let h = wait_health(&running, "the new entry acknowledged", |h| {
        num(h, "stream.processed") >= 1
    })
    .await;
    assert_eq!(
        num(&h, "stream.deadLettered"),
        0,
        "history not replayed: {h:#}"
    );
    let dlq: i64 = redis::cmd("XLEN").arg(DLQ).query(&mut conn).unwrap();
    assert_eq!(dlq, 0);
    running.stop().await;
}
