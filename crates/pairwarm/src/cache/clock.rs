//! The cache's clock: real monotonic time, or a manual clock that simulations and tests
//! advance themselves. Milliseconds for L1 time-to-live; microseconds where an L2 round
//! trip must be told apart from an immediate read (the speculation gate, which counts a
//! read of a refused guess only if a warm could have landed before it).

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A monotonic clock with microsecond resolution. Cloning a manual clock shares it.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// Monotonic time since the first use of the system clock in this process.
    #[default]
    System,
    /// A clock that only moves when [`Clock::set_ms`], [`Clock::set_us`] or
    /// [`Clock::advance_ms`] is called (microseconds inside).
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// A manual clock starting at `start_ms`.
    pub fn manual(start_ms: u64) -> Self {
        Self::Manual(Arc::new(AtomicU64::new(start_ms.saturating_mul(1000))))
    }

    /// Current time in milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.now_us() / 1000
    }

    /// Current time in microseconds.
    pub fn now_us(&self) -> u64 {
        match self {
            Self::System => {
                static EPOCH: OnceLock<Instant> = OnceLock::new();
                EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
            }
            Self::Manual(us) => us.load(Ordering::Relaxed),
        }
    }

    /// Sets a manual clock (no effect on the system clock).
    pub fn set_ms(&self, now_ms: u64) {
        self.set_us(now_ms.saturating_mul(1000));
    }

    /// Sets a manual clock to a time in microseconds (no effect on the system clock).
    pub fn set_us(&self, now_us: u64) {
        if let Self::Manual(us) = self {
            us.store(now_us, Ordering::Relaxed);
        }
    }

    /// Advances a manual clock (no effect on the system clock).
    pub fn advance_ms(&self, delta_ms: u64) {
        if let Self::Manual(us) = self {
            let delta_us = delta_ms.saturating_mul(1000);
            let _ = us.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_add(delta_us))
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manual clock keeps microseconds: milliseconds read it truncated, and every
    /// setter moves the same time.
    #[test]
    fn a_manual_clock_keeps_microseconds_and_reads_them_as_milliseconds() {
        let clock = Clock::manual(7);
        assert_eq!((clock.now_ms(), clock.now_us()), (7, 7_000));
        clock.set_us(12_999);
        assert_eq!((clock.now_ms(), clock.now_us()), (12, 12_999));
        clock.advance_ms(1);
        assert_eq!(clock.now_us(), 13_999);
        let shared = clock.clone();
        shared.set_ms(20);
        assert_eq!(clock.now_us(), 20_000);
        // The system clock moves on its own and agrees with itself.
        let system = Clock::System;
        let (us, ms) = (system.now_us(), system.now_ms());
        assert!(ms >= us / 1000);
    }
}
