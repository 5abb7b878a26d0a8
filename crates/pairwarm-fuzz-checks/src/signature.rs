//! Signature verification on an arbitrary `sig` field and data.
//!
//! Input layout: `sig` bytes, the byte 0xFF, then the `data` bytes. Invariants: never a
//! panic; the reference's key verifies exactly the signatures it makes (the computed `sig`
//! verifies in lower and upper case, the fuzzed one only if it decodes to the same bytes);
//! refusals have the documented reasons (`unsigned`, `bad_signature`) and go through the
//! entry parser with the same reason, unless a field is over its size limit (`too_large`,
//! checked before the signature).

use pairwarm_service::entry::{
    BadUpdates, EntryRules, MAX_FIELD_BYTES, SignatureError, SigningKeys, parse_entry,
};

const STREAM: &str = "stream:price-updates";

/// One fuzz input: panics when an invariant above does not hold.
pub fn run(input: &[u8]) {
    let (sig, data) = match input.iter().position(|b| *b == 0xFF) {
        Some(at) => (&input[..at], &input[at + 1..]),
        None => (input, &b""[..]),
    };
    let keys = SigningKeys::new("interop-signing-key", Some("previous-key"));
    let good = keys.sign(STREAM, data);
    assert_eq!(keys.verify(STREAM, data, Some(good.as_bytes())), Ok(()));
    assert_eq!(
        keys.verify(STREAM, data, Some(good.to_ascii_uppercase().as_bytes())),
        Ok(())
    );
    let verdict = keys.verify(STREAM, data, Some(sig));
    let same_bytes = sig.len() == 64 && sig.eq_ignore_ascii_case(good.as_bytes());
    let previous = SigningKeys::new("previous-key", None).sign(STREAM, data);
    let same_previous = sig.len() == 64 && sig.eq_ignore_ascii_case(previous.as_bytes());
    match &verdict {
        Ok(()) => assert!(same_bytes || same_previous, "{sig:?} accepted"),
        Err(SignatureError::Malformed { len }) => assert_eq!(*len, sig.len()),
        Err(SignatureError::Mismatch) => assert!(!same_bytes && !same_previous),
        Err(SignatureError::Unsigned) => panic!("a sig was given"),
    }
    // Through the entry parser: a refused signature is the entry's reason.
    let rules = EntryRules {
        keys: Some(keys),
        ..EntryRules::default()
    };
    let mut out = Vec::new();
    let result = parse_entry(
        STREAM,
        &[(&b"data"[..], data), (&b"sig"[..], sig)],
        &rules,
        &mut out,
        &mut BadUpdates::default(),
    );
    // Field sizes are checked first: a `data` above `max_data_bytes` or a `sig` above
    // `MAX_FIELD_BYTES` is `too_large` whatever its signature.
    let reason = result.map_err(|e| e.reason()).err();
    if data.len() > rules.max_data_bytes || sig.len() > MAX_FIELD_BYTES {
        assert_eq!(reason, Some("too_large"));
    } else if let Err(e) = &verdict {
        assert_eq!(reason, Some(e.reason()));
    }
}
