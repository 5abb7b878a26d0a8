//! The original's `data` document (a single update or a batch envelope) on arbitrary
//!
//! The body and its invariants: `pairwarm_fuzz_checks::original_data` (shared with the test that
//! replays the committed corpus, `crates/pairwarm-fuzz-checks/tests/corpora.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pairwarm_fuzz_checks::original_data::run(data));
