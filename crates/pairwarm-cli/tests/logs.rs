//! `pairwarm serve`'s logs: `--log-format json` writes one JSON object per stderr line,
//! `RUST_LOG` filters levels, and a Redis outage is logged one warning per error kind per
//! 10 s — naming the chain, the pair and the kind, with the count held back — not one per
//! failure.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use pairwarm_testkit::RedisServer;
use serde_json::Value;
use support::*;

const WAIT: Duration = Duration::from_secs(60);

fn json_lines(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("stderr line is not JSON ({e}): {l}"))
        })
        .collect()
}

#[test]
fn json_format_writes_one_object_per_line() {
    let serve = Serve::start(
        None,
        &["--log-format", "json", "--status-interval", "200ms"],
        &[],
    );
    wait_for(
        WAIT,
        "three status lines",
        || {
            let lines = json_lines(&serve.proc.stderr());
            (lines
                .iter()
                .filter(|l| {
                    l["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("updates/s"))
                })
                .count()
                >= 3)
                .then_some(())
        },
        || serve.ctx(),
    );
    let stderr = serve.terminate(Duration::from_secs(15));
    let lines = json_lines(&stderr);
    assert!(lines.len() >= 4, "{stderr}");
    for line in &lines {
        for key in ["timestamp", "level", "target", "message"] {
            assert!(line[key].is_string(), "{key} missing: {line}");
        }
    }
    assert!(
        lines[0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("pairwarm serve: embedded default")),
        "the banner is a JSON line too: {}",
        lines[0]
    );
}

#[test]
fn rust_log_filters_levels() {
    let serve = Serve::start(
        None,
        &["--status-interval", "100ms"],
        &[("RUST_LOG", "warn")],
    );
    // The synthetic feed runs: updates flow while the status line stays silent.
    wait_for(
        WAIT,
        "5,000 updates",
        || (serve.metrics().sum("arbitrage_price_updates_total", &[]) >= 5_000.0).then_some(()),
        || serve.ctx(),
    );
    let stderr = serve.terminate(Duration::from_secs(15));
    assert!(
        !stderr.contains("INFO"),
        "RUST_LOG=warn let info through:\n{stderr}"
    );
    assert!(!stderr.contains("updates/s"), "{stderr}");
}

#[test]
fn a_redis_outage_is_logged_once_per_kind_per_interval() {
    let mut redis = RedisServer::start();
    let serve = Serve::start(
        Some(&redis.url()),
        &[
            "--feed",
            "synthetic",
            "--rate",
            "2000",
            "--log-format",
            "json",
        ],
        &[("CACHE_L1_SIZE", "1")],
    );
    wait_for(
        WAIT,
        "warms",
        || {
            (serve
                .metrics()
                .sum("arbitrage_warming_operations_total", &[])
                > 100.0)
                .then_some(())
        },
        || serve.ctx(),
    );
    let errors = |serve: &Serve| serve.metrics().sum("arbitrage_warming_errors_total", &[]);
    let errors_before = errors(&serve);
    let batches_before = serve.metrics().sum("arbitrage_price_updates_total", &[]);
    let logged_before = json_lines(&serve.proc.stderr()).len();

    redis.stop();
    let stopped = Instant::now();
    // Fail for a while: many warms, many batches written through.
    wait_for(
        WAIT,
        "20 failed warms and 3 s of outage",
        || {
            (errors(&serve) >= errors_before + 20.0 && stopped.elapsed() >= Duration::from_secs(3))
                .then_some(())
        },
        || serve.ctx(),
    );
    let failed_warms = errors(&serve) - errors_before;
    let updates = serve.metrics().sum("arbitrage_price_updates_total", &[]) - batches_before;
    let elapsed = stopped.elapsed();
    let lines = json_lines(&serve.proc.stderr());
    let warnings: Vec<&Value> = lines[logged_before..]
        .iter()
        .filter(|l| l["error_kind"].is_string())
        .collect();
    assert!(!warnings.is_empty(), "no failure logged:\n{}", serve.ctx());

    let mut per_kind: BTreeMap<&str, u64> = BTreeMap::new();
    for w in &warnings {
        assert_eq!(w["level"], "WARN", "{w}");
        let kind = w["error_kind"].as_str().unwrap_or_default();
        assert!(
            ["timeout", "l2", "decode", "l2_write", "l2_read"].contains(&kind),
            "{w}"
        );
        *per_kind.entry(kind).or_default() += 1;
        let pair = w["pair"].as_str().unwrap_or_default();
        assert!(
            pair.len() == 42 && pair.starts_with("0x"),
            "a pool address: {w}"
        );
        assert!(w["chain"].as_str().is_some_and(|c| !c.is_empty()), "{w}");
        assert!(w["suppressed"].is_u64(), "{w}");
        assert!(w["error"].as_str().is_some_and(|e| !e.is_empty()), "{w}");
    }
    // At most one line per kind per 10 s interval the outage spanned (the first of each
    // kind is written at once).
    let intervals = 1 + elapsed.as_secs() / 10;
    for (kind, n) in &per_kind {
        assert!(
            *n <= intervals,
            "{n} {kind} lines in {elapsed:?}: {per_kind:?}\n{}",
            serve.ctx()
        );
    }
    assert!(
        per_kind.contains_key("timeout") || per_kind.contains_key("l2"),
        "the failed warms are logged: {per_kind:?}"
    );
    assert!(
        (warnings.len() as f64) < failed_warms,
        "{} lines for {failed_warms} failed warms (and {updates} updates written through)",
        warnings.len()
    );
}
