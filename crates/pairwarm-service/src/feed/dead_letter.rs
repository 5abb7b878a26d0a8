//! Dead letters: entries that cannot be processed, copied to `<stream>:dlq` with why.
//!
//! [`DeadLetterReason`] is the one value that says why, from the moment a batch sorts an
//! entry out to the dead-letter entry's `reason` field ([`DeadLetterReason::label`]) and the
//! `stream_dead_letter_total{reason}` label ([`DeadLetterReason::metric`]); nothing in
//! between compares strings.

use pairwarm::metrics::DeadLetterReason as MetricReason;

use std::sync::atomic::Ordering;

use crate::entry::EntryError;
use crate::shared::Shared;
use crate::stream::RawEntry;

/// Why an entry is dead-lettered.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DeadLetterReason {
    /// The entry is malformed, or names a chain beyond the limit.
    #[error(transparent)]
    Rejected(#[from] EntryError),
    /// The entry was deleted (trimmed) from the stream while pending.
    #[error("entry was deleted from the stream while pending")]
    Deleted,
    /// Delivered more than `PAIRWARM_MAX_DELIVERIES` times without being acknowledged
    /// (an entry that keeps failing its consumers).
    #[error("delivered {deliveries} times without being acknowledged (at most {max})")]
    MaxDeliveries {
        /// Deliveries so far (Redis' count).
        deliveries: u64,
        /// `PAIRWARM_MAX_DELIVERIES`.
        max: u64,
    },
}

impl DeadLetterReason {
    /// The dead-letter entry's `reason` field: a short fixed label (see
    /// [`EntryError::reason`] for the rejected kinds; `deleted`; `max_deliveries`).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Rejected(e) => e.reason(),
            Self::Deleted => "deleted",
            Self::MaxDeliveries { .. } => "max_deliveries",
        }
    }

    /// The label of `stream_dead_letter_total{reason}` (a closed set of four).
    pub fn metric(&self) -> MetricReason {
        match self {
            Self::Rejected(
                EntryError::ChainLimit { .. }
                | EntryError::UnknownChain(_)
                | EntryError::Signature(_),
            ) => MetricReason::Other,
            Self::Rejected(_) => MetricReason::Malformed,
            Self::Deleted => MetricReason::Trimmed,
            Self::MaxDeliveries { .. } => MetricReason::MaxDeliveries,
        }
    }
}

/// An entry on its way to the dead-letter stream.
#[derive(Debug)]
pub struct DeadLetter<'a> {
    /// The entry, as read.
    pub entry: &'a RawEntry,
    /// Why.
    pub reason: DeadLetterReason,
}

/// Smallest copy a dead letter is allowed (a valid price entry is ~200 bytes, so most
/// copies stay whole).
pub const MIN_LETTER_BYTES: u64 = 256;

/// Largest copy of one dead letter, whatever the byte bound allows.
pub const MAX_LETTER_BYTES: u64 = 64 * 1024;

/// How a dead-letter stream stays within `max_bytes` (`PAIRWARM_DEAD_LETTER_MAX_BYTES`)
/// as well as `maxlen` entries: `(MAXLEN, bytes of names and values one copy keeps)`. The
/// copy gets `max_bytes / maxlen` (within [`MIN_LETTER_BYTES`]..=[`MAX_LETTER_BYTES`]);
/// when that is below the minimum, fewer entries are kept instead.
pub fn letter_bounds(max_bytes: u64, maxlen: u64) -> (u64, usize) {
    let maxlen = maxlen.max(1);
    let per = (max_bytes / maxlen).clamp(MIN_LETTER_BYTES, MAX_LETTER_BYTES);
    let maxlen = maxlen.min((max_bytes / per).max(1));
    (maxlen, usize::try_from(per).unwrap_or(usize::MAX))
}

/// A name and value of an entry, borrowed.
pub type Field<'a> = (&'a [u8], &'a [u8]);

/// Field names a `truncated` note lists at most.
const NOTED_FIELDS: usize = 8;

/// The names and values a dead-letter copy keeps of `entry` (borrowed, never copied):
/// in order until `budget` bytes are used, the value that crosses it cut to what is left,
/// later fields dropped. When anything was left out, the note for the copy's `truncated`
/// field: `<field>=<bytes>,...` (the original sizes of the values cut or dropped), or
/// `entry=<bytes>` for an entry the reader already cut.
pub fn letter_fields(entry: &RawEntry, budget: usize) -> (Vec<Field<'_>>, Option<String>) {
    let mut kept = Vec::new();
    let mut left_out: Vec<String> = Vec::new();
    let mut more = 0usize;
    let mut room = budget;
    for (k, v) in entry.fields.iter().flatten() {
        let need = k.len() + v.len();
        if need <= room {
            kept.push((k.as_slice(), v.as_slice()));
            room -= need;
            continue;
        }
        if k.len() < room {
            kept.push((k.as_slice(), &v[..room - k.len()]));
        }
        room = 0;
        if left_out.len() < NOTED_FIELDS {
            let name: String = String::from_utf8_lossy(&k[..k.len().min(32)]).into_owned();
            left_out.push(format!("{name}={}", v.len()));
        } else {
            more += 1;
        }
    }
    let note = match entry.cut {
        Some(size) => Some(format!("entry={size}")),
        None if left_out.is_empty() => None,
        None if more > 0 => Some(format!("{},+{more} more", left_out.join(","))),
        None => Some(left_out.join(",")),
    };
    (kept, note)
}

/// A copy of `entry` holding only what its dead letter keeps (for letters held for a
/// retry: bounded, whatever the entry was). An entry with anything left out is marked cut
/// at its original size.
pub fn clipped(entry: &RawEntry, budget: usize) -> RawEntry {
    let (kept, note) = letter_fields(entry, budget);
    let size: usize = entry
        .fields
        .iter()
        .flatten()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    RawEntry {
        stream: entry.stream.clone(),
        id: entry.id.clone(),
        fields: entry
            .fields
            .as_ref()
            .map(|_| kept.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect()),
        cut: entry.cut.or_else(|| note.map(|_| size as u64)),
    }
}

/// An update refused inside a good batch envelope, sampled to the dead-letter stream (the
/// envelope itself is processed and acknowledged, never copied).
#[derive(Debug)]
pub struct Sample<'a> {
    /// The envelope's entry.
    pub entry: &'a RawEntry,
    /// Position of the update in the envelope's `messages`.
    pub index: usize,
    /// Why it was refused.
    pub error: EntryError,
}

/// Counts dead letters whose copy Redis accepted (their entries are acknowledged): the
/// coarse and the fine reason, and signature failures.
pub(crate) fn record_dead_letters(inner: &Shared, copied: &[&DeadLetter<'_>]) {
    inner
        .stats
        .dead_lettered
        .fetch_add(copied.len() as u64, Ordering::Relaxed);
    let signature_failures = copied
        .iter()
        .filter(|l| {
            matches!(
                l.reason,
                DeadLetterReason::Rejected(EntryError::Signature(_))
            )
        })
        .count() as u64;
    inner
        .stats
        .signature_failures
        .fetch_add(signature_failures, Ordering::Relaxed);
    let Some(m) = &inner.metrics else {
        return;
    };
    m.stream().entries_processed.inc_by(copied.len() as u64);
    for l in copied {
        m.stream().dead_letter(l.reason.metric()).inc();
        m.stream_dead_letter_reason(l.reason.label()).inc();
        if let DeadLetterReason::Rejected(EntryError::Signature(e)) = &l.reason {
            m.stream_signature_failures(e.reason()).inc();
        }
    }
}

/// Counts updates refused inside good envelopes, by fine reason.
pub(crate) fn record_bad_updates(inner: &Shared, bad: &crate::entry::BadUpdates) {
    inner
        .stats
        .bad_updates
        .fetch_add(bad.total(), Ordering::Relaxed);
    if let Some(m) = &inner.metrics {
        for &(reason, n) in &bad.counts {
            m.stream_bad_updates(reason).inc_by(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_label_and_metric() {
        let cases = [
            (
                DeadLetterReason::Rejected(EntryError::Missing("pair")),
                "missing_field",
                MetricReason::Malformed,
            ),
            (
                DeadLetterReason::Rejected(EntryError::ChainLimit {
                    chain: "c65".into(),
                    max: 64,
                }),
                "chain_limit",
                MetricReason::Other,
            ),
            (DeadLetterReason::Deleted, "deleted", MetricReason::Trimmed),
            (
                DeadLetterReason::Rejected(EntryError::TooLarge {
                    field: "entry".into(),
                    len: 1 << 20,
                    max: 65_536,
                }),
                "too_large",
                MetricReason::Malformed,
            ),
            (
                DeadLetterReason::MaxDeliveries {
                    deliveries: 11,
                    max: 10,
                },
                "max_deliveries",
                MetricReason::MaxDeliveries,
            ),
        ];
        for (reason, label, metric) in cases {
            assert_eq!(reason.label(), label);
            assert_eq!(reason.metric(), metric);
            assert!(!reason.to_string().is_empty());
        }
    }

    fn entry(fields: &[(&[u8], usize)]) -> RawEntry {
        RawEntry {
            stream: "s".into(),
            id: "1-0".into(),
            fields: Some(
                fields
                    .iter()
                    .map(|(k, n)| (k.to_vec(), vec![b'x'; *n]))
                    .collect(),
            ),
            cut: None,
        }
    }

    #[test]
    fn a_copy_keeps_what_fits_and_notes_the_rest() {
        let small = entry(&[(b"chain", 8), (b"price", 6)]);
        let (kept, note) = letter_fields(&small, 256);
        assert_eq!(kept.len(), 2);
        assert_eq!(note, None);
        assert_eq!(clipped(&small, 256), small);

        let big = entry(&[(b"chain", 8), (b"blob", 1 << 20), (b"price", 6)]);
        let (kept, note) = letter_fields(&big, 256);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[1].1.len(), 256 - 13 - 4);
        assert_eq!(note.as_deref(), Some("blob=1048576,price=6"));
        let held = clipped(&big, 256);
        assert_eq!(held.cut, Some(13 + 4 + (1 << 20) + 11));
        // Clipping again changes nothing but the note, which now names the whole entry.
        let (again, note) = letter_fields(&held, 256);
        assert_eq!(again, kept);
        assert_eq!(note.as_deref(), Some("entry=1048604"));
    }

    #[test]
    fn the_byte_bound_divides_among_the_entries_or_lowers_their_number() {
        assert_eq!(letter_bounds(128 << 20, 100_000), (100_000, 1342));
        assert_eq!(letter_bounds(1 << 20, 100_000), (4096, 256));
        assert_eq!(letter_bounds(1 << 40, 10), (10, 65_536));
    }
}
