//! What the operations-kit tests share: the repository's `deploy/` files, the seed's
//! PromQL queries, the alert rules and dashboard queries as data, and `promtool`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

/// The queries the seed prints under "Monitoring / Key Metrics to Watch", verbatim. The
/// seed is the contract: each must select series from a running `serve`.
pub const SEED_QUERIES: [(&str, &str); 6] = [
    (
        "cache hit rate",
        "rate(arbitrage_cache_hits_total[5m]) /
  (rate(arbitrage_cache_hits_total[5m]) + rate(arbitrage_cache_misses_total[5m]))",
    ),
    (
        "L1 hit rate",
        r#"rate(arbitrage_cache_hits_total{cache_level="L1"}[5m]) /
  (rate(arbitrage_cache_hits_total{cache_level="L1"}[5m]) +
   rate(arbitrage_cache_misses_total{cache_level="L1"}[5m]))"#,
    ),
    (
        "warming duration p95",
        "histogram_quantile(0.95,
  rate(arbitrage_warming_duration_ms_bucket[5m])
)",
    ),
    (
        "tracking duration p95",
        "histogram_quantile(0.95,
  rate(arbitrage_correlation_tracking_duration_us_bucket[5m])
)",
    ),
    (
        "pairs warmed per operation",
        "rate(arbitrage_warming_pairs_warmed_total[5m]) /
  rate(arbitrage_warming_operations_total[5m])",
    ),
    (
        "warming success rate",
        r#"rate(arbitrage_warming_operations_total{status="success"}[5m]) /
  rate(arbitrage_warming_operations_total[5m])"#,
    ),
];

/// The seed's four alerting rules, verbatim: name, expression, `for`, severity, summary.
pub const SEED_ALERTS: [(&str, &str, &str, &str, &str); 4] = [
    (
        "WarmingOperationsSlow",
        "histogram_quantile(0.95,
  rate(arbitrage_warming_duration_ms_bucket[5m])
) > 15",
        "5m",
        "warning",
        "Warming operations exceeding 15ms p95",
    ),
    (
        "CorrelationTrackingSlow",
        "histogram_quantile(0.95,
  rate(arbitrage_correlation_tracking_duration_us_bucket[5m])
) > 100",
        "5m",
        "critical",
        "Correlation tracking exceeding 100μs p95 (hot-path impact)",
    ),
    (
        "CacheHitRateDropped",
        "rate(arbitrage_cache_hits_total[5m]) /
  (rate(arbitrage_cache_hits_total[5m]) +
   rate(arbitrage_cache_misses_total[5m])) < 0.85",
        "10m",
        "warning",
        "Cache hit rate below 85%",
    ),
    (
        "WarmingErrorRateHigh",
        r#"rate(arbitrage_warming_operations_total{status="error"}[5m]) /
  rate(arbitrage_warming_operations_total[5m]) > 0.01"#,
        "5m",
        "warning",
        "Warming error rate above 1%",
    ),
];

/// Values the dashboard's template variables take when its queries are checked: every
/// chain, every instance (what Grafana sends for "All" with `allValue: .*`).
pub const DASHBOARD_VARIABLES: [(&str, &str); 2] = [("$chain", ".*"), ("$instance", ".*")];

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// A file of the repository, by path from the root.
pub fn repo_file(path: &str) -> String {
    let full = repo_root().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("read {}: {e}", full.display()))
}

/// Whitespace collapsed, none after `(` or before `)`: expressions compared as PromQL reads
/// them, not as they are indented.
pub fn normalise(expr: &str) -> String {
    let joined = expr.split_whitespace().collect::<Vec<_>>().join(" ");
    joined.replace("( ", "(").replace(" )", ")")
}

/// One alerting rule of `alerts.yml`.
#[derive(Clone, Debug)]
pub struct AlertRule {
    pub group: String,
    pub alert: String,
    pub expr: String,
    pub for_: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

fn string_map(y: &Yaml) -> BTreeMap<String, String> {
    y.as_hash()
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Parses YAML text, panicking with the file name on error.
pub fn yaml(text: &str, what: &str) -> Yaml {
    YamlLoader::load_from_str(text)
        .unwrap_or_else(|e| panic!("{what} is not YAML: {e}"))
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{what} is empty"))
}

/// The alerting rules of a rules file's text.
pub fn alert_rules_of(text: &str) -> Vec<AlertRule> {
    let doc = yaml(text, "rules file");
    let mut out = Vec::new();
    for group in doc["groups"].as_vec().expect("groups") {
        let name = group["name"].as_str().expect("group name").to_owned();
        for rule in group["rules"].as_vec().expect("rules") {
            let Some(alert) = rule["alert"].as_str() else {
                continue;
            };
            out.push(AlertRule {
                group: name.clone(),
                alert: alert.to_owned(),
                expr: rule["expr"].as_str().expect("expr").trim().to_owned(),
                for_: rule["for"].as_str().map(str::to_owned),
                labels: string_map(&rule["labels"]),
                annotations: string_map(&rule["annotations"]),
            });
        }
    }
    out
}

/// The rules of `deploy/prometheus/alerts.yml`.
pub fn alert_rules() -> Vec<AlertRule> {
    alert_rules_of(&repo_file("deploy/prometheus/alerts.yml"))
}

/// Every PromQL query of the dashboard: `(panel title, expr)`, template variables replaced
/// by [`DASHBOARD_VARIABLES`].
pub fn dashboard_queries() -> Vec<(String, String)> {
    let dash: Value = serde_json::from_str(&repo_file("deploy/grafana/pairwarm.json"))
        .expect("deploy/grafana/pairwarm.json is JSON");
    let mut out = Vec::new();
    for panel in dash["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().unwrap_or_default();
        for target in panel["targets"].as_array().into_iter().flatten() {
            let mut expr = target["expr"].as_str().expect("target expr").to_owned();
            for (var, value) in DASHBOARD_VARIABLES {
                expr = expr.replace(var, value);
            }
            assert!(
                !expr.contains('$'),
                "panel {title:?} uses a variable the checks do not substitute: {expr}"
            );
            out.push((title.to_owned(), expr));
        }
    }
    out
}

/// The dashboard's panels as `(title, description)`.
pub fn dashboard_panels() -> Vec<(String, String)> {
    let dash: Value = serde_json::from_str(&repo_file("deploy/grafana/pairwarm.json"))
        .expect("deploy/grafana/pairwarm.json is JSON");
    dash["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter(|p| p["type"] != "row")
        .map(|p| {
            (
                p["title"].as_str().unwrap_or_default().to_owned(),
                p["description"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Byte offset and length of the single comparison operator at the top level of `expr`
/// (outside parentheses, brackets, braces and strings).
///
/// # Panics
/// Unless there is exactly one: the rules are written as `<value> <op> <threshold>`.
pub fn top_level_comparison(expr: &str) -> (usize, usize) {
    let bytes = expr.as_bytes();
    let mut depth = 0i32;
    let mut in_string: Option<u8> = None;
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(quote) = in_string {
            if b == b'\\' {
                i += 2;
                continue;
            }
            if b == quote {
                in_string = None;
            }
            i += 1;
            continue;
        }
        match b {
            b'"' | b'\'' | b'`' => in_string = Some(b),
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b'>' | b'<' | b'=' | b'!' if depth == 0 => {
                let two = bytes.get(i + 1) == Some(&b'=');
                let len = if two { 2 } else { 1 };
                if !two && (b == b'=' || b == b'!') {
                    panic!("unexpected {:?} at the top level of {expr}", b as char);
                }
                found.push((i, len));
                i += len;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    assert_eq!(
        found.len(),
        1,
        "expected exactly one top-level comparison in {expr}"
    );
    found[0]
}

/// `expr` with its top-level comparison turned into a `bool` comparison: one sample per
/// series of the value side (1 where the rule's condition holds, 0 where not), so it
/// returns a series whenever the rule's metrics exist, firing or not.
pub fn with_bool(expr: &str) -> String {
    let (at, len) = top_level_comparison(expr);
    format!("{} bool {}", &expr[..at + len], &expr[at + len..])
}

/// The value side of a rule: `expr` before its top-level comparison.
pub fn value_side(expr: &str) -> String {
    let (at, _) = top_level_comparison(expr);
    expr[..at].trim().to_owned()
}

/// Runs `promtool args`, feeding `stdin` when given.
pub fn promtool(args: &[&str], stdin: Option<&str>) -> Output {
    let bin = pairwarm_testkit::require_tool("promtool");
    let mut child = Command::new(&bin)
        .args(args)
        .current_dir(repo_root())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {} {args:?}: {e}", bin.display()));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(input.as_bytes())
            .expect("write promtool stdin");
    }
    child.wait_with_output().expect("promtool output")
}

/// stdout and stderr of a finished command, for assertion messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A rules file with one recording rule per query, for `promtool check rules`.
pub fn recording_rules(queries: &[(String, String)]) -> String {
    let mut out = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, (title, expr)) in queries.iter().enumerate() {
        out.push_str(&format!(
            "      # {title}\n      - record: dashboard:query_{i}\n        expr: {}\n",
            serde_json::to_string(expr).expect("quote expr")
        ));
    }
    out
}
