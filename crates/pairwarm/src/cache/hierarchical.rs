//! [`HierarchicalCache`]: the L1 + L2 facade.

use arc_swap::ArcSwapOption;
use std::sync::Arc;
use std::time::Duration;

use super::clock::Clock;
use super::codec::{self, ValueError};
use super::coherence::Coherence;
use super::entry::{Evictions, Expiry, L1Entry};
use super::l1::{L1Policy, L1Store};
use super::l2::{L2Error, L2Store, L2Write};
use super::policy::{Insert, Inserted};
use super::policy_snapshot::{PolicySnapshot, PolicySnapshotError};
use super::price_matrix::PriceMatrix;
use super::refresh::RefreshQueue;
use super::stats::{CacheStats, ChainCacheStats, Counters, Event};
use super::warm_lead::WarmLead;
use super::{MemoryL2, Price};
use crate::pair::{ChainId, PairId, PairInterner};

/// Errors of cache calls. The cache itself never panics on what L2 returns.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// L2 failed (unreachable, timed out, or answered with an error).
    #[error(transparent)]
    L2(#[from] L2Error),
    /// L2 holds a value that is not a price.
    #[error(transparent)]
    Value(#[from] ValueError),
    /// The id's interner slot was recycled for another pair; re-intern the address.
    #[error("pair id {0} is no longer interned")]
    UnknownPair(PairId),
}

/// Why a fetched value was not put into L1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NotInserted {
    /// Written, deleted or invalidated while the fetch was in flight.
    Superseded,
    /// The L1 policy did not admit the guess (or a refreshed pair was no longer in L1).
    NotAdmitted,
}

/// What [`HierarchicalCache::fetch_for_warm`] did with each pair it was asked for.
#[derive(Debug, Default)]
pub struct WarmFetch {
    /// Found in L2 and put into L1.
    pub promoted: usize,
    /// Found in L2 but written, deleted or invalidated while the fetch was in flight, so
    /// not put into L1 (L1 holds a newer price, or none should be there).
    pub superseded: usize,
    /// Not in L2 (or no longer interned).
    pub not_found: usize,
    /// Not admitted by the L1 policy: a warm takes only a free or expired slot, never a
    /// live entry's (without an L1 TTL, a pair refused before the fetch is counted here
    /// without being looked up in L2); a refresh only renews a pair still in L1.
    pub not_admitted: usize,
    /// In L2 but not a price.
    pub undecodable: usize,
    /// The first undecodable value's error, for the log.
    pub first_error: Option<ValueError>,
}

/// Result of one key of a batch read: the price, `None` if absent everywhere, or why the
/// L2 value could not be used.
pub type Lookup = Result<Option<Price>, ValueError>;

/// L1 bound, in the original's unit or as an entry count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L1Capacity {
    /// Megabytes, with every entry assumed to take 1 KiB, exactly as the original system
    /// sizes its L1 (`l1Size` MB => `l1Size * 1024` entries). A [`Price`] entry really takes
    /// ~60 bytes, so the memory actually used is far below the figure.
    Megabytes(u64),
    /// An explicit number of entries.
    Entries(usize),
}

impl L1Capacity {
    /// Bytes per entry assumed by [`L1Capacity::Megabytes`] (the original's 1 KiB).
    pub const ASSUMED_ENTRY_BYTES: u64 = 1024;

    /// The bound in entries.
    pub fn entries(self) -> usize {
        match self {
            Self::Megabytes(mb) => {
                (mb.saturating_mul(1024 * 1024) / Self::ASSUMED_ENTRY_BYTES) as usize
            }
            Self::Entries(n) => n,
        }
    }
}

type EvictionListener = Box<dyn Fn(PairId) + Send + Sync>;

/// Told of the reads a warm could have served: an L1 miss (absent or expired; not while
/// coherence bypasses L1, when no warm could land) and the first read of an entry
/// admitted as a warm (a guess that paid; the hand-written policies tell, the
/// crate-backed stores and the price matrix hold guesses as plain entries). A tracker
/// learning from them ([`crate::tracker::Signal::Reads`]) learns which pools are read
/// after an update *and missing*: a read that hit an entry the cache kept anyway needs no
/// warm, and counting it would dilute the pairs that do. Set with
/// [`HierarchicalCache::set_read_observer`]; the container does it when
/// [`WarmingConfig::learn_from_misses`](crate::container::WarmingConfig::learn_from_misses)
/// is set.
///
/// Called on the reader's thread, on those reads only (never on a plain hit): keep it
/// short.
pub trait ReadObserver: Send + Sync {
    /// `id` was read at `now_ms` (the cache's clock) and a warm could have served it.
    fn on_warmable_read(&self, id: PairId, now_ms: u64);
}

/// Configures and builds a [`HierarchicalCache`].
pub struct CacheBuilder {
    l1_capacity: L1Capacity,
    l1_policy: L1Policy,
    use_price_matrix: bool,
    l2_enabled: bool,
    l2_ttl: Duration,
    l1_ttl: Option<Duration>,
    key_prefix: String,
    chain_hash_tag: bool,
    clock: Clock,
    interner: Option<Arc<PairInterner>>,
    eviction_listener: Option<EvictionListener>,
    refresh_idle: Option<Duration>,
    coherence: Option<Coherence>,
    l2_round_trip: Option<Duration>,
}

impl Default for CacheBuilder {
    fn default() -> Self {
        Self {
            l1_capacity: L1Capacity::Megabytes(64),
            l1_policy: L1Policy::Default,
            use_price_matrix: false,
            l2_enabled: true,
            l2_ttl: Duration::from_secs(300),
            l1_ttl: None,
            key_prefix: "cache:l2:price:".to_owned(),
            chain_hash_tag: false,
            clock: Clock::System,
            interner: None,
            eviction_listener: None,
            refresh_idle: None,
            coherence: None,
            l2_round_trip: None,
        }
    }
}

impl CacheBuilder {
    /// L1 bound in megabytes of assumed 1 KiB entries (the original's `l1Size`; default 64).
    pub fn l1_size_mb(mut self, mb: u64) -> Self {
        self.l1_capacity = L1Capacity::Megabytes(mb);
        self
    }

    /// L1 bound as an entry count.
    pub fn l1_entries(mut self, entries: usize) -> Self {
        self.l1_capacity = L1Capacity::Entries(entries);
        self
    }

    /// L1 bound.
    pub fn l1_capacity(mut self, capacity: L1Capacity) -> Self {
        self.l1_capacity = capacity;
        self
    }

    /// L1 eviction policy (ignored by the price matrix, which has one slot per pair).
    pub fn l1_policy(mut self, policy: L1Policy) -> Self {
        self.l1_policy = policy;
        self
    }

    /// Use the fixed-slot price matrix as L1 (`CACHE_USE_PRICE_MATRIX`). The matrix has
    /// one slot per interner slot; without an explicit interner, the interner is sized to
    /// the L1 bound, so the bound holds.
    pub fn use_price_matrix(mut self, on: bool) -> Self {
        self.use_price_matrix = on;
        self
    }

    /// Whether reads fall through to L2 and writes go through to it (`CACHE_L2_ENABLED`).
    pub fn l2_enabled(mut self, on: bool) -> Self {
        self.l2_enabled = on;
        self
    }

    /// Expiry of values written to L2 (default 300 s, the original's).
    pub fn l2_ttl(mut self, ttl: Duration) -> Self {
        self.l2_ttl = ttl;
        self
    }

    /// Expiry of L1 entries, counted from when they were written, loaded or warmed
    /// (default: none). An expired entry reads as a miss: a detector must not act on an
    /// old price.
    pub fn l1_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.l1_ttl = ttl;
        self
    }

    /// Refresh-ahead (with an L1 TTL): how long after its last read an entry is still worth
    /// refreshing before it expires (default: [`crate::warmer::REFRESH_IDLE_TTLS`] TTLs, at
    /// least [`crate::warmer::REFRESH_IDLE_MIN_MS`]). See [`HierarchicalCache::refresh_due`].
    /// The default policy's window tuner models refresh-ahead with the same horizon.
    pub fn refresh_idle(mut self, idle: Duration) -> Self {
        self.refresh_idle = Some(idle);
        self
    }

    /// Prefix of L2 keys (default `cache:l2:price:`, giving
    /// `cache:l2:price:<chain>:<address>`).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Wraps the chain of L2 keys in a Redis Cluster hash tag:
    /// `cache:l2:price:{<chain>}:<address>`, so all of a chain's prices share one hash slot
    /// (one node, one newer-wins script call per 256 keys) and can live with a stream named
    /// `...{<chain>}`. Off by default: the original's readers look for
    /// `cache:l2:price:<chain>:<address>`.
    pub fn chain_hash_tag(mut self, tagged: bool) -> Self {
        self.chain_hash_tag = tagged;
        self
    }

    /// The L2 round trip a warm takes, fixed (a replay that models L2 latency itself).
    /// Without it the cache measures its own warm fetches. The speculation gate counts a
    /// missed read of a guess it refused before fetching only if the read came two round
    /// trips (at least 100 µs) after the refusal, when the warm would have landed (see
    /// `warm_lead.rs`).
    pub fn l2_round_trip(mut self, round_trip: Duration) -> Self {
        self.l2_round_trip = Some(round_trip);
        self
    }

    /// Clock for L1 expiry and for timing the speculation gate's refused guesses (manual
    /// in simulations). With a manual clock, set [`CacheBuilder::l2_round_trip`] too: a
    /// measured round trip is wall time, which a manual clock does not follow.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Shares an interner (the tracker and the detector must use the same one).
    pub fn interner(mut self, interner: Arc<PairInterner>) -> Self {
        self.interner = Some(interner);
        self
    }

    /// Called with each pair the L1 policy evicts (not for explicit deletes).
    pub fn eviction_listener(mut self, listener: impl Fn(PairId) + Send + Sync + 'static) -> Self {
        self.eviction_listener = Some(Box::new(listener));
        self
    }

    /// Keeps L1 coherent with L2 through `coherence`: while it is not live (tracking not
    /// on yet, or its channel lost) L1 is bypassed; see [`super::coherence`].
    pub fn coherence(mut self, coherence: Coherence) -> Self {
        self.coherence = Some(coherence);
        self
    }

    /// Builds the cache on `l2`.
    pub fn build<L: L2Store>(self, l2: L) -> HierarchicalCache<L> {
        let entries = self.l1_capacity.entries().max(1);
        let interner = self.interner.unwrap_or_else(|| {
            let capacity = if self.use_price_matrix {
                entries
            } else {
                entries.saturating_mul(4).max(1 << 16)
            };
            Arc::new(PairInterner::new(capacity))
        });
        let l1_ttl_ms = self.l1_ttl.map(|t| t.as_millis() as u64);
        let expiry = l1_ttl_ms.map(|ttl_ms| Expiry {
            ttl_ms,
            refresh_idle_ms: self.refresh_idle.map_or(
                crate::warmer::REFRESH_IDLE_TTLS
                    .saturating_mul(ttl_ms)
                    .max(crate::warmer::REFRESH_IDLE_MIN_MS),
                |d| d.as_millis() as u64,
            ),
        });
        let l1 = if self.use_price_matrix {
            L1Store::Matrix(PriceMatrix::for_interner(&interner))
        } else {
            L1Store::new(self.l1_policy, entries, expiry, Some(interner.slot_mask()))
        };
        let writes = (0..interner.capacity())
            .map(|_| std::sync::atomic::AtomicU32::new(0))
            .collect();
        let refresh = expiry.map(|e| {
            RefreshQueue::new(
                &interner,
                4 * entries,
                self.clock.now_ms(),
                e.ttl_ms,
                e.refresh_idle_ms,
            )
        });
        HierarchicalCache {
            refresh,
            interner,
            l1,
            l2: self.l2_enabled.then_some(l2),
            l2_ttl: self.l2_ttl,
            l1_ttl_ms,
            clock: self.clock,
            key_prefix: self.key_prefix,
            chain_hash_tag: self.chain_hash_tag,
            counters: Counters::default(),
            writes,
            eviction_listener: self.eviction_listener,
            coherence: self.coherence,
            read_observer: ArcSwapOption::empty(),
            warm_lead: self
                .l2_round_trip
                .map_or_else(WarmLead::measured, WarmLead::fixed),
        }
    }

    /// Builds the cache on a fresh in-memory L2 (the embedded default).
    pub fn build_in_memory(self) -> HierarchicalCache<MemoryL2> {
        let clock = self.clock.clone();
        self.build(MemoryL2::new().with_clock(clock))
    }
}

/// A bounded in-process L1 in front of an L2, keyed by interned [`PairId`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use pairwarm::cache::{HierarchicalCache, Price};
/// let cache = HierarchicalCache::builder().l1_entries(1024).build_in_memory();
/// let id = cache.interner().intern_str("ethereum", "0xb4e16d0168e52d35cacd2c6185b44281ec28c9dc").unwrap();
/// cache.set(id, Price::new(1850.25, 19_000_000, 0)).await.unwrap();
/// assert_eq!(cache.get(id).await.unwrap().map(|p| p.price), Some(1850.25));
/// assert_eq!(cache.stats().l1.hits, 1);
/// # });
/// ```
pub struct HierarchicalCache<L: L2Store = super::AnyL2> {
    interner: Arc<PairInterner>,
    l1: L1Store,
    l2: Option<L>,
    l2_ttl: Duration,
    l1_ttl_ms: Option<u64>,
    clock: Clock,
    key_prefix: String,
    /// `{<chain>}` in L2 keys ([`CacheBuilder::chain_hash_tag`]).
    chain_hash_tag: bool,
    counters: Counters,
    /// Write sequence per interner slot, bumped by every write of a price (`set`,
    /// `set_many`, `set_l1`). A value fetched from L2 is put into L1 only if no write of
    /// the pair happened while it was in flight, so an older L2 value never replaces (or
    /// follows the eviction of) a newer price.
    writes: Box<[std::sync::atomic::AtomicU32]>,
    eviction_listener: Option<EvictionListener>,
    /// Read bookkeeping for refresh-ahead (only with an L1 TTL).
    refresh: Option<RefreshQueue>,
    /// Invalidation state (L1 bypassed while it is not live); `None`: no coherence.
    coherence: Option<Coherence>,
    /// Told of misses and warmed hits ([`ReadObserver`]); swapped without a lock, since
    /// every miss loads it.
    read_observer: ArcSwapOption<Box<dyn ReadObserver>>,
    /// How long a warm takes to land, for the speculation gate's refused guesses.
    warm_lead: WarmLead,
}

impl HierarchicalCache<super::AnyL2> {
    /// Starts configuring a cache.
    pub fn builder() -> CacheBuilder {
        CacheBuilder::default()
    }
}

impl<L: L2Store> HierarchicalCache<L> {
    /// The interner that gives this cache's ids their meaning.
    pub fn interner(&self) -> &Arc<PairInterner> {
        &self.interner
    }

    /// The L2 store, if L2 is enabled.
    pub fn l2(&self) -> Option<&L> {
        self.l2.as_ref()
    }

    /// The clock used for L1 expiry and the speculation gate's timing.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Whether L1 is the price matrix.
    pub fn uses_price_matrix(&self) -> bool {
        matches!(self.l1, L1Store::Matrix(_))
    }

    /// L1 bound in entries.
    pub fn l1_capacity(&self) -> usize {
        self.l1.capacity()
    }

    /// Entries in L1 now.
    pub fn l1_len(&self) -> usize {
        self.l1.len()
    }

    /// The L2 key of a pair: `<prefix><chain>:<address>`, or `<prefix>{<chain>}:<address>`
    /// with [`CacheBuilder::chain_hash_tag`].
    pub fn l2_key(&self, id: PairId) -> Result<String, CacheError> {
        let key = self
            .interner
            .resolve(id)
            .ok_or(CacheError::UnknownPair(id))?;
        let chain = self.interner.chain_name(key.chain).unwrap_or("unknown");
        let mut buf = [0u8; crate::pair::MAX_ADDRESS_TEXT];
        let address = key.address.encode_into(&mut buf);
        let mut out =
            String::with_capacity(self.key_prefix.len() + chain.len() + 3 + address.len());
        out.push_str(&self.key_prefix);
        if self.chain_hash_tag {
            out.push('{');
            out.push_str(chain);
            out.push('}');
        } else {
            out.push_str(chain);
        }
        out.push(':');
        out.push_str(address);
        Ok(out)
    }

    fn fresh(&self, entry: L1Entry) -> bool {
        if !self.coherent() {
            return false;
        }
        match self.l1_ttl_ms {
            None => true,
            Some(ttl) => self.clock.now_ms().saturating_sub(entry.stored_ms) < ttl,
        }
    }

    /// The insert kind of a warm now: entries stored before `now - ttl` are expired.
    fn warm_kind(&self) -> Insert {
        let stale_before_ms = match self.l1_ttl_ms {
            Some(ttl) => self.clock.now_ms().checked_sub(ttl).map_or(0, |t| t + 1),
            None => 0,
        };
        Insert::Warm { stale_before_ms }
    }

    fn stamp(&self, price: Price) -> L1Entry {
        let stored_ms = if self.l1_ttl_ms.is_some() {
            self.clock.now_ms()
        } else {
            0
        };
        L1Entry { price, stored_ms }
    }

    /// Reads L1 through the policy: the fresh price of `id`, and whether the read took an
    /// unread warmed entry; an expired entry is removed and reads as absent.
    #[inline]
    fn read_l1(&self, id: PairId) -> Option<(Price, bool)> {
        if !self.coherent() {
            return None;
        }
        let Some(ttl) = self.l1_ttl_ms else {
            // The clock is read only on a miss of a guess refused before its fetch.
            return self
                .l1
                .get(id, 0, || self.clock.now_us())
                .map(|(e, guess)| (e.price, guess));
        };
        let now = self.clock.now_ms();
        let (entry, guess) = self.l1.get(id, now, || self.clock.now_us())?;
        if now.saturating_sub(entry.stored_ms) < ttl {
            if let Some(r) = &self.refresh {
                r.on_read(self.interner.slot(id), id, entry.stored_ms, now);
            }
            Some((entry.price, guess))
        } else {
            self.l1.remove(id);
            None
        }
    }

    /// Whether L1 may be served: always without coherence, else while invalidations flow.
    #[inline]
    fn coherent(&self) -> bool {
        self.coherence.as_ref().is_none_or(Coherence::is_live)
    }

    /// The coherence state, if the cache was built with one.
    pub fn coherence(&self) -> Option<&Coherence> {
        self.coherence.as_ref()
    }

    /// The prefix of this cache's L2 keys.
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// Empties L1 and discards every fetch in flight (each pair's write sequence is bumped,
    /// so a value read from L2 before this call is not put into L1 after it): what L1 held
    /// may be older than L2 now. Costs one atomic add per interner slot; for rare events
    /// (lost invalidation channel, `FLUSHALL`).
    pub fn invalidate_all_l1(&self) {
        for w in self.writes.iter() {
            w.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        self.clear_l1();
    }

    /// A read that missed and loaded `id` now: refresh-ahead follows it like a hit.
    fn note_load(&self, id: PairId) {
        if let Some(r) = &self.refresh {
            let now = self.clock.now_ms();
            r.on_read(self.interner.slot(id), id, now, now);
        }
    }

    fn write_slot(&self, id: PairId) -> Option<&std::sync::atomic::AtomicU32> {
        self.writes.get(self.interner.slot(id))
    }

    /// The pair's write sequence: bumped by every write, delete and invalidation of its
    /// price. A fetch records it before asking L2 (see [`HierarchicalCache::fetch_for_warm`]).
    fn write_seq(&self, id: PairId) -> u32 {
        self.write_slot(id)
            .map_or(0, |w| w.load(std::sync::atomic::Ordering::Acquire))
    }

    /// Marks `id`'s price as changed: a value fetched before this point is older.
    fn bump_seq(&self, id: PairId) {
        if let Some(w) = self.write_slot(id) {
            w.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
    }

    /// A write of `id`'s price: bump its sequence, then insert.
    fn write_l1(&self, id: PairId, price: Price) -> Evictions {
        self.bump_seq(id);
        self.insert_l1(id, price, Insert::Write).1
    }

    /// Drops `id` from L1 and from every fetch in flight: bump its sequence, then remove
    /// (a fetch inserting between the two sees the bump and removes its own entry).
    fn invalidate(&self, id: PairId) -> bool {
        self.bump_seq(id);
        if let Some(r) = &self.refresh {
            r.forget(self.interner.slot(id));
        }
        self.l1.remove(id)
    }

    /// Puts a value fetched from L2 into L1 unless the pair was written since `seq` was
    /// read. If a write races with the insert itself, the entry is dropped again: L1 may
    /// lose a hit, never serve an older price than L2 holds.
    fn insert_fetched(
        &self,
        id: PairId,
        price: Price,
        seq: u32,
        kind: Insert,
    ) -> Result<Evictions, NotInserted> {
        if self.write_seq(id) != seq {
            return Err(NotInserted::Superseded);
        }
        let (done, evicted) = self.insert_l1(id, price, kind);
        if done == Inserted::Skipped {
            return Err(NotInserted::NotAdmitted);
        }
        if self.write_seq(id) != seq {
            self.l1.remove(id);
            return Err(NotInserted::Superseded);
        }
        Ok(evicted)
    }

    fn insert_l1(&self, id: PairId, price: Price, kind: Insert) -> (Inserted, Evictions) {
        // An id whose interner slot now holds another pair (a caller kept it across a
        // recycling): its entry could never be read, and would displace the current one.
        if !self.interner.is_current(id) {
            return (Inserted::Skipped, Evictions::default());
        }
        let (done, evicted) = self.l1.insert(id, self.stamp(price), kind);
        if let Some(r) = &self.refresh {
            evicted.iter().for_each(|e| r.forget(self.interner.slot(e)));
        }
        if let Some(listener) = &self.eviction_listener {
            evicted.iter().for_each(listener);
        }
        (done, evicted)
    }

    fn chain(&self, id: PairId) -> ChainId {
        self.interner.chain_of(id)
    }

    /// An L1-only read that counts as an L1 hit or miss and informs the eviction policy.
    /// Never touches L2 (the synchronous read path of a detector, and of the simulator).
    #[inline]
    pub fn get_l1_only(&self, id: PairId) -> Option<Price> {
        let found = self.read_l1(id);
        let event = if found.is_some() {
            Event::L1Hit
        } else {
            Event::L1Miss
        };
        self.counters.count(self.chain(id), event);
        match found {
            Some((price, false)) => Some(price),
            Some((price, true)) => {
                self.warmable_read(id);
                Some(price)
            }
            None => {
                if self.coherent() {
                    self.warmable_read(id);
                }
                None
            }
        }
    }

    /// Tells the [`ReadObserver`], if any, of a read a warm could have served.
    fn warmable_read(&self, id: PairId) {
        if let Some(observer) = &*self.read_observer.load() {
            observer.on_warmable_read(id, self.clock.now_ms());
        }
    }

    /// Sets (or, with `None`, removes) the observer of the reads a warm could have
    /// served (see [`ReadObserver`]). Replaces any earlier one: one learner per cache.
    pub fn set_read_observer(&self, observer: Option<Box<dyn ReadObserver>>) {
        self.read_observer.store(observer.map(Arc::new));
    }

    /// Whether a fresh entry for `id` is in L1. Not counted, and no effect on eviction
    /// order (the warmer's "already in L1?" check must not make entries look popular).
    pub fn contains_l1(&self, id: PairId) -> bool {
        self.l1.peek(id).is_some_and(|e| self.fresh(e))
    }

    /// The L1 entry for `id` without counting or touching the policy.
    pub fn peek_l1(&self, id: PairId) -> Option<Price> {
        self.l1.peek(id).filter(|e| self.fresh(*e)).map(|e| e.price)
    }

    /// Reads a price: L1, then L2 on a miss (promoting an L2 hit into L1).
    pub async fn get(&self, id: PairId) -> Result<Option<Price>, CacheError> {
        if let Some(price) = self.get_l1_only(id) {
            return Ok(Some(price));
        }
        let Some(l2) = &self.l2 else {
            return Ok(None);
        };
        let chain = self.chain(id);
        let key = self.l2_key(id)?;
        let seq = self.write_seq(id);
        let raw = match l2.get_many(std::slice::from_ref(&key)).await {
            Ok(raw) => raw,
            Err(e) => {
                self.counters.count(chain, Event::L2Error);
                return Err(e.into());
            }
        };
        match raw.into_iter().next().flatten() {
            None => {
                self.counters.count(chain, Event::L2Miss);
                Ok(None)
            }
            Some(bytes) => match codec::decode(&key, &bytes) {
                Ok(price) => {
                    self.counters.count(chain, Event::L2Hit);
                    if self.insert_fetched(id, price, seq, Insert::Load).is_ok() {
                        self.counters.promoted();
                        self.note_load(id);
                    }
                    Ok(Some(price))
                }
                Err(e) => {
                    self.counters.count(chain, Event::L2Error);
                    Err(e.into())
                }
            },
        }
    }

    /// Reads many prices: each from L1, and all L1 misses from L2 in one round trip.
    /// L2 hits are promoted into L1. One undecodable L2 value fails only its own key.
    pub async fn get_many(&self, ids: &[PairId]) -> Result<Vec<Lookup>, CacheError> {
        let mut out: Vec<Lookup> = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for (i, &id) in ids.iter().enumerate() {
            let found = self.get_l1_only(id);
            if found.is_none() {
                missing.push(i);
            }
            out.push(Ok(found));
        }
        if missing.is_empty() || self.l2.is_none() {
            return Ok(out);
        }
        let miss_ids: Vec<PairId> = missing.iter().map(|&i| ids[i]).collect();
        for (&i, lookup) in missing.iter().zip(self.load_many(&miss_ids).await?) {
            out[i] = lookup;
        }
        Ok(out)
    }

    /// The L2 half of [`get_many`](Self::get_many), for a reader that looked L1 up
    /// itself ([`get_l1_only`](Self::get_l1_only)) as it went: fetches the ids that
    /// missed from L2 in **one** round trip and promotes the hits into L1, counted as L2
    /// hits, misses or errors. `Ok(None)` for each id without L2 (an L1-only cache).
    pub async fn load_many(&self, ids: &[PairId]) -> Result<Vec<Lookup>, CacheError> {
        if ids.is_empty() || self.l2.is_none() {
            return Ok(ids.iter().map(|_| Ok(None)).collect());
        }
        let seqs: Vec<u32> = ids.iter().map(|&id| self.write_seq(id)).collect();
        let fetched = self.fetch_l2(ids).await?;
        let mut out = Vec::with_capacity(ids.len());
        for ((&id, lookup), &seq) in ids.iter().zip(fetched).zip(&seqs) {
            let chain = self.chain(id);
            match &lookup {
                Ok(Some(price)) => {
                    self.counters.count(chain, Event::L2Hit);
                    if self.insert_fetched(id, *price, seq, Insert::Load).is_ok() {
                        self.counters.promoted();
                        self.note_load(id);
                    }
                }
                Ok(None) => self.counters.count(chain, Event::L2Miss),
                Err(_) => self.counters.count(chain, Event::L2Error),
            }
            out.push(lookup);
        }
        Ok(out)
    }

    /// The warm path: fetches `ids` from L2 in **one** round trip and puts each price found
    /// into L1 only (L2 is not rewritten), unless the pair was written, deleted or
    /// invalidated while the fetch was in flight — then L1 holds a newer price, or none
    /// should be there, and the fetched one is dropped. Hit/miss counters are not touched
    /// (a warm is not a read). Dropping the future (a timeout) promotes nothing.
    ///
    /// Fails only if L2 fails; an undecodable value fails only its own pair.
    ///
    /// Without an L1 TTL, a pair L1 could not admit now (no free slot, no unread guess to
    /// replace, and guesses have not earned the right to displace entries; see
    /// [`Insert::Warm`]) is not fetched: it is counted in [`WarmFetch::not_admitted`]
    /// without an L2 round trip. The speculation gate remembers it as a refused guess, but
    /// counts a later missed read of it only once the warm would have landed (two round
    /// trips after the check, measured on these fetches or [`CacheBuilder::l2_round_trip`]):
    /// a read within the round trip is a hit no warm could have served. (Under a TTL an
    /// expired entry may free a slot by the time the value lands, so every pair is
    /// fetched.) The coherence driver's refetch of invalidated hot keys comes through here
    /// too, and its refusals teach the gate as a warm's do; they are rare, since an
    /// invalidation frees the key's slot.
    pub async fn fetch_for_warm(&self, ids: &[PairId]) -> Result<WarmFetch, CacheError> {
        if self.l1_ttl_ms.is_some() {
            // Every guess is fetched and judged on landing: the lead is not used.
            return self.fetch_into_l1(ids, false).await;
        }
        let lands_at_us = self.warm_lands_at_us();
        let admissible: Vec<PairId> = ids
            .iter()
            .copied()
            .filter(|&id| self.warm_has_room_at(id, lands_at_us))
            .collect();
        let refused = ids.len() - admissible.len();
        let mut fetch = if admissible.is_empty() {
            WarmFetch::default()
        } else {
            // Only a real round trip is timed; one that fails or is abandoned (a timeout
            // drops this future) can only lengthen the lead.
            let landing = self.l2.is_some().then(|| self.warm_lead.start());
            let result = self.fetch_into_l1(&admissible, false).await;
            if let Some(landing) = landing {
                landing.finish(result.is_ok());
            }
            result?
        };
        fetch.not_admitted += refused;
        Ok(fetch)
    }

    /// The check [`HierarchicalCache::fetch_for_warm`] makes before fetching a guess:
    /// whether L1 could admit a warm of `id` now. Always true under an L1 TTL (an expired
    /// entry may free a slot by the time the value lands) and for an id whose slot was
    /// recycled (left to the fetch: not found, no ghost). A refusal teaches the
    /// speculation gate only through a read of `id` that misses after the warm would have
    /// landed (two L2 round trips, at least 100 µs; [`CacheBuilder::l2_round_trip`]), and
    /// a yes forgets an earlier refusal. So call it only right before the fetch a `false`
    /// skips, as `fetch_for_warm` does: a probe from elsewhere would teach the gate
    /// refusals that never happened. Public so that a replay (`pairwarm simulate`) skips
    /// the same fetches `serve` does.
    pub fn warm_has_room(&self, id: PairId) -> bool {
        self.warm_has_room_at(id, self.warm_lands_at_us())
    }

    /// When a warm planned now would land, by the cache's clock.
    fn warm_lands_at_us(&self) -> u64 {
        self.clock.now_us().saturating_add(self.warm_lead.lead_us())
    }

    fn warm_has_room_at(&self, id: PairId, lands_at_us: u64) -> bool {
        self.l1_ttl_ms.is_some()
            || !self.interner.is_current(id)
            || self.l1.guess_has_room(id, lands_at_us)
    }

    /// Refresh-ahead: fetches `ids` (from [`HierarchicalCache::refresh_due`]) in one
    /// round trip and renews those still in L1 in place (value and TTL clock; the eviction
    /// policy is not told), with the same in-flight write checks as
    /// [`HierarchicalCache::fetch_for_warm`]. `promoted` counts the renewed pairs.
    pub async fn fetch_for_refresh(&self, ids: &[PairId]) -> Result<WarmFetch, CacheError> {
        self.fetch_into_l1(ids, true).await
    }

    async fn fetch_into_l1(&self, ids: &[PairId], refresh: bool) -> Result<WarmFetch, CacheError> {
        // Writes after this point are newer than what L2 returns.
        let seqs: Vec<u32> = ids.iter().map(|&id| self.write_seq(id)).collect();
        let fetched = self.fetch_l2(ids).await?;
        let mut out = WarmFetch::default();
        for ((&id, lookup), &seq) in ids.iter().zip(fetched).zip(&seqs) {
            match lookup {
                Ok(Some(price)) => {
                    let kind = if refresh {
                        Insert::Refresh
                    } else {
                        self.warm_kind()
                    };
                    match self.insert_fetched(id, price, seq, kind) {
                        Ok(_) if refresh => {
                            self.note_renewed(id);
                            out.promoted += 1;
                        }
                        Ok(_) => {
                            self.counters.promoted();
                            out.promoted += 1;
                        }
                        Err(NotInserted::Superseded) => out.superseded += 1,
                        Err(NotInserted::NotAdmitted) => out.not_admitted += 1,
                    }
                }
                Ok(None) => out.not_found += 1,
                Err(e) => {
                    out.undecodable += 1;
                    out.first_error.get_or_insert(e);
                }
            }
        }
        Ok(out)
    }

    /// Fetches prices from L2 in one round trip without touching L1 or the hit/miss
    /// counters. An id whose slot was recycled reads as absent.
    async fn fetch_l2(&self, ids: &[PairId]) -> Result<Vec<Lookup>, CacheError> {
        let Some(l2) = &self.l2 else {
            return Ok(vec![Ok(None); ids.len()]);
        };
        let keys: Vec<Option<String>> = ids.iter().map(|&id| self.l2_key(id).ok()).collect();
        let present: Vec<String> = keys.iter().flatten().cloned().collect();
        let raw = match l2.get_many(&present).await {
            Ok(raw) => raw,
            Err(e) => {
                if let Some(&id) = ids.first() {
                    self.counters.count(self.chain(id), Event::L2Error);
                }
                return Err(e.into());
            }
        };
        let mut raw = raw.into_iter();
        Ok(keys
            .iter()
            .map(|key| match key {
                None => Ok(None),
                Some(key) => match raw.next().flatten() {
                    None => Ok(None),
                    Some(bytes) => codec::decode(key, &bytes).map(Some),
                },
            })
            .collect())
    }

    /// Writes a price to L1 and through to L2, unless a newer price of the pair is held
    /// (see [`HierarchicalCache::set_many`]). L1 is written even if L2 fails (the error is
    /// returned so the caller can count it).
    pub async fn set(&self, id: PairId, price: Price) -> Result<(), CacheError> {
        if self.l2.is_some() {
            // An id no longer interned has no key: report it, as a read would.
            self.l2_key(id)?;
        }
        self.set_many(&[(id, price)]).await.map(|_| ())
    }

    /// Writes many prices to L1 and through to L2 in one round trip (the service's batch
    /// path). **Newer wins** (by `blockNumber`, then `timestamp`): a price older than the
    /// one in L1 does not replace it, and L2 keeps a newer value atomically (a replayed
    /// history never rolls a shared price back); when L2 kept its newer value the pair is
    /// dropped from L1, so the next read fetches it. Pairs whose id is no longer interned
    /// are skipped in L2. A pair given several times in the batch is written once, with
    /// its newest price. Returns how many of the given prices were not stored because a
    /// newer one (in L1, in L2, or later in the batch) wins.
    pub async fn set_many(&self, items: &[(PairId, Price)]) -> Result<usize, CacheError> {
        let given = items.len();
        let newest = newest_per_pair(items);
        let items: &[(PairId, Price)] = &newest;
        let superseded = given - items.len();
        let wrote_l1: Vec<bool> = items
            .iter()
            .map(|&(id, price)| {
                let newer_in_l1 = self
                    .l1
                    .peek(id)
                    .is_some_and(|held| self.fresh(held) && price.is_older_than(&held.price));
                if !newer_in_l1 {
                    self.write_l1(id, price);
                }
                !newer_in_l1
            })
            .collect();
        let stale_in_l1 = superseded + wrote_l1.iter().filter(|w| !**w).count();
        let Some(l2) = &self.l2 else {
            return Ok(stale_in_l1);
        };
        // (id, whether L1 took the price) of each write sent.
        let mut sent = Vec::with_capacity(items.len());
        let writes: Vec<L2Write> = items
            .iter()
            .zip(&wrote_l1)
            .filter_map(|(&(id, price), &in_l1)| {
                let key = self.l2_key(id).ok()?;
                sent.push((id, in_l1));
                Some(L2Write {
                    key,
                    value: codec::encode(&price),
                    block: price.block,
                    ts_ms: price.ts_ms,
                })
            })
            .collect();
        match l2.set_many(writes, self.l2_ttl).await {
            Ok(written) => {
                let mut refused_by_l2_only = 0;
                for (&(id, in_l1), ok) in sent.iter().zip(written) {
                    if !ok && in_l1 {
                        // L1 just took a price older than L2's: drop it, L2 answers next.
                        refused_by_l2_only += 1;
                        self.invalidate(id);
                    }
                }
                Ok(stale_in_l1 + refused_by_l2_only)
            }
            Err(e) => {
                if let Some(&(id, _)) = items.first() {
                    self.counters.count(self.chain(id), Event::L2Error);
                }
                Err(e.into())
            }
        }
    }

    /// Writes a price into L1 only (local writes in a process whose L2 is written by
    /// someone else, and the simulator's write-through to L1).
    pub fn set_l1(&self, id: PairId, price: Price) -> Evictions {
        self.write_l1(id, price)
    }

    /// Puts a price just loaded from L2 after a missed read into L1 (the simulator's demand
    /// load; [`HierarchicalCache::get`] does the same itself). The read that missed was the
    /// access, so the policy does not count the load as another.
    pub fn load_l1(&self, id: PairId, price: Price) -> Evictions {
        let (done, evicted) = self.insert_l1(id, price, Insert::Load);
        if done != Inserted::Skipped {
            self.note_load(id);
        }
        evicted
    }

    /// Puts a price fetched from L2 into L1 only (the warmer's write; L2 is not
    /// rewritten). Keeps a newer L1 price if one arrived meanwhile. A warm is a guess: the
    /// policy admits it only where it displaces nothing it would keep (see
    /// [`Insert::Warm`]). Returns whether the price was inserted, and the entries its
    /// insertion evicted.
    pub fn promote(&self, id: PairId, price: Price) -> (bool, Evictions) {
        if let Some(current) = self.l1.peek(id)
            && self.fresh(current)
            && (current.price.block, current.price.ts_ms) > (price.block, price.ts_ms)
        {
            return (false, Evictions::default());
        }
        let (done, evicted) = self.insert_l1(id, price, self.warm_kind());
        if done == Inserted::Skipped {
            return (false, evicted);
        }
        self.counters.promoted();
        (true, evicted)
    }

    /// The original system's warm (`cache.set` of the fetched value): inserted like any
    /// load, whatever it displaces — most recent in LRU. Kept only to reproduce the
    /// original as a baseline (`pairwarm simulate`'s strategy runs without `+guarded`); the
    /// product warms with [`HierarchicalCache::promote`]. Keeps a newer L1 price.
    pub fn promote_unguarded(&self, id: PairId, price: Price) -> (bool, Evictions) {
        if let Some(current) = self.l1.peek(id)
            && self.fresh(current)
            && (current.price.block, current.price.ts_ms) > (price.block, price.ts_ms)
        {
            return (false, Evictions::default());
        }
        let (done, evicted) = self.insert_l1(id, price, Insert::Load);
        if done == Inserted::Skipped {
            return (false, evicted);
        }
        self.counters.promoted();
        (true, evicted)
    }

    /// Renews a price that is in L1 (refresh-ahead): the value and its TTL clock are
    /// replaced in place, the eviction policy is not told (a refresh is not a read). A
    /// pair no longer in L1 is left out. Returns whether it was refreshed.
    pub fn refresh_l1(&self, id: PairId, price: Price) -> bool {
        let renewed = self.insert_l1(id, price, Insert::Refresh).0 == Inserted::Replaced;
        if renewed {
            self.note_renewed(id);
        }
        renewed
    }

    /// A renewed value: refresh-ahead follows it to its next expiry if it is still read.
    fn note_renewed(&self, id: PairId) {
        if let Some(r) = &self.refresh {
            let now = self.clock.now_ms();
            r.renewed(self.interner.slot(id), id, now, now);
        }
    }

    /// Refresh-ahead: the L1 entries that expire within `lead_ms` from now and were read
    /// within the idle horizon ([`CacheBuilder::refresh_idle`]), at most `max`; fetch them
    /// from L2 in one batch and put them back with [`HierarchicalCache::refresh_l1`].
    /// Empty without an L1 TTL.
    pub fn refresh_due(&self, lead_ms: u64, max: usize) -> Vec<PairId> {
        let (Some(r), Some(_)) = (&self.refresh, self.l1_ttl_ms) else {
            return Vec::new();
        };
        let now = self.clock.now_ms();
        r.due(now, now.saturating_add(lead_ms), max, |id| {
            self.interner.resolve(id)?;
            let entry = self.l1.peek(id)?;
            Some((self.interner.slot(id), entry.stored_ms))
        })
    }

    /// Entries queued for refresh-ahead now (0 without an L1 TTL).
    pub fn refresh_queued(&self) -> usize {
        self.refresh.as_ref().map_or(0, RefreshQueue::len)
    }

    /// Age of `id`'s L1 entry in ms (whether fresh or not), if present; `None` also when
    /// L1 has no TTL (entries are not stamped then).
    pub fn l1_age_ms(&self, id: PairId) -> Option<u64> {
        self.l1_ttl_ms?;
        let entry = self.l1.peek(id)?;
        Some(self.clock.now_ms().saturating_sub(entry.stored_ms))
    }

    /// The L1 time-to-live in ms, if any.
    pub fn l1_ttl_ms(&self) -> Option<u64> {
        self.l1_ttl_ms
    }

    /// Removes a pair from L1 and L2. A warm or read fetching the pair meanwhile does not
    /// put the deleted price back into L1.
    pub async fn delete(&self, id: PairId) -> Result<(), CacheError> {
        self.invalidate(id);
        if let Some(l2) = &self.l2 {
            let key = self.l2_key(id)?;
            l2.delete(&key).await?;
            // A fetch that started after the first invalidation may have read L2 before
            // the DEL reached it: invalidate again now that L2 no longer has the price.
            self.invalidate(id);
        }
        Ok(())
    }

    /// Removes a pair from L1 only (L2 was changed elsewhere, or the price must be read
    /// again). A fetch in flight does not put the old price back. Returns whether L1 held
    /// the pair.
    pub fn invalidate_l1(&self, id: PairId) -> bool {
        self.invalidate(id)
    }

    /// Empties L1 (L2 is shared and left alone). Counters keep counting: they are
    /// monotonic, as Prometheus counters must be; see [`HierarchicalCache::reset_stats`].
    pub fn clear_l1(&self) {
        self.l1.clear();
        if let Some(r) = &self.refresh {
            r.clear();
        }
    }

    /// Empties L1 and starts its policy over, as a new process would: the window tuner
    /// back at its start (LRU) with no history. [`Self::clear_l1`] keeps the window it
    /// runs (a flush is not a restart); `simulate --cold-start` uses this to model a
    /// restart, with or without [`Self::resume_policy`].
    pub fn restart_l1(&self) {
        self.l1.restart();
        if let Some(r) = &self.refresh {
            r.clear();
        }
    }

    /// The windows the L1 policy has learned, to save with the tracker snapshot and
    /// resume after a restart ([`Self::resume_policy`]). One entry per shard of a
    /// hand-written policy (`None` where the window is not tuned, e.g. `s3fifo`); no shard
    /// at all for `lru`, `quickcache` and the price matrix.
    pub fn policy_snapshot(&self) -> PolicySnapshot {
        PolicySnapshot {
            shards: self.l1.windows(),
        }
    }

    /// Runs the windows of a saved [`PolicySnapshot`] from now on, with the tuner's
    /// scores forgotten (it judges them again on this process's reads, and settles back
    /// into LRU without charge for its first epochs). What L1 holds stays. Returns how
    /// many shards resumed a window (0 for an image without a tuned window).
    ///
    /// # Errors
    /// Nothing changes, and:
    /// - [`PolicySnapshotError::ShardMismatch`] if the image was saved from an L1 of
    ///   another shard count;
    /// - [`PolicySnapshotError::NoTunedWindow`] if it holds tuned windows and this L1's
    ///   policy tunes none.
    pub fn resume_policy(&self, image: &PolicySnapshot) -> Result<usize, PolicySnapshotError> {
        let tuned = image.tuned_shards();
        match self.l1.resume(&image.shards) {
            Ok(0) if tuned > 0 => Err(PolicySnapshotError::NoTunedWindow { tuned }),
            Ok(resumed) => Ok(resumed),
            Err(0) if tuned > 0 => Err(PolicySnapshotError::NoTunedWindow { tuned }),
            Err(cache_shards) => Err(PolicySnapshotError::ShardMismatch {
                image_shards: image.shards(),
                cache_shards,
            }),
        }
    }

    /// Zeroes the hit/miss counters (tests and benchmarks; a running service should not,
    /// since exported counters would appear to reset).
    pub fn reset_stats(&self) {
        self.counters.reset();
    }

    /// Counters per level.
    pub fn stats(&self) -> CacheStats {
        let (mut l1, mut l2) = self.counters.totals();
        l1.size = self.l1.len();
        l1.capacity = self.l1.capacity();
        l1.evictions = self.l1.evictions();
        if let Some(store) = &self.l2 {
            l2.size = store.len_hint().unwrap_or(0);
        }
        CacheStats {
            l1,
            l2,
            promotions: self.counters.promotions(),
        }
    }

    /// L1 hits and misses summed over chains (cheaper than [`HierarchicalCache::stats`]).
    pub fn l1_counts(&self) -> (u64, u64) {
        let (l1, _) = self.counters.totals();
        (l1.hits, l1.misses)
    }

    /// Read counters of every chain seen so far.
    pub fn stats_by_chain(&self) -> Vec<ChainCacheStats> {
        self.interner
            .chain_names()
            .iter()
            .enumerate()
            .map(|(i, name)| self.counters.chain(ChainId(i as u16), name))
            .collect()
    }
}

/// The newest price of each pair of `items` (by block, then timestamp; the later of equals),
/// in the order of first appearance. A batch of a feed often holds a hot pool many times.
fn newest_per_pair(items: &[(PairId, Price)]) -> Vec<(PairId, Price)> {
    let mut out: Vec<(PairId, Price)> = Vec::with_capacity(items.len());
    if items.len() <= 1 {
        out.extend_from_slice(items);
        return out;
    }
    let mut at: std::collections::HashMap<PairId, usize, foldhash::fast::FixedState> =
        std::collections::HashMap::with_capacity_and_hasher(
            items.len(),
            crate::pair::fixed_hasher(),
        );
    for &(id, price) in items {
        match at.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => {
                let held = &mut out[*e.get()].1;
                if !price.is_older_than(held) {
                    *held = price;
                }
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(out.len());
                out.push((id, price));
            }
        }
    }
    out
}
