//! [`LogThrottle`]: at most one log line per kind of failure per interval, with the number
//! of lines held back in between.
//!
//! A Redis outage makes every warm, write and read fail, thousands of times a second; one
//! warning each would bury everything else in the log (and cost more than the work). The
//! throttle lets the first failure of a kind through at once, then one per interval, and
//! each admitted line carries how many of that kind were suppressed since the previous one,
//! so the count is never lost. Kinds are small indices (an enum's discriminant), so the
//! state is a fixed array of atomics: no lock, no allocation, nothing grows with the input.
//!
//! ```
//! use std::time::Duration;
//! use pairwarm::log_throttle::LogThrottle;
//!
//! let throttle: LogThrottle<2> = LogThrottle::new(Duration::from_secs(10));
//! assert_eq!(throttle.admit_at(0, 1_000), Some(0)); // first line of kind 0: written
//! assert_eq!(throttle.admit_at(0, 2_000), None); // held back
//! assert_eq!(throttle.admit_at(1, 2_000), Some(0)); // kind 1 has its own budget
//! assert_eq!(throttle.admit_at(0, 11_000), Some(1)); // next line says 1 was suppressed
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `last_ms` of a kind that has never written a line.
const NEVER: u64 = u64::MAX;

struct Slot {
    last_ms: AtomicU64,
    suppressed: AtomicU64,
}

/// Rate limit of log lines for `N` kinds; see the module docs. `Sync`: share one per
/// component.
pub struct LogThrottle<const N: usize> {
    interval_ms: u64,
    slots: [Slot; N],
}

impl<const N: usize> std::fmt::Debug for LogThrottle<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogThrottle")
            .field("interval_ms", &self.interval_ms)
            .field("kinds", &N)
            .finish()
    }
}

impl<const N: usize> LogThrottle<N> {
    /// At most one line per kind per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
            slots: std::array::from_fn(|_| Slot {
                last_ms: AtomicU64::new(NEVER),
                suppressed: AtomicU64::new(0),
            }),
        }
    }

    /// Whether a line of `kind` may be written now (wall clock): `Some(suppressed)` with
    /// the number of lines of that kind held back since the previous one, or `None` (the
    /// line is counted as suppressed). A `kind` of `N` or more is always admitted.
    pub fn admit(&self, kind: usize) -> Option<u64> {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX - 1));
        self.admit_at(kind, now_ms)
    }

    /// [`admit`](Self::admit) at a given time, ms (tests, or a caller with its own clock).
    /// Time going backwards never admits early.
    pub fn admit_at(&self, kind: usize, now_ms: u64) -> Option<u64> {
        let Some(slot) = self.slots.get(kind) else {
            return Some(0);
        };
        let last = slot.last_ms.load(Ordering::Relaxed);
        let due = last == NEVER || now_ms.saturating_sub(last) >= self.interval_ms;
        // One caller wins the slot for this interval; the others count as suppressed.
        if due
            && slot
                .last_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            Some(slot.suppressed.swap(0, Ordering::Relaxed))
        } else {
            slot.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// Lines of `kind` suppressed since its last admitted line (not yet reported).
    pub fn pending(&self, kind: usize) -> u64 {
        self.slots
            .get(kind)
            .map_or(0, |s| s.suppressed.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_kind_per_interval_and_nothing_lost() {
        let t: LogThrottle<3> = LogThrottle::new(Duration::from_millis(10_000));
        // A burst of 1,000 failures of kind 0 within one interval: one line.
        let admitted: Vec<u64> = (0..1_000)
            .filter_map(|i| t.admit_at(0, 5_000 + i))
            .collect();
        assert_eq!(admitted, vec![0]);
        assert_eq!(t.pending(0), 999);
        // Other kinds are independent.
        assert_eq!(t.admit_at(2, 5_500), Some(0));
        assert_eq!(t.pending(2), 0);
        // Just before the interval ends: still held back.
        assert_eq!(t.admit_at(0, 14_999), None);
        // At the interval: admitted, reporting everything held back (999 + 1).
        assert_eq!(t.admit_at(0, 15_000), Some(1_000));
        assert_eq!(t.pending(0), 0);
        // Clock going backwards admits nothing early.
        assert_eq!(t.admit_at(0, 1_000), None);
        assert_eq!(t.admit_at(0, 25_000), Some(1));
    }

    #[test]
    fn a_steady_flood_writes_one_line_per_interval() {
        let t: LogThrottle<1> = LogThrottle::new(Duration::from_secs(10));
        // 10,000 failures/s for 60 s, in 1 ms steps of 10 each.
        let mut lines = 0u64;
        let mut reported = 0u64;
        for ms in 0..60_000u64 {
            for _ in 0..10 {
                if let Some(suppressed) = t.admit_at(0, ms) {
                    lines += 1;
                    reported += suppressed + 1;
                }
            }
        }
        assert_eq!(lines, 6, "one line at 0 s, 10 s, ..., 50 s");
        assert_eq!(
            reported + t.pending(0),
            600_000,
            "every failure is accounted for"
        );
    }

    #[test]
    fn concurrent_callers_admit_one_line_per_interval() {
        let t: LogThrottle<1> = LogThrottle::new(Duration::from_secs(10));
        let admitted = AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        if t.admit_at(0, 42).is_some() {
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(admitted.load(Ordering::Relaxed), 1);
        assert_eq!(t.pending(0), 39_999);
    }

    #[test]
    fn unknown_kinds_are_never_suppressed() {
        let t: LogThrottle<1> = LogThrottle::new(Duration::from_secs(10));
        assert_eq!(t.admit_at(5, 0), Some(0));
        assert_eq!(t.admit_at(5, 0), Some(0));
        assert_eq!(t.pending(5), 0);
    }
}
