//! The operations kit against the real tools and a running `serve`:
//!
//! - `/metrics`, in Prometheus text 0.0.4 and in OpenMetrics, through `promtool check
//!   metrics`;
//! - a real Prometheus (Debian's `prometheus`, started here on a free loopback port, 1 s
//!   scrapes, our rules file, a temporary storage; stopped on drop) scraping two `serve`s:
//!   every query the seed prints, every alert expression and every dashboard query returns
//!   series; then Redis is stopped and `WarmingErrorRateHigh` and `L2Unreachable` fire.
//!
//! Prometheus loads a copy of `alerts.yml` whose `for:` durations are all `0s` (expressions,
//! labels and annotations unchanged): the rules' real `for:` (1 to 15 min) would make this
//! test take minutes, and `promtool test rules` (`ops_rules.rs`) already checks them.
//!
//! promtool and prometheus come from Debian's `prometheus` package; without them these
//! tests fail and say so.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use pairwarm_service::http::process::PROCESS_METRICS;
use pairwarm_testkit::{PrometheusServer, RedisServer};
use serde_json::Value;
use support::ops::*;
use support::*;

const WAIT: Duration = Duration::from_secs(90);

/// `promtool check metrics` on one exposition: the problems it reports, one per line.
fn promtool_problems(exposition: &str) -> Vec<String> {
    let out = promtool(&["check", "metrics"], Some(exposition));
    let text = output_text(&out);
    assert!(
        !text.contains("error while linting"),
        "promtool could not parse the exposition:\n{text}"
    );
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The one lint the seed's names cannot pass: `warming_duration_ms` and
/// `correlation_tracking_duration_us` are the seed's contract (its dashboards and alerts
/// query them), and promlint wants base units (seconds) spelled out.
fn seed_unit_lints() -> Vec<String> {
    [
        "arbitrage_correlation_tracking_duration_us",
        "arbitrage_warming_duration_ms",
    ]
    .iter()
    .map(|name| format!("{name} metric names should not contain abbreviated units"))
    .collect()
}

#[test]
fn metrics_pass_promtool_check_metrics_in_both_text_formats() {
    let serve = Serve::start(None, &[], &[]);
    wait_for(
        WAIT,
        "warms and tracking samples on /metrics",
        || {
            let m = serve.metrics();
            (m.sum("arbitrage_warming_operations_total", &[]) > 0.0
                && m.sum("arbitrage_correlation_tracking_duration_us_count", &[]) > 0.0)
                .then_some(())
        },
        || serve.ctx(),
    );

    // Prometheus text 0.0.4 (no Accept header).
    let text = serve.get("/metrics");
    assert_eq!(text.status, 200);
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    for name in ["process_resident_memory_bytes", "process_cpu_seconds_total"] {
        assert!(
            text.body.contains(&format!("\n{name} ")),
            "{name} missing:\n{}",
            text.body
        );
    }
    assert!(text.body.contains(r#"cache_level="L1""#), "{}", text.body);
    let mut problems = promtool_problems(&text.body);
    problems.sort();
    assert_eq!(
        problems,
        seed_unit_lints(),
        "promtool check metrics reported more than the seed's unit names"
    );

    // OpenMetrics, as Prometheus asks for it.
    let om = serve.request(
        "GET",
        "/metrics",
        &[("Accept", "application/openmetrics-text;version=1.0.0")],
        None,
    );
    assert_eq!(om.status, 200);
    assert!(
        om.header("content-type")
            .is_some_and(|c| c.starts_with("application/openmetrics-text")),
        "{:?}",
        om.headers
    );
    assert!(om.body.ends_with("# EOF\n"));
    assert_eq!(om.body.matches("# EOF").count(), 1);
    // promtool 2.x parses only the 0.0.4 format: on OpenMetrics it reports each counter's
    // samples (`x_total`) as lacking help, because OpenMetrics writes `# HELP`/`# TYPE` for
    // the family name `x`. Those are accepted only where the family line really is there;
    // anything else fails.
    for problem in promtool_problems(&om.body) {
        if seed_unit_lints().contains(&problem) {
            continue;
        }
        let sample = problem
            .strip_suffix(" no help text")
            .unwrap_or_else(|| panic!("unexpected promtool problem on OpenMetrics: {problem}"));
        let family = sample
            .strip_suffix("_total")
            .unwrap_or_else(|| panic!("{sample} lacks help but is not a counter sample"));
        assert!(
            om.body.contains(&format!("# TYPE {family} counter\n"))
                && om.body.contains(&format!("# HELP {family} ")),
            "{sample}: no counter family {family} with help in\n{}",
            om.body
        );
    }
    serve.terminate(Duration::from_secs(15));
}

/// `/api/v1/...` of the test Prometheus, `data` of a `success` answer.
fn api(prom: &PrometheusServer, path: &str) -> Value {
    let (status, body) = prom.get(path).unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let v: Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"));
    assert!(
        status == 200 && v["status"] == "success",
        "GET {path}: {status} {body}"
    );
    v["data"].clone()
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A label set of the HTTP API (`{"name": "value", ...}`) as a map.
fn label_map(labels: &Value) -> BTreeMap<String, String> {
    labels
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// An instant query: `(labels, value)` of each series.
fn query(prom: &PrometheusServer, q: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    let data = api(prom, &format!("/api/v1/query?query={}", encode(q)));
    assert_eq!(data["resultType"], "vector", "{q}: {data}");
    data["result"]
        .as_array()
        .expect("result")
        .iter()
        .map(|s| {
            let labels = label_map(&s["metric"]);
            let value = s["value"][1]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN);
            (labels, value)
        })
        .collect()
}

/// `(name, state, labels)` of the alerts Prometheus holds now.
fn alerts(prom: &PrometheusServer) -> Vec<(String, String, BTreeMap<String, String>)> {
    api(prom, "/api/v1/alerts")["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| {
            let labels = label_map(&a["labels"]);
            (
                labels.get("alertname").cloned().unwrap_or_default(),
                a["state"].as_str().unwrap_or_default().to_owned(),
                labels,
            )
        })
        .collect()
}

/// What is still missing: each check that does not hold yet, with what it saw.
fn missing(prom: &PrometheusServer, checks: &[(String, String, bool)]) -> Vec<String> {
    checks
        .iter()
        .filter_map(|(what, q, need_finite)| {
            let result = query(prom, q);
            let ok = if *need_finite {
                result.iter().any(|(_, v)| v.is_finite())
            } else {
                !result.is_empty()
            };
            (!ok).then(|| format!("{what}: {q}\n    -> {result:?}"))
        })
        .collect()
}

#[test]
fn prometheus_scrapes_serve_runs_every_query_and_alerts_fire_when_l2_goes_away() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    // A: the Redis Streams consumer (stream lag, dead letters), in shadow mode (the
    // would-have-hit panel), fed by `pairwarm feed` at 2,000 updates/s.
    let a = Serve::start(
        Some(&url),
        &[],
        &[("CACHE_L1_SIZE", "1"), ("WARMING_SHADOW_MODE", "true")],
    );
    let mut feed_cmd = pairwarm();
    feed_cmd
        .args(["feed", "--synthetic", "--quiet"])
        .args(["--count", "1000000", "--rate", "2000"])
        .env("REDIS_URL", &url);
    let _feed = Proc::spawn(feed_cmd);
    // B: warming for real on the synthetic feed, L2 in the same Redis. A generous warm
    // deadline so a loaded machine makes no timeouts before the outage.
    let b = Serve::start(
        Some(&url),
        &["--feed", "synthetic", "--rate", "2000"],
        &[("CACHE_L1_SIZE", "1"), ("WARMING_TIMEOUT_MS", "1000")],
    );

    let rules = repo_file("deploy/prometheus/alerts.yml");
    let rules_for_0s: String = rules
        .lines()
        .map(|line| match line.trim_start().strip_prefix("for: ") {
            Some(_) => format!("{}for: 0s", &line[..line.len() - line.trim_start().len()]),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        alert_rules_of(&rules_for_0s)
            .iter()
            .map(|r| (r.alert.clone(), normalise(&r.expr)))
            .collect::<Vec<_>>(),
        alert_rules()
            .iter()
            .map(|r| (r.alert.clone(), normalise(&r.expr)))
            .collect::<Vec<_>>(),
        "the 0s copy keeps every expression"
    );
    let targets = format!("['{}', '{}']", a.addr, b.addr);
    let config = format!(
        "global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [alerts_for_0s.yml]
scrape_configs:
  # Prometheus asks for OpenMetrics first; serve answers in it.
  - job_name: pairwarm
    static_configs:
      - targets: {targets}
  # The 0.0.4 text format through Prometheus' own parser; samples dropped after parsing
  # (up and scrape_samples_scraped remain), so queries see each series once.
  - job_name: pairwarm_text
    params:
      format: [prometheus]
    static_configs:
      - targets: {targets}
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: '.+'
        action: drop
"
    );
    let prom = PrometheusServer::start(&config, &[("alerts_for_0s.yml", &rules_for_0s)]);
    let ctx = || format!("{}\n{}\nprometheus log:\n{}", a.ctx(), b.ctx(), prom.log());

    // Both formats scrape cleanly from both serves.
    wait_for(
        WAIT,
        "4 healthy targets",
        || {
            let t = api(&prom, "/api/v1/targets");
            let active = t["activeTargets"].as_array()?.clone();
            // A scrape that failed (an exposition Prometheus cannot parse) fails the test
            // at once; targets not scraped yet are waited for.
            for target in &active {
                assert_eq!(
                    target["lastError"],
                    "",
                    "scrape failed: {target}\n{}",
                    prom.log()
                );
            }
            (active.len() == 4 && active.iter().all(|t| t["health"] == "up")).then_some(())
        },
        ctx,
    );
    // The `pairwarm` job stored counter metadata under the family name without `_total`:
    // what the OpenMetrics parser does (the text parser keeps `_total`).
    let meta = api(
        &prom,
        "/api/v1/targets/metadata?match_target=%7Bjob%3D%22pairwarm%22%7D&metric=arbitrage_warming_operations",
    );
    assert!(
        meta.as_array()
            .is_some_and(|m| !m.is_empty() && m.iter().all(|e| e["type"] == "counter")),
        "no OpenMetrics counter metadata: {meta}"
    );
    let samples = |job: &str| {
        query(&prom, &format!("scrape_samples_scraped{{job=\"{job}\"}}"))
            .iter()
            .map(|(_, v)| *v)
            .sum::<f64>()
    };
    assert!(
        samples("pairwarm_text") > 100.0,
        "{}",
        samples("pairwarm_text")
    );

    // Every query the seed prints, every alert expression (its comparison made `bool`, so
    // it returns its series firing or not), every dashboard query.
    let mut checks: Vec<(String, String, bool)> = Vec::new();
    for (what, q) in SEED_QUERIES {
        checks.push((format!("seed query {what}"), q.to_owned(), true));
    }
    for rule in alert_rules() {
        checks.push((
            format!("alert {}", rule.alert),
            with_bool(&rule.expr),
            false,
        ));
    }
    for (title, q) in dashboard_queries() {
        checks.push((format!("panel {title:?}"), q, true));
    }
    for name in PROCESS_METRICS {
        checks.push((format!("process metric {name}"), name.to_owned(), true));
    }
    let started = Instant::now();
    let mut left = Vec::new();
    while started.elapsed() < WAIT {
        left = missing(&prom, &checks);
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(
        left.is_empty(),
        "after {WAIT:?} these return no series (or only NaN):\n{}\n{}",
        left.join("\n"),
        ctx()
    );
    // The seed's L1 query selects the upper-case level.
    let l1 = query(&prom, SEED_QUERIES[1].1);
    assert!(
        l1.iter().all(
            |(l, v)| l.get("cache_level").map(String::as_str) == Some("L1")
                && (0.0..=1.0).contains(v)
                || v.is_nan()
        ),
        "{l1:?}"
    );
    let firing = |name: &str| {
        alerts(&prom)
            .into_iter()
            .filter(|(n, state, _)| n == name && state == "firing")
            .map(|(_, _, labels)| labels)
            .collect::<Vec<_>>()
    };
    let b_instance = b.addr.to_string();
    let b_total = |metric: &str| {
        query(
            &prom,
            &format!("sum({metric}{{instance=\"{b_instance}\",job=\"pairwarm\"}})"),
        )
        .first()
        .map_or(0.0, |(_, v)| *v)
    };
    // Before the outage B's warms succeed. (A warm can still time out on a starved test
    // machine, so a few errors are tolerated; the outage must add many.)
    let ops_before = b_total("arbitrage_warming_operations_total");
    let errors_before = b_total("arbitrage_warming_errors_total");
    assert!(ops_before > 100.0, "B warmed {ops_before} times\n{}", ctx());
    assert!(
        errors_before <= ops_before * 0.01,
        "{errors_before} of {ops_before} warms failed before the outage\n{}",
        ctx()
    );

    // L2 goes away: B's warms fail (they time out waiting for a reconnect), the seed's
    // WarmingErrorRateHigh fires, and L2Unreachable fires for both serves.
    redis.stop();
    let error_alert = wait_for(
        WAIT,
        "WarmingErrorRateHigh firing for serve B after 20 new warm errors",
        || {
            if b_total("arbitrage_warming_errors_total") < errors_before + 20.0 {
                return None;
            }
            firing("WarmingErrorRateHigh")
                .into_iter()
                .find(|l| l.get("instance") == Some(&b_instance))
        },
        ctx,
    );
    assert_eq!(error_alert.get("status").map(String::as_str), Some("error"));
    assert_eq!(
        error_alert.get("severity").map(String::as_str),
        Some("warning")
    );
    wait_for(
        WAIT,
        "L2Unreachable firing for both serves",
        || (firing("L2Unreachable").len() == 2).then_some(()),
        ctx,
    );
    // Prometheus, both serves, the feed and Redis are stopped on drop.
}
