//! The L1 policy's learned window, saved across a restart. A restarted process builds a new
//! cache whose window tuner starts at LRU and needs a few epochs of reads to choose again;
//! resuming the window it had chosen avoids that (round 15 of docs/simulation.md measured a
//! fresh tuner at 1.60 points lost on average over the first 60 s after a restart).
//!
//! The image is small (a few bytes per shard) and independent of the tracker snapshot:
//! `serve` keeps it next to it (`<PAIRWARM_SNAPSHOT>.policy`, or the key `<key>:policy`).
//!
//! Format, little-endian: magic `PWPOLICY` (8 bytes), version (u16), shard count (u16),
//! then per shard the window in use and the window chosen (one byte each: an index into
//! the tuner's candidates, or 255 for a shard whose window is not tuned), then the CRC-32
//! of everything before it (u32).

use std::fmt;

use super::policy::{SAVED_CANDIDATES, SavedWindows, describe_window};

/// First 8 bytes of every policy image.
pub const POLICY_MAGIC: [u8; 8] = *b"PWPOLICY";
/// Format version written by this build (and the only one it reads).
pub const POLICY_VERSION: u16 = 1;

const HEADER_LEN: usize = 8 + 2 + 2;
const SHARD_LEN: usize = 2;
const CRC_LEN: usize = 4;
/// A shard whose window is not tuned.
const UNTUNED: u8 = u8::MAX;

/// Why a policy image could not be read or resumed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicySnapshotError {
    /// Shorter than its header or than the length its shard count declares.
    #[error("L1 policy image is truncated: {found} bytes, expected {expected}")]
    Truncated {
        /// Bytes expected.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// Longer than its shard count declares.
    #[error("L1 policy image has {extra} bytes after its checksum")]
    TrailingBytes {
        /// Bytes beyond the declared length.
        extra: usize,
    },
    /// Does not start with [`POLICY_MAGIC`].
    #[error("not an L1 policy image: starts with {found:02x?}, expected {POLICY_MAGIC:02x?}")]
    BadMagic {
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// Written by an incompatible version.
    #[error(
        "L1 policy image version {found} is not supported (this build reads version {POLICY_VERSION})"
    )]
    UnsupportedVersion {
        /// Version found.
        found: u16,
    },
    /// The CRC-32 does not match: the image was altered.
    #[error("L1 policy image checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum {
        /// CRC stored in the image.
        stored: u32,
        /// CRC of the bytes read.
        computed: u32,
    },
    /// A window index no candidate has.
    #[error(
        "L1 policy image names window {index} at byte {offset}; this build has {SAVED_CANDIDATES}"
    )]
    UnknownWindow {
        /// Offset of the byte.
        offset: usize,
        /// The index found.
        index: u8,
    },
    /// Saved from an L1 with another shard count (another `CACHE_L1_SIZE` range: one shard
    /// up to 8,191 entries, 16 from 65,536).
    #[error(
        "L1 policy image has {image_shards} shard(s), this L1 policy has {cache_shards}; not resumed"
    )]
    ShardMismatch {
        /// Shards in the image.
        image_shards: usize,
        /// Shards of this cache's policy.
        cache_shards: usize,
    },
    /// The image holds tuned windows, but this L1's policy tunes none (`lru`, `s3fifo`, a
    /// fixed or hill-climbed window, ...).
    #[error(
        "L1 policy image has {tuned} tuned window(s), but this L1 policy tunes no window; not resumed"
    )]
    NoTunedWindow {
        /// Tuned shards in the image.
        tuned: usize,
    },
}

/// The windows an L1 policy learned, one entry per shard
/// ([`HierarchicalCache::policy_snapshot`](super::HierarchicalCache::policy_snapshot)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicySnapshot {
    pub(crate) shards: Vec<Option<SavedWindows>>,
}

impl PolicySnapshot {
    /// Shards in the image.
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// Shards whose window is tuned (0 for a policy that tunes none, e.g. `lru`).
    pub fn tuned_shards(&self) -> usize {
        self.shards.iter().flatten().count()
    }

    /// The window each tuned shard runs, described ("lru", "contest 1%", "filter 10%",
    /// "filter+lru 10%"), in shard order.
    pub fn windows_in_use(&self) -> Vec<String> {
        self.shards
            .iter()
            .flatten()
            .filter_map(|w| describe_window(w.current))
            .collect()
    }

    /// The binary image (see the module's documentation).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + SHARD_LEN * self.shards.len() + CRC_LEN);
        out.extend_from_slice(&POLICY_MAGIC);
        out.extend_from_slice(&POLICY_VERSION.to_le_bytes());
        // A shard count is at most 16 (`ShardedPolicy`); saturate rather than wrap.
        let count = u16::try_from(self.shards.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&count.to_le_bytes());
        for w in self.shards.iter().take(usize::from(count)) {
            let (current, choice) = w.map_or((UNTUNED, UNTUNED), |w| (w.current, w.choice));
            out.extend_from_slice(&[current, choice]);
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads an image written by [`Self::encode`], checking its magic, version, length,
    /// checksum and every window index.
    pub fn decode(bytes: &[u8]) -> Result<Self, PolicySnapshotError> {
        let truncated = |expected| PolicySnapshotError::Truncated {
            expected,
            found: bytes.len(),
        };
        let header = bytes.get(..HEADER_LEN).ok_or(truncated(HEADER_LEN))?;
        if header[..8] != POLICY_MAGIC {
            return Err(PolicySnapshotError::BadMagic {
                found: header[..8].to_vec(),
            });
        }
        let version = u16::from_le_bytes([header[8], header[9]]);
        if version != POLICY_VERSION {
            return Err(PolicySnapshotError::UnsupportedVersion { found: version });
        }
        let count = usize::from(u16::from_le_bytes([header[10], header[11]]));
        let body = HEADER_LEN + SHARD_LEN * count;
        let expected = body + CRC_LEN;
        if bytes.len() < expected {
            return Err(truncated(expected));
        }
        if bytes.len() > expected {
            return Err(PolicySnapshotError::TrailingBytes {
                extra: bytes.len() - expected,
            });
        }
        let stored = u32::from_le_bytes([
            bytes[body],
            bytes[body + 1],
            bytes[body + 2],
            bytes[body + 3],
        ]);
        let computed = crc32fast::hash(&bytes[..body]);
        if stored != computed {
            return Err(PolicySnapshotError::Checksum { stored, computed });
        }
        let mut shards = Vec::with_capacity(count);
        for (i, pair) in bytes[HEADER_LEN..body].chunks_exact(SHARD_LEN).enumerate() {
            let offset = HEADER_LEN + i * SHARD_LEN;
            let shard = match (pair[0], pair[1]) {
                (UNTUNED, UNTUNED) => None,
                (current, choice) => {
                    for (k, index) in [current, choice].into_iter().enumerate() {
                        if usize::from(index) >= SAVED_CANDIDATES {
                            return Err(PolicySnapshotError::UnknownWindow {
                                offset: offset + k,
                                index,
                            });
                        }
                    }
                    Some(SavedWindows { current, choice })
                }
            };
            shards.push(shard);
        }
        Ok(Self { shards })
    }
}

/// "16 shard(s), window in use: 12 × filter+lru 10%, 4 × lru" (counts in order of first
/// appearance).
impl fmt::Display for PolicySnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut counts: Vec<(String, usize)> = Vec::new();
        for w in self.windows_in_use() {
            match counts.iter_mut().find(|(name, _)| *name == w) {
                Some((_, n)) => *n += 1,
                None => counts.push((w, 1)),
            }
        }
        if counts.is_empty() {
            return write!(f, "{} shard(s), no tuned window", self.shards.len());
        }
        let windows: Vec<String> = counts
            .iter()
            .map(|(name, n)| format!("{n} × {name}"))
            .collect();
        write!(
            f,
            "{} shard(s), window in use: {}",
            self.shards.len(),
            windows.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> PolicySnapshot {
        PolicySnapshot {
            shards: vec![
                Some(SavedWindows {
                    current: 7,
                    choice: 0,
                }),
                None,
                Some(SavedWindows {
                    current: 2,
                    choice: 2,
                }),
            ],
        }
    }

    #[test]
    fn an_image_reads_back_as_written() {
        let bytes = image().encode();
        assert_eq!(bytes.len(), HEADER_LEN + 3 * SHARD_LEN + CRC_LEN);
        assert_eq!(PolicySnapshot::decode(&bytes), Ok(image()));
        assert_eq!(image().tuned_shards(), 2);
        assert_eq!(image().windows_in_use(), ["lru", "filter 10%"]);
        assert_eq!(
            image().to_string(),
            "3 shard(s), window in use: 1 × lru, 1 × filter 10%"
        );
    }

    #[test]
    fn every_damaged_image_is_refused_with_what_is_wrong() {
        let good = image().encode();
        let crc_at = good.len() - CRC_LEN;
        let recrc = |mut b: Vec<u8>| {
            let at = b.len() - CRC_LEN;
            let crc = crc32fast::hash(&b[..at]);
            b[at..].copy_from_slice(&crc.to_le_bytes());
            b
        };
        assert_eq!(
            PolicySnapshot::decode(&good[..5]),
            Err(PolicySnapshotError::Truncated {
                expected: HEADER_LEN,
                found: 5
            })
        );
        assert_eq!(
            PolicySnapshot::decode(&good[..crc_at]),
            Err(PolicySnapshotError::Truncated {
                expected: good.len(),
                found: crc_at
            })
        );
        let mut longer = good.clone();
        longer.push(0);
        assert_eq!(
            PolicySnapshot::decode(&longer),
            Err(PolicySnapshotError::TrailingBytes { extra: 1 })
        );
        let mut magic = good.clone();
        magic[0] = b'X';
        assert!(matches!(
            PolicySnapshot::decode(&magic),
            Err(PolicySnapshotError::BadMagic { .. })
        ));
        let mut version = good.clone();
        version[8] = 2;
        assert_eq!(
            PolicySnapshot::decode(&version),
            Err(PolicySnapshotError::UnsupportedVersion { found: 2 })
        );
        let mut flipped = good.clone();
        flipped[HEADER_LEN] ^= 1;
        assert!(matches!(
            PolicySnapshot::decode(&flipped),
            Err(PolicySnapshotError::Checksum { .. })
        ));
        let mut unknown = good.clone();
        unknown[HEADER_LEN + 1] = SAVED_CANDIDATES as u8;
        assert_eq!(
            PolicySnapshot::decode(&recrc(unknown)),
            Err(PolicySnapshotError::UnknownWindow {
                offset: HEADER_LEN + 1,
                index: SAVED_CANDIDATES as u8
            })
        );
        // Half untuned is not a shard state.
        let mut half = good;
        half[HEADER_LEN] = UNTUNED;
        assert_eq!(
            PolicySnapshot::decode(&recrc(half)),
            Err(PolicySnapshotError::UnknownWindow {
                offset: HEADER_LEN,
                index: UNTUNED
            })
        );
    }
}
