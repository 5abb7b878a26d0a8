//! TinyLFU's frequency sketch: a count-min sketch of 4-bit counters, four per key, halved
//! every `sample` increments so that old popularity fades (Einziger et al., "TinyLFU",
//! 2017; the layout of Caffeine's `FrequencySketch`). 8 bytes per counter word, about
//! `next_pow2(capacity)` words: ~1 byte of counters per cached entry x 8.

use crate::pair::PairId;

pub(super) struct FrequencySketch {
    table: Vec<u64>,
    mask: usize,
    additions: u32,
    sample: u32,
}

#[inline]
pub(super) fn mix(x: u64) -> u64 {
    // splitmix64 finaliser: deterministic, well spread.
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl FrequencySketch {
    pub(super) fn new(capacity: usize) -> Self {
        // At least 1,024 words (8 KB): below that, hash collisions among the few counters
        // of a small cache made its admission decisions depend on how ids happen to hash
        // (W-TinyLFU at 32 entries moved by a point when the interner renumbered ids).
        let words = capacity.max(1024).next_power_of_two();
        Self {
            table: vec![0; words],
            mask: words - 1,
            additions: 0,
            sample: (10 * capacity.max(16)).min(u32::MAX as usize) as u32,
        }
    }

    /// Two independent hashes of a key; every row's slot derives from them (two mixes per
    /// access instead of four: the sketch is on every L1 read).
    #[inline]
    fn hashes(id: PairId) -> (u64, u64) {
        let h1 = mix(u64::from(id.raw()));
        (h1, mix(h1 ^ 0xA076_1D64_78BD_642F))
    }

    /// (word index, counter shift) of the `i`-th counter of a key.
    #[inline]
    fn slot(&self, (h1, h2): (u64, u64), i: u32) -> (usize, u32) {
        // Kirsch-Mitzenmacher: row i's hash is h1 + i * h2.
        let hi = h1.wrapping_add(u64::from(i).wrapping_mul(h2));
        let word = ((hi >> 8) as usize) & self.mask;
        // 16 counters per word; each of the four rows uses its own quarter of the word.
        let counter = (hi as u32 & 3) + 4 * i;
        (word, counter * 4)
    }

    /// Estimated frequency of `id` (0..=15).
    pub(super) fn frequency(&self, id: PairId) -> u8 {
        let h = Self::hashes(id);
        (0..4)
            .map(|i| {
                let (w, s) = self.slot(h, i);
                ((self.table[w] >> s) & 0xF) as u8
            })
            .min()
            .unwrap_or(0)
    }

    /// Counts one access of `id`.
    #[inline]
    pub(super) fn increment(&mut self, id: PairId) {
        let h = Self::hashes(id);
        let mut added = false;
        for i in 0..4 {
            let (w, s) = self.slot(h, i);
            if (self.table[w] >> s) & 0xF < 15 {
                self.table[w] += 1 << s;
                added = true;
            }
        }
        if added {
            self.additions += 1;
            if self.additions >= self.sample {
                self.reset();
            }
        }
    }

    /// Halves every counter (ageing).
    fn reset(&mut self) {
        for w in &mut self.table {
            *w = (*w >> 1) & 0x7777_7777_7777_7777;
        }
        self.additions /= 2;
    }

    pub(super) fn clear(&mut self) {
        self.table.iter_mut().for_each(|w| *w = 0);
        self.additions = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_saturate_and_age() {
        let mut s = FrequencySketch::new(64);
        let a = PairId::from_raw(7);
        for _ in 0..20 {
            s.increment(a);
        }
        assert_eq!(s.frequency(a), 15);
        assert_eq!(s.frequency(PairId::from_raw(8)), 0);
        // Enough other keys to trigger a reset halves a's count.
        for k in 0..700u32 {
            s.increment(PairId::from_raw(1000 + k));
        }
        assert!(s.frequency(a) <= 7, "{}", s.frequency(a));
    }
}
