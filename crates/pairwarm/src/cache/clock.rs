//! Millisecond clock for L1 time-to-live: real monotonic time, or a manual clock that
//! simulations and tests advance themselves.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A millisecond clock. Cloning a manual clock shares it.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// Monotonic milliseconds since the first use of the system clock in this process.
    #[default]
    System,
    /// A clock that only moves when [`Clock::set_ms`] or [`Clock::advance_ms`] is called.
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// A manual clock starting at `start_ms`.
    pub fn manual(start_ms: u64) -> Self {
        Self::Manual(Arc::new(AtomicU64::new(start_ms)))
    }

    /// Current time in milliseconds.
    pub fn now_ms(&self) -> u64 {
        match self {
            Self::System => {
                static EPOCH: OnceLock<Instant> = OnceLock::new();
                EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
            }
            Self::Manual(ms) => ms.load(Ordering::Relaxed),
        }
    }

    /// Sets a manual clock (no effect on the system clock).
    pub fn set_ms(&self, now_ms: u64) {
        if let Self::Manual(ms) = self {
            ms.store(now_ms, Ordering::Relaxed);
        }
    }

    /// Advances a manual clock (no effect on the system clock).
    pub fn advance_ms(&self, delta_ms: u64) {
        if let Self::Manual(ms) = self {
            ms.fetch_add(delta_ms, Ordering::Relaxed);
        }
    }
}
