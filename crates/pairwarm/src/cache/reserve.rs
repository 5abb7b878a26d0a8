//! [`Reserve`]: a pool reserve as an exact integer.
//!
//! The original publishes reserves as decimal strings of integers in the token's smallest
//! unit (wei); they exceed 2^53 (so an `f64` would round them) and often exceed `u64`
//! (20,000 WETH is 2·10^22 wei). They are kept as `u128`: Uniswap-V2-style pools store
//! reserves as `uint112`, V3 liquidity is `uint128` and SPL token amounts are `u64`, so
//! every reserve a DEX pool reports fits, and `u128` makes an L1 entry one cache line
//! where a 256-bit integer would make it two. A decimal string above `u128::MAX` (3.4·10^38,
//! i.e. 3.4·10^20 whole tokens of 18 decimals) is refused with [`ReserveError`], never
//! truncated. Stored as two `u64` words so a [`Price`](super::Price) keeps alignment 8.

use std::cmp::Ordering;
use std::fmt;

/// An exact unsigned reserve (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Reserve([u64; 2]);

/// Why a reserve text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReserveError {
    /// Not a plain decimal integer.
    #[error("reserve {0:?} is not a decimal integer (digits 0-9 only)")]
    NotDecimal(String),
    /// Larger than `u128::MAX`.
    #[error("reserve {0:?} is larger than 2^128 - 1, the largest reserve a DEX pool reports")]
    TooLarge(String),
}

fn clip(input: &str) -> String {
    input.chars().take(80).collect()
}

impl Reserve {
    /// Zero (also: unknown).
    pub const ZERO: Self = Self([0, 0]);

    /// A reserve of `value` units.
    pub const fn new(value: u128) -> Self {
        Self([value as u64, (value >> 64) as u64])
    }

    /// The value.
    pub const fn get(self) -> u128 {
        ((self.0[1] as u128) << 64) | self.0[0] as u128
    }

    /// True for zero (the value of an unknown reserve).
    pub const fn is_zero(self) -> bool {
        self.0[0] == 0 && self.0[1] == 0
    }

    /// The value as an `f64` (rounded), for price arithmetic.
    pub fn to_f64(self) -> f64 {
        self.get() as f64
    }

    /// Parses a decimal integer string as the original writes it (`"20000000000000000000000"`).
    /// Leading zeros are accepted; signs, spaces, points and exponents are not.
    ///
    /// ```
    /// use pairwarm::cache::Reserve;
    /// let r = Reserve::parse("20000000000000000000000").unwrap();
    /// assert_eq!(r.to_string(), "20000000000000000000000");
    /// assert!(Reserve::parse("1e22").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, ReserveError> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ReserveError::NotDecimal(clip(text)));
        }
        text.parse::<u128>()
            .map(Self::new)
            .map_err(|_| ReserveError::TooLarge(clip(text)))
    }
}

impl PartialOrd for Reserve {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Reserve {
    fn cmp(&self, other: &Self) -> Ordering {
        self.get().cmp(&other.get())
    }
}

impl From<u128> for Reserve {
    fn from(value: u128) -> Self {
        Self::new(value)
    }
}

impl fmt::Display for Reserve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.get(), f)
    }
}

impl fmt::Debug for Reserve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.get(), f)
    }
}

impl serde::Serialize for Reserve {
    /// A decimal string, as the original writes reserves.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Reserve {
    /// A decimal string (the original's form) or a JSON integer.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Reserve;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a reserve: a decimal integer string or a non-negative integer")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Reserve, E> {
                Reserve::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Reserve, E> {
                Ok(Reserve::new(u128::from(v)))
            }
            fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Reserve, E> {
                Ok(Reserve::new(v))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_round_trip_exactly() {
        for text in [
            "0",
            "50000000000000",
            "20000000000000000000000",
            "30000000000000000000000000",
            "5192296858534827628530496329220095", // 2^112 - 1, a V2 reserve's maximum
            "340282366920938463463374607431768211455", // u128::MAX
        ] {
            let r = Reserve::parse(text).unwrap();
            assert_eq!(r.to_string(), text);
            assert_eq!(Reserve::new(r.get()), r);
        }
        assert_eq!(Reserve::parse("007").unwrap().get(), 7);
        assert!(matches!(
            Reserve::parse("340282366920938463463374607431768211456"),
            Err(ReserveError::TooLarge(_))
        ));
        for bad in ["", "-1", "+1", "1.0", "1e3", " 1", "0x10"] {
            assert!(
                matches!(Reserve::parse(bad), Err(ReserveError::NotDecimal(_))),
                "{bad:?}"
            );
        }
        assert!(Reserve::new(1 << 70) > Reserve::new(u128::from(u64::MAX)));
        assert_eq!(std::mem::size_of::<super::super::Price>(), 56);
        assert_eq!(std::mem::align_of::<super::super::Price>(), 8);
    }
}
