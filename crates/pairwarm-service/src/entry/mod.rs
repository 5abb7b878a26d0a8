//! Price-update stream entries: the documented wire format and its parser.
//!
//! An entry of the price stream (`stream:price-updates` by default) carries these fields:
//!
//! | field | required | meaning |
//! |---|---|---|
//! | `chain` | yes | chain name (`ethereum`, `bsc`, ...), `[a-z0-9_-]`, case-insensitive |
//! | `pair` | yes | pool address, `0x` + 40 hex digits, case-insensitive |
//! | `price` | one of | decimal string, the price of token0 in token1, finite and > 0 |
//! | `reserve0` + `reserve1` | one of | decimal reserves; price = reserve1 / reserve0 |
//! | `dex` | no | DEX name (the detector compares pools of one token pair across DEXes) |
//! | `token0`, `token1` | no | token addresses or symbols (needed by the detector) |
//! | `block` | no | block number (integer) |
//! | `ts_ms` | no | observation time, ms since the Unix epoch (default: when the entry reached Redis, the time of its id) |
//!
//! Alternatively a single field `data` holds a JSON object with the same keys (numbers may
//! be JSON numbers or strings). A malformed entry yields an [`EntryError`] whose
//! [`reason`](EntryError::reason) is a short fixed label (bounded metric cardinality) and
//! whose message names the field and value.

mod timestamp;
pub use timestamp::{TimeWindow, TimestampError, received_ms};

use serde_json::Value;

use pairwarm::pair::{Address, ChainId, PairInterner, normalize_chain};

/// Largest accepted field value, bytes (a price entry is ~200 bytes in all).
pub const MAX_FIELD_BYTES: usize = 256;
/// Largest accepted `data` JSON, bytes.
pub const MAX_DATA_BYTES: usize = 4096;
/// Longest accepted DEX or token name.
pub const MAX_NAME_LEN: usize = 64;

/// A parsed price update.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceUpdate {
    /// Normalised (lowercase) chain name.
    pub chain: String,
    /// Pool address.
    pub pair: Address,
    /// DEX name, if given.
    pub dex: Option<String>,
    /// token0, if given (lowercased).
    pub token0: Option<String>,
    /// token1, if given (lowercased).
    pub token1: Option<String>,
    /// Price of token0 in token1.
    pub price: f64,
    /// Block number (0 if not given).
    pub block: u64,
    /// Observation time, ms since the epoch (`None` if not given).
    pub ts_ms: Option<u64>,
}

/// Why an entry was rejected.
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
    /// The `data` field is not a JSON object.
    #[error("field `data` is not a JSON object: {0}")]
    BadJson(String),
    /// A field or the `data` JSON is larger than accepted.
    #[error("field `{field}` is {len} bytes, more than {max}")]
    TooLarge {
        /// The field.
        field: String,
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
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
    /// Short fixed label for the dead-letter `reason` field and metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing(_) => "missing_field",
            Self::Bad { field, .. } => match *field {
                "pair" => "bad_address",
                "chain" => "bad_chain",
                "price" | "reserve0" | "reserve1" => "bad_price",
                "block" | "ts_ms" => "bad_number",
                _ => "bad_field",
            },
            Self::BadJson(_) => "bad_json",
            Self::TooLarge { .. } => "too_large",
            Self::ChainLimit { .. } => "chain_limit",
            Self::Timestamp(e) => e.reason(),
        }
    }
}

impl PriceUpdate {
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

/// Bounds the size of values echoed back in errors (a hostile 1 MB field stays short),
/// cutting on a character boundary.
fn clip(input: &str) -> String {
    const MAX: usize = 80;
    if input.len() <= MAX {
        return input.to_owned();
    }
    let mut end = MAX;
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &input[..end])
}

fn bad(field: &'static str, value: &str, reason: impl Into<String>) -> EntryError {
    EntryError::Bad {
        field,
        value: clip(value),
        reason: reason.into(),
    }
}

/// The known fields, as borrowed text.
#[derive(Default)]
struct Fields<'a> {
    chain: Option<&'a str>,
    pair: Option<&'a str>,
    dex: Option<&'a str>,
    token0: Option<&'a str>,
    token1: Option<&'a str>,
    price: Option<&'a str>,
    reserve0: Option<&'a str>,
    reserve1: Option<&'a str>,
    block: Option<&'a str>,
    ts_ms: Option<&'a str>,
    data: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn set(&mut self, name: &str, value: &'a str) {
        let slot = match name {
            "chain" => &mut self.chain,
            "pair" => &mut self.pair,
            "dex" => &mut self.dex,
            "token0" => &mut self.token0,
            "token1" => &mut self.token1,
            "price" => &mut self.price,
            "reserve0" => &mut self.reserve0,
            "reserve1" => &mut self.reserve1,
            "block" => &mut self.block,
            "ts_ms" => &mut self.ts_ms,
            "data" => &mut self.data,
            _ => return,
        };
        *slot = Some(value);
    }
}

/// Parses an entry given as `(field, value)` byte pairs (as Redis returns them).
pub fn parse_entry<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    fields: &[(K, V)],
) -> Result<PriceUpdate, EntryError> {
    let mut known = Fields::default();
    for (k, v) in fields {
        let (k, v) = (k.as_ref(), v.as_ref());
        let limit = if k == b"data" {
            MAX_DATA_BYTES
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
        let Some(field) = std::str::from_utf8(k).ok().and_then(known_field) else {
            // Unknown fields are ignored, so producers can add their own.
            continue;
        };
        let value = std::str::from_utf8(v).map_err(|_| EntryError::Bad {
            field,
            value: clip(&String::from_utf8_lossy(v)),
            reason: "not valid UTF-8".into(),
        })?;
        known.set(field, value);
    }
    if let Some(data) = known.data {
        return parse_data(data);
    }
    build(&known)
}

const FIELDS: [&str; 11] = [
    "chain", "pair", "dex", "token0", "token1", "price", "reserve0", "reserve1", "block", "ts_ms",
    "data",
];

fn known_field(name: &str) -> Option<&'static str> {
    FIELDS.iter().copied().find(|f| *f == name)
}

/// Parses the single-field form: `data` = a JSON object with the same keys.
fn parse_data(data: &str) -> Result<PriceUpdate, EntryError> {
    let value: Value =
        serde_json::from_str(data).map_err(|e| EntryError::BadJson(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(EntryError::BadJson("expected an object".into()));
    };
    // Numbers may be JSON numbers or strings; render both to text and reuse one parser.
    let mut owned: Vec<(&str, String)> = Vec::with_capacity(map.len());
    for (k, v) in &map {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Null => continue,
            other => {
                return Err(EntryError::BadJson(format!(
                    "key {:?} holds {}, expected a string or a number",
                    clip(k),
                    kind_of(other)
                )));
            }
        };
        if text.len() > MAX_FIELD_BYTES {
            return Err(EntryError::TooLarge {
                field: clip(k),
                len: text.len(),
                max: MAX_FIELD_BYTES,
            });
        }
        owned.push((k.as_str(), text));
    }
    let mut known = Fields::default();
    for (k, v) in &owned {
        if *k != "data" {
            known.set(k, v);
        }
    }
    build(&known)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn decimal(field: &'static str, text: &str) -> Result<f64, EntryError> {
    let t = text.trim();
    let ok_chars = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    let value: f64 = if ok_chars { t.parse().ok() } else { None }
        .ok_or_else(|| bad(field, text, "not a decimal number"))?;
    if !value.is_finite() || value <= 0.0 {
        return Err(bad(field, text, "must be finite and greater than 0"));
    }
    Ok(value)
}

fn integer(field: &'static str, text: &str) -> Result<u64, EntryError> {
    text.trim()
        .parse::<u64>()
        .map_err(|_| bad(field, text, "not a non-negative integer"))
}

fn name(field: &'static str, text: &str) -> Result<String, EntryError> {
    let ok = !text.is_empty()
        && text.len() <= MAX_NAME_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !ok {
        return Err(bad(
            field,
            text,
            format!("expected 1-{MAX_NAME_LEN} characters of a-z, 0-9, '_', '-', '.'"),
        ));
    }
    Ok(text.to_ascii_lowercase())
}

fn build(f: &Fields<'_>) -> Result<PriceUpdate, EntryError> {
    let chain_text = f.chain.ok_or(EntryError::Missing("chain"))?;
    let chain = normalize_chain(chain_text).map_err(|e| bad("chain", chain_text, e.to_string()))?;
    let pair_text = f.pair.ok_or(EntryError::Missing("pair"))?;
    let pair =
        Address::parse(pair_text.trim()).map_err(|e| bad("pair", pair_text, e.to_string()))?;
    let price = match (f.price, f.reserve0, f.reserve1) {
        (Some(p), _, _) => decimal("price", p)?,
        (None, Some(r0), Some(r1)) => {
            let (r0, r1) = (decimal("reserve0", r0)?, decimal("reserve1", r1)?);
            let price = r1 / r0;
            if !price.is_finite() || price <= 0.0 {
                return Err(bad(
                    "reserve1",
                    &format!("{r1}/{r0}"),
                    "reserve ratio is not a finite positive price",
                ));
            }
            price
        }
        (None, Some(_), None) => return Err(EntryError::Missing("reserve1")),
        (None, None, Some(_)) => return Err(EntryError::Missing("reserve0")),
        (None, None, None) => return Err(EntryError::Missing("price")),
    };
    Ok(PriceUpdate {
        chain,
        pair,
        dex: f.dex.map(|d| name("dex", d)).transpose()?,
        token0: f.token0.map(|t| name("token0", t)).transpose()?,
        token1: f.token1.map(|t| name("token1", t)).transpose()?,
        price,
        block: f
            .block
            .map(|b| integer("block", b))
            .transpose()?
            .unwrap_or(0),
        ts_ms: f.ts_ms.map(|t| integer("ts_ms", t)).transpose()?,
    })
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

/// Encodes an update as stream fields in the documented flat form (for `pairwarm feed`).
pub fn to_fields(update: &PriceUpdate) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("chain", update.chain.clone()),
        ("pair", update.pair.to_string()),
        ("price", price_text(update.price)),
        ("block", update.block.to_string()),
    ];
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
