//! Bounded under hostile input, on the real binary: entries with a 1 MiB field are read
//! a few at a time (the read's byte budget), dead-lettered as `too_large` with a bounded
//! prefix of the big field, and serve's peak memory stays small; valid entries around them
//! go through. (Entries above `PAIRWARM_MAX_ENTRY_BYTES` are not even read whole: see the
//! consumer tests.) Implausible timestamps are dead-lettered and leave the tracker alone.

mod support;

use std::time::Duration;

use pairwarm_testkit::RedisServer;
use support::*;

const STREAM: &str = "stream:price-updates";
const DLQ: &str = "stream:price-updates:dlq";
const GROUP: &str = "pairwarm";
const WAIT: Duration = Duration::from_secs(120);

/// `VmHWM` (peak resident set) of a process, bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status");
    kb * 1024
}

#[test]
fn entries_with_a_1_mib_field_are_dead_lettered_in_bounded_memory() {
    // Read whole (below PAIRWARM_MAX_ENTRY_BYTES), a few per read.
    hostile_run(&[], "price=1048576,", 1000);
}

#[test]
fn entries_above_the_entry_limit_are_read_cut_and_dead_lettered() {
    // Above it: the read script hands over 64-byte prefixes and the size only.
    hostile_run(&[("PAIRWARM_MAX_ENTRY_BYTES", "4096")], "entry=", 64);
}

/// 300 entries whose `price` is 1 MiB of digits among 100 valid ones; `note` starts the
/// dead letters' `truncated` field, `prefix` is the least of the price each keeps.
fn hostile_run(env: &[(&str, &str)], note: &str, prefix: usize) {
    const HOSTILE: u32 = 300;
    const VALID: u32 = 100;
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    create_group(&mut conn, STREAM, GROUP);
    let blob = vec![b'7'; 1 << 20];
    for i in 0..HOSTILE {
        let mut fields = valid_entry("ethereum", i);
        fields[2].1 = blob.clone(); // price: 1 MiB of digits
        xadd(&mut conn, STREAM, &as_refs(&fields));
        if i % 3 == 0 {
            xadd(
                &mut conn,
                STREAM,
                &as_refs(&valid_entry("ethereum", 10_000 + i)),
            );
        }
    }
    let serve = Serve::start(Some(&redis.url()), &["--consumer", "one"], env);
    let pid = serve.proc.pid();
    let health = serve.wait_processed(u64::from(HOSTILE + VALID), WAIT);
    assert_eq!(health["stream"]["deadLettered"], HOSTILE, "{health:#}");
    assert_eq!(
        serve.get("/ready").status,
        200,
        "serve is up: {}",
        serve.ctx()
    );
    let peak = peak_rss(pid);
    eprintln!(
        "peak RSS of serve with {HOSTILE} entries of 1 MiB ({env:?}): {:.1} MiB",
        peak as f64 / f64::from(1 << 20)
    );
    assert!(peak < 200 << 20, "peak RSS {peak} bytes");

    let letters = xrange(&mut conn, DLQ);
    assert_eq!(letters.len(), HOSTILE as usize);
    for (_, fields) in &letters {
        let field = |name: &[u8]| {
            fields
                .iter()
                .find(|(k, _)| k.as_slice() == name)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        assert_eq!(field(b"reason").as_deref(), Some("too_large"));
        // The copy keeps a prefix of the price within the per-copy bound (128 MiB over
        // 10,000 entries by default) and notes the sizes of what it left out.
        let truncated = field(b"truncated").expect("a truncated note");
        assert!(truncated.starts_with(note), "{truncated}");
        let bytes: usize = fields.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert!(bytes < 16 * 1024, "a dead letter of {bytes} bytes");
        assert!(field(b"price").is_some_and(|p| p.len() >= prefix && p.starts_with("7777")));
    }
    assert_eq!(xpending_total(&mut conn, STREAM, GROUP), 0);
    let (_, missing) = l2_keys_missing(&mut conn, STREAM);
    // Only the valid entries' pools are expected in L2.
    assert_eq!(missing, HOSTILE as usize, "every valid pool is in L2");
    serve.terminate(Duration::from_secs(15));
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Feeds one entry stamped `future_ms` and one stamped in seconds, then a synthetic feed
/// (stamped at receipt); returns the tracker's `avgCorrelationScore` at the end and the
/// dead-letter reasons.
fn future_run(future_ms: u64, env: &[(&str, &str)]) -> (f64, Vec<String>) {
    const N: u64 = 4_000;
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    create_group(&mut conn, STREAM, GROUP);
    let mut future = valid_entry("ethereum", 1);
    future.push((b"ts_ms".to_vec(), future_ms.to_string().into_bytes()));
    xadd(&mut conn, STREAM, &as_refs(&future));
    let mut seconds = valid_entry("ethereum", 2);
    seconds.push((
        b"ts_ms".to_vec(),
        (now_ms() / 1000).to_string().into_bytes(),
    ));
    xadd(&mut conn, STREAM, &as_refs(&seconds));
    feed_synthetic(&redis.url(), STREAM, N, 41);
    let serve = Serve::start(Some(&redis.url()), &["--consumer", "one"], env);
    let health = serve.wait_processed(N + 2, WAIT);
    let score = health["tracker"]["avgCorrelationScore"]
        .as_f64()
        .expect("avgCorrelationScore");
    let reasons = xrange(&mut conn, DLQ)
        .into_iter()
        .filter_map(|(_, fields)| {
            fields
                .iter()
                .find(|(k, _)| k.as_slice() == b"reason")
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        })
        .collect();
    serve.terminate(Duration::from_secs(15));
    (score, reasons)
}

#[test]
fn a_year_3000_timestamp_is_dead_lettered_and_does_not_poison_the_tracker() {
    let (score, reasons) = future_run(32_503_680_000_000, &[]);
    assert_eq!(reasons, ["timestamp_out_of_window", "timestamp_unit"]);
    assert!(score > 0.0, "avgCorrelationScore {score}");
    // A time 20 h ahead let in by a 24 h window poisons the tracker: the check above is
    // what keeps it sane.
    let (poisoned, reasons) = future_run(
        now_ms() + 20 * 3_600_000,
        &[("PAIRWARM_TIMESTAMP_MAX_AHEAD", "24h")],
    );
    assert_eq!(reasons, ["timestamp_unit"]);
    eprintln!("avgCorrelationScore: {score} with the window, {poisoned} without");
    assert!(poisoned < score / 10.0, "{poisoned} vs {score}");
}
