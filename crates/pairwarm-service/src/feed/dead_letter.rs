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
}
