//! Hit/miss counters per level and per chain, and the snapshots `stats()` returns.
//!
//! Counters are relaxed atomics in fixed per-chain arrays (chains are bounded by
//! [`MAX_CHAINS`]), so counting costs one uncontended atomic add and never allocates.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::pair::{ChainId, MAX_CHAINS};

/// Counters of one level (or both levels summed), as returned by `stats()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LevelStats {
    /// Reads answered by this level.
    pub hits: u64,
    /// Reads this level could not answer.
    pub misses: u64,
    /// Calls that failed (L2 unreachable, timeout, undecodable value).
    pub errors: u64,
    /// Entries evicted by the policy (L1) — not tracked for L2.
    pub evictions: u64,
    /// Entries held now (L1, `MemoryL2`); 0 for Redis, which is not asked.
    pub size: usize,
    /// Maximum entries (L1); 0 when unbounded or unknown.
    pub capacity: usize,
}

impl LevelStats {
    /// `hits / (hits + misses)`, or 0 before any read.
    pub fn hit_rate(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 {
            0.0
        } else {
            self.hits as f64 / total as f64
        }
    }
}

/// Snapshot of a [`HierarchicalCache`](super::HierarchicalCache)'s counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// The in-process level.
    pub l1: LevelStats,
    /// The shared level.
    pub l2: LevelStats,
    /// Entries put into L1 by `promote` (warming) or by an L2 hit.
    pub promotions: u64,
}

/// Per-chain read counters (for `cache_hits_total{cache_level,chain}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChainCacheStats {
    /// Chain name.
    pub chain: String,
    /// L1 hits.
    pub l1_hits: u64,
    /// L1 misses.
    pub l1_misses: u64,
    /// L2 hits.
    pub l2_hits: u64,
    /// L2 misses.
    pub l2_misses: u64,
}

#[derive(Default)]
#[repr(align(64))]
struct ChainCounters {
    l1_hits: AtomicU64,
    l1_misses: AtomicU64,
    l2_hits: AtomicU64,
    l2_misses: AtomicU64,
    l2_errors: AtomicU64,
}

pub(crate) struct Counters {
    chains: Box<[ChainCounters]>,
    promotions: AtomicU64,
}

#[derive(Clone, Copy)]
pub(crate) enum Event {
    L1Hit,
    L1Miss,
    L2Hit,
    L2Miss,
    L2Error,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            chains: (0..MAX_CHAINS).map(|_| ChainCounters::default()).collect(),
            promotions: AtomicU64::new(0),
        }
    }
}

impl Counters {
    #[inline]
    pub(crate) fn count(&self, chain: ChainId, event: Event) {
        let Some(c) = self.chains.get(chain.index()) else {
            return;
        };
        let counter = match event {
            Event::L1Hit => &c.l1_hits,
            Event::L1Miss => &c.l1_misses,
            Event::L2Hit => &c.l2_hits,
            Event::L2Miss => &c.l2_misses,
            Event::L2Error => &c.l2_errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn promoted(&self) {
        self.promotions.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn promotions(&self) -> u64 {
        self.promotions.load(Ordering::Relaxed)
    }

    /// Sums over chains: `(l1, l2)` with hits, misses and errors filled in.
    pub(crate) fn totals(&self) -> (LevelStats, LevelStats) {
        let mut l1 = LevelStats::default();
        let mut l2 = LevelStats::default();
        for c in self.chains.iter() {
            l1.hits += c.l1_hits.load(Ordering::Relaxed);
            l1.misses += c.l1_misses.load(Ordering::Relaxed);
            l2.hits += c.l2_hits.load(Ordering::Relaxed);
            l2.misses += c.l2_misses.load(Ordering::Relaxed);
            l2.errors += c.l2_errors.load(Ordering::Relaxed);
        }
        (l1, l2)
    }

    pub(crate) fn chain(&self, chain: ChainId, name: &str) -> ChainCacheStats {
        let Some(c) = self.chains.get(chain.index()) else {
            return ChainCacheStats {
                chain: name.to_owned(),
                ..ChainCacheStats::default()
            };
        };
        ChainCacheStats {
            chain: name.to_owned(),
            l1_hits: c.l1_hits.load(Ordering::Relaxed),
            l1_misses: c.l1_misses.load(Ordering::Relaxed),
            l2_hits: c.l2_hits.load(Ordering::Relaxed),
            l2_misses: c.l2_misses.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn reset(&self) {
        for c in self.chains.iter() {
            for a in [
                &c.l1_hits,
                &c.l1_misses,
                &c.l2_hits,
                &c.l2_misses,
                &c.l2_errors,
            ] {
                a.store(0, Ordering::Relaxed);
            }
        }
        self.promotions.store(0, Ordering::Relaxed);
    }
}
