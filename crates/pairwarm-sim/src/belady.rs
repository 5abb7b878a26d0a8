//! Belady's optimal offline eviction (with bypass), without warming: the hit-rate ceiling
//! of the eviction policy alone.
//!
//! On every write (update) or demand load (read miss), the pair is a candidate for L1; if L1
//! is full, whichever of the candidate and the residents is read again furthest in the
//! future is left out. Reads only count hits and misses. L1 expiry (`--l1-ttl-ms`) is not
//! modelled here: the ceiling is that of eviction alone.

use std::collections::BTreeSet;

use super::{Prepared, RunCounts, SimConfig, replay_offline};
use crate::trace::{Op, Trace};

const NEVER: u32 = u32::MAX;

/// For each event, the index of the next read of the same pair after it (`NEVER` if none).
pub(crate) fn next_reads(trace: &Trace) -> Vec<u32> {
    let mut next = vec![NEVER; trace.events.len()];
    let mut upcoming = vec![NEVER; trace.pairs.len()];
    for (i, e) in trace.events.iter().enumerate().rev() {
        let p = e.pair as usize;
        next[i] = upcoming.get(p).copied().unwrap_or(NEVER);
        if e.op == Op::Read
            && let Some(u) = upcoming.get_mut(p)
        {
            *u = i as u32;
        }
    }
    next
}

pub(super) fn run(
    prepared: &Prepared<'_>,
    next: &[u32],
    l1: usize,
    config: &SimConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> RunCounts {
    let trace = prepared.trace;
    // Residents keyed by (next read, pair); `key[p]` is p's current key if resident.
    let mut residents: BTreeSet<(u32, u32)> = BTreeSet::new();
    let mut key: Vec<Option<u32>> = vec![None; trace.pairs.len()];
    replay_offline(prepared, config, progress, |i, e| {
        let p = e.pair as usize;
        let next_read = next.get(i).copied().unwrap_or(NEVER);
        let slot = key.get_mut(p)?;
        let resident = slot.is_some();
        if let Some(old) = slot.take() {
            residents.remove(&(old, e.pair));
        }
        if next_read == NEVER {
            return Some(resident);
        }
        if residents.len() >= l1 {
            match residents.last().copied() {
                Some(worst) if worst.0 > next_read => {
                    residents.remove(&worst);
                    key[worst.1 as usize] = None;
                }
                _ => return Some(resident),
            }
        }
        residents.insert((next_read, e.pair));
        key[p] = Some(next_read);
        Some(resident)
    })
}
