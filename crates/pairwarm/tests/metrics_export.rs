//! The exported metric contract: names, labels, types and values, read back with a real
//! Prometheus/OpenMetrics text parser (openmetrics-parser), plus the JSON shape.

use std::collections::HashMap;
use std::time::Duration;

use openmetrics_parser::{
    MetricFamily, MetricsExposition, OpenMetricsType, OpenMetricsValue, PrometheusType,
    PrometheusValue, RenderableMetricValue,
};
use pairwarm::cache::ChainCacheStats;
use pairwarm::metrics::{
    CacheLevel, DeadLetterReason, ExportFormat, MetricKind, MetricsError, WarmErrorKind,
    WarmOutcome, WarmingMetrics, spec,
};
use pairwarm::pair::PairInterner;
use pairwarm::tracker::TrackerStats;

type Labels = HashMap<String, String>;

/// Every sample of a family as (labels, value).
fn samples<T, V>(family: &MetricFamily<T, V>) -> Vec<(Labels, V)>
where
    T: Clone,
    V: RenderableMetricValue + Clone,
{
    family
        .iter_samples()
        .map(|s| {
            let labels = s
                .get_labelset()
                .map(|set| set.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            (labels, s.value.clone())
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn prom_value(
    exposition: &MetricsExposition<PrometheusType, PrometheusValue>,
    family: &str,
    want: &[(&str, &str)],
) -> f64 {
    let fam = exposition
        .families
        .get(family)
        .unwrap_or_else(|| panic!("family {family} missing"));
    let want = labels(want);
    let (_, value) = samples(fam)
        .into_iter()
        .find(|(l, _)| *l == want)
        .unwrap_or_else(|| panic!("{family}{want:?} missing"));
    match value {
        PrometheusValue::Counter(c) => c.value.as_f64(),
        PrometheusValue::Gauge(g) | PrometheusValue::Unknown(g) => g.as_f64(),
        other => panic!("{family} is not a scalar: {other:?}"),
    }
}

/// A metric set with known values on two chains.
fn populated(prefix: &str) -> WarmingMetrics {
    let interner = PairInterner::new(100);
    let eth = interner.chain_id("ethereum").unwrap();
    let bsc = interner.chain_id("bsc").unwrap();
    let m = WarmingMetrics::new(prefix).unwrap();

    let e = m.chain(eth, "ethereum");
    e.record_warm(WarmOutcome::Success, 3, Duration::from_micros(200)); // 0.2 ms
    e.record_warm(WarmOutcome::Success, 2, Duration::from_millis(7)); // 7 ms
    e.record_warm(WarmOutcome::Timeout, 0, Duration::from_millis(60)); // 60 ms
    e.record_warm(
        WarmOutcome::Error(WarmErrorKind::L2),
        1,
        Duration::from_millis(2),
    );
    e.debounced.inc_by(4);
    e.dropped.inc();
    e.price_updates.inc_by(10);
    e.opportunities.inc_by(2);
    e.shadow_predictions.inc_by(5);
    e.shadow_hits.inc_by(3);
    e.set_pairs_tracked(42);
    e.tracking_duration.observe(0.08);
    e.tracking_duration.observe(0.3);

    m.record_warm(
        bsc,
        "bsc",
        WarmOutcome::Success,
        1,
        Duration::from_millis(1),
    );
    m.set_pending(7);
    m.set_cache_entries(CacheLevel::L1, 1234);
    m.set_cache_size_bytes(CacheLevel::L1, 86_380);
    m.sync_cache(&[ChainCacheStats {
        chain: "ethereum".into(),
        l1_hits: 90,
        l1_misses: 10,
        l2_hits: 8,
        l2_misses: 2,
    }]);
    let s = m.stream();
    s.entries_processed.inc_by(100);
    s.dead_letter(DeadLetterReason::Malformed).inc();
    s.set_consumer_lag(12);
    m.stream_dead_letter_reason("bad_json").inc();
    m.stream_bad_updates("bad_address").inc_by(2);
    m.stream_signature_failures("unsigned").inc();
    m.set_l2_reachable(false);
    m.set_rollout(false, true);
    m.sync_tracker(&TrackerStats {
        capacity: 5_000,
        evictions: 17,
        ..TrackerStats::default()
    });
    m.l2_write_failures().inc_by(3);
    let coherence = |invalidations, resets| pairwarm::cache::CoherenceStats {
        live: true,
        invalidations,
        dropped: 5,
        refetched: 4,
        resets,
    };
    // Synced twice: counters advance by the increase, never count a value twice.
    m.sync_coherence(&coherence(6, 1));
    m.sync_coherence(&coherence(9, 1));
    m
}

#[test]
fn prometheus_text_parses_back_with_names_labels_types_and_values() {
    let m = populated("arbitrage_");
    let text = m.encode_prometheus().unwrap();
    let exp = openmetrics_parser::prometheus::parse_prometheus(&text)
        .unwrap_or_else(|e| panic!("unparsable: {e:?}\n{text}"));

    // Every metric of the contract is present (all have a series here) with its type.
    for spec in spec::ALL_METRICS {
        let name = format!("arbitrage_{}", spec.name);
        let family = exp
            .families
            .get(&name)
            .unwrap_or_else(|| panic!("{name} missing from\n{text}"));
        let expected = match spec.kind {
            MetricKind::Counter => PrometheusType::Counter,
            MetricKind::Gauge => PrometheusType::Gauge,
            MetricKind::Histogram => PrometheusType::Histogram,
        };
        assert_eq!(family.family_type, expected, "{name}");
        let mut names: Vec<_> = family.get_label_names().to_vec();
        names.sort();
        let mut want: Vec<_> = spec.labels.iter().map(|l| l.to_string()).collect();
        want.sort();
        assert_eq!(names, want, "labels of {name}");
    }
    assert_eq!(exp.families.len(), spec::ALL_METRICS.len());

    let ops = "arbitrage_warming_operations_total";
    let v = |fam: &str, l: &[(&str, &str)]| prom_value(&exp, fam, l);
    assert_eq!(v(ops, &[("chain", "ethereum"), ("status", "success")]), 2.0);
    // The timeout and the L2 error are both `status="error"`; `error_type` tells them apart.
    assert_eq!(v(ops, &[("chain", "ethereum"), ("status", "error")]), 2.0);
    assert!(!text.contains(r#"status="timeout""#), "{text}");
    assert_eq!(v(ops, &[("chain", "bsc"), ("status", "success")]), 1.0);
    assert_eq!(v(ops, &[("chain", "bsc"), ("status", "error")]), 0.0);
    let pw = "arbitrage_warming_pairs_warmed_total";
    assert_eq!(v(pw, &[("chain", "ethereum"), ("status", "success")]), 5.0);
    assert_eq!(v(pw, &[("chain", "ethereum"), ("status", "error")]), 1.0);
    let err = "arbitrage_warming_errors_total";
    assert_eq!(
        v(err, &[("chain", "ethereum"), ("error_type", "timeout")]),
        1.0
    );
    assert_eq!(v(err, &[("chain", "ethereum"), ("error_type", "l2")]), 1.0);
    assert_eq!(
        v(err, &[("chain", "ethereum"), ("error_type", "decode")]),
        0.0
    );
    let debounced = "arbitrage_warming_debounced_total";
    assert_eq!(v(debounced, &[("chain", "ethereum")]), 4.0);
    assert_eq!(
        v("arbitrage_warming_dropped_total", &[("chain", "ethereum")]),
        1.0
    );
    assert_eq!(v("arbitrage_warming_pending_operations", &[]), 7.0);
    assert_eq!(
        v(
            "arbitrage_correlation_pairs_tracked",
            &[("chain", "ethereum")]
        ),
        42.0
    );
    assert_eq!(
        v("arbitrage_price_updates_total", &[("chain", "ethereum")]),
        10.0
    );
    assert_eq!(
        v(
            "arbitrage_detector_opportunities_total",
            &[("chain", "ethereum")]
        ),
        2.0
    );
    assert_eq!(
        v(
            "arbitrage_warming_shadow_predictions_total",
            &[("chain", "ethereum")]
        ),
        5.0
    );
    assert_eq!(
        v(
            "arbitrage_warming_shadow_hits_total",
            &[("chain", "ethereum")]
        ),
        3.0
    );
    let hits = "arbitrage_cache_hits_total";
    let misses = "arbitrage_cache_misses_total";
    assert_eq!(
        v(hits, &[("cache_level", "L1"), ("chain", "ethereum")]),
        90.0
    );
    assert_eq!(
        v(misses, &[("cache_level", "L1"), ("chain", "ethereum")]),
        10.0
    );
    assert_eq!(
        v(hits, &[("cache_level", "L2"), ("chain", "ethereum")]),
        8.0
    );
    assert_eq!(
        v(misses, &[("cache_level", "L2"), ("chain", "ethereum")]),
        2.0
    );
    assert_eq!(v(hits, &[("cache_level", "L1"), ("chain", "bsc")]), 0.0);
    assert_eq!(
        v("arbitrage_cache_entries", &[("cache_level", "L1")]),
        1234.0
    );
    assert_eq!(
        v("arbitrage_cache_size_bytes", &[("cache_level", "L1")]),
        86_380.0
    );
    assert_eq!(v("arbitrage_stream_entries_processed_total", &[]), 100.0);
    let dl = "arbitrage_stream_dead_letter_total";
    assert_eq!(v(dl, &[("reason", "malformed")]), 1.0);
    assert_eq!(v(dl, &[("reason", "max_deliveries")]), 0.0);
    assert_eq!(v("arbitrage_stream_consumer_lag", &[]), 12.0);
    assert_eq!(v("arbitrage_cache_l2_reachable", &[]), 0.0);
    assert_eq!(v("arbitrage_warming_enabled", &[]), 0.0);
    assert_eq!(v("arbitrage_warming_shadow_mode", &[]), 1.0);
    assert_eq!(v("arbitrage_correlation_pairs_capacity", &[]), 5_000.0);
    assert_eq!(v("arbitrage_correlation_pairs_evicted_total", &[]), 17.0);
    assert_eq!(v("arbitrage_cache_l2_write_failures_total", &[]), 3.0);
    assert_eq!(v("arbitrage_cache_l1_coherent", &[]), 1.0);
    assert_eq!(v("arbitrage_cache_l1_invalidations_total", &[]), 9.0);
    assert_eq!(v("arbitrage_cache_l1_invalidation_drops_total", &[]), 5.0);
    assert_eq!(v("arbitrage_cache_l1_refetches_total", &[]), 4.0);
    assert_eq!(v("arbitrage_cache_l1_coherence_resets_total", &[]), 1.0);

    // L2's entry count was never set: no fake 0 series.
    let entries = exp.families.get("arbitrage_cache_entries").unwrap();
    assert_eq!(samples(entries).len(), 1);
}

#[test]
fn histograms_have_real_buckets_sum_and_count() {
    let m = populated("arbitrage_");
    let text = m.encode_prometheus().unwrap();
    // The seed's documented example line, byte for byte (Go-style `le` in text 0.0.4).
    assert!(
        text.contains(r#"arbitrage_warming_duration_ms_bucket{chain="ethereum",le="10"} 3"#),
        "{text}"
    );
    assert!(text.contains(r#"arbitrage_warming_duration_ms_bucket{chain="ethereum",le="+Inf"} 4"#));
    assert!(text.contains(r#"arbitrage_warming_duration_ms_count{chain="ethereum"} 4"#));

    let exp = openmetrics_parser::prometheus::parse_prometheus(&text).unwrap();
    let fam = exp.families.get("arbitrage_warming_duration_ms").unwrap();
    let (_, value) = samples(fam)
        .into_iter()
        .find(|(l, _)| *l == labels(&[("chain", "ethereum")]))
        .unwrap();
    let PrometheusValue::Histogram(h) = value else {
        panic!("not a histogram: {value:?}");
    };
    assert_eq!(h.count, Some(4));
    let sum = h.sum.unwrap().as_f64();
    assert!((sum - (0.2 + 7.0 + 60.0 + 2.0)).abs() < 1e-9, "sum {sum}");
    let cumulative: Vec<(f64, f64)> = h
        .buckets
        .iter()
        .map(|b| (b.upper_bound, b.count.as_f64()))
        .collect();
    let expected = [
        (0.1, 0.0),
        (0.25, 1.0),
        (0.5, 1.0),
        (1.0, 1.0),
        (2.5, 2.0),
        (5.0, 2.0),
        (10.0, 3.0),
        (15.0, 3.0),
        (25.0, 3.0),
        (50.0, 3.0),
        (100.0, 4.0),
        (250.0, 4.0),
        (f64::INFINITY, 4.0),
    ];
    assert_eq!(cumulative, expected);

    let tracking = exp
        .families
        .get("arbitrage_correlation_tracking_duration_us")
        .unwrap();
    let (_, value) = samples(tracking)
        .into_iter()
        .find(|(l, _)| *l == labels(&[("chain", "ethereum")]))
        .unwrap();
    let PrometheusValue::Histogram(h) = value else {
        panic!("not a histogram");
    };
    let le = |bound: f64| {
        h.buckets
            .iter()
            .find(|b| b.upper_bound == bound)
            .map(|b| b.count.as_f64())
    };
    assert_eq!(
        (le(0.05), le(0.1), le(0.5)),
        (Some(0.0), Some(1.0), Some(2.0))
    );
}

#[test]
fn openmetrics_parses_back_and_ends_with_eof() {
    let m = populated("arbitrage_");
    let text = m.encode_openmetrics().unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    let exp = openmetrics_parser::openmetrics::parse_openmetrics(&text)
        .unwrap_or_else(|e| panic!("invalid OpenMetrics: {e:?}\n{text}"));
    // OpenMetrics families of counters are named without `_total`.
    let ops = exp.families.get("arbitrage_warming_operations").unwrap();
    assert_eq!(ops.family_type, OpenMetricsType::Counter);
    let (_, value) = samples(ops)
        .into_iter()
        .find(|(l, _)| *l == labels(&[("chain", "ethereum"), ("status", "success")]))
        .unwrap();
    let OpenMetricsValue::Counter(c) = value else {
        panic!("not a counter");
    };
    assert_eq!(c.value.as_f64(), 2.0);
    let hist = exp.families.get("arbitrage_warming_duration_ms").unwrap();
    assert_eq!(hist.family_type, OpenMetricsType::Histogram);
    let (_, value) = samples(hist)
        .into_iter()
        .find(|(l, _)| *l == labels(&[("chain", "ethereum")]))
        .unwrap();
    let OpenMetricsValue::Histogram(h) = value else {
        panic!("not a histogram");
    };
    assert_eq!(h.count, Some(4));
    let ten = h.buckets.iter().find(|b| b.upper_bound == 10.0).unwrap();
    assert_eq!(ten.count.as_f64(), 3.0);
    assert_eq!(exp.families.len(), spec::ALL_METRICS.len());
}

#[test]
fn custom_and_empty_prefixes() {
    for prefix in ["pw:", "", "my_app_"] {
        let m = populated(prefix);
        assert_eq!(m.prefix(), prefix);
        let text = m.encode_prometheus().unwrap();
        let exp = openmetrics_parser::prometheus::parse_prometheus(&text).unwrap();
        for spec in spec::ALL_METRICS {
            let name = format!("{prefix}{}", spec.name);
            assert!(exp.families.contains_key(&name), "{name} missing");
        }
        if prefix.is_empty() {
            assert!(!text.contains("arbitrage_"));
        }
        let om = m.encode_openmetrics().unwrap();
        openmetrics_parser::openmetrics::parse_openmetrics(&om).unwrap();
    }
    assert_eq!(WarmingMetrics::default().prefix(), "arbitrage_");
}

#[test]
fn bad_prefix_is_rejected_naming_the_value() {
    for bad in ["9lives_", "arb-itrage_", "a b", "pré_"] {
        let err = WarmingMetrics::new(bad).unwrap_err();
        assert!(
            matches!(&err, MetricsError::InvalidPrefix { prefix, .. } if prefix == bad),
            "{err:?}"
        );
        assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
    }
}

#[test]
fn awkward_label_values_round_trip() {
    // The original serialised labels as `k=v,k=v` and split on ',' and '='.
    let nasty = r#"we"ird,chain=x\y"#.to_owned() + "\nz";
    let interner = PairInterner::new(10);
    let id = interner.chain_id("ethereum").unwrap();
    let m = WarmingMetrics::new("arbitrage_").unwrap();
    m.chain(id, &nasty)
        .record_warm(WarmOutcome::Success, 1, Duration::from_millis(3));

    let text = m.encode_prometheus().unwrap();
    let exp = openmetrics_parser::prometheus::parse_prometheus(&text)
        .unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    let v = prom_value(
        &exp,
        "arbitrage_warming_operations_total",
        &[("chain", &nasty), ("status", "success")],
    );
    assert_eq!(v, 1.0);

    let om = m.encode_openmetrics().unwrap();
    let exp = openmetrics_parser::openmetrics::parse_openmetrics(&om).unwrap();
    let fam = exp.families.get("arbitrage_warming_pairs_warmed").unwrap();
    let all = samples(fam);
    assert_eq!(all.len(), 2, "status success and error");
    assert_eq!(all[0].0.get("chain"), Some(&nasty));
    assert_eq!(all[0].0.get("status").map(String::as_str), Some("success"));

    let json = m.encode_json(false);
    let ops = &json["metrics"][0];
    assert_eq!(ops["samples"][0]["labels"]["chain"], nasty.as_str());
}

#[test]
fn json_has_the_documented_shape() {
    let m = populated("arbitrage_");
    let doc = m.encode_json(true);
    assert!(doc["timestamp"].as_u64().unwrap() > 1_600_000_000_000);
    let metrics = doc["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), spec::ALL_METRICS.len());
    let names: Vec<&str> = metrics
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = spec::ALL_METRICS
        .iter()
        .map(|s| format!("arbitrage_{}", s.name))
        .collect();
    assert_eq!(names, expected);

    let ops = &metrics[0];
    assert_eq!(ops["type"], "counter");
    assert_eq!(ops["labels"], serde_json::json!(["chain", "status"]));
    assert!(ops["help"].as_str().unwrap().contains("outcome"));
    let success = ops["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["labels"]["chain"] == "ethereum" && s["labels"]["status"] == "success")
        .unwrap();
    assert_eq!(success["value"], 2);

    let hist = metrics
        .iter()
        .find(|m| m["name"] == "arbitrage_warming_duration_ms")
        .unwrap();
    assert_eq!(hist["type"], "histogram");
    let eth = hist["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["labels"]["chain"] == "ethereum")
        .unwrap();
    assert_eq!(eth["count"], 4);
    assert!((eth["sum"].as_f64().unwrap() - 69.2).abs() < 1e-9);
    let buckets = eth["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 12);
    assert_eq!(buckets[6], serde_json::json!({"le": 10.0, "count": 3}));
    assert!(eth.get("value").is_none());

    let gauge = metrics
        .iter()
        .find(|m| m["name"] == "arbitrage_warming_pending_operations")
        .unwrap();
    assert_eq!(gauge["type"], "gauge");
    assert_eq!(gauge["samples"][0]["value"], 7);
    assert_eq!(gauge["samples"][0]["labels"], serde_json::json!({}));

    let meta = &doc["metadata"];
    assert_eq!(meta["crate"], "pairwarm");
    assert_eq!(meta["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(meta["prefix"], "arbitrage_");
    assert!(meta["start_time_unix_ms"].as_u64().unwrap() <= doc["timestamp"].as_u64().unwrap());
    assert_eq!(meta["tracking_sample_period"], 64);
    assert!(m.encode_json(false).get("metadata").is_none());

    // render(Json) is the same document, serialised.
    let body: serde_json::Value =
        serde_json::from_str(&m.render(ExportFormat::Json).unwrap()).unwrap();
    assert_eq!(body["metrics"], doc["metrics"]);
}

#[test]
fn fresh_metrics_export_only_what_exists() {
    let m = WarmingMetrics::new("arbitrage_").unwrap();
    let text = m.encode_prometheus().unwrap();
    // Before any chain: just the unlabelled pending gauge; no stream metrics until `stream()`.
    assert_eq!(
        text,
        "# HELP arbitrage_warming_pending_operations Warm operations queued or in flight.\n\
         # TYPE arbitrage_warming_pending_operations gauge\n\
         arbitrage_warming_pending_operations 0\n"
    );
    let doc = m.encode_json(false);
    let with_samples = doc["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| !m["samples"].as_array().unwrap().is_empty())
        .count();
    assert_eq!(with_samples, 1);
    assert_eq!(
        m.render(ExportFormat::OpenMetrics).unwrap(),
        m.encode_openmetrics().unwrap()
    );
}

#[test]
fn state_series_appear_once_set_and_evictions_stay_monotonic() {
    let m = WarmingMetrics::default();
    let text = m.encode_prometheus().unwrap();
    for name in [
        "arbitrage_cache_l2_reachable",
        "arbitrage_warming_enabled",
        "arbitrage_correlation_pairs_evicted_total",
    ] {
        assert!(!text.contains(name), "{name} exported before being set");
    }

    let stats = |evictions| TrackerStats {
        capacity: 64,
        evictions,
        ..TrackerStats::default()
    };
    m.sync_tracker(&stats(10));
    m.sync_tracker(&stats(25));
    // The tracker was rebuilt (count went down): everything since counts as new.
    m.sync_tracker(&stats(4));
    m.set_l2_reachable(true);
    m.set_rollout(true, false);
    let text = m.encode_prometheus().unwrap();
    assert!(
        text.contains("arbitrage_correlation_pairs_evicted_total 29\n"),
        "{text}"
    );
    assert!(
        text.contains("arbitrage_correlation_pairs_capacity 64\n"),
        "{text}"
    );
    assert!(text.contains("arbitrage_cache_l2_reachable 1\n"), "{text}");
    assert!(text.contains("arbitrage_warming_enabled 1\n"), "{text}");
    assert!(text.contains("arbitrage_warming_shadow_mode 0\n"), "{text}");
}

#[test]
fn render_with_appends_other_registries_inside_one_exposition() {
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::registry::Registry;

    let m = populated("arbitrage_");
    let mut extra = Registry::default();
    let gauge: Gauge = Gauge::default();
    gauge.set(123);
    extra.register("process_open_fds", "Number of open file descriptors", gauge);

    let text = m.render_with(ExportFormat::Prometheus, &[&extra]).unwrap();
    let exp = openmetrics_parser::prometheus::parse_prometheus(&text).unwrap();
    assert_eq!(exp.families.len(), spec::ALL_METRICS.len() + 1);
    assert_eq!(prom_value(&exp, "process_open_fds", &[]), 123.0);

    let om = m.render_with(ExportFormat::OpenMetrics, &[&extra]).unwrap();
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert_eq!(om.matches("# EOF").count(), 1);
    let exp = openmetrics_parser::openmetrics::parse_openmetrics(&om).unwrap();
    assert_eq!(exp.families.len(), spec::ALL_METRICS.len() + 1);
    assert!(exp.families.contains_key("process_open_fds"));

    // Without extras it is exactly `render`.
    assert_eq!(
        m.render_with(ExportFormat::Prometheus, &[]).unwrap(),
        m.render(ExportFormat::Prometheus).unwrap()
    );
}
