//! Shadow-mode accounting: what warming *would* have done, measured on real reads.
//!
//! In shadow mode the service plans every warm but never executes it. Each planned pair is
//! stamped with the time of the prediction; when the detector later misses L1 on a pair
//! predicted within the last `horizon_ms`, that miss would have been a hit had warming been
//! on. `would_have_hit / reads` is the hit rate warming would have added — the number an
//! operator needs before switching warming on. One stamp per interner slot: fixed memory.

use std::sync::atomic::{AtomicU64, Ordering};

use pairwarm::pair::PairId;

/// Counters of shadow predictions.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShadowStats {
    /// Pairs predicted (planned warms, already-in-L1 pairs excluded).
    pub predictions: u64,
    /// Detector reads observed.
    pub reads: u64,
    /// L1 misses on pairs predicted within the horizon.
    pub would_have_hit: u64,
    /// `would_have_hit / reads`.
    pub would_have_added_hit_rate: f64,
}

/// Prediction stamps and counters (see the module docs).
pub struct ShadowTracker {
    predicted_at: Box<[AtomicU64]>,
    ids: Box<[AtomicU64]>,
    slot_mask: u32,
    horizon_ms: u64,
    predictions: AtomicU64,
    reads: AtomicU64,
    would_have_hit: AtomicU64,
}

impl ShadowTracker {
    /// One stamp per slot of `interner`.
    pub fn for_interner(interner: &pairwarm::pair::PairInterner, horizon_ms: u64) -> Self {
        // An id's slot bits cover the capacity rounded up to a power of two
        // (`PairInterner::slot`); a test checks the two agree.
        let mask = interner.capacity().next_power_of_two() - 1;
        Self::new(interner.capacity(), mask as u32, horizon_ms)
    }

    /// One stamp per slot of an interner with `slots` slots.
    pub fn new(slots: usize, slot_mask: u32, horizon_ms: u64) -> Self {
        Self {
            predicted_at: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            ids: (0..slots).map(|_| AtomicU64::new(u64::MAX)).collect(),
            slot_mask,
            horizon_ms,
            predictions: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            would_have_hit: AtomicU64::new(0),
        }
    }

    fn slot(&self, id: PairId) -> usize {
        (id.raw() & self.slot_mask) as usize
    }

    /// Records that a warm at `now_ms` would have fetched `pairs`.
    pub fn predicted(&self, pairs: &[PairId], now_ms: u64) {
        for &p in pairs {
            let s = self.slot(p);
            if let (Some(at), Some(id)) = (self.predicted_at.get(s), self.ids.get(s)) {
                at.store(now_ms.max(1), Ordering::Relaxed);
                id.store(u64::from(p.raw()), Ordering::Relaxed);
            }
        }
        self.predictions
            .fetch_add(pairs.len() as u64, Ordering::Relaxed);
    }

    /// Records a detector read; returns whether it was a miss warming would have avoided.
    pub fn read(&self, pair: PairId, l1_hit: bool, now_ms: u64) -> bool {
        self.reads.fetch_add(1, Ordering::Relaxed);
        if l1_hit {
            return false;
        }
        let s = self.slot(pair);
        let (Some(at), Some(id)) = (self.predicted_at.get(s), self.ids.get(s)) else {
            return false;
        };
        let stamped = at.load(Ordering::Relaxed);
        let hit = stamped != 0
            && id.load(Ordering::Relaxed) == u64::from(pair.raw())
            && now_ms.saturating_sub(stamped) <= self.horizon_ms;
        if hit {
            // One avoided miss per prediction: a second miss needs a second prediction.
            at.store(0, Ordering::Relaxed);
            self.would_have_hit.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// Counters so far.
    pub fn stats(&self) -> ShadowStats {
        let reads = self.reads.load(Ordering::Relaxed);
        let would = self.would_have_hit.load(Ordering::Relaxed);
        ShadowStats {
            predictions: self.predictions.load(Ordering::Relaxed),
            reads,
            would_have_hit: would,
            would_have_added_hit_rate: if reads == 0 {
                0.0
            } else {
                would as f64 / reads as f64
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_predicted_misses_within_the_horizon_once() {
        let s = ShadowTracker::new(16, 15, 1000);
        let (a, b) = (PairId::from_raw(1), PairId::from_raw(2));
        s.predicted(&[a], 10_000);
        assert!(!s.read(a, true, 10_100), "a hit needs no warming");
        assert!(s.read(a, false, 10_500));
        assert!(!s.read(a, false, 10_600), "one prediction avoids one miss");
        assert!(!s.read(b, false, 10_600), "b was never predicted");
        s.predicted(&[b], 20_000);
        assert!(!s.read(b, false, 21_001), "outside the horizon");
        // A recycled slot (same slot, other generation) does not count.
        s.predicted(&[a], 30_000);
        assert!(!s.read(PairId::from_raw(1 | 16), false, 30_001));
        let st = s.stats();
        assert_eq!((st.predictions, st.reads, st.would_have_hit), (3, 6, 1));
        assert!((st.would_have_added_hit_rate - 1.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn slots_agree_with_the_interner() {
        for capacity in [16, 100, 1000, 5000, 65_536] {
            let interner = pairwarm::pair::PairInterner::new(capacity);
            let s = ShadowTracker::for_interner(&interner, 1000);
            for i in 0..(3 * capacity as u32) {
                let id = interner
                    .intern_str("ethereum", &format!("0x{i:040x}"))
                    .unwrap();
                assert_eq!(s.slot(id), interner.slot(id), "capacity {capacity}, {id}");
            }
        }
    }
}
