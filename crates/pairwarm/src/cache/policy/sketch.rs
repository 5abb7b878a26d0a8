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

/// Counted accesses between two halvings that the sketch aims at, whatever the cache's
/// size: enough for a hot pool's count to stand out of the noise of 4-bit counters.
/// Clamped between [`SAMPLE_MIN_PER_ENTRY`] and [`SAMPLE_MAX_PER_ENTRY`] capacities.
const SAMPLE_TARGET: usize = 10_240;
/// TinyLFU's sample of 10 accesses per entry (Einziger et al.), the floor: a large cache
/// (1,024 entries and more per shard) keeps it.
const SAMPLE_MIN_PER_ENTRY: usize = 10;
/// The ceiling: a longer history holds on to a replaced hot set for too long.
const SAMPLE_MAX_PER_ENTRY: usize = 40;

/// Accesses between two halvings for a sketch of `capacity` entries.
///
/// Round 12 (docs/simulation.md): TinyLFU's 10 accesses per entry is only 320 at 32 entries
/// and 1,280 at 128, too few for the counts to tell a hot pool from one read twice by
/// chance. Over 54 traces of three generators × 32..4,096 entries without warming, the
/// default policy's mean gain over LRU went from +4.88 to +5.36 points (+0.82 at 32-128
/// entries, +0.33 at 512, unchanged from 1,024), and the points below LRU from 3 (worst
/// -0.19) to 2 (worst -0.07). Targets of 5,120 to 15,360 and ceilings of 30 to 60 per
/// entry measured within 0.06 points of this; a fixed 30 or 40 per entry lost at 1,024
/// entries, and 20 gained less below 512. What it costs: on traces whose hot set is
/// replaced every 10-60 s the old counts hold on longer (up to 2.9 points less than before
/// there; one such point, 0.07, below LRU).
fn sample_for(capacity: usize) -> u32 {
    let entries = capacity.max(16);
    SAMPLE_TARGET
        .clamp(
            SAMPLE_MIN_PER_ENTRY.saturating_mul(entries),
            SAMPLE_MAX_PER_ENTRY.saturating_mul(entries),
        )
        .min(u32::MAX as usize) as u32
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
            sample: sample_for(capacity),
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
        // Enough other keys to trigger a reset (40 per entry at 64 entries) halves a's count.
        for k in 0..2_600u32 {
            s.increment(PairId::from_raw(1000 + k));
        }
        assert!(s.frequency(a) <= 7, "{}", s.frequency(a));
    }

    #[test]
    fn the_history_aims_at_ten_thousand_accesses_within_10_to_40_per_entry() {
        assert_eq!(sample_for(32), 1_280);
        assert_eq!(sample_for(128), 5_120);
        assert_eq!(sample_for(256), 10_240);
        assert_eq!(sample_for(512), 10_240);
        assert_eq!(sample_for(1_024), 10_240);
        assert_eq!(sample_for(8_192), 81_920);
        assert_eq!(sample_for(1), 640);
        assert_eq!(FrequencySketch::new(128).sample, 5_120);
    }
}
