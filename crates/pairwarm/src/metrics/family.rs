//! The metric catalogue: one [`MetricSpec`] per exported name, and the series of each.
//!
//! Why not `prometheus_client::metrics::family::Family`? It cannot be enumerated from outside
//! the crate (its map is `pub(crate)`), so the JSON exporter could not walk it, and it encodes
//! in `HashMap` order. [`SeriesFamily`] keeps its series in a small `Vec` in creation order
//! (deterministic output) and implements prometheus-client's [`EncodeMetric`], so the text
//! encoders still come from the library. Series are only created on cold paths (a chain's
//! first use, a gauge's first set), and their number is bounded (chains ≤ `MAX_CHAINS` + 1,
//! label values from closed enums), with a hard cap as a last line of defence.

use std::sync::Arc;

use parking_lot::RwLock;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use serde_json::{Map, Value, json};

use super::histogram::AtomicHistogram;

/// The Prometheus type of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// Monotonic counter (exported with the `_total` suffix).
    Counter,
    /// Value that goes up and down.
    Gauge,
    /// Bucketed distribution (`_bucket`, `_sum`, `_count`).
    Histogram,
}

impl MetricKind {
    /// The type word used in `# TYPE` lines and in the JSON export.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// One exported metric: the contract users build dashboards on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricSpec {
    /// Name after the prefix, exactly as it appears in samples (counters include `_total`).
    pub name: &'static str,
    /// Type.
    pub kind: MetricKind,
    /// Label names, in the order they are written.
    pub labels: &'static [&'static str],
    /// `# HELP` text (prometheus-client appends the final full stop).
    pub help: &'static str,
}

impl MetricSpec {
    /// The name handed to prometheus-client's registry: counters without `_total`, because
    /// the library appends it (and panics in debug builds if it is already there).
    pub(crate) fn registry_name(&self) -> &'static str {
        match self.kind {
            MetricKind::Counter => self.name.strip_suffix("_total").unwrap_or(self.name),
            MetricKind::Gauge | MetricKind::Histogram => self.name,
        }
    }
}

/// Hard cap on series per metric. Normal use stays far below (65 chains × ≤ 4 label values);
/// past the cap new series are detached (counted nowhere) rather than grow memory and scrape
/// time without bound.
pub(crate) const MAX_SERIES_PER_METRIC: usize = 1024;

/// Label pairs of one series, keys from the [`MetricSpec`].
pub(crate) type Labels = Vec<(&'static str, String)>;

/// The series of one metric, in creation order.
pub(crate) struct SeriesFamily<M> {
    spec: &'static MetricSpec,
    new_metric: fn() -> M,
    series: Arc<RwLock<Vec<(Labels, M)>>>,
}

impl<M> Clone for SeriesFamily<M> {
    fn clone(&self) -> Self {
        Self {
            spec: self.spec,
            new_metric: self.new_metric,
            series: Arc::clone(&self.series),
        }
    }
}

impl<M: std::fmt::Debug> std::fmt::Debug for SeriesFamily<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeriesFamily")
            .field("name", &self.spec.name)
            .field("series", &self.series.read().len())
            .finish()
    }
}

impl<M: Clone> SeriesFamily<M> {
    pub(crate) fn new(spec: &'static MetricSpec, new_metric: fn() -> M) -> Self {
        Self {
            spec,
            new_metric,
            series: Arc::new(RwLock::new(Vec::new())),
        }
    }

    /// The handle of the series with these label values (one per label of the spec, same
    /// order), created on first use. Cold path: callers cache the returned handle.
    pub(crate) fn get_or_create(&self, values: &[&str]) -> M {
        debug_assert_eq!(values.len(), self.spec.labels.len(), "{}", self.spec.name);
        let matches = |labels: &Labels| {
            labels.len() == values.len() && labels.iter().zip(values).all(|((_, v), w)| v == w)
        };
        if let Some((_, m)) = self.series.read().iter().find(|(l, _)| matches(l)) {
            return m.clone();
        }
        let mut series = self.series.write();
        if let Some((_, m)) = series.iter().find(|(l, _)| matches(l)) {
            return m.clone();
        }
        let metric = (self.new_metric)();
        if series.len() >= MAX_SERIES_PER_METRIC {
            tracing::warn!(
                metric = self.spec.name,
                limit = MAX_SERIES_PER_METRIC,
                "metric series limit reached; new label set not exported"
            );
            return metric;
        }
        let labels = self
            .spec
            .labels
            .iter()
            .zip(values)
            .map(|(k, v)| (*k, (*v).to_owned()))
            .collect();
        series.push((labels, metric.clone()));
        metric
    }
}

impl<M> EncodeMetric for SeriesFamily<M>
where
    M: EncodeMetric + TypedMetric,
{
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        // The read lock is held only while writing this metric's lines; writers (series
        // creation) never call back into encoding, so there is no lock-order cycle.
        let series = self.series.read();
        for (labels, metric) in series.iter() {
            metric.encode(encoder.encode_family(labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        M::TYPE
    }

    fn is_empty(&self) -> bool {
        self.series.read().is_empty()
    }
}

/// How one series is written in the JSON export.
pub(crate) trait JsonSample {
    fn write_json(&self, sample: &mut Map<String, Value>);
}

impl JsonSample for Counter {
    fn write_json(&self, sample: &mut Map<String, Value>) {
        sample.insert("value".into(), json!(self.get()));
    }
}

impl JsonSample for Gauge {
    fn write_json(&self, sample: &mut Map<String, Value>) {
        sample.insert("value".into(), json!(self.get()));
    }
}

impl JsonSample for AtomicHistogram {
    fn write_json(&self, sample: &mut Map<String, Value>) {
        let snapshot = self.snapshot();
        sample.insert("count".into(), json!(snapshot.count));
        sample.insert("sum".into(), json!(snapshot.sum));
        let buckets = snapshot
            .buckets
            .iter()
            .map(|(le, count)| json!({ "le": le, "count": count }))
            .collect();
        sample.insert("buckets".into(), Value::Array(buckets));
    }
}

/// Type-erased access for the JSON exporter.
pub(crate) trait JsonFamily: Send + Sync {
    fn samples(&self) -> Vec<Value>;
}

impl<M> JsonFamily for SeriesFamily<M>
where
    M: JsonSample + Send + Sync,
{
    fn samples(&self) -> Vec<Value> {
        self.series
            .read()
            .iter()
            .map(|(labels, metric)| {
                let label_map: Map<String, Value> = labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
                    .collect();
                let mut sample = Map::new();
                sample.insert("labels".into(), Value::Object(label_map));
                metric.write_json(&mut sample);
                Value::Object(sample)
            })
            .collect()
    }
}

/// The metric families, shared (by `Arc`) with the registry that encodes them.
pub(crate) struct Families {
    pub(crate) warming_operations: SeriesFamily<Counter>,
    pub(crate) pairs_warmed: SeriesFamily<Counter>,
    pub(crate) warming_duration: SeriesFamily<AtomicHistogram>,
    pub(crate) debounced: SeriesFamily<Counter>,
    pub(crate) dropped: SeriesFamily<Counter>,
    pub(crate) warming_errors: SeriesFamily<Counter>,
    pub(crate) pending: SeriesFamily<Gauge>,
    pub(crate) shadow_predictions: SeriesFamily<Counter>,
    pub(crate) shadow_hits: SeriesFamily<Counter>,
    pub(crate) warming_enabled: SeriesFamily<Gauge>,
    pub(crate) shadow_mode: SeriesFamily<Gauge>,
    pub(crate) tracking_duration: SeriesFamily<AtomicHistogram>,
    pub(crate) pairs_tracked: SeriesFamily<Gauge>,
    pub(crate) pairs_capacity: SeriesFamily<Gauge>,
    pub(crate) pairs_evicted: SeriesFamily<Counter>,
    pub(crate) cache_hits: SeriesFamily<Counter>,
    pub(crate) cache_misses: SeriesFamily<Counter>,
    pub(crate) cache_entries: SeriesFamily<Gauge>,
    pub(crate) cache_size_bytes: SeriesFamily<Gauge>,
    pub(crate) l2_reachable: SeriesFamily<Gauge>,
    pub(crate) price_updates: SeriesFamily<Counter>,
    pub(crate) opportunities: SeriesFamily<Counter>,
    pub(crate) stream_processed: SeriesFamily<Counter>,
    pub(crate) stream_dead_letter: SeriesFamily<Counter>,
    pub(crate) stream_dead_letter_reasons: SeriesFamily<Counter>,
    pub(crate) stream_bad_updates: SeriesFamily<Counter>,
    pub(crate) stream_signature_failures: SeriesFamily<Counter>,
    pub(crate) stream_dead_letter_refused: SeriesFamily<Counter>,
    pub(crate) stream_lag: SeriesFamily<Gauge>,
    pub(crate) l2_write_failures: SeriesFamily<Counter>,
    pub(crate) l1_coherent: SeriesFamily<Gauge>,
    pub(crate) l1_invalidations: SeriesFamily<Counter>,
    pub(crate) l1_invalidation_drops: SeriesFamily<Counter>,
    pub(crate) l1_refetches: SeriesFamily<Counter>,
    pub(crate) l1_coherence_resets: SeriesFamily<Counter>,
}

#[cfg(test)]
mod tests {
    use super::*;

    static SPEC: MetricSpec = MetricSpec {
        name: "x_total",
        kind: MetricKind::Counter,
        labels: &["chain"],
        help: "test",
    };

    #[test]
    fn same_labels_share_one_series() {
        let family: SeriesFamily<Counter> = SeriesFamily::new(&SPEC, Counter::default);
        family.get_or_create(&["a"]).inc();
        family.get_or_create(&["a"]).inc();
        family.get_or_create(&["b"]).inc();
        let samples = family.samples();
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0]["value"], 2);
        assert_eq!(samples[0]["labels"]["chain"], "a");
        assert_eq!(samples[1]["value"], 1);
    }

    #[test]
    fn series_count_is_capped() {
        let family: SeriesFamily<Counter> = SeriesFamily::new(&SPEC, Counter::default);
        for i in 0..MAX_SERIES_PER_METRIC + 10 {
            family.get_or_create(&[&i.to_string()]).inc();
        }
        assert_eq!(family.samples().len(), MAX_SERIES_PER_METRIC);
    }

    #[test]
    fn registry_name_drops_total_for_counters_only() {
        assert_eq!(SPEC.registry_name(), "x");
        let gauge = MetricSpec {
            kind: MetricKind::Gauge,
            ..SPEC
        };
        assert_eq!(gauge.registry_name(), "x_total");
    }
}
