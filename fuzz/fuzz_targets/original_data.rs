//! The original's `data` document (a single update or a batch envelope) on arbitrary
//! bytes, as the `data` field of a stream entry.
//!
//! Invariants: see `pairwarm_fuzz::check_entry` (accepted updates have a finite positive
//! price and re-encode, as `pairwarm feed` writes them, to an entry that parses back to
//! equal updates; refused updates and entries carry documented reasons, bounded messages).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pairwarm_fuzz::check_entry(&[(&b"data"[..], data)]);
});
