//! What the feed did: counters for the health document and the status line, and the
//! end-to-end figures of a Redis run. The feed writes them, everything else reads them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use crate::config::FeedSource;

/// What the feed did, for the health document, the status line and the final summary.
pub(crate) struct FeedStats {
    /// Running now (reading, or for `PAIRWARM_FEED=none`: the service runs).
    pub(crate) running: AtomicBool,
    /// The feed task has ended, however it ended (even by a panic).
    pub(crate) ended: AtomicBool,
    /// Entries of the group not yet delivered or not yet acknowledged.
    pub(crate) lag: AtomicU64,
    /// Entries acknowledged (processed or dead-lettered).
    pub(crate) processed: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    /// Dead-letter copies Redis refused (each retry that fails counts again).
    pub(crate) dead_letter_refusals: AtomicU64,
    /// Entries whose refused dead-letter copy waits for a retry (pending in the group).
    pub(crate) dead_letters_waiting: AtomicU64,
    pub(crate) published: AtomicU64,
    /// Read-to-ack time of each stream entry, µs (every entry of a batch counts once).
    latency: parking_lot::Mutex<Option<hdrhistogram::Histogram<u64>>>,
    /// First and last time a batch was acknowledged (for the end-to-end rate).
    busy: parking_lot::Mutex<Option<(Instant, Instant)>>,
}

impl Default for FeedStats {
    fn default() -> Self {
        Self {
            running: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            lag: AtomicU64::new(0),
            processed: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            dead_letter_refusals: AtomicU64::new(0),
            dead_letters_waiting: AtomicU64::new(0),
            published: AtomicU64::new(0),
            latency: parking_lot::Mutex::new(
                hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3).ok(),
            ),
            busy: parking_lot::Mutex::new(None),
        }
    }
}

/// End-to-end figures of a Redis run.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamSummary {
    /// Entries acknowledged.
    pub entries: u64,
    /// From the first to the last acknowledged batch.
    pub seconds: f64,
    /// `entries / seconds`.
    pub per_second: f64,
    /// Read-to-ack latency per entry, µs: median, 99th percentile, maximum.
    pub latency_us: (u64, u64, u64),
}

impl FeedStats {
    /// Counts `n` entries acknowledged now, read at `received`.
    pub(crate) fn record_batch(&self, received: Instant, n: u64) {
        let done = Instant::now();
        let micros = (done - received).as_micros().max(1) as u64;
        if let Some(h) = self.latency.lock().as_mut() {
            let _ = h.record_n(micros.min(60_000_000), n);
        }
        let mut busy = self.busy.lock();
        let first = busy.map_or(received, |(first, _)| first);
        *busy = Some((first, done));
        drop(busy);
        self.processed.fetch_add(n, Ordering::Relaxed);
    }

    /// The run's figures, if any batch was acknowledged.
    pub(crate) fn summary(&self) -> Option<StreamSummary> {
        let (first, last) = (*self.busy.lock())?;
        let entries = self.processed.load(Ordering::Relaxed);
        let seconds = (last - first).as_secs_f64().max(1e-6);
        let latency_us = self.latency.lock().as_ref().map_or((0, 0, 0), |h| {
            (h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.max())
        });
        Some(StreamSummary {
            entries,
            seconds,
            per_second: entries as f64 / seconds,
            latency_us,
        })
    }

    /// The `stream` object of the health document.
    pub(crate) fn health_json(&self, source: FeedSource) -> serde_json::Value {
        serde_json::json!({
            "mode": match source {
                FeedSource::Redis => "redis",
                FeedSource::Synthetic => "synthetic",
                FeedSource::None | FeedSource::Auto => "external",
            },
            "lag": self.lag.load(Ordering::Relaxed),
            "processed": self.processed.load(Ordering::Relaxed),
            "deadLettered": self.dead_lettered.load(Ordering::Relaxed),
            "deadLetterRefusals": self.dead_letter_refusals.load(Ordering::Relaxed),
            "deadLettersWaiting": self.dead_letters_waiting.load(Ordering::Relaxed),
            "feedRunning": self.running.load(Ordering::Relaxed),
        })
    }
}
