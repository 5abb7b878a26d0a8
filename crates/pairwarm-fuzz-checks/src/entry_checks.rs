//! The stream entry invariants, shared by the targets that reach the entry parser
//! (`stream_entry`, `original_data`, `stream_reply`).

use pairwarm_service::entry::{
    BadUpdates, EntryError, EntryFormat, EntryRules, MAX_BAD_SAMPLES, PriceUpdate, encode_batch,
    encode_update, parse_entry, to_fields,
};

/// Every label [`EntryError::reason`] may return (the dead-letter `reason` field and the
/// metric labels: a closed set keeps the metrics' cardinality bounded).
pub const ENTRY_REASONS: [&str; 16] = [
    "missing_field",
    "bad_address",
    "bad_chain",
    "unknown_chain",
    "bad_price",
    "bad_reserve",
    "bad_number",
    "bad_field",
    "not_an_object",
    "bad_json",
    "bad_envelope",
    "unknown_format",
    "too_large",
    "unsigned",
    "bad_signature",
    "chain_limit",
];

/// Error messages go into dead-letter entries and logs; values are clipped (80 characters),
/// so a message stays short whatever the input size. Clipped values are shown `Debug`-escaped
/// and a bad chain or address appears twice (the field and the inner error), so control
/// characters (`\u{11}`: 6 bytes each) can take a message to ~1.3 KB; the bound leaves room
/// for that and still catches a value that is not clipped.
pub const MAX_MESSAGE_LEN: usize = 2048;

const STREAM: &str = "stream:price-updates";

/// Parses `fields` as a stream entry (default rules: no key, the original's chains) and
/// checks what the parser promises:
/// - accepted: every update's price is finite and > 0; refused updates inside an envelope
///   have documented reasons and at most [`MAX_BAD_SAMPLES`] samples; the updates
///   re-encode (flat: [`to_fields`]; the original's: [`encode_update`] / [`encode_batch`],
///   what `pairwarm feed` writes) to an entry that parses back to equal updates;
/// - rejected: `reason()` is a documented label and the message is bounded.
pub fn check_entry<K: AsRef<[u8]>, V: AsRef<[u8]>>(fields: &[(K, V)]) {
    let rules = EntryRules::default();
    let mut out = Vec::new();
    let mut bad = BadUpdates::default();
    match parse_entry(STREAM, fields, &rules, &mut out, &mut bad) {
        Ok(format) => {
            for u in &out {
                assert!(
                    u.price.is_finite() && u.price > 0.0,
                    "accepted price {}",
                    u.price
                );
            }
            assert!(bad.samples.len() <= MAX_BAD_SAMPLES);
            assert!(bad.total() as usize >= bad.samples.len());
            for (_, e) in &bad.samples {
                check_entry_error(e);
            }
            assert!(bad.is_empty() || format == EntryFormat::Batch);
            check_round_trip(format, &out);
        }
        Err(e) => check_entry_error(&e),
    }
}

fn check_round_trip(format: EntryFormat, updates: &[PriceUpdate]) {
    let encoded: Vec<(&'static str, String)> = match (format, updates) {
        (EntryFormat::Flat, [one]) => to_fields(one),
        (EntryFormat::Single, [one]) => vec![("data", encode_update(one, 1))],
        (EntryFormat::Batch, many) => vec![("data", encode_batch(many, 1))],
        (format, many) => panic!("{format:?} entry gave {} updates", many.len()),
    };
    let mut again = Vec::new();
    let mut bad = BadUpdates::default();
    let rules = EntryRules::default();
    match parse_entry(STREAM, &encoded, &rules, &mut again, &mut bad) {
        Ok(_) => {
            // The original's shape has every field: an update without a time gets the
            // encoder's, one without a DEX `unknown`; the rest is the same.
            let expected: Vec<PriceUpdate> = updates
                .iter()
                .map(|u| match format {
                    EntryFormat::Flat => u.clone(),
                    _ => PriceUpdate {
                        ts_ms: Some(u.ts_ms.unwrap_or(1)),
                        dex: Some(u.dex.clone().unwrap_or_else(|| "unknown".to_owned())),
                        ..u.clone()
                    },
                })
                .collect();
            assert_eq!(again, expected, "re-encoded as {encoded:?}");
            assert!(bad.is_empty(), "{bad:?}");
        }
        Err(e) => panic!("{updates:?} re-encoded as {encoded:?} is rejected: {e}"),
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
