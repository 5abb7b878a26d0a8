//! The original's `data` document (a single update or a batch envelope) on arbitrary
//! bytes, as the `data` field of a stream entry.
//!
//! Invariants: see `crate::check_entry` (accepted updates have a finite positive
//! price and re-encode, as `pairwarm feed` writes them, to an entry that parses back to
//! equal updates; refused updates and entries carry documented reasons, bounded messages).

/// One fuzz input: panics when an invariant above does not hold.
pub fn run(data: &[u8]) {
    crate::check_entry(&[(&b"data"[..], data)]);
}
