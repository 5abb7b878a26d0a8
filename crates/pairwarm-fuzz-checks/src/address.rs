//! `Address::parse` on arbitrary UTF-8.
//!
//! Invariants: an accepted EVM address displays as 42 characters, `0x` and lowercase hex,
//! equal to the input up to ASCII case; an accepted base58 (Solana) address is 32 bytes and
//! displays exactly as the input (base58 is case-sensitive and canonical); both re-parse
//! to the same address; a rejection's message is bounded (inputs are clipped).

use pairwarm::pair::{Address, AddressKind};

/// One fuzz input: panics when an invariant above does not hold.
pub fn run(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    match Address::parse(input) {
        Ok(address) => {
            let shown = address.to_string();
            match address.kind() {
                AddressKind::Evm => {
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
                }
                AddressKind::Base58 => {
                    assert_eq!(address.as_bytes().len(), 32);
                    assert_eq!(shown, input, "base58 keeps its text exactly");
                }
            }
            assert_eq!(Address::parse(&shown).ok(), Some(address));
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.len() <= 1024, "{}-byte message", message.len());
        }
    }
}
