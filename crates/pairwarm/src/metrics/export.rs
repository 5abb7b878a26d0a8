//! Exporters: Prometheus text 0.0.4, OpenMetrics 1.0 text and JSON.
//!
//! Both text formats come from prometheus-client 0.26 (`encoding::prometheus_text::encode`
//! for 0.0.4 — Go-style `le="10"`, no `# EOF` — and `encoding::text::encode` for
//! OpenMetrics — `le="10.0"`, counters' `# TYPE` without `_total`, ends with `# EOF`).
//! The library has no JSON exporter, so that one is written here from the same series.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::{prometheus_text, text};
use serde_json::{Map, Value, json};

use super::registry::WarmingMetrics;
use super::{MetricsError, TRACKING_SAMPLE_PERIOD};

/// An exposition format for `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// Prometheus text format 0.0.4 (the default for scrapes).
    Prometheus,
    /// OpenMetrics 1.0.0 text (what Prometheus asks for first when it supports it).
    OpenMetrics,
    /// The JSON document of [`WarmingMetrics::encode_json`].
    Json,
}

/// `Content-Type` of OpenMetrics text.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

impl ExportFormat {
    /// The HTTP `Content-Type` of a body in this format.
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => prometheus_text::CONTENT_TYPE,
            Self::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            Self::Json => "application/json",
        }
    }

    /// The name accepted by [`FromStr`].
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Prometheus => "prometheus",
            Self::OpenMetrics => "openmetrics",
            Self::Json => "json",
        }
    }

    /// Picks the text format for a scrape from its `Accept` header: OpenMetrics when the
    /// client asks for `application/openmetrics-text` with a quality at least as high as
    /// any text/plain (or wildcard) range it gives, Prometheus text otherwise — including
    /// no header and an unparsable one. JSON is never negotiated; ask for it explicitly.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return Self::Prometheus;
        };
        let mut openmetrics_q = 0.0f32;
        let mut text_q = 0.0f32;
        for range in accept.split(',') {
            let mut params = range.split(';');
            let media = params.next().unwrap_or_default().trim();
            let quality = params
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .and_then(|(_, v)| v.trim().parse::<f32>().ok())
                .filter(|q| q.is_finite())
                .unwrap_or(1.0);
            if media.eq_ignore_ascii_case("application/openmetrics-text") {
                openmetrics_q = openmetrics_q.max(quality);
            } else if ["text/plain", "text/*", "*/*"]
                .iter()
                .any(|m| media.eq_ignore_ascii_case(m))
            {
                text_q = text_q.max(quality);
            }
        }
        if openmetrics_q > 0.0 && openmetrics_q >= text_q {
            Self::OpenMetrics
        } else {
            Self::Prometheus
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExportFormat {
    type Err = MetricsError;

    /// `prometheus` (or `text`), `openmetrics`, `json`; case-insensitive.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let trimmed = input.trim();
        [
            ("prometheus", Self::Prometheus),
            ("text", Self::Prometheus),
            ("openmetrics", Self::OpenMetrics),
            ("json", Self::Json),
        ]
        .into_iter()
        .find(|(name, _)| trimmed.eq_ignore_ascii_case(name))
        .map(|(_, format)| format)
        .ok_or_else(|| MetricsError::UnknownFormat {
            input: input.to_owned(),
        })
    }
}

fn unix_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl WarmingMetrics {
    /// Prometheus text format 0.0.4 (`Content-Type`
    /// [`ExportFormat::Prometheus.content_type()`](ExportFormat::content_type)).
    ///
    /// # Errors
    /// [`MetricsError::Encode`] if prometheus-client reports a formatting error (it cannot
    /// for the metric types used here; the error exists so a server answers 500, not panics).
    pub fn encode_prometheus(&self) -> Result<String, MetricsError> {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_text::encode(&mut out, &self.registry).map_err(|_| MetricsError::Encode {
            format: ExportFormat::Prometheus,
        })?;
        Ok(out)
    }

    /// OpenMetrics 1.0.0 text, terminated by `# EOF`.
    ///
    /// # Errors
    /// As [`encode_prometheus`](Self::encode_prometheus).
    pub fn encode_openmetrics(&self) -> Result<String, MetricsError> {
        let mut out = String::with_capacity(16 * 1024);
        text::encode(&mut out, &self.registry).map_err(|_| MetricsError::Encode {
            format: ExportFormat::OpenMetrics,
        })?;
        Ok(out)
    }

    /// The metrics as JSON:
    ///
    /// ```json
    /// {
    ///   "timestamp": 1700000000000,
    ///   "metrics": [
    ///     {"name": "arbitrage_warming_operations_total", "type": "counter", "help": "...",
    ///      "labels": ["chain", "status"],
    ///      "samples": [{"labels": {"chain": "ethereum", "status": "success"}, "value": 3}]},
    ///     {"name": "arbitrage_warming_duration_ms", "type": "histogram", "help": "...",
    ///      "labels": ["chain"],
    ///      "samples": [{"labels": {"chain": "ethereum"}, "count": 3, "sum": 0.61,
    ///                   "buckets": [{"le": 0.1, "count": 0}, {"le": 0.25, "count": 2}]}]}
    ///   ],
    ///   "metadata": {"crate": "pairwarm", "version": "0.1.0", "prefix": "arbitrage_",
    ///                "start_time_unix_ms": 1699999990000, "uptime_seconds": 10.0,
    ///                "tracking_sample_period": 64}
    /// }
    /// ```
    ///
    /// `timestamp` and `start_time_unix_ms` are Unix milliseconds. `name` is the name as in
    /// Prometheus text (counters with `_total`). Every metric is listed, with an empty
    /// `samples` array until it has a series (the text formats omit such metrics). Counter
    /// and gauge samples carry `value`; histogram samples carry `count`, `sum` and
    /// cumulative `buckets` for the finite bounds (`le` is a number; the implicit `+Inf`
    /// bucket equals `count`). `metadata` is present only with `include_metadata`.
    pub fn encode_json(&self, include_metadata: bool) -> Value {
        let metrics: Vec<Value> = self
            .catalog
            .iter()
            .map(|entry| {
                json!({
                    "name": entry.name,
                    "type": entry.spec.kind.as_str(),
                    "help": entry.spec.help,
                    "labels": entry.spec.labels,
                    "samples": entry.family.samples(),
                })
            })
            .collect();
        let now = SystemTime::now();
        let mut doc = Map::new();
        doc.insert("timestamp".into(), json!(unix_millis(now)));
        doc.insert("metrics".into(), Value::Array(metrics));
        if include_metadata {
            let uptime = now
                .duration_since(self.started_at())
                .map_or(0.0, |d| d.as_secs_f64());
            doc.insert(
                "metadata".into(),
                json!({
                    "crate": env!("CARGO_PKG_NAME"),
                    "version": env!("CARGO_PKG_VERSION"),
                    "prefix": self.prefix(),
                    "start_time_unix_ms": unix_millis(self.started_at()),
                    "uptime_seconds": uptime,
                    "tracking_sample_period": TRACKING_SAMPLE_PERIOD,
                }),
            );
        }
        Value::Object(doc)
    }

    /// The body for `format` (JSON with metadata), for an HTTP handler that pairs it with
    /// [`ExportFormat::content_type`].
    ///
    /// # Errors
    /// As [`encode_prometheus`](Self::encode_prometheus).
    pub fn render(&self, format: ExportFormat) -> Result<String, MetricsError> {
        self.render_with(format, &[])
    }

    /// As [`render`](Self::render), followed in the text formats by the metrics of `extra`
    /// registries (e.g. a process collector's), inside the same exposition (OpenMetrics'
    /// `# EOF` comes last). The JSON document holds this metric set only.
    ///
    /// # Errors
    /// As [`encode_prometheus`](Self::encode_prometheus).
    pub fn render_with(
        &self,
        format: ExportFormat,
        extra: &[&prometheus_client::registry::Registry],
    ) -> Result<String, MetricsError> {
        let error = |_| MetricsError::Encode { format };
        let mut out = String::with_capacity(16 * 1024);
        match format {
            ExportFormat::Prometheus => {
                for registry in std::iter::once(&self.registry).chain(extra.iter().copied()) {
                    prometheus_text::encode(&mut out, registry).map_err(error)?;
                }
            }
            ExportFormat::OpenMetrics => {
                for registry in std::iter::once(&self.registry).chain(extra.iter().copied()) {
                    text::encode_registry(&mut out, registry).map_err(error)?;
                }
                text::encode_eof(&mut out).map_err(error)?;
            }
            ExportFormat::Json => out = self.encode_json(true).to_string(),
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiate_follows_accept_and_quality() {
        use ExportFormat::{OpenMetrics, Prometheus};
        let cases = [
            (None, Prometheus),
            (Some(""), Prometheus),
            (Some("text/plain"), Prometheus),
            (Some("*/*"), Prometheus),
            (Some("application/openmetrics-text"), OpenMetrics),
            (
                Some("Application/OpenMetrics-Text; version=1.0.0"),
                OpenMetrics,
            ),
            // Prometheus 2.x default scrape header.
            (
                Some(
                    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                ),
                OpenMetrics,
            ),
            // Prometheus configured to prefer the 0.0.4 text format.
            (
                Some(
                    "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5",
                ),
                Prometheus,
            ),
            (Some("application/openmetrics-text;q=0"), Prometheus),
            (Some("application/json"), Prometheus),
        ];
        for (accept, expected) in cases {
            assert_eq!(ExportFormat::negotiate(accept), expected, "{accept:?}");
        }
    }

    #[test]
    fn from_str_accepts_names_and_names_the_bad_value() {
        assert_eq!(
            "OpenMetrics".parse::<ExportFormat>(),
            Ok(ExportFormat::OpenMetrics)
        );
        assert_eq!(" json ".parse::<ExportFormat>(), Ok(ExportFormat::Json));
        assert_eq!("text".parse::<ExportFormat>(), Ok(ExportFormat::Prometheus));
        let err = "xml".parse::<ExportFormat>().unwrap_err();
        assert!(err.to_string().contains("\"xml\""), "{err}");
        for f in [
            ExportFormat::Prometheus,
            ExportFormat::OpenMetrics,
            ExportFormat::Json,
        ] {
            assert_eq!(f.as_str().parse::<ExportFormat>(), Ok(f));
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(
            ExportFormat::Prometheus.content_type(),
            "text/plain; version=0.0.4; charset=utf-8"
        );
        assert_eq!(
            ExportFormat::OpenMetrics.content_type(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        assert_eq!(ExportFormat::Json.content_type(), "application/json");
    }
}
