//! A hill climber that tunes one size parameter of a policy from its own hit rate (Caffeine's
//! adaptive window, Einziger et al., "Adaptive Software Cache Management", Middleware 2018):
//! after each sample of requests, keep moving the parameter in the direction that raised the
//! hit rate, reverse when it fell; steps shrink geometrically and restart when the hit rate
//! jumps (a new workload phase).

/// Step size as a share of the capacity (Caffeine's `HILL_CLIMBER_STEP_PERCENT`).
const STEP_PERCENT: f64 = 0.0625;
/// Step decay per sample (Caffeine's `HILL_CLIMBER_STEP_DECAY_RATE`).
const STEP_DECAY: f64 = 0.98;
/// Fewest requests per sample. Measured on the eight evaluation workloads, worst case of
/// the adaptive W-TinyLFU vs LRU over 32..4,096 entries: 1,000 -> -0.99 points (dex-base @
/// 32), 2,000 -> -0.47, 3,000 -> -0.10, 4,000 -> -0.14, 5,000 -> -0.07, 8,000 -> -0.79; the
/// mean advantage +3.9 / +4.1 / +4.4 / +4.2 / +4.3 / +4.4. Below ~3,000 requests a sample's
/// hit rate at 32-64 entries moves more by chance than by the window, so the climber walks
/// at random; far above, it adapts too slowly to the traces' phases.
const MIN_SAMPLE: usize = 4_000;
/// A hit-rate change this large restarts the step size (Caffeine's threshold).
const RESTART_THRESHOLD: f64 = 0.05;

pub(super) struct HillClimber {
    capacity: f64,
    sample: u32,
    hits: u32,
    misses: u32,
    previous: Option<f64>,
    step: f64,
}

impl HillClimber {
    /// A climber for a parameter in entries of a cache of `capacity`. Samples are ten
    /// times the capacity (Caffeine's), but at least [`MIN_SAMPLE`] requests so that a
    /// small cache's hit-rate estimate is not noise, and at most 50,000 so that a large one
    /// still adapts within minutes.
    pub(super) fn new(capacity: usize, initial_direction: f64) -> Self {
        Self {
            capacity: capacity as f64,
            sample: (10 * capacity).clamp(MIN_SAMPLE, 50_000) as u32,
            hits: 0,
            misses: 0,
            previous: None,
            step: STEP_PERCENT * capacity as f64 * initial_direction.signum(),
        }
    }

    /// Records a request; at the end of a sample returns the change to apply (entries,
    /// positive = grow the parameter).
    #[inline]
    pub(super) fn record(&mut self, hit: bool) -> Option<i64> {
        if hit {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        if self.hits + self.misses < self.sample {
            return None;
        }
        let rate = f64::from(self.hits) / f64::from(self.hits + self.misses);
        self.hits = 0;
        self.misses = 0;
        let Some(previous) = self.previous.replace(rate) else {
            // First sample: a reference point only.
            return None;
        };
        let change = rate - previous;
        let amount = if change >= 0.0 { self.step } else { -self.step };
        self.step = if change.abs() >= RESTART_THRESHOLD {
            STEP_PERCENT * self.capacity * amount.signum()
        } else {
            STEP_DECAY * amount
        };
        let whole = amount.round() as i64;
        // Never stall at a zero step on a small cache: at least one entry.
        Some(if whole == 0 {
            amount.signum() as i64
        } else {
            whole
        })
    }

    pub(super) fn clear(&mut self) {
        self.hits = 0;
        self.misses = 0;
        self.previous = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_direction_while_improving_and_reverses_when_worse() {
        let mut c = HillClimber::new(100, 1.0);
        let sample = MIN_SAMPLE as u32;
        let run = |c: &mut HillClimber, hits: u32| {
            let mut out = None;
            for i in 0..sample {
                if let Some(a) = c.record(i < hits) {
                    out = Some(a);
                }
            }
            out
        };
        assert_eq!(run(&mut c, 2_000), None);
        let up = run(&mut c, 2_040).unwrap();
        assert!(up > 0, "{up}");
        let again = run(&mut c, 2_080).unwrap();
        assert!(again > 0);
        let back = run(&mut c, 2_000).unwrap();
        assert!(back < 0, "{back}");
    }
}
