//! One update's fields, however they arrived (flat stream fields or a JSON object), and the
//! checks that turn them into a [`PriceUpdate`]: the same rules for both formats.

use std::borrow::Cow;
use std::fmt;

use pairwarm::cache::Reserve;
use pairwarm::chains::{canonical_chain, uses_base58};
use pairwarm::pair::{Address, AddressKind, normalize_chain};

use super::{EntryError, EntryRules, MAX_NAME_LEN, PriceUpdate, bad};

/// A field's value as given: text (flat fields, JSON strings, borrowed when unescaped) or a
/// JSON number; anything else is kept only as its kind, so a wrong type refuses the update
/// it is in, never the envelope around it.
#[derive(Clone, Debug, PartialEq)]
pub enum Given<'a> {
    /// Text.
    Text(Cow<'a, str>),
    /// A non-negative JSON integer.
    Int(u64),
    /// Any other JSON number.
    Float(f64),
    /// A JSON boolean, array or object (its kind, for the error).
    Other(&'static str),
}

impl Given<'_> {
    /// The value as text, for errors.
    fn shown(&self) -> String {
        match self {
            Self::Text(t) => t.to_string(),
            Self::Int(n) => n.to_string(),
            Self::Float(f) => f.to_string(),
            Self::Other(kind) => (*kind).to_owned(),
        }
    }

    fn text(&self, field: &'static str) -> Result<&str, EntryError> {
        match self {
            Self::Text(t) => Ok(t),
            other => Err(bad(field, &other.shown(), "expected a string")),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Given<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(GivenVisitor)
    }
}

struct GivenVisitor;

impl<'de> serde::de::Visitor<'de> for GivenVisitor {
    type Value = Given<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Given<'de>, E> {
        Ok(Given::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Given<'de>, E> {
        Ok(Given::Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Given<'de>, E> {
        Ok(Given::Text(Cow::Owned(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Given<'de>, E> {
        Ok(Given::Int(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Given<'de>, E> {
        Ok(Given::Float(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Given<'de>, E> {
        Ok(Given::Float(v))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Given<'de>, E> {
        Ok(Given::Other("a boolean"))
    }
    fn visit_unit<E>(self) -> Result<Given<'de>, E> {
        Ok(Given::Other("null"))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Given<'de>, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Given::Other("an array"))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Given<'de>, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Given::Other("an object"))
    }
}

/// The fields of one update the service uses (all others are skipped).
#[derive(Debug, Default)]
pub(super) struct UpdateFields<'a> {
    chain: Option<Given<'a>>,
    pair: Option<Given<'a>>,
    dex: Option<Given<'a>>,
    token0: Option<Given<'a>>,
    token1: Option<Given<'a>>,
    price: Option<Given<'a>>,
    reserve0: Option<Given<'a>>,
    reserve1: Option<Given<'a>>,
    block: Option<Given<'a>>,
    ts_ms: Option<Given<'a>>,
}

impl<'a> UpdateFields<'a> {
    /// The slot of a field name (the original's name or pairwarm's flat one) and the name
    /// errors use; `None` for a field the service does not use.
    pub(super) fn slot(&mut self, name: &str) -> Option<(&'static str, &mut Option<Given<'a>>)> {
        Some(match name {
            "chain" => ("chain", &mut self.chain),
            "pairAddress" | "pair" => ("pair", &mut self.pair),
            "dex" => ("dex", &mut self.dex),
            "token0" => ("token0", &mut self.token0),
            "token1" => ("token1", &mut self.token1),
            "price" => ("price", &mut self.price),
            "reserve0" => ("reserve0", &mut self.reserve0),
            "reserve1" => ("reserve1", &mut self.reserve1),
            "blockNumber" | "block" => ("block", &mut self.block),
            "timestamp" | "ts_ms" => ("ts_ms", &mut self.ts_ms),
            _ => return None,
        })
    }

    /// Checks the fields and builds the update.
    pub(super) fn build(&self, rules: &EntryRules) -> Result<PriceUpdate, EntryError> {
        let chain_given = self.chain.as_ref().ok_or(EntryError::Missing("chain"))?;
        let chain = rules.chains.accept(chain_given.text("chain")?)?;
        let pair_given = self.pair.as_ref().ok_or(EntryError::Missing("pair"))?;
        let pair_text = pair_given.text("pair")?.trim();
        let pair = Address::parse(pair_text).map_err(|e| bad("pair", pair_text, e.to_string()))?;
        let base58_chain = uses_base58(&chain);
        if base58_chain != (pair.kind() == AddressKind::Base58) {
            let expected = if base58_chain {
                "a base58 (Solana) address on this chain"
            } else {
                "a 0x (EVM) address on this chain"
            };
            return Err(bad("pair", pair_text, expected));
        }
        let reserve0 = self
            .reserve0
            .as_ref()
            .map(|r| reserve("reserve0", r))
            .transpose()?;
        let reserve1 = self
            .reserve1
            .as_ref()
            .map(|r| reserve("reserve1", r))
            .transpose()?;
        let price = match (&self.price, reserve0, reserve1) {
            // The original's rule: a given price is the price.
            (Some(p), _, _) => positive("price", p)?,
            (None, Some(r0), Some(r1)) => {
                let price = r0.to_f64() / r1.to_f64();
                if !price.is_finite() || price <= 0.0 {
                    return Err(bad(
                        "price",
                        &format!("{r0}/{r1}"),
                        "reserve0 / reserve1 is not a finite positive price",
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
            dex: self
                .dex
                .as_ref()
                .map(|d| name("dex", d, true))
                .transpose()?,
            token0: optional_token("token0", self.token0.as_ref())?,
            token1: optional_token("token1", self.token1.as_ref())?,
            price,
            reserve0: reserve0.unwrap_or(Reserve::ZERO),
            reserve1: reserve1.unwrap_or(Reserve::ZERO),
            block: self
                .block
                .as_ref()
                .map(|b| integer("block", b))
                .transpose()?
                .unwrap_or(0),
            ts_ms: self
                .ts_ms
                .as_ref()
                .map(|t| integer("ts_ms", t))
                .transpose()?,
        })
    }
}

/// Which chain names are accepted: the original's canonical ids and aliases (normalised
/// to the canonical id), plus the operator's `PAIRWARM_EXTRA_CHAINS`. Any other name is
/// refused before it can take one of the interner's chain slots, an L2 key or a metrics
/// label.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainPolicy {
    /// Extra chain names (lowercase), accepted as given.
    pub extra: Vec<String>,
}

impl ChainPolicy {
    /// The name under which `input` is kept, or why it is refused.
    pub fn accept(&self, input: &str) -> Result<String, EntryError> {
        let trimmed = input.trim();
        if let Some(canonical) = canonical_chain(trimmed) {
            return Ok(canonical.to_owned());
        }
        let name = normalize_chain(trimmed).map_err(|e| bad("chain", input, e.to_string()))?;
        if self.extra.contains(&name) {
            Ok(name)
        } else {
            Err(EntryError::UnknownChain(super::clip(trimmed)))
        }
    }
}

fn reserve(field: &'static str, given: &Given<'_>) -> Result<Reserve, EntryError> {
    match given {
        Given::Text(t) => Reserve::parse(t.trim()).map_err(|e| bad(field, t, e.to_string())),
        Given::Int(n) => Ok(Reserve::new(u128::from(*n))),
        other => Err(bad(
            field,
            &other.shown(),
            "expected a decimal integer string (reserves exceed what a JSON number holds exactly)",
        )),
    }
}

fn positive(field: &'static str, given: &Given<'_>) -> Result<f64, EntryError> {
    let value = match given {
        Given::Text(t) => {
            let s = t.trim();
            let ok_chars = !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
            if ok_chars {
                s.parse::<f64>().ok()
            } else {
                None
            }
            .ok_or_else(|| bad(field, t, "not a decimal number"))?
        }
        Given::Int(n) => *n as f64,
        Given::Float(f) => *f,
        Given::Other(kind) => return Err(bad(field, kind, "expected a number")),
    };
    if !value.is_finite() || value <= 0.0 {
        return Err(bad(
            field,
            &given.shown(),
            "must be finite and greater than 0",
        ));
    }
    Ok(value)
}

fn integer(field: &'static str, given: &Given<'_>) -> Result<u64, EntryError> {
    match given {
        Given::Int(n) => Ok(*n),
        // JSON numbers written as floats (`1.7e12`) are accepted when integral.
        Given::Float(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19 => Ok(*f as u64),
        Given::Text(t) => t
            .trim()
            .parse::<u64>()
            .map_err(|_| bad(field, t, "not a non-negative integer")),
        other => Err(bad(field, &other.shown(), "not a non-negative integer")),
    }
}

fn name(field: &'static str, given: &Given<'_>, lowercase: bool) -> Result<String, EntryError> {
    let text = given.text(field)?;
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
    Ok(if lowercase {
        text.to_ascii_lowercase()
    } else {
        text.to_owned()
    })
}

/// A token that may be absent: not given, or given as `""`, which is how the original's
/// JSON shape (whose `token0`/`token1` are always present) says "unknown", and what
/// `pairwarm feed` writes for a pair without tokens.
fn optional_token(
    field: &'static str,
    given: Option<&Given<'_>>,
) -> Result<Option<String>, EntryError> {
    match given {
        None => Ok(None),
        Some(Given::Text(t)) if t.is_empty() => Ok(None),
        Some(given) => token(field, given).map(Some),
    }
}

/// A token address or symbol: `0x` addresses lowercased (as the original keys them),
/// base58 addresses and symbols kept as given (base58 is case-sensitive).
fn token(field: &'static str, given: &Given<'_>) -> Result<String, EntryError> {
    let evm = given
        .text(field)
        .is_ok_and(|t| t.starts_with("0x") || t.starts_with("0X"));
    name(field, given, evm)
}
