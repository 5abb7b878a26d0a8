//! Price-update stream entries: the two formats read on one stream, and their validation.
//!
//! **The original's format** (what its detectors publish): one field `data` holding a JSON
//! document, either one update or a batch envelope
//! `{"type":"batch","count":N,"messages":[<update>, ...],"timestamp":<ms>}`, and, when
//! signing is on, a field `sig` (see [`signing`]). An update object uses the original's
//! field names; unknown fields and nested objects (`pipelineTimestamps`, tracing context)
//! are skipped without being built:
//!
//! | field | required | meaning |
//! |---|---|---|
//! | `chain` | yes | canonical chain id or an alias the original knows (`eth`, `bnb`, ...) |
//! | `pairAddress` (or `pair`) | yes | pool address: `0x` + 40 hex (EVM), base58 of 32 bytes (Solana) |
//! | `price` | one of | `reserve0 / reserve1` (the original's convention), finite and > 0 |
//! | `reserve0` + `reserve1` | one of | integer reserves as decimal strings; kept exactly |
//! | `dex`, `token0`, `token1` | no | DEX name and token addresses (the detector needs them) |
//! | `blockNumber` (or `block`) | no | block of the update |
//! | `timestamp` (or `ts_ms`) | no | ms since the epoch (default: when the entry reached Redis, the time of its id); must be within `PAIRWARM_TIMESTAMP_MAX_AGE`/`_MAX_AHEAD` of that ([`TimeWindow`]) |
//!
//! **pairwarm's flat format**: the same values as separate stream fields `chain`, `pair`,
//! `price` or `reserve0`+`reserve1`, `dex`, `token0`, `token1`, `block`, `ts_ms`.
//!
//! Every entry goes through [`parse_entry`], the one place entries are judged: field sizes,
//! the signature, the format, each update. An entry that cannot be read at all yields an
//! [`EntryError`] (the entry is dead-lettered whole); an update refused inside a readable
//! batch envelope is counted in [`BadUpdates`] and the envelope's other updates are kept.
//! Errors carry a short fixed [`reason`](EntryError::reason) (bounded metric cardinality)
//! and a message naming the field and value.

mod original;
pub mod signing;
mod timestamp;
mod update;

pub use timestamp::{TimeWindow, TimestampError, received_ms};

use std::borrow::Cow;

use pairwarm::cache::Reserve;
use pairwarm::pair::{Address, ChainId, PairInterner};

pub use original::{encode_batch, encode_update};
pub use signing::{SignatureError, SigningKeys};
pub use update::{ChainPolicy, Given};

/// Largest accepted value of a flat field, bytes (a price entry is ~200 bytes in all).
pub const MAX_FIELD_BYTES: usize = 256;
/// Default largest accepted `data` document, bytes (`PAIRWARM_MAX_ENTRY_BYTES`): 4 MiB,
/// several times the original's largest observed batch (~620 KB for 1,000 updates).
pub const DEFAULT_MAX_DATA_BYTES: usize = 4 << 20;
/// Longest accepted DEX or token name.
pub const MAX_NAME_LEN: usize = 64;
/// Bad updates of one envelope whose errors are kept (the rest are only counted).
pub const MAX_BAD_SAMPLES: usize = 3;

/// A parsed price update.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceUpdate {
    /// Canonical chain id (an alias normalised), or an operator-accepted extra chain.
    pub chain: String,
    /// Pool address.
    pub pair: Address,
    /// DEX name, if given (lowercased).
    pub dex: Option<String>,
    /// token0, if given (`0x` addresses lowercased; base58 and symbols kept as given).
    pub token0: Option<String>,
    /// token1, if given (as token0).
    pub token1: Option<String>,
    /// `reserve0 / reserve1` (the original's convention), or the producer's `price`.
    pub price: f64,
    /// Reserve of token0, exact (zero if not given).
    pub reserve0: Reserve,
    /// Reserve of token1, exact (zero if not given).
    pub reserve1: Reserve,
    /// Block number (0 if not given).
    pub block: u64,
    /// Observation time, ms since the epoch (`None` if not given).
    pub ts_ms: Option<u64>,
}

impl PriceUpdate {
    /// An update with a price and no reserves, block, time or metadata.
    pub fn new(chain: impl Into<String>, pair: Address, price: f64) -> Self {
        Self {
            chain: chain.into(),
            pair,
            dex: None,
            token0: None,
            token1: None,
            price,
            reserve0: Reserve::ZERO,
            reserve1: Reserve::ZERO,
            block: 0,
            ts_ms: None,
        }
    }

    /// The update's chain in `interner`, or [`EntryError::ChainLimit`] when the interner
    /// is full of other chains (the pipeline would have to skip the update).
    pub fn chain_id(&self, interner: &PairInterner) -> Result<ChainId, EntryError> {
        interner
            .chain_id(&self.chain)
            .map_err(|_| EntryError::ChainLimit {
                chain: clip(&self.chain),
                max: pairwarm::pair::MAX_CHAINS,
            })
    }
}

/// Why an entry (or an update inside an envelope) was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EntryError {
    /// A required field is absent.
    #[error("missing field `{0}`")]
    Missing(&'static str),
    /// A field has an unusable value.
    #[error("field `{field}` = {value:?}: {reason}")]
    Bad {
        /// The field.
        field: &'static str,
        /// The value, clipped.
        value: String,
        /// What was wrong.
        reason: String,
    },
    /// A well-formed chain name that is neither a canonical chain of the original, one of
    /// its aliases, nor in `PAIRWARM_EXTRA_CHAINS`.
    #[error("chain {0:?} is not a chain of the original system (nor in PAIRWARM_EXTRA_CHAINS)")]
    UnknownChain(String),
    /// The `data` field is not a JSON document of the original's shape.
    #[error("field `data` is not a price update or batch envelope: {0}")]
    BadJson(String),
    /// A batch envelope without a readable `messages` array.
    #[error("batch envelope: {0}")]
    BadEnvelope(String),
    /// An entry with neither `data` nor the flat fields.
    #[error("entry has neither a `data` field nor pairwarm's flat fields (chain, pair)")]
    UnknownFormat,
    /// A field or the `data` document is larger than accepted.
    #[error("field `{field}` is {len} bytes, more than {max}")]
    TooLarge {
        /// The field.
        field: String,
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A signature problem while `STREAM_SIGNING_KEY` is set.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// A well-formed chain the service cannot take: it already knows as many chains as its
    /// per-chain tables hold ([`pairwarm::pair::MAX_CHAINS`]).
    #[error("chain {chain:?} is beyond the limit of {max} chains")]
    ChainLimit {
        /// The chain.
        chain: String,
        /// The limit.
        max: usize,
    },
    /// `ts_ms` is not a plausible time for the entry ([`TimeWindow`]).
    #[error(transparent)]
    Timestamp(#[from] TimestampError),
}

impl EntryError {
    /// Short fixed label for the dead-letter `reason` field and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing(_) => "missing_field",
            Self::Bad { field, .. } => match *field {
                "pair" => "bad_address",
                "chain" => "bad_chain",
                "price" => "bad_price",
                "reserve0" | "reserve1" => "bad_reserve",
                "block" | "ts_ms" => "bad_number",
                "update" => "not_an_object",
                _ => "bad_field",
            },
            Self::UnknownChain(_) => "unknown_chain",
            Self::BadJson(_) => "bad_json",
            Self::BadEnvelope(_) => "bad_envelope",
            Self::UnknownFormat => "unknown_format",
            Self::TooLarge { .. } => "too_large",
            Self::Signature(e) => e.reason(),
            Self::ChainLimit { .. } => "chain_limit",
            Self::Timestamp(e) => e.reason(),
        }
    }
}

/// Bounds the size of values echoed back in errors (one rule for every parser).
pub(crate) use pairwarm::pair::clip;

pub(crate) fn bad(field: &'static str, value: &str, reason: impl Into<String>) -> EntryError {
    EntryError::Bad {
        field,
        value: clip(value),
        reason: reason.into(),
    }
}

/// How entries are judged: size limit, signing keys, accepted chains. One value, built
/// from the service's settings, so every check lives next to the others.
#[derive(Clone, Debug)]
pub struct EntryRules {
    /// Largest `data` document, bytes (`PAIRWARM_MAX_ENTRY_BYTES`).
    pub max_data_bytes: usize,
    /// `STREAM_SIGNING_KEY` (and `_PREVIOUS`): every entry must carry a valid `sig`.
    pub keys: Option<SigningKeys>,
    /// Which chain names are accepted.
    pub chains: ChainPolicy,
}

impl Default for EntryRules {
    /// 4 MiB documents, no signing, the original's chains only.
    fn default() -> Self {
        Self {
            max_data_bytes: DEFAULT_MAX_DATA_BYTES,
            keys: None,
            chains: ChainPolicy::default(),
        }
    }
}

/// Which format an entry had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryFormat {
    /// The original's `data` document holding one update.
    Single,
    /// The original's batch envelope.
    Batch,
    /// pairwarm's flat fields.
    Flat,
}

/// Updates refused inside readable batch envelopes: counted by reason, a few kept.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BadUpdates {
    /// `(reason label, count)`, in first-seen order (a closed set of labels).
    pub counts: Vec<(&'static str, u64)>,
    /// The first [`MAX_BAD_SAMPLES`] errors: `(index in the envelope, error)`.
    pub samples: Vec<(usize, EntryError)>,
}

impl BadUpdates {
    /// Records update `index`'s error.
    pub fn push(&mut self, index: usize, error: EntryError) {
        let reason = error.reason();
        match self.counts.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.counts.push((reason, 1)),
        }
        if self.samples.len() < MAX_BAD_SAMPLES {
            self.samples.push((index, error));
        }
    }

    /// Updates refused in all.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|(_, n)| n).sum()
    }

    /// Nothing refused.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Forgets everything (reuse per entry).
    pub fn clear(&mut self) {
        self.counts.clear();
        self.samples.clear();
    }
}

/// Judges one entry given as `(field, value)` byte pairs (as Redis returns them) read from
/// `stream`: sizes, signature (with keys set), format, then each update. Accepted updates
/// are appended to `out`; updates refused inside a readable envelope go to `bad`.
///
/// # Errors
/// The entry as a whole is unusable (too large, unsigned or badly signed, unreadable
/// document, or its only update is bad): it goes to the dead-letter stream.
pub fn parse_entry<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    stream: &str,
    fields: &[(K, V)],
    rules: &EntryRules,
    out: &mut Vec<PriceUpdate>,
    bad: &mut BadUpdates,
) -> Result<EntryFormat, EntryError> {
    let mut data: Option<&[u8]> = None;
    let mut sig: Option<&[u8]> = None;
    for (k, v) in fields {
        let (k, v) = (k.as_ref(), v.as_ref());
        let limit = if k == b"data" {
            rules.max_data_bytes
        } else {
            MAX_FIELD_BYTES
        };
        if v.len() > limit {
            return Err(EntryError::TooLarge {
                field: clip(&String::from_utf8_lossy(k)),
                len: v.len(),
                max: limit,
            });
        }
        match k {
            b"data" => data = Some(v),
            b"sig" => sig = Some(v),
            _ => {}
        }
    }
    if let Some(keys) = &rules.keys {
        match data {
            Some(data) => keys.verify(stream, data, sig)?,
            None => keys.verify_flat(stream, fields, sig)?,
        }
    }
    if let Some(data) = data {
        let text =
            std::str::from_utf8(data).map_err(|_| EntryError::BadJson("not valid UTF-8".into()))?;
        return original::parse_document(text, rules, out, bad);
    }
    out.push(parse_flat(fields, rules)?);
    Ok(EntryFormat::Flat)
}

/// pairwarm's flat format: every value a stream field.
fn parse_flat<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    fields: &[(K, V)],
    rules: &EntryRules,
) -> Result<PriceUpdate, EntryError> {
    let mut known = update::UpdateFields::default();
    let mut any = false;
    for (k, v) in fields {
        let Some(slot) = std::str::from_utf8(k.as_ref())
            .ok()
            .and_then(|name| known.slot(name))
        else {
            // Unknown fields are ignored, so producers can add their own.
            continue;
        };
        let (field, value) = slot;
        let text = std::str::from_utf8(v.as_ref()).map_err(|_| {
            bad(
                field,
                &String::from_utf8_lossy(v.as_ref()),
                "not valid UTF-8",
            )
        })?;
        *value = Some(Given::Text(Cow::Borrowed(text)));
        any = true;
    }
    if !any {
        return Err(EntryError::UnknownFormat);
    }
    known.build(rules)
}

/// A price as the shortest decimal text that parses back to the same `f64`.
///
/// `{}` never uses an exponent, so at the extremes the parser accepts (1e300, 1e-300) it
/// writes 300+ digits, more than [`MAX_FIELD_BYTES`], and the entry would be rejected by
/// [`parse_entry`] (found by the `stream_entry` fuzz target). `{:e}` is just as exact;
/// the plain form is kept for ordinary prices so entries stay readable.
fn price_text(price: f64) -> String {
    const PLAIN_MAX: usize = 32;
    let plain = price.to_string();
    if plain.len() <= PLAIN_MAX {
        plain
    } else {
        format!("{price:e}")
    }
}

/// Encodes an update as stream fields in pairwarm's flat form (for `pairwarm feed
/// --format flat`). Reserves are written when known, with the price.
pub fn to_fields(update: &PriceUpdate) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("chain", update.chain.clone()),
        ("pair", update.pair.to_string()),
        ("price", price_text(update.price)),
        ("block", update.block.to_string()),
    ];
    if !update.reserve0.is_zero() || !update.reserve1.is_zero() {
        out.push(("reserve0", update.reserve0.to_string()));
        out.push(("reserve1", update.reserve1.to_string()));
    }
    if let Some(ts) = update.ts_ms {
        out.push(("ts_ms", ts.to_string()));
    }
    for (k, v) in [
        ("dex", &update.dex),
        ("token0", &update.token0),
        ("token1", &update.token1),
    ] {
        if let Some(v) = v {
            out.push((k, v.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests;
