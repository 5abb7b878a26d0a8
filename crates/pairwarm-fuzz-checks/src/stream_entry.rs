//! `parse_entry` on arbitrary `(field, value)` pairs.
//!
//! Input layout: chunks separated by the byte 0xFF (never part of UTF-8 text, so any text
//! field or value can be expressed), taken in pairs `field 0xFF value 0xFF field ...`; an
//! odd last chunk is dropped. Invariants: see `crate::check_entry`.

/// One fuzz input: panics when an invariant above does not hold.
pub fn run(data: &[u8]) {
    let chunks: Vec<&[u8]> = data.split(|b| *b == 0xFF).collect();
    let fields: Vec<(&[u8], &[u8])> = chunks.chunks_exact(2).map(|kv| (kv[0], kv[1])).collect();
    crate::check_entry(&fields);
}
