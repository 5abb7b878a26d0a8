//! Perfect LFU: the eviction policy that knows every pool's read count over the whole trace
//! (and nothing about their order), without warming.
//!
//! L1 holds only the `l1` pools read most often (ties to the lower pool number, which in a
//! parsed trace is the pool seen first); any other pool bypasses it. A read hits once its
//! pool is one of them and has been written or read before (the first access is a miss).
//! Were the reads independent draws, this would be the best a policy can do (the
//! independent reference model's optimum, as Coffman and Denning's A0, here with bypass
//! instead of a swap slot), so it separates the
//! two parts of [`belady`](super::belady)'s lead: what knowing each pool's *rate* is worth,
//! which a frequency-based policy can learn, from what knowing the *order* of the reads is
//! worth, which only foreknowledge (or a warm with enough lead) can use. On traces with
//! phases or drifting hot sets an online policy can beat it, so it is a reference, not a
//! ceiling. L1 expiry (`--l1-ttl-ms`) is not modelled, as for Belady.

use super::{Prepared, RunCounts, SimConfig, replay_offline};
use crate::trace::{Op, Trace};

/// Each pool's rank by read count over the trace (0: read most).
pub(crate) fn read_ranks(trace: &Trace) -> Vec<u32> {
    let mut reads = vec![0u64; trace.pairs.len()];
    for e in &trace.events {
        if e.op == Op::Read
            && let Some(n) = reads.get_mut(e.pair as usize)
        {
            *n += 1;
        }
    }
    let mut order: Vec<u32> = (0..trace.pairs.len() as u32).collect();
    // A stable sort: ties keep the lower pool number (in a parsed trace, the pool seen first).
    order.sort_by_key(|&p| std::cmp::Reverse(reads[p as usize]));
    let mut rank = vec![u32::MAX; trace.pairs.len()];
    for (r, &p) in order.iter().enumerate() {
        rank[p as usize] = r as u32;
    }
    rank
}

pub(super) fn run(
    prepared: &Prepared<'_>,
    rank: &[u32],
    l1: usize,
    config: &SimConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> RunCounts {
    let mut held = vec![false; prepared.trace.pairs.len()];
    replay_offline(prepared, config, progress, |_, e| {
        let p = e.pair as usize;
        let resident = held.get_mut(p)?;
        let was = *resident;
        if rank.get(p).is_some_and(|&r| (r as usize) < l1) {
            *resident = true;
        }
        Some(was)
    })
}
