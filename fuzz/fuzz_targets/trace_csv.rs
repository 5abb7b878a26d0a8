//! `parse_trace` on arbitrary bytes (a trace file handed to `simulate` / `feed`).
//!
//! The body and its invariants: `pairwarm_fuzz_checks::trace_csv` (shared with the test that
//! replays the committed corpus, `crates/pairwarm-fuzz-checks/tests/corpora.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pairwarm_fuzz_checks::trace_csv::run(data));
