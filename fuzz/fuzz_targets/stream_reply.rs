//! The stream reply decoders on any RESP value a server (or a man in the middle) can send.
//!
//! The body and its invariants: `pairwarm_fuzz_checks::stream_reply` (shared with the test that
//! replays the committed corpus, `crates/pairwarm-fuzz-checks/tests/corpora.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pairwarm_fuzz_checks::stream_reply::run(data));
