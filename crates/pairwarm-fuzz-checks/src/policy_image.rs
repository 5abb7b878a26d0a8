//! `PolicySnapshot::decode` on arbitrary bytes (the L1 policy image `serve` keeps next to
//! the tracker snapshot, `<PAIRWARM_SNAPSHOT>.policy` or the key `<key>:policy`, which
//! anyone with access may have replaced), then `HierarchicalCache::resume_policy` with
//! what it accepted.
//!
//! Input layout: byte 0 is a mode. Bit 0 set: the rest is an image *body* (magic,
//! version, shard count, two window bytes per shard); the target appends its CRC-32, so
//! the fuzzer gets past the checksum and reaches the length and window checks and the
//! resume. Bit 0 clear: the rest is decoded as is.
//!
//! Invariants: `decode` is `Ok` or a `PolicySnapshotError` whose message is not empty
//! (never `Checksum` for a body the target checksummed; `Truncated` and `TrailingBytes`
//! count the bytes given). On `Ok` the format is canonical: `encode` gives back the input
//! exactly; `tuned_shards() <= shards()`, `windows_in_use()` has one window per tuned
//! shard, and the display starts with `"<shards> shard(s)"`. An image of 1, 2, 4, 8 or 16
//! shards resumes on a cache (default policy) of as many shards, 4,096 entries each (so
//! every candidate window is simulated as itself): `resume_policy` returns the image's
//! tuned shard count, and the cache's `policy_snapshot` then runs the image's window on
//! every shard the image tunes and its previous window on the others (equal to the
//! image's windows when it tunes every shard), and round-trips through
//! `encode`/`decode`. An image of any other shard count is refused by a 1-shard cache
//! with `ShardMismatch` naming both counts (not `NoTunedWindow`: the default policy tunes
//! its window), and that cache's snapshot does not change.

use pairwarm::cache::{HierarchicalCache, MemoryL2, PolicySnapshot, PolicySnapshotError};

/// Shard counts a cache can have (`ShardedPolicy`: a power of two up to 16), with the
/// cache of each built on first use and kept for the next inputs (building is not cheap).
const CACHE_SHARDS: [usize; 5] = [1, 2, 4, 8, 16];
/// L1 entries per shard: a shard count of `capacity / 4096` (rounded up to a power of
/// two), and shards large enough that no two candidate windows are the same.
const ENTRIES_PER_SHARD: usize = 4096;
/// Bytes before the first shard's windows: magic (8), version (2), shard count (2).
const HEADER_LEN: usize = 12;
/// A shard whose window is not tuned (both of its bytes).
const UNTUNED: u8 = u8::MAX;

thread_local! {
    /// One cache per entry of [`CACHE_SHARDS`], built on first use; per thread, so a test
    /// replaying inputs on another thread cannot change one between "before" and "after".
    static CACHES: [std::cell::OnceCell<HierarchicalCache<MemoryL2>>; 5] =
        const { [const { std::cell::OnceCell::new() }; 5] };
}

/// Runs `f` on the cache of `shards` shards (one of [`CACHE_SHARDS`]).
fn with_cache<R>(shards: usize, f: impl FnOnce(&HierarchicalCache<MemoryL2>) -> R) -> R {
    let slot = CACHE_SHARDS
        .iter()
        .position(|&n| n == shards)
        .expect("a shard count a cache can have");
    CACHES.with(|caches| {
        let cache = caches[slot].get_or_init(|| {
            HierarchicalCache::builder()
                .l1_entries(ENTRIES_PER_SHARD * shards)
                .build_in_memory()
        });
        f(cache)
    })
}

/// The cache's policy snapshot, checked: it has `shards` shards, all tuned (the default
/// policy tunes every shard's window), and it round-trips through `encode`/`decode`.
fn snapshot(cache: &HierarchicalCache<MemoryL2>, shards: usize, what: &str) -> PolicySnapshot {
    let snapshot = cache.policy_snapshot();
    assert_eq!(snapshot.shards(), shards, "{what}: {snapshot}");
    assert_eq!(snapshot.tuned_shards(), shards, "{what}: {snapshot}");
    let bytes = snapshot.encode();
    match PolicySnapshot::decode(&bytes) {
        Ok(again) => assert_eq!(again, snapshot, "{what}: {bytes:02x?}"),
        Err(e) => panic!("{what}: the cache's own policy image is refused: {e} ({bytes:02x?})"),
    }
    snapshot
}

/// One fuzz input: panics when an invariant above does not hold.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let checksummed = mode & 1 == 1;
    let bytes = if checksummed {
        let mut image = rest.to_vec();
        let crc = crc32fast::hash(&image);
        image.extend_from_slice(&crc.to_le_bytes());
        image
    } else {
        rest.to_vec()
    };

    let image = match PolicySnapshot::decode(&bytes) {
        Err(e) => {
            assert!(!e.to_string().is_empty(), "{e:?}");
            match e {
                PolicySnapshotError::Checksum { .. } => {
                    assert!(!checksummed, "{e} for a checksummed body");
                }
                PolicySnapshotError::Truncated { expected, found } => {
                    assert_eq!(found, bytes.len(), "{e}");
                    assert!(expected > found, "{e}");
                }
                PolicySnapshotError::TrailingBytes { extra } => {
                    assert!(extra > 0 && extra < bytes.len(), "{e}");
                }
                _ => {}
            }
            return;
        }
        Ok(image) => image,
    };

    assert_eq!(image.encode(), bytes, "not canonical: {image:?}");
    let shards = image.shards();
    let tuned = image.tuned_shards();
    assert!(tuned <= shards, "{image:?}");
    let windows = image.windows_in_use();
    assert_eq!(windows.len(), tuned, "{image:?}: {windows:?}");
    let shown = image.to_string();
    assert!(
        shown.starts_with(&format!("{shards} shard(s)")),
        "{shown:?} for {image:?}"
    );

    if CACHE_SHARDS.contains(&shards) {
        with_cache(shards, |cache| {
            let before = snapshot(cache, shards, "before resume");
            assert_eq!(cache.resume_policy(&image), Ok(tuned), "{image}");
            let after = snapshot(cache, shards, "after resume");
            if tuned == shards {
                assert_eq!(after.windows_in_use(), windows, "{image}");
            }
            // Shard by shard: the image's window where it has one (its window bytes are
            // not both `UNTUNED`), the cache's previous one elsewhere.
            let mut resumed = windows.iter();
            let expected: Vec<String> = before
                .windows_in_use()
                .into_iter()
                .enumerate()
                .map(|(i, previous)| {
                    let at = HEADER_LEN + 2 * i;
                    if bytes[at..at + 2] == [UNTUNED, UNTUNED] {
                        previous
                    } else {
                        resumed.next().expect("a window per tuned shard").clone()
                    }
                })
                .collect();
            assert_eq!(resumed.next(), None, "{image}: a window left over");
            assert_eq!(
                after.windows_in_use(),
                expected,
                "{image} resumed over {before}"
            );
        });
    } else {
        with_cache(1, |cache| {
            let before = snapshot(cache, 1, "before a refused resume");
            match cache.resume_policy(&image) {
                Err(PolicySnapshotError::ShardMismatch {
                    image_shards,
                    cache_shards,
                }) => {
                    assert_eq!(image_shards, shards, "{image}");
                    assert_eq!(cache_shards, 1, "{image}");
                }
                other => panic!("{image} resumed on a 1-shard cache: {other:?}"),
            }
            let after = snapshot(cache, 1, "after a refused resume");
            assert_eq!(
                after, before,
                "a refused resume changed the cache ({image})"
            );
        });
    }
}
