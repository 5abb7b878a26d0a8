//! [`TrackingDriver`]: turns client tracking on, applies invalidations, re-fetches the hot
//! keys they named and resets L1 when the channel is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::{Notify, mpsc};

use super::Coherence;
use crate::cache::{HierarchicalCache, L2Error, L2Store, RedisL2, RedisL2Config};
use crate::pair::PairId;

/// Push messages queued between the connection and the driver; beyond this the driver is
/// too far behind, the queue's overflow is a lost channel and L1 is flushed.
const PUSH_QUEUE: usize = 65_536;

/// Messages applied before the driver hands a re-fetch batch over and looks at the
/// overflow flag again.
const APPLY_BATCH: usize = 1_024;

/// The push messages of a tracked [`RedisL2`] connection (see [`connect_tracked`]).
pub struct Invalidations {
    rx: mpsc::Receiver<PushInfo>,
    /// Set when a push did not fit the queue (it was lost).
    overflowed: Arc<AtomicBool>,
}

/// A [`RedisL2`] on RESP3 whose push messages go to the returned [`Invalidations`], for a
/// [`TrackingDriver`]. Use this `RedisL2` as the cache's L2: tracking is turned on for the
/// connection that writes through, so `NOLOOP` keeps our own writes from coming back.
///
/// # Errors
/// As [`RedisL2::connect_lazy`].
pub fn connect_tracked(config: &RedisL2Config) -> Result<(RedisL2, Invalidations), L2Error> {
    let (tx, rx) = mpsc::channel(PUSH_QUEUE);
    let overflowed = Arc::new(AtomicBool::new(false));
    let flag = overflowed.clone();
    // Called on the connection's own task: must not block, so a full queue drops the
    // message and raises the flag (the driver then treats the channel as lost).
    let sender = move |info: PushInfo| -> Result<(), ()> {
        match tx.try_send(info) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                flag.store(true, Ordering::Release);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
        }
    };
    let l2 = RedisL2::connect_lazy_with_pushes(config, sender)?;
    Ok((l2, Invalidations { rx, overflowed }))
}

/// Settings of a [`TrackingDriver`].
#[derive(Clone, Debug)]
pub struct TrackingOptions {
    /// Invalidated hot keys re-fetched per `MGET`.
    pub refetch_batch: usize,
    /// Invalidated keys waiting for a re-fetch at most (more are not re-fetched; their
    /// next read loads them).
    pub refetch_queue: usize,
    /// How often the connection is checked with a `PING` when no push arrives; a failed
    /// check is a lost channel. Bounds staleness when a connection dies silently.
    pub heartbeat: Duration,
    /// Deadline of `PING` and `CLIENT TRACKING`.
    pub op_timeout: Duration,
    /// First delay before turning tracking on again after a failure; doubles up to 2 s.
    pub retry_delay: Duration,
}

impl Default for TrackingOptions {
    fn default() -> Self {
        Self {
            refetch_batch: 256,
            refetch_queue: 16_384,
            heartbeat: Duration::from_secs(1),
            op_timeout: Duration::from_millis(500),
            retry_delay: Duration::from_millis(20),
        }
    }
}

/// Keeps a cache's L1 coherent with Redis; see [the module](super).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use pairwarm::cache::{Coherence, HierarchicalCache, RedisL2Config, TrackingDriver, connect_tracked};
///
/// let (l2, invalidations) = connect_tracked(&RedisL2Config::new("redis://127.0.0.1:6379/"))?;
/// let cache = Arc::new(
///     HierarchicalCache::builder()
///         .coherence(Coherence::new())
///         .build(l2.clone()),
/// );
/// let driver = TrackingDriver::new(cache.clone(), l2, invalidations)?;
/// tokio::spawn(driver.run(std::future::pending()));
/// # Ok(()) }
/// ```
pub struct TrackingDriver<L: L2Store> {
    cache: Arc<HierarchicalCache<L>>,
    redis: RedisL2,
    pushes: Invalidations,
    coherence: Coherence,
    options: TrackingOptions,
}

/// A [`TrackingDriver`] for a cache built without [`Coherence`].
#[derive(Debug, thiserror::Error)]
#[error("the cache was built without coherence (CacheBuilder::coherence)")]
pub struct NoCoherence;

impl<L: L2Store> TrackingDriver<L> {
    /// A driver for `cache` (built with [`crate::cache::CacheBuilder::coherence`]) whose L2
    /// connection is `redis`, from [`connect_tracked`] with `pushes`.
    ///
    /// # Errors
    /// [`NoCoherence`] if the cache has no coherence state to drive.
    pub fn new(
        cache: Arc<HierarchicalCache<L>>,
        redis: RedisL2,
        pushes: Invalidations,
    ) -> Result<Self, NoCoherence> {
        let coherence = cache.coherence().cloned().ok_or(NoCoherence)?;
        Ok(Self {
            cache,
            redis,
            pushes,
            coherence,
            options: TrackingOptions::default(),
        })
    }

    /// Replaces the default settings.
    pub fn with_options(mut self, options: TrackingOptions) -> Self {
        self.options = options;
        self
    }

    /// Runs until `stop` completes (or the connection is gone for good). L1 is not served
    /// before tracking is on, nor after this returns.
    pub async fn run(mut self, stop: impl Future<Output = ()>) {
        let refetch = Arc::new(Refetch::new(self.cache.interner().capacity()));
        let worker = tokio::spawn(refetch_worker(
            self.cache.clone(),
            refetch.clone(),
            self.options.clone(),
        ));
        tokio::select! {
            () = stop => {}
            () = self.track(&refetch) => {}
        }
        worker.abort();
        self.coherence.set_live(false);
        self.cache.invalidate_all_l1();
    }

    async fn track(&mut self, refetch: &Refetch) {
        let mut delay = self.options.retry_delay;
        let mut failures = 0u32;
        let mut lost = false;
        loop {
            self.go_down();
            // Counted once L1 is flushed and bypassed, so whoever sees the count sees that.
            if std::mem::take(&mut lost) {
                self.coherence.count_reset();
            }
            // Messages queued so far concern connections that are gone or came before
            // tracking; the flush covers them. Drained before turning tracking on, so a
            // loss of the new connection is never discarded.
            while self.pushes.rx.try_recv().is_ok() {}
            self.pushes.overflowed.store(false, Ordering::Release);
            if let Err(e) = self.enable().await {
                failures += 1;
                if failures == 1 || failures.is_multiple_of(30) {
                    tracing::warn!(error = %e, failures, "L1 coherence: cannot turn Redis client tracking on; L1 is bypassed until it is (PAIRWARM_L1_COHERENCE=off serves L1 without coherence)");
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
                continue;
            }
            if failures > 0 {
                tracing::info!(failures, "L1 coherence: client tracking on again");
            }
            failures = 0;
            delay = self.options.retry_delay;
            // What L1 took while tracking was off may be older than L2.
            self.cache.invalidate_all_l1();
            self.coherence.set_live(true);
            if !self.follow(refetch).await {
                return;
            }
            lost = true;
        }
    }

    /// Stops serving L1 and flushes it.
    fn go_down(&self) {
        self.coherence.set_live(false);
        self.coherence.count_dropped(self.cache.l1_len() as u64);
        self.cache.invalidate_all_l1();
    }

    /// `CLIENT TRACKING ON BCAST PREFIX <prefix> NOLOOP` on the L2 connection.
    async fn enable(&self) -> Result<(), L2Error> {
        let mut cmd = redis::cmd("CLIENT");
        cmd.arg("TRACKING")
            .arg("ON")
            .arg("BCAST")
            .arg("PREFIX")
            .arg(self.cache.key_prefix())
            .arg("NOLOOP");
        let mut conn = self.redis.connection();
        match tokio::time::timeout(self.options.op_timeout, cmd.query_async::<()>(&mut conn)).await
        {
            Err(_) => Err(L2Error::Timeout {
                op: "CLIENT TRACKING",
                after: self.options.op_timeout,
            }),
            Ok(Err(e)) => Err(L2Error::Command {
                op: "CLIENT TRACKING",
                reason: e.to_string(),
            }),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Applies pushes while the channel holds; `false` when the connection is gone for
    /// good (the push sender was dropped), `true` on a loss to recover from.
    async fn follow(&mut self, refetch: &Refetch) -> bool {
        let mut heartbeat = tokio::time::interval(self.options.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let mut hot = Vec::new();
        loop {
            let first = tokio::select! {
                msg = self.pushes.rx.recv() => msg,
                _ = heartbeat.tick() => {
                    if !self.alive().await {
                        return true;
                    }
                    continue;
                }
            };
            let Some(first) = first else {
                return false;
            };
            heartbeat.reset();
            let mut next = Some(first);
            let mut applied = 0;
            let mut lost = false;
            while let Some(info) = next {
                lost |= self.apply(info, &mut hot, refetch);
                applied += 1;
                if lost || applied == APPLY_BATCH {
                    break;
                }
                next = self.pushes.rx.try_recv().ok();
            }
            if !hot.is_empty() {
                let interner = self.cache.interner();
                refetch.push(&mut hot, self.options.refetch_queue, |id| interner.slot(id));
            }
            if lost || self.pushes.overflowed.load(Ordering::Acquire) {
                return true;
            }
        }
    }

    /// A `PING` on the tracked connection: its reply comes after every push sent before it.
    async fn alive(&self) -> bool {
        matches!(
            tokio::time::timeout(self.options.op_timeout, self.redis.ping()).await,
            Ok(Ok(()))
        )
    }

    /// Applies one push; `true` if the channel was lost.
    fn apply(&self, info: PushInfo, hot: &mut Vec<PairId>, refetch: &Refetch) -> bool {
        match info.kind {
            PushKind::Disconnection => true,
            PushKind::Invalidate => {
                match info.data.first() {
                    Some(Value::Array(keys)) => {
                        self.coherence.count_invalidations(keys.len() as u64);
                        for key in keys {
                            let Some(id) = self.pair_of(key) else {
                                continue;
                            };
                            let slot = self.cache.interner().slot(id);
                            if self.cache.invalidate_l1(id) {
                                self.coherence.count_dropped(1);
                                hot.push(id);
                            } else if refetch.is_pending(slot) {
                                // Changed again while its re-fetch is in flight: that
                                // fetch is discarded, so fetch it once more.
                                hot.push(id);
                            }
                        }
                    }
                    // FLUSHALL / FLUSHDB: every key changed at once.
                    _ => {
                        self.coherence.count_dropped(self.cache.l1_len() as u64);
                        self.cache.invalidate_all_l1();
                        // After the flush, so whoever sees the count sees nothing older than it.
                        self.coherence.count_reset();
                    }
                }
                false
            }
            _ => false,
        }
    }

    /// The interned pair an invalidated key names (`<prefix><chain>:<address>`), if any.
    fn pair_of(&self, key: &Value) -> Option<PairId> {
        let key = match key {
            Value::BulkString(b) => std::str::from_utf8(b).ok()?,
            Value::SimpleString(s) => s.as_str(),
            _ => return None,
        };
        let (chain, address) = key.strip_prefix(self.cache.key_prefix())?.split_once(':')?;
        self.cache.interner().lookup_str(chain, address)
    }
}

/// Invalidated keys that L1 held, waiting to be re-fetched (bounded), and which interner
/// slots have a re-fetch queued or in flight (fixed size: one flag per slot).
struct Refetch {
    ids: Mutex<Vec<PairId>>,
    pending: Box<[AtomicBool]>,
    wake: Notify,
}

impl Refetch {
    fn new(slots: usize) -> Self {
        Self {
            ids: Mutex::new(Vec::new()),
            pending: (0..slots).map(|_| AtomicBool::new(false)).collect(),
            wake: Notify::new(),
        }
    }

    fn is_pending(&self, slot: usize) -> bool {
        self.pending
            .get(slot)
            .is_some_and(|p| p.load(Ordering::Acquire))
    }

    fn set_pending(&self, slot: usize, on: bool) {
        if let Some(p) = self.pending.get(slot) {
            p.store(on, Ordering::Release);
        }
    }

    fn push(&self, hot: &mut Vec<PairId>, cap: usize, slot_of: impl Fn(PairId) -> usize) {
        {
            let mut ids = self.ids.lock();
            let room = cap.saturating_sub(ids.len());
            for id in hot.drain(..).take(room) {
                self.set_pending(slot_of(id), true);
                ids.push(id);
            }
        }
        hot.clear();
        self.wake.notify_one();
    }
}

/// Re-fetches invalidated hot keys, one `MGET` per batch, as soon as they are queued.
async fn refetch_worker<L: L2Store>(
    cache: Arc<HierarchicalCache<L>>,
    refetch: Arc<Refetch>,
    options: TrackingOptions,
) {
    let Some(coherence) = cache.coherence().cloned() else {
        return;
    };
    let mut batch = Vec::new();
    loop {
        refetch.wake.notified().await;
        std::mem::swap(&mut batch, &mut *refetch.ids.lock());
        batch.sort_unstable_by_key(|id| id.raw());
        batch.dedup();
        for chunk in batch.chunks(options.refetch_batch.max(1)) {
            // A failed fetch leaves the keys out of L1: their next read loads them.
            if let Ok(done) = cache.fetch_for_warm(chunk).await {
                coherence.count_refetched(done.promoted as u64);
            }
            for &id in chunk {
                refetch.set_pending(cache.interner().slot(id), false);
            }
        }
        batch.clear();
    }
}
