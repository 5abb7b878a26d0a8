//! [`Service::run`]: start the tasks, wait for the shutdown signal (or the feed's end),
//! stop gracefully within `PAIRWARM_SHUTDOWN_TIMEOUT`.
//!
//! Tasks: the feed (Redis streams or synthetic, see [`crate::feed`]), the HTTP endpoints,
//! and one background timer that checks L2, prints the status line and saves snapshots.
//! Shutdown order: stop reading, finish and acknowledge the batch in hand, drain the warm
//! queue, save the tracker snapshot, close HTTP.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use pairwarm::cache::{RedisL2, RedisL2Config};
use tokio::sync::watch;

use super::{Service, ServiceError};
use crate::config::FeedSource;
use crate::feed::{self, FeedError};
use crate::shared::Shared;
use crate::stats::StreamSummary;
use crate::{snapshot, status};

/// How often the background timer runs (L2 check, health sample; status and snapshot when
/// due).
const TICK: Duration = Duration::from_millis(500);

/// What a finished run did.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// Updates processed by the pipeline.
    pub updates: u64,
    /// Stream figures (Redis feed only): entries/s and read-to-ack latency.
    pub stream: Option<StreamSummary>,
}

impl Service {
    /// Runs until `shutdown` completes (or the feed ends by itself, e.g. after
    /// `PAIRWARM_MAX_UPDATES`), then stops gracefully.
    ///
    /// # Errors
    /// [`ServiceError::Feed`] when the feed stopped with an error (after the graceful
    /// stop), so a supervisor sees a service whose feed died exit with an error;
    /// [`ServiceError::L2`] at once when Redis refuses this client for good (wrong
    /// password, TLS that does not verify). A Redis that is merely unreachable at start is
    /// waited for (the service starts unready).
    pub async fn run(
        &self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<RunSummary, ServiceError> {
        let inner = &self.inner;
        let probe = inner.config.lock().redis_target().map(RedisL2Config::new);
        if let Some(probe) = probe
            && inner.redis.is_some()
            && let Err(e) = RedisL2::probe(&probe).await
        {
            if e.is_permanent() {
                return Err(e.into());
            }
            tracing::warn!(error = %e, "Redis not reachable at start; serving unready until it is");
            inner.l2_ok.store(false, Ordering::Relaxed);
        }
        snapshot::restore(inner).await;
        let (stop_tx, stop_rx) = watch::channel(false);
        let http = self.spawn_http(&stop_rx);
        let feed = tokio::spawn(feed::run(inner.clone(), stop_rx.clone()));
        if inner.feed == FeedSource::None {
            inner.set_feed_running(true);
        }
        inner.refresh_ready();
        inner.sample_health();
        let refresh = tokio::spawn(refresh_ahead(inner.clone(), stop_rx.clone()));
        let background = tokio::spawn(background(inner.clone(), stop_rx));

        tokio::select! {
            () = shutdown => {}
            () = feed_finished(inner) => {}
        }
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        let deadline = inner.config.lock().shutdown_timeout;
        let mut feed_failed = None;
        let graceful = async {
            feed_failed = match feed.await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(e) => Some(FeedError::Panicked(e.to_string())),
            };
            inner.parts.warmer.drain(Duration::from_secs(2)).await;
            inner.parts.warmer.shutdown();
            snapshot::save(inner).await;
            let _ = refresh.await;
            let _ = background.await;
            if let Some(http) = http {
                let _ = http.await;
            }
        };
        if tokio::time::timeout(deadline, graceful).await.is_err() {
            tracing::warn!(
                ?deadline,
                "graceful shutdown took too long; stopping anyway"
            );
        }
        if inner.feed == FeedSource::None {
            inner.set_feed_running(false);
        }
        status::log_final(inner);
        if let Some(e) = feed_failed {
            return Err(e.into());
        }
        Ok(RunSummary {
            updates: inner.processor.counters.updates.load(Ordering::Relaxed),
            stream: inner.stats.summary(),
        })
    }

    #[cfg(feature = "http")]
    fn spawn_http(
        &self,
        stop: &watch::Receiver<bool>,
    ) -> Option<tokio::task::JoinHandle<std::io::Result<()>>> {
        let listener = self.inner.listener.lock().take()?;
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "HTTP listener unusable; serving without HTTP");
                return None;
            }
        };
        let router = self.router();
        let limits = crate::http::ServerLimits::from_settings(&self.inner.config.lock().http);
        let mut stop = stop.clone();
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        Some(tokio::spawn(crate::http::serve(
            listener, router, limits, shutdown,
        )))
    }

    #[cfg(not(feature = "http"))]
    fn spawn_http(
        &self,
        _stop: &watch::Receiver<bool>,
    ) -> Option<tokio::task::JoinHandle<std::io::Result<()>>> {
        None
    }
}

/// Refresh-ahead while L1 has a TTL (`CACHE_L1_TTL_MS`): every `interval_ms`, one batched
/// L2 fetch renews the entries being read that would expire before the next batch.
async fn refresh_ahead(inner: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    if inner.cache.l1_ttl_ms().is_none() {
        return;
    }
    let config = pairwarm::warmer::RefreshConfig::default();
    // Slack for the fetch itself: a Redis round trip is well under this.
    const L2_LATENCY_MARGIN_MS: u64 = 5;
    let mut tick = tokio::time::interval(Duration::from_millis(config.interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                inner.parts.warmer.refresh_once(&config, L2_LATENCY_MARGIN_MS).await;
            }
            _ = stop.changed() => return,
        }
    }
}

/// Resolves once the feed has stopped by itself, or `PAIRWARM_MAX_UPDATES` is reached.
async fn feed_finished(inner: &Shared) {
    let max = inner.config.lock().feed.max_updates;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if inner.stats.ended.load(Ordering::Acquire) {
            return;
        }
        if max.is_some_and(|max| inner.handled_updates() >= max) {
            return;
        }
    }
}

/// L2 checks and health samples every tick; the status line and snapshots when due.
async fn background(inner: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let (status_every, snapshot_every) = {
        let c = inner.config.lock();
        (c.status_interval, c.snapshot.interval)
    };
    let mut window = status::Window::default();
    let mut next_status = Instant::now() + status_every;
    let mut next_snapshot = Instant::now() + snapshot_every;
    loop {
        tokio::select! {
            () = tokio::time::sleep(TICK) => {}
            _ = stop.changed() => return,
        }
        check_l2(&inner).await;
        inner.sample_health();
        if !status_every.is_zero() && Instant::now() >= next_status {
            next_status += status_every;
            status::log(&inner, &mut window);
        }
        if !snapshot_every.is_zero() && Instant::now() >= next_snapshot {
            next_snapshot += snapshot_every;
            snapshot::save(&inner).await;
        }
    }
}

async fn check_l2(inner: &Shared) {
    let Some(redis) = &inner.redis else {
        return;
    };
    let result = redis.ping().await;
    let ok = result.is_ok();
    if inner.l2_ok.swap(ok, Ordering::Relaxed) != ok {
        match result {
            Ok(()) => tracing::info!("Redis reachable again"),
            Err(e) => {
                tracing::warn!(error = %e, "Redis unreachable: warming degrades, L1 keeps serving")
            }
        }
        inner.refresh_ready();
    }
}
