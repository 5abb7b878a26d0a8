//! Exponentially decayed counts without a per-counter `exp` on the hot path.
//!
//! A count decays as `v(now) = Σ 2^(-(now - t_i)/h)` over its events `t_i` (half-life
//! `h`). Decaying every counter on every touch costs one `exp2` per counter; instead the
//! tracker uses *forward decay*: a counter stores `Σ 2^((t_i - E)/h)` relative to a
//! landmark `E`, so adding an event is one multiply-free `+= w` with `w = 2^((t - E)/h)`
//! computed once per call and shared by every counter the call touches. Reading converts
//! back: `v(now) = stored · 2^(-(now - E)/h)`. Ratios of counters with the same landmark
//! (co-occurrences over updates of the same pair) do not need the conversion at all.
//!
//! Landmarks are *epochs* of [`EPOCH_HALF_LIVES`] half-lives: `E = k · 16h`, so `w` stays
//! in `[1, 2^16)` (no overflow in `f32`), and moving a table from epoch `k` to `k + d` is
//! a multiplication by exactly `2^(-16d)`: a power of two, so rescaling is exact and runs
//! are bit-for-bit reproducible. A table is rescaled lazily, the first time a call from a
//! newer epoch touches it (bounded work: its `m` counters).

/// Epoch length in half-lives.
pub(crate) const EPOCH_HALF_LIVES: u64 = 16;

/// Decay parameters derived from the half-life.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Decay {
    half_life_ms: f64,
    epoch_ms: u64,
}

impl Decay {
    pub(crate) fn new(half_life_ms: u64) -> Self {
        let half_life_ms = half_life_ms.max(1);
        Self {
            half_life_ms: half_life_ms as f64,
            epoch_ms: half_life_ms * EPOCH_HALF_LIVES,
        }
    }

    /// The epoch a timestamp falls in.
    #[inline]
    pub(crate) fn epoch(&self, ts_ms: u64) -> u64 {
        ts_ms / self.epoch_ms
    }

    /// Start of an epoch, in ms.
    #[inline]
    pub(crate) fn epoch_start(&self, epoch: u64) -> u64 {
        epoch.saturating_mul(self.epoch_ms)
    }

    /// `(epoch, w)`: the epoch of `ts_ms` and the weight of one event at `ts_ms` relative
    /// to that epoch's start, in `[1, 2^16)`.
    #[inline]
    pub(crate) fn weight(&self, ts_ms: u64) -> (u64, f32) {
        let epoch = self.epoch(ts_ms);
        let offset = ts_ms - epoch * self.epoch_ms;
        (epoch, exp2_fast(offset as f64 / self.half_life_ms))
    }

    /// Exactly `2^(-16 · epochs)`: converts a stored value `epochs` epochs forward.
    /// Zero from 8 epochs on (the value has lost 128 halvings).
    #[inline]
    pub(crate) fn shift(epochs: u64) -> f32 {
        if epochs >= 8 {
            0.0
        } else {
            // 127 - 16·epochs >= 15: a normal f32 power of two.
            f32::from_bits(((127 - EPOCH_HALF_LIVES * epochs) as u32) << 23)
        }
    }

    /// The value at `now_ms` of a counter stored relative to `epoch`.
    #[inline]
    pub(crate) fn value_at(&self, stored: f32, epoch: u64, now_ms: u64) -> f64 {
        if stored == 0.0 {
            return 0.0;
        }
        let age = now_ms as f64 - self.epoch_start(epoch) as f64;
        f64::from(stored) * (-age / self.half_life_ms).exp2()
    }

    /// The stored form, relative to `epoch`, of a value `v` observed at `at_ms`.
    pub(crate) fn stored_from(&self, v: f64, epoch: u64, at_ms: u64) -> f32 {
        let age = at_ms as f64 - self.epoch_start(epoch) as f64;
        (v * (age / self.half_life_ms).exp2()) as f32
    }
}

/// Values at one query time, computing each epoch's decay factor once (a query reads
/// counts from a handful of epochs, usually one, but many counters).
pub(crate) struct At<'a> {
    decay: &'a Decay,
    now_ms: u64,
    epoch: u64,
    factor: f64,
}

impl<'a> At<'a> {
    pub(crate) fn new(decay: &'a Decay, now_ms: u64) -> Self {
        Self {
            decay,
            now_ms,
            epoch: u64::MAX,
            factor: f64::NAN,
        }
    }

    /// Same as [`Decay::value_at`] at this query's time.
    #[inline]
    pub(crate) fn value(&mut self, stored: f32, epoch: u64) -> f64 {
        if stored == 0.0 {
            return 0.0;
        }
        if epoch != self.epoch {
            self.epoch = epoch;
            self.factor = self.decay.value_at(1.0, epoch, self.now_ms);
        }
        f64::from(stored) * self.factor
    }
}

/// `2^x` for `x` in `[0, 16]`, to `f32` precision (relative error < 3e-7), without a libm
/// call: nearest integer into the exponent, the rest (in `[-0.5, 0.5]`) by a degree-7
/// Taylor polynomial.
/// Deterministic on every platform, unlike `exp2`, whose last bit may differ between libms.
#[inline]
fn exp2_fast(x: f64) -> f32 {
    let x = x.clamp(0.0, 16.0);
    let n = x.round();
    let f = x - n;
    // 2^f = e^(f ln 2) = Σ (f ln 2)^k / k!, Horner form; remainder < 1e-8 for |f| <= 0.5.
    const C: [f64; 8] = {
        let l = std::f64::consts::LN_2;
        let mut c = [1.0; 8];
        let mut k = 1;
        while k < 8 {
            c[k] = c[k - 1] * l / k as f64;
            k += 1;
        }
        c
    };
    let mut p = C[7];
    for c in C[..7].iter().rev() {
        p = p * f + c;
    }
    // 2^n exactly, n in 0..=16.
    (p * f64::from_bits((1023 + n as u64) << 52)) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_doubles_every_half_life() {
        let d = Decay::new(1000);
        let (e0, w0) = d.weight(16_000);
        let (e1, w1) = d.weight(17_000);
        assert_eq!((e0, e1), (1, 1));
        assert_eq!(w0, 1.0);
        assert!((w1 - 2.0).abs() < 1e-6);
    }

    #[test]
    fn fast_exp2_matches_libm() {
        for i in 0..=16_000 {
            let x = f64::from(i) / 1000.0;
            let exact = x.exp2();
            let fast = f64::from(exp2_fast(x));
            assert!(
                ((fast - exact) / exact).abs() < 3e-7,
                "x = {x}: {fast} vs {exact}"
            );
        }
    }

    #[test]
    fn shift_is_an_exact_power_of_two() {
        assert_eq!(Decay::shift(0), 1.0);
        assert_eq!(Decay::shift(1), 1.0 / 65536.0);
        assert_eq!(Decay::shift(7), 2f32.powi(-112));
        assert_eq!(Decay::shift(8), 0.0);
    }

    #[test]
    fn value_at_halves_per_half_life() {
        let d = Decay::new(1000);
        let (epoch, w) = d.weight(20_500);
        let now = d.value_at(w, epoch, 20_500);
        let later = d.value_at(w, epoch, 21_500);
        assert!((now - 1.0).abs() < 1e-6);
        assert!((later - 0.5).abs() < 1e-6);
        // Forward and back agree.
        let stored = d.stored_from(3.0, epoch, 25_000);
        assert!((d.value_at(stored, epoch, 25_000) - 3.0).abs() < 1e-5);
    }
}
