//! Tracker snapshots (`PAIRWARM_SNAPSHOT`): saved every `PAIRWARM_SNAPSHOT_INTERVAL` and at
//! shutdown, restored at start, so a restarted service does not relearn for an hour. Next
//! to each, the L1 policy's learned window (`<path>.policy` or `<key>:policy`, a few
//! bytes), so a restarted L1 does not start over at LRU (`HierarchicalCache::policy_snapshot`).
//! A file is written to `<path>.tmp` and renamed, so a crash never leaves half a snapshot.
//! Encoding, decoding and file I/O run on tokio's blocking pool, never on the runtime's
//! worker threads (which run the feed and HTTP).

use std::path::Path;

use pairwarm::cache::PolicySnapshot;

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
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| SaveError::File {
            path: path.display().to_string(),
            source,
        })
}

/// The file's bytes; `None` if it does not exist, or (logged) cannot be read.
fn read_file(path: &Path) -> Option<Vec<u8>> {
    #[cfg(test)]
    tests::record_io_thread();
    match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "snapshot file not readable");
            None
        }
    }
}

/// Writes what `encode` returns to `target`; encoding and file I/O on a blocking thread.
/// Returns the bytes written (0: the Redis target has no connection).
async fn write(
    inner: &Shared,
    target: &SnapshotTarget,
    encode: impl FnOnce() -> Vec<u8> + Send + 'static,
) -> Result<usize, SaveError> {
    match target {
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
            Some(redis) => {
                let bytes = blocking(move || Ok(encode())).await?;
                redis::cmd("SET")
                    .arg(key)
                    .arg(bytes.as_slice())
                    .query_async::<()>(&mut redis.connection())
                    .await
                    .map(|()| bytes.len())
                    .map_err(|source| SaveError::Redis {
                        key: key.clone(),
                        source,
                    })
            }
        },
    }
}

/// Reads `target` (`None`: absent or unreadable); file I/O on a blocking thread.
async fn read(inner: &Shared, target: &SnapshotTarget) -> Option<Vec<u8>> {
    match target {
        SnapshotTarget::File(path) => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || read_file(&path))
                .await
                .ok()
                .flatten()
        }
        SnapshotTarget::Redis(key) => match &inner.redis {
            None => None,
            Some(redis) => match redis::cmd("GET")
                .arg(key)
                .query_async::<Option<Vec<u8>>>(&mut redis.connection())
                .await
            {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::warn!(key = %key, error = %e, "snapshot key not readable");
                    None
                }
            },
        },
    }
}

/// Saves the tracker, then the L1 policy's learned window next to it (logged; a failure
/// never stops the service). Encoding (~1.6 MB at 5,000 pairs) and file I/O run on a
/// blocking thread, off the runtime's workers.
pub(crate) async fn save(inner: &Shared) {
    let Some(target) = target(inner) else {
        return;
    };
    // The periodic save may still be writing `<path>.tmp` when the shutdown save starts.
    let _one_at_a_time = inner.snapshot_saving.lock().await;
    let tracker = inner.parts.tracker.clone();
    let interner = inner.cache.interner().clone();
    match write(inner, &target, move || tracker.snapshot(&interner)).await {
        Ok(bytes) => tracing::info!(bytes, "tracker snapshot saved"),
        Err(e) => tracing::warn!(error = %e, "tracker snapshot not saved"),
    }
    let policy = inner.cache.policy_snapshot();
    let windows = policy.to_string();
    match write(inner, &target.policy(), move || policy.encode()).await {
        Ok(bytes) => tracing::info!(bytes, %windows, "L1 policy window saved"),
        Err(e) => tracing::warn!(error = %e, "L1 policy window not saved"),
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

/// Resumes the L1 policy's learned window, if an image of it exists next to the snapshot
/// and fits this L1 (else logged, and the window starts at LRU as in a new cache).
async fn resume_policy(inner: &Shared, target: &SnapshotTarget) {
    let Some(bytes) = read(inner, &target.policy()).await else {
        tracing::info!("no L1 policy window saved; the window starts at LRU");
        return;
    };
    let image = match PolicySnapshot::decode(&bytes) {
        Ok(image) => image,
        Err(e) => {
            tracing::warn!(error = %e, "L1 policy window rejected; the window starts at LRU");
            return;
        }
    };
    if image.tuned_shards() == 0 {
        tracing::info!(saved = %image, "no tuned L1 window saved; the window starts at LRU");
        return;
    }
    match inner.cache.resume_policy(&image) {
        Ok(shards) => tracing::info!(shards, windows = %image, "resumed L1 policy window"),
        Err(e) => {
            tracing::warn!(error = %e, "L1 policy window not resumed; the window starts at LRU")
        }
    }
}

/// Restores the L1 policy's window and the tracker, if saved (a rejected image is logged
/// and ignored). Reading and decoding run on a blocking thread.
pub(crate) async fn restore(inner: &Shared) {
    let Some(target) = target(inner) else {
        return;
    };
    resume_policy(inner, &target).await;
    let Some(bytes) = read(inner, &target).await else {
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
        assert!(
            dir.path().join("tracker.snap.policy").is_file(),
            "the L1 policy window was written"
        );
        let threads = IO_THREADS.lock().unwrap().clone();
        assert_eq!(
            threads.len(),
            4,
            "two writes (tracker, policy), two reads: {threads:?}"
        );
        assert!(
            threads.iter().all(|t| *t != runtime_thread),
            "snapshot I/O ran on the runtime thread"
        );
    }
}
