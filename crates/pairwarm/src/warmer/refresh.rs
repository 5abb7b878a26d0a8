//! Refresh-ahead: with an L1 TTL, renew the entries that are being read just before they
//! expire, from L2, in one batched round trip per tick, at most `1000 / interval_ms` round
//! trips per second. The cache keeps the read bookkeeping
//! ([`HierarchicalCache::refresh_due`]); this module says how often to ask and how much.

use serde::{Deserialize, Serialize};

use crate::cache::HierarchicalCache;
use crate::cache::L2Store;

/// Refresh-ahead settings (JSON camelCase).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RefreshConfig {
    /// Time between two refresh batches, ms (default 100: at most 10 L2 round trips per
    /// second). An entry is refreshed in the last batch before it would expire.
    pub interval_ms: u64,
    /// Most pairs per batch (one `MGET`); the rest wait for the next tick (default 2048).
    pub max_batch: usize,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        Self {
            interval_ms: 100,
            max_batch: 2048,
        }
    }
}

impl RefreshConfig {
    /// The pairs to refresh now: those expiring before the next batch could land
    /// (`interval_ms` plus `l2_latency_ms` of slack).
    pub fn due<L: L2Store>(&self, cache: &HierarchicalCache<L>, l2_latency_ms: u64) -> Vec<crate::pair::PairId> {
        cache.refresh_due(
            self.interval_ms.saturating_add(l2_latency_ms).saturating_add(1),
            self.max_batch,
        )
    }
}
