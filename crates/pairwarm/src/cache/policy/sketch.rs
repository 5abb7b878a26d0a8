//! TinyLFU's frequency sketch: a count-min sketch of 4-bit counters, four per key, halved
//! every `sample` increments so that old popularity fades (Einziger et al., "TinyLFU",
//! 2017; the layout of Caffeine's `FrequencySketch`). 8 bytes per counter word, about
//! `next_pow2(capacity)` words: ~1 byte of counters per cached entry x 8.

use crate::pair::PairId;

pub(super) struct FrequencySketch {
    table: Vec<u64>,
    /// Mask of the block index (blocks of 8 words: one 64-byte cache line).
    block_mask: usize,
    additions: u32,
    sample: u32,
}

#[inline]
fn mix(x: u64) -> u64 {
    // splitmix64 finaliser: deterministic, well spread.
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl FrequencySketch {
    pub(super) fn new(capacity: usize) -> Self {
        let words = capacity.max(16).next_power_of_two().max(8);
        Self {
            table: vec![0; words],
            block_mask: words / 8 - 1,
            additions: 0,
            sample: (10 * capacity.max(16)).min(u32::MAX as usize) as u32,
        }
    }

    /// The four (word, shift) counters of a key, all in one 64-byte block (as Caffeine's
    /// block sketch does): one cache line per access instead of four, which matters
    /// because the sketch is counted on every L1 read.
    #[inline]
    fn slots(&self, id: PairId) -> [(usize, u32); 4] {
        let h = mix(u64::from(id.raw()));
        let block = ((h as usize) & self.block_mask) << 3;
        let g = mix(h);
        std::array::from_fn(|i| {
            let word = block + ((g >> (8 * i)) & 7) as usize;
            // Row i uses its own quarter of the word, so rows never share a counter.
            let counter = ((g >> (32 + 2 * i)) & 3) as u32 + 4 * i as u32;
            (word, counter * 4)
        })
    }

    /// Estimated frequency of `id` (0..=15).
    pub(super) fn frequency(&self, id: PairId) -> u8 {
        self.slots(id)
            .iter()
            .map(|&(w, s)| ((self.table[w] >> s) & 0xF) as u8)
            .min()
            .unwrap_or(0)
    }

    /// Counts one access of `id`.
    pub(super) fn increment(&mut self, id: PairId) {
        let mut added = false;
        for (w, s) in self.slots(id) {
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
