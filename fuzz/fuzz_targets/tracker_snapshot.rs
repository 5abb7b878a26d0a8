//! `CorrelationTracker::restore` on arbitrary bytes (a snapshot file or Redis key, which
//!
//! The body and its invariants: `pairwarm_fuzz_checks::tracker_snapshot` (shared with the test that
//! replays the committed corpus, `crates/pairwarm-fuzz-checks/tests/corpora.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pairwarm_fuzz_checks::tracker_snapshot::run(data));
