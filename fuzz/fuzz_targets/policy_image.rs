//! `PolicySnapshot::decode` on arbitrary bytes (the L1 policy image kept next to the
//! tracker snapshot), then `HierarchicalCache::resume_policy` with what it accepted.
//!
//! The body and its invariants: `pairwarm_fuzz_checks::policy_image` (shared with the test that
//! replays the committed corpus, `crates/pairwarm-fuzz-checks/tests/corpora.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pairwarm_fuzz_checks::policy_image::run(data));
