//! Hit/miss counters per level and per chain, and the snapshots `stats()` returns.
//!
//! Counters are per thread, in fixed per-chain arrays (chains are bounded by
//! [`MAX_CHAINS`]): counting is a load and a store into the calling thread's block, and
//! allocates only on a thread's first count (see [`Counters`]).

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use thread_local::ThreadLocal;

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

/// One chain's read counters, in one thread's block.
#[derive(Default)]
struct ChainCounters {
    l1_hits: AtomicU64,
    l1_misses: AtomicU64,
    l2_hits: AtomicU64,
    l2_misses: AtomicU64,
    l2_errors: AtomicU64,
}

impl ChainCounters {
    fn cell(&self, event: Event) -> &AtomicU64 {
        match event {
            Event::L1Hit => &self.l1_hits,
            Event::L1Miss => &self.l1_misses,
            Event::L2Hit => &self.l2_hits,
            Event::L2Miss => &self.l2_misses,
            Event::L2Error => &self.l2_errors,
        }
    }

    fn values(&self) -> [u64; EVENTS] {
        Event::ALL.map(|e| self.cell(e).load(Ordering::Relaxed))
    }
}

/// The counters one thread writes: one block per chain, starting on a cache line of its
/// own so that no other thread's writes share its first line.
#[repr(align(64))]
struct ThreadCounters([ChainCounters; MAX_CHAINS]);

impl Default for ThreadCounters {
    fn default() -> Self {
        Self(std::array::from_fn(|_| ChainCounters::default()))
    }
}

/// Read counters per chain, kept per thread.
///
/// A read is counted on the L1 hit path, whose budget is tens of nanoseconds. A shared
/// atomic add is a locked instruction per read, and makes every reading thread write the
/// same cache line. Here each thread writes only its own block, with a plain load and
/// store (`thread_local` hands a block to one live thread at a time; a thread that reuses
/// an exited thread's id continues its counts), and `stats()` sums the blocks. Resetting
/// records the sums as a baseline instead of writing other threads' cells. (Counting from
/// a thread-local destructor after `thread_local`'s own has run would panic; nothing in
/// this crate does.)
pub(crate) struct Counters {
    threads: ThreadLocal<ThreadCounters>,
    /// Per chain, the sums at the last reset (subtracted from every read-out).
    baseline: Mutex<Box<[[u64; EVENTS]]>>,
    promotions: AtomicU64,
}

/// Number of [`Event`] kinds.
const EVENTS: usize = 5;

#[derive(Clone, Copy)]
pub(crate) enum Event {
    L1Hit,
    L1Miss,
    L2Hit,
    L2Miss,
    L2Error,
}

impl Event {
    const ALL: [Event; EVENTS] = [
        Event::L1Hit,
        Event::L1Miss,
        Event::L2Hit,
        Event::L2Miss,
        Event::L2Error,
    ];
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            threads: ThreadLocal::new(),
            baseline: Mutex::new(vec![[0; EVENTS]; MAX_CHAINS].into_boxed_slice()),
            promotions: AtomicU64::new(0),
        }
    }
}

impl Counters {
    #[inline]
    pub(crate) fn count(&self, chain: ChainId, event: Event) {
        let Some(c) = self.threads.get_or_default().0.get(chain.index()) else {
            return;
        };
        // Only this thread writes its block: load and store, no locked add.
        let cell = c.cell(event);
        cell.store(cell.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    pub(crate) fn promoted(&self) {
        self.promotions.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn promotions(&self) -> u64 {
        self.promotions.load(Ordering::Relaxed)
    }

    /// Every chain's counts over every thread, in [`Event::ALL`] order (one pass; no
    /// allocation, as the warmer reads the L1 counts while planning).
    fn sums(&self) -> [[u64; EVENTS]; MAX_CHAINS] {
        let mut sums = [[0u64; EVENTS]; MAX_CHAINS];
        for t in self.threads.iter() {
            for (sum, c) in sums.iter_mut().zip(&t.0) {
                for (s, v) in sum.iter_mut().zip(c.values()) {
                    *s += v;
                }
            }
        }
        sums
    }

    /// Every chain's counts since the last reset.
    fn since_reset(&self) -> [[u64; EVENTS]; MAX_CHAINS] {
        let mut sums = self.sums();
        let base = self.baseline.lock();
        for (sum, b) in sums.iter_mut().zip(base.iter()) {
            for (s, b) in sum.iter_mut().zip(b) {
                *s = s.saturating_sub(*b);
            }
        }
        sums
    }

    /// Sums over chains: `(l1, l2)` with hits, misses and errors filled in.
    pub(crate) fn totals(&self) -> (LevelStats, LevelStats) {
        let mut l1 = LevelStats::default();
        let mut l2 = LevelStats::default();
        for [l1_hits, l1_misses, l2_hits, l2_misses, l2_errors] in self.since_reset() {
            l1.hits += l1_hits;
            l1.misses += l1_misses;
            l2.hits += l2_hits;
            l2.misses += l2_misses;
            l2.errors += l2_errors;
        }
        (l1, l2)
    }

    pub(crate) fn chain(&self, chain: ChainId, name: &str) -> ChainCacheStats {
        let [l1_hits, l1_misses, l2_hits, l2_misses, _] = self
            .since_reset()
            .get(chain.index())
            .copied()
            .unwrap_or_default();
        ChainCacheStats {
            chain: name.to_owned(),
            l1_hits,
            l1_misses,
            l2_hits,
            l2_misses,
        }
    }

    /// Counts from now on start at zero (a baseline of the current sums).
    pub(crate) fn reset(&self) {
        let sums = self.sums();
        let mut base = self.baseline.lock();
        for (b, sum) in base.iter_mut().zip(sums) {
            *b = sum;
        }
        self.promotions.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_every_thread_are_summed_and_a_reset_starts_from_zero() {
        let counters = Counters::default();
        let (a, b) = (ChainId(0), ChainId(3));
        counters.count(a, Event::L1Hit);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        counters.count(a, Event::L1Hit);
                        counters.count(b, Event::L1Miss);
                    }
                    counters.count(b, Event::L2Error);
                });
            }
        });
        // The threads have exited; their counts stay.
        let (l1, l2) = counters.totals();
        assert_eq!((l1.hits, l1.misses, l2.errors), (4001, 4000, 4));
        let chain_b = counters.chain(b, "b");
        assert_eq!((chain_b.l1_hits, chain_b.l1_misses), (0, 4000));
        counters.reset();
        assert_eq!(counters.totals().0, LevelStats::default());
        counters.count(b, Event::L1Miss);
        std::thread::scope(|s| {
            s.spawn(|| counters.count(a, Event::L2Hit));
        });
        let (l1, l2) = counters.totals();
        assert_eq!((l1.hits, l1.misses, l2.hits), (0, 1, 1));
        assert_eq!(counters.chain(a, "a").l2_hits, 1);
    }
}
