//! `pairwarm feed` writes the original system's entries (signed batch envelopes, the
//! stream trimmed with `MAXLEN ~`) or pairwarm's flat ones (issue 12), checked in Redis
//! entry by entry and then consumed by `pairwarm serve` with the same key.

mod support;

use std::process::Stdio;
use std::time::Duration;

use pairwarm_service::entry::{BadUpdates, EntryFormat, EntryRules, SigningKeys, parse_entry};
use pairwarm_testkit::RedisServer;
use support::*;

const KEY: &str = "feed-test-signing-key";

/// Runs `pairwarm feed --synthetic --count <count> --rate 0 <args>` with the signing key;
/// returns its stderr after asserting success.
fn feed(redis: &RedisServer, stream: &str, count: u64, args: &[&str]) -> String {
    let out = pairwarm()
        .args(["feed", "--synthetic", "--rate", "0", "--quiet"])
        .args(["--count", &count.to_string(), "--stream", stream])
        .args(args)
        .env("REDIS_URL", redis.url())
        .env("STREAM_SIGNING_KEY", KEY)
        .stdin(Stdio::null())
        .output()
        .expect("run pairwarm feed");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "pairwarm feed failed: {err}");
    err
}

fn rules() -> EntryRules {
    EntryRules {
        keys: Some(SigningKeys::new(KEY, None)),
        ..EntryRules::default()
    }
}

/// Parses every entry of `stream` as serve does (signature checked); returns the formats
/// and the number of updates.
fn read_back(conn: &mut redis::Connection, stream: &str) -> (Vec<EntryFormat>, usize) {
    let rules = rules();
    let mut formats = Vec::new();
    let mut updates = Vec::new();
    let mut bad = BadUpdates::default();
    for (id, fields) in xrange(conn, stream) {
        let format = parse_entry(stream, &fields, &rules, &mut updates, &mut bad)
            .unwrap_or_else(|e| panic!("entry {id} of {stream} refused: {e}"));
        formats.push(format);
    }
    assert_eq!(bad, BadUpdates::default(), "no update refused");
    (formats, updates.len())
}

/// The default: the original's batch envelopes of 50 updates, `data` and `sig` only,
/// signed over `<stream>:<data>`; the last envelope holds the remainder.
#[test]
fn feed_writes_the_originals_signed_batch_envelopes_by_default() {
    const STREAM: &str = "stream:price-updates";
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let err = feed(&redis, STREAM, 120, &[]);
    assert!(
        err.contains("fed 120 updates in 3 entries"),
        "feed said: {err}"
    );
    let entries = xrange(&mut conn, STREAM);
    let keys = SigningKeys::new(KEY, None);
    let mut counts = Vec::new();
    for (_, fields) in &entries {
        let names: Vec<&[u8]> = fields.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(names, [b"data".as_slice(), b"sig"], "exactly data and sig");
        let (data, sig) = (&fields[0].1, &fields[1].1);
        assert_eq!(keys.sign(STREAM, data).as_bytes(), sig.as_slice());
        let doc: serde_json::Value = serde_json::from_slice(data).unwrap();
        assert_eq!(doc["type"], "batch");
        let messages = doc["messages"].as_array().unwrap();
        assert_eq!(doc["count"].as_u64(), Some(messages.len() as u64));
        for m in messages {
            for name in [
                "chain",
                "dex",
                "pairKey",
                "pairAddress",
                "price",
                "reserve0",
                "reserve1",
                "timestamp",
                "blockNumber",
            ] {
                assert!(!m[name].is_null(), "{name} missing in {m}");
            }
            assert!(m["reserve0"].is_string() && m["reserve1"].is_string());
        }
        counts.push(messages.len());
    }
    assert_eq!(counts, [50, 50, 20]);
    let (formats, updates) = read_back(&mut conn, STREAM);
    assert_eq!(formats, [EntryFormat::Batch; 3]);
    assert_eq!(updates, 120);

    // `--batch 1`: single-update documents, still signed.
    let err = feed(&redis, "stream:single", 4, &["--batch", "1"]);
    assert!(
        err.contains("fed 4 updates in 4 entries"),
        "feed said: {err}"
    );
    let (formats, updates) = read_back(&mut conn, "stream:single");
    assert_eq!(formats, [EntryFormat::Single; 4]);
    assert_eq!(updates, 4);
}

/// `--format flat` writes one update per entry with a `sig` over its fields; `--maxlen`
/// trims the stream (approximately, as `XADD MAXLEN ~` does) instead of letting it grow.
#[test]
fn feed_writes_signed_flat_entries_and_trims_with_maxlen() {
    const STREAM: &str = "stream:flat";
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let err = feed(
        &redis,
        STREAM,
        2_000,
        &["--format", "flat", "--maxlen", "100"],
    );
    assert!(
        err.contains("fed 2000 updates in 2000 entries"),
        "feed said: {err}"
    );
    let len: u64 = redis::cmd("XLEN").arg(STREAM).query(&mut conn).unwrap();
    // `~` trims whole stream nodes (100 entries each by default): at least MAXLEN kept,
    // far fewer than written.
    assert!((100..400).contains(&len), "XLEN {len} after MAXLEN ~ 100");
    let (formats, updates) = read_back(&mut conn, STREAM);
    assert_eq!(formats, vec![EntryFormat::Flat; len as usize]);
    assert_eq!(updates as u64, len);

    // The default MAXLEN (the original's 100,000) leaves a short stream whole.
    feed(&redis, "stream:short", 300, &["--format", "flat"]);
    let len: u64 = redis::cmd("XLEN")
        .arg("stream:short")
        .query(&mut conn)
        .unwrap();
    assert_eq!(len, 300);
}

/// What feed writes in either format, signed, serve reads with the same key: every update
/// processed, nothing dead-lettered, no signature failure.
#[test]
fn serve_consumes_what_feed_signs_in_both_formats() {
    const STREAM: &str = "stream:price-updates";
    let redis = RedisServer::start();
    feed(&redis, STREAM, 500, &[]);
    feed(&redis, STREAM, 100, &["--format", "flat"]);
    let serve = Serve::start(Some(&redis.url()), &[], &[("STREAM_SIGNING_KEY", KEY)]);
    // 10 envelopes of 50, then 100 flat entries.
    let h = serve.wait_processed(110, Duration::from_secs(60));
    let stream = &h["stream"];
    assert_eq!(stream["deadLettered"].as_u64(), Some(0), "{h:#}");
    assert_eq!(stream["signatureFailures"].as_u64(), Some(0), "{h:#}");
    assert_eq!(stream["badUpdates"].as_u64(), Some(0), "{h:#}");
    assert_eq!(h["detector"]["updates"].as_u64(), Some(600), "{h:#}");
    serve.terminate(Duration::from_secs(15));
}
