//! Invariants shared by the fuzz targets.

use pairwarm_service::entry::{EntryError, parse_entry, to_fields};

/// Every label [`EntryError::reason`] may return (the dead-letter `reason` field and the
/// metric label: a closed set keeps the metric's cardinality bounded).
pub const ENTRY_REASONS: [&str; 9] = [
    "missing_field",
    "bad_address",
    "bad_chain",
    "bad_price",
    "bad_number",
    "bad_field",
    "bad_json",
    "too_large",
    "chain_limit",
];

/// Error messages go into dead-letter entries and logs; values are clipped (80 characters),
/// so a message stays short whatever the input size. Clipped values are shown `Debug`-escaped
/// and a bad chain or address appears twice (the field and the inner error), so control
/// characters (`\u{11}`: 6 bytes each) can take a message to ~1.3 KB; the bound leaves room
/// for that and still catches a value that is not clipped.
pub const MAX_MESSAGE_LEN: usize = 2048;

/// Parses `fields` as a stream entry and checks what the parser promises:
/// - accepted: the price is finite and > 0, and [`to_fields`] re-encodes it to fields
///   that parse back to the same update (what `pairwarm feed` writes, `serve` reads);
/// - rejected: `reason()` is a documented label and the message is bounded.
pub fn check_entry<K: AsRef<[u8]>, V: AsRef<[u8]>>(fields: &[(K, V)]) {
    match parse_entry(fields) {
        Ok(update) => {
            assert!(
                update.price.is_finite() && update.price > 0.0,
                "accepted price {}",
                update.price
            );
            let encoded = to_fields(&update);
            match parse_entry(&encoded) {
                Ok(again) => assert_eq!(again, update, "re-encoded as {encoded:?}"),
                Err(e) => panic!("{update:?} re-encoded as {encoded:?} is rejected: {e}"),
            }
        }
        Err(e) => check_entry_error(&e),
    }
}

/// The rejection half of [`check_entry`].
pub fn check_entry_error(e: &EntryError) {
    assert!(
        ENTRY_REASONS.contains(&e.reason()),
        "undocumented reason {:?} for {e}",
        e.reason()
    );
    let message = e.to_string();
    assert!(
        message.len() <= MAX_MESSAGE_LEN,
        "{}-byte error message: {message}",
        message.len()
    );
}

/// The two bytes every gzip stream starts with (the trace parsers sniff them).
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// `data` as a gzip stream (fastest level: the content matters, not the ratio).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("writing to a Vec cannot fail");
    gz.finish().expect("writing to a Vec cannot fail")
}
