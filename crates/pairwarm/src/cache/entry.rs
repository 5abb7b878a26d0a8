//! What L1 stores per pair, and the evictions an insert reports: shared by every L1 store.

use super::Price;
use crate::pair::PairId;

/// What L1 holds for a pair: the price and when it entered L1 (for `l1_ttl`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct L1Entry {
    /// The cached price.
    pub price: Price,
    /// [`Clock`](super::Clock) time, in ms, when the entry was written, loaded or warmed.
    pub stored_ms: u64,
}

/// The lifetime of L1 entries, when L1 has a TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Expiry {
    /// Entries expire this long after being written, loaded, warmed or refreshed.
    pub(crate) ttl_ms: u64,
    /// Refresh-ahead renews an entry before it expires while it was read within this
    /// horizon ([`crate::cache::CacheBuilder::refresh_idle`]). The window tuner's shadows
    /// model refresh-ahead with it once refreshes land.
    pub(crate) refresh_idle_ms: u64,
}

/// Pairs evicted by one insert, collected without allocating (an insert of unit weight
/// evicts at most a handful of entries; beyond four only the count is kept).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evictions {
    ids: [Option<PairId>; 4],
    count: u32,
}

impl Evictions {
    pub(crate) fn push_raw(&mut self, raw: u32) {
        self.push(PairId::from_raw(raw));
    }

    pub(crate) fn push(&mut self, id: PairId) {
        if let Some(slot) = self.ids.get_mut(self.count as usize) {
            *slot = Some(id);
        }
        self.count += 1;
    }

    /// Number of entries evicted.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True if nothing was evicted.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The evicted ids (the first four, if more were evicted).
    pub fn iter(&self) -> impl Iterator<Item = PairId> + '_ {
        self.ids.iter().flatten().copied()
    }
}
