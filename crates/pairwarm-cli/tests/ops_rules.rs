//! The operations kit, statically: `deploy/prometheus/alerts.yml` passes `promtool check
//! rules` and its unit tests (`promtool test rules`), keeps the seed's four rules verbatim,
//! tests every rule firing and silent; every query of `deploy/grafana/pairwarm.json` passes
//! promtool; and rules and dashboard name only metrics pairwarm exports. (That they select
//! series from a running `serve` is `ops_prometheus.rs`.)
//!
//! promtool comes from Debian's `prometheus` package; without it these tests fail and say so.

mod support;

use std::collections::BTreeSet;

use pairwarm::metrics::{MetricKind, spec};
use pairwarm_service::http::process::PROCESS_METRICS;
use support::ops::*;

#[test]
fn alert_rules_pass_promtool_check_rules() {
    let out = promtool(&["check", "rules", "deploy/prometheus/alerts.yml"], None);
    let text = output_text(&out);
    assert!(out.status.success(), "promtool check rules failed:\n{text}");
    let rules = alert_rules();
    assert_eq!(rules.len(), 9, "{rules:#?}");
    assert!(
        text.contains(&format!("SUCCESS: {} rules found", rules.len())),
        "{text}"
    );
}

#[test]
fn alert_unit_tests_pass_promtool_test_rules() {
    let out = promtool(
        &["test", "rules", "deploy/prometheus/alerts_test.yml"],
        None,
    );
    let text = output_text(&out);
    assert!(out.status.success(), "promtool test rules failed:\n{text}");
    assert!(text.contains("SUCCESS"), "{text}");
}

#[test]
fn the_seed_alerts_are_kept_verbatim() {
    let rules = alert_rules();
    for (name, expr, for_, severity, summary) in SEED_ALERTS {
        let rule = rules
            .iter()
            .find(|r| r.alert == name)
            .unwrap_or_else(|| panic!("seed alert {name} missing"));
        assert_eq!(rule.group, "warming_infrastructure", "{name}");
        assert_eq!(normalise(&rule.expr), normalise(expr), "{name}");
        assert_eq!(rule.for_.as_deref(), Some(for_), "{name}");
        assert_eq!(
            rule.labels.get("severity").map(String::as_str),
            Some(severity)
        );
        assert_eq!(
            rule.annotations.get("summary").map(String::as_str),
            Some(summary)
        );
    }
    // Besides them: lag growing, dead letters, L2 unreachable, warming switched off,
    // tracker at capacity.
    let extra: BTreeSet<&str> = rules
        .iter()
        .filter(|r| r.group == "pairwarm_service")
        .map(|r| r.alert.as_str())
        .collect();
    assert_eq!(
        extra,
        BTreeSet::from([
            "CorrelationTrackerAtCapacity",
            "L2Unreachable",
            "StreamConsumerLagGrowing",
            "StreamDeadLettersAppearing",
            "WarmingDisabled",
        ])
    );
}

#[test]
fn every_alert_has_a_unit_test_firing_and_one_silent() {
    let tests = yaml(
        &repo_file("deploy/prometheus/alerts_test.yml"),
        "alerts_test.yml",
    );
    let mut fired = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for case in tests["tests"].as_vec().expect("tests") {
        for check in case["alert_rule_test"].as_vec().into_iter().flatten() {
            let name = check["alertname"].as_str().expect("alertname").to_owned();
            match check["exp_alerts"].as_vec() {
                Some(alerts) if !alerts.is_empty() => fired.insert(name),
                _ => silent.insert(name),
            };
        }
    }
    for rule in alert_rules() {
        assert!(fired.contains(&rule.alert), "no test fires {}", rule.alert);
        assert!(
            silent.contains(&rule.alert),
            "no test shows {} silent",
            rule.alert
        );
        // Every rule is `<value> <op> <threshold>` (the live test relies on it).
        top_level_comparison(&rule.expr);
        assert!(rule.annotations.contains_key("summary"), "{}", rule.alert);
        assert!(rule.labels.contains_key("severity"), "{}", rule.alert);
    }
}

#[test]
fn dashboard_queries_pass_promtool_check_rules() {
    let queries = dashboard_queries();
    assert!(queries.len() >= 30, "{} queries", queries.len());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dashboard_rules.yml");
    std::fs::write(&path, recording_rules(&queries)).unwrap();
    let out = promtool(&["check", "rules", path.to_str().unwrap()], None);
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "a dashboard query is not valid PromQL:\n{text}"
    );
    assert!(
        text.contains(&format!("SUCCESS: {} rules found", queries.len())),
        "{text}"
    );
}

/// The exported series names: prefixed metric names (histograms with their `_bucket`,
/// `_sum`, `_count` series) and the process metrics.
fn exported_series() -> BTreeSet<String> {
    let mut out: BTreeSet<String> = PROCESS_METRICS.iter().map(|s| s.to_string()).collect();
    for s in spec::ALL_METRICS {
        let name = format!("arbitrage_{}", s.name);
        if s.kind == MetricKind::Histogram {
            for suffix in ["_bucket", "_sum", "_count"] {
                out.insert(format!("{name}{suffix}"));
            }
        } else {
            out.insert(name);
        }
    }
    out
}

/// Metric names an expression selects (identifiers starting `arbitrage_` or `process_`).
fn referenced(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &expr[i..];
        let starts_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if starts_word && (rest.starts_with("arbitrage_") || rest.starts_with("process_")) {
            let len = rest
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            out.insert(rest[..len].to_owned());
            i += len;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn rules_and_dashboard_select_only_exported_metrics() {
    let exported = exported_series();
    let mut used = BTreeSet::new();
    let sources = alert_rules()
        .into_iter()
        .map(|r| (format!("alert {}", r.alert), r.expr))
        .chain(
            dashboard_queries()
                .into_iter()
                .map(|(t, e)| (format!("panel {t:?}"), e)),
        );
    for (what, expr) in sources {
        let names = referenced(&expr);
        assert!(
            !names.is_empty(),
            "{what} selects no pairwarm metric: {expr}"
        );
        for name in names {
            assert!(
                exported.contains(&name),
                "{what} uses {name}, which pairwarm does not export"
            );
            used.insert(name);
        }
    }
    // The dashboard shows what the issue lists.
    for needed in [
        "arbitrage_cache_hits_total",
        "arbitrage_warming_duration_ms_bucket",
        "arbitrage_correlation_tracking_duration_us_bucket",
        "arbitrage_warming_pairs_warmed_total",
        "arbitrage_warming_operations_total",
        "arbitrage_warming_pending_operations",
        "arbitrage_stream_consumer_lag",
        "arbitrage_warming_shadow_hits_total",
        "process_resident_memory_bytes",
    ] {
        assert!(used.contains(needed), "nothing shows {needed}");
    }
}

#[test]
fn every_alert_is_paired_with_a_dashboard_panel() {
    let panels = dashboard_panels();
    let names: BTreeSet<String> = alert_rules().into_iter().map(|r| r.alert).collect();
    for (title, description) in &panels {
        assert!(
            !description.is_empty(),
            "panel {title:?} has no description"
        );
        if let Some((_, after)) = description.split_once("Alert: ") {
            let named: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(
                names.contains(&named),
                "panel {title:?} names alert {named:?}, which alerts.yml lacks"
            );
        }
    }
    for name in &names {
        assert!(
            panels
                .iter()
                .any(|(_, d)| d.contains(&format!("Alert: {name}"))),
            "no panel pairs with {name}"
        );
    }
}

#[test]
fn the_comparison_finder_ignores_matchers_and_nesting() {
    let expr = r#"rate(a{status="error",x!="y",z=~"w"}[5m]) / (rate(b[5m]) > 0) >= 0.5"#;
    let (at, len) = top_level_comparison(expr);
    assert_eq!(&expr[at..at + len], ">=");
    assert_eq!(
        with_bool(expr),
        r#"rate(a{status="error",x!="y",z=~"w"}[5m]) / (rate(b[5m]) > 0) >= bool  0.5"#
    );
    assert_eq!(
        value_side(expr),
        r#"rate(a{status="error",x!="y",z=~"w"}[5m]) / (rate(b[5m]) > 0)"#
    );
    assert_eq!(
        referenced("sum(arbitrage_x_total) / process_open_fds + xarbitrage_no"),
        BTreeSet::from([
            "arbitrage_x_total".to_owned(),
            "process_open_fds".to_owned()
        ])
    );
}
