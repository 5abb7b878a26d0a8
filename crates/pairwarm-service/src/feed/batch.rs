//! One batch of stream entries: sort, process, publish, acknowledge, dead-letter.
//!
//! Every entry leaves the batch one way: processed and acknowledged, or copied to the
//! dead-letter stream and acknowledged, or (when Redis refuses the copy) left pending and
//! held for a retry ([`super::refused`]) while the feed goes on.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::FeedError;
use super::consumer::{Batch, StreamConsumer};
use super::dead_letter::{DeadLetter, DeadLetterReason, record_dead_letters};
use super::publish;
use super::refused::Refused;
use crate::entry::{PriceUpdate, parse_entry};
use crate::shared::Shared;
use crate::stream::RawEntry;

/// Handles one batch read from the streams.
///
/// # Errors
/// When an acknowledgement fails (Redis unreachable): what is not acknowledged stays
/// pending and is read again after a reconnect.
pub(super) async fn handle(
    inner: &Shared,
    consumer: &mut StreamConsumer,
    batch: &Batch,
    refused: &mut Refused,
) -> Result<(), FeedError> {
    let received = Instant::now();
    let deliveries = if batch.redelivered {
        consumer.delivery_counts(&batch.entries).await?
    } else {
        HashMap::new()
    };
    let max_deliveries = inner.config.lock().feed.max_deliveries;
    let mut updates: Vec<PriceUpdate> = Vec::with_capacity(batch.entries.len());
    let mut good: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut letters: Vec<DeadLetter<'_>> = Vec::new();
    for entry in &batch.entries {
        if refused.holds(entry) {
            // Claimed back while its dead-letter copy waits for a retry: already handled.
            continue;
        }
        let delivered = deliveries
            .get(&(Arc::clone(&entry.stream), entry.id.clone()))
            .copied();
        match sort(entry, inner, delivered, max_deliveries) {
            Ok(update) => {
                updates.push(update);
                good.entry(&*entry.stream)
                    .or_default()
                    .push(entry.id.as_str());
            }
            Err(reason) => letters.push(DeadLetter { entry, reason }),
        }
    }
    let found = inner.processor.process(&updates).await;
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
    // Metrics first, the processed count last: whoever sees the count (health, tests
    // waiting for it) then also sees the metrics of the same entries.
    if let Some(m) = &inner.metrics {
        m.stream().entries_processed.inc_by(processed);
    }
    record_dead_letters(inner, &accepted);
    inner
        .stats
        .record_batch(received, processed + accepted.len() as u64);
    refused.hold(inner, &rejected);
    Ok(())
}

/// A price update to process, or why the entry goes to the dead-letter stream.
///
/// A malformed entry keeps its own reason however often it was delivered; a well-formed
/// one delivered more than `max_deliveries` times is dead-lettered as such (it keeps
/// failing its consumers, e.g. by crashing them).
fn sort(
    entry: &RawEntry,
    inner: &Shared,
    delivered: Option<u64>,
    max_deliveries: u64,
) -> Result<PriceUpdate, DeadLetterReason> {
    let fields = entry.fields.as_ref().ok_or(DeadLetterReason::Deleted)?;
    let update = parse_entry(fields)?;
    // The pipeline cannot intern a chain beyond the interner's chain limit and would skip
    // the update: dead-letter it instead of acknowledging it as processed.
    update.chain_id(inner.cache.interner())?;
    match delivered {
        Some(deliveries) if deliveries > max_deliveries => Err(DeadLetterReason::MaxDeliveries {
            deliveries,
            max: max_deliveries,
        }),
        _ => Ok(update),
    }
}
