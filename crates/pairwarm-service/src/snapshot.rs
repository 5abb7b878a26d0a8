//! Tracker snapshots (`PAIRWARM_SNAPSHOT`): saved every `PAIRWARM_SNAPSHOT_INTERVAL` and at
//! shutdown, restored at start, so a restarted service does not relearn for an hour.
//! A file is written to `<path>.tmp` and renamed, so a crash never leaves half a snapshot.
//! Encoding, decoding and file I/O run on tokio's blocking pool, never on the runtime's
//! worker threads (which run the feed and HTTP).

use std::path::Path;

use crate::config::SnapshotTarget;
use crate::shared::Shared;

/// Why a snapshot was not saved.
#[derive(Debug, thiserror::Error)]
enum SaveError {
    #[error("write snapshot {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("snapshot task failed: {0}")]
    Task(String),
    #[error("SET snapshot key {key}: {source}")]
    Redis {
        key: String,
        source: redis::RedisError,
    },
}

fn target(inner: &Shared) -> Option<SnapshotTarget> {
    inner.config.lock().snapshot.target.clone()
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), SaveError> {
    #[cfg(test)]
    tests::record_io_thread();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| SaveError::File {
            path: path.display().to_string(),
            source,
        })
}

fn read_file(path: &Path) -> Option<Vec<u8>> {
    #[cfg(test)]
    tests::record_io_thread();
    std::fs::read(path).ok()
}

/// Saves the tracker (logged; a failure never stops the service). Encoding (~1.6 MB at
/// 5,000 pairs) and file I/O run on a blocking thread, off the runtime's workers.
pub(crate) async fn save(inner: &Shared) {
    let Some(target) = target(inner) else {
        return;
    };
    let tracker = inner.parts.tracker.clone();
    let interner = inner.cache.interner().clone();
    let encode = move || tracker.snapshot(&interner);
    let result = match &target {
        SnapshotTarget::File(path) => {
            let path = path.clone();
            blocking(move || {
                let bytes = encode();
                write_file(&path, &bytes).map(|()| bytes.len())
            })
            .await
        }
        SnapshotTarget::Redis(key) => match &inner.redis {
            None => Ok(0),
            Some(redis) => match blocking(move || Ok(encode())).await {
                Err(e) => Err(e),
                Ok(bytes) => redis::cmd("SET")
                    .arg(key)
                    .arg(bytes.as_slice())
                    .query_async::<()>(&mut redis.connection())
                    .await
                    .map(|()| bytes.len())
                    .map_err(|source| SaveError::Redis {
                        key: key.clone(),
                        source,
                    }),
            },
        },
    };
    match result {
        Ok(bytes) => tracing::info!(bytes, "tracker snapshot saved"),
        Err(e) => tracing::warn!(error = %e, "tracker snapshot not saved"),
    }
}

/// Runs `f` on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SaveError> + Send + 'static,
) -> Result<T, SaveError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(SaveError::Task(e.to_string())))
}

/// Restores the tracker, if a snapshot exists (a rejected one is logged and ignored).
/// Reading and decoding run on a blocking thread.
pub(crate) async fn restore(inner: &Shared) {
    let Some(target) = target(inner) else {
        return;
    };
    let bytes: Option<Vec<u8>> = match &target {
        SnapshotTarget::File(path) => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || read_file(&path))
                .await
                .ok()
                .flatten()
        }
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
    let tracker = inner.parts.tracker.clone();
    let interner = inner.cache.interner().clone();
    let restored = tokio::task::spawn_blocking(move || tracker.restore(&interner, &bytes)).await;
    let tracker = &inner.parts.tracker;
    match restored {
        Ok(Ok(report)) => {
            tracing::info!("restored tracker snapshot: {report:?}");
            let signal = tracker.config().signal;
            if report.signal != signal {
                tracing::warn!(
                    snapshot = ?report.signal,
                    configured = ?signal,
                    "the snapshot was learned from another signal; its scores mean something else until relearned"
                );
            }
            // Warm start: an empty L1 would miss every first read; preload the hottest
            // pairs the restored tracker knows, in one batched L2 fetch, bounded by the
            // L1 size (free slots only).
            let warm = inner
                .parts
                .warmer
                .warm_start(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as u64),
                )
                .await;
            tracing::info!(
                warmed = warm.pairs_warmed,
                hottest = warm.pairs_attempted,
                status = ?warm.status,
                "warm start"
            );
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "tracker snapshot rejected; starting empty"),
        Err(e) => tracing::warn!(error = %e, "tracker snapshot restore failed; starting empty"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::thread::ThreadId;

    use crate::{Service, ServiceConfig};

    static IO_THREADS: Mutex<Vec<ThreadId>> = Mutex::new(Vec::new());

    pub(super) fn record_io_thread() {
        IO_THREADS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(std::thread::current().id());
    }

    /// The file I/O of a snapshot runs on a blocking thread, never on the runtime's own
    /// (a slow disk would stall the feed and the HTTP endpoints). `#[tokio::test]` runs the
    /// runtime on the test's thread, so any I/O recorded there ran on the runtime.
    #[tokio::test]
    async fn snapshot_file_io_runs_off_the_runtime_threads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tracker.snap");
        let config = ServiceConfig::builder()
            .set("PAIRWARM_FEED", "none")
            .set("PAIRWARM_SNAPSHOT", path.to_str().unwrap())
            .build()
            .unwrap();
        let service = Service::builder(config).listen(false).build().unwrap();
        let runtime_thread = std::thread::current().id();
        super::save(&service.inner).await;
        super::restore(&service.inner).await;
        assert!(path.is_file(), "the snapshot was written");
        let threads = IO_THREADS.lock().unwrap().clone();
        assert_eq!(threads.len(), 2, "one write, one read: {threads:?}");
        assert!(
            threads.iter().all(|t| *t != runtime_thread),
            "snapshot I/O ran on the runtime thread"
        );
    }
}
