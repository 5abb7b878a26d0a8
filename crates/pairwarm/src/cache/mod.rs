//! The two-level price cache: a bounded in-process L1 in front of an L2 (Redis or memory).
//!
//! - [`HierarchicalCache`] is the facade the detector and the warmer use: `get` looks in L1,
//!   then L2 and promotes an L2 hit; `set` writes through both levels; `contains_l1` and
//!   `fetch_for_warm` (one `MGET`, promoting only prices not written, deleted or
//!   invalidated while it was in flight) serve the warmer; `get_l1_only` and `promote`
//!   serve a simulator that models L2 itself.
//! - L1 storage is chosen by [`L1Policy`]: the default is W-TinyLFU with an adaptive window
//!   (chosen for robustness across workloads, see `docs/simulation.md`); S3-FIFO, quick_cache's
//!   policy (fixed or adaptive hot share) and the original's strict LRU can be named for
//!   comparison; the price matrix (`use_price_matrix`) is a fixed table with one seqlocked
//!   slot per interned pair. Inserts say why a value arrives ([`Insert`]), so a warmed guess
//!   is admitted without displacing what the policy would keep, and `fetch_for_refresh`
//!   renews entries in place (refresh-ahead under an L1 TTL).
//! - L2 is the [`L2Store`] trait: [`RedisL2`] for production, [`MemoryL2`] as the embedded
//!   default and for tests (optional injected latency, switchable outage).
//!
//! Values are [`Price`]s; in L2 they are JSON (see [`codec`]) under
//! `cache:l2:price:<chain>:<address>`, so the original system's `cache:l2:` layout is kept.

mod any_l2;
mod clock;
pub mod codec;
mod entry;
mod hierarchical;
mod l1;
mod l2;
mod memory_l2;
mod policy;
mod price_matrix;
mod redis_error;
mod redis_l2;
mod redis_target;
mod refresh;
mod stats;

pub use any_l2::AnyL2;
pub use clock::Clock;
pub use codec::{MAX_VALUE_BYTES, ValueError};
pub use entry::{Evictions, L1Entry};
pub use hierarchical::{
    CacheBuilder, CacheError, HierarchicalCache, L1Capacity, Lookup, WarmFetch,
};
pub use l1::L1Policy;
pub use l2::{L2Error, L2Store};
pub use memory_l2::MemoryL2;
pub use policy::{Insert, Inserted};
pub use price_matrix::PriceMatrix;
pub use redis_error::{Permanent, RedisErrorClass, classify_redis_error};
pub use redis_l2::{RedisL2, RedisL2Config};
pub use redis_target::{RedisTarget, RedisTls, RedisUrl, redact_url};
pub use stats::{CacheStats, ChainCacheStats, LevelStats};

use serde::{Deserialize, Serialize};

/// A pool price as cached: the price, the block it was observed in and its timestamp.
///
/// `Copy` and 24 bytes, so an L1 read copies it out without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Price {
    /// Price of token0 in token1 (or whatever unit the producer uses, consistently).
    pub price: f64,
    /// Block number the price was read at (0 if unknown).
    #[serde(default)]
    pub block: u64,
    /// Milliseconds since the Unix epoch when the price was observed (0 if unknown).
    #[serde(default, rename = "timestamp")]
    pub ts_ms: u64,
}

impl Price {
    /// A price with block and timestamp.
    pub const fn new(price: f64, block: u64, ts_ms: u64) -> Self {
        Self {
            price,
            block,
            ts_ms,
        }
    }
}
