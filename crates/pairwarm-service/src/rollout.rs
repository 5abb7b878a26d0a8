//! Rollout controls: the seed's deployment phases as switches that change at run time.
//!
//! - **master switch** (`FEATURE_CACHE_WARMING_ENABLED`): off means no warming at all — the
//!   emergency rollback, applied without a restart through the admin endpoint or SIGHUP;
//! - **shadow mode** (`WARMING_SHADOW_MODE`): track and predict, never warm; the service
//!   reports how many reads the predictions would have turned into hits;
//! - **canary chains** (`WARMING_ENABLED_CHAINS=ethereum,bsc`): warm only on these chains;
//! - **rollout percentage** (`WARMING_ROLLOUT_PERCENTAGE=0.5`): warm only for pairs whose
//!   address hashes below the fraction. The hash depends on the address alone, so the treated
//!   set is the same on every instance and across restarts, and the untreated pairs are a
//!   stable control group (the seed's `Math.random()` re-drew it on every update).
//!
//! Deciding costs a few relaxed atomic loads: it runs for every price update.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use pairwarm::pair::{Address, ChainId, normalize_chain};

/// What to do for one update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Warm for this pair.
    Warm,
    /// Predict only (shadow mode).
    Shadow,
    /// No warming: master switch off.
    SkipDisabled,
    /// No warming: chain not in the canary list.
    SkipChain,
    /// No warming: pair outside the rollout percentage.
    SkipPercentage,
}

/// A snapshot of the controls (health output, admin replies).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutState {
    /// Master switch.
    pub enabled: bool,
    /// Shadow mode.
    pub shadow_mode: bool,
    /// Fraction of pairs treated, in [0, 1].
    pub percentage: f64,
    /// Canary chains (`None`: all chains).
    pub enabled_chains: Option<Vec<String>>,
}

impl Default for RolloutState {
    fn default() -> Self {
        Self {
            enabled: true,
            shadow_mode: false,
            percentage: 1.0,
            enabled_chains: None,
        }
    }
}

/// A partial change (the admin endpoint's body): absent fields are left as they are
/// (the original's `updateConfig` overwrote them with `undefined`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutUpdate {
    /// Master switch.
    pub enabled: Option<bool>,
    /// Shadow mode.
    pub shadow_mode: Option<bool>,
    /// Fraction in [0, 1].
    pub percentage: Option<f64>,
    /// Canary chains; an empty list means all chains.
    pub enabled_chains: Option<Vec<String>>,
}

/// An invalid rollout value, naming the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid rollout {field}: {value:?} ({expected})")]
pub struct RolloutError {
    /// The field.
    pub field: &'static str,
    /// The value.
    pub value: String,
    /// The accepted form.
    pub expected: &'static str,
}

const PPM: f64 = 1_000_000.0;

/// The live controls. Shared by the update path, the admin endpoint and SIGHUP.
pub struct RolloutControls {
    enabled: AtomicBool,
    shadow: AtomicBool,
    percentage_ppm: AtomicU32,
    chain_filter: AtomicBool,
    /// Bit per chain id: decided (1) or not yet resolved against `chains` (0).
    resolved: AtomicU64,
    /// Bit per chain id: allowed.
    allowed: AtomicU64,
    chains: Mutex<Option<Vec<String>>>,
}

impl RolloutControls {
    /// Controls in the given state (validated).
    pub fn new(state: &RolloutState) -> Result<Self, RolloutError> {
        let controls = Self {
            enabled: AtomicBool::new(true),
            shadow: AtomicBool::new(false),
            percentage_ppm: AtomicU32::new(PPM as u32),
            chain_filter: AtomicBool::new(false),
            resolved: AtomicU64::new(0),
            allowed: AtomicU64::new(0),
            chains: Mutex::new(None),
        };
        controls.apply(&RolloutUpdate {
            enabled: Some(state.enabled),
            shadow_mode: Some(state.shadow_mode),
            percentage: Some(state.percentage),
            enabled_chains: Some(state.enabled_chains.clone().unwrap_or_default()),
        })?;
        Ok(controls)
    }

    /// Applies a partial change atomically per field; validates everything first, so an
    /// invalid update changes nothing.
    pub fn apply(&self, update: &RolloutUpdate) -> Result<RolloutState, RolloutError> {
        if let Some(p) = update.percentage
            && !(0.0..=1.0).contains(&p)
        {
            return Err(RolloutError {
                field: "percentage",
                value: p.to_string(),
                expected: "a fraction in [0, 1]",
            });
        }
        let chains = match &update.enabled_chains {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|c| {
                        normalize_chain(c.trim()).map_err(|_| RolloutError {
                            field: "enabledChains",
                            value: c.clone(),
                            expected: "chain names of a-z, 0-9, '_' or '-'",
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        if let Some(e) = update.enabled {
            self.enabled.store(e, Ordering::Relaxed);
        }
        if let Some(s) = update.shadow_mode {
            self.shadow.store(s, Ordering::Relaxed);
        }
        if let Some(p) = update.percentage {
            self.percentage_ppm
                .store((p * PPM).round() as u32, Ordering::Relaxed);
        }
        if let Some(list) = chains {
            let mut guard = self.chains.lock();
            self.chain_filter.store(!list.is_empty(), Ordering::Relaxed);
            *guard = (!list.is_empty()).then_some(list);
            self.resolved.store(0, Ordering::Relaxed);
            self.allowed.store(0, Ordering::Relaxed);
        }
        Ok(self.state())
    }

    /// The current state.
    pub fn state(&self) -> RolloutState {
        RolloutState {
            enabled: self.enabled.load(Ordering::Relaxed),
            shadow_mode: self.shadow.load(Ordering::Relaxed),
            percentage: f64::from(self.percentage_ppm.load(Ordering::Relaxed)) / PPM,
            enabled_chains: self.chains.lock().clone(),
        }
    }

    /// Whether shadow mode is on (one relaxed load).
    pub fn state_shadow(&self) -> bool {
        self.shadow.load(Ordering::Relaxed)
    }

    /// Whether warming is switched on at all.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Decides for an update of `address` on `chain` (`chain_name` is asked at most once
    /// per chain and configuration).
    #[inline]
    pub fn decide<'n>(
        &self,
        chain: ChainId,
        chain_name: impl FnOnce() -> Option<&'n str>,
        address: &Address,
    ) -> Decision {
        if !self.enabled.load(Ordering::Relaxed) {
            return Decision::SkipDisabled;
        }
        if self.chain_filter.load(Ordering::Relaxed) && !self.chain_allowed(chain, chain_name) {
            return Decision::SkipChain;
        }
        if pair_fraction_ppm(address) >= self.percentage_ppm.load(Ordering::Relaxed) {
            return Decision::SkipPercentage;
        }
        if self.shadow.load(Ordering::Relaxed) {
            Decision::Shadow
        } else {
            Decision::Warm
        }
    }

    fn chain_allowed<'n>(&self, chain: ChainId, name: impl FnOnce() -> Option<&'n str>) -> bool {
        let bit = 1u64 << (chain.index() % 64);
        if self.resolved.load(Ordering::Acquire) & bit != 0 {
            return self.allowed.load(Ordering::Relaxed) & bit != 0;
        }
        let guard = self.chains.lock();
        let allowed = match (&*guard, name()) {
            (None, _) => true,
            (Some(list), Some(name)) => list.iter().any(|c| c == name),
            (Some(_), None) => false,
        };
        if allowed {
            self.allowed.fetch_or(bit, Ordering::Relaxed);
        }
        self.resolved.fetch_or(bit, Ordering::Release);
        allowed
    }
}

/// A stable fraction in [0, 1) of an address, in parts per million (SplitMix64 of its
/// first and last 8 bytes; addresses are already uniformly distributed, the mix guards
/// against vanity prefixes). Works for 20-byte EVM and 32-byte base58 addresses alike.
pub fn pair_fraction_ppm(address: &Address) -> u32 {
    let b = address.as_bytes();
    let word = |at: usize| {
        let mut w = [0u8; 8];
        if let Some(bytes) = b.get(at..at + 8) {
            w.copy_from_slice(bytes);
        }
        u64::from_le_bytes(w)
    };
    let mut x = word(0) ^ word(b.len().saturating_sub(8));
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    ((x >> 11) as f64 / (1u64 << 53) as f64 * PPM) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u32) -> Address {
        let mut b = [0u8; 20];
        b[..4].copy_from_slice(&n.to_be_bytes());
        Address::from_bytes(b)
    }

    /// The `n`th chain of an interner (ids are dense, from 0).
    fn chain(n: usize) -> ChainId {
        let interner = pairwarm::pair::PairInterner::new(16);
        (0..=n)
            .map(|i| interner.chain_id(&format!("chain{i}")).unwrap())
            .last()
            .unwrap()
    }

    #[test]
    fn percentage_is_stable_and_close_to_the_fraction() {
        let c = RolloutControls::new(&RolloutState {
            percentage: 0.3,
            ..RolloutState::default()
        })
        .unwrap();
        let chain = chain(0);
        let treated: Vec<bool> = (0..20_000)
            .map(|n| c.decide(chain, || Some("bsc"), &addr(n)) == Decision::Warm)
            .collect();
        let share = treated.iter().filter(|t| **t).count() as f64 / treated.len() as f64;
        assert!((share - 0.3).abs() < 0.02, "share {share}");
        // Same decision every time for the same address.
        for n in 0..200 {
            let again = c.decide(chain, || Some("bsc"), &addr(n)) == Decision::Warm;
            assert_eq!(again, treated[n as usize]);
        }
        // Raising the percentage only adds pairs: the 30% stay treated.
        c.apply(&RolloutUpdate {
            percentage: Some(0.6),
            ..RolloutUpdate::default()
        })
        .unwrap();
        for n in 0..2000 {
            if treated[n as usize] {
                assert_eq!(c.decide(chain, || Some("bsc"), &addr(n)), Decision::Warm);
            }
        }
    }

    #[test]
    fn chains_shadow_master_switch() {
        let c = RolloutControls::new(&RolloutState {
            enabled_chains: Some(vec!["Ethereum".into(), "bsc".into()]),
            ..RolloutState::default()
        })
        .unwrap();
        let a = addr(1);
        assert_eq!(c.decide(chain(0), || Some("ethereum"), &a), Decision::Warm);
        assert_eq!(
            c.decide(chain(1), || Some("polygon"), &a),
            Decision::SkipChain
        );
        // Cached per chain: the name is not asked again.
        assert_eq!(c.decide(chain(1), || None, &a), Decision::SkipChain);
        c.apply(&RolloutUpdate {
            shadow_mode: Some(true),
            ..RolloutUpdate::default()
        })
        .unwrap();
        assert_eq!(
            c.decide(chain(0), || Some("ethereum"), &a),
            Decision::Shadow
        );
        c.apply(&RolloutUpdate {
            enabled: Some(false),
            ..RolloutUpdate::default()
        })
        .unwrap();
        assert_eq!(
            c.decide(chain(0), || Some("ethereum"), &a),
            Decision::SkipDisabled
        );
        // Clearing the list re-enables every chain.
        c.apply(&RolloutUpdate {
            enabled: Some(true),
            shadow_mode: Some(false),
            enabled_chains: Some(vec![]),
            ..RolloutUpdate::default()
        })
        .unwrap();
        assert_eq!(c.decide(chain(1), || Some("polygon"), &a), Decision::Warm);
        assert_eq!(c.state().enabled_chains, None);
    }

    #[test]
    fn invalid_updates_change_nothing() {
        let c = RolloutControls::new(&RolloutState::default()).unwrap();
        let err = c
            .apply(&RolloutUpdate {
                enabled: Some(false),
                percentage: Some(1.5),
                ..RolloutUpdate::default()
            })
            .unwrap_err();
        assert_eq!(err.field, "percentage");
        assert!(
            c.enabled(),
            "a rejected update must not apply its other fields"
        );
        assert!(
            c.apply(&RolloutUpdate {
                enabled_chains: Some(vec!["no spaces".into()]),
                ..RolloutUpdate::default()
            })
            .is_err()
        );
    }
}
