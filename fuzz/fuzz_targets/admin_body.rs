//! The admin endpoint's body (`POST /admin/warming`): `RolloutUpdate` from arbitrary JSON
//!
//! The body and its invariants: `pairwarm_fuzz_checks::admin_body` (shared with the test that
//! replays the committed corpus, `crates/pairwarm-fuzz-checks/tests/corpora.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pairwarm_fuzz_checks::admin_body::run(data));
