//! Dead letters Redis refused to copy (a full or mistyped `<stream>:dlq`, an ACL, OOM).
//!
//! Their entries stay pending in the group (never acknowledged without their copy) and the
//! letters are kept here, bounded, and retried with exponential backoff, while the feed
//! goes on with new entries. A held entry that comes back through a claim is skipped, so
//! it is neither processed twice nor copied twice. Letters beyond the bound are not held:
//! they stay pending and come back through `XAUTOCLAIM` once idle.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::FeedError;
use super::consumer::StreamConsumer;
use super::dead_letter::{DeadLetter, DeadLetterReason, clipped, record_dead_letters};
use crate::shared::Shared;
use crate::stream::RawEntry;

/// Letters held at most (each clipped to its dead-letter copy: at most 64 KiB, usually
/// ~1 KiB).
const MAX_HELD: usize = 10_000;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A refused letter, owned (the batch it came from is gone).
struct Held {
    entry: RawEntry,
    reason: DeadLetterReason,
}

/// The refused letters of one consumer, retried with backoff.
pub(crate) struct Refused {
    held: HashMap<(Arc<str>, String), Held>,
    backoff: Duration,
    next_try: Instant,
}

impl Default for Refused {
    fn default() -> Self {
        Self {
            held: HashMap::new(),
            backoff: FIRST_BACKOFF,
            next_try: Instant::now(),
        }
    }
}

impl Refused {
    /// Whether this entry's letter is already held (skip it in a batch).
    pub(crate) fn holds(&self, entry: &RawEntry) -> bool {
        !self.held.is_empty()
            && self
                .held
                .contains_key(&(entry.stream.clone(), entry.id.clone()))
    }

    /// Holds the letters Redis refused (as many as fit; each only as much of its entry as
    /// its copy keeps, `letter_bytes`) and schedules a retry.
    pub(crate) fn hold(
        &mut self,
        inner: &Shared,
        refused: &[&DeadLetter<'_>],
        letter_bytes: usize,
    ) {
        if refused.is_empty() {
            return;
        }
        for letter in refused {
            if self.held.len() >= MAX_HELD {
                break;
            }
            let e = letter.entry;
            self.held.insert(
                (e.stream.clone(), e.id.clone()),
                Held {
                    entry: clipped(e, letter_bytes),
                    reason: letter.reason.clone(),
                },
            );
        }
        self.next_try = Instant::now() + self.backoff;
        self.count(inner, refused.len() as u64);
        tracing::warn!(
            refused = refused.len(),
            waiting = self.held.len(),
            retry_in = ?self.backoff,
            "Redis refused dead-letter copies; those entries stay pending and are retried"
        );
    }

    /// True when letters wait and their retry is due.
    pub(crate) fn due(&self) -> bool {
        !self.held.is_empty() && Instant::now() >= self.next_try
    }

    /// Tries to copy every held letter; the copied ones are acknowledged and released.
    pub(crate) async fn retry(
        &mut self,
        inner: &Shared,
        consumer: &mut StreamConsumer,
    ) -> Result<(), FeedError> {
        let keys: Vec<(Arc<str>, String)> = self.held.keys().cloned().collect();
        let letters: Vec<DeadLetter<'_>> = keys
            .iter()
            .filter_map(|k| self.held.get(k))
            .map(|h| DeadLetter {
                entry: &h.entry,
                reason: h.reason.clone(),
            })
            .collect();
        let copied = consumer.dead_letter(&letters).await?;
        let accepted: Vec<&DeadLetter<'_>> = letters
            .iter()
            .zip(&copied)
            .filter_map(|(l, ok)| ok.then_some(l))
            .collect();
        let moved = accepted.len() as u64;
        record_dead_letters(inner, &accepted);
        drop(accepted);
        drop(letters);
        for (key, ok) in keys.into_iter().zip(copied) {
            if ok {
                self.held.remove(&key);
            }
        }
        let still = self.held.len() as u64;
        if moved > 0 {
            inner.stats.processed.fetch_add(moved, Ordering::Relaxed);
            tracing::info!(
                moved,
                waiting = still,
                "dead-letter copies accepted on retry"
            );
        }
        if still == 0 {
            self.backoff = FIRST_BACKOFF;
        } else {
            self.count(inner, still);
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            self.next_try = Instant::now() + self.backoff;
        }
        inner
            .stats
            .dead_letters_waiting
            .store(still, Ordering::Relaxed);
        Ok(())
    }

    fn count(&self, inner: &Shared, refusals: u64) {
        inner
            .stats
            .dead_letter_refusals
            .fetch_add(refusals, Ordering::Relaxed);
        inner
            .stats
            .dead_letters_waiting
            .store(self.held.len() as u64, Ordering::Relaxed);
        if let Some(m) = &inner.metrics {
            m.stream().dead_letter_refused.inc_by(refusals);
        }
    }
}
