//! Snapshot and restore: a versioned, checksummed binary image of the learned tables, so a
//! restarted service does not spend an hour relearning. The format is documented on
//! [`CorrelationTracker::snapshot`].

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;

use super::neighbours::Entry;
use super::{CorrelationTracker, MAX_NEIGHBOURS, Signal};
use crate::pair::{Address, AddressKind, ChainId, MAX_CHAINS, PairId, PairInterner, PairKey};

/// First 8 bytes of every tracker snapshot.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"PWTRACK\0";
/// Format version written by this build (and the only one it reads).
pub const SNAPSHOT_VERSION: u16 = 1;

const HEADER_LEN: usize = 54;
const PAIR_LEN: usize = 2 + 20 + 8 + 8 + 2;
const ENTRY_LEN: usize = 4 + 8 + 8 + 8;
const CRC_LEN: usize = 4;
/// Largest count (updates, co-occurrences, errors) an image may hold. Counts are stored
/// in the tables as `f32` relative to their epoch's start, i.e. multiplied by up to 2^16;
/// 1e30 keeps that far below `f32::MAX` (3.4e38), where a larger finite `f64` would become
/// infinity. A real decayed count is bounded by the number of events, many orders below.
const MAX_COUNT: f64 = 1e30;

/// Why a snapshot could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Shorter than its header or than the length it declares.
    #[error("tracker snapshot is truncated: {found} bytes, expected {expected}")]
    Truncated {
        /// Bytes expected.
        expected: u64,
        /// Bytes present.
        found: usize,
    },
    /// Does not start with [`SNAPSHOT_MAGIC`].
    #[error("not a tracker snapshot: starts with {found:02x?}, expected {SNAPSHOT_MAGIC:02x?}")]
    BadMagic {
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// Written by an incompatible version.
    #[error(
        "tracker snapshot version {found} is not supported (this build reads version {SNAPSHOT_VERSION})"
    )]
    UnsupportedVersion {
        /// Version found.
        found: u16,
    },
    /// The CRC-32 does not match: the image was altered.
    #[error("tracker snapshot checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum {
        /// CRC stored in the image.
        stored: u32,
        /// CRC of the bytes read.
        computed: u32,
    },
    /// Checksum fine but the content is inconsistent (written by a buggy producer).
    #[error("tracker snapshot is malformed at byte {offset}: {reason}")]
    Malformed {
        /// Offset of the offending field.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing the file failed.
    #[error("tracker snapshot file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Reading or writing the Redis key failed.
    #[error("tracker snapshot in Redis key {key:?}: {reason}")]
    Redis {
        /// The key.
        key: String,
        /// The Redis error, or "key not found".
        reason: String,
    },
}

/// What a restore did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Pairs now tracked from the snapshot.
    pub pairs_restored: usize,
    /// Pairs in the snapshot that were not restored (tracker or interner full, chain
    /// refused by the interner).
    pub pairs_skipped: usize,
    /// Neighbour entries restored.
    pub neighbours_restored: usize,
    /// When the snapshot was taken (the tracker's latest timestamp then).
    pub snapshot_ms: u64,
    /// The signal the snapshot was learned from.
    pub signal: Signal,
    /// Size of the image.
    pub bytes: usize,
}

struct ParsedPair {
    chain: u16,
    address: [u8; 20],
    updates: f64,
    last_update: u64,
    entries: Vec<(u32, f64, f64, u64)>,
}

struct Parsed {
    snapshot_ms: u64,
    signal: Signal,
    chains: Vec<String>,
    pairs: Vec<ParsedPair>,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], SnapshotError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(malformed(self.pos, format!("{what} runs past the end")));
        };
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], SnapshotError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }
    fn u8(&mut self, what: &str) -> Result<u8, SnapshotError> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16, SnapshotError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &str) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn count(&mut self, what: &str) -> Result<f64, SnapshotError> {
        let at = self.pos;
        let v = f64::from_le_bytes(self.array(what)?);
        if !(v.is_finite() && (0.0..=MAX_COUNT).contains(&v)) {
            return Err(malformed(
                at,
                format!("{what} is {v}, expected a count in 0..={MAX_COUNT:e}"),
            ));
        }
        Ok(v)
    }
}

fn malformed(offset: usize, reason: String) -> SnapshotError {
    SnapshotError::Malformed { offset, reason }
}

/// Validates an image completely and decodes it.
fn parse(bytes: &[u8]) -> Result<Parsed, SnapshotError> {
    let magic_len = SNAPSHOT_MAGIC.len().min(bytes.len());
    if bytes[..magic_len] != SNAPSHOT_MAGIC[..magic_len] {
        return Err(SnapshotError::BadMagic {
            found: bytes[..magic_len].to_vec(),
        });
    }
    if bytes.len() < HEADER_LEN + CRC_LEN {
        return Err(SnapshotError::Truncated {
            expected: (HEADER_LEN + CRC_LEN) as u64,
            found: bytes.len(),
        });
    }
    let mut r = Reader { bytes, pos: 8 };
    let version = r.u16("version")?;
    if version != SNAPSHOT_VERSION {
        return Err(SnapshotError::UnsupportedVersion { found: version });
    }
    let flags = r.u16("flags")?;
    let total = r.u64("total length")?;
    if total != bytes.len() as u64 {
        if total > bytes.len() as u64 {
            return Err(SnapshotError::Truncated {
                expected: total,
                found: bytes.len(),
            });
        }
        return Err(malformed(
            12,
            format!("declares {total} bytes but {} are present", bytes.len()),
        ));
    }
    let body = bytes.len() - CRC_LEN;
    let mut stored = [0u8; 4];
    stored.copy_from_slice(&bytes[body..]);
    let stored = u32::from_le_bytes(stored);
    let computed = crc32fast::hash(&bytes[..body]);
    if stored != computed {
        return Err(SnapshotError::Checksum { stored, computed });
    }
    let mut r = Reader {
        bytes: &bytes[..body],
        pos: r.pos,
    };
    if flags & !1 != 0 {
        return Err(malformed(10, format!("unknown flags {flags:#06x}")));
    }
    let signal = if flags & 1 == 1 {
        Signal::Reads
    } else {
        Signal::Updates
    };
    let snapshot_ms = r.u64("snapshot time")?;
    let _window_ms = r.u64("window_ms")?;
    let _half_life_ms = r.u64("half_life_ms")?;
    let _m = r.u32("neighbours_per_pair")?;
    let chain_count = r.u16("chain count")?;
    // An interner holds at most MAX_CHAINS chains; the bound also keeps the duplicate
    // check below cheap.
    if usize::from(chain_count) > MAX_CHAINS {
        return Err(malformed(
            r.pos - 2,
            format!("{chain_count} chains, at most {MAX_CHAINS}"),
        ));
    }
    let pair_count = r.u32("pair count")? as usize;
    let mut chains = Vec::with_capacity(usize::from(chain_count));
    for _ in 0..chain_count {
        let at = r.pos;
        let len = r.u8("chain name length")?;
        let name = r.take(usize::from(len), "chain name")?;
        let name = std::str::from_utf8(name)
            .map_err(|_| malformed(at, "chain name is not UTF-8".into()))?;
        // The interner folds ASCII case, so `bsc` and `BSC` would be one chain and the
        // same address on both one pair.
        if chains.iter().any(|c: &String| c.eq_ignore_ascii_case(name)) {
            return Err(malformed(at, "chain listed twice".into()));
        }
        chains.push(name.to_owned());
    }
    // Each pair needs at least PAIR_LEN bytes: bounds the allocation by the input size.
    if pair_count > (body - r.pos) / PAIR_LEN {
        return Err(malformed(50, format!("{pair_count} pairs cannot fit")));
    }
    let mut pairs = Vec::with_capacity(pair_count);
    let mut keys = HashSet::with_capacity(pair_count);
    for _ in 0..pair_count {
        let at = r.pos;
        let chain = r.u16("pair chain")?;
        if chain >= chain_count {
            return Err(malformed(
                at,
                format!("chain index {chain} >= {chain_count}"),
            ));
        }
        let address: [u8; 20] = r.array("pair address")?;
        if !keys.insert((chain, address)) {
            return Err(malformed(at, "pair listed twice".into()));
        }
        let updates = r.count("update count")?;
        let last_update = r.u64("last update")?;
        let entry_count = usize::from(r.u16("entry count")?);
        // A table holds at most MAX_NEIGHBOURS entries; the bound also keeps the
        // duplicate check below cheap.
        if entry_count > MAX_NEIGHBOURS {
            return Err(malformed(
                r.pos - 2,
                format!("{entry_count} neighbours, at most {MAX_NEIGHBOURS}"),
            ));
        }
        let mut entries = Vec::with_capacity(entry_count.min((body - r.pos) / ENTRY_LEN));
        for _ in 0..entry_count {
            let at = r.pos;
            let neighbour = r.u32("neighbour index")?;
            if neighbour as usize >= pair_count || neighbour as usize == pairs.len() {
                return Err(malformed(at, format!("bad neighbour index {neighbour}")));
            }
            if entries
                .iter()
                .any(|e: &(u32, f64, f64, u64)| e.0 == neighbour)
            {
                return Err(malformed(at, format!("neighbour {neighbour} listed twice")));
            }
            let count = r.count("co-occurrence count")?;
            let err = r.count("co-occurrence error")?;
            let seen = r.u64("last seen")?;
            entries.push((neighbour, count, err.min(count), seen));
        }
        pairs.push(ParsedPair {
            chain,
            address,
            updates,
            last_update,
            entries,
        });
    }
    if r.pos != body {
        return Err(malformed(r.pos, format!("{} trailing bytes", body - r.pos)));
    }
    Ok(Parsed {
        snapshot_ms,
        signal,
        chains,
        pairs,
    })
}

impl CorrelationTracker {
    /// A snapshot image of the learned state. Pairs whose ids no longer resolve in
    /// `interner` are left out.
    ///
    /// [`PairId`]s are process-local, so a snapshot stores `(chain name, address)` keys and
    /// restore re-interns them. Counts are stored as plain decayed values at the snapshot time
    /// (`f64`), independent of the tracker's internal epochs; the window ring and the counters
    /// are not persisted.
    ///
    /// Layout (little-endian):
    ///
    /// | bytes | field |
    /// |---|---|
    /// | 8 | magic [`SNAPSHOT_MAGIC`] |
    /// | 2 | version ([`SNAPSHOT_VERSION`]) |
    /// | 2 | flags (bit 0: learned from reads) |
    /// | 8 | total length, checksum included |
    /// | 8 | snapshot time (ms), 8 window_ms, 8 half_life_ms, 4 neighbours_per_pair |
    /// | 2 + 4 | chain count, pair count |
    /// | per chain | name length (1) + name |
    /// | per pair | chain index (2), address (20), updates (f64), last update (8), entry count (2) |
    /// | per entry | neighbour's pair index (4), count (f64), error (f64), last seen (8) |
    /// | 4 | CRC-32 (IEEE) of everything before |
    ///
    /// Pairs are written hottest first, so restoring into a smaller tracker keeps the hottest.
    /// [`Self::restore`] validates the whole image (length, magic, version, checksum, every
    /// index and number: counts in `0..=1e30`, at most [`MAX_CHAINS`] chains and
    /// [`MAX_NEIGHBOURS`] entries per pair, no chain (ignoring ASCII case), pair or
    /// neighbour of a pair listed twice) and reports the first problem as a
    /// [`SnapshotError`]; on any error the tracker is left empty.
    pub fn snapshot(&self, interner: &PairInterner) -> Vec<u8> {
        let now = self
            .counters
            .iter()
            .map(|c| c.latest_ts.load(Relaxed))
            .max()
            .unwrap_or(0);
        // (handle, slot, key, decayed updates)
        let mut pairs: Vec<(u32, usize, PairKey, f64)> = Vec::new();
        for slot in self.dir.live_slots() {
            let header = self.dir.header(slot.index);
            let id = PairId::from_raw(header.pair.load(Relaxed));
            let Some(key) = interner.resolve(id) else {
                continue;
            };
            // Version 1 holds 20-byte EVM addresses: base58 (Solana) pairs are relearned
            // after a restore instead.
            if interner.chain_name(key.chain).is_none() || key.address.kind() != AddressKind::Evm {
                continue;
            }
            let updates = self.decay.value_at(
                f32::from_bits(header.updates.load(Relaxed)),
                self.dir.epoch(slot.index).load(Relaxed),
                now,
            );
            pairs.push((slot.handle, slot.index, key, updates));
        }
        pairs.sort_by(|a, b| b.3.total_cmp(&a.3).then(a.2.cmp(&b.2)));
        let index: HashMap<u32, u32> = pairs
            .iter()
            .enumerate()
            .map(|(i, p)| (p.0, i as u32))
            .collect();
        let mut chains: Vec<ChainId> = Vec::new();
        for p in &pairs {
            if !chains.contains(&p.2.chain) {
                chains.push(p.2.chain);
            }
        }

        let mut out = Vec::with_capacity(HEADER_LEN + pairs.len() * (PAIR_LEN + 4 * ENTRY_LEN));
        out.extend_from_slice(&SNAPSHOT_MAGIC);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
        let flags: u16 = u16::from(self.config.signal == Signal::Reads);
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // total length, patched below
        out.extend_from_slice(&now.to_le_bytes());
        out.extend_from_slice(&self.config.window_ms.to_le_bytes());
        out.extend_from_slice(&self.config.half_life_ms.to_le_bytes());
        out.extend_from_slice(&(self.config.neighbours_per_pair as u32).to_le_bytes());
        out.extend_from_slice(&(chains.len() as u16).to_le_bytes());
        out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
        for chain in &chains {
            let name = interner.chain_name(*chain).unwrap_or("");
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
        }
        let mut entries = Vec::new();
        for (handle, slot, key, updates) in &pairs {
            let epoch = self.dir.epoch(*slot).load(Relaxed);
            entries.clear();
            for e in self.tables.entries(*slot) {
                if e.key == *handle || self.dir.resolve(e.key).is_none() {
                    continue;
                }
                let Some(&neighbour) = index.get(&e.key) else {
                    continue;
                };
                let count = self.decay.value_at(e.count, epoch, now);
                let err = self.decay.value_at(e.err, epoch, now);
                let seen = self.decay.epoch_start(epoch) + u64::from(e.seen);
                entries.push((neighbour, count, err, seen));
            }
            entries.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let chain = chains.iter().position(|c| *c == key.chain).unwrap_or(0) as u16;
            out.extend_from_slice(&chain.to_le_bytes());
            out.extend_from_slice(key.address.as_bytes());
            out.extend_from_slice(&updates.to_le_bytes());
            out.extend_from_slice(
                &self
                    .dir
                    .header(*slot)
                    .last_update
                    .load(Relaxed)
                    .to_le_bytes(),
            );
            out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
            for (neighbour, count, err, seen) in &entries {
                out.extend_from_slice(&neighbour.to_le_bytes());
                out.extend_from_slice(&count.to_le_bytes());
                out.extend_from_slice(&err.to_le_bytes());
                out.extend_from_slice(&seen.to_le_bytes());
            }
        }
        let total = (out.len() + CRC_LEN) as u64;
        out[12..20].copy_from_slice(&total.to_le_bytes());
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Replaces the tracker's state with a snapshot image, re-interning its pairs in
    /// `interner`. On any error the tracker is left empty.
    pub fn restore(
        &self,
        interner: &PairInterner,
        bytes: &[u8],
    ) -> Result<RestoreReport, SnapshotError> {
        self.reset();
        let parsed = parse(bytes)?;
        let snap = parsed.snapshot_ms;
        let epoch = self.decay.epoch(snap);
        let mut report = RestoreReport {
            snapshot_ms: snap,
            signal: parsed.signal,
            bytes: bytes.len(),
            ..RestoreReport::default()
        };
        let mut chain_ids = Vec::with_capacity(parsed.chains.len());
        for name in &parsed.chains {
            chain_ids.push(interner.chain_id(name).ok());
        }
        let mut handles: Vec<Option<(usize, u32)>> = Vec::with_capacity(parsed.pairs.len());
        for p in &parsed.pairs {
            let slot = chain_ids[usize::from(p.chain)].and_then(|chain| {
                let id = interner.intern(PairKey {
                    chain,
                    address: Address::from_bytes(p.address),
                });
                self.dir.admit(id, epoch, p.last_update, false, |_| {})
            });
            let Some(slot) = slot else {
                report.pairs_skipped += 1;
                handles.push(None);
                continue;
            };
            let header = self.dir.header(slot.index);
            let updates = self.decay.stored_from(p.updates, epoch, snap);
            header.updates.store(updates.to_bits(), Relaxed);
            header.last_update.store(p.last_update, Relaxed);
            report.pairs_restored += 1;
            handles.push(Some((slot.index, slot.handle)));
        }
        for (p, me) in parsed.pairs.iter().zip(&handles) {
            let Some((index, _)) = *me else {
                continue;
            };
            for &(neighbour, count, err, seen) in &p.entries {
                let Some(Some((_, key))) = handles.get(neighbour as usize) else {
                    continue;
                };
                let entry = Entry {
                    key: *key,
                    count: self.decay.stored_from(count, epoch, snap),
                    err: self.decay.stored_from(err, epoch, snap),
                    seen: self.offset(epoch, seen),
                };
                if self.tables.insert_raw(index, entry) {
                    report.neighbours_restored += 1;
                }
            }
        }
        self.counters[0].latest_ts.store(snap, Relaxed);
        Ok(report)
    }

    /// Writes a snapshot to `path` atomically (a temporary file renamed over it).
    pub fn save_file(&self, interner: &PairInterner, path: &Path) -> Result<(), SnapshotError> {
        let bytes = self.snapshot(interner);
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let io = |source| SnapshotError::Io {
            path: path.to_path_buf(),
            source,
        };
        std::fs::write(&tmp, &bytes).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Restores from a file written by [`Self::save_file`]. On any error (missing file
    /// included) the tracker is left empty.
    pub fn restore_file(
        &self,
        interner: &PairInterner,
        path: &Path,
    ) -> Result<RestoreReport, SnapshotError> {
        match std::fs::read(path) {
            Ok(bytes) => self.restore(interner, &bytes),
            Err(source) => {
                self.reset();
                Err(SnapshotError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }

    /// Writes a snapshot to a Redis key (`SET key <image>`); returns its size.
    pub async fn save_redis(
        &self,
        interner: &PairInterner,
        conn: &mut impl redis::aio::ConnectionLike,
        key: &str,
    ) -> Result<usize, SnapshotError> {
        let bytes = self.snapshot(interner);
        redis::cmd("SET")
            .arg(key)
            .arg(&bytes)
            .query_async::<()>(conn)
            .await
            .map_err(|e| SnapshotError::Redis {
                key: key.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(bytes.len())
    }

    /// Restores from a Redis key written by [`Self::save_redis`]. On any error (missing
    /// key included) the tracker is left empty.
    pub async fn restore_redis(
        &self,
        interner: &PairInterner,
        conn: &mut impl redis::aio::ConnectionLike,
        key: &str,
    ) -> Result<RestoreReport, SnapshotError> {
        let got = redis::cmd("GET")
            .arg(key)
            .query_async::<Option<Vec<u8>>>(conn)
            .await;
        let bytes = match got {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                self.reset();
                return Err(SnapshotError::Redis {
                    key: key.to_owned(),
                    reason: "key not found".into(),
                });
            }
            Err(e) => {
                self.reset();
                return Err(SnapshotError::Redis {
                    key: key.to_owned(),
                    reason: e.to_string(),
                });
            }
        };
        self.restore(interner, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::TrackerConfig;

    /// A two-pair image (pair 0 followed by pair 1 in three blocks) and its interner.
    fn image() -> Vec<u8> {
        let interner = PairInterner::new(64);
        let t = CorrelationTracker::new(TrackerConfig::default()).unwrap();
        let a = interner
            .intern_str("bsc", "0x16b9a82891338f9ba80e2d6970fdda79d1eb0dae")
            .unwrap();
        let b = interner
            .intern_str("bsc", "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640")
            .unwrap();
        for k in 1..=3 {
            t.record_price_update(a, k * 12_000);
            t.record_price_update(b, k * 12_000 + 5);
        }
        t.snapshot(&interner)
    }

    fn recrc(bytes: &mut [u8]) {
        let body = bytes.len() - CRC_LEN;
        let crc = crc32fast::hash(&bytes[..body]);
        bytes[body..].copy_from_slice(&crc.to_le_bytes());
    }

    /// `(chain index, address number, updates, entries)`.
    type PairSpec<'a> = (u16, u16, f64, &'a [(u32, f64)]);

    /// An image of the given chains and pairs `(chain, address number, updates, entries)`,
    /// entries `(neighbour index, count)`, taken at 10 s, checksummed.
    fn encode(chains: &[&str], pairs: &[PairSpec<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&SNAPSHOT_MAGIC);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        for v in [10_000u64, 1000, 600_000] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&(chains.len() as u16).to_le_bytes());
        out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
        for c in chains {
            out.push(c.len() as u8);
            out.extend_from_slice(c.as_bytes());
        }
        for (chain, address, updates, entries) in pairs {
            out.extend_from_slice(&chain.to_le_bytes());
            let mut bytes = [0x11; 20];
            bytes[..2].copy_from_slice(&address.to_le_bytes());
            out.extend_from_slice(&bytes);
            out.extend_from_slice(&updates.to_le_bytes());
            out.extend_from_slice(&9_000u64.to_le_bytes());
            out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
            for (neighbour, count) in *entries {
                out.extend_from_slice(&neighbour.to_le_bytes());
                out.extend_from_slice(&count.to_le_bytes());
                out.extend_from_slice(&0f64.to_le_bytes());
                out.extend_from_slice(&9_000u64.to_le_bytes());
            }
        }
        let total = (out.len() + CRC_LEN) as u64;
        out[12..20].copy_from_slice(&total.to_le_bytes());
        out.extend_from_slice(&[0; CRC_LEN]);
        recrc(&mut out);
        out
    }

    #[test]
    fn encoded_images_restore() {
        let bytes = encode(&["bsc"], &[(0, 1, 5.0, &[(1, 4.0)]), (0, 2, 4.0, &[])]);
        let t = CorrelationTracker::new(TrackerConfig::default()).unwrap();
        let report = t.restore(&PairInterner::new(64), &bytes).unwrap();
        assert_eq!((report.pairs_restored, report.neighbours_restored), (2, 1));
        t.check_invariants().unwrap();
    }

    /// Found by the `tracker_snapshot` fuzz target: a neighbour listed twice in one
    /// pair's entries was inserted twice into its table.
    #[test]
    fn a_neighbour_listed_twice_is_malformed() {
        let bytes = encode(
            &["bsc"],
            &[(0, 1, 5.0, &[(1, 4.0), (1, 3.0)]), (0, 2, 4.0, &[])],
        );
        let t = CorrelationTracker::new(TrackerConfig::default()).unwrap();
        let err = t.restore(&PairInterner::new(64), &bytes).unwrap_err();
        assert!(err.to_string().contains("listed twice"), "{err}");
        assert_eq!(t.stats().total_pairs, 0);
    }

    /// Chain names are case-insensitive (the interner's rule), so `bsc` and `BSC` are the
    /// same chain and the same address on both is one pair: restoring both made one slot
    /// list itself as a neighbour.
    #[test]
    fn a_chain_listed_twice_up_to_case_is_malformed() {
        let bytes = encode(
            &["bsc", "BSC"],
            &[(0, 1, 5.0, &[(1, 4.0)]), (1, 1, 4.0, &[(0, 4.0)])],
        );
        let t = CorrelationTracker::new(TrackerConfig::default()).unwrap();
        let err = t.restore(&PairInterner::new(64), &bytes).unwrap_err();
        assert!(err.to_string().contains("listed twice"), "{err}");
        assert_eq!(t.stats().total_pairs, 0);
        t.check_invariants().unwrap();
    }

    #[test]
    fn more_chains_or_neighbours_than_a_tracker_holds_are_malformed() {
        let names: Vec<String> = (0..=MAX_CHAINS).map(|i| format!("c{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let bytes = encode(&names, &[(0, 1, 5.0, &[])]);
        let err = parse(&bytes).err().unwrap();
        assert!(err.to_string().contains("chains, at most"), "{err}");
        assert!(parse(&encode(&names[..MAX_CHAINS], &[(0, 1, 5.0, &[])])).is_ok());

        let entries: Vec<(u32, f64)> = (1..=MAX_NEIGHBOURS as u32 + 1).map(|i| (i, 1.0)).collect();
        let mut pairs = vec![(0u16, 0u16, 5.0, &entries[..])];
        pairs.extend((1..=MAX_NEIGHBOURS as u16 + 1).map(|a| (0u16, a, 1.0, &[][..])));
        let err = parse(&encode(&["bsc"], &pairs)).err().unwrap();
        assert!(err.to_string().contains("neighbours, at most"), "{err}");
        pairs[0].3 = &entries[..MAX_NEIGHBOURS];
        assert!(parse(&encode(&["bsc"], &pairs)).is_ok());
    }

    /// Offset of the first pair record (one chain, `bsc`).
    const FIRST_PAIR: usize = HEADER_LEN + 1 + 3;

    /// Found by the `tracker_snapshot` fuzz target: a finite but huge `f64` count passed
    /// the check, became `inf` as the tables' `f32` and broke every score of the pair.
    #[test]
    fn counts_too_large_for_the_tables_are_malformed() {
        let original = image();
        let interner = PairInterner::new(64);
        let t = CorrelationTracker::new(TrackerConfig::default()).unwrap();
        t.restore(&interner, &original).unwrap();
        t.check_invariants().unwrap();
        // The first pair's update count, then the first entry's count and error (of the
        // first pair that has one: pairs are written hottest first).
        let updates = FIRST_PAIR + 2 + 20;
        let mut pair = FIRST_PAIR;
        while u16::from_le_bytes([original[pair + PAIR_LEN - 2], original[pair + PAIR_LEN - 1]])
            == 0
        {
            pair += PAIR_LEN;
        }
        let entry = pair + PAIR_LEN;
        let fields = [updates, entry + 4, entry + 12];
        for at in fields {
            for v in [1e300, f64::from(f32::MAX), 1e31] {
                let mut bytes = original.clone();
                bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
                recrc(&mut bytes);
                let err = t.restore(&interner, &bytes).unwrap_err();
                assert!(
                    matches!(err, SnapshotError::Malformed { offset, .. } if offset == at),
                    "{v} at {at}: {err}"
                );
                assert_eq!(t.stats().total_pairs, 0);
            }
            // The largest accepted count still fits the tables.
            let mut bytes = original.clone();
            bytes[at..at + 8].copy_from_slice(&MAX_COUNT.to_le_bytes());
            recrc(&mut bytes);
            t.restore(&interner, &bytes).unwrap();
            t.check_invariants().unwrap();
        }
    }
}
