//! `CorrelationTracker::restore` on arbitrary bytes (a snapshot file or Redis key, which
//! anyone with access may have replaced).
//!
//! Input layout: byte 0 is a mode. Bit 0 set: the rest is an image *body*; the target
//! patches its length field (bytes 12..20) and appends the CRC-32, so the fuzzer gets
//! past the checksum and reaches the decoder and the restore itself. Bit 0 clear: the rest
//! is restored as is. Bit 1 picks 4 neighbour slots per pair instead of 16 (full buckets),
//! bit 2 a tracker learning from reads.
//!
//! Invariants: the restore is `Ok` or a `SnapshotError`; the tracker already held state,
//! and after an error it is empty (`total_pairs == 0`) and consistent; on `Ok` the internal
//! invariants hold (`check_invariants`), the tracked pair count is the report's
//! `pairs_restored`, and `snapshot` then `restore` into another tracker (and interner)
//! gives the same pair count, consistent too, labelled with the tracker's signal.

use pairwarm::pair::{PairId, PairInterner};
use pairwarm::tracker::{CorrelationTracker, Signal, TrackerConfig};

/// Large enough that no input of the default `-max_len` (4096 bytes, at most ~100 pairs of
/// 40 bytes) fills a directory shard, so a restore never skips a pair for lack of room and
/// the pair count must survive a round trip whatever the hash spread.
const CAPACITY: usize = 1024;

fn tracker(neighbours_per_pair: usize, signal: Signal) -> CorrelationTracker {
    CorrelationTracker::new(TrackerConfig {
        max_tracked_pairs: CAPACITY,
        neighbours_per_pair,
        signal,
        ..TrackerConfig::default()
    })
    .expect("valid tracker config")
}

fn check(tracker: &CorrelationTracker, what: &str) {
    if let Err(e) = tracker.check_invariants() {
        panic!("{what}: {e}");
    }
}

/// One fuzz input: panics when an invariant above does not hold.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let image = if mode & 1 == 1 {
        let mut image = rest.to_vec();
        let total = (image.len() + 4) as u64;
        if let Some(field) = image.get_mut(12..20) {
            field.copy_from_slice(&total.to_le_bytes());
        }
        let crc = crc32fast::hash(&image);
        image.extend_from_slice(&crc.to_le_bytes());
        image
    } else {
        rest.to_vec()
    };
    let m = if mode & 2 == 2 { 4 } else { 16 };
    let signal = if mode & 4 == 4 {
        Signal::Reads
    } else {
        Signal::Updates
    };

    let interner = PairInterner::new(CAPACITY);
    let t = tracker(m, signal);
    // Some learned state first, so "left empty after an error" means something.
    for (k, ts) in [
        (1u32, 1_000u64),
        (2, 1_010),
        (1, 13_000),
        (2, 13_005),
        (3, 13_009),
    ] {
        t.record_price_update(PairId::from_raw(k), ts);
    }
    assert!(t.stats().total_pairs > 0);

    match t.restore(&interner, &image) {
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert_eq!(t.stats().total_pairs, 0, "not empty after {e}");
            check(&t, "after a failed restore");
        }
        Ok(report) => {
            check(&t, "after restore");
            let pairs = t.stats().total_pairs;
            assert_eq!(pairs, report.pairs_restored, "{report:?}");
            assert_eq!(report.bytes, image.len());

            let bytes = t.snapshot(&interner);
            let other_interner = PairInterner::new(CAPACITY);
            let other = tracker(m, signal);
            match other.restore(&other_interner, &bytes) {
                Ok(again) => {
                    check(&other, "after a second restore");
                    assert_eq!(again.pairs_restored, pairs, "{again:?}");
                    assert_eq!(again.pairs_skipped, 0, "{again:?}");
                    assert_eq!(other.stats().total_pairs, pairs);
                    // A snapshot is labelled with the signal of the tracker that writes it
                    // (the image restored may have said otherwise: restore reports it).
                    assert_eq!(again.signal, signal);
                }
                Err(e) => panic!("a snapshot of a restored tracker is rejected: {e}"),
            }
        }
    }
}
