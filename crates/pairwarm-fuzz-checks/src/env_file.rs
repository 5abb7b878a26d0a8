//! `parse_env_file` on arbitrary UTF-8 (`pairwarm serve --env-file`), then the settings it
//! yields, read as the service reads them.
//!
//! Invariants: accepted: every key is non-empty, at most 128 bytes and matches
//! `[A-Za-z_][A-Za-z0-9_]*`, every value is at most 64 KiB and the line count matches
//! the input; rejected: the error names a line of the input. The pairs, as a map (a later
//! line wins, as in `serve`), go to `ServiceConfig::from_lookup`: it never panics, every
//! error names a variable of the settings table and its accepted form, and accepted settings hold validated values (rollout fraction in
//! [0, 1], warmer, tracker and strategy configs that validate).

use std::collections::HashMap;

use pairwarm_service::config::{ConfigError, ServiceConfig, parse_env_file, setting};

fn valid_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// One fuzz input: panics when an invariant above does not hold.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let vars = match parse_env_file("fuzz.env", text) {
        Ok(vars) => vars,
        Err(e) => {
            assert_eq!(e.file, "fuzz.env");
            assert!(
                e.line >= 1 && e.line <= text.lines().count(),
                "line {} of {}",
                e.line,
                text.lines().count()
            );
            return;
        }
    };
    assert!(vars.len() <= text.lines().count());
    for (key, value) in &vars {
        assert!(valid_key(key) && key.len() <= 128, "key {key:?}");
        assert!(value.len() <= 64 * 1024, "{}-byte value", value.len());
    }
    let map: HashMap<String, String> = vars.into_iter().collect();
    match ServiceConfig::from_lookup(move |name| map.get(name).cloned()) {
        Ok(s) => {
            assert!((0.0..=1.0).contains(&s.rollout.percentage));
            assert!(
                s.warming.warmer.validate().is_ok(),
                "{:?}",
                s.warming.warmer
            );
            assert!(
                s.warming.strategy.validate().is_ok(),
                "{:?}",
                s.warming.strategy
            );
            assert!(
                s.warming.tracker.validate().is_ok(),
                "{:?}",
                s.warming.tracker
            );
            if let Some(chains) = &s.rollout.enabled_chains {
                assert!(!chains.is_empty());
            }
        }
        Err(errors) => {
            assert!(!errors.0.is_empty());
            for e in &errors.0 {
                let ConfigError::Invalid {
                    variable, expected, ..
                } = e
                else {
                    panic!("not a value error from a lookup: {e}");
                };
                assert!(setting(variable).is_some(), "{e}");
                assert!(!expected.is_empty(), "{e}");
            }
        }
    }
}
