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

/// How long after its last read an entry keeps being refreshed, in L1 TTLs: the cache's
/// default idle horizon ([`crate::cache::CacheBuilder::refresh_idle`]). A longer horizon
/// costs keys per batch, not round trips: at L1 8192 / TTL 3 s, 3 TTLs gave +6.7 to +22
/// points with 17-31 keys per batch, 10 TTLs +10.6 to +32.5 with 36-63, 30 TTLs +12.9 to
/// +38.5 with 67-103 (dex-skewed-bursty, dex-base, market-base). 10 until round 17; 30
/// since: over 94 traces of three generators at L1 8,192 it lowered no hit rate at TTL 1,
/// 3 or 10 s, raised `default`'s mean gain over `none` at 3 s from +27.6 to +32.7 points
/// (the production check, +10 within 1.5× `none`'s round trips, from 86 to 90 of 94),
/// for 67% more keys fetched and fewer round trips (demand misses fall); at 64-512
/// entries under TTL 3 s the mean gain rose by 0.24 points, at worst 1.51 less at one
/// point, still above `none` (docs/simulation.md, round 17). Keys per batch stay bounded
/// by `RefreshConfig::max_batch`.
pub const REFRESH_IDLE_TTLS: u64 = 30;

/// The idle horizon is never shorter than this (ms): longer than the slowest common block
/// interval (ethereum's 12 s), so a pool read once per block keeps being refreshed across
/// the gap between two blocks even under a short TTL. With 10 TTLs of a 1 s TTL (10 s) the
/// chain broke before the next ethereum block: +0.1 points instead of +11 on a single-chain
/// trace at L1 8,192.
pub const REFRESH_IDLE_MIN_MS: u64 = 15_000;

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
    pub fn due<L: L2Store>(
        &self,
        cache: &HierarchicalCache<L>,
        l2_latency_ms: u64,
    ) -> Vec<crate::pair::PairId> {
        cache.refresh_due(
            self.interval_ms
                .saturating_add(l2_latency_ms)
                .saturating_add(1),
            self.max_batch,
        )
    }
}

impl<L: L2Store> super::CacheWarmer<L> {
    /// One refresh-ahead batch: the entries [`RefreshConfig::due`] names are fetched from
    /// L2 in one round trip (bounded by the warmer's `timeout_ms`) and renewed in L1 in
    /// place. A pair written while the fetch was in flight is left alone (its L1 value is
    /// newer than what L2 returned; if the write lands during the renewal the entry is
    /// dropped rather than kept older). Returns the pairs renewed. Run it every
    /// `interval_ms` while L1 has a TTL (`serve` does).
    pub async fn refresh_once(&self, config: &RefreshConfig, l2_latency_ms: u64) -> usize {
        let cache = &self.inner.cache;
        let due = config.due(cache, l2_latency_ms);
        if due.is_empty() {
            return 0;
        }
        let timeout = std::time::Duration::from_millis(self.inner.config.read().timeout_ms);
        // Failures are logged (rate-limited) under the first pair of the batch.
        let (errors, first, interner) = (&self.inner.errors, due[0], cache.interner());
        let renewed = match tokio::time::timeout(timeout, cache.fetch_for_refresh(&due)).await {
            Ok(Ok(fetch)) => {
                if let Some(e) = &fetch.first_error {
                    errors.report(super::WarmFailure::Decode, first, interner, e);
                }
                fetch.promoted
            }
            Ok(Err(e)) => {
                errors.report(super::WarmFailure::of(&e), first, interner, &e);
                return 0;
            }
            Err(_) => {
                errors.report(
                    super::WarmFailure::Timeout,
                    first,
                    interner,
                    &format_args!(
                        "refresh-ahead fetch of {} pairs exceeded {timeout:?}",
                        due.len()
                    ),
                );
                return 0;
            }
        };
        let c = &self.inner.counters;
        super::Counters::add(&c.refresh_batches, 1);
        super::Counters::add(&c.refreshed, renewed as u64);
        renewed
    }
}
