//! One run: the real cache, tracker and warmer driven by the trace on a virtual clock.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::oracle::OracleIndex;
use super::structure::Described;
use super::{Admission, Learn, Prepared, RunCounts, RunKind, RunSpec, SimConfig, SimError};
use crate::cache::{Clock, HierarchicalCache, MemoryL2, Price};
use crate::pair::{PairId, PairInterner};
use crate::trace::Op;
use crate::tracker::CorrelationTracker;
use crate::warmer::CacheWarmer;
use pairwarm::container::miss_learner;
use pairwarm::structure::PoolStructure;

/// Per-pair bookkeeping of warmed entries (for accuracy and pollution).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Warmed {
    #[default]
    No,
    /// Landed by a warm and not read yet; `measured` if it landed after the warm-up, so
    /// its read or eviction counts only when its landing did.
    Unread { measured: bool },
}

struct Ids {
    by_pair: Vec<PairId>,
    /// Interner slot -> trace pair index (for the eviction listener's ids).
    by_slot: Vec<u32>,
    interner: Arc<PairInterner>,
}

/// Interns every trace pair in a fresh interner large enough that no slot is recycled.
fn intern_all(prepared: &Prepared<'_>) -> Result<Ids, SimError> {
    let pairs = &prepared.trace.pairs;
    let mut capacity = (pairs.len() * 2).max(1024);
    loop {
        let interner = Arc::new(PairInterner::new(capacity));
        let mut by_pair = Vec::with_capacity(pairs.len());
        for p in pairs {
            let chain = interner
                .chain_id(&p.chain)
                .map_err(|e| SimError::Tracker(e.to_string()))?;
            by_pair.push(interner.intern(crate::pair::PairKey {
                chain,
                address: p.address,
            }));
        }
        // Shards fill unevenly; if any slot was recycled, retry with more room.
        if by_pair
            .iter()
            .zip(pairs)
            .all(|(&id, p)| interner.resolve(id).map(|k| k.address) == Some(p.address))
        {
            let mut by_slot = vec![u32::MAX; interner.capacity()];
            for (ix, &id) in by_pair.iter().enumerate() {
                by_slot[interner.slot(id)] = ix as u32;
            }
            return Ok(Ids {
                by_pair,
                by_slot,
                interner,
            });
        }
        if capacity >= 1 << 24 {
            return Err(SimError::TooManyPairs(pairs.len()));
        }
        capacity *= 2;
    }
}

fn price_at(ts_us: u64) -> Price {
    Price::new((ts_us % 1_000_000) as f64, 0, ts_us / 1000)
}

pub(super) fn run(
    prepared: &Prepared<'_>,
    spec: &RunSpec,
    (oracle, described): (Option<&OracleIndex>, &Described<'_>),
    l1: usize,
    config: &SimConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<RunCounts, SimError> {
    let started = Instant::now();
    let kind = &spec.kind;
    let trace = prepared.trace;
    let ids = intern_all(prepared)?;
    let clock = Clock::manual(0);
    clock.set_us(prepared.start_us);
    let evicted: Arc<Mutex<Vec<PairId>>> = Arc::new(Mutex::new(Vec::new()));
    let sink = evicted.clone();
    // L2 is assumed to hold every price (Redis is fed by the price stream before the
    // trace starts). The simulator models its latency itself, so the store is never
    // consulted during the replay: loads and warms go through `set_l1`/`promote`.
    let cache = Arc::new(
        HierarchicalCache::builder()
            .l1_entries(l1)
            .l1_policy(config.l1_policy)
            .l1_ttl(config.l1_ttl_ms.map(Duration::from_millis))
            .clock(clock.clone())
            .l2_round_trip(Duration::from_micros(config.l2_latency_us))
            .interner(ids.interner.clone())
            .eviction_listener(move |id| sink.lock().push(id))
            .build(MemoryL2::new().with_clock(clock.clone())),
    );

    // A `structure` run warms the pools' structural neighbours alone.
    let structure = PoolStructure::for_interner(ids.interner.clone());
    let mut neighbours: Vec<PairId> = Vec::new();
    // Pools whose first update has been replayed.
    let mut seen = vec![false; trace.pairs.len()];
    let (mut tracker, warmer) = match kind {
        RunKind::Strategy {
            config: strategy,
            learn,
        } => {
            let mut tracker_config = config.tracker.clone();
            tracker_config.signal = learn.signal();
            let tracker = Arc::new(
                CorrelationTracker::new(tracker_config)
                    .map_err(|e| SimError::Tracker(e.to_string()))?,
            );
            let mut warmer_config = config.warmer.clone();
            warmer_config.async_warming = false;
            warmer_config.structure = spec.structure;
            let warmer = CacheWarmer::new(
                cache.clone(),
                tracker.clone(),
                strategy.build(),
                warmer_config,
            )?;
            (Some(tracker), Some(warmer))
        }
        _ => (None, None),
    };
    if spec.warm_start && tracker.is_none() {
        tracker = Some(Arc::new(
            CorrelationTracker::new(config.tracker.clone())
                .map_err(|e| SimError::Tracker(e.to_string()))?,
        ));
    }
    let mut restarted = false;
    // Which reads the tracker learns from: every read (`:reads`, fed below) or the
    // cache's misses and warmed hits, through the library's `ReadObserver` as
    // `WarmingContainer` wires it (`:misses`; the virtual clock is the trace's time).
    let learns_every_read = matches!(
        kind,
        RunKind::Strategy {
            learn: Learn::Reads,
            ..
        }
    );
    if let (
        RunKind::Strategy {
            learn: Learn::Misses,
            ..
        },
        Some(t),
    ) = (kind, &tracker)
    {
        cache.set_read_observer(Some(miss_learner(t.clone(), cache.clock())));
    }

    let n_pairs = trace.pairs.len();
    let mut warmed = vec![Warmed::No; n_pairs];
    let mut in_flight = vec![0u32; n_pairs];
    // (landing time, pair, is a refresh).
    let mut arrivals: BinaryHeap<Reverse<(u64, u32, bool)>> = BinaryHeap::new();
    // Refresh-ahead ticks on the virtual clock (only with an L1 TTL).
    let refresh = spec.refresh.as_ref().filter(|_| config.l1_ttl_ms.is_some());
    let refresh_every_us = refresh.map_or(u64::MAX, |r| r.interval_ms.max(1) * 1000);
    let mut next_refresh_us = prepared.start_us.saturating_add(refresh_every_us);
    let mut counts = RunCounts::new(config.timeline_points);
    let mut oracle_state = oracle.map(|o| o.cursor());
    let latency = config.l2_latency_us;

    let settle_evictions = |warmed: &mut [Warmed], counts: &mut RunCounts| {
        let mut log = evicted.lock();
        for id in log.drain(..) {
            let Some(&ix) = ids.by_slot.get(ids.interner.slot(id)) else {
                continue;
            };
            if let Some(w) = warmed.get_mut(ix as usize)
                && let Warmed::Unread { measured } = *w
            {
                *w = Warmed::No;
                if measured {
                    counts.pollution += 1;
                }
            }
        }
    };

    const PROGRESS_EVERY: usize = 1 << 14;
    for (i, event) in trace.events.iter().enumerate() {
        if i % PROGRESS_EVERY == PROGRESS_EVERY - 1 {
            progress(PROGRESS_EVERY as u64);
        }
        let now_us = event.ts_us;
        let now_ms = now_us / 1000;
        let measuring = prepared.counted(now_us);
        // The simulated restart: L1 empties, in-flight fetches are lost, the tracker keeps
        // what it learned (a restored snapshot), and the L1 policy starts over as in a new
        // process, resuming its saved window if `serve` would. Warm start preloads the
        // hottest pairs in one round trip.
        if let Some((at, _)) = prepared.cold_start
            && !restarted
            && now_us >= at
        {
            restarted = true;
            let image = cache.policy_snapshot();
            cache.restart_l1();
            if prepared.resumes_policy {
                // The image comes from this very cache, so its shard layout fits.
                let _ = cache.resume_policy(&image);
            }
            settle_evictions(&mut warmed, &mut counts);
            warmed.iter_mut().for_each(|w| *w = Warmed::No);
            arrivals.clear();
            in_flight.iter_mut().for_each(|f| *f = 0);
            if spec.warm_start
                && let Some(t) = &tracker
            {
                let hottest = t.hottest(l1, now_ms);
                if !hottest.is_empty() {
                    counts.l2_round_trips += u64::from(measuring);
                    counts.warms += u64::from(measuring);
                    for q in hottest {
                        if let Some(&ix) = ids.by_slot.get(ids.interner.slot(q)) {
                            in_flight[ix as usize] += 1;
                            arrivals.push(Reverse((now_us.saturating_add(latency), ix, false)));
                        }
                    }
                }
            }
        }
        // Refresh batches and landings (warms, refreshes) due by this event, in time order:
        // a refresh that lands during a quiet gap renews its entry before the next tick,
        // as `serve`'s timer would, so a chain of refreshes can cross a gap longer than the
        // TTL (a 12 s block interval under a 3 s TTL).
        loop {
            let landing = arrivals
                .peek()
                .map(|&Reverse((at, _, _))| at)
                .filter(|&at| at <= now_us);
            let tick = (refresh.is_some() && next_refresh_us <= now_us).then_some(next_refresh_us);
            match (landing, tick, refresh) {
                (Some(at), tick, _) if tick.is_none_or(|t| at <= t) => {
                    let Some(Reverse((at, p, is_refresh))) = arrivals.pop() else {
                        break;
                    };
                    let p = p as usize;
                    let id = ids.by_pair[p];
                    if is_refresh {
                        clock.set_us(at);
                        cache.refresh_l1(id, price_at(at));
                        continue;
                    }
                    // A warm is admitted at its landing time too: refresh ticks may follow
                    // it before this event, and its stamp (hence its expiry) is when its
                    // value arrived.
                    clock.set_us(at);
                    in_flight[p] = in_flight[p].saturating_sub(1);
                    if !cache.contains_l1(id) {
                        // The oracle knows the read is coming: its fetch is cached like a
                        // demand load (an upper reference). A strategy's warm is a guess
                        // and is admitted as one (only into a free or expired slot).
                        let admitted = if matches!(kind, RunKind::Oracle) {
                            cache.load_l1(id, price_at(at));
                            true
                        } else if spec.admission == Admission::Original {
                            cache.promote_unguarded(id, price_at(at)).0
                        } else {
                            cache.promote(id, price_at(at)).0
                        };
                        settle_evictions(&mut warmed, &mut counts);
                        if admitted {
                            warmed[p] = Warmed::Unread {
                                measured: measuring,
                            };
                            if measuring {
                                counts.warmed_entries += 1;
                            }
                        }
                    }
                }
                (_, Some(tick), Some(r)) => {
                    // A refresh batch: one round trip, landing later.
                    next_refresh_us += refresh_every_us;
                    clock.set_us(tick);
                    let due = r.due(&cache, latency.div_ceil(1000));
                    if due.is_empty() {
                        continue;
                    }
                    if prepared.counted(tick) {
                        counts.refreshes += 1;
                        counts.refreshed_pairs += due.len() as u64;
                        counts.l2_round_trips += 1;
                    }
                    for q in due {
                        if let Some(&ix) = ids.by_slot.get(ids.interner.slot(q)) {
                            arrivals.push(Reverse((tick.saturating_add(latency), ix, true)));
                        }
                    }
                }
                _ => break,
            }
        }
        clock.set_us(now_us);
        let p = event.pair as usize;
        let id = ids.by_pair[p];
        match event.op {
            Op::Update => {
                // As `serve` learns a pool's tokens from its updates: described at its
                // first update, for the runs that warm structural neighbours.
                if !seen[p] {
                    seen[p] = true;
                    match (kind, &warmer) {
                        (RunKind::Structure, _) => {
                            described.describe(&structure, p, &ids.by_pair, &ids.interner);
                        }
                        (RunKind::Strategy { .. }, Some(w)) if spec.structure => {
                            described.describe(w.structure(), p, &ids.by_pair, &ids.interner);
                        }
                        _ => {}
                    }
                }
                cache.set_l1(id, price_at(now_us));
                // Overwritten by the feed before anyone read it: the warm was not needed.
                warmed[p] = Warmed::No;
                settle_evictions(&mut warmed, &mut counts);
                if warmer.is_none()
                    && let Some(t) = &tracker
                {
                    t.record_price_update(id, now_ms);
                }
                let to_fetch: Vec<u32> = match (kind, &warmer, &mut oracle_state) {
                    (RunKind::Strategy { .. }, Some(warmer), _) => {
                        if let Some(t) = &tracker {
                            t.record_price_update(id, now_ms);
                        }
                        let plan = warmer.plan(id, now_ms);
                        if spec.admission == Admission::Original {
                            // The original's L1 check is a `cache.get`: it touches the
                            // selected pairs already in L1.
                            for &q in plan.selected.iter().filter(|q| !plan.to_fetch.contains(q)) {
                                cache.get_l1_only(q);
                            }
                        }
                        plan.to_fetch
                            .iter()
                            .filter_map(|&q| ids.by_slot.get(ids.interner.slot(q)).copied())
                            .collect()
                    }
                    (RunKind::Structure, _, _) => {
                        structure.neighbours_into(id, &mut neighbours);
                        neighbours
                            .iter()
                            .filter_map(|&q| ids.by_slot.get(ids.interner.slot(q)).copied())
                            .filter(|&q| {
                                in_flight[q as usize] == 0
                                    && !cache.contains_l1(ids.by_pair[q as usize])
                            })
                            .take(config.warmer.max_pairs_per_warm)
                            .collect()
                    }
                    (RunKind::Oracle, _, Some(cursor)) => {
                        cursor.pick(i, now_us.saturating_add(latency), config.oracle_k, |q| {
                            cache.contains_l1(ids.by_pair[q as usize])
                        })
                    }
                    _ => Vec::new(),
                };
                // As `serve` does (`HierarchicalCache::fetch_for_warm`): a guess L1 could
                // not admit now is not fetched; the gate counts a later read of it only
                // after the warm would have landed (the modelled latency, twice; at least
                // 100 µs).
                let mut to_fetch = to_fetch;
                if spec.admission == Admission::Guarded && !matches!(kind, RunKind::Oracle) {
                    to_fetch.retain(|&q| cache.warm_has_room(ids.by_pair[q as usize]));
                }
                if !to_fetch.is_empty() {
                    if measuring {
                        counts.warms += 1;
                        counts.l2_round_trips += 1;
                    }
                    for q in to_fetch {
                        in_flight[q as usize] += 1;
                        arrivals.push(Reverse((now_us.saturating_add(latency), q, false)));
                    }
                }
            }
            Op::Read => {
                if learns_every_read && let Some(t) = &tracker {
                    t.record_read(id, now_ms);
                }
                let hit = cache.get_l1_only(id).is_some();
                if let Some((from, to)) = prepared.cold_start
                    && now_us >= from
                    && now_us < to
                {
                    counts.cold_reads += 1;
                    counts.cold_hits += u64::from(hit);
                }
                if measuring {
                    let bucket = prepared.bucket(now_us, config.timeline_points);
                    counts.read(hit, bucket);
                    if !hit && in_flight[p] > 0 {
                        counts.late += 1;
                    }
                }
                if hit {
                    if let Warmed::Unread { measured } = warmed[p] {
                        warmed[p] = Warmed::No;
                        if measured {
                            counts.warmed_read += 1;
                        }
                    }
                } else {
                    // Expired unread, or never landed in time: either way not useful.
                    warmed[p] = Warmed::No;
                    if measuring {
                        counts.l2_round_trips += 1;
                    }
                    cache.load_l1(id, price_at(now_us));
                    settle_evictions(&mut warmed, &mut counts);
                }
            }
        }
    }
    progress((trace.events.len() % PROGRESS_EVERY) as u64);
    counts.wall_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(counts)
}
