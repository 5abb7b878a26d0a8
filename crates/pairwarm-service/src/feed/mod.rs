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
mod dead_consumers;
pub mod dead_letter;
mod identity;
mod publish;
mod refused;
#[cfg(feature = "synthetic")]
pub mod synthetic;

use std::sync::atomic::Ordering;

use tokio::sync::watch;

use std::sync::Arc;

use pairwarm::cache::{RedisErrorClass, classify_redis_error};

use crate::config::FeedSource;
use crate::shared::Shared;
use crate::stream::ReplyError;

/// Entries larger than this are read cut: the largest accepted `data` document and room
/// for the entry's other fields (used by the reader's setup and by the batch's triage).
fn whole_entry_bytes(feed: &crate::config::FeedSettings) -> usize {
    feed.max_entry_bytes
        .saturating_add(consumer::ENTRY_OVERHEAD_BYTES)
}

/// Why the feed stopped.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// A Redis command failed in a way that may go away (the feed reconnects and retries).
    #[error("{command}: {source}")]
    Redis {
        /// The command.
        command: &'static str,
        /// The error.
        source: redis::RedisError,
    },
    /// Redis refused in a way that retrying cannot fix (wrong password, a stream key of
    /// another type, TLS that does not verify): the feed stops and the service exits.
    #[error("{command} refused: {hint} ({source})")]
    Refused {
        /// The command.
        command: &'static str,
        /// What to check.
        hint: &'static str,
        /// The error.
        source: redis::RedisError,
    },
    /// The consumer name cannot be used (its state file is held by another instance).
    #[error("consumer name: {0}")]
    Identity(String),
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
    /// The batch's write-through to L2 failed: its entries are not acknowledged, the batch
    /// is retried with backoff.
    #[error(transparent)]
    L2Write(#[from] crate::processor::L2WriteFailed),
    /// The feed task panicked.
    #[error("feed task panicked: {0}")]
    Panicked(String),
}

impl FeedError {
    /// A failed Redis command, classified ([`classify_redis_error`]).
    pub(crate) fn redis(command: &'static str) -> impl FnOnce(redis::RedisError) -> Self {
        move |source| match classify_redis_error(&source) {
            RedisErrorClass::Permanent(why) => Self::Refused {
                command,
                hint: why.hint(),
                source,
            },
            RedisErrorClass::Transient => Self::Redis { command, source },
        }
    }

    /// Whether retrying cannot help: the feed stops instead of reconnecting.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Refused { .. } | Self::Identity(_))
    }
}

/// Marks the feed stopped when its task ends, including by a panic, so `/ready` and the
/// shutdown wait see it.
struct EndGuard(Arc<Shared>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.0.set_feed_running(false);
        self.0.stats.ended.store(true, Ordering::Release);
    }
}

/// Runs the configured feed until `stop` turns true (or it ends by itself).
pub(crate) async fn run(shared: Arc<Shared>, stop: watch::Receiver<bool>) -> Result<(), FeedError> {
    match shared.feed {
        FeedSource::None | FeedSource::Auto => Ok(()),
        FeedSource::Redis => {
            let _guard = EndGuard(shared.clone());
            consume::run(&shared, stop).await
        }
        FeedSource::Synthetic => {
            let _guard = EndGuard(shared.clone());
            run_synthetic(&shared, stop).await
        }
    }
}

#[cfg(feature = "synthetic")]
async fn run_synthetic(shared: &Shared, stop: watch::Receiver<bool>) -> Result<(), FeedError> {
    shared.set_feed_running(true);
    let feed = shared.config.lock().feed.clone();
    synthetic::run(
        &shared.processor,
        feed.synthetic_rate,
        feed.synthetic_seed,
        feed.max_updates,
        stop,
    )
    .await
}

#[cfg(not(feature = "synthetic"))]
async fn run_synthetic(_: &Shared, _: watch::Receiver<bool>) -> Result<(), FeedError> {
    Err(FeedError::Synthetic(
        "built without the `synthetic` feature: set REDIS_URL or PAIRWARM_FEED=none".into(),
    ))
}
