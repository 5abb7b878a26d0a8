//! L1 coherence across instances and foreign writers: Redis server-assisted client-side
//! caching (`CLIENT TRACKING ... BCAST`).
//!
//! Several `serve` instances in one consumer group each see only their share of the
//! updates, and the original's detectors write the same L2 keys; without coherence an L1
//! entry stays at the value it was loaded with for ever (there is no L1 TTL by default).
//! With it, Redis tells every instance about every write under the cache's key prefix by
//! another connection, and the instance drops that key's L1 entry:
//!
//! - [`connect_tracked`] builds the [`RedisL2`] on RESP3 with a push channel
//!   ([`Invalidations`]); [`TrackingDriver`] turns tracking on for that same connection
//!   (`CLIENT TRACKING ON BCAST PREFIX <prefix> NOLOOP`) and applies what arrives.
//! - **Invalidation**: the key's L1 entry is dropped (its write sequence bumped, so a read
//!   in flight does not put the old value back). If L1 held it, it is re-fetched at once,
//!   in batches of one `MGET` each, so the next read is a hit on the new value (warming at
//!   its most useful). Keys of pairs this instance never interned cost a parse and a map
//!   lookup, no memory.
//! - **Channel loss** (redis-rs's `Disconnection` push on any lost connection: Redis
//!   restart, `CLIENT KILL`, network error; a push queue overflow; a failed heartbeat
//!   `PING`): [`Coherence`] stops being live at once, so the cache bypasses L1 (reads go to
//!   L2), L1 is flushed, and once tracking is on again on the new connection L1 is flushed
//!   once more (anything loaded while tracking was off may be older than L2) and served
//!   again. A `FLUSHALL`/`FLUSHDB` (an invalidation with a null key) flushes L1.
//!
//! Staleness is therefore bounded by the push's delivery (measured on loopback, see
//! `docs/reliability.md`), or by the heartbeat interval plus its timeout when the
//! connection dies silently; never unbounded.
//!
//! Why RESP3 on the write connection and not RESP2 `REDIRECT` to a subscriber: `NOLOOP`
//! applies to the writes of the connection that has tracking on, so tracking belongs on
//! the connection that does the write-through (with `REDIRECT` too). One limit, checked
//! on redis-server 7.0.15 and still in the tracking code of current Redis and Valkey: in
//! `BCAST` mode a write made by a script is recorded as the script client's, not the
//! caller's, so `NOLOOP` does not hold back our own newer-wins (`EVALSHA`) writes. They
//! come back, and a written key we hold in L1 is dropped and re-fetched like any other
//! (one `MGET` per batch; the cost is in `docs/reliability.md`). Telling our own write's
//! invalidation from a foreign one is not possible: Redis coalesces a key's writes per
//! event-loop turn into one message. RESP3 delivers the pushes
//! in order with the replies of that connection, and redis-rs's `ConnectionManager` hands
//! them, and a `Disconnection` push when a connection is lost, to a push sender: one
//! connection, no second subscriber connection whose loss would have to be watched on its
//! own. The manager does not replay `CLIENT TRACKING` after a reconnect, so the driver does
//! it on every `Disconnection`. (redis-rs's own `cache-aio` client cache tracks the same
//! way, but caches command replies in its own LRU; our L1 is keyed by interned pair and
//! governed by the L1 policy, so the driver takes the pushes itself.)
//!
//! Standalone Redis only: on a Redis Cluster tracking would have to be turned on per node
//! connection.

mod driver;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub use driver::{Invalidations, NoCoherence, TrackingDriver, TrackingOptions, connect_tracked};

#[cfg(doc)]
use super::RedisL2;

/// Whether L1 is kept coherent with Redis (`PAIRWARM_L1_COHERENCE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CoherenceMode {
    /// Redis client tracking (`CLIENT TRACKING ON BCAST`); the default with a Redis L2.
    #[default]
    Tracking,
    /// No coherence: an L1 entry is replaced only by this instance's own writes, reads
    /// after a miss, warms and the L1 TTL.
    Off,
}

impl std::str::FromStr for CoherenceMode {
    type Err = UnknownCoherenceMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tracking" => Ok(Self::Tracking),
            "off" => Ok(Self::Off),
            _ => Err(UnknownCoherenceMode(crate::pair::clip(s))),
        }
    }
}

impl std::fmt::Display for CoherenceMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tracking => "tracking",
            Self::Off => "off",
        })
    }
}

/// A coherence mode that is neither `tracking` nor `off`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown L1 coherence mode {0:?} (expected tracking or off)")]
pub struct UnknownCoherenceMode(pub String);

/// The coherence state a [`HierarchicalCache`](super::HierarchicalCache) consults on every
/// L1 read (one relaxed-cost atomic load), and its counters. Cloning shares it.
///
/// Starts not live: L1 is bypassed until the driver has turned tracking on.
#[derive(Clone, Debug, Default)]
pub struct Coherence(Arc<State>);

#[derive(Debug, Default)]
struct State {
    live: AtomicBool,
    invalidations: AtomicU64,
    dropped: AtomicU64,
    refetched: AtomicU64,
    resets: AtomicU64,
}

/// What coherence did so far (monotonic counters, for metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoherenceStats {
    /// Whether L1 is served now (tracking on and its channel intact).
    pub live: bool,
    /// Keys named by invalidation messages.
    pub invalidations: u64,
    /// L1 entries dropped by invalidations and flushes.
    pub dropped: u64,
    /// Invalidated entries re-fetched from L2 and put back into L1.
    pub refetched: u64,
    /// Times the invalidation channel was lost or flushed (L1 flushed each time).
    pub resets: u64,
}

impl Coherence {
    /// A state that is not live yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether L1 may be served: tracking is on and no invalidation can have been lost.
    #[inline]
    pub fn is_live(&self) -> bool {
        self.0.live.load(Ordering::Acquire)
    }

    /// The counters.
    pub fn stats(&self) -> CoherenceStats {
        let s = &self.0;
        CoherenceStats {
            live: self.is_live(),
            invalidations: s.invalidations.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            refetched: s.refetched.load(Ordering::Relaxed),
            resets: s.resets.load(Ordering::Acquire),
        }
    }

    pub(crate) fn set_live(&self, live: bool) {
        self.0.live.store(live, Ordering::Release);
    }

    pub(crate) fn count_invalidations(&self, n: u64) {
        self.0.invalidations.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn count_dropped(&self, n: u64) {
        self.0.dropped.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn count_refetched(&self, n: u64) {
        self.0.refetched.fetch_add(n, Ordering::Relaxed);
    }

    /// Counted after the flush it reports (Release), so a reader that sees the count sees
    /// the flushed L1.
    pub(crate) fn count_reset(&self) {
        self.0.resets.fetch_add(1, Ordering::Release);
    }
}

/// A RESP3 client for the same target as `client` (tracking pushes need RESP3 on the
/// connection that has tracking on). TLS settings are kept: they live in the address.
pub(crate) fn resp3(client: &redis::Client) -> redis::RedisResult<redis::Client> {
    let info = client.get_connection_info().clone();
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(redis::ProtocolVersion::RESP3);
    redis::Client::open(info.set_redis_settings(settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print_as_configured() {
        for (text, mode) in [
            ("tracking", CoherenceMode::Tracking),
            (" OFF ", CoherenceMode::Off),
        ] {
            let parsed: CoherenceMode = text.parse().unwrap();
            assert_eq!(parsed, mode);
            assert_eq!(parsed.to_string(), text.trim().to_ascii_lowercase());
        }
        let err = "bcast".parse::<CoherenceMode>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown L1 coherence mode \"bcast\" (expected tracking or off)"
        );
    }

    #[test]
    fn a_new_state_is_not_live_and_counts_from_zero() {
        let c = Coherence::new();
        assert!(!c.is_live());
        c.set_live(true);
        c.count_invalidations(3);
        c.count_dropped(2);
        c.count_refetched(1);
        c.count_reset();
        assert_eq!(
            c.clone().stats(),
            CoherenceStats {
                live: true,
                invalidations: 3,
                dropped: 2,
                refetched: 1,
                resets: 1
            }
        );
    }
}
