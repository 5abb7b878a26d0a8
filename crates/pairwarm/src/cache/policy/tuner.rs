//! The W-TinyLFU window chosen by miniature simulations (Waldspurger et al., "Cache Modeling
//! and Optimization using Miniature Simulations", USENIX ATC 2017): a few shadow W-TinyLFU
//! caches of ids (and, under a TTL, the time each was stored), one per candidate, replay the
//! same sample of the keys; after each epoch the cache takes the candidate whose shadow hit
//! most. The candidates are windows with TinyLFU's frequency contest, and two 10% windows
//! with the recency filter (S3-FIFO's rule, [`Admission::Filter`]; main segmented or one
//! LRU) for workloads whose hot set is replaced faster than TinyLFU's counts age. Two rules
//! lean toward the 100% window (LRU) when the choice has been costly: an *emergency switch*
//! within an epoch when the LRU shadow has just out-hit the running window by far while
//! that window hit below its own average ([`EMERGENCY_LEAD`]; undone when the choice's shadow
//! leads again, [`EMERGENCY_UNDO_LEAD`]; and in the epoch after leaving LRU, when the cache's
//! own hits fall far below LRU's shadow while the choice's trails it, [`SWITCH_COST_TRAIL`]),
//! and a *guard* that runs LRU until following the choices has earned clearly and steadily
//! more than LRU would have ([`LEAVE_LRU_LEAD`], [`LEAVE_LRU_STEADINESS`]; what the cache
//! really hit while it ran them and, once the tuner has a few epochs of history, while it
//! settled back into LRU; what the chosen shadow hit while LRU ran settled). Under a TTL the shadows expire
//! entries as the cache does (a read of an expired id misses; a write renews it, and so
//! does a refresh landing in the cache until the shadows model refresh-ahead themselves),
//! so the window is chosen for the cache as it runs, not for
//! one that never expires. Once refresh-ahead runs (refreshes land), every shadow models it
//! for its own entries, as the cache would run it under that candidate: a read keeps an
//! entry fresh for the refresh idle horizon, instead of renewing only the ids the cache
//! itself holds (which favoured the shadow most like the window in use).
//!
//! Why not Caffeine's hill climber: the climber compares the hit rate of one sample with the
//! previous one, so a change of workload phase looks like the effect of its last step, and
//! at the sizes where the window matters most (32-512 entries) a sample's hit rate moves
//! more by chance than by a step. It ended 1.5-6 points below a fixed 1% window at 512
//! entries on most of our workloads and up to 2.6 points below LRU at 32. The shadows see
//! the *same* requests, so their difference is the window's effect alone; and one
//! candidate is a 100% window, which is exactly LRU, so the choice is never far below LRU
//! once an epoch has shown which is better.
//!
//! Cost: shards up to [`FULL_SIMULATION_MAX`] entries simulate every key; larger ones
//! sample keys by hash at `SHADOW_MAX / capacity` (SHARDS' spatial sampling, Waldspurger
//! et al., FAST 2015), so the work per access shrinks as the cache grows and memory is
//! bounded by `CANDIDATES.len() * FULL_SIMULATION_MAX` ids per shard. The shadows share
//! the cache's frequency sketch: a sampled key's count there is the count a full-rate
//! simulation would have.

use super::arena::Arena;
use super::segments::{Admission, Candidate, Segments, stale_before};
use super::sketch::FrequencySketch;
use crate::cache::entry::{Evictions, Expiry};
use crate::pair::PairId;

/// Candidates: windows with TinyLFU's contest, as shares of the capacity, from Caffeine's 1%
/// (frequency-heavy workloads) up to 100%, which is plain LRU (recency-heavy ones); and,
/// since round 8, two 10% windows with the recency filter ([`Admission::Filter`], S3-FIFO's
/// small-queue share), one in front of the usual segmented main and one in front of a
/// main that is a single LRU (S3-FIFO's main forgets an old hot set within one pass; a
/// protected segment holds it until newer entries are hit twice). The contest keeps a
/// replaced hot set out of main until the old one's counts age, whatever the window: on
/// second-generator traces whose hot set is replaced every 15-60 s, S3-FIFO and
/// quick_cache were up to 6 points above the best contest window (docs/simulation.md,
/// round 8). Ordered by window; LRU stays last.
const CANDIDATES: [Candidate; 8] = [
    Candidate::contest(0.01),
    Candidate::contest(0.05),
    Candidate::filter(0.10),
    Candidate::filter_lru(0.10),
    Candidate::contest(0.15),
    Candidate::contest(0.35),
    Candidate::contest(0.65),
    Candidate::contest(1.0),
];
/// The window used before the first epoch has ended: LRU (the 100% candidate) since round
/// 6. A workload must show that a smaller window pays before the cache leaves LRU. Against
/// starting at 35%: over the 26 workloads × 7 sizes the mean gain over LRU is +4.60
/// instead of +4.68 points, but 3 points fall below LRU instead of 4; over the second
/// generator's 315 points, 75 instead of 101 fall below LRU (47 instead of 55 by more than
/// 0.05) and the worst is -0.64 instead of -1.38. The held-out traces of issue 10 lost
/// most to LRU at small sizes, so the start that loses least there is the default.
///
/// Under a TTL too since round 9. Before, a cache under a TTL started at 35% and ran
/// without the guard: the shadows renewed only the ids the cache's own refreshes landed
/// on, which favoured the window in use, so a start at LRU tended to stay there and
/// refresh-ahead lost (+6.69 instead of +7.05 points over the 26 workloads at TTL 3 s).
/// Now that every shadow models refresh-ahead for its own entries, the same rules hold
/// with or without a TTL: over 60 traces × 64/128/512 entries at TTL 3 s,
/// `default/default` is below `lru/none` at no point (9 with the old start and no guard,
/// on the same build), +9.47 points above it on average (+9.65; round 8: +9.20 and 12
/// points below); docs/simulation.md, round 9.
const START: Candidate = Candidate::contest(1.0);
/// Shards up to this many entries simulate every key with shadows of their own size
/// (since round 10); larger ones simulate a key sample on shadows of [`SHADOW_MAX`]
/// entries. A sample of a few hundred keys is noisy: on a 829-pool trace at 512 entries
/// (1 key in 4 sampled) the sampled shadows chose windows that lost 0.82 points to LRU.
/// Over 102 traces × 32..4,096 entries without a TTL, full simulation up to 512 entries
/// gives +2.93 points over LRU on average instead of +2.84 (+0.50 at 512 entries) and a
/// worst case of -0.27 instead of -0.82 (docs/simulation.md, round 10).
///
/// The price is eight simulated accesses on every read: an L1 hit at 512 entries costs
/// ~310 ns instead of ~40 ns for LRU (`l1_hit_small` bench), against a 250 µs miss
/// avoided on 0.5% more reads. Up to 1,024 entries gained a further +0.47 points at
/// 1,024, but a 1,024-entry cache is `serve`'s embedded default (1 MB with the synthetic
/// feed), whose hits would have cost ~360 ns instead of ~90 ns; it keeps sampling, as
/// the seed's production L1 (131,072 entries, shards of 8,192) does.
const FULL_SIMULATION_MAX: usize = 512;
/// Shadow capacity of a shard larger than [`FULL_SIMULATION_MAX`], which is simulated on a
/// key sample (1 in 8 at 1,024 entries, 1 in 32 at 4,096). Over the 18 evaluation
/// workloads of round 4 × 32..4,096 entries, 128, 256 and 512 gave the same mean (+5.58 /
/// +5.58 / +5.59 points over LRU) and worst case (-0.11 / -0.28 / -0.11), so the smallest
/// is taken: it simulates the fewest reads of a large shard. (Round 10 found that below
/// 512 entries the sample's size does matter on other workloads, and simulates those
/// shards in full.)
const SHADOW_MAX: usize = 128;
/// Fewest sampled reads per epoch; epochs are otherwise four shadow capacities long.
const MIN_EPOCH: u32 = 2_000;
/// Each epoch keeps this share of the earlier epochs' hits: the choice follows the last
/// ten or so epochs (~20,000 *sampled* reads: all reads up to [`FULL_SIMULATION_MAX`]
/// entries per shard, one in `capacity / 128` above). Round 4 used 1,000-read epochs decayed by 0.75; on eight fresh
/// workloads generated with parameters none of the eighteen use, that followed near-ties
/// between the 65% and 100% windows back and forth (~40 switches in a 250k-read trace)
/// and each switch's transient cost hits: 0.11 points below LRU at 64 entries. Over the 26
/// workloads x 7 sizes the longer memory gives a mean of +4.68 instead of +4.65 points
/// over LRU and a worst case at 64-512 entries of -0.01 instead of -0.11 (-0.11 at 32).
const DECAY: f64 = 0.9;
/// A candidate replaces the current window only if its shadow hit this share of the
/// (decayed) sampled reads more often: near-ties do not move the window back and forth.
const MARGIN: f64 = 0.002;
/// Sampled reads per sub-epoch, the interval at which the emergency switch looks.
const SUB_EPOCH: u32 = 128;
/// Emergency switch to LRU: within one sub-epoch, the LRU shadow hit this share of the
/// sampled reads more often than the window in use, and that window hit less than its
/// own average of the earlier epochs (since round 18, below). A frequency-heavy window is at its
/// worst right after the hot set changes (the new pools lose every admission contest to
/// the old ones' counts until those age), and an epoch is long: on traces whose hot set
/// is replaced every 30-90 s (a generator not ours; docs/simulation.md, round 6) one
/// epoch at a 1% window cost up to 24 points of that epoch, and the policy ended up to
/// 3.1 points below LRU. The switch lasts until the epoch ends (or, since round 20, until
/// the choice's shadow leads again, [`EMERGENCY_UNDO_LEAD`]); then the guard decides as
/// usual (the cache, now at LRU, leaves it only for a steady lead of [`LEAVE_LRU_LEAD`],
/// [`LEAVE_LRU_STEADINESS`]; the emergency's epoch is part of that history). 0.2 of 128 reads
/// (26 hits) is rarely reached by chance: over the 26 workloads
/// the mean moved from +4.680 to +4.676 points over LRU. (Epochs of 2,000 sampled reads
/// are not a multiple of 128: their last 80 reads are not checked, and an emergency near
/// an epoch's end may be ended by it. Left as measured.)
///
/// The switch runs under a TTL too (since round 7; the guard only since round 9, see
/// [`START`]: until then the shadows were biased toward the window in use under a TTL,
/// and the guard, which weighs ten epochs of that bias, pushed the cache to LRU). A 20%
/// lead within 128 reads was far beyond that bias: on a fresh trace whose 150 hot pools are
/// replaced every 15 s, at 128 entries and TTL 3 s, the switch took the default from 1.33
/// points below LRU to 1.04 above, and over 60 traces × 64/128/512 entries at TTL 3 s it
/// cost at most 0.32 points at one point (mean +0.03; the held-out trace above unchanged).
///
/// Since round 18 the lead counts only in a sub-epoch where the window in use hit less
/// than its own average of the earlier epochs (its decayed score per sampled read; until
/// the first epoch after a start, a restart or a clear has ended, any lead counts): an
/// emergency answers a collapse of that window, not a burst of a few pools that LRU
/// catches better while the window hits more than usual too. On a trace whose fast
/// detector reads a few pools in bursts (LRU led in one sub-epoch, not the next), at 64
/// entries under TTL 3 s with refresh-ahead (where the shadows favour a 35% window), such
/// bursts moved the cache to LRU 40 times and back, and refresh-ahead cost 0.79 points
/// instead of gaining 0.62. Over 84 traces of two generators (no TTL at 32..4,096
/// entries, and the acceptance grid with and without TTL 3 s) 17 of 1,596 points moved,
/// by -0.01 to +0.15 (docs/simulation.md, round 18). Requiring two leading sub-epochs in
/// a row instead fixed the same trace but cost up to 0.47 points at single points and
/// put one phase trace 0.51 below LRU. The average lags a change
/// of level: the first epoch after a start (empty shadows) lowers it, and the shadows'
/// hits rise when they start modelling refresh-ahead, so for a few epochs after either a
/// collapse must fall further to count. Left as measured.
const EMERGENCY_LEAD: f64 = 0.2;
/// An emergency is undone (since round 20): later in the same epoch, in a sub-epoch where
/// the choice's shadow hit this share of the sampled reads more than LRU's, the cache
/// returns to the choice. A collapse after a change of the hot set lasts several
/// sub-epochs (the old pools' counts keep the new ones out until they age); a burst of a
/// few pools that LRU catches for one sub-epoch does not, and before this the cache then
/// ran LRU to the epoch's end and paid a switch's transient on its return. On
/// dex-no-cascade-poisson @ 64 entries the emergency fired 36 times in 125 epochs and cost
/// 2.6 points against no emergency at all; undone, 1.3. Over 84 traces × 32..4,096
/// entries (no warming) the mean gain over LRU rose by 0.012 points, 62 of 588 points
/// moved and none lost more than 0.08; the points below LRU did not move. A bar of 0 gave
/// +0.020 but moved 97 points (down to -0.11, and -0.13 under TTL 3 s), 0.05 gave +0.015
/// and moved 81: of the three, 0.1 moves the fewest for most of the gain
/// (docs/simulation.md, round 20).
const EMERGENCY_UNDO_LEAD: f64 = 0.1;
/// In the epoch that began by leaving LRU, an emergency is also called on the cache's own
/// hits (since round 20): the LRU shadow hit [`EMERGENCY_LEAD`] of a sub-epoch's sampled
/// reads more than the cache did, while the choice's shadow trailed LRU's by this share.
/// The shadows cannot see what a switch costs the cache itself: it holds what LRU chose,
/// not what the new window would have, and a change of phase in that epoch hits it
/// harder than either shadow. On phase-30s-h300 @ 512 entries, the epoch after the guard
/// left LRU cost the cache 348 hits against the LRU shadow (by 1,920 of its 2,048 sampled
/// reads) where the choice's shadow lost 131 (no sub-epoch reached the shadows'
/// emergency), 0.19 points below LRU over the trace; with this check 0.04. The condition
/// on the choice's shadow says what the check is for: with the undo in place it hardly
/// matters (without it 4 of 1,344 distinct points differ, by at most 0.03, as a check
/// fired by a transient is undone in the next sub-epoch), but in round 19, without the
/// undo and with the shadows' "below its average" condition, the unconditioned check
/// fired on a switch's ordinary transient (the cache at 64 entries hit 10 of 128 reads
/// where the shadows hit 73 and 81) and cost dex-no-cascade-poisson @ 64 0.89 points.
const SWITCH_COST_TRAIL: f64 = 0.05;
/// The guard leaves LRU only once following the choice has earned this share of the
/// (decayed) sampled reads more than the LRU shadow; it returns to LRU when following the
/// choice falls below LRU by [`MARGIN`]. A window that merely ties LRU is not taken: the
/// shadows describe past epochs, and where LRU is optimal each switch to a window that led
/// by chance cost a few hundredths of a point (round 7, docs/simulation.md). Leads of
/// 0.002 / 0.005 / 0.0075 / 0.01 / 0.02 against leaving as soon as the choice is within
/// the margin, without warming at 32..4,096 entries: points below LRU over our 26
/// workloads 3 -> 2 / 1 / 0 / 0 / 0 (mean gain +4.60 -> +4.51 / +4.50 / +4.49 / +4.46 /
/// +4.29); over the second generator's 45 traces at 64-512 entries, 35 -> 31 / 27 / 17 /
/// 13 / 6 below LRU (worst -0.56 -> -0.17 / -0.16 / -0.18 / -0.30 / -0.11), but at 0.02
/// two points at 1,024 entries more than 0.5 below. 0.01 is the middle. (Measured while
/// the guard compared shadows only; since round 15 it is charged the cache's own hits
/// while it runs the choice and while it settles back into LRU, see
/// `WindowTuner::settling`, and 0.01 was kept.)
const LEAVE_LRU_LEAD: f64 = 0.01;
/// A return to LRU is charged its settling cost ([`WindowTuner::settling`]) only once
/// this many epochs have ended since the tuner started or was cleared (a return at the
/// end of the third epoch settles; an emergency within it does not). Before, the
/// decayed scores hold an epoch or two, and one settling epoch decides the guard alone:
/// after `HierarchicalCache::clear_l1` (a simulated restart, which keeps the window in
/// use and forgets the scores), the guard's first return charged the cache for refilling
/// and it stayed at LRU. Over the 26 workloads' 60 s after a restart at 128 and 512
/// entries, with and without warm start, against the guard of round 14 (no settling
/// charge), charging from the first epoch cost 0.095 points on average and 2.73 at
/// worst (market-crosschain @ 512); from the end of the third, 0.010 and 1.08
/// (dex-sparse-fast @ 512, warm start). Over 84 traces x 32..4,096 entries the mean
/// stays +5.355 points over LRU either way, and ph-h450-p15-z0.0-c2 @ 512 is at -0.38
/// instead of -0.34 (docs/simulation.md, round 15).
const SETTLE_AFTER_EPOCHS: u32 = 3;
/// The guard leaves LRU only for a steady lead (since round 19): the mean of following the
/// choice's lead per epoch (decayed as the scores are) must be at least this many of its
/// standard deviations, besides [`LEAVE_LRU_LEAD`] of the reads. On traces whose phases
/// favour the choice and LRU in turn, the decayed lead passed 1% of the reads while
/// changing sign from epoch to epoch (at ph-h450-p15-z0.0-c2 @ 512 entries the filter+LRU
/// window's shadow led LRU's by 0.55% of the reads over the run); the guard left LRU, and
/// the next phase change cost more than the lead had earned: 0.28 points below LRU there,
/// 0.10 at d01-phase @ 512 and 0.06 at a third generator's block_bursts_halt @ 128 (with
/// and without a TTL; no warming). With 0.5 they are at -0.06, -0.04 and +0.00; over 84
/// traces × 32..4,096 entries the mean gain over LRU moves from +5.358 to +5.354 points.
/// 0.35 left block_bursts_halt at -0.02; 1 cost 0.04 points of the mean and fixed no
/// more; 2 kept the cache at LRU on traces where a window gains (mean -0.63 points), and
/// refresh-ahead fell 3.89 points below no warming at one point (ph-h150-p40-z0.9-c4 @ 64,
/// TTL 3 s) (docs/simulation.md, round 19). A lead that is steady from the first epochs, as where
/// a window wins throughout, passes at once.
///
/// The first epoch after a start, a restart or a clear is not weighed: it fills the cache
/// and the shadows, and a resumed window often loses that epoch to the LRU shadow while it
/// refills. Weighed, it held the cache at LRU an epoch longer after a restart: over the
/// 60 s after a restart of 84 traces at 128 and 512 entries, resuming the saved window
/// gave 0.040 points less on average than before this rule and 1.69 less at worst
/// (ph-h450-p40-z0.6-c3 @ 512); without the fill, 0.015 and 0.89. (Leaving out two
/// epochs: 0.021 and 1.69.) Without a restart, leaving the first epoch out moved no point
/// of the 588 policy points or the acceptance grid by more than 0.07.
const LEAVE_LRU_STEADINESS: f64 = 0.5;
/// The windows a tuner ran and chose, saved across a restart
/// ([`crate::cache::PolicySnapshot`]): indices into [`CANDIDATES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SavedWindows {
    /// The window in use.
    pub(crate) current: u8,
    /// The window the scores chose.
    pub(crate) choice: u8,
}

/// Candidates a saved window may name (its index is below this).
pub(crate) const SAVED_CANDIDATES: usize = CANDIDATES.len();

/// `candidate`'s index in [`CANDIDATES`] (every shadow simulates one of them).
fn candidate_index(candidate: Candidate) -> u8 {
    CANDIDATES
        .iter()
        .position(|&c| c == candidate)
        .map_or(u8::MAX, |i| i as u8)
}

/// A saved window's description for logs and health ("contest 1%", "filter 10%",
/// "filter+lru 10%"); `None` for an index no candidate has.
pub(crate) fn describe_window(index: u8) -> Option<String> {
    let c = CANDIDATES.get(usize::from(index))?;
    let kind = match (c.admission, c.protected > 0.0) {
        (Admission::Contest, _) if c.share >= 1.0 => return Some("lru".into()),
        (Admission::Contest, _) => "contest",
        (Admission::Filter, true) => "filter",
        (Admission::Filter, false) => "filter+lru",
    };
    Some(format!("{kind} {}%", (c.share * 100.0).round()))
}

/// Multiplier of the key-sample hash (odd; unrelated to the shard and sketch hashes).
const SAMPLE_MUL: u64 = 0xD6E8_FEB8_6659_FD93;
/// `sample_hash` values range over `0..SAMPLE_RANGE`.
const SAMPLE_RANGE: u64 = 1 << 32;

/// The key-sample hash of `id`, in `0..2^32`: one multiply, because it is on every L1
/// read of a tuned shard. Ids are dense slot numbers, so a multiplicative hash spreads
/// them evenly (consecutive ids land a golden-ratio-like stride apart).
#[inline]
pub(super) fn sample_hash(id: PairId) -> u64 {
    u64::from(id.raw()).wrapping_mul(SAMPLE_MUL) >> 32
}

struct Shadow {
    /// The window and admission it simulates.
    candidate: Candidate,
    /// Ids and their stamps (under a TTL): a shadow holds no values.
    seg: Segments<u64>,
    /// Hits in the running epoch.
    hits: u32,
    /// Decayed hits of earlier epochs.
    score: f64,
    /// `hits` when the running sub-epoch began.
    sub_start: u32,
}

impl Shadow {
    /// A read (counted) or a write of a sampled key at `now_ms`, entries stored before
    /// `stale_before_ms` being expired; a miss is loaded, as the cache does. A read of an
    /// expired entry is a miss (the cache drops it and loads it again); a write renews it.
    ///
    /// `refreshed_until`: while refresh-ahead is modelled, a read keeps the entry fresh as if
    /// stored then (it is refreshed before each expiry while it was read within the idle
    /// horizon).
    #[inline]
    fn access(
        &mut self,
        id: PairId,
        sketch: &FrequencySketch,
        read: bool,
        now_ms: u64,
        refreshed_until: Option<u64>,
    ) {
        let found = self.seg.arena.find(id);
        match found {
            Some(ix) if !read || !self.seg.expired(ix) => {
                self.seg.touch(ix);
                let stamp = &mut self.seg.arena.node_mut(ix).entry;
                match (read, refreshed_until) {
                    (false, _) => *stamp = (*stamp).max(now_ms),
                    (true, Some(until)) => *stamp = (*stamp).max(until),
                    (true, None) => {}
                }
                self.hits += u32::from(read);
            }
            _ => {
                if let Some(ix) = found {
                    self.seg.arena.remove(ix);
                }
                let mut evicted = Evictions::default();
                let stamp = if read {
                    refreshed_until.unwrap_or(now_ms)
                } else {
                    now_ms
                };
                self.seg.add(id, stamp, sketch, &mut evicted);
            }
        }
    }
}

/// What the running epoch has done to the window in use, for the sub-epoch checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EpochState {
    /// Nothing the checks below look at.
    Steady,
    /// The epoch began by leaving LRU, and the cache has run the choice since: its own
    /// hits may call an emergency ([`SWITCH_COST_TRAIL`]). Any switch ends it, an
    /// emergency undone in the next sub-epoch included.
    LeftLru,
    /// An emergency runs LRU; the choice's lead may undo it ([`EMERGENCY_UNDO_LEAD`]).
    Rescued,
}

/// The miniature simulations of one W-TinyLFU shard.
pub(super) struct WindowTuner {
    shadows: Vec<Shadow>,
    /// A key is simulated if its [`sample_hash`] is below this (`SAMPLE_RANGE`: every key).
    sample_below: u64,
    epoch: u32,
    reads: u32,
    /// Decayed sampled reads (the scale of the scores).
    decayed_reads: f64,
    current: usize,
    /// The window the epochs' scores chose; `current` differs while the guard or an
    /// emergency runs LRU instead.
    choice: usize,
    /// Decayed hits of following the tuner, epoch by epoch, compared with the LRU shadow
    /// by the guard: the cache's own hits while it runs a window other than LRU or
    /// settles back into LRU (see [`Self::settling`]), else the hits of the window
    /// `choice` names (what following it would have earned while the guard ran LRU).
    realized: f64,
    /// `realized`'s hits in the running epoch.
    earned: u32,
    /// `earned` when the running sub-epoch began.
    earned_sub_start: u32,
    /// What the running epoch has done to the window in use.
    state: EpochState,
    /// Sampled reads since the cache last left a window other than LRU for LRU (an
    /// emergency, the guard, or a choice of LRU itself) with [`SETTLE_AFTER_EPOCHS`] of
    /// history; saturates.
    since_return: u32,
    /// Epochs ended since the tuner was created or cleared; saturates.
    epochs: u32,
    /// Decayed count of the epochs whose lead (`realized`'s hits over the LRU shadow's)
    /// the guard weighs for steadiness ([`LEAVE_LRU_STEADINESS`]): all but the first
    /// after a start.
    lead_weight: f64,
    /// Decayed sum of those epochs' leads.
    lead_sum: f64,
    /// Decayed sum of their squares.
    lead_squares: f64,
    /// The cache's L1 TTL, if any: the shadows expire entries as the cache does.
    ttl_ms: Option<u64>,
    /// The refresh idle horizon ([`Expiry::refresh_idle_ms`]; 0 without a TTL).
    refresh_idle_ms: u64,
    /// When the latest refresh landed: refresh-ahead is modelled in the shadows while one
    /// landed within the idle horizon (it stops with warming, e.g. a rollback).
    last_refresh_ms: Option<u64>,
}

impl WindowTuner {
    pub(super) fn new(capacity: usize, expiry: Option<Expiry>) -> Self {
        let capacity = capacity.max(1);
        let ttl_ms = expiry.map(|e| e.ttl_ms);
        let shadow_capacity = if capacity <= FULL_SIMULATION_MAX {
            capacity
        } else {
            SHADOW_MAX
        };
        let sample_below = if shadow_capacity < capacity {
            (shadow_capacity as f64 / capacity as f64 * SAMPLE_RANGE as f64) as u64
        } else {
            SAMPLE_RANGE
        };
        // Candidates that give the same window at the shadows' size would replay the same
        // cache twice (1% and 5% of 16 entries are both one entry).
        let mut shadows: Vec<Shadow> = Vec::with_capacity(CANDIDATES.len());
        for &candidate in &CANDIDATES {
            let seg = Segments::new(
                Arena::without_gate(shadow_capacity),
                shadow_capacity,
                candidate,
                usize::MAX,
            );
            // A contest window equal to the previous one would replay a cache already
            // simulated; a filter over a one-entry window filters nothing worth a shadow.
            let distinct = match candidate.admission {
                Admission::Contest => shadows
                    .iter()
                    .rev()
                    .find(|s: &&Shadow| s.candidate.admission == Admission::Contest)
                    .is_none_or(|s| s.seg.window() != seg.window()),
                Admission::Filter => seg.window() > 1,
            };
            if distinct {
                shadows.push(Shadow {
                    candidate,
                    seg,
                    hits: 0,
                    score: 0.0,
                    sub_start: 0,
                });
            }
        }
        let current = shadows
            .iter()
            .rposition(|s| {
                s.candidate.admission == Admission::Contest && s.candidate.share <= START.share
            })
            .unwrap_or(0);
        Self {
            shadows,
            sample_below,
            epoch: (4 * shadow_capacity as u32).max(MIN_EPOCH),
            reads: 0,
            decayed_reads: 0.0,
            current,
            choice: current,
            realized: 0.0,
            earned: 0,
            earned_sub_start: 0,
            state: EpochState::Steady,
            since_return: u32::MAX,
            epochs: 0,
            lead_weight: 0.0,
            lead_sum: 0.0,
            lead_squares: 0.0,
            ttl_ms,
            refresh_idle_ms: expiry.map_or(0, |e| e.refresh_idle_ms),
            last_refresh_ms: None,
        }
    }

    /// A refresh-ahead value landed in the cache at `now_ms`: from now on (for the idle
    /// horizon) the shadows model refresh-ahead themselves.
    pub(super) fn refresh_landed(&mut self, now_ms: u64) {
        if self.ttl_ms.is_some() {
            self.last_refresh_ms = Some(now_ms);
        }
    }

    /// Whether refresh-ahead is modelled at `now_ms`: a refresh landed within the horizon.
    fn modelling_refresh(&self, now_ms: u64) -> bool {
        self.last_refresh_ms
            .is_some_and(|t| now_ms.saturating_sub(t) <= self.refresh_idle_ms)
    }

    /// The window and admission in use.
    pub(super) fn candidate(&self) -> Candidate {
        self.shadows[self.current].candidate
    }

    /// The window share in use.
    #[cfg(test)]
    fn share(&self) -> f64 {
        self.candidate().share
    }

    /// Distinct candidates simulated (1 on a shard too small to tell them apart).
    pub(super) fn candidates(&self) -> usize {
        self.shadows.len()
    }

    /// Keys whose [`sample_hash`] is below this are simulated: the caller tests it before
    /// calling [`Self::read`] or [`Self::write`], without touching the tuner's memory.
    pub(super) fn sample_below(&self) -> u64 {
        self.sample_below
    }

    #[cfg(test)]
    fn sampled(&self, id: PairId) -> bool {
        sample_hash(id) < self.sample_below
    }

    /// Sets the shadows' expiry horizon at `now_ms` (nothing expires without a TTL).
    #[inline]
    fn expire_at(&mut self, now_ms: u64) {
        if self.ttl_ms.is_some() {
            let stale_before = stale_before(self.ttl_ms, now_ms);
            for s in &mut self.shadows {
                s.seg.stale_before_ms = stale_before;
            }
        }
    }

    /// A read of a sampled `id` at `now_ms` (after the cache counted it in `sketch`);
    /// `own_hit`: the cache hit it with an entry of its own (not an unread warmed one). At
    /// the end of an epoch (or an emergency), returns the candidate to run if it changes.
    #[inline]
    pub(super) fn read(
        &mut self,
        id: PairId,
        own_hit: bool,
        sketch: &FrequencySketch,
        now_ms: u64,
    ) -> Option<Candidate> {
        self.expire_at(now_ms);
        let refreshed_until = self
            .modelling_refresh(now_ms)
            .then(|| now_ms.saturating_add(self.refresh_idle_ms));
        let choice_hits = self.shadows[self.choice].hits;
        for s in &mut self.shadows {
            s.access(id, sketch, true, now_ms, refreshed_until);
        }
        self.earned += if self.current != self.lru() || self.settling() {
            u32::from(own_hit)
        } else {
            self.shadows[self.choice].hits - choice_hits
        };
        self.since_return = self.since_return.saturating_add(1);
        self.reads += 1;
        if self.reads >= self.epoch {
            return self.end_epoch();
        }
        if self.reads.is_multiple_of(SUB_EPOCH) {
            return self.end_sub_epoch();
        }
        None
    }

    /// A write of a sampled `id` (a price update) at `now_ms`: an access, not a read to
    /// count.
    #[inline]
    pub(super) fn write(&mut self, id: PairId, sketch: &FrequencySketch, now_ms: u64) {
        self.expire_at(now_ms);
        for s in &mut self.shadows {
            s.access(id, sketch, false, now_ms, None);
        }
    }

    /// A sampled `id`'s value renewed at `now_ms` without an access (a refresh-ahead
    /// landing, a fetch of a present pair): the shadows holding it renew its stamp, and
    /// nothing moves. Not while refresh-ahead is modelled: each shadow then renews what
    /// it holds itself, and renewing the cache's own picks would favour the shadows that
    /// hold what the cache holds.
    pub(super) fn renew(&mut self, id: PairId, now_ms: u64) {
        if self.ttl_ms.is_none() || self.modelling_refresh(now_ms) {
            return;
        }
        for s in &mut self.shadows {
            if let Some(ix) = s.seg.arena.find(id) {
                s.seg.arena.node_mut(ix).entry = now_ms;
            }
        }
    }

    /// The LRU shadow's index: the last candidate, the largest window.
    fn lru(&self) -> usize {
        self.shadows.len() - 1
    }

    /// Whether the cache is still settling into LRU after running another window: for
    /// one epoch after the return, what it holds is that window's choice, not LRU's, and
    /// it misses what the LRU shadow would have hit. That cost belongs to having left LRU,
    /// so the guard is charged the cache's own hits, not the choice's shadow (which never
    /// switched).
    ///
    /// The cache's own hits can fall short of a shadow's for reasons that are not the
    /// window's (a removal by coherence, an L2 miss not loaded, a warm that displaced a
    /// victim, a refresh that lagged): each pushes the guard toward LRU, the baseline, not
    /// away from it. On phase traces whose hot set is replaced every 15-30 s, the choice's
    /// shadow led LRU's by little, the guard left LRU, and each return cost 50-150 hits
    /// of 2,000 reads that no shadow showed: 0.48 points below LRU at 512 entries, 0.38
    /// now (docs/simulation.md, round 15).
    fn settling(&self) -> bool {
        self.since_return < self.epoch
    }

    /// Runs `next` from now on; a return to LRU starts [`Self::settling`] once the tuner
    /// has [`SETTLE_AFTER_EPOCHS`] epochs of history.
    fn switch_to(&mut self, next: usize) -> Candidate {
        if next == self.lru() && self.current != next && self.epochs >= SETTLE_AFTER_EPOCHS {
            self.since_return = 0;
        }
        self.current = next;
        self.candidate()
    }

    /// Every [`SUB_EPOCH`] sampled reads: switches to LRU at once if its shadow has just
    /// hit [`EMERGENCY_LEAD`] more than the window in use, and the window in use hit less
    /// than its own average of the earlier epochs (see there), or, in the epoch that began
    /// by leaving LRU, more than the cache itself while the choice's shadow trailed it
    /// ([`SWITCH_COST_TRAIL`]). Undoes an emergency of this epoch once the choice's shadow
    /// leads LRU's again ([`EMERGENCY_UNDO_LEAD`]).
    fn end_sub_epoch(&mut self) -> Option<Candidate> {
        let lru = self.lru();
        let sub = f64::from(SUB_EPOCH);
        let gain = |s: &Shadow| f64::from(s.hits.saturating_sub(s.sub_start));
        let (l, c, choice) = (
            &self.shadows[lru],
            &self.shadows[self.current],
            &self.shadows[self.choice],
        );
        let own = f64::from(self.earned.saturating_sub(self.earned_sub_start));
        // Before the first epoch has ended there is no average: any lead counts.
        let fell = self.decayed_reads == 0.0 || gain(c) < c.score / self.decayed_reads * sub;
        let collapse = self.current != lru && gain(l) - gain(c) > EMERGENCY_LEAD * sub && fell;
        let switch_cost = self.state == EpochState::LeftLru
            && gain(l) - own > EMERGENCY_LEAD * sub
            && gain(l) - gain(choice) >= SWITCH_COST_TRAIL * sub;
        let undo = self.state == EpochState::Rescued
            && gain(choice) - gain(l) >= EMERGENCY_UNDO_LEAD * sub;
        for s in &mut self.shadows {
            s.sub_start = s.hits;
        }
        self.earned_sub_start = self.earned;
        if collapse || switch_cost {
            self.state = EpochState::Rescued;
            return Some(self.switch_to(lru));
        }
        if undo {
            self.state = EpochState::Steady;
            return Some(self.switch_to(self.choice));
        }
        None
    }

    /// Scores the epoch; the best-scoring window becomes the choice if it leads by the
    /// margin. The *guard* then runs LRU instead while following the choices has earned
    /// less than LRU would have (decayed as the scores are; leaving LRU takes a steady lead
    /// of [`LEAVE_LRU_LEAD`] ([`LEAVE_LRU_STEADINESS`]), returning to it a loss of the
    /// margin):
    /// a window whose lead comes and goes with the workload's phases is not followed
    /// into the phases where it loses. What "following" earned is measured, not
    /// simulated, while it is followed (see `realized`): an emergency's rescue and, once
    /// the tuner has [`SETTLE_AFTER_EPOCHS`] epochs of history, the cost of settling back
    /// into LRU both count. Returns the new candidate if it changes.
    fn end_epoch(&mut self) -> Option<Candidate> {
        let lru = self.lru();
        self.decayed_reads = self.decayed_reads * DECAY + f64::from(self.reads);
        self.reads = 0;
        self.epochs = self.epochs.saturating_add(1);
        self.realized = self.realized * DECAY + f64::from(self.earned);
        // The first epoch after a start, a restart or a clear fills the cache and the
        // shadows: its lead measures the fill, not the workload.
        if self.epochs > 1 {
            let epoch_lead = f64::from(self.earned) - f64::from(self.shadows[lru].hits);
            self.lead_weight = self.lead_weight * DECAY + 1.0;
            self.lead_sum = self.lead_sum * DECAY + epoch_lead;
            self.lead_squares = self.lead_squares * DECAY + epoch_lead * epoch_lead;
        }
        self.earned = 0;
        self.earned_sub_start = 0;
        self.state = EpochState::Steady;
        for s in &mut self.shadows {
            s.score = s.score * DECAY + f64::from(s.hits);
            s.hits = 0;
            s.sub_start = 0;
        }
        let best = (0..self.shadows.len())
            .max_by(|&a, &b| self.shadows[a].score.total_cmp(&self.shadows[b].score))
            .unwrap_or(self.choice);
        let lead = self.shadows[best].score - self.shadows[self.choice].score;
        if best != self.choice && lead > MARGIN * self.decayed_reads {
            self.choice = best;
        }
        // Hysteresis: leaving LRU takes a (steady) lead, going back to it a loss.
        let leave = if self.current == lru {
            LEAVE_LRU_LEAD
        } else {
            -MARGIN
        };
        let behind = self.realized < self.shadows[lru].score + leave * self.decayed_reads;
        let guarded = behind || (self.current == lru && !self.lead_is_steady());
        let next = if guarded { lru } else { self.choice };
        if next != self.current {
            if self.current == lru {
                self.state = EpochState::LeftLru;
            }
            return Some(self.switch_to(next));
        }
        None
    }

    /// Whether following the choice has led the LRU shadow steadily: its mean lead per
    /// epoch is at least [`LEAVE_LRU_STEADINESS`] of the lead's standard deviation (both
    /// decayed as the scores are), over the epochs since the first after a start. Before
    /// one has ended, any lead is steady.
    fn lead_is_steady(&self) -> bool {
        if self.lead_weight == 0.0 {
            return true;
        }
        let mean = self.lead_sum / self.lead_weight;
        let variance = (self.lead_squares / self.lead_weight - mean * mean).max(0.0);
        mean >= LEAVE_LRU_STEADINESS * variance.sqrt()
    }

    /// The windows to save across a restart: the one in use and the one the scores chose
    /// (they differ while the guard or an emergency runs LRU), as indices into
    /// [`CANDIDATES`], which do not depend on the shard's size.
    pub(super) fn windows(&self) -> SavedWindows {
        let index = |ix: usize| candidate_index(self.shadows[ix].candidate);
        SavedWindows {
            current: index(self.current),
            choice: index(self.choice),
        }
    }

    /// Starts over as a new tuner would (at [`START`], no history); the cache's segments
    /// must then run [`Self::candidate`].
    pub(super) fn restart(&mut self) {
        self.clear();
        let start = self.shadow_of(START);
        self.current = start;
        self.choice = start;
    }

    /// Starts over at saved windows (a restart that restored them): the same state as
    /// [`Self::clear`] leaves after running them, i.e. no scores, and no settling charge
    /// until [`SETTLE_AFTER_EPOCHS`] epochs have ended. A window this shard does not
    /// simulate (two candidates give the same window at its size) maps to the simulated
    /// one that stands for it. The cache's segments must then run [`Self::candidate`].
    pub(super) fn resume(&mut self, saved: SavedWindows) {
        self.clear();
        let shadow = |i: u8| CANDIDATES.get(usize::from(i)).copied().unwrap_or(START);
        self.current = self.shadow_of(shadow(saved.current));
        self.choice = self.shadow_of(shadow(saved.choice));
    }

    /// The shadow simulating `candidate`, or, if this shard does not simulate it, the
    /// largest contest window not above its share: for a contest window dropped as a
    /// duplicate, the one that replays the same cache; for a filter window too small to
    /// filter (a shard under ~15 entries), the smallest contest window.
    fn shadow_of(&self, candidate: Candidate) -> usize {
        self.shadows
            .iter()
            .position(|s| s.candidate == candidate)
            .or_else(|| {
                self.shadows.iter().rposition(|s| {
                    s.candidate.admission == Admission::Contest
                        && s.candidate.share <= candidate.share
                })
            })
            .unwrap_or(0)
    }

    pub(super) fn clear(&mut self) {
        for s in &mut self.shadows {
            s.seg.arena.clear();
            s.hits = 0;
            s.score = 0.0;
            s.sub_start = 0;
        }
        self.reads = 0;
        self.decayed_reads = 0.0;
        self.realized = 0.0;
        self.earned = 0;
        self.earned_sub_start = 0;
        self.state = EpochState::Steady;
        self.since_return = u32::MAX;
        self.epochs = 0;
        self.lead_weight = 0.0;
        self.lead_sum = 0.0;
        self.lead_squares = 0.0;
        self.last_refresh_ms = None;
    }
}

/// Raw ids of a read stream whose hot set (56 ids) is replaced every 3,000 reads, 30% of
/// the reads going to ids never read again (deterministic).
#[cfg(test)]
pub(super) fn replaced_hot_sets_among_one_time_reads(reads: u32) -> impl Iterator<Item = u32> {
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    (0..reads).map(move |n| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        if rng % 10 < 3 {
            10_000_000 + n
        } else {
            (n / 3_000) * 1_000 + (rng >> 8) as u32 % 56
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An L1 TTL of `ttl_ms`, with the cache's default refresh idle horizon.
    fn ttl(ttl_ms: u64) -> Option<Expiry> {
        use crate::warmer::{REFRESH_IDLE_MIN_MS, REFRESH_IDLE_TTLS};
        Some(Expiry {
            ttl_ms,
            refresh_idle_ms: (REFRESH_IDLE_TTLS * ttl_ms).max(REFRESH_IDLE_MIN_MS),
        })
    }

    /// Counts `raw` in the sketch, then reads it through the tuner, as the cache does; the
    /// cache is taken to hold what the shadow of the candidate it runs holds.
    fn read(t: &mut WindowTuner, sketch: &mut FrequencySketch, raw: u32) -> Option<Candidate> {
        let id = PairId::from_raw(raw);
        sketch.increment(id);
        let own_hit = t.shadows[t.current].seg.arena.find(id).is_some();
        t.read(id, own_hit, sketch, 0)
    }

    /// Reads a frequency-friendly phase (a cycle over more keys than the cache holds), then
    /// a hot set replaced by 40 new keys read uniformly; returns the share before the
    /// change, the reads after it until a switch to LRU (if within four sub-epochs) and
    /// the reads left in the epoch at the change.
    fn replace_the_hot_set(ttl_ms: Option<u64>) -> (f64, Option<u32>, f64) {
        let capacity = 64;
        let mut sketch = FrequencySketch::new(capacity);
        let mut t = WindowTuner::new(capacity, ttl_ms.and_then(ttl));
        for i in 0..20_000u32 {
            read(&mut t, &mut sketch, i % 80);
        }
        let before = t.share();
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        for n in 1..=(4 * SUB_EPOCH) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            if read(&mut t, &mut sketch, 1_000 + (rng % 40) as u32) == Some(Candidate::contest(1.0))
            {
                // An epoch's end would have moved the choice too; an emergency leaves it.
                assert_eq!(t.current, t.lru());
                return (before, Some(n), t.shadows[t.choice].candidate.share);
            }
        }
        (before, None, t.shadows[t.choice].candidate.share)
    }

    /// The old keys' counts keep the new ones out of a small window's main while LRU
    /// holds them all: the emergency switch must move to LRU within a few sub-epochs,
    /// long before the epoch (2,000 reads) ends; under a TTL as well (see
    /// [`EMERGENCY_LEAD`]).
    #[test]
    fn a_replaced_hot_set_switches_to_lru_within_a_few_sub_epochs() {
        for ttl_ms in [None, Some(60_000)] {
            let (before, switched, choice) = replace_the_hot_set(ttl_ms);
            assert!(
                before <= 0.05,
                "cyclic phase kept {before} (TTL {ttl_ms:?})"
            );
            switched.expect("no switch to LRU within four sub-epochs");
            assert_eq!(
                choice, before,
                "the switch came from an epoch's end, not an emergency (TTL {ttl_ms:?})"
            );
        }
    }

    /// An emergency answers a collapse of the window in use, not a burst that LRU catches
    /// better: LRU's lead counts only in a sub-epoch where the window hit less than its
    /// own average (round 18: on a trace whose fast detector reads a few pools in bursts,
    /// LRU's leads in single sub-epochs moved a 35% window to LRU 40 times and cost 0.79
    /// points under refresh-ahead).
    #[test]
    fn an_emergency_takes_a_lead_while_the_window_hits_below_its_average() {
        let mut t = WindowTuner::new(64, None);
        let lru = t.lru();
        let lead = hits_above(EMERGENCY_LEAD);
        // The emergency looks at the shadows only: the cache's own hits are 0.
        let sub_epoch =
            |t: &mut WindowTuner, window: u32, lru_hits: u32| sub_epoch(t, 0, window, lru_hits);
        // No epoch has ended: any lead is an emergency.
        t.choice = 0;
        t.switch_to(0);
        assert_eq!(
            sub_epoch(&mut t, 40, 40 + lead),
            Some(Candidate::contest(1.0))
        );
        // The window has hit half its reads on average (64 of 128).
        t.switch_to(0);
        t.state = EpochState::Steady;
        t.decayed_reads = 2_000.0;
        t.shadows[0].score = 1_000.0;
        // A burst: the window hits more than its average, LRU more still.
        assert_eq!(sub_epoch(&mut t, 70, 70 + lead), None);
        assert_eq!(t.current, 0);
        // At the average (64 of 128), with the same lead: no switch either.
        assert_eq!(sub_epoch(&mut t, 64, 64 + lead), None);
        // Just below the average, with the same lead: the switch.
        assert_eq!(
            sub_epoch(&mut t, 63, 63 + lead),
            Some(Candidate::contest(1.0))
        );
        assert_eq!(t.current, lru);
        // Below the average, but a lead just at the bar: no switch.
        t.switch_to(0);
        t.state = EpochState::Steady;
        assert_eq!(sub_epoch(&mut t, 30, 30 + lead - 1), None);
    }

    /// The fewest hits of a sub-epoch strictly above `share` of its sampled reads.
    fn hits_above(share: f64) -> u32 {
        (share * f64::from(SUB_EPOCH)).floor() as u32 + 1
    }

    /// The fewest hits of a sub-epoch at or above `share` of its sampled reads.
    fn hits_at_least(share: f64) -> u32 {
        (share * f64::from(SUB_EPOCH)).ceil() as u32
    }

    /// Ends a sub-epoch in which the cache hit `own` of its reads, the shadow of window 0
    /// `window` and LRU's shadow `lru_hits`.
    fn sub_epoch(t: &mut WindowTuner, own: u32, window: u32, lru_hits: u32) -> Option<Candidate> {
        let lru = t.lru();
        t.earned += own;
        t.shadows[0].hits += window;
        t.shadows[lru].hits += lru_hits;
        t.reads += SUB_EPOCH;
        t.end_sub_epoch()
    }

    /// An emergency is undone in the same epoch once the choice's shadow leads LRU's by
    /// [`EMERGENCY_UNDO_LEAD`] of a sub-epoch (a burst, not a collapse); a lead below it,
    /// or the epoch's end, leaves the guard to decide.
    #[test]
    fn an_emergency_is_undone_when_the_choice_leads_again() {
        let mut t = WindowTuner::new(64, None);
        let lru = t.lru();
        let lead = hits_above(EMERGENCY_LEAD);
        let undo = hits_at_least(EMERGENCY_UNDO_LEAD);
        // The emergency and its undo look at the shadows only: the cache's own hits are 0.
        let sub_epoch =
            |t: &mut WindowTuner, window: u32, lru_hits: u32| sub_epoch(t, 0, window, lru_hits);
        t.choice = 0;
        t.switch_to(0);
        // Without an emergency, a lead of the choice changes nothing.
        assert_eq!(sub_epoch(&mut t, 60 + undo, 60), None);
        assert_eq!(
            sub_epoch(&mut t, 40, 40 + lead),
            Some(Candidate::contest(1.0))
        );
        assert_eq!(t.current, lru);
        // The choice leads by less than the bar: LRU stays.
        assert_eq!(sub_epoch(&mut t, 60 + undo - 1, 60), None);
        assert_eq!(t.current, lru);
        // At the bar: back to the choice.
        assert_eq!(
            sub_epoch(&mut t, 60 + undo, 60),
            Some(t.shadows[0].candidate)
        );
        assert_eq!(t.current, 0);
        // A second emergency in the epoch, then the epoch ends (the guard keeps LRU: the
        // cache earned nothing): no undo after it, the guard decides.
        assert_eq!(
            sub_epoch(&mut t, 40, 40 + lead),
            Some(Candidate::contest(1.0))
        );
        assert_eq!(t.end_epoch(), None);
        assert_eq!(sub_epoch(&mut t, 60 + undo, 60), None);
        assert_eq!(t.current, lru);
    }

    /// In the epoch that began by leaving LRU the cache's own hits can call an emergency,
    /// but only while the choice's shadow trails LRU's ([`SWITCH_COST_TRAIL`]): a change of
    /// phase that the switch made worse, not a switch's ordinary transient (the cache
    /// holds what LRU chose and hits less than either shadow for a while). The check ends
    /// at the epoch's first switch.
    #[test]
    fn the_cache_own_hits_call_an_emergency_after_leaving_lru_only_if_the_choice_trails() {
        let mut t = WindowTuner::new(64, None);
        let lru = t.lru();
        assert_eq!(t.current, lru);
        let deficit = hits_above(EMERGENCY_LEAD);
        let trail = hits_at_least(SWITCH_COST_TRAIL);
        let undo = hits_at_least(EMERGENCY_UNDO_LEAD);
        // One epoch in which the 1% window's shadow hit 1,000 and LRU's 800; `earned` is
        // what following the choice earned, as `read` sums it while LRU runs.
        let epoch = |t: &mut WindowTuner| {
            t.reads = 2_000;
            t.shadows[0].hits = 1_000;
            t.shadows[lru].hits = 800;
            t.earned = t.shadows[t.choice].hits;
            t.end_epoch()
        };
        // The first epoch makes the window the choice; following LRU earned no lead yet.
        assert_eq!(epoch(&mut t), None);
        assert_eq!((t.choice, t.current, t.state), (0, lru, EpochState::Steady));
        // The second: a steady lead, and the guard leaves LRU.
        assert_eq!(epoch(&mut t), Some(t.shadows[0].candidate));
        assert_eq!(t.state, EpochState::LeftLru);
        // From here: the cache's own hits, the choice's shadow's and LRU's in one sub-epoch.
        // A transient: the cache far below both shadows, the choice ahead of LRU.
        assert_eq!(sub_epoch(&mut t, 10, 70, 66), None);
        // The choice trails LRU by less than the bar: no emergency (LRU's lead over the
        // choice's shadow is far below the shadows' emergency too).
        assert_eq!(sub_epoch(&mut t, 70 - deficit, 70 - trail + 1, 70), None);
        // The choice trails by the bar, the cache by no more than the lead: none either.
        assert_eq!(sub_epoch(&mut t, 70 - deficit + 1, 70 - trail, 70), None);
        assert_eq!(t.current, 0);
        // The choice trails by the bar and the cache by more than the lead: LRU.
        assert_eq!(
            sub_epoch(&mut t, 70 - deficit, 70 - trail, 70),
            Some(Candidate::contest(1.0))
        );
        assert_eq!((t.current, t.state), (lru, EpochState::Rescued));
        // The choice leads again: undone. The check has ended with the first switch.
        assert_eq!(
            sub_epoch(&mut t, 0, 70 + undo, 70),
            Some(t.shadows[0].candidate)
        );
        assert_eq!(sub_epoch(&mut t, 70 - deficit, 70 - trail, 70), None);
        assert_eq!((t.current, t.state), (0, EpochState::Steady));
    }

    /// The guard: while the windows the tuner chose have earned less than the LRU shadow,
    /// LRU runs, whatever the scores say; once following the choice has paid (decayed as
    /// the scores), the choice runs again. The same with or without a TTL (since round 9).
    #[test]
    fn the_guard_runs_lru_until_following_the_choice_has_paid() {
        for expiry in [None, ttl(3_000)] {
            guard_runs_lru_until_the_choice_has_paid(WindowTuner::new(64, expiry));
        }
    }

    fn guard_runs_lru_until_the_choice_has_paid(mut t: WindowTuner) {
        let lru = t.lru();
        assert!(lru >= 2, "{} candidates", t.candidates());
        t.choice = 1;
        t.current = 1;
        // One epoch: the chosen window (index 1) hit 500, the 1% window 1,000, LRU 800.
        let epoch = |t: &mut WindowTuner, hits: &[(usize, u32)]| {
            t.reads = 2_000;
            for s in &mut t.shadows {
                s.hits = 0;
            }
            for &(i, h) in hits {
                t.shadows[i].hits = h;
            }
            // What following the choice earned in the epoch, as `read` would have summed
            // it: its shadow's hits (in the first epoch the cache ran the choice and hit as
            // its shadow did; the return to LRU after it comes before three epochs of
            // history, so LRU runs settled and the choice's shadow is charged).
            t.earned += t.shadows[t.choice].hits;
            t.end_epoch();
            (t.choice, t.current)
        };
        // The 1% window now scores best, but following the choice earned 500 against
        // LRU's 800: LRU runs.
        assert_eq!(epoch(&mut t, &[(0, 1_000), (1, 500), (lru, 800)]), (0, lru));
        // Realized 1,450 against 1,520: still behind, still LRU.
        assert_eq!(epoch(&mut t, &[(0, 1_000), (1, 500), (lru, 800)]), (0, lru));
        // Realized 2,305 against 2,168: the choice has paid, and steadily (+200 in each
        // epoch after the first, which filled the cache), it runs.
        assert_eq!(epoch(&mut t, &[(0, 1_000), (1, 500), (lru, 800)]), (0, 0));
        assert_eq!(t.candidate(), CANDIDATES[0]);
    }

    /// LRU is left only for a steady lead: a choice whose lead changes sign from epoch to
    /// epoch stays behind LRU though its decayed lead passes [`LEAVE_LRU_LEAD`]; a lead of
    /// the same size each epoch is taken at once. The first epoch after a start is not
    /// weighed: it fills the cache.
    #[test]
    fn the_guard_leaves_lru_only_for_a_steady_lead() {
        // One epoch of 2,000 reads in which the window at index 0 (the choice throughout)
        // hit `lead` more than LRU, and following it earned `earned` more than LRU: what
        // its shadow hit while LRU runs settled (no settling before three epochs), the
        // cache's own hits while it runs the window.
        let epoch = |t: &mut WindowTuner, lead: i32, earned: i32| {
            t.reads = 2_000;
            for s in &mut t.shadows {
                s.hits = 0;
            }
            t.shadows[0].hits = 1_000u32.saturating_add_signed(lead);
            let lru = t.lru();
            t.shadows[lru].hits = 1_000;
            t.earned += 1_000u32.saturating_add_signed(earned);
            t.end_epoch();
            assert_eq!(t.choice, 0, "the window keeps the best score");
            t.current
        };
        let running_the_window = || {
            let mut t = WindowTuner::new(64, None);
            t.choice = 0;
            t.current = 0;
            t
        };
        let mut t = running_the_window();
        let lru = t.lru();
        assert_eq!(epoch(&mut t, 300, 300), 0, "the fill");
        assert_eq!(epoch(&mut t, -200, -200), 0, "70 ahead: the window runs on");
        // An emergency sends the cache to LRU, as `end_sub_epoch` does.
        t.switch_to(lru);
        // 363 ahead of 5,420 decayed reads, 6.7 times the 1% lead, but the weighed leads
        // went -200, +300 (mean 63, deviation 250): LRU runs.
        assert_eq!(epoch(&mut t, 300, 300), lru);
        assert!(t.realized - t.shadows[lru].score > LEAVE_LRU_LEAD * t.decayed_reads);
        assert!(!t.lead_is_steady());
        assert_eq!(epoch(&mut t, -200, -200), lru);
        assert_eq!(
            epoch(&mut t, 300, 300),
            lru,
            "414 ahead, still changing sign"
        );
        // A second +300 in a row: the mean lead (121) is half its deviation (240).
        assert_eq!(epoch(&mut t, 300, 300), 0);

        // A lead of 60 from the first epoch is taken at once.
        let mut t = running_the_window();
        t.switch_to(lru);
        assert_eq!(epoch(&mut t, 60, 60), 0);

        // A fill in which the cache, refilling, hit 200 fewer than LRU's shadow (its own
        // shadow led by 100) sends it to LRU; it does not count against the steady lead
        // after it: 123 ahead of 5,420 decayed reads after -200, +150, +150 (the 1% is
        // 54.2), and +150 twice is steady. (Weighing the fill, the mean lead, 45, would be
        // below half its deviation of 160.)
        let mut t = running_the_window();
        assert_eq!(epoch(&mut t, 100, -200), lru);
        assert_eq!(epoch(&mut t, 150, 150), lru);
        assert_eq!(epoch(&mut t, 150, 150), 0);
    }

    /// Hysteresis: LRU is left only for a choice that has out-earned it by
    /// [`LEAVE_LRU_LEAD`] of the reads, and taken again only once following the choice
    /// has fallen behind it by [`MARGIN`].
    #[test]
    fn the_guard_leaves_lru_only_for_a_lead() {
        let mut t = WindowTuner::new(64, None);
        let lru = t.lru();
        t.choice = 0;
        t.current = lru;
        let epoch = |t: &mut WindowTuner, choice_hits: u32, lru_hits: u32| {
            t.reads = 2_000;
            for s in &mut t.shadows {
                s.hits = 0;
            }
            t.shadows[0].hits = choice_hits;
            t.shadows[lru].hits = lru_hits;
            t.earned += choice_hits;
            t.end_epoch();
            (t.choice, t.current)
        };
        // Realized 1,010 against 1,000: ahead by 0.5% of 2,000 reads, less than the lead.
        assert_eq!(epoch(&mut t, 1_010, 1_000), (0, lru));
        // 1,949 against 1,900: 49 ahead, more than 1% of 3,800 decayed reads.
        assert_eq!(epoch(&mut t, 1_040, 1_000), (0, 0));
        // 2,744 against 2,710: still ahead; the choice keeps running.
        assert_eq!(epoch(&mut t, 990, 1_000), (0, 0));
        // 3,430 against 3,439: behind, but by less than the margin (13.8 of 6,878 decayed
        // reads); the choice keeps running.
        assert_eq!(epoch(&mut t, 960, 1_000), (0, 0));
        // 3,987 against 4,095: behind by more than the margin; back to LRU.
        assert_eq!(epoch(&mut t, 900, 1_000), (lru, lru));
    }

    /// What the guard is charged: the choice's shadow while LRU runs settled, the cache's
    /// own hits while another window runs and, once the tuner has
    /// [`SETTLE_AFTER_EPOCHS`] epochs of history, for one epoch after a return to LRU
    /// (the cache then holds the other window's picks, and misses what the shadows hit).
    #[test]
    fn the_guard_is_charged_the_cache_own_hits_until_it_has_settled_into_lru() {
        let mut sketch = FrequencySketch::new(64);
        let mut t = WindowTuner::new(64, None);
        let lru = t.lru();
        let lru_candidate = CANDIDATES[CANDIDATES.len() - 1];
        let id = PairId::from_raw(7);
        sketch.increment(id);
        t.read(id, false, &sketch, 0);
        let earned = |t: &mut WindowTuner, own_hit: bool| {
            let before = t.earned;
            t.read(id, own_hit, &sketch, 0);
            t.earned - before
        };
        // LRU runs, settled: every shadow holds the id, the choice's counts though the
        // cache missed.
        assert_eq!((t.current, t.settling()), (lru, false));
        assert_eq!(earned(&mut t, false), 1);
        // The tuner chooses another window and runs it: the cache's own hits count.
        t.choice = 0;
        t.switch_to(0);
        assert_eq!((earned(&mut t, false), earned(&mut t, true)), (0, 1));
        // A return to LRU before the end of the third epoch has nothing to settle from;
        // each epoch's end counts one epoch of history.
        for ended in 0..SETTLE_AFTER_EPOCHS {
            assert_eq!(t.epochs, ended);
            t.switch_to(0);
            assert_eq!(t.switch_to(lru), lru_candidate);
            assert!(!t.settling(), "a return after {ended} epochs settled");
            t.end_epoch();
        }
        assert_eq!(t.epochs, SETTLE_AFTER_EPOCHS);
        // With history, leaving LRU is not a return to it; coming back settles for one
        // epoch of reads, charged the cache's own hits.
        t.switch_to(lru);
        t.switch_to(0);
        assert!(!t.settling(), "leaving LRU is not a return to it");
        assert_eq!(t.switch_to(lru), lru_candidate);
        assert!(t.settling());
        assert_eq!((earned(&mut t, false), earned(&mut t, true)), (0, 1));
        t.since_return = t.epoch - 1;
        assert_eq!(earned(&mut t, false), 0, "the epoch's last settling read");
        assert_eq!(
            earned(&mut t, false),
            1,
            "settled: the choice's shadow again"
        );
        // The epoch's end takes what was earned into `realized` and starts again at 0.
        let expected = t.realized * DECAY + f64::from(t.earned);
        t.end_epoch();
        assert_eq!((t.earned, t.realized), (0, expected));
        // An emergency is a return to LRU too: it starts settling.
        t.choice = 0;
        t.switch_to(0);
        t.since_return = u32::MAX;
        // The window's shadow has hit in earlier epochs and not at all in this sub-epoch:
        // below its average, so LRU's lead is an emergency.
        assert!(t.shadows[0].score > 0.0);
        t.shadows[lru].hits = SUB_EPOCH;
        assert_eq!(t.end_sub_epoch(), Some(lru_candidate));
        assert!(t.settling());
        // `clear` forgets the settling, the history and what was earned.
        t.earned = 5;
        assert!(t.realized > 0.0);
        assert!(t.lead_weight > 0.0 && t.lead_squares > 0.0);
        t.clear();
        assert!(!t.settling());
        assert_eq!((t.earned, t.epochs, t.realized), (0, 0, 0.0));
        assert_eq!((t.lead_weight, t.lead_sum, t.lead_squares), (0.0, 0.0, 0.0));
    }

    /// A read stream that cycles over slightly more keys than the cache holds defeats LRU
    /// (every read misses) while a small window keeps most of the keys in main: the tuner
    /// must leave its LRU start for a small window. A stream re-reading the last few
    /// keys written, among one-off keys, favours recency: it must come back up.
    #[test]
    fn follows_the_workload_to_the_window_that_hits_more() {
        let capacity = 64;
        let mut sketch = FrequencySketch::new(capacity);
        let mut t = WindowTuner::new(capacity, None);
        let mut changes = Vec::new();
        let mut read = |t: &mut WindowTuner, sketch: &mut FrequencySketch, raw: u32| {
            changes.extend(read(t, sketch, raw));
        };
        for i in 0..20_000u32 {
            read(&mut t, &mut sketch, i % 80);
        }
        let scan_share = t.share();
        assert!(
            scan_share <= 0.05,
            "cyclic reads kept a window of {scan_share}"
        );
        for i in 0..20_000u32 {
            // A new key, then a re-read of the key that was new twelve steps ago (read
            // twice, 24 reads apart: only a cache that keeps recent keys hits).
            read(&mut t, &mut sketch, 1_000_000 + i);
            read(&mut t, &mut sketch, 1_000_000 + i.saturating_sub(12));
        }
        let recency_share = t.share();
        assert!(
            recency_share >= 0.35,
            "recent re-reads left the window at {recency_share}"
        );
        assert!(!changes.is_empty());
    }

    /// A hot set replaced every few thousand reads, among reads of pools never seen again:
    /// LRU lets the one-time reads push hot pools out, the contest keeps each new hot set
    /// out of main until the old one's counts age; the recency filter does neither, and
    /// the tuner must pick it.
    #[test]
    fn a_replaced_hot_set_among_one_time_reads_picks_the_filter() {
        let capacity = 64;
        let mut sketch = FrequencySketch::new(capacity);
        let mut t = WindowTuner::new(capacity, None);
        let picked: Vec<Candidate> = replaced_hot_sets_among_one_time_reads(60_000)
            .filter_map(|raw| read(&mut t, &mut sketch, raw))
            .collect();
        assert_eq!(
            t.candidate().admission,
            Admission::Filter,
            "candidates taken: {picked:?}"
        );
        assert_eq!(t.shadows[t.current].seg.admission(), Admission::Filter);
        // Every window with the contest scored less: the filter, not its 10% window, wins.
        let filter = t.shadows[t.current].score;
        for s in &t.shadows {
            if s.candidate.admission == Admission::Contest {
                assert!(
                    filter > s.score,
                    "{:?} scored {} >= {filter}",
                    s.candidate,
                    s.score
                );
            }
        }
    }

    /// Under a TTL the shadows expire ids as the cache does: a read after the TTL misses
    /// unless a write or a refresh renewed the id in between.
    #[test]
    fn shadows_expire_and_renew_as_the_cache_does() {
        let mut sketch = FrequencySketch::new(64);
        let mut t = WindowTuner::new(64, ttl(1_000));
        let (a, b) = (PairId::from_raw(1), PairId::from_raw(2));
        let hits = |t: &WindowTuner| t.shadows.iter().map(|s| s.hits).sum::<u32>();
        for id in [a, b] {
            sketch.increment(id);
            t.read(id, false, &sketch, 0);
        }
        assert_eq!(hits(&t), 0);
        // a is refreshed at 900 ms; b is not.
        t.renew(a, 900);
        t.read(a, false, &sketch, 1_500);
        assert_eq!(
            hits(&t),
            t.candidates() as u32,
            "every shadow hits the renewed id"
        );
        t.read(b, false, &sketch, 1_500);
        assert_eq!(
            hits(&t),
            t.candidates() as u32,
            "the expired id misses everywhere"
        );
        // A write renews too; the miss above loaded b again at 1.5 s.
        t.write(b, &sketch, 2_400);
        t.read(b, false, &sketch, 3_300);
        assert_eq!(hits(&t), 2 * t.candidates() as u32);
    }

    /// Once refreshes land, every shadow models refresh-ahead for its own entries: an id
    /// read while fresh stays fresh past its TTL (refreshed before it expires), and the
    /// cache's own refresh landings no longer renew ids in the shadows (that favoured the
    /// shadows holding what the cache holds). With no landing for the idle horizon (warming
    /// stopped), the shadows expire entries as before.
    #[test]
    fn shadows_model_refresh_ahead_once_refreshes_land() {
        let run = |refreshing: bool| {
            let mut sketch = FrequencySketch::new(64);
            let mut t = WindowTuner::new(64, ttl(1_000));
            let (a, b) = (PairId::from_raw(1), PairId::from_raw(2));
            let mut hits_at = Vec::new();
            let mut read = |t: &mut WindowTuner, id: PairId, at: u64| {
                sketch.increment(id);
                t.read(id, false, &sketch, at);
                hits_at.push(t.shadows.iter().map(|s| s.hits).sum::<u32>());
            };
            read(&mut t, a, 0);
            read(&mut t, b, 0);
            if refreshing {
                t.refresh_landed(500);
            }
            // Read while fresh, then long after the TTL: refresh-ahead keeps a fresh.
            read(&mut t, a, 600);
            read(&mut t, a, 4_000);
            // b was not read while refreshes ran: a landing of the cache's own does not
            // renew it while the shadows model refresh themselves.
            t.renew(b, 4_000);
            read(&mut t, b, 4_500);
            // No refresh for longer than the idle horizon (30 TTLs, 30 s): a, last read at
            // 4 s, has expired (as it would have anyway), and its reload 15 s after the
            // horizon is not kept fresh any more: expired again 1.5 s later.
            let horizon = t.refresh_idle_ms;
            read(&mut t, a, horizon + 15_000);
            read(&mut t, a, horizon + 16_500);
            (hits_at, t.candidates() as u32)
        };
        let (with, n) = run(true);
        assert_eq!(with, vec![0, 0, n, 2 * n, 2 * n, 2 * n, 2 * n]);
        let (without, n) = run(false);
        assert_eq!(
            without,
            vec![0, 0, n, n, 2 * n, 2 * n, 2 * n],
            "without refresh-ahead a expires, and the cache's renewal of b counts"
        );
    }

    #[test]
    fn large_caches_simulate_a_bounded_sample_of_keys() {
        let t = WindowTuner::new(8_192, None);
        let sampled = (0..100_000u32)
            .filter(|&raw| t.sampled(PairId::from_raw(raw)))
            .count();
        // 128 / 8,192 = 1/64 of the keys, within a few percent.
        assert!((1_480..1_650).contains(&sampled), "{sampled}");
        assert!(t.shadows.iter().all(|s| s.seg.capacity() == SHADOW_MAX));
        assert_eq!(t.epoch, (4 * SHADOW_MAX as u32).max(MIN_EPOCH));
        assert_eq!(t.candidates(), CANDIDATES.len());
        let small = WindowTuner::new(100, None);
        assert!((0..1_000u32).all(|raw| small.sampled(PairId::from_raw(raw))));
        assert_eq!(small.epoch, MIN_EPOCH);
        assert!(small.shadows.iter().all(|s| s.seg.capacity() == 100));
        // Up to FULL_SIMULATION_MAX entries every key is simulated, at the cache's size.
        let full = WindowTuner::new(FULL_SIMULATION_MAX, None);
        assert!((0..100_000u32).all(|raw| full.sampled(PairId::from_raw(raw))));
        assert!(
            full.shadows
                .iter()
                .all(|s| s.seg.capacity() == FULL_SIMULATION_MAX)
        );
        assert_eq!(full.epoch, 4 * FULL_SIMULATION_MAX as u32);
        let sampled = WindowTuner::new(FULL_SIMULATION_MAX + 1, None);
        assert!(
            sampled
                .shadows
                .iter()
                .all(|s| s.seg.capacity() == SHADOW_MAX)
        );
    }

    /// Candidates that round to the same window are simulated once; one entry leaves
    /// nothing to choose.
    #[test]
    fn equal_windows_are_simulated_once() {
        let windows = |cap| {
            WindowTuner::new(cap, None)
                .shadows
                .iter()
                .map(|s| (s.seg.window(), s.seg.admission() == Admission::Filter))
                .collect::<Vec<_>>()
        };
        // 16 entries: 1% and 5% are both one entry; the two 10% filters (two entries) are
        // kept beside the 15% contest window of the same size.
        assert_eq!(
            windows(16),
            vec![
                (1, false),
                (2, true),
                (2, true),
                (2, false),
                (6, false),
                (10, false),
                (16, false)
            ]
        );
        // 12 entries: the filters' window would be one entry; they are not simulated.
        assert_eq!(
            windows(12),
            vec![(1, false), (2, false), (4, false), (8, false), (12, false)]
        );
        assert_eq!(windows(1), vec![(1, false)]);
        // The start: LRU, with or without a TTL.
        assert_eq!(
            WindowTuner::new(16, None).candidate(),
            Candidate::contest(1.0)
        );
        assert_eq!(
            WindowTuner::new(16, ttl(3_000)).candidate(),
            Candidate::contest(1.0)
        );
    }

    /// A saved window resumes as the shadow that simulates it, or, where the shard is too
    /// small to tell it from a smaller window, as that window; both the window in use and
    /// the choice come back, with no history; a restart goes back to the start.
    #[test]
    fn saved_windows_resume_on_the_shadow_that_stands_for_them() {
        let mut t = WindowTuner::new(64, None);
        t.choice = 0;
        t.current = t.lru();
        t.shadows[0].score = 99.0;
        t.epochs = 7;
        let saved = t.windows();
        assert_eq!(usize::from(saved.current), CANDIDATES.len() - 1);
        assert_eq!(saved.choice, 0);
        let mut other = WindowTuner::new(64, None);
        other.resume(saved);
        assert_eq!((other.current, other.choice), (other.lru(), 0));
        assert_eq!((other.epochs, other.shadows[0].score), (0, 0.0));
        // At 16 entries 1% and 5% are both one entry: 5% is not simulated.
        let mut small = WindowTuner::new(16, None);
        assert!(small.candidates() < CANDIDATES.len());
        small.resume(SavedWindows {
            current: 1,
            choice: 1,
        });
        assert_eq!(small.candidate(), CANDIDATES[0]);
        small.restart();
        assert_eq!(small.candidate(), START);
        assert_eq!(small.shadows[small.choice].candidate, START);
    }
}
