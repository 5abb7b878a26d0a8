//! The admin endpoint's body (`POST /admin/warming`): `RolloutUpdate` from arbitrary JSON
//! bytes, applied to live `RolloutControls`.
//!
//! Invariants: parsing and applying never panic; an applied update gives a state whose
//! percentage is in [0, 1], takes every field the update sets (chains normalised, an empty
//! list meaning all chains) and keeps the others; a rejected update changes nothing.

use pairwarm::pair::normalize_chain;
use pairwarm_service::rollout::{RolloutControls, RolloutState, RolloutUpdate};

/// One fuzz input: panics when an invariant above does not hold.
pub fn run(data: &[u8]) {
    let Ok(update) = serde_json::from_slice::<RolloutUpdate>(data) else {
        return;
    };
    let initial = RolloutState {
        enabled: true,
        shadow_mode: false,
        percentage: 0.25,
        enabled_chains: Some(vec!["bsc".to_owned()]),
    };
    let controls = RolloutControls::new(&initial).expect("valid initial state");
    let before = controls.state();
    match controls.apply(&update) {
        Ok(state) => {
            assert!(
                (0.0..=1.0).contains(&state.percentage),
                "percentage {}",
                state.percentage
            );
            assert_eq!(state, controls.state());
            assert_eq!(state.enabled, update.enabled.unwrap_or(before.enabled));
            assert_eq!(
                state.shadow_mode,
                update.shadow_mode.unwrap_or(before.shadow_mode)
            );
            match update.percentage {
                Some(p) => assert!(
                    (state.percentage - p).abs() <= 1e-6,
                    "{p} applied as {}",
                    state.percentage
                ),
                None => assert_eq!(state.percentage, before.percentage),
            }
            match &update.enabled_chains {
                None => assert_eq!(state.enabled_chains, before.enabled_chains),
                Some(list) => {
                    let normalised: Vec<String> = list
                        .iter()
                        .map(|c| normalize_chain(c.trim()).expect("accepted chain"))
                        .collect();
                    let expected = (!normalised.is_empty()).then_some(normalised);
                    assert_eq!(state.enabled_chains, expected);
                }
            }
            // The state reads back through `RolloutControls::new` unchanged.
            let again = RolloutControls::new(&state).expect("a state the controls produced");
            assert_eq!(again.state(), state);
        }
        Err(e) => {
            assert!(!e.field.is_empty(), "{e}");
            assert_eq!(
                controls.state(),
                before,
                "a rejected update changed the state"
            );
        }
    }
}
