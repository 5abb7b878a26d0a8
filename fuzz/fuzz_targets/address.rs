//! `Address::parse` on arbitrary UTF-8.
//!
//! Invariants: an accepted address displays as 42 characters, `0x` and lowercase hex, equal
//! to the input up to ASCII case, and re-parses to the same address; a rejection's message
//! is bounded (inputs are clipped).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pairwarm::pair::Address;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    match Address::parse(input) {
        Ok(address) => {
            let shown = address.to_string();
            assert_eq!(shown.len(), 42, "{shown}");
            assert!(shown.starts_with("0x"), "{shown}");
            assert!(
                shown[2..]
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{shown}"
            );
            assert!(
                shown.eq_ignore_ascii_case(input),
                "{input:?} shown as {shown}"
            );
            assert_eq!(Address::parse(&shown).ok(), Some(address));
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.len() <= 1024, "{}-byte message", message.len());
        }
    }
});
