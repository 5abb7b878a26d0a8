//! Process metrics on `/metrics`: the standard `process_*` series every Prometheus client
//! exports (resident memory, CPU seconds, file descriptors, start time, threads), the
//! figures the seed's memory troubleshooting reads (`nodejs_heap_size_used_bytes` in the
//! original; `process_resident_memory_bytes` here).
//!
//! The figures come from the `metrics-process` crate's `collect()` (a port of
//! client_golang's process collector: `/proc/self` on Linux, the platform calls on macOS and
//! Windows); prometheus-client 0.26 has no process collector of its own, and the crate's
//! default `metrics` facade is not used. Values are read at scrape time, through a
//! prometheus-client [`Collector`], so nothing runs between scrapes. Names are unprefixed,
//! as Prometheus convention has them (`METRICS_PREFIX` applies to pairwarm's own metrics).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// Every series name this collector can write (a platform may lack some: no series then).
pub const PROCESS_METRICS: [&str; 7] = [
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
    "process_threads",
];

/// The process metrics, read on every encode.
#[derive(Debug, Default)]
pub struct ProcessCollector;

impl ProcessCollector {
    /// A registry holding only this collector, to pass to `WarmingMetrics::render_with`.
    pub fn registry() -> Registry {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Self));
        registry
    }
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: Option<u64>,
) -> Result<(), std::fmt::Error> {
    let Some(value) = value else {
        return Ok(());
    };
    let metric = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let m = metrics_process::collector::collect();
        if let Some(seconds) = m.cpu_seconds_total {
            let cpu = ConstCounter::new(seconds);
            // prometheus-client appends `_total` to counters.
            cpu.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                cpu.metric_type(),
            )?)?;
        }
        let e = &mut encoder;
        gauge(
            e,
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            m.resident_memory_bytes,
        )?;
        gauge(
            e,
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes",
            m.virtual_memory_bytes,
        )?;
        gauge(
            e,
            "process_open_fds",
            "Number of open file descriptors",
            m.open_fds,
        )?;
        // 0 means unlimited: no series rather than a limit of zero.
        gauge(
            e,
            "process_max_fds",
            "Maximum number of open file descriptors",
            m.max_fds.filter(|&n| n > 0),
        )?;
        gauge(
            e,
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds",
            m.start_time_seconds,
        )?;
        gauge(
            e,
            "process_threads",
            "Number of OS threads in the process",
            m.threads,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, name: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_process_figures_are_exported_and_plausible() {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(
            &mut text,
            &ProcessCollector::registry(),
        )
        .unwrap();
        assert!(
            text.contains("# TYPE process_cpu_seconds_total counter"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE process_resident_memory_bytes gauge"),
            "{text}"
        );
        let rss = value(&text, "process_resident_memory_bytes").unwrap();
        assert!(
            rss > 1_000_000.0,
            "a test binary uses more than 1 MB: {rss}"
        );
        let fds = value(&text, "process_open_fds").unwrap();
        assert!(fds >= 3.0, "stdin, stdout, stderr at least: {fds}");
        let start = value(&text, "process_start_time_seconds").unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(start > 1.6e9 && start <= now + 1.0, "{start} vs now {now}");
        assert!(value(&text, "process_cpu_seconds_total").unwrap() >= 0.0);
        assert!(value(&text, "process_threads").unwrap() >= 1.0);
        for name in PROCESS_METRICS {
            assert!(
                value(&text, name).is_some(),
                "{name} missing on Linux:\n{text}"
            );
        }
    }
}
