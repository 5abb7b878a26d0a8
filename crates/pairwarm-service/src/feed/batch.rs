//! One batch of stream entries: sort, process, publish, acknowledge, dead-letter.
//!
//! Every entry leaves the batch one way: processed and acknowledged, or copied to the
//! dead-letter stream and acknowledged, or (when Redis refuses the copy) left pending and
//! held for a retry ([`super::refused`]) while the feed goes on. A processed entry is
//! acknowledged only once its prices are written to L2: when the batch's write-through
//! fails, nothing of the batch is acknowledged and the read loop retries it. A batch
//! envelope of the original is one entry: all its updates are processed together and it
//! is acknowledged once; updates refused inside it are counted and a few are sampled to
//! the dead-letter stream, but the envelope itself is not copied.

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
use crate::entry::{
    BadUpdates, EntryError, EntryFormat, PriceUpdate, TimeWindow, parse_entry, received_ms,
};
use crate::shared::Shared;
use crate::stream::RawEntry;

/// Handles one batch read from the streams.
///
/// # Errors
/// When the L2 write-through fails ([`FeedError::L2Write`]: nothing was acknowledged, the
/// caller retries the same batch), or an acknowledgement fails (Redis unreachable): what
/// is not acknowledged stays pending and is read again after a reconnect.
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
    let (max_deliveries, window) = {
        let config = inner.config.lock();
        let feed = &config.feed;
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        (
            feed.max_deliveries,
            TimeWindow {
                max_age_ms: ms(feed.timestamp_max_age),
                max_ahead_ms: ms(feed.timestamp_max_ahead),
            },
        )
    };
    let now_ms = wall_clock_ms();
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
        let judge = Judge {
            delivered,
            max_deliveries,
            window: &window,
            now_ms,
        };
        match sort(entry, inner, &judge, &mut updates, &mut bad) {
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
    let written = inner.processor.process_durable(&updates).await;
    // The counters behind `/ready` and `/health/warming` moved either way.
    inner.refresh_ready();
    let found = written?;
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
    refused.hold(inner, &rejected, consumer.letter_bytes());
    Ok(())
}

/// Milliseconds since the Unix epoch (receipt time of an entry whose id says none).
fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
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
    judge: &Judge<'_>,
    out: &mut Vec<PriceUpdate>,
    bad: &mut BadUpdates,
) -> Result<(), DeadLetterReason> {
    let fields = entry.fields.as_ref().ok_or(DeadLetterReason::Deleted)?;
    if let Some(size) = entry.cut {
        // Larger than any valid entry: the reader kept only a prefix of it.
        return Err(DeadLetterReason::Rejected(EntryError::TooLarge {
            field: "entry".into(),
            len: usize::try_from(size).unwrap_or(usize::MAX),
            max: consumer_whole_entry_bytes(inner),
        }));
    }
    let start = out.len();
    let format = parse_entry(&entry.stream, fields, &inner.entry_rules, out, bad)?;
    let received = received_ms(&entry.id).unwrap_or(judge.now_ms);
    // Every update of every format is judged here, after parsing ([`admit`]).
    let interner = inner.cache.interner();
    let mut i = start;
    while i < out.len() {
        match admit(&mut out[i], interner, judge.window, received) {
            Ok(()) => i += 1,
            Err(e) if format == EntryFormat::Batch => {
                bad.push(i - start, e);
                out.remove(i);
            }
            Err(e) => return Err(e.into()),
        }
    }
    match judge.delivered {
        Some(deliveries) if deliveries > judge.max_deliveries => {
            Err(DeadLetterReason::MaxDeliveries {
                deliveries,
                max: judge.max_deliveries,
            })
        }
        _ => Ok(()),
    }
}

/// The size above which the reader cuts an entry.
fn consumer_whole_entry_bytes(inner: &Shared) -> usize {
    super::whole_entry_bytes(&inner.config.lock().feed)
}

/// What an entry is judged by besides its contents.
struct Judge<'a> {
    /// Deliveries so far (redelivered entries only).
    delivered: Option<u64>,
    /// `PAIRWARM_MAX_DELIVERIES`.
    max_deliveries: u64,
    /// The accepted times around receipt.
    window: &'a TimeWindow,
    /// Receipt time of an entry whose id says none.
    now_ms: u64,
}

/// Checks one parsed update, whatever its entry's format: its chain can be interned (the
/// pipeline would have to skip it otherwise), and its time is plausible for an entry that
/// reached Redis at `received_ms`. An update without a time gets that one: an entry read
/// late (a backlog, a claim) keeps its place among newer ones instead of looking newest.
fn admit(
    update: &mut PriceUpdate,
    interner: &pairwarm::pair::PairInterner,
    window: &TimeWindow,
    received_ms: u64,
) -> Result<(), EntryError> {
    update.chain_id(interner)?;
    match update.ts_ms {
        Some(ts) => window.check(ts, received_ms)?,
        None => update.ts_ms = Some(received_ms),
    }
    Ok(())
}
