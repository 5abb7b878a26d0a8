//! TinyLFU's frequency sketch: a count-min sketch of 4-bit counters, four per key, halved
//! every `sample` increments so that old popularity fades (Einziger et al., "TinyLFU",
//! 2017). 8 bytes per counter word, about `next_pow2(capacity)` words: ~1 byte of counters
//! per cached entry x 8.
//!
//! Blocked, as Caffeine's current `FrequencySketch`: a key's four counters lie in one
//! 64-byte block (row `i` in word `2i` or `2i + 1` of it), so counting a read touches one
//! cache line instead of four. The sketch is on every L1 read.

use crate::pair::PairId;

/// One cache line of counters: 8 words of 16 four-bit counters.
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Block([u64; 8]);

pub(super) struct FrequencySketch {
    blocks: Vec<Block>,
    block_mask: usize,
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
        let blocks = capacity.max(1024).next_power_of_two() / 8;
        Self {
            blocks: vec![Block::default(); blocks],
            block_mask: blocks - 1,
            additions: 0,
            sample: (10 * capacity.max(16)).min(u32::MAX as usize) as u32,
        }
    }

    /// The key's block and one byte per row: the row's word (of its pair of words) in the
    /// lowest bit, the counter in the word in the next four. One mix: the block comes from
    /// the hash's low bits, the bytes from its high 32.
    #[inline]
    fn locate(&self, id: PairId) -> (usize, u64) {
        let h = mix(u64::from(id.raw()));
        (h as usize & self.block_mask, h >> 32)
    }

    /// (word in the block, counter shift) of row `i`.
    #[inline]
    fn slot(bytes: u64, i: usize) -> (usize, u32) {
        let byte = (bytes >> (8 * i)) as u32;
        (2 * i + (byte & 1) as usize, ((byte >> 1) & 15) * 4)
    }

    /// Estimated frequency of `id` (0..=15).
    pub(super) fn frequency(&self, id: PairId) -> u8 {
        let (b, bytes) = self.locate(id);
        let block = &self.blocks[b].0;
        (0..4)
            .map(|i| {
                let (w, s) = Self::slot(bytes, i);
                ((block[w] >> s) & 0xF) as u8
            })
            .min()
            .unwrap_or(0)
    }

    /// Counts one access of `id`.
    #[inline]
    pub(super) fn increment(&mut self, id: PairId) {
        let (b, bytes) = self.locate(id);
        let block = &mut self.blocks[b].0;
        let mut added = false;
        for i in 0..4 {
            let (w, s) = Self::slot(bytes, i);
            if (block[w] >> s) & 0xF < 15 {
                block[w] += 1 << s;
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
        for w in self.blocks.iter_mut().flat_map(|b| b.0.iter_mut()) {
            *w = (*w >> 1) & 0x7777_7777_7777_7777;
        }
        self.additions /= 2;
    }

    pub(super) fn clear(&mut self) {
        self.blocks.fill(Block::default());
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
