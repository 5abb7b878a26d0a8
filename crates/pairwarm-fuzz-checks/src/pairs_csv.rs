//! `parse_pairs` on arbitrary bytes (the pairs file next to a trace).
//!
//! Invariants: the gzip-wrapped input gives the same result; accepted: chains in
//! normalised form, no `(chain, pair)` twice, and `write_pairs_to` writes a file that
//! parses back to an equal list.

use pairwarm_sim::trace::{PairInfo, TraceError, parse_pairs, write_pairs_to};

fn parse(data: &[u8]) -> Result<Vec<PairInfo>, TraceError> {
    let plain = parse_pairs(data, "fuzz");
    if !data.starts_with(&crate::GZIP_MAGIC) {
        let wrapped = parse_pairs(&crate::gzip(data)[..], "fuzz");
        match (&plain, &wrapped) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "gzip changes the pairs"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            _ => panic!("plain {plain:?} but gzip-wrapped {wrapped:?}"),
        }
    }
    plain
}

/// One fuzz input: panics when an invariant above does not hold.
pub fn run(data: &[u8]) {
    let Ok(pairs) = parse(data) else {
        return;
    };
    let mut keys: Vec<_> = pairs.iter().map(|p| (p.chain.as_str(), p.pair)).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), pairs.len(), "a pair described twice");
    for p in &pairs {
        assert_eq!(
            pairwarm::pair::normalize_chain(&p.chain).as_deref(),
            Ok(p.chain.as_str())
        );
    }
    let bytes = match write_pairs_to(Vec::new(), "fuzz-out", &pairs) {
        Ok(bytes) => bytes,
        Err(e) => panic!("accepted pairs cannot be written: {e}"),
    };
    match parse_pairs(&bytes[..], "fuzz-out") {
        Ok(again) => assert_eq!(
            again,
            pairs,
            "written as {:?}",
            String::from_utf8_lossy(&bytes)
        ),
        Err(e) => panic!(
            "written pairs rejected: {e}\n{}",
            String::from_utf8_lossy(&bytes)
        ),
    }
}
