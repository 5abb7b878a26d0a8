//! `parse_env_file` on arbitrary UTF-8 (`pairwarm serve --env-file`), then the settings it
//!
//! The body and its invariants: `pairwarm_fuzz_checks::env_file` (shared with the test that
//! replays the committed corpus, `crates/pairwarm-fuzz-checks/tests/corpora.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pairwarm_fuzz_checks::env_file::run(data));
