//! The price feed: where updates come from and how a stream entry travels from Redis to
//! its acknowledgement. Read top to bottom:
//!
//! 1. `consume`: the read loop. Connect, read a batch (the next one is read while this
//!    one is processed), reconnect with backoff on errors.
//! 2. `batch`: one batch. Sort the entries into price updates and dead letters, run the
//!    [`Processor`](crate::processor::Processor), publish the opportunities
//!    (`publish`), acknowledge the processed entries, dead-letter the rest.
//! 3. [`consumer`]: the Redis commands (`XREADGROUP`, `XAUTOCLAIM`, `XACK`, dead-letter
//!    `XADD`, `XINFO`) on the consumer's own connections.
//!
//! Without Redis, the [`synthetic`] feed drives the same processor; with
//! `PAIRWARM_FEED=none` nothing does and the embedding program calls
//! [`Service::process`](crate::Service::process).

mod batch;
mod consume;
pub mod consumer;
pub mod dead_letter;
mod publish;
mod refused;
#[cfg(feature = "synthetic")]
pub mod synthetic;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::watch;

use crate::Service;
use crate::config::FeedSource;
use crate::stream::ReplyError;

/// Why the feed stopped.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// A Redis command failed.
    #[error("{command}: {source}")]
    Redis {
        /// The command.
        command: &'static str,
        /// The error.
        source: redis::RedisError,
    },
    /// Redis answered something that is not a stream reply.
    #[error(transparent)]
    Reply(#[from] ReplyError),
    /// The synthetic feed could not start.
    #[error("synthetic feed: {0}")]
    Synthetic(String),
    /// Redis refused this many dead-letter copies; their entries stay pending.
    #[error(
        "{0} dead-letter copies were refused by Redis; those entries stay pending and are retried"
    )]
    DeadLetterRefused(usize),
    /// The feed task panicked.
    #[error("feed task panicked: {0}")]
    Panicked(String),
}

impl FeedError {
    pub(crate) fn redis(command: &'static str) -> impl FnOnce(redis::RedisError) -> Self {
        move |source| Self::Redis { command, source }
    }
}

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

/// Marks the feed stopped when its task ends, including by a panic, so `/ready` and the
/// shutdown wait see it.
struct EndGuard(Service);

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.0.inner.set_feed_running(false);
        self.0.inner.stats.ended.store(true, Ordering::Release);
    }
}

/// Runs the configured feed until `stop` turns true (or it ends by itself).
pub(crate) async fn run(service: Service, stop: watch::Receiver<bool>) -> Result<(), FeedError> {
    match service.inner.feed {
        FeedSource::None | FeedSource::Auto => Ok(()),
        FeedSource::Redis => {
            let _guard = EndGuard(service.clone());
            consume::run(&service, stop).await
        }
        FeedSource::Synthetic => {
            let _guard = EndGuard(service.clone());
            run_synthetic(&service, stop).await
        }
    }
}

#[cfg(feature = "synthetic")]
async fn run_synthetic(service: &Service, stop: watch::Receiver<bool>) -> Result<(), FeedError> {
    service.inner.set_feed_running(true);
    let feed = service.inner.config.lock().feed.clone();
    synthetic::run(
        &service.inner.processor,
        feed.synthetic_rate,
        feed.synthetic_seed,
        feed.max_updates,
        stop,
    )
    .await
}

#[cfg(not(feature = "synthetic"))]
async fn run_synthetic(_: &Service, _: watch::Receiver<bool>) -> Result<(), FeedError> {
    Err(FeedError::Synthetic(
        "built without the `synthetic` feature: set REDIS_URL or PAIRWARM_FEED=none".into(),
    ))
}
