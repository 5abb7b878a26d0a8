//! The read loop of the Redis feed: connect, read batches, hand each to [`super::batch`],
//! reconnect with backoff when Redis fails.
//!
//! Entries are acknowledged only after processing, so a failure mid-batch leaves them
//! pending and they are read again (own pending entries first) after the reconnect. A
//! batch whose L2 write-through failed is kept and processed again after a backoff
//! (doubling up to [`MAX_BACKOFF`]) before anything newer: its entries stay pending
//! meanwhile, and keeping the batch instead of re-reading it leaves their delivery counts
//! alone, so an L2 outage never turns good entries into `max_deliveries` dead letters. While
//! a batch is processed the next one is already being read (and parsed) on the consumer's
//! own connection, so Redis, parsing and processing overlap.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::FeedError;
use super::batch;
use super::consumer::{Batch, ConsumerConfig, StreamConsumer};
use super::identity::ConsumerIdentity;
use super::refused::Refused;
use crate::shared::Shared;

type Prefetch = JoinHandle<Result<Batch, FeedError>>;

/// First wait after a failure; doubled per failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The consumer's settings from the service's, under the consumer name `consumer`.
fn consumer_config(inner: &Shared, consumer: String) -> Option<ConsumerConfig> {
    let config = inner.config.lock();
    let feed = &config.feed;
    Some(ConsumerConfig {
        target: config.redis_target()?,
        streams: feed.streams.clone(),
        group: feed.group.clone(),
        consumer,
        count: feed.batch_size,
        block_ms: feed.block_ms,
        claim_idle_ms: feed.claim_idle_ms,
        claim_every: Duration::from_millis((feed.claim_idle_ms / 2).clamp(100, 30_000)),
        group_start: feed.group_start.id(),
        dead_letter_maxlen: feed.dead_letter_maxlen,
        dead_consumer_idle: feed.dead_consumer_idle,
        batch_max_bytes: feed.batch_max_bytes,
        dead_letter_max_bytes: feed.dead_letter_max_bytes,
        whole_entry_bytes: super::whole_entry_bytes(feed),
    })
}

/// `Err` (the feed stops with it) for an error retrying cannot fix; a transient one comes
/// back as `Ok`, to be logged and retried after a backoff.
fn triage(inner: &Shared, e: FeedError) -> Result<FeedError, FeedError> {
    if e.is_permanent() {
        inner.set_feed_running(false);
        tracing::error!(error = %e, "stream consumer stopped: retrying cannot fix this");
        return Err(e);
    }
    Ok(e)
}

/// Reads the streams until told to stop (or `PAIRWARM_MAX_UPDATES` updates are handled).
pub(super) async fn run(inner: &Shared, mut stop: watch::Receiver<bool>) -> Result<(), FeedError> {
    let identity = {
        let config = inner.config.lock();
        ConsumerIdentity::resolve(
            config.feed.consumer.as_deref(),
            config.snapshot.target.as_ref(),
        )
    };
    let identity = identity.inspect_err(|e| {
        tracing::error!(error = %e, "stream consumer cannot start");
    })?;
    let Some(cfg) = consumer_config(inner, identity.name.clone()) else {
        return Ok(());
    };
    let max_updates = inner.config.lock().feed.max_updates;
    let mut backoff = FIRST_BACKOFF;
    // Survives reconnects: held letters are retried on the next connection.
    let mut refused = Refused::default();
    let mut last_lag = Instant::now() - Duration::from_secs(60);
    'connect: loop {
        if *stop.borrow() {
            return Ok(());
        }
        let mut consumer = match StreamConsumer::connect(cfg.clone()).await {
            Ok(c) => {
                inner.set_feed_running(true);
                c
            }
            Err(e) => {
                let e = triage(inner, e)?;
                inner.set_feed_running(false);
                tracing::warn!(error = %e, ?backoff, "stream consumer cannot connect; retrying");
                pause(&mut backoff, &mut stop).await;
                continue 'connect;
            }
        };
        let mut prefetch: Option<Prefetch> = None;
        // A batch whose L2 write failed, to process again before anything newer.
        let mut retry: Option<Batch> = None;
        loop {
            if *stop.borrow() {
                if retry.is_some() {
                    // L2 still refuses: the batch, and what was read after it, stay
                    // pending for the next start (processing newer entries first would
                    // let an older price overwrite them later).
                    return Ok(());
                }
                // Entries already read are processed and acknowledged before stopping.
                return finish(inner, &mut consumer, prefetch, &mut refused).await;
            }
            if refused.due()
                && let Err(e) = refused.retry(inner, &mut consumer).await
            {
                let e = triage(inner, e)?;
                tracing::warn!(error = %e, ?backoff, "dead-letter retry failed; reconnecting");
                inner.set_feed_running(false);
                if let Some(ahead) = prefetch.take() {
                    let _ = ahead.await;
                }
                pause(&mut backoff, &mut stop).await;
                continue 'connect;
            }
            if last_lag.elapsed() >= Duration::from_secs(1) {
                last_lag = Instant::now();
                if let Ok(lag) = consumer.lag().await {
                    inner.stats.lag.store(lag, Ordering::Relaxed);
                    if let Some(m) = &inner.metrics {
                        m.stream().set_consumer_lag(lag);
                    }
                }
            }
            let batch = match (retry.take(), prefetch.take()) {
                (Some(again), ahead) => {
                    prefetch = ahead;
                    Ok(again)
                }
                (None, Some(ahead)) => ahead
                    .await
                    .unwrap_or_else(|e| Err(FeedError::Panicked(e.to_string()))),
                (None, None) => consumer.next_batch().await,
            };
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    let e = triage(inner, e)?;
                    tracing::warn!(error = %e, ?backoff, "stream read failed; reconnecting");
                    inner.set_feed_running(false);
                    pause(&mut backoff, &mut stop).await;
                    continue 'connect;
                }
            };
            if batch.is_empty() {
                continue;
            }
            if prefetch.is_none() && consumer.can_prefetch() && !*stop.borrow() {
                prefetch = Some(tokio::spawn(consumer.prefetch()));
            }
            if let Err(e) = batch::handle(inner, &mut consumer, &batch, &mut refused).await {
                if let FeedError::L2Write(e) = &e {
                    tracing::warn!(error = %e, ?backoff, "nothing of the batch acknowledged; it stays pending and is retried");
                    retry = Some(batch);
                    pause(&mut backoff, &mut stop).await;
                    continue;
                }
                let e = triage(inner, e)?;
                tracing::warn!(error = %e, ?backoff, "batch not fully acknowledged; what is pending is re-read after reconnecting");
                // Let a read already sent land in the pending list before recovery reads it.
                if let Some(ahead) = prefetch.take() {
                    let _ = ahead.await;
                }
                pause(&mut backoff, &mut stop).await;
                continue 'connect;
            }
            backoff = FIRST_BACKOFF;
            if max_updates.is_some_and(|max| inner.handled_updates() >= max) {
                return finish(inner, &mut consumer, prefetch, &mut refused).await;
            }
        }
    }
}

/// Processes a batch already read ahead, so nothing delivered is left for a restart.
async fn finish(
    inner: &Shared,
    consumer: &mut StreamConsumer,
    prefetch: Option<Prefetch>,
    refused: &mut Refused,
) -> Result<(), FeedError> {
    if let Some(ahead) = prefetch
        && let Ok(Ok(batch)) = ahead.await
        && !batch.is_empty()
    {
        batch::handle(inner, consumer, &batch, refused).await?;
    }
    Ok(())
}

/// Waits `backoff` (or until told to stop), then doubles it up to [`MAX_BACKOFF`]:
/// failures never spin.
async fn pause(backoff: &mut Duration, stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        () = tokio::time::sleep(*backoff) => {}
        _ = stop.changed() => {}
    }
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
}
