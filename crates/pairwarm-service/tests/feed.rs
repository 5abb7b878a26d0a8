//! The Redis feed of a service run in-process against a real `redis-server` (testkit):
//! dead letters Redis refuses, and entries delivered too many times.

mod support;

use std::time::Duration;

use pairwarm_service::health::Status;
use pairwarm_service::{Service, ServiceConfig};
use pairwarm_testkit::RedisServer;
use serde_json::Value;
use support::{Running, num};

const STREAM: &str = "stream:price-updates";
const DLQ: &str = "stream:price-updates:dlq";
const GROUP: &str = "pairwarm";
const CONSUMER: &str = "svc";
const WAIT: Duration = Duration::from_secs(30);

async fn start(redis: &RedisServer) -> Running {
    let config = ServiceConfig::builder()
        .set("REDIS_URL", redis.url())
        .set("PAIRWARM_CONSUMER", CONSUMER)
        .set("PAIRWARM_STATUS_INTERVAL", "0")
        // Entries are written before the service creates its group.
        .set("PAIRWARM_GROUP_START", "beginning")
        .build()
        .unwrap();
    Running::start(Service::builder(config).listen(false).build().unwrap()).await
}

fn health(running: &Running) -> Value {
    running.service.health().body
}

async fn wait_for<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    support::wait_for(WAIT, what, f).await
}

fn xadd(conn: &mut redis::Connection, fields: &[(&str, String)]) -> String {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(STREAM).arg("*");
    for (k, v) in fields {
        cmd.arg(*k).arg(v);
    }
    cmd.query(conn).unwrap()
}

fn good(n: u32) -> Vec<(&'static str, String)> {
    vec![
        ("chain", "ethereum".into()),
        ("pair", format!("0x{n:040x}")),
        ("price", "1850.5".into()),
    ]
}

/// Entries pending in the group (0 before the service has created it).
fn pending(conn: &mut redis::Connection) -> u64 {
    redis::cmd("XPENDING")
        .arg(STREAM)
        .arg(GROUP)
        .query::<(u64, Option<String>, Option<String>, redis::Value)>(conn)
        .map_or(0, |summary| summary.0)
}

fn dlq_reasons(conn: &mut redis::Connection) -> Vec<String> {
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(DLQ)
        .arg("-")
        .arg("+")
        .query(conn)
        .unwrap();
    entries
        .into_iter()
        .map(|(_, fields)| {
            fields
                .into_iter()
                .find(|(k, _)| k == "reason")
                .map(|(_, v)| v)
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_dead_letter_copy_does_not_stop_new_entries() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    // A plain string where the dead-letter stream should be: XADD fails with WRONGTYPE.
    let _: () = redis::cmd("SET")
        .arg(DLQ)
        .arg("in the way")
        .query(&mut conn)
        .unwrap();
    let bad = vec![
        ("chain", "ethereum".to_string()),
        ("price", "1".to_string()),
    ];
    xadd(&mut conn, &bad);
    xadd(&mut conn, &bad);
    let running = start(&redis).await;
    wait_for("the bad entries delivered", || {
        (pending(&mut conn) == 2).then_some(())
    })
    .await;

    // New entries keep flowing while the dead-letter stream refuses the copies.
    for n in 1..=40 {
        xadd(&mut conn, &good(n));
    }
    let h = wait_for("the new entries processed", || {
        let h = health(&running);
        (num(&h, "detector.updates") >= 40).then_some(h)
    })
    .await;
    assert_eq!(num(&h, "detector.updates"), 40, "{h:#}");
    assert_eq!(pending(&mut conn), 2, "the bad entries stay pending");
    let h = wait_for("the refusals reported", || {
        let h = health(&running);
        (num(&h, "stream.deadLetterRefusals") >= 2).then_some(h)
    })
    .await;
    assert_eq!(num(&h, "stream.deadLettersWaiting"), 2, "{h:#}");
    assert_eq!(num(&h, "stream.deadLettered"), 0, "{h:#}");
    assert_eq!(running.service.health().status, Status::Degraded, "{h:#}");
    let reasons = h["reasons"].to_string();
    assert!(reasons.contains("dead-letter"), "{reasons}");

    // Once Redis accepts the copies, the retry moves them and acknowledges the entries.
    let _: () = redis::cmd("DEL").arg(DLQ).query(&mut conn).unwrap();
    wait_for("the bad entries dead-lettered", || {
        (pending(&mut conn) == 0).then_some(())
    })
    .await;
    assert_eq!(dlq_reasons(&mut conn), ["missing_field", "missing_field"]);
    let h = wait_for("the health document updated", || {
        let h = health(&running);
        (num(&h, "stream.deadLettered") == 2).then_some(h)
    })
    .await;
    assert_eq!(num(&h, "stream.deadLettersWaiting"), 0, "{h:#}");
    assert_eq!(num(&h, "detector.updates"), 40, "processed once: {h:#}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_delivered_too_many_times_are_dead_lettered_as_such() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(STREAM)
        .arg(GROUP)
        .arg("0")
        .arg("MKSTREAM")
        .query(&mut conn)
        .unwrap();
    // A valid entry that has been delivered 20 times without an ack (a poison entry that
    // keeps crashing consumers), and one delivered once.
    let poison = xadd(&mut conn, &good(1));
    let fine = xadd(&mut conn, &good(2));
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(GROUP)
        .arg(CONSUMER)
        .arg("STREAMS")
        .arg(STREAM)
        .arg(">")
        .query(&mut conn)
        .unwrap();
    let _: redis::Value = redis::cmd("XCLAIM")
        .arg(STREAM)
        .arg(GROUP)
        .arg(CONSUMER)
        .arg(0)
        .arg(&poison)
        .arg("RETRYCOUNT")
        .arg(20)
        .query(&mut conn)
        .unwrap();

    let running = start(&redis).await;
    wait_for("both entries handled", || {
        (pending(&mut conn) == 0 && num(&health(&running), "stream.processed") == 2).then_some(())
    })
    .await;
    assert_eq!(dlq_reasons(&mut conn), ["max_deliveries"]);
    let source: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(DLQ)
        .arg("-")
        .arg("+")
        .query(&mut conn)
        .unwrap();
    let fields = &source[0].1;
    assert!(
        fields.contains(&("source_id".into(), poison.clone())),
        "{fields:?}"
    );
    let h = health(&running);
    assert_eq!(
        num(&h, "detector.updates"),
        1,
        "only {fine} processed: {h:#}"
    );
    assert_eq!(num(&h, "stream.deadLettered"), 1, "{h:#}");
    let metrics = running.service.warming().metrics.clone().unwrap();
    let counted = |reason| metrics.stream().dead_letter(reason).get();
    use pairwarm::metrics::DeadLetterReason;
    assert_eq!(counted(DeadLetterReason::MaxDeliveries), 1);
    assert_eq!(counted(DeadLetterReason::Malformed), 0);
    running.stop().await;
}
