//! `StrategyConfig::parse` (`WARMING_STRATEGY` + `WARMING_STRATEGY_CONFIG`) on arbitrary
//!
//! The body and its invariants: `pairwarm_fuzz_checks::strategy_config` (shared with the test that
//! replays the committed corpus, `crates/pairwarm-fuzz-checks/tests/corpora.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pairwarm_fuzz_checks::strategy_config::run(data));
