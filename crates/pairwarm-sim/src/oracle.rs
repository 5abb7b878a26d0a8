//! The oracle: warms, after each update, the pairs whose next access is a read that comes
//! soonest after the warm can land.
//!
//! Reads that happen before `now + latency` cannot be served by any warm issued now, so the
//! oracle looks at reads from that point on. It skips a pair that will be accessed in
//! between (a read would load it and an update would write it anyway) or that is in L1
//! already. It knows the future but not the eviction policy, so it is an upper *reference*,
//! not a proof of optimality.

use crate::trace::{Op, Trace};

/// Precomputed view of the trace's reads.
pub(crate) struct OracleIndex {
    /// `(ts_us, event index, pair)` of every read, in trace order.
    reads: Vec<(u64, u32, u32)>,
    /// For each event, the index of the previous event of the same pair (`u32::MAX`: none).
    prev_access: Vec<u32>,
    pairs: usize,
}

impl OracleIndex {
    pub(crate) fn build(trace: &Trace) -> Self {
        let mut last = vec![u32::MAX; trace.pairs.len()];
        let mut prev_access = Vec::with_capacity(trace.events.len());
        let mut reads = Vec::new();
        for (i, e) in trace.events.iter().enumerate() {
            let p = e.pair as usize;
            prev_access.push(last.get(p).copied().unwrap_or(u32::MAX));
            if let Some(l) = last.get_mut(p) {
                *l = i as u32;
            }
            if e.op == Op::Read {
                reads.push((e.ts_us, i as u32, e.pair));
            }
        }
        Self {
            reads,
            prev_access,
            pairs: trace.pairs.len(),
        }
    }

    pub(crate) fn cursor(&self) -> OracleCursor<'_> {
        OracleCursor {
            index: self,
            next_read: 0,
            seen: vec![u32::MAX; self.pairs],
        }
    }
}

/// Per-run scanning state (the read pointer only moves forward).
pub(crate) struct OracleCursor<'a> {
    index: &'a OracleIndex,
    next_read: usize,
    seen: Vec<u32>,
}

impl OracleCursor<'_> {
    /// Reads scanned per pick at most (bounds the work on read-heavy stretches).
    const SCAN_PER_PICK: usize = 64;

    /// Picks up to `k` pairs for a warm issued at event `event` that lands at `ready_us`.
    pub(crate) fn pick(
        &mut self,
        event: usize,
        ready_us: u64,
        k: usize,
        in_l1: impl Fn(u32) -> bool,
    ) -> Vec<u32> {
        let reads = &self.index.reads;
        while self.next_read < reads.len() && reads[self.next_read].0 < ready_us {
            self.next_read += 1;
        }
        let mut picked = Vec::with_capacity(k);
        let stamp = event as u32;
        for &(_, read_event, pair) in reads
            .iter()
            .skip(self.next_read)
            .take(k.saturating_mul(Self::SCAN_PER_PICK))
        {
            if picked.len() >= k {
                break;
            }
            let p = pair as usize;
            if self.seen[p] == stamp {
                continue;
            }
            self.seen[p] = stamp;
            let prev = self.index.prev_access[read_event as usize];
            let next_access_is_this_read = prev == u32::MAX || prev as usize <= event;
            if next_access_is_this_read && !in_l1(pair) {
                picked.push(pair);
            }
        }
        picked
    }
}
