//! The two-level price cache: a bounded in-process L1 in front of an L2 (Redis or memory).
//!
//! - [`HierarchicalCache`] is the facade the detector and the warmer use: `get` looks in L1,
//!   then L2 and promotes an L2 hit; `set` writes through both levels; `contains_l1` and
//!   `fetch_for_warm` (one `MGET`, promoting only prices not written, deleted or
//!   invalidated while it was in flight) serve the warmer; `get_l1_only` and `promote`
//!   serve a simulator that models L2 itself.
//! - L1 storage is chosen by [`L1Policy`]: the default is W-TinyLFU with its window chosen
//!   by miniature simulations of eight candidates (six windows from 1% to LRU, and two 10%
//!   windows with S3-FIFO-like recency admission; chosen for robustness across
//!   workloads, see `docs/simulation.md`); S3-FIFO, quick_cache's
//!   policy (fixed or adaptive hot share) and the original's strict LRU can be named for
//!   comparison; the price matrix (`use_price_matrix`) is a fixed table with one seqlocked
//!   slot per interned pair. Inserts say why a value arrives ([`Insert`]), so a warmed guess
//!   is admitted without displacing what the policy would keep, and `fetch_for_refresh`
//!   renews entries in place (refresh-ahead under an L1 TTL).
//! - [`coherence`] keeps L1 coherent with Redis across instances and foreign writers
//!   (client tracking invalidations; L1 bypassed while they cannot be trusted).
//! - L2 is the [`L2Store`] trait: [`RedisL2`] for production, [`MemoryL2`] as the embedded
//!   default and for tests (optional injected latency, switchable outage).
//!
//! Values are [`Price`]s; in L2 they are JSON (see [`codec`]) under
//! `cache:l2:price:<chain>:<address>`, so the original system's `cache:l2:` layout is kept.

mod any_l2;
mod clock;
pub mod codec;
pub mod coherence;
mod entry;
mod hierarchical;
mod l1;
mod l2;
mod memory_l2;
mod newer_wins;
mod policy;
mod policy_snapshot;
mod price_matrix;
mod redis_conn;
mod redis_error;
mod redis_l2;
mod redis_target;
mod refresh;
mod slot_owners;
mod stats;
mod warm_lead;

pub use any_l2::AnyL2;
pub use clock::Clock;
pub use codec::{MAX_VALUE_BYTES, ValueError};
pub use coherence::{
    Coherence, CoherenceMode, CoherenceStats, Invalidations, TrackingDriver, TrackingOptions,
    connect_tracked,
};
pub use entry::{Evictions, L1Entry};
pub use hierarchical::{
    CacheBuilder, CacheError, HierarchicalCache, L1Capacity, Lookup, ReadObserver, WarmFetch,
};
pub use l1::L1Policy;
pub use l2::{L2Error, L2Store, L2Write};
pub use memory_l2::MemoryL2;
pub use policy::{Insert, Inserted};
pub use policy_snapshot::{POLICY_MAGIC, POLICY_VERSION, PolicySnapshot, PolicySnapshotError};
pub use price_matrix::PriceMatrix;
pub use redis_conn::RedisConnection;
pub use redis_error::{Permanent, RedisErrorClass, classify_redis_error};
pub use redis_l2::{RedisL2, RedisL2Config};
pub use redis_target::{
    ClusterTimeouts, RedisTarget, RedisTls, RedisTopology, RedisUrl, redact_url,
};
pub use stats::{CacheStats, ChainCacheStats, LevelStats};

mod reserve;

pub use reserve::{Reserve, ReserveError};

/// A pool price as cached and as the original system stores it in L2: the price, the
/// pool's integer reserves, the block it was observed in and its timestamp.
///
/// **Price convention** (the original's): `price` is `reserve0 / reserve1`, the amount of
/// token0 one token1 is worth, in the tokens' smallest units. When a producer gives a
/// price, that value is the price; reserves are kept exactly as given (zero when the
/// producer gave none).
///
/// `Copy`, 56 bytes (alignment 8), so an L1 read copies it out without allocating and an
/// L1 entry (with its timestamp) fills one 64-byte cache line.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Price {
    /// `reserve0 / reserve1` (the original's `price`).
    pub price: f64,
    /// Block number the price was read at (0 if unknown); `blockNumber` in L2.
    pub block: u64,
    /// Milliseconds since the Unix epoch when the price was observed (0 if unknown);
    /// `timestamp` in L2.
    pub ts_ms: u64,
    /// Reserve of token0, exact (zero if unknown).
    pub reserve0: Reserve,
    /// Reserve of token1, exact (zero if unknown).
    pub reserve1: Reserve,
}

impl Price {
    /// A price with block and timestamp, without reserves.
    pub const fn new(price: f64, block: u64, ts_ms: u64) -> Self {
        Self {
            price,
            block,
            ts_ms,
            reserve0: Reserve::ZERO,
            reserve1: Reserve::ZERO,
        }
    }

    /// The same price with the pool's reserves.
    pub const fn with_reserves(mut self, reserve0: Reserve, reserve1: Reserve) -> Self {
        self.reserve0 = reserve0;
        self.reserve1 = reserve1;
        self
    }

    /// Whether this value is older than `other` by the original's order: `blockNumber`,
    /// then `timestamp`. A write of an older value never replaces a newer one.
    pub fn is_older_than(&self, other: &Self) -> bool {
        (self.block, self.ts_ms) < (other.block, other.ts_ms)
    }
}
