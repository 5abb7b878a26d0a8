//! Fixed-size neighbour tables: `m` slots per tracked pair in 4-way buckets of one cache
//! line, Space-Saving replacement inside a bucket.
//!
//! A pair's table is `m / 4` buckets; a neighbour's key (its tracker handle, 0 = empty)
//! hashes to one bucket, so crediting touches one 64-byte line: four keys, four
//! forward-decayed counts (see [`super::decay`]), four errors and four "last seen" times
//! (ms since the table's epoch start). Memory: `max_tracked_pairs × m × 16` bytes.
//!
//! Crediting a key already present adds to its count. A new key takes an empty way, or
//! else replaces the way with the smallest count and *inherits* that count as its error
//! (`count = min + w`, `err = min`), as in Space-Saving (Metwally et al., 2005) applied per
//! bucket: a partner whose share of its bucket's credits exceeds 1/4 keeps its way, and
//! `count - err` is a lower bound of its true count. Scores use that lower bound, so a
//! newcomer cannot borrow the history of the way it took. Because counts are forward
//! decayed, a partner that stopped co-occurring has the smallest stored count of its bucket
//! and is replaced first.
//!
//! Concurrency: slots are relaxed atomics written without a lock. Two threads crediting
//! the same bucket at the same instant may lose one increment or, if both replace the same
//! way, keep one replacement; counts are statistics and such a race changes one count by at
//! most one credit plus the inherited minimum. With a single writer (the common deployment,
//! and every test) the result is exact and deterministic.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Ways per bucket; `neighbours_per_pair` is a multiple of it.
pub(crate) const WAYS: usize = 4;

/// One cache line: four slots, stored field by field.
#[repr(C, align(64))]
struct Bucket {
    keys: [AtomicU32; WAYS],
    counts: [AtomicU32; WAYS],
    errs: [AtomicU32; WAYS],
    seen: [AtomicU32; WAYS],
}

impl Bucket {
    fn new() -> Self {
        Self {
            keys: Default::default(),
            counts: Default::default(),
            errs: Default::default(),
            seen: Default::default(),
        }
    }

    fn clear_way(&self, i: usize) {
        self.keys[i].store(0, Relaxed);
        self.counts[i].store(0, Relaxed);
        self.errs[i].store(0, Relaxed);
        self.seen[i].store(0, Relaxed);
    }
}

/// One neighbour entry as read back (`seen` relative to the table's epoch start).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Entry {
    pub key: u32,
    pub count: f32,
    pub err: f32,
    pub seen: u32,
}

/// Outcome of one credit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Credit {
    /// Added to an existing entry.
    Hit,
    /// Took an empty way or replaced the smallest entry of the bucket.
    Inserted,
    /// Skipped: the entry was already credited at or after `not_before` (read signal).
    AlreadyCredited,
}

/// Bytes per neighbour slot.
#[cfg(test)]
pub(crate) const SLOT_BYTES: usize = size_of::<Bucket>() / WAYS;

#[inline]
fn load_f32(a: &AtomicU32) -> f32 {
    f32::from_bits(a.load(Relaxed))
}

#[inline]
fn store_f32(a: &AtomicU32, v: f32) {
    a.store(v.to_bits(), Relaxed);
}

pub(crate) struct Tables {
    buckets_per_table: usize,
    buckets: Box<[Bucket]>,
}

impl Tables {
    /// `tables` tables of `m` slots (`m` a positive multiple of [`WAYS`]).
    pub(crate) fn new(tables: usize, m: usize) -> Self {
        let buckets_per_table = (m / WAYS).max(1);
        Self {
            buckets_per_table,
            buckets: (0..tables * buckets_per_table)
                .map(|_| Bucket::new())
                .collect(),
        }
    }

    #[inline]
    fn bucket(&self, table: usize, key: u32) -> &Bucket {
        // Multiply-shift hash, then a multiply-high reduction into the table's buckets.
        let h = key.wrapping_mul(0x9E37_79B9) as u64;
        let i = ((h * self.buckets_per_table as u64) >> 32) as usize;
        &self.buckets[table * self.buckets_per_table + i]
    }

    /// Starts loading the buckets [`credit`](Self::credit) will write for `key` in each of
    /// `tables`: independent loads issued back to back, whose values nothing waits on
    /// until the end, so their cache misses overlap. No effect on any result.
    #[inline]
    pub(crate) fn prefetch(&self, tables: &[u32], key: u32) {
        let mut any = 0;
        for &table in tables {
            any ^= self.bucket(table as usize, key).keys[0].load(Relaxed);
        }
        std::hint::black_box(any);
    }

    #[inline]
    fn table(&self, table: usize) -> &[Bucket] {
        let base = table * self.buckets_per_table;
        &self.buckets[base..base + self.buckets_per_table]
    }

    /// Credits `key` with `w`, seen at `seen` (ms since the table's epoch start). With
    /// `not_before = Some(t)`, an entry last seen at or after `t` is left alone (one credit
    /// per triggering update).
    ///
    /// Branch-light on purpose: which way to write is chosen with masks and conditional
    /// moves (a hit, else the way with the smallest count, which is an empty way if there
    /// is one since empty ways hold 0), then the four fields are stored unconditionally.
    /// Mispredicted branches, not memory, dominated the first version of this loop.
    #[inline]
    pub(crate) fn credit(
        &self,
        table: usize,
        key: u32,
        w: f32,
        seen: u32,
        not_before: Option<u32>,
    ) -> Credit {
        let b = self.bucket(table, key);
        let keys: [u32; WAYS] = std::array::from_fn(|i| b.keys[i].load(Relaxed));
        let counts: [f32; WAYS] = std::array::from_fn(|i| load_f32(&b.counts[i]));
        let hit_mask = keys
            .iter()
            .enumerate()
            .fold(0u32, |m, (i, &k)| m | (u32::from(k == key) << i));
        // Branch-free argmin of the four counts (ties: lowest way).
        let (i01, c01) = if counts[1] < counts[0] {
            (1, counts[1])
        } else {
            (0, counts[0])
        };
        let (i23, c23) = if counts[3] < counts[2] {
            (3, counts[3])
        } else {
            (2, counts[2])
        };
        let min_i = if c23 < c01 { i23 } else { i01 };
        let hit = hit_mask != 0;
        let i = if hit {
            hit_mask.trailing_zeros() as usize
        } else {
            min_i
        };
        let last = b.seen[i].load(Relaxed);
        if hit && not_before.is_some_and(|t| last >= t) {
            return Credit::AlreadyCredited;
        }
        let old = counts[i];
        let err = if hit { load_f32(&b.errs[i]) } else { old };
        b.keys[i].store(key, Relaxed);
        store_f32(&b.counts[i], old + w);
        store_f32(&b.errs[i], err);
        b.seen[i].store(if hit { last.max(seen) } else { seen }, Relaxed);
        if hit { Credit::Hit } else { Credit::Inserted }
    }

    /// Removes `key` from `table` if present.
    pub(crate) fn remove(&self, table: usize, key: u32) {
        let b = self.bucket(table, key);
        for i in 0..WAYS {
            if b.keys[i].load(Relaxed) == key {
                b.clear_way(i);
            }
        }
    }

    /// Empties a whole table.
    pub(crate) fn clear(&self, table: usize) {
        for b in self.table(table) {
            for i in 0..WAYS {
                b.clear_way(i);
            }
        }
    }

    /// Moves `table` to a newer epoch: counts times `factor`, "seen" times `shift_ms`
    /// earlier (saturating at the new epoch's start).
    pub(crate) fn rescale(&self, table: usize, factor: f32, shift_ms: u64) {
        let shift = u32::try_from(shift_ms).unwrap_or(u32::MAX);
        for b in self.table(table) {
            for i in 0..WAYS {
                if b.keys[i].load(Relaxed) != 0 {
                    store_f32(&b.counts[i], load_f32(&b.counts[i]) * factor);
                    store_f32(&b.errs[i], load_f32(&b.errs[i]) * factor);
                    b.seen[i].store(b.seen[i].load(Relaxed).saturating_sub(shift), Relaxed);
                }
            }
        }
    }

    /// The non-empty entries of `table`.
    pub(crate) fn entries(&self, table: usize) -> impl Iterator<Item = Entry> + '_ {
        self.table(table).iter().flat_map(|b| {
            (0..WAYS).filter_map(move |i| {
                let key = b.keys[i].load(Relaxed);
                (key != 0).then(|| Entry {
                    key,
                    count: load_f32(&b.counts[i]),
                    err: load_f32(&b.errs[i]),
                    seen: b.seen[i].load(Relaxed),
                })
            })
        })
    }

    /// The entry for `key` in `table`, if any.
    pub(crate) fn get(&self, table: usize, key: u32) -> Option<Entry> {
        let b = self.bucket(table, key);
        (0..WAYS).find_map(|i| {
            (b.keys[i].load(Relaxed) == key).then(|| Entry {
                key,
                count: load_f32(&b.counts[i]),
                err: load_f32(&b.errs[i]),
                seen: b.seen[i].load(Relaxed),
            })
        })
    }

    /// Writes an entry into an empty way of its bucket (restore); false if the bucket is
    /// full.
    pub(crate) fn insert_raw(&self, table: usize, entry: Entry) -> bool {
        let b = self.bucket(table, entry.key);
        for i in 0..WAYS {
            if b.keys[i].load(Relaxed) == 0 {
                b.keys[i].store(entry.key, Relaxed);
                store_f32(&b.counts[i], entry.count);
                store_f32(&b.errs[i], entry.err);
                b.seen[i].store(entry.seen, Relaxed);
                return true;
            }
        }
        false
    }

    pub(crate) fn clear_all(&self) {
        for b in self.buckets.iter() {
            for i in 0..WAYS {
                b.clear_way(i);
            }
        }
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.buckets.len() * size_of::<Bucket>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys that land in the same bucket of table 0 (one bucket per table).
    fn one_bucket() -> Tables {
        Tables::new(2, WAYS)
    }

    #[test]
    fn slot_is_16_bytes_and_bucket_a_line() {
        assert_eq!(SLOT_BYTES, 16);
        assert_eq!(size_of::<Bucket>(), 64);
        assert_eq!(align_of::<Bucket>(), 64);
    }

    #[test]
    fn space_saving_replaces_the_smallest_and_inherits_it() {
        let t = one_bucket();
        assert_eq!(t.credit(1, 10, 1.0, 5, None), Credit::Inserted);
        assert_eq!(t.credit(1, 10, 1.0, 6, None), Credit::Hit);
        for k in 11..14 {
            assert_eq!(t.credit(1, k, 1.0, 7, None), Credit::Inserted);
        }
        // Full: 20 replaces one of the count-1 ways and inherits 1 as error.
        assert_eq!(t.credit(1, 20, 1.0, 8, None), Credit::Inserted);
        let e = t.get(1, 20).unwrap();
        assert_eq!((e.count, e.err, e.seen), (2.0, 1.0, 8));
        assert_eq!(t.get(1, 10).unwrap().count, 2.0);
        assert_eq!(t.entries(1).count(), 4);
        assert_eq!(t.entries(0).count(), 0);
    }

    #[test]
    fn not_before_credits_once_per_trigger() {
        let t = one_bucket();
        assert_eq!(t.credit(0, 7, 1.0, 100, Some(90)), Credit::Inserted);
        assert_eq!(t.credit(0, 7, 1.0, 101, Some(90)), Credit::AlreadyCredited);
        assert_eq!(t.credit(0, 7, 1.0, 200, Some(150)), Credit::Hit);
        assert_eq!(t.get(0, 7).unwrap().count, 2.0);
    }

    #[test]
    fn remove_rescale_clear() {
        let t = Tables::new(1, 16);
        t.credit(0, 1, 4.0, 1000, None);
        t.credit(0, 2, 2.0, 10, None);
        t.rescale(0, 0.5, 100);
        assert_eq!(t.get(0, 1).unwrap().count, 2.0);
        assert_eq!(t.get(0, 1).unwrap().seen, 900);
        assert_eq!(t.get(0, 2).unwrap().seen, 0);
        t.remove(0, 1);
        assert!(t.get(0, 1).is_none());
        t.clear(0);
        assert_eq!(t.entries(0).count(), 0);
        assert_eq!(t.memory_bytes(), 16 * SLOT_BYTES);
    }
}
