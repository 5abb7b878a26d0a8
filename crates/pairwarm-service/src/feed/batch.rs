//! One batch of stream entries: sort, process, publish, acknowledge, dead-letter.
//!
//! Every entry leaves the batch one way: processed and acknowledged, or copied to the
//! dead-letter stream and acknowledged, or (when Redis refuses the copy) left pending and
//! held for a retry ([`super::refused`]) while the feed goes on.

use std::collections::HashMap;
use std::time::Instant;

use pairwarm::metrics::DeadLetterReason;

use super::FeedError;
use super::consumer::{DeadLetter, StreamConsumer};
use super::publish;
use super::refused::Refused;
use crate::Service;
use crate::entry::{PriceUpdate, parse_entry};
use crate::service::Inner;
use crate::stream::RawEntry;

/// Handles one batch read from the streams.
///
/// # Errors
/// When an acknowledgement fails (Redis unreachable): what is not acknowledged stays
/// pending and is read again after a reconnect.
pub(super) async fn handle(
    service: &Service,
    consumer: &mut StreamConsumer,
    batch: &[RawEntry],
    refused: &mut Refused,
) -> Result<(), FeedError> {
    let inner = &service.inner;
    let received = Instant::now();
    let mut updates: Vec<PriceUpdate> = Vec::with_capacity(batch.len());
    let mut good: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut letters: Vec<DeadLetter<'_>> = Vec::new();
    for entry in batch {
        if refused.holds(entry) {
            // Claimed back while its dead-letter copy waits for a retry: already handled.
            continue;
        }
        match &entry.fields {
            None => letters.push(DeadLetter {
                entry,
                reason: "deleted",
                detail: "entry was deleted from the stream while pending".into(),
            }),
            Some(fields) => match parse_entry(fields) {
                // The processor cannot intern a chain beyond the interner's chain limit
                // and would skip the update; dead-letter it here instead of acknowledging
                // it as processed.
                Ok(update) if let Err(e) = inner.cache.interner().chain_id(&update.chain) => {
                    letters.push(DeadLetter {
                        entry,
                        reason: "chain_limit",
                        detail: e.to_string(),
                    });
                }
                Ok(update) => {
                    updates.push(update);
                    good.entry(&*entry.stream)
                        .or_default()
                        .push(entry.id.as_str());
                }
                Err(e) => letters.push(DeadLetter {
                    entry,
                    reason: e.reason(),
                    detail: e.to_string(),
                }),
            },
        }
    }
    let found = service.process(&updates).await;
    publish::opportunities(inner, &found).await;
    // The good entries are processed: acknowledge them whatever happens to the bad ones.
    for (stream, ids) in &good {
        consumer.ack(stream, ids).await?;
    }
    let copied = consumer.dead_letter(&letters).await?;
    let (accepted, rejected): (Vec<_>, Vec<_>) =
        letters.iter().zip(&copied).partition(|(_, ok)| **ok);
    let accepted: Vec<&DeadLetter<'_>> = accepted.into_iter().map(|(l, _)| l).collect();
    let rejected: Vec<&DeadLetter<'_>> = rejected.into_iter().map(|(l, _)| l).collect();
    let processed = good.values().map(|ids| ids.len() as u64).sum::<u64>();
    inner
        .stats
        .record_batch(received, processed + accepted.len() as u64);
    if let Some(m) = &inner.metrics {
        m.stream().entries_processed.inc_by(processed);
    }
    record_dead_letters(inner, &accepted);
    refused.hold(inner, &rejected);
    Ok(())
}

/// Counts dead letters whose copy Redis accepted (their entries are acknowledged).
pub(super) fn record_dead_letters(inner: &Inner, copied: &[&DeadLetter<'_>]) {
    inner
        .stats
        .dead_lettered
        .fetch_add(copied.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let Some(m) = &inner.metrics else {
        return;
    };
    m.stream().entries_processed.inc_by(copied.len() as u64);
    for l in copied {
        let reason = if l.entry.fields.is_none() {
            DeadLetterReason::Trimmed
        } else if l.reason == "chain_limit" {
            DeadLetterReason::Other
        } else {
            DeadLetterReason::Malformed
        };
        m.stream().dead_letter(reason).inc();
    }
}
