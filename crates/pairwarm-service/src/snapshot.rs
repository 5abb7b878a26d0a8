//! Tracker snapshots (`PAIRWARM_SNAPSHOT`): saved every `PAIRWARM_SNAPSHOT_INTERVAL` and at
//! shutdown, restored at start, so a restarted service does not relearn for an hour.
//! A file is written to `<path>.tmp` and renamed, so a crash never leaves half a snapshot.

use std::path::Path;

use crate::config::SnapshotTarget;
use crate::service::Inner;

/// Why a snapshot was not saved.
#[derive(Debug, thiserror::Error)]
enum SaveError {
    #[error("write snapshot {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("SET snapshot key {key}: {source}")]
    Redis {
        key: String,
        source: redis::RedisError,
    },
}

fn target(inner: &Inner) -> Option<SnapshotTarget> {
    inner.config.lock().snapshot.target.clone()
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), SaveError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| SaveError::File {
            path: path.display().to_string(),
            source,
        })
}

/// Saves the tracker (logged; a failure never stops the service).
pub(crate) async fn save(inner: &Inner) {
    let Some(target) = target(inner) else {
        return;
    };
    let bytes = inner.parts.tracker.snapshot(inner.cache.interner());
    let result = match &target {
        SnapshotTarget::File(path) => write_file(path, &bytes),
        SnapshotTarget::Redis(key) => match &inner.redis {
            None => Ok(()),
            Some(redis) => redis::cmd("SET")
                .arg(key)
                .arg(bytes.as_slice())
                .query_async::<()>(&mut redis.connection())
                .await
                .map_err(|source| SaveError::Redis {
                    key: key.clone(),
                    source,
                }),
        },
    };
    match result {
        Ok(()) => tracing::info!(bytes = bytes.len(), "tracker snapshot saved"),
        Err(e) => tracing::warn!(error = %e, "tracker snapshot not saved"),
    }
}

/// Restores the tracker, if a snapshot exists (a rejected one is logged and ignored).
pub(crate) async fn restore(inner: &Inner) {
    let Some(target) = target(inner) else {
        return;
    };
    let bytes: Option<Vec<u8>> = match &target {
        SnapshotTarget::File(path) => std::fs::read(path).ok(),
        SnapshotTarget::Redis(key) => match &inner.redis {
            None => None,
            Some(redis) => redis::cmd("GET")
                .arg(key)
                .query_async::<Option<Vec<u8>>>(&mut redis.connection())
                .await
                .ok()
                .flatten(),
        },
    };
    let Some(bytes) = bytes else {
        tracing::info!("no tracker snapshot to restore; starting empty");
        return;
    };
    let tracker = &inner.parts.tracker;
    match tracker.restore(inner.cache.interner(), &bytes) {
        Ok(report) => {
            tracing::info!("restored tracker snapshot: {report:?}");
            let signal = tracker.config().signal;
            if report.signal != signal {
                tracing::warn!(
                    snapshot = ?report.signal,
                    configured = ?signal,
                    "the snapshot was learned from another signal; its scores mean something else until relearned"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "tracker snapshot rejected; starting empty"),
    }
}
