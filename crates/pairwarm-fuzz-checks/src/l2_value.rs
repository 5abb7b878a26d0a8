//! The L2 value codec on arbitrary bytes (what another writer may have put in Redis).
//!
//! Invariants: an accepted value has a finite price >= 0 and survives `encode` then
//! `decode` unchanged; values over `MAX_VALUE_BYTES` are always `TooLarge`.

use pairwarm::cache::codec::{MAX_VALUE_BYTES, ValueError, decode, encode};

/// One fuzz input: panics when an invariant above does not hold.
pub fn run(data: &[u8]) {
    match decode("k", data) {
        Ok(price) => {
            assert!(data.len() <= MAX_VALUE_BYTES);
            assert!(
                price.price.is_finite() && price.price >= 0.0,
                "accepted price {}",
                price.price
            );
            let bytes = encode(&price);
            assert_eq!(decode("k", &bytes), Ok(price), "re-encoded as {bytes:?}");
        }
        Err(ValueError::TooLarge { len, max, .. }) => {
            assert_eq!((len, max), (data.len(), MAX_VALUE_BYTES));
        }
        Err(e @ ValueError::Undecodable { .. }) => {
            assert!(data.len() <= MAX_VALUE_BYTES);
            assert!(e.to_string().contains("\"k\""), "{e}");
        }
    }
}
