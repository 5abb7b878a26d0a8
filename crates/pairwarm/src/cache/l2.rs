//! The L2 interface: a shared, slower store of encoded prices (Redis in production).
//!
//! The cache speaks bytes to L2 and does the encoding itself ([`codec`](super::codec)), so
//! every backend stores exactly what Redis stores and bad values are caught in one place.

use std::future::Future;
use std::time::Duration;

use super::memory_l2::MemoryL2;
use super::redis_l2::RedisL2;

/// Failure of an L2 call. Never a panic, never a hang past the configured timeout.
#[derive(Debug, thiserror::Error)]
pub enum L2Error {
    /// The call did not complete within the timeout.
    #[error("L2 {op} timed out after {after:?}")]
    Timeout {
        /// The operation (`MGET`, `SET`, ...).
        op: &'static str,
        /// The timeout that fired.
        after: Duration,
    },
    /// The store is unreachable (connection refused or dropped, reconnecting).
    #[error("L2 {op} failed, store unreachable: {reason}")]
    Unavailable {
        /// The operation.
        op: &'static str,
        /// What the client reported.
        reason: String,
    },
    /// The store answered with an error or an unexpected reply.
    #[error("L2 {op} failed: {reason}")]
    Command {
        /// The operation.
        op: &'static str,
        /// What the store replied.
        reason: String,
    },
    /// The L2 configuration is invalid (for example a malformed Redis URL).
    #[error("invalid L2 configuration: {0}")]
    Config(String),
}

/// A shared key-value store of encoded prices.
///
/// Implementations must bound every call in time and count each network round trip.
pub trait L2Store: Send + Sync + 'static {
    /// Fetches all `keys` in one round trip; `None` where a key is absent.
    fn get_many(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<Option<Vec<u8>>>, L2Error>> + Send;

    /// Stores `value` at `key`, expiring after `ttl`.
    fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), L2Error>> + Send;

    /// Stores many values with one expiry in one round trip (a pipeline for Redis).
    fn set_many(
        &self,
        items: Vec<(String, Vec<u8>)>,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), L2Error>> + Send;

    /// Removes `key`.
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), L2Error>> + Send;

    /// Round trips made so far (one per call above).
    fn round_trips(&self) -> u64;

    /// Short name for logs and health output (`redis`, `memory`).
    fn name(&self) -> &'static str;

    /// Number of keys held, if the store can tell without a round trip.
    fn len_hint(&self) -> Option<usize> {
        None
    }
}

/// Either L2 backend, chosen at run time (`REDIS_URL` set or not).
pub enum AnyL2 {
    /// In-process store.
    Memory(MemoryL2),
    /// Redis.
    Redis(RedisL2),
}

impl From<MemoryL2> for AnyL2 {
    fn from(l2: MemoryL2) -> Self {
        Self::Memory(l2)
    }
}

impl From<RedisL2> for AnyL2 {
    fn from(l2: RedisL2) -> Self {
        Self::Redis(l2)
    }
}

impl L2Store for AnyL2 {
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, L2Error> {
        match self {
            Self::Memory(l2) => l2.get_many(keys).await,
            Self::Redis(l2) => l2.get_many(keys).await,
        }
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), L2Error> {
        match self {
            Self::Memory(l2) => l2.set(key, value, ttl).await,
            Self::Redis(l2) => l2.set(key, value, ttl).await,
        }
    }

    async fn set_many(&self, items: Vec<(String, Vec<u8>)>, ttl: Duration) -> Result<(), L2Error> {
        match self {
            Self::Memory(l2) => l2.set_many(items, ttl).await,
            Self::Redis(l2) => l2.set_many(items, ttl).await,
        }
    }

    async fn delete(&self, key: &str) -> Result<(), L2Error> {
        match self {
            Self::Memory(l2) => l2.delete(key).await,
            Self::Redis(l2) => l2.delete(key).await,
        }
    }

    fn round_trips(&self) -> u64 {
        match self {
            Self::Memory(l2) => l2.round_trips(),
            Self::Redis(l2) => l2.round_trips(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Memory(l2) => l2.name(),
            Self::Redis(l2) => l2.name(),
        }
    }

    fn len_hint(&self) -> Option<usize> {
        match self {
            Self::Memory(l2) => l2.len_hint(),
            Self::Redis(l2) => l2.len_hint(),
        }
    }
}
