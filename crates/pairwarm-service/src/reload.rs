//! Reloading settings while running (SIGHUP in `pairwarm serve`, or
//! [`Service::reload`](crate::Service::reload)).
//!
//! The settings' sources are read again with the same precedence (defaults < env file <
//! environment < flags), so a reload picks up env-file edits while what the environment or
//! a flag sets keeps winning. Of the settings that changed, the live ones are applied (the
//! rollout switches, warmer limits, the strategy); the others are logged as needing a
//! restart. An invalid file changes nothing.
//!
//! Only the rollout switches that changed since the last load are applied, so a reload
//! for another setting does not undo an emergency switch made through the admin endpoint.

use crate::config::{ConfigErrors, Reload, ServiceConfig};
use crate::rollout::RolloutUpdate;
use crate::shared::Shared;

/// What a reload did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reloaded {
    /// Changed settings applied while running.
    pub applied: Vec<&'static str>,
    /// Changed settings that wait for a restart.
    pub needs_restart: Vec<&'static str>,
}

pub(crate) fn reload(inner: &Shared) -> Result<Reloaded, ConfigErrors> {
    let mut current = inner.config.lock();
    let new = current.reload()?;
    let changed = current.changed_settings(&new);
    let (live, restart): (Vec<&&crate::config::Setting>, Vec<_>) =
        changed.iter().partition(|s| s.reload == Reload::Live);
    let report = Reloaded {
        applied: live.iter().map(|s| s.name).collect(),
        needs_restart: restart.iter().map(|s| s.name).collect(),
    };
    apply_rollout(inner, &current, &new);
    let mut warmer = new.warming.warmer.clone();
    warmer.enabled = inner.rollout.enabled();
    if let Err(e) = inner.parts.warmer.update_config(warmer) {
        tracing::error!(error = %e, "reload: warmer settings rejected");
    }
    if new.warming.strategy != current.warming.strategy {
        inner
            .parts
            .warmer
            .set_strategy(new.warming.strategy.build());
        tracing::warn!(
            strategy = new.warming.strategy.kind(),
            "reload: strategy replaced"
        );
    }
    if !report.needs_restart.is_empty() {
        tracing::warn!(settings = ?report.needs_restart, "reload: these changed and need a restart; kept the running values");
    }
    *current = new;
    Ok(report)
}

/// Applies the rollout switches whose configured value changed.
fn apply_rollout(inner: &Shared, was: &ServiceConfig, now: &ServiceConfig) {
    let (was, now) = (&was.rollout, &now.rollout);
    let update = RolloutUpdate {
        enabled: (was.enabled != now.enabled).then_some(now.enabled),
        shadow_mode: (was.shadow_mode != now.shadow_mode).then_some(now.shadow_mode),
        percentage: (was.percentage != now.percentage).then_some(now.percentage),
        enabled_chains: (was.enabled_chains != now.enabled_chains)
            .then(|| now.enabled_chains.clone().unwrap_or_default()),
    };
    if update == RolloutUpdate::default() {
        return;
    }
    match inner.rollout.apply(&update) {
        Ok(state) => {
            inner.parts.warmer.set_enabled(state.enabled);
            tracing::warn!(?state, "reload: rollout applied");
        }
        Err(e) => tracing::error!(error = %e, "reload: rollout rejected"),
    }
}
