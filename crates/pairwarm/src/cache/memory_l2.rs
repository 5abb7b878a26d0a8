//! In-process L2: the embedded default (no Redis needed) and a controllable test double.
//!
//! It stores encoded bytes with a TTL like Redis, can add a fixed latency to every call
//! (to model a network round trip) and can be switched "down" to exercise failure paths.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;

use super::clock::Clock;
use super::codec;
use super::l2::{L2Error, L2Store, L2Write};

#[derive(Default)]
struct Inner {
    map: RwLock<HashMap<String, (Vec<u8>, u64)>>,
    round_trips: AtomicU64,
    down: AtomicBool,
}

/// In-memory L2. Cloning shares the store (like two clients of one Redis).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use pairwarm::cache::{L2Store, MemoryL2};
/// use std::time::Duration;
/// let l2 = MemoryL2::new();
/// l2.set("k", b"1".to_vec(), Duration::from_secs(60)).await.unwrap();
/// assert_eq!(l2.get_many(&["k".into(), "x".into()]).await.unwrap(), vec![Some(b"1".to_vec()), None]);
/// assert_eq!(l2.round_trips(), 2);
/// # });
/// ```
#[derive(Clone, Default)]
pub struct MemoryL2 {
    inner: Arc<Inner>,
    latency: Duration,
    clock: Clock,
}

impl MemoryL2 {
    /// An empty store with no added latency.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `latency` to every call (a modelled network round trip).
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Uses `clock` for TTL expiry (a manual clock in simulations and tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Makes every call fail with [`L2Error::Unavailable`] (`true`) or work again (`false`).
    pub fn set_down(&self, down: bool) {
        self.inner.down.store(down, Ordering::Relaxed);
    }

    /// Number of keys held (expired keys included until they are read).
    pub fn len(&self) -> usize {
        self.inner.map.read().len()
    }

    /// True if no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    async fn round_trip(&self, op: &'static str) -> Result<(), L2Error> {
        self.inner.round_trips.fetch_add(1, Ordering::Relaxed);
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        if self.inner.down.load(Ordering::Relaxed) {
            return Err(L2Error::Unavailable {
                op,
                reason: "memory L2 switched down".into(),
            });
        }
        Ok(())
    }
}

impl L2Store for MemoryL2 {
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, L2Error> {
        self.round_trip("MGET").await?;
        let now = self.clock.now_ms();
        let map = self.inner.map.read();
        Ok(keys
            .iter()
            .map(|k| {
                map.get(k)
                    .filter(|(_, expires)| *expires > now)
                    .map(|(v, _)| v.clone())
            })
            .collect())
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), L2Error> {
        self.round_trip("SET").await?;
        let expires = self
            .clock
            .now_ms()
            .saturating_add(ttl.as_millis().min(u128::from(u64::MAX)) as u64);
        self.inner
            .map
            .write()
            .insert(key.to_owned(), (value, expires));
        Ok(())
    }

    async fn set_many(&self, items: Vec<L2Write>, ttl: Duration) -> Result<Vec<bool>, L2Error> {
        self.round_trip("SET").await?;
        let now = self.clock.now_ms();
        let expires = now.saturating_add(ttl.as_millis().min(u128::from(u64::MAX)) as u64);
        let mut map = self.inner.map.write();
        Ok(items
            .into_iter()
            .map(|w| {
                // Newer wins, as the Redis script decides it (an unreadable value loses).
                let newer_held = map
                    .get(&w.key)
                    .filter(|(_, expires)| *expires > now)
                    .and_then(|(v, _)| codec::decode(&w.key, v).ok())
                    .is_some_and(|held| (held.block, held.ts_ms) > (w.block, w.ts_ms));
                if !newer_held {
                    map.insert(w.key, (w.value, expires));
                }
                !newer_held
            })
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<(), L2Error> {
        self.round_trip("DEL").await?;
        self.inner.map.write().remove(key);
        Ok(())
    }

    fn round_trips(&self) -> u64 {
        self.inner.round_trips.load(Ordering::Relaxed)
    }

    fn name(&self) -> &'static str {
        "memory"
    }

    fn len_hint(&self) -> Option<usize> {
        Some(self.len())
    }
}
