//! `pairwarm serve` on a real 3-master Redis Cluster started by the test (issue 13): the
//! serve bar's end-to-end run (every entry processed, nothing pending, every pool's newest
//! price in L2, opportunities published), in pairwarm's flat format and the original's
//! batch envelopes, with the original's key shape spread over all masters; and the opt-in
//! layout of one stream per chain group with hash tags.

mod support;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use pairwarm_service::entry::{BadUpdates, EntryRules, PriceUpdate, parse_entry};
use pairwarm_testkit::RedisCluster;
use redis::ConnectionLike;
use support::*;

const GROUP: &str = "pairwarm";
const OPPORTUNITIES: &str = "stream:opportunities";
const WAIT: Duration = Duration::from_secs(120);

/// `pairwarm feed --synthetic --redis-cluster --rate 0 --maxlen 0 <args>` into `stream`.
fn feed(cluster: &RedisCluster, stream: &str, count: u64, seed: u64, args: &[&str]) {
    let out = pairwarm()
        .args(["feed", "--synthetic", "--redis-cluster", "--rate", "0"])
        .args(["--maxlen", "0", "--quiet", "--stream", stream])
        .args(["--count", &count.to_string(), "--seed", &seed.to_string()])
        .args(args)
        .env("REDIS_URL", cluster.url())
        .stdin(Stdio::null())
        .output()
        .expect("run pairwarm feed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pairwarm feed failed: {err}");
    assert!(err.contains(&format!("fed {count} updates")), "{err}");
}

/// `serve` on the cluster: `REDIS_URL` is the first node, the others further seeds.
fn serve(cluster: &RedisCluster, env: &[(&str, &str)]) -> Serve {
    let seeds = cluster.addresses()[1..].join(",");
    let mut all = vec![
        ("REDIS_CLUSTER", "true"),
        ("REDIS_CLUSTER_NODES", seeds.as_str()),
        // Generous deadlines: a loaded 2-core machine runs three servers here.
        ("WARMING_TIMEOUT_MS", "5000"),
    ];
    all.extend_from_slice(env);
    Serve::start(Some(&cluster.url()), &[], &all)
}

/// Every update of `stream`, in stream order, with the time of its entry id.
fn updates(conn: &mut impl ConnectionLike, stream: &str) -> (usize, Vec<(PriceUpdate, u64)>) {
    let entries = xrange(conn, stream);
    let rules = EntryRules::default();
    let mut out = Vec::new();
    for (id, fields) in &entries {
        let mut parsed = Vec::new();
        let mut bad = BadUpdates::default();
        parse_entry(stream, fields, &rules, &mut parsed, &mut bad)
            .unwrap_or_else(|e| panic!("entry {id}: {e}"));
        let id_ms: u64 = id.split('-').next().unwrap().parse().unwrap();
        out.extend(parsed.into_iter().map(|u| (u, id_ms)));
    }
    (entries.len(), out)
}

/// Per L2 key, the price newer-wins must leave there: the update with the greatest
/// (block, timestamp), the later one on a tie.
fn expected_prices(
    updates: &[(PriceUpdate, u64)],
    key: impl Fn(&PriceUpdate) -> String,
) -> BTreeMap<String, f64> {
    let mut newest: BTreeMap<String, ((u64, u64), f64)> = BTreeMap::new();
    for (u, id_ms) in updates {
        let version = (u.block, u.ts_ms.unwrap_or(*id_ms));
        let slot = newest.entry(key(u)).or_insert((version, u.price));
        if version >= slot.0 {
            *slot = (version, u.price);
        }
    }
    newest.into_iter().map(|(k, (_, p))| (k, p)).collect()
}

/// Asserts every key holds its expected price (one `GET` per key: they span slots).
fn assert_l2_holds(conn: &mut impl ConnectionLike, expected: &BTreeMap<String, f64>) {
    let mut missing = Vec::new();
    for (key, want) in expected {
        let raw: Option<Vec<u8>> = redis::cmd("GET").arg(key).query(conn).unwrap();
        let Some(raw) = raw else {
            missing.push(key.clone());
            continue;
        };
        let stored = pairwarm::cache::codec::decode(key, &raw)
            .unwrap_or_else(|e| panic!("L2 value of {key}: {e}"));
        assert!(
            (stored.price - want).abs() <= want.abs() * 1e-9,
            "{key}: L2 holds {}, the newest update is {want}",
            stored.price
        );
    }
    assert!(
        missing.is_empty(),
        "{} of {} pools have no L2 key, e.g. {:?}",
        missing.len(),
        expected.len(),
        &missing[..missing.len().min(3)]
    );
}

fn xpending(conn: &mut impl ConnectionLike, stream: &str) -> u64 {
    let reply: (u64, redis::Value, redis::Value, redis::Value) = redis::cmd("XPENDING")
        .arg(stream)
        .arg(GROUP)
        .query(conn)
        .unwrap_or_else(|e| panic!("XPENDING {stream}: {e}"));
    reply.0
}

/// The serve bar on a cluster: 10,000 flat entries and 10,000 updates in the original's
/// envelopes of 50 (200 entries) on one stream; all processed and acknowledged, every
/// pool's newest price in L2 under the original's key shape, on all three masters.
#[test]
fn serve_processes_every_entry_on_a_three_master_cluster() {
    const STREAM: &str = "stream:price-updates";
    const FLAT: u64 = 10_000;
    const ENVELOPED: u64 = 10_000;
    const ENTRIES: u64 = FLAT + ENVELOPED / 50;
    let cluster = RedisCluster::start();
    feed(&cluster, STREAM, FLAT, 1, &["--format", "flat"]);
    feed(
        &cluster,
        STREAM,
        ENVELOPED,
        2,
        &["--format", "original", "--batch", "50"],
    );
    let mut conn = cluster.connection();
    let (entries, all) = updates(&mut conn, STREAM);
    assert_eq!(
        (entries as u64, all.len() as u64),
        (ENTRIES, FLAT + ENVELOPED)
    );

    let serve = serve(&cluster, &[]);
    serve.wait_processed(ENTRIES, WAIT);
    let h = serve.wait_warmer_idle();
    let stream = &h["stream"];
    assert_eq!(stream["mode"], "redis", "{h:#}");
    assert_eq!(stream["deadLettered"].as_u64(), Some(0), "{h:#}");
    assert_eq!(stream["badUpdates"].as_u64(), Some(0), "{h:#}");
    assert_eq!(
        h["detector"]["updates"].as_u64(),
        Some(FLAT + ENVELOPED),
        "{h:#}"
    );
    assert_eq!(xpending(&mut conn, STREAM), 0);
    let m = serve.metrics();
    assert_eq!(
        m.sum("arbitrage_stream_entries_processed_total", &[]),
        ENTRIES as f64
    );
    assert_eq!(
        m.sum("arbitrage_price_updates_total", &[]),
        (FLAT + ENVELOPED) as f64
    );
    // Warms read L2 (MGET split per slot by the cluster client) and succeed.
    assert!(m.sum("arbitrage_warming_operations_total", &[]) > 0.0);
    let rate = h["warmer"]["successRate"].as_f64().unwrap_or(0.0);
    assert!((0.99..=1.0).contains(&rate), "warms on the cluster: {h:#}");

    let expected = expected_prices(&all, |u| l2_key(&u.chain, &u.pair.to_string()));
    assert!(expected.len() > 1000, "{} pools", expected.len());
    assert_l2_holds(&mut conn, &expected);
    let per_node = cluster.keys_per_node("cache:l2:price:*");
    assert_eq!(
        per_node.iter().sum::<usize>(),
        expected.len(),
        "{per_node:?}"
    );
    assert!(
        per_node.iter().all(|&n| n * 5 > expected.len()),
        "keys on every master: {per_node:?}"
    );
    let published: u64 = redis::cmd("XLEN")
        .arg(OPPORTUNITIES)
        .query(&mut conn)
        .unwrap();
    assert!(published > 0, "opportunities published on the cluster");
    serve.terminate(Duration::from_secs(15));
    assert_eq!(xpending(&mut conn, STREAM), 0);
}

/// The opt-in layout: two streams hash-tagged by chain group and `{<chain>}` in L2 keys;
/// the consumer reads each stream on its own node (one slot group per read, rotating)
/// and every price lands under its tagged key.
#[test]
fn hash_tagged_streams_and_keys_are_consumed_per_slot() {
    const STREAMS: [&str; 2] = ["stream:price-updates:{a}", "stream:price-updates:{b}"];
    const EACH: u64 = 3_000;
    let cluster = RedisCluster::start();
    for (i, stream) in STREAMS.iter().enumerate() {
        feed(&cluster, stream, EACH, 10 + i as u64, &["--format", "flat"]);
    }
    let serve = serve(
        &cluster,
        &[
            ("PAIRWARM_STREAMS", &STREAMS.join(",")),
            ("REDIS_CLUSTER_HASH_TAGS", "true"),
        ],
    );
    serve.wait_processed(2 * EACH, WAIT);
    let h = serve.wait_warmer_idle();
    assert_eq!(h["stream"]["deadLettered"].as_u64(), Some(0), "{h:#}");
    let mut conn = cluster.connection();
    let mut all = Vec::new();
    for stream in STREAMS {
        assert_eq!(xpending(&mut conn, stream), 0, "{stream}");
        all.extend(updates(&mut conn, stream).1);
    }
    let expected = expected_prices(&all, |u| {
        format!(
            "cache:l2:price:{{{}}}:{}",
            u.chain.to_ascii_lowercase(),
            u.pair.to_string().to_ascii_lowercase()
        )
    });
    assert_l2_holds(&mut conn, &expected);
    // A chain's keys share a slot: as many slots in use as chains.
    let chains: std::collections::BTreeSet<&str> =
        all.iter().map(|(u, _)| u.chain.as_str()).collect();
    let mut slots = std::collections::BTreeSet::new();
    for key in expected.keys() {
        let slot: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut conn)
            .unwrap();
        slots.insert(slot);
    }
    assert_eq!(slots.len(), chains.len(), "{chains:?}");
    serve.terminate(Duration::from_secs(15));
}
