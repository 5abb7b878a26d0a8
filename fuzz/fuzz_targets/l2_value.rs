//! The L2 value codec on arbitrary bytes (what another writer may have put in Redis).
//!
//! The body and its invariants: `pairwarm_fuzz_checks::l2_value` (shared with the test that
//! replays the committed corpus, `crates/pairwarm-fuzz-checks/tests/corpora.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pairwarm_fuzz_checks::l2_value::run(data));
