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
    /// Entries processed (not dead-lettered) and acknowledged.
    pub(crate) good_entries: AtomicU64,
    /// Entries dead-lettered for their signature (`unsigned`, `bad_signature`).
    pub(crate) signature_failures: AtomicU64,
    /// Updates refused inside good batch envelopes.
    pub(crate) bad_updates: AtomicU64,
    /// Counter samples of the last [`FEED_WINDOW`], for the health document.
    window: parking_lot::Mutex<std::collections::VecDeque<FeedSample>>,
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
            good_entries: AtomicU64::new(0),
            signature_failures: AtomicU64::new(0),
            bad_updates: AtomicU64::new(0),
            window: parking_lot::Mutex::default(),
            latency: parking_lot::Mutex::new(
                hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3).ok(),
            ),
            busy: parking_lot::Mutex::new(None),
        }
    }
}

/// How far back the feed's health looks.
pub(crate) const FEED_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

/// The feed counters at one time.
#[derive(Clone, Copy, Debug, Default)]
struct FeedSample {
    at: Option<Instant>,
    good: u64,
    dead: u64,
    signature: u64,
    bad_updates: u64,
    lag: u64,
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

    fn now(&self, at: Instant) -> FeedSample {
        FeedSample {
            at: Some(at),
            good: self.good_entries.load(Ordering::Relaxed),
            dead: self.dead_lettered.load(Ordering::Relaxed),
            signature: self.signature_failures.load(Ordering::Relaxed),
            bad_updates: self.bad_updates.load(Ordering::Relaxed),
            lag: self.lag.load(Ordering::Relaxed),
        }
    }

    /// Adds a sample of the counters; drops those older than [`FEED_WINDOW`].
    pub(crate) fn sample(&self, at: Instant) {
        let sample = self.now(at);
        let mut window = self.window.lock();
        window.push_back(sample);
        while window
            .front()
            .and_then(|s| s.at)
            .is_some_and(|t| at.duration_since(t) > FEED_WINDOW)
        {
            window.pop_front();
        }
    }

    /// Why the feed is degraded, judged over the last [`FEED_WINDOW`] (since the start
    /// while the window is young): most entries dead-lettered (or most updates refused
    /// inside envelopes), signature failures, or nothing processed while the backlog grew.
    pub(crate) fn degradations(&self, source: FeedSource) -> Vec<String> {
        if source != FeedSource::Redis {
            return Vec::new();
        }
        let now = self.now(Instant::now());
        let base = self.window.lock().front().copied().unwrap_or_default();
        let good = now.good.saturating_sub(base.good);
        let dead = now.dead.saturating_sub(base.dead);
        let signature = now.signature.saturating_sub(base.signature);
        let bad_updates = now.bad_updates.saturating_sub(base.bad_updates);
        let mut out = Vec::new();
        if dead > 0 && dead >= good {
            out.push(format!(
                "{dead} of the last {} stream entries were dead-lettered (see stream_dead_letter_reasons_total)",
                dead + good
            ));
        }
        if signature > 0 {
            out.push(format!(
                "{signature} entries failed signature verification (unsigned or bad sig: check STREAM_SIGNING_KEY on both sides)"
            ));
        }
        if bad_updates > 0 && good == 0 {
            out.push(format!(
                "{bad_updates} updates refused inside batch envelopes and no entry processed"
            ));
        }
        let span = base
            .at
            .map_or(0, |t| now.at.map_or(0, |n| n.duration_since(t).as_secs()));
        if good == 0 && dead == 0 && span >= FEED_WINDOW.as_secs() / 2 && now.lag > base.lag {
            out.push(format!(
                "no stream entry processed in the last {span} s while the backlog grew from {} to {}",
                base.lag, now.lag
            ));
        }
        out
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
            "signatureFailures": self.signature_failures.load(Ordering::Relaxed),
            "badUpdates": self.bad_updates.load(Ordering::Relaxed),
            "deadLetterRefusals": self.dead_letter_refusals.load(Ordering::Relaxed),
            "deadLettersWaiting": self.dead_letters_waiting.load(Ordering::Relaxed),
            "feedRunning": self.running.load(Ordering::Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Counters as they were `ago` before now, then as they are now.
    fn stats_after(ago: Duration, then: [u64; 4], now: [u64; 4]) -> FeedStats {
        let stats = FeedStats::default();
        let set = |[good, dead, signature, lag]: [u64; 4]| {
            stats.good_entries.store(good, Ordering::Relaxed);
            stats.dead_lettered.store(dead, Ordering::Relaxed);
            stats.signature_failures.store(signature, Ordering::Relaxed);
            stats.lag.store(lag, Ordering::Relaxed);
        };
        set(then);
        stats.sample(Instant::now() - ago);
        set(now);
        stats
    }

    fn reasons(stats: &FeedStats) -> String {
        stats.degradations(FeedSource::Redis).join("; ")
    }

    #[test]
    fn most_entries_dead_lettered_is_degraded_a_few_is_not() {
        let s = stats_after(Duration::from_secs(2), [10, 0, 0, 0], [11, 3, 0, 0]);
        assert_eq!(
            reasons(&s),
            "3 of the last 4 stream entries were dead-lettered (see stream_dead_letter_reasons_total)"
        );
        let s = stats_after(Duration::from_secs(2), [10, 0, 0, 0], [13, 1, 0, 0]);
        assert_eq!(reasons(&s), "");
    }

    #[test]
    fn any_signature_failure_is_degraded() {
        let s = stats_after(Duration::from_secs(2), [0, 0, 0, 0], [99, 1, 1, 0]);
        assert!(
            reasons(&s).starts_with("1 entries failed signature verification"),
            "{}",
            reasons(&s)
        );
    }

    #[test]
    fn a_stalled_feed_with_a_growing_backlog_is_degraded() {
        let s = stats_after(Duration::from_secs(6), [50, 0, 0, 10], [50, 0, 0, 900]);
        assert_eq!(
            reasons(&s),
            "no stream entry processed in the last 6 s while the backlog grew from 10 to 900"
        );
        // Progress, an idle stream, or too short a look: not degraded.
        for (then, now) in [
            ([50, 0, 0, 10], [51, 0, 0, 900]),
            ([50, 0, 0, 10], [50, 0, 0, 10]),
        ] {
            let s = stats_after(Duration::from_secs(6), then, now);
            assert_eq!(reasons(&s), "");
        }
        let s = stats_after(Duration::from_secs(1), [50, 0, 0, 10], [50, 0, 0, 900]);
        assert_eq!(reasons(&s), "");
    }

    #[test]
    fn only_a_redis_feed_is_judged() {
        let s = stats_after(Duration::from_secs(6), [0, 0, 0, 0], [0, 9, 9, 900]);
        assert!(s.degradations(FeedSource::Synthetic).is_empty());
        assert!(!s.degradations(FeedSource::Redis).is_empty());
    }
}
