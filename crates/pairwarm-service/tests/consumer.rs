//! The stream consumer against a real `redis-server` (testkit, free loopback port):
//! group creation, recovery of its own pending entries, claims, acks, dead letters, lag.

use std::time::Duration;

use pairwarm_service::entry::EntryError;
use pairwarm_service::feed::consumer::{ConsumerConfig, StreamConsumer};
use pairwarm_service::feed::dead_letter::{DeadLetter, DeadLetterReason};
use pairwarm_service::stream::RawEntry;
use pairwarm_testkit::RedisServer;

const STREAM: &str = "stream:test";
const GROUP: &str = "g";

fn config(redis: &RedisServer, consumer: &str) -> ConsumerConfig {
    ConsumerConfig {
        target: redis.url().into(),
        streams: vec![STREAM.into()],
        group: GROUP.into(),
        consumer: consumer.into(),
        count: 100,
        block_ms: 10,
        claim_idle_ms: 60_000,
        claim_every: Duration::from_secs(3600),
        // These tests write entries before the consumer creates its group.
        group_start: "0",
        dead_letter_maxlen: 1000,
        dead_consumer_idle: Duration::ZERO,
    }
}

fn xadd(conn: &mut redis::Connection, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            redis::cmd("XADD")
                .arg(STREAM)
                .arg("*")
                .arg("chain")
                .arg("ethereum")
                .arg("i")
                .arg(i)
                .query(conn)
                .unwrap()
        })
        .collect()
}

fn pending(conn: &mut redis::Connection) -> u64 {
    let summary: (u64, Option<String>, Option<String>, redis::Value) = redis::cmd("XPENDING")
        .arg(STREAM)
        .arg(GROUP)
        .query(conn)
        .unwrap();
    summary.0
}

fn ids(batch: &[RawEntry]) -> Vec<String> {
    batch.iter().map(|e| e.id.clone()).collect()
}

/// Reads until a batch comes back (the first reads may only finish recovery or claims).
async fn next_nonempty(c: &mut StreamConsumer) -> Vec<RawEntry> {
    for _ in 0..10 {
        let batch = c.next_batch().await.unwrap();
        if !batch.is_empty() {
            return batch.entries;
        }
    }
    panic!("no entries after 10 reads");
}

#[tokio::test]
async fn reads_new_entries_acks_and_reports_lag() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let written = xadd(&mut conn, 5);
    let mut c = StreamConsumer::connect(config(&redis, "a")).await.unwrap();
    // The group starts at the beginning: entries written before the first start count.
    assert_eq!(c.lag().await.unwrap(), 5);
    let batch = next_nonempty(&mut c).await;
    assert_eq!(ids(&batch), written);
    assert_eq!(&*batch[0].stream, STREAM);
    let fields = batch[0].fields.as_ref().unwrap();
    assert_eq!(fields[0], (b"chain".to_vec(), b"ethereum".to_vec()));
    // Delivered, not acknowledged: still counted.
    assert_eq!(pending(&mut conn), 5);
    assert_eq!(c.lag().await.unwrap(), 5);
    let refs: Vec<&str> = written.iter().map(String::as_str).collect();
    c.ack(STREAM, &refs[..3]).await.unwrap();
    assert_eq!(pending(&mut conn), 2);
    assert_eq!(c.lag().await.unwrap(), 2);
    // Nothing new: an empty batch after the block time.
    assert!(c.next_batch().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_restarted_consumer_first_rereads_its_own_pending_entries() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let first = xadd(&mut conn, 3);
    {
        let mut c = StreamConsumer::connect(config(&redis, "a")).await.unwrap();
        assert_eq!(ids(&next_nonempty(&mut c).await), first);
        // Crash: dropped without acknowledging.
    }
    let later = xadd(&mut conn, 2);
    let mut c = StreamConsumer::connect(config(&redis, "a")).await.unwrap();
    let recovered = c.next_batch().await.unwrap();
    assert_eq!(ids(&recovered.entries), first, "own pending first");
    assert!(recovered.redelivered);
    // Delivered once before the crash, once now.
    let counts = c.delivery_counts(&recovered.entries).await.unwrap();
    assert_eq!(counts.len(), 3);
    assert!(counts.values().all(|&n| n == 2), "{counts:?}");
    let refs: Vec<&str> = first.iter().map(String::as_str).collect();
    c.ack(STREAM, &refs).await.unwrap();
    let mut fresh = c.next_batch().await.unwrap();
    while fresh.is_empty() {
        fresh = c.next_batch().await.unwrap();
    }
    assert_eq!(ids(&fresh.entries), later, "then new entries");
    assert!(!fresh.redelivered);
}

#[tokio::test]
async fn recovery_passes_over_entries_that_stay_pending() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let written = xadd(&mut conn, 5);
    let mut cfg = config(&redis, "a");
    cfg.count = 2;
    {
        let mut c = StreamConsumer::connect(cfg.clone()).await.unwrap();
        let mut n = 0;
        while n < 5 {
            n += next_nonempty(&mut c).await.len();
        }
    }
    // None acknowledged: recovery returns each once, in order, then moves on to new ones.
    let mut c = StreamConsumer::connect(cfg).await.unwrap();
    let mut recovered = Vec::new();
    loop {
        let batch = c.next_batch().await.unwrap();
        if !batch.redelivered {
            break;
        }
        recovered.extend(ids(&batch.entries));
    }
    assert_eq!(recovered, written);
}

#[tokio::test]
async fn entries_left_by_a_dead_consumer_are_claimed_and_deleted_ones_reported() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let written = xadd(&mut conn, 4);
    {
        let mut dead = StreamConsumer::connect(config(&redis, "dead"))
            .await
            .unwrap();
        assert_eq!(next_nonempty(&mut dead).await.len(), 4);
    }
    // One of them is deleted while pending: it comes back without fields.
    let _: i64 = redis::cmd("XDEL")
        .arg(STREAM)
        .arg(&written[1])
        .query(&mut conn)
        .unwrap();
    let mut cfg = config(&redis, "alive");
    cfg.claim_idle_ms = 1;
    cfg.claim_every = Duration::ZERO;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut alive = StreamConsumer::connect(cfg).await.unwrap();
    let claimed = next_nonempty(&mut alive).await;
    let mut got = ids(&claimed);
    got.sort();
    assert_eq!(got, written);
    let deleted: Vec<&RawEntry> = claimed.iter().filter(|e| e.fields.is_none()).collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].id, written[1]);
}

#[tokio::test]
async fn dead_letters_are_copied_with_their_reason_then_acknowledged() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    xadd(&mut conn, 2);
    let mut c = StreamConsumer::connect(config(&redis, "a")).await.unwrap();
    let batch = next_nonempty(&mut c).await;
    let letters: Vec<DeadLetter<'_>> = batch
        .iter()
        .map(|entry| DeadLetter {
            entry,
            reason: DeadLetterReason::Rejected(EntryError::Missing("price")),
        })
        .collect();
    assert_eq!(c.dead_letter(&letters).await.unwrap(), [true, true]);
    assert_eq!(pending(&mut conn), 0);
    let dlq: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(format!("{STREAM}:dlq"))
        .arg("-")
        .arg("+")
        .query(&mut conn)
        .unwrap();
    assert_eq!(dlq.len(), 2);
    let fields = &dlq[0].1;
    let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
    assert_eq!(get("reason"), Some("missing_field"));
    assert_eq!(get("error"), Some("missing field `price`"));
    assert_eq!(get("source_id"), Some(batch[0].id.as_str()));
    assert_eq!(
        get("chain"),
        Some("ethereum"),
        "the original fields are kept"
    );
}

#[tokio::test]
async fn a_refused_dead_letter_copy_leaves_its_entry_pending_and_others_go_through() {
    const OTHER: &str = "stream:other";
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    // A plain string where the first stream's dead-letter stream should be: XADD fails
    // with WRONGTYPE there, and only there.
    let _: () = redis::cmd("SET")
        .arg(format!("{STREAM}:dlq"))
        .arg("in the way")
        .query(&mut conn)
        .unwrap();
    xadd(&mut conn, 1);
    let _: String = redis::cmd("XADD")
        .arg(OTHER)
        .arg("*")
        .arg("chain")
        .arg("bsc")
        .query(&mut conn)
        .unwrap();
    let mut cfg = config(&redis, "a");
    cfg.streams.push(OTHER.into());
    let mut c = StreamConsumer::connect(cfg).await.unwrap();
    let mut batch = Vec::new();
    while batch.len() < 2 {
        batch.extend(next_nonempty(&mut c).await);
    }
    batch.sort_by(|a, b| a.stream.cmp(&b.stream));
    assert_eq!(&*batch[1].stream, STREAM);
    let letters: Vec<DeadLetter<'_>> = batch
        .iter()
        .map(|entry| DeadLetter {
            entry,
            reason: DeadLetterReason::Deleted,
        })
        .collect();
    assert_eq!(c.dead_letter(&letters).await.unwrap(), [true, false]);
    assert_eq!(pending(&mut conn), 1, "never acknowledged without its copy");
    let other_pending: (u64, Option<String>, Option<String>, redis::Value) = redis::cmd("XPENDING")
        .arg(OTHER)
        .arg(GROUP)
        .query(&mut conn)
        .unwrap();
    assert_eq!(other_pending.0, 0, "the accepted copy was acknowledged");
}
