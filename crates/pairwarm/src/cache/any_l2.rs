//! [`AnyL2`]: the L2 backend chosen at run time (`REDIS_URL` set or not).

use std::time::Duration;

use super::l2::{L2Error, L2Store, L2Write};
use super::memory_l2::MemoryL2;
use super::redis_l2::RedisL2;

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

    async fn set_many(&self, items: Vec<L2Write>, ttl: Duration) -> Result<Vec<bool>, L2Error> {
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
