//! `parse_trace` on arbitrary bytes (a trace file handed to `simulate` / `feed`).
//!
//! Each input is parsed strictly and with `skip_bad_rows`, as given and gzip-wrapped.
//! Invariants:
//! - the gzip-wrapped input gives exactly the same result (trace or error message);
//! - strict accepts => lenient accepts the same trace with no skipped rows; lenient
//!   rejects only for the header or I/O, never for a row;
//! - accepted: timestamps non-decreasing, every event's pair index < `pairs.len()`, every
//!   pair used by an event, no pair listed twice, chains in normalised form; the trace
//!   written by `write_trace_to` parses back (strictly) to an equal trace.

use pairwarm_sim::trace::{ReadOptions, Trace, TraceError, parse_trace, write_trace_to};

fn parse(data: &[u8], skip_bad_rows: bool) -> Result<Trace, TraceError> {
    let opts = ReadOptions {
        skip_bad_rows,
        ..ReadOptions::default()
    };
    let plain = parse_trace(data, "fuzz", &opts);
    // Raw input that already starts with the gzip magic is decoded by the parser itself;
    // wrapping it again would hand the parser gzip bytes as text.
    if !data.starts_with(&crate::GZIP_MAGIC) {
        let wrapped = parse_trace(&crate::gzip(data)[..], "fuzz", &opts);
        match (&plain, &wrapped) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "gzip changes the trace"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            _ => panic!("plain {plain:?} but gzip-wrapped {wrapped:?}"),
        }
    }
    plain
}

fn check_trace(trace: &Trace) {
    assert!(
        trace.events.windows(2).all(|w| w[0].ts_us <= w[1].ts_us),
        "timestamps go backwards"
    );
    let mut used = vec![false; trace.pairs.len()];
    for e in &trace.events {
        let ix = e.pair as usize;
        assert!(ix < trace.pairs.len(), "pair {ix} of {}", trace.pairs.len());
        used[ix] = true;
    }
    assert!(used.iter().all(|u| *u), "a pair without events");
    let mut pairs = trace.pairs.clone();
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), trace.pairs.len(), "a pair listed twice");
    for p in &trace.pairs {
        assert_eq!(
            pairwarm::pair::normalize_chain(&p.chain).as_deref(),
            Ok(p.chain.as_str())
        );
    }

    let bytes = match write_trace_to(Vec::new(), "fuzz-out", trace) {
        Ok(bytes) => bytes,
        Err(e) => panic!("an accepted trace cannot be written: {e}"),
    };
    match parse_trace(&bytes[..], "fuzz-out", &ReadOptions::strict()) {
        Ok(again) => assert_eq!(
            again,
            Trace {
                skipped_rows: 0,
                ..trace.clone()
            },
            "written as {:?}",
            String::from_utf8_lossy(&bytes)
        ),
        Err(e) => panic!(
            "written trace rejected: {e}\n{}",
            String::from_utf8_lossy(&bytes)
        ),
    }
}

/// One fuzz input: panics when an invariant above does not hold.
pub fn run(data: &[u8]) {
    let strict = parse(data, false);
    let lenient = parse(data, true);
    match (&strict, &lenient) {
        (Ok(s), Ok(l)) => assert_eq!(s, l, "skip_bad_rows changes a valid trace"),
        (Ok(_), Err(e)) => panic!("strict accepts, lenient rejects: {e}"),
        _ => {}
    }
    if let Err(e) = &lenient {
        assert!(
            matches!(e, TraceError::BadHeader { .. } | TraceError::Io { .. }),
            "lenient parsing rejected a row: {e}"
        );
    }
    for trace in [&strict, &lenient].into_iter().flatten() {
        check_trace(trace);
    }
}
