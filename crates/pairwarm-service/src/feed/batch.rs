//! One batch of stream entries: sort, process, publish, acknowledge, dead-letter.
//!
//! Every entry leaves the batch one way: processed and acknowledged, or copied to the
//! dead-letter stream and acknowledged, or (when Redis refuses the copy) left pending.

use std::collections::HashMap;
use std::time::Instant;

use pairwarm::metrics::DeadLetterReason;

use super::FeedError;
use super::consumer::{DeadLetter, StreamConsumer};
use super::publish;
use crate::Service;
use crate::entry::{PriceUpdate, parse_entry};
use crate::stream::RawEntry;

/// Handles one batch read from the streams.
///
/// # Errors
/// When an acknowledgement fails, or dead-letter copies are refused: what is not
/// acknowledged stays pending and is read again after a reconnect.
pub(super) async fn handle(
    service: &Service,
    consumer: &mut StreamConsumer,
    batch: &[RawEntry],
) -> Result<(), FeedError> {
    let inner = &service.inner;
    let received = Instant::now();
    let mut updates: Vec<PriceUpdate> = Vec::with_capacity(batch.len());
    let mut good: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut letters: Vec<DeadLetter<'_>> = Vec::new();
    for entry in batch {
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
    let dead = copied.iter().filter(|c| **c).count() as u64;
    let n = good.values().map(|ids| ids.len() as u64).sum::<u64>() + dead;
    inner.stats.record_batch(received, n);
    inner
        .stats
        .dead_lettered
        .fetch_add(dead, std::sync::atomic::Ordering::Relaxed);
    if let Some(m) = &inner.metrics {
        m.stream().entries_processed.inc_by(n);
        for (l, _) in letters.iter().zip(&copied).filter(|(_, c)| **c) {
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
    let refused = letters.len() - dead as usize;
    if refused > 0 {
        return Err(FeedError::DeadLetterRefused(refused));
    }
    Ok(())
}
