//! Warming failures are logged one line per error kind per interval, naming the chain, the
//! pair and the kind, with the count of lines held back: a Redis outage cannot flood the log.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use pairwarm::cache::{HierarchicalCache, RedisL2, RedisL2Config};
use pairwarm::strategy::StrategyConfig;
use pairwarm::tracker::{CorrelationTracker, TrackerConfig};
use pairwarm::warmer::{CacheWarmer, WarmStatus, WarmerConfig};
use pairwarm_testkit::RedisServer;
use serde_json::Value;

/// A `MakeWriter` that appends every log line to a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_outage_logs_one_line_per_kind_per_interval_with_pair_and_chain() {
    const WARMS: usize = 100;
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut server = RedisServer::start();
    let l2 = RedisL2::connect_lazy(&RedisL2Config::new(server.url())).unwrap();
    let cache = Arc::new(HierarchicalCache::builder().l1_entries(1024).build(l2));
    let tracker = Arc::new(CorrelationTracker::new(TrackerConfig::default()).unwrap());
    let strategy = StrategyConfig::parse("topn", None).unwrap().build();
    let config = WarmerConfig {
        async_warming: false,
        timeout_ms: 20,
        ..WarmerConfig::default()
    };
    let warmer = CacheWarmer::new(cache.clone(), tracker.clone(), strategy, config).unwrap();
    let source_addr = "0x00000000000000000000000000000000005eed00";
    let source = cache
        .interner()
        .intern_str("ethereum", source_addr)
        .unwrap();
    let partner = cache
        .interner()
        .intern_str("ethereum", "0x00000000000000000000000000000000005eed01")
        .unwrap();
    let mut t = 1_000_000;
    for _ in 0..5 {
        tracker.record_price_update(source, t);
        tracker.record_price_update(partner, t + 1);
        t += 5_000;
    }

    server.stop();
    let started = Instant::now();
    for i in 0..WARMS {
        let result = warmer.warm_now(source, t + i as u64).await;
        assert!(
            matches!(result.status, WarmStatus::Failed | WarmStatus::TimedOut),
            "warm {i} against a stopped Redis: {result:?}"
        );
    }
    let elapsed = started.elapsed();
    assert_eq!(warmer.stats().failed_ops, WARMS as u64);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|v: &Value| {
            v["message"] == "cache warming failed (warming degrades, reads and tracking continue)"
        })
        .collect();
    assert!(!lines.is_empty(), "no warning logged:\n{text}");
    // At most one line per kind per 10 s interval that the run spanned.
    let intervals = 1 + elapsed.as_secs() / 10;
    for kind in ["timeout", "l2", "decode"] {
        let n = lines.iter().filter(|l| l["error_kind"] == kind).count() as u64;
        assert!(
            n <= intervals,
            "{n} lines of kind {kind} in {elapsed:?} (at most {intervals}):\n{text}"
        );
    }
    assert!(
        (lines.len() as u64) < WARMS as u64,
        "{} lines for {WARMS} failures: not rate-limited",
        lines.len()
    );
    for line in &lines {
        assert_eq!(line["level"], "WARN", "{line}");
        assert_eq!(line["chain"], "ethereum", "{line}");
        assert_eq!(line["pair"], source_addr, "{line}");
        assert!(
            ["timeout", "l2"].contains(&line["error_kind"].as_str().unwrap_or("")),
            "{line}"
        );
        assert!(
            line["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{line}"
        );
        assert!(line["suppressed"].as_u64().is_some(), "{line}");
    }
    server.restart();
}
