//! The correlation tracker: which pools update (or are read) together, learned online in
//! fixed memory.
//!
//! [`CorrelationTracker::record_price_update`] is the hot path: no allocation, no lock on a
//! known pair, bounded work whatever the burst. [`CorrelationTracker::pairs_to_warm`]
//! answers from the live tables at once — there is no hourly batch as in the original.
//!
//! ```
//! use pairwarm::pair::PairId;
//! use pairwarm::tracker::{CorrelationTracker, TrackerConfig};
//!
//! let tracker = CorrelationTracker::new(TrackerConfig::default()).unwrap();
//! let (weth_usdc_uni, weth_usdc_sushi) = (PairId::from_raw(1), PairId::from_raw(2));
//! for block in 0..5u64 {
//!     let t = block * 12_000; // one Ethereum block every 12 s
//!     tracker.record_price_update(weth_usdc_uni, t);
//!     tracker.record_price_update(weth_usdc_sushi, t + 3);
//! }
//! let warm = tracker.pairs_to_warm(weth_usdc_uni, 48_003, 5, 0.3);
//! assert_eq!(warm[0].pair, weth_usdc_sushi);
//! assert!(warm[0].score > 0.99 && warm[0].co_occurrences >= 3.0);
//! assert!(tracker.stats().memory_bytes <= 4 << 20);
//! ```
//!
//! # Design
//!
//! - **Directory** (`index.rs`): `max_tracked_pairs` slots allocated at start, a sharded
//!   lock-free `PairId -> slot` index, and a global capacity: nothing is evicted before
//!   all slots hold a pair, then a new pair replaces the coldest of the whole directory
//!   (one CLOCK hand, no sort). Slots are named by *handles* (slot + generation) so a
//!   reference to an evicted pair never resolves: it is never credited, never returned.
//! - **Window** (`window.rs`): a ring of recent `(handle, ts)` updates scanned newest-first.
//!   An update credits at most `max_credits_per_update` (default 4) distinct pairs updated
//!   within `window_ms` before it (inclusive: exactly `window_ms` earlier still counts),
//!   looking at no more than `4 × max_credits_per_update` ring entries.
//! - **Neighbour tables** (`neighbours.rs`): `m = neighbours_per_pair` slots per pair in
//!   4-way buckets of one cache line, Space-Saving replacement. When `A` updates with `B`
//!   in its window, `A` is credited in `B`'s table: a pair's table lists its *followers*,
//!   the pairs that updated soon after it, which is what is worth warming after it
//!   updates. Each co-occurrence is stored once (one cache-line write per partner instead
//!   of two); a query adds the other order back (`A`'s entry in `B`'s table), so counts
//!   are the original's symmetric counts.
//! - **Decay** (`decay.rs`): every count decays with `half_life_ms`, by forward decay (one
//!   weight per call, exact power-of-two epoch rescaling, no libm on the hot path).
//! - **Score**: `co(A,B) / min(U_A, U_B)` with decayed counts, clamped to `[0, 1]` (the
//!   original's meaning, decayed); `co` adds both orders of Space-Saving's guaranteed
//!   lower bound (`count - err`), gated by `co >= min_co_occurrences - 0.5` (half a
//!   co-occurrence of slack for decay, so 3 recent co-occurrences pass the default). Under
//!   [`Signal::Reads`] it is `co(u, r) / U_u`: the fraction of `u`'s updates followed
//!   within the window by a read of `r`.
//! - **Eviction cleanup**: evicting `X` empties `X`'s table and removes `X` from the
//!   tables of the pairs it lists (`m` bucket probes, on admission only); any other
//!   reference carries the old generation, is skipped on read, and holds the smallest
//!   count of its bucket soon (forward decay), so it is replaced first.
//!
//! # Memory
//!
//! Fixed at construction and reported exactly by [`TrackerStats::memory_bytes`]:
//! `max_tracked_pairs × (36 + 16·m)` bytes of slot state and tables, plus the index
//! (`8 × next_pow2(2 × pairs / shards)` bytes per shard, one shard per 256 pairs up to 16,
//! ~26 bytes per pair) and ~12 KB of window ring, batch buffer and counters. Defaults
//! (5,000 pairs, m = 16): 1,601,056 bytes. Nothing grows afterwards, whatever the number of distinct pairs seen.
//!
//! # Concurrency
//!
//! Every method takes `&self`. Known pairs are looked up without locks; an admission
//! locks its pair's shard (and, to evict, tries the victim's: see `index.rs`); counts are relaxed atomics written without locks (see `neighbours.rs`
//! for what a race can cost: at most one credit). With one writer thread the tracker is
//! exactly deterministic: same input, same output.
//!
//! # Limits
//!
//! - In a burst of `n` updates with `n > max_credits_per_update`, each update credits only
//!   its nearest distinct predecessors, so update co-occurrence counts of pairs inside
//!   large bursts are diluted (to about `cap / n` of the uncapped count). Use batch mode
//!   (a whole block co-occurs once), [`Signal::Reads`] (reads follow their triggering
//!   update closely), or a larger cap when blocks are large.
//! - A pair that only ever updates *before* `A` is not in `A`'s table, so
//!   `pairs_to_warm(A)` does not return it (it was just updated, hence fresh in L1);
//!   [`CorrelationTracker::correlation_score`] still finds the relation from either side.
//! - `reset` and `restore` are not atomic with respect to concurrent writers.

mod batch;
mod config;
mod decay;
mod index;
mod neighbours;
mod snapshot;
mod window;
#[cfg(feature = "testing")]
pub mod workload;

use std::fmt;
use std::sync::atomic::{
    AtomicU64,
    Ordering::{AcqRel, Relaxed},
};

pub use batch::BATCH_CAPACITY;
pub use config::{
    DEFAULT_MAX_CREDITS, MAX_CREDITS, MAX_HALF_LIFE_MS, MAX_NEIGHBOURS, MAX_TRACKED_PAIRS,
    MAX_WINDOW_MS, Signal, TrackerConfig, TrackerError,
};
pub use snapshot::{RestoreReport, SNAPSHOT_MAGIC, SNAPSHOT_VERSION, SnapshotError};

use batch::Batch;
use decay::{At, Decay};
use index::{Directory, Slot};
use neighbours::{Credit, Entry, Tables};
use window::Window;

use crate::pair::PairId;

/// One scored neighbour of a pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairCorrelation {
    /// The neighbour.
    pub pair: PairId,
    /// Score in `[0, 1]` (see the module docs).
    pub score: f64,
    /// Decayed co-occurrence count (Space-Saving lower bound) at the query time.
    pub co_occurrences: f64,
    /// Timestamp of the latest credited co-occurrence (or read).
    pub last_seen_ms: u64,
}

/// Tracker counters and gauges.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct TrackerStats {
    /// Pairs currently tracked.
    pub total_pairs: usize,
    /// Price updates recorded (including batched ones).
    pub total_updates: u64,
    /// Reads recorded.
    pub total_reads: u64,
    /// Co-occurrences credited: one per (update, earlier partner in its window), per
    /// (read, triggering update) and per pair of distinct pairs of a batch.
    pub total_co_occurrences: u64,
    /// Mean score over all relations that pass `min_co_occurrences` (0 if none), at the
    /// latest timestamp recorded.
    pub avg_correlation_score: f64,
    /// Bytes allocated by the tracker (fixed at construction).
    pub memory_bytes: usize,
    /// `max_tracked_pairs`.
    pub capacity: usize,
    /// Pairs evicted to admit new ones.
    pub evictions: u64,
    /// Relations that pass `min_co_occurrences` (each direction counted).
    pub scored_relations: usize,
    /// Calls that stopped crediting at `max_credits_per_update`.
    pub capped_calls: u64,
    /// Updates recorded directly because the batch buffer was full.
    pub batch_overflows: u64,
    /// Latest timestamp recorded.
    pub latest_ts_ms: u64,
}

const COUNTER_SHARDS: usize = 16;

/// The distinct handles one call has credited: a list plus a 64-bit filter, so the common
/// "not seen yet" answer costs one bit test instead of a scan (a vectorised scan of the
/// list stalled on store forwarding; an early-exit scan mispredicts).
struct Credited {
    list: [u32; MAX_CREDITS],
    len: usize,
    filter: u64,
}

impl Credited {
    #[inline]
    fn new() -> Self {
        Self {
            list: [0; MAX_CREDITS],
            len: 0,
            filter: 0,
        }
    }

    #[inline]
    fn bit(x: u32) -> u64 {
        1u64 << (x.wrapping_mul(0x9E37_79B1) >> 26)
    }

    #[inline]
    fn contains(&self, x: u32) -> bool {
        self.filter & Self::bit(x) != 0 && self.list[..self.len].contains(&x)
    }

    /// Adds `x`; the caller stops before `MAX_CREDITS`.
    #[inline]
    fn push(&mut self, x: u32) {
        if let Some(slot) = self.list.get_mut(self.len) {
            *slot = x;
            self.len += 1;
            self.filter |= Self::bit(x);
        }
    }
}

/// Counters of one stripe; padded so stripes written by different threads do not share a
/// cache line.
#[repr(align(128))]
#[derive(Default)]
struct Counters {
    updates: AtomicU64,
    reads: AtomicU64,
    co: AtomicU64,
    capped: AtomicU64,
    batch_overflows: AtomicU64,
    latest_ts: AtomicU64,
}

/// Online, bounded, decayed co-occurrence tracker. See the [module docs](self).
pub struct CorrelationTracker {
    config: TrackerConfig,
    decay: Decay,
    dir: Directory,
    tables: Tables,
    window: Window,
    batch: Batch,
    counters: Box<[Counters]>,
}

impl fmt::Debug for CorrelationTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CorrelationTracker")
            .field("config", &self.config)
            .field("pairs", &self.dir.len())
            .finish_non_exhaustive()
    }
}

impl CorrelationTracker {
    /// Allocates every table for `config` (validated first).
    pub fn new(config: TrackerConfig) -> Result<Self, TrackerError> {
        config.validate()?;
        Ok(Self {
            decay: Decay::new(config.half_life_ms),
            dir: Directory::new(config.max_tracked_pairs),
            tables: Tables::new(config.max_tracked_pairs, config.neighbours_per_pair),
            window: Window::new(4 * config.max_credits_per_update),
            batch: Batch::new(),
            counters: (0..COUNTER_SHARDS).map(|_| Counters::default()).collect(),
            config,
        })
    }

    /// The configuration this tracker was built with.
    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// The timestamp of the last update recorded (`None` before the first, or after
    /// [`reset`](Self::reset)): the present in the updates' own time base. A read learner
    /// whose cache runs on another clock stamps reads from it, so a feed whose timestamps
    /// lag the wall clock is still compared with itself.
    pub fn newest_update_ms(&self) -> Option<u64> {
        self.window.recent().next().map(|(_, t)| t)
    }

    #[inline]
    fn counters(&self, slot: usize) -> &Counters {
        &self.counters[slot % COUNTER_SHARDS]
    }

    /// Records a price update of `pair` at `ts_ms`: the hot path.
    ///
    /// Under [`Signal::Updates`] it credits up to `max_credits_per_update` distinct pairs
    /// updated within the window before it. Never allocates; locks only to admit a pair
    /// not yet tracked (one shard's mutex) or while a batch is open.
    #[inline]
    pub fn record_price_update(&self, pair: PairId, ts_ms: u64) {
        if self.batch.is_active() {
            if self.batch.push(pair, ts_ms) {
                return;
            }
            if self.batch.is_active() {
                self.counters(0).batch_overflows.fetch_add(1, Relaxed);
            }
        }
        self.update(pair, ts_ms, self.config.signal == Signal::Updates, true);
    }

    /// Admits `pair` if needed; `None` only if the directory refused (never with eviction).
    #[inline]
    fn slot_for(&self, pair: PairId, ts_ms: u64) -> Option<Slot> {
        if let Some(slot) = self.dir.lookup(pair) {
            return Some(slot);
        }
        self.dir
            .admit(pair, self.decay.epoch(ts_ms), ts_ms, true, |old| {
                self.forget(old)
            })
    }

    /// Removes an evicted slot's back-references and empties its table.
    fn forget(&self, old: Slot) {
        for entry in self.tables.entries(old.index) {
            if let Some(partner) = self.dir.resolve(entry.key) {
                self.tables.remove(partner, old.handle);
            }
        }
        self.tables.clear(old.index);
    }

    /// Moves `slot`'s counters to `epoch` if they are older. Returns the factor that
    /// converts a weight of `epoch` into the slot's epoch (1 unless the slot is newer, for
    /// an out-of-order timestamp) and the slot's epoch.
    ///
    /// The epoch cell is moved by compare-and-swap, and only the writer whose swap
    /// succeeded rescales: two writers crossing the boundary at once must not both
    /// multiply the counts (that would wipe the table). A credit another writer adds
    /// between the swap and the end of the rescale is scaled with the table, so a race
    /// costs at most that credit (the same bound as the tables' other races).
    #[inline]
    fn align_epoch(&self, slot: usize, epoch: u64) -> (f32, u64) {
        let cell = self.dir.epoch(slot);
        let mut current = cell.load(Relaxed);
        loop {
            if current == epoch {
                return (1.0, epoch);
            }
            if current > epoch {
                return (Decay::shift(current - epoch), current);
            }
            match cell.compare_exchange_weak(current, epoch, AcqRel, Relaxed) {
                Ok(_) => break,
                Err(now) => current = now,
            }
        }
        let factor = Decay::shift(epoch - current);
        let shift_ms = self.decay.epoch_start(epoch) - self.decay.epoch_start(current);
        self.tables.rescale(slot, factor, shift_ms);
        let header = self.dir.header(slot);
        let u = f32::from_bits(header.updates.load(Relaxed)) * factor;
        header.updates.store(u.to_bits(), Relaxed);
        (1.0, epoch)
    }

    /// `ts_ms` as a table's "seen" offset: ms since the start of `epoch` (saturating).
    #[inline]
    fn offset(&self, epoch: u64, ts_ms: u64) -> u32 {
        let off = ts_ms.saturating_sub(self.decay.epoch_start(epoch));
        u32::try_from(off).unwrap_or(u32::MAX)
    }

    /// Records one update; credits the window if `credit`, appends to it if `push`.
    #[inline]
    fn update(&self, pair: PairId, ts_ms: u64, credit: bool, push: bool) -> Option<Slot> {
        let me = self.slot_for(pair, ts_ms)?;
        let (epoch, w) = self.decay.weight(ts_ms);
        let header = self.dir.header(me.index);
        let (f_me, _) = self.align_epoch(me.index, epoch);
        let u = f32::from_bits(header.updates.load(Relaxed)) + w * f_me;
        header.updates.store(u.to_bits(), Relaxed);
        header.last_update.store(ts_ms, Relaxed);
        header.touch();

        let mut done = Credited::new();
        let mut capped = false;
        if credit {
            // Each distinct, still-tracked pair updated within the window before us gets
            // us as a follower in its table (one bucket write per partner). The partners
            // are chosen first (that reads only the ring and the handles), then their
            // bucket lines are requested together, so the cache misses that make up most
            // of an update's cost overlap instead of each credit waiting for its own.
            // Same partners, same order, same credits as crediting while choosing.
            let cap = self.config.max_credits_per_update;
            let mut partners = [0u32; MAX_CREDITS];
            for (other, t) in self.window.recent() {
                if t.saturating_add(self.config.window_ms) < ts_ms {
                    break;
                }
                if other == me.handle || done.contains(other) {
                    continue;
                }
                let Some(slot) = self.dir.resolve(other) else {
                    continue;
                };
                if let Some(p) = partners.get_mut(done.len) {
                    *p = slot as u32;
                }
                done.push(other);
                if done.len == cap {
                    capped = true;
                    break;
                }
            }
            let partners = &partners[..done.len.min(MAX_CREDITS)];
            self.tables.prefetch(partners, me.handle);
            let seen_now = self.offset(epoch, ts_ms);
            for &slot in partners {
                let slot = slot as usize;
                let (f, e) = self.align_epoch(slot, epoch);
                let seen = if e == epoch {
                    seen_now
                } else {
                    self.offset(e, ts_ms)
                };
                self.tables.credit(slot, me.handle, w * f, seen, None);
            }
        }
        let credited = done.len;
        if push {
            self.window.push(me.handle, ts_ms);
        }
        let counters = self.counters(me.index);
        counters.updates.fetch_add(1, Relaxed);
        if credited > 0 {
            counters.co.fetch_add(credited as u64, Relaxed);
        }
        if capped {
            counters.capped.fetch_add(1, Relaxed);
        }
        if ts_ms > counters.latest_ts.load(Relaxed) {
            counters.latest_ts.store(ts_ms, Relaxed);
        }
        Some(me)
    }

    /// Records that the detector read `pair` at `ts_ms`.
    ///
    /// Under [`Signal::Reads`] the read credits `pair` in the table of each distinct pair
    /// updated within the window before it (newest first, capped), at most once per
    /// triggering update. Under [`Signal::Updates`] it is only counted.
    pub fn record_read(&self, pair: PairId, ts_ms: u64) {
        if self.config.signal != Signal::Reads {
            self.counters(pair.raw() as usize)
                .reads
                .fetch_add(1, Relaxed);
            return;
        }
        let Some(reader) = self.slot_for(pair, ts_ms) else {
            return;
        };
        self.dir.header(reader.index).touch();
        let (epoch, w) = self.decay.weight(ts_ms);
        let cap = self.config.max_credits_per_update;
        let mut done = Credited::new();
        let (mut credited, mut capped) = (0u64, false);
        for (other, t) in self.window.recent() {
            if t.saturating_add(self.config.window_ms) < ts_ms {
                break;
            }
            if t > ts_ms || other == reader.handle || done.contains(other) {
                continue;
            }
            // Lead-time awareness: a read sooner than `min_lead_ms` after the pair's latest
            // update could not have been served by a warm issued at it; its earlier updates
            // are not credited instead (the read answers the latest one).
            if t.saturating_add(self.config.min_lead_ms) > ts_ms {
                done.push(other);
                continue;
            }
            let Some(slot) = self.dir.resolve(other) else {
                continue;
            };
            let (f, e) = self.align_epoch(slot, epoch);
            // An update from before the table's epoch (a window straddling an epoch
            // boundary) has no offset to compare with: credit without the once-per-update
            // check rather than never.
            let trigger = (t >= self.decay.epoch_start(e)).then(|| self.offset(e, t));
            if self
                .tables
                .credit(slot, reader.handle, w * f, self.offset(e, ts_ms), trigger)
                != Credit::AlreadyCredited
            {
                credited += 1;
            }
            done.push(other);
            if done.len == cap {
                capped = true;
                break;
            }
        }
        let counters = self.counters(reader.index);
        counters.reads.fetch_add(1, Relaxed);
        if credited > 0 {
            counters.co.fetch_add(credited, Relaxed);
        }
        if capped {
            counters.capped.fetch_add(1, Relaxed);
        }
        if ts_ms > counters.latest_ts.load(Relaxed) {
            counters.latest_ts.store(ts_ms, Relaxed);
        }
    }

    /// The best neighbours of `pair` at `now_ms`: score >= `min_score` (inclusive), best
    /// first (ties: more co-occurrences first, then lower id), at most `top_n`, never
    /// `pair` itself, no duplicates.
    pub fn pairs_to_warm(
        &self,
        pair: PairId,
        now_ms: u64,
        top_n: usize,
        min_score: f64,
    ) -> Vec<PairCorrelation> {
        let mut out = Vec::with_capacity(self.config.neighbours_per_pair);
        self.pairs_to_warm_into(pair, now_ms, top_n, min_score, &mut out);
        out
    }

    /// [`Self::pairs_to_warm`] into a reused vector (cleared first); allocates only if
    /// `out` has less than `neighbours_per_pair` capacity (every scored neighbour is
    /// collected before the best `top_n` are kept).
    pub fn pairs_to_warm_into(
        &self,
        pair: PairId,
        now_ms: u64,
        top_n: usize,
        min_score: f64,
        out: &mut Vec<PairCorrelation>,
    ) {
        out.clear();
        if top_n == 0 {
            return;
        }
        let Some(me) = self.dir.lookup(pair) else {
            return;
        };
        self.scored(me, now_ms, |c| {
            if c.score >= min_score && c.pair != pair && !out.iter().any(|o| o.pair == c.pair) {
                out.push(c);
            }
        });
        out.sort_unstable_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.co_occurrences.total_cmp(&a.co_occurrences))
                .then(a.pair.cmp(&b.pair))
        });
        out.truncate(top_n);
    }

    /// Whether `pair` is currently tracked (not yet evicted).
    pub fn is_tracked(&self, pair: PairId) -> bool {
        self.dir.lookup(pair).is_some()
    }

    /// Calls `f` with every tracked pair (at most `max_tracked_pairs` calls; for scrapes,
    /// e.g. `correlation_pairs_tracked{chain}`, not for the hot path).
    pub fn for_each_tracked(&self, mut f: impl FnMut(PairId)) {
        for slot in self.dir.live_slots() {
            f(PairId::from_raw(
                self.dir.header(slot.index).pair.load(Relaxed),
            ));
        }
    }

    /// The `n` most updated tracked pairs at `now_ms` (decayed update counts, most first;
    /// ties: lower id first). For warm start: after a snapshot is restored, these are the
    /// pairs worth having in an empty L1. Walks every tracked pair (not for the hot path).
    pub fn hottest(&self, n: usize, now_ms: u64) -> Vec<PairId> {
        if n == 0 {
            return Vec::new();
        }
        let mut at = At::new(&self.decay, now_ms);
        let mut all: Vec<(f64, PairId)> = self
            .dir
            .live_slots()
            .map(|slot| {
                let pair = PairId::from_raw(self.dir.header(slot.index).pair.load(Relaxed));
                (self.updates_at(slot.index, &mut at), pair)
            })
            .collect();
        let by_heat =
            |a: &(f64, PairId), b: &(f64, PairId)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if all.len() > n {
            all.select_nth_unstable_by(n - 1, by_heat);
            all.truncate(n);
        }
        all.sort_unstable_by(by_heat);
        all.into_iter().map(|(_, p)| p).collect()
    }

    /// Decayed update count of a slot at the query time.
    fn updates_at(&self, slot: usize, at: &mut At<'_>) -> f64 {
        let u = f32::from_bits(self.dir.header(slot).updates.load(Relaxed));
        at.value(u, self.dir.epoch(slot).load(Relaxed))
    }

    /// Decayed lower-bound count and absolute "seen" of an entry of `slot`'s table.
    fn entry_at(&self, slot: usize, entry: Entry, at: &mut At<'_>) -> (f64, u64) {
        let epoch = self.dir.epoch(slot).load(Relaxed);
        let co = at.value((entry.count - entry.err).max(0.0), epoch);
        (co, self.decay.epoch_start(epoch) + u64::from(entry.seen))
    }

    /// Scores the relation `me -> other` from `me`'s entry (`forward`, if any) and, under
    /// [`Signal::Updates`], `other`'s entry for `me` (the original counts co-occurrences in
    /// both orders). `None` below `min_co_occurrences`.
    fn relation(
        &self,
        me: Slot,
        other: Slot,
        forward: Option<Entry>,
        at: &mut At<'_>,
    ) -> Option<PairCorrelation> {
        let (mut co, mut seen) = match forward {
            Some(e) => self.entry_at(me.index, e, at),
            None => (0.0, 0),
        };
        let denominator = match self.config.signal {
            Signal::Updates => {
                if let Some(back) = self.tables.get(other.index, me.handle) {
                    let (co_back, seen_back) = self.entry_at(other.index, back, at);
                    co += co_back;
                    seen = seen.max(seen_back);
                }
                self.updates_at(me.index, at)
                    .min(self.updates_at(other.index, at))
            }
            Signal::Reads => self.updates_at(me.index, at),
        };
        // Half a co-occurrence of slack: n co-occurrences pass a gate of n while their
        // decayed total is above n - 0.5 (3 within ~2.5 min at the default half-life).
        if co <= 0.0 || co + 0.5 < self.config.min_co_occurrences {
            return None;
        }
        let score = if denominator > 0.0 {
            (co / denominator).clamp(0.0, 1.0)
        } else {
            1.0
        };
        Some(PairCorrelation {
            pair: PairId::from_raw(self.dir.header(other.index).pair.load(Relaxed)),
            score,
            co_occurrences: co,
            last_seen_ms: seen,
        })
    }

    /// Calls `f` for every neighbour in `me`'s table that passes `min_co_occurrences`,
    /// scored at `now_ms`.
    fn scored(&self, me: Slot, now_ms: u64, mut f: impl FnMut(PairCorrelation)) {
        let mut at = At::new(&self.decay, now_ms);
        for entry in self.tables.entries(me.index) {
            let Some(index) = self.dir.resolve(entry.key) else {
                continue;
            };
            let other = Slot {
                index,
                handle: entry.key,
            };
            if let Some(c) = self.relation(me, other, Some(entry), &mut at) {
                f(c);
            }
        }
    }

    /// The score of `b` as a neighbour of `a` at `now_ms`, if the two co-occurred at least
    /// `min_co_occurrences` times. Under [`Signal::Updates`] it is symmetric (the count
    /// adds both orders and the denominator is the rarer pair's updates), so it is found
    /// even when `b` only ever updated before `a`; under [`Signal::Reads`] it is
    /// directional (reads of `b` after updates of `a`).
    pub fn correlation_score(&self, a: PairId, b: PairId, now_ms: u64) -> Option<f64> {
        let me = self.dir.lookup(a)?;
        let other = self.dir.lookup(b)?;
        if me == other {
            return None;
        }
        let forward = self.tables.get(me.index, other.handle);
        if forward.is_none() && self.config.signal == Signal::Reads {
            return None;
        }
        let mut at = At::new(&self.decay, now_ms);
        self.relation(me, other, forward, &mut at).map(|c| c.score)
    }

    /// Counters, gauges and the average score (walks every table: not for the hot path).
    pub fn stats(&self) -> TrackerStats {
        let mut s = TrackerStats {
            total_pairs: self.dir.len(),
            memory_bytes: self.memory_bytes(),
            capacity: self.dir.capacity(),
            evictions: self.dir.evictions(),
            ..TrackerStats::default()
        };
        for c in self.counters.iter() {
            s.total_updates += c.updates.load(Relaxed);
            s.total_reads += c.reads.load(Relaxed);
            s.total_co_occurrences += c.co.load(Relaxed);
            s.capped_calls += c.capped.load(Relaxed);
            s.batch_overflows += c.batch_overflows.load(Relaxed);
            s.latest_ts_ms = s.latest_ts_ms.max(c.latest_ts.load(Relaxed));
        }
        let mut sum = 0.0;
        for slot in self.dir.live_slots() {
            self.scored(slot, s.latest_ts_ms, |c| {
                sum += c.score;
                s.scored_relations += 1;
            });
        }
        if s.scored_relations > 0 {
            s.avg_correlation_score = sum / s.scored_relations as f64;
        }
        s
    }

    fn memory_bytes(&self) -> usize {
        self.dir.memory_bytes()
            + self.tables.memory_bytes()
            + self.window.memory_bytes()
            + self.batch.memory_bytes()
            + self.counters.len() * size_of::<Counters>()
    }

    /// Forgets every pair, count and counter (the allocation is kept).
    pub fn reset(&self) {
        self.batch.reset();
        self.dir.clear();
        self.tables.clear_all();
        self.window.clear();
        for c in self.counters.iter() {
            c.updates.store(0, Relaxed);
            c.reads.store(0, Relaxed);
            c.co.store(0, Relaxed);
            c.capped.store(0, Relaxed);
            c.batch_overflows.store(0, Relaxed);
            c.latest_ts.store(0, Relaxed);
        }
    }

    /// Starts buffering updates as one block (see [`BATCH_CAPACITY`]). A second call while
    /// a batch is open is ignored with a warning, as in the original.
    pub fn begin_batch(&self) {
        if !self.batch.begin() {
            tracing::warn!("begin_batch: a batch is already open; keeping it");
        }
    }

    /// Records the buffered block: every update counts, and every two distinct pairs of the
    /// block co-occur once (both ways) at the block's latest timestamp. Returns the number
    /// of updates in the batch (0, with a warning, if no batch was open).
    pub fn end_batch(&self) -> usize {
        let done = self.batch.end(|updates| {
            let Some(batch_ts) = updates.iter().map(|u| u.1).max() else {
                return 0;
            };
            let mut unique = [Slot {
                index: 0,
                handle: 0,
            }; BATCH_CAPACITY];
            let mut n = 0;
            for &(pair, ts) in updates {
                if let Some(slot) = self.update(pair, ts, false, false)
                    && !unique[..n].contains(&slot)
                    && n < BATCH_CAPACITY
                {
                    unique[n] = slot;
                    n += 1;
                }
            }
            let (epoch, w) = self.decay.weight(batch_ts);
            let seen_now = self.offset(epoch, batch_ts);
            let mut credited = 0u64;
            if self.config.signal == Signal::Updates {
                for i in 0..n {
                    for j in i + 1..n {
                        let (a, b) = (unique[i], unique[j]);
                        if self.dir.resolve(a.handle).is_none()
                            || self.dir.resolve(b.handle).is_none()
                        {
                            continue;
                        }
                        // Half a credit each way: the two orders add up to one
                        // co-occurrence, and each pair finds the other in its table.
                        for (me, other) in [(a, b), (b, a)] {
                            let (f, e) = self.align_epoch(me.index, epoch);
                            let seen = if e == epoch {
                                seen_now
                            } else {
                                self.offset(e, batch_ts)
                            };
                            self.tables
                                .credit(me.index, other.handle, 0.5 * w * f, seen, None);
                        }
                        credited += 1;
                    }
                }
            }
            for slot in &unique[..n] {
                if self.dir.resolve(slot.handle).is_some() {
                    self.window.push(slot.handle, batch_ts);
                }
            }
            self.counters(0).co.fetch_add(credited, Relaxed);
            updates.len()
        });
        done.unwrap_or_else(|| {
            tracing::warn!("end_batch: no batch is open");
            0
        })
    }

    /// Checks internal invariants (index consistency, tables free of self-references and
    /// duplicates, finite non-negative counts, empty tables on free slots). For tests and
    /// fuzzing; walks everything.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        self.dir.check()?;
        let live: Vec<Slot> = self.dir.live_slots().collect();
        for slot in &live {
            let mut keys = Vec::new();
            for e in self.tables.entries(slot.index) {
                if e.key == slot.handle {
                    return Err(format!("slot {} lists itself", slot.index));
                }
                if keys.contains(&e.key) {
                    return Err(format!("slot {} lists {} twice", slot.index, e.key));
                }
                keys.push(e.key);
                if !(e.count.is_finite() && e.err.is_finite() && e.err >= 0.0) {
                    return Err(format!("slot {}: bad count {e:?}", slot.index));
                }
                if e.err > e.count {
                    return Err(format!("slot {}: err above count {e:?}", slot.index));
                }
            }
            let u = f32::from_bits(self.dir.header(slot.index).updates.load(Relaxed));
            if !(u.is_finite() && u >= 0.0) {
                return Err(format!("slot {}: bad update count {u}", slot.index));
            }
        }
        let mut is_live = vec![false; self.dir.capacity()];
        for slot in &live {
            is_live[slot.index] = true;
        }
        for (index, live) in is_live.into_iter().enumerate() {
            if !live && self.tables.entries(index).next().is_some() {
                return Err(format!("free slot {index} has a non-empty table"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    /// Several writers crossing an epoch boundary at once: exactly one of them may rescale
    /// a slot. Each round sets every slot's update count to 1 and has every thread move
    /// every slot one epoch forward, in the same order. A slot rescaled once holds exactly
    /// `2^-16`; rescaled twice (two writers both saw the old epoch) it holds `2^-32`.
    /// Threads walking the same slots run into each other: a thread that finds slots
    /// already moved skips them quickly and catches up with the one doing the work.
    #[test]
    fn one_writer_rescales_across_an_epoch_boundary() {
        const SLOTS: usize = 4096;
        const THREADS: usize = 4;
        const ROUNDS: u64 = 40;
        let t = CorrelationTracker::new(TrackerConfig {
            max_tracked_pairs: SLOTS,
            ..TrackerConfig::default()
        })
        .unwrap();
        for p in 0..SLOTS as u32 {
            t.record_price_update(PairId::from_raw(p), 0);
        }
        let slots: Vec<usize> = t.dir.live_slots().map(|s| s.index).collect();
        let barrier = Barrier::new(THREADS);
        let mut wrong = 0;
        for round in 0..ROUNDS {
            for &slot in &slots {
                t.dir.header(slot).updates.store(1f32.to_bits(), Relaxed);
            }
            std::thread::scope(|s| {
                for _ in 0..THREADS {
                    s.spawn(|| {
                        barrier.wait();
                        for &slot in &slots {
                            t.align_epoch(slot, round + 1);
                        }
                    });
                }
            });
            wrong += slots
                .iter()
                .filter(|&&slot| {
                    f32::from_bits(t.dir.header(slot).updates.load(Relaxed)) != Decay::shift(1)
                })
                .count();
        }
        assert_eq!(wrong, 0, "slots rescaled more than once");
    }
}
