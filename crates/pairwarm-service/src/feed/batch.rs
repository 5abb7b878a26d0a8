//! One batch of stream entries: sort, process, publish, acknowledge, dead-letter.
//!
//! Every entry leaves the batch one way: processed and acknowledged, or copied to the
//! dead-letter stream and acknowledged, or (when Redis refuses the copy) left pending and
//! held for a retry ([`super::refused`]) while the feed goes on. A batch envelope of the
//! original is one entry: all its updates are processed together and it is acknowledged
//! once; updates refused inside it are counted and a few are sampled to the dead-letter
//! stream, but the envelope itself is not copied.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::FeedError;
use super::consumer::{Batch, StreamConsumer};
use super::dead_letter::{
    DeadLetter, DeadLetterReason, Sample, record_bad_updates, record_dead_letters,
};
use super::publish;
use super::refused::Refused;
use crate::entry::{BadUpdates, EntryFormat, PriceUpdate, parse_entry};
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
    let mut samples: Vec<Sample<'_>> = Vec::new();
    let mut bad = BadUpdates::default();
    let mut bad_total = BadUpdates::default();
    for entry in &batch.entries {
        if refused.holds(entry) {
            // Claimed back while its dead-letter copy waits for a retry: already handled.
            continue;
        }
        let delivered = deliveries
            .get(&(Arc::clone(&entry.stream), entry.id.clone()))
            .copied();
        let before = updates.len();
        bad.clear();
        match sort(
            entry,
            inner,
            delivered,
            max_deliveries,
            &mut updates,
            &mut bad,
        ) {
            Ok(()) => {
                good.entry(&*entry.stream)
                    .or_default()
                    .push(entry.id.as_str());
                if !bad.is_empty() {
                    samples.extend(bad.samples.drain(..).map(|(index, error)| Sample {
                        entry,
                        index,
                        error,
                    }));
                    merge(&mut bad_total, &bad);
                }
            }
            Err(reason) => {
                updates.truncate(before);
                letters.push(DeadLetter { entry, reason });
            }
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
    // waiting for it) then also sees the metrics (and dead-letter samples) of the same
    // entries.
    inner
        .stats
        .good_entries
        .fetch_add(processed, Ordering::Relaxed);
    if let Some(m) = &inner.metrics {
        m.stream().entries_processed.inc_by(processed);
    }
    record_dead_letters(inner, &accepted);
    if !samples.is_empty() || !bad_total.is_empty() {
        record_bad_updates(inner, &bad_total);
        // A sample is for the operator's eyes: losing it must not stop the feed.
        if let Err(e) = consumer.dead_letter_samples(&samples).await {
            tracing::debug!(error = %e, "bad-update samples not copied to the dead-letter stream");
        }
    }
    inner
        .stats
        .record_batch(received, processed + accepted.len() as u64);
    refused.hold(inner, &rejected);
    Ok(())
}

/// Adds `from`'s counts to `into` (samples are kept separately, per entry).
fn merge(into: &mut BadUpdates, from: &BadUpdates) {
    for &(reason, n) in &from.counts {
        match into.counts.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, total)) => *total += n,
            None => into.counts.push((reason, n)),
        }
    }
}

/// Appends an entry's updates to `out` (and refused ones inside an envelope to `bad`), or
/// says why the whole entry goes to the dead-letter stream.
///
/// A malformed entry keeps its own reason however often it was delivered; a well-formed
/// one delivered more than `max_deliveries` times is dead-lettered as such (it keeps
/// failing its consumers, e.g. by crashing them).
fn sort(
    entry: &RawEntry,
    inner: &Shared,
    delivered: Option<u64>,
    max_deliveries: u64,
    out: &mut Vec<PriceUpdate>,
    bad: &mut BadUpdates,
) -> Result<(), DeadLetterReason> {
    let fields = entry.fields.as_ref().ok_or(DeadLetterReason::Deleted)?;
    let start = out.len();
    let format = parse_entry(&entry.stream, fields, &inner.entry_rules, out, bad)?;
    // The pipeline cannot intern a chain beyond the interner's chain limit and would skip
    // the update: refuse it here instead of acknowledging it as processed.
    let interner = inner.cache.interner();
    let mut i = start;
    while i < out.len() {
        match out[i].chain_id(interner) {
            Ok(_) => i += 1,
            Err(e) if format == EntryFormat::Batch => {
                bad.push(i - start, e);
                out.remove(i);
            }
            Err(e) => return Err(e.into()),
        }
    }
    match delivered {
        Some(deliveries) if deliveries > max_deliveries => Err(DeadLetterReason::MaxDeliveries {
            deliveries,
            max: max_deliveries,
        }),
        _ => Ok(()),
    }
}
