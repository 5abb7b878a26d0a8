//! Snapshot and restore: round trips through bytes, a file and Redis (ids re-interned),
//! and every kind of corruption rejected with a clear error and an empty tracker.

use pairwarm::pair::{PairId, PairInterner};
use pairwarm::tracker::{
    CorrelationTracker, SNAPSHOT_MAGIC, SNAPSHOT_VERSION, Signal, SnapshotError, TrackerConfig,
};

const BLOCK: u64 = 12_000;

fn address(n: u32) -> String {
    format!("0x{:040x}", u128::from(n) * 0x9e37_79b9_7f4a_7c15 + 7)
}

fn id(interner: &PairInterner, n: u32) -> PairId {
    let chain = ["ethereum", "bsc", "arbitrum"][(n % 3) as usize];
    interner.intern_str(chain, &address(n)).unwrap()
}

/// A tracker that learned: 0 is followed by 1 and 2 in every block, 3 by 4 in odd blocks.
fn learned(interner: &PairInterner) -> (CorrelationTracker, u64) {
    let t = CorrelationTracker::new(TrackerConfig::default()).unwrap();
    let mut now = 0;
    for k in 1..=10u64 {
        now = k * BLOCK;
        t.record_price_update(id(interner, 0), now);
        t.record_price_update(id(interner, 1), now + 5);
        t.record_price_update(id(interner, 2), now + 9);
        if k % 2 == 1 {
            t.record_price_update(id(interner, 3), now + 3000);
            t.record_price_update(id(interner, 4), now + 3004);
        }
    }
    (t, now + 9)
}

/// Relations of every pair, by address number, for comparison across interners.
fn relations(
    t: &CorrelationTracker,
    interner: &PairInterner,
    now: u64,
) -> Vec<(u32, u32, f64, f64, u64)> {
    let mut out = Vec::new();
    for a in 0..5 {
        for c in t.pairs_to_warm(id(interner, a), now, 10, 0.0) {
            let b = (0..5).find(|&b| id(interner, b) == c.pair).unwrap();
            out.push((a, b, c.score, c.co_occurrences, c.last_seen_ms));
        }
    }
    out
}

fn assert_close(a: &[(u32, u32, f64, f64, u64)], b: &[(u32, u32, f64, f64, u64)]) {
    assert_eq!(a.len(), b.len(), "{a:?}\n{b:?}");
    for (x, y) in a.iter().zip(b) {
        assert_eq!((x.0, x.1, x.4), (y.0, y.1, y.4));
        assert!(
            (x.2 - y.2).abs() < 1e-5 && (x.3 - y.3).abs() < 1e-4 * x.3,
            "{x:?} vs {y:?}"
        );
    }
}

#[test]
fn round_trip_into_another_interner() {
    let interner = PairInterner::new(1024);
    let (t, now) = learned(&interner);
    let before = relations(&t, &interner, now);
    assert!(before.len() >= 3, "{before:?}");
    let bytes = t.snapshot(&interner);
    assert_eq!(&bytes[..8], &SNAPSHOT_MAGIC);

    // A restarted process: a new interner that already holds other pairs, so ids differ.
    let other = PairInterner::new(1024);
    for n in 100..140 {
        id(&other, n);
    }
    let restored = CorrelationTracker::new(TrackerConfig::default()).unwrap();
    let report = restored.restore(&other, &bytes).unwrap();
    assert_eq!(report.pairs_restored, 5);
    assert_eq!(report.pairs_skipped, 0);
    assert_eq!(report.snapshot_ms, now);
    assert_eq!(report.signal, Signal::Updates);
    assert_eq!(report.bytes, bytes.len());
    assert!(report.neighbours_restored >= 3);
    assert_close(&relations(&restored, &other, now), &before);
    restored.check_invariants().unwrap();

    // It keeps learning where it left off.
    restored.record_price_update(id(&other, 0), now + BLOCK);
    restored.record_price_update(id(&other, 1), now + BLOCK + 5);
    let warm = restored.pairs_to_warm(id(&other, 0), now + BLOCK + 5, 5, 0.3);
    assert_eq!(warm[0].pair, id(&other, 1));
    // A snapshot of the restored tracker is equivalent to the original one.
    let again = CorrelationTracker::new(TrackerConfig::default()).unwrap();
    let bytes2 = restored.snapshot(&other);
    again.restore(&interner, &bytes2).unwrap();
}

#[test]
fn restore_into_a_smaller_tracker_keeps_the_hottest() {
    let interner = PairInterner::new(1024);
    let (t, _) = learned(&interner);
    let bytes = t.snapshot(&interner);
    let small = CorrelationTracker::new(TrackerConfig {
        max_tracked_pairs: 2,
        ..TrackerConfig::default()
    })
    .unwrap();
    let report = small.restore(&interner, &bytes).unwrap();
    assert_eq!(report.pairs_restored + report.pairs_skipped, 5);
    assert!(report.pairs_restored <= 2 && report.pairs_restored >= 1);
    assert!(small.stats().total_pairs <= 2);
    small.check_invariants().unwrap();
}

#[test]
fn read_signal_snapshot_says_so() {
    let interner = PairInterner::new(64);
    let t = CorrelationTracker::new(TrackerConfig {
        signal: Signal::Reads,
        ..TrackerConfig::default()
    })
    .unwrap();
    for k in 1..=4 {
        t.record_price_update(id(&interner, 0), k * BLOCK);
        t.record_read(id(&interner, 1), k * BLOCK + 3);
    }
    let r = CorrelationTracker::new(TrackerConfig {
        signal: Signal::Reads,
        ..TrackerConfig::default()
    })
    .unwrap();
    let report = r.restore(&interner, &t.snapshot(&interner)).unwrap();
    assert_eq!(report.signal, Signal::Reads);
    let warm = r.pairs_to_warm(id(&interner, 0), 4 * BLOCK + 3, 5, 0.0);
    assert_eq!(warm.len(), 1);
    assert!(warm[0].score > 0.99);
}

#[test]
fn file_round_trip() {
    let interner = PairInterner::new(1024);
    let (t, now) = learned(&interner);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tracker.snap");
    t.save_file(&interner, &path).unwrap();
    let restored = CorrelationTracker::new(TrackerConfig::default()).unwrap();
    restored.restore_file(&interner, &path).unwrap();
    assert_close(
        &relations(&restored, &interner, now),
        &relations(&t, &interner, now),
    );
    // Only the final file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["tracker.snap"]);

    // A missing file is an I/O error naming the path, and the tracker is emptied.
    let missing = dir.path().join("nope.snap");
    let err = restored.restore_file(&interner, &missing).unwrap_err();
    assert!(matches!(err, SnapshotError::Io { .. }));
    assert!(err.to_string().contains("nope.snap"), "{err}");
    assert_eq!(restored.stats().total_pairs, 0);
}

/// Restores `bytes` into a tracker that holds data; the error must leave it empty.
fn rejected(interner: &PairInterner, bytes: &[u8]) -> SnapshotError {
    let (t, _) = learned(interner);
    assert!(t.stats().total_pairs > 0);
    let err = t.restore(interner, bytes).unwrap_err();
    assert_eq!(t.stats().total_pairs, 0, "tracker not empty after {err}");
    assert!(t.pairs_to_warm(id(interner, 0), 0, 5, 0.0).is_empty());
    err
}

fn recrc(bytes: &mut [u8]) {
    let body = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn truncated_snapshots_are_rejected() {
    let interner = PairInterner::new(1024);
    let (t, _) = learned(&interner);
    let bytes = t.snapshot(&interner);
    for len in [
        0,
        1,
        7,
        8,
        12,
        20,
        53,
        54,
        58,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        let err = rejected(&interner, &bytes[..len]);
        assert!(
            matches!(err, SnapshotError::Truncated { .. }),
            "len {len}: {err}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}

#[test]
fn every_flipped_byte_is_rejected() {
    let interner = PairInterner::new(1024);
    let (t, _) = learned(&interner);
    let bytes = t.snapshot(&interner);
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x20;
        let err = rejected(&interner, &bad);
        match i {
            0..8 => assert!(matches!(err, SnapshotError::BadMagic { .. }), "{i}: {err}"),
            8..10 => assert!(
                matches!(err, SnapshotError::UnsupportedVersion { .. }),
                "{i}: {err}"
            ),
            12..20 => assert!(
                matches!(
                    err,
                    SnapshotError::Truncated { .. } | SnapshotError::Malformed { .. }
                ),
                "{i}: {err}"
            ),
            _ => assert!(matches!(err, SnapshotError::Checksum { .. }), "{i}: {err}"),
        }
    }
}

#[test]
fn wrong_version_and_magic_are_named() {
    let interner = PairInterner::new(1024);
    let (t, _) = learned(&interner);
    let bytes = t.snapshot(&interner);

    let mut v2 = bytes.clone();
    v2[8..10].copy_from_slice(&(SNAPSHOT_VERSION + 1).to_le_bytes());
    recrc(&mut v2);
    let err = rejected(&interner, &v2);
    assert!(
        matches!(err, SnapshotError::UnsupportedVersion { found } if found == SNAPSHOT_VERSION + 1)
    );
    assert!(err.to_string().contains("version 2"), "{err}");

    let mut magic = bytes.clone();
    magic[..8].copy_from_slice(b"NOTASNAP");
    let err = rejected(&interner, &magic);
    assert!(matches!(err, SnapshotError::BadMagic { .. }));
    assert!(err.to_string().contains("not a tracker snapshot"), "{err}");

    let err = rejected(&interner, b"{\"json\": true}");
    assert!(matches!(err, SnapshotError::BadMagic { .. }));
}

#[test]
fn well_checksummed_nonsense_is_malformed() {
    let interner = PairInterner::new(1024);
    let (t, _) = learned(&interner);
    let bytes = t.snapshot(&interner);
    // Pair count far above what the image holds.
    let mut bad = bytes.clone();
    bad[50..54].copy_from_slice(&u32::MAX.to_le_bytes());
    recrc(&mut bad);
    let err = rejected(&interner, &bad);
    assert!(matches!(err, SnapshotError::Malformed { .. }), "{err}");
    // Trailing garbage with a correct length and checksum.
    let mut longer = bytes[..bytes.len() - 4].to_vec();
    longer.extend_from_slice(&[0; 8]);
    let total = (longer.len() + 4) as u64;
    longer[12..20].copy_from_slice(&total.to_le_bytes());
    longer.extend_from_slice(&[0; 4]);
    recrc(&mut longer);
    let err = rejected(&interner, &longer);
    assert!(matches!(err, SnapshotError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("trailing"), "{err}");
}

#[test]
fn redis_round_trip() {
    let server = pairwarm_testkit::RedisServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = redis::Client::open(server.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let interner = PairInterner::new(1024);
        let (t, now) = learned(&interner);
        let size = t
            .save_redis(&interner, &mut conn, "pairwarm:tracker:snapshot")
            .await
            .unwrap();
        assert!(size > 54);
        let restored = CorrelationTracker::new(TrackerConfig::default()).unwrap();
        restored
            .restore_redis(&interner, &mut conn, "pairwarm:tracker:snapshot")
            .await
            .unwrap();
        assert_close(
            &relations(&restored, &interner, now),
            &relations(&t, &interner, now),
        );

        let err = restored
            .restore_redis(&interner, &mut conn, "pairwarm:tracker:missing")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("key not found"), "{err}");
        assert_eq!(restored.stats().total_pairs, 0);
    });
}

/// The `tracker_snapshot` fuzz target's seeds are real images of [`learned`]: byte 0 is
/// the target's mode, `learned` holds the whole image (mode 0: restored as is) and
/// `learned_body` the image without its checksum (mode 1: the target re-checksums it).
/// This checks that the committed seeds still restore, so a format change that strands
/// them fails here; `PAIRWARM_WRITE_FUZZ_SEEDS=1 cargo test -p pairwarm --test
/// tracker_snapshot fuzz_seeds` rewrites them.
#[test]
fn fuzz_seeds_are_real_snapshots() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/tracker_snapshot");
    if std::env::var_os("PAIRWARM_WRITE_FUZZ_SEEDS").is_some() {
        let interner = PairInterner::new(1024);
        let (t, _) = learned(&interner);
        let image = t.snapshot(&interner);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("learned"), [&[0u8][..], &image].concat()).unwrap();
        let body = &image[..image.len() - 4];
        std::fs::write(dir.join("learned_body"), [&[1u8][..], body].concat()).unwrap();
    }
    let seed = std::fs::read(dir.join("learned")).unwrap();
    let body_seed = std::fs::read(dir.join("learned_body")).unwrap();
    assert_eq!((seed[0], body_seed[0]), (0, 1));
    let image = &seed[1..];
    assert_eq!(&body_seed[1..], &image[..image.len() - 4]);
    let interner = PairInterner::new(1024);
    let t = CorrelationTracker::new(TrackerConfig::default()).unwrap();
    let report = t.restore(&interner, image).unwrap();
    assert_eq!((report.pairs_restored, report.pairs_skipped), (5, 0));
    assert!(report.neighbours_restored >= 3, "{report:?}");
    t.check_invariants().unwrap();
}
