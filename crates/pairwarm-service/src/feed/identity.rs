//! This instance's consumer name in the group, and why it must survive a restart.
//!
//! Entries a consumer read but did not acknowledge stay pending under its name. A consumer
//! that comes back under the same name re-reads them at once (the consumer's recovery
//! read); under a new name they wait until `XAUTOCLAIM` finds them idle for
//! `PAIRWARM_CLAIM_IDLE_MS` (30 s by default). So the name is, in order:
//!
//! 1. `PAIRWARM_CONSUMER`, when configured;
//! 2. else, with a file snapshot, the name kept in `<snapshot>.consumer`, made once as
//!    `<hostname>-<random>`. The file stays locked while the feed runs, so two instances
//!    given the same snapshot path (which would also overwrite each other's snapshots)
//!    are refused instead of sharing one name;
//! 3. else `<hostname>-<pid>`, which changes with every restart (a warning says so).

use std::ffi::OsString;
use std::fs::{File, OpenOptions, TryLockError};
use std::hash::BuildHasher;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::FeedError;
use crate::config::SnapshotTarget;
use crate::config::values;

/// The consumer name in use, and the lock on its state file (released on drop).
pub(crate) struct ConsumerIdentity {
    /// The name.
    pub(crate) name: String,
    /// Held while the feed runs (none for a configured or per-process name).
    _state: Option<File>,
}

impl ConsumerIdentity {
    /// Resolves the name as the module docs say.
    ///
    /// # Errors
    /// [`FeedError::Identity`] when the state file is locked by another live instance.
    pub(crate) fn resolve(
        configured: Option<&str>,
        snapshot: Option<&SnapshotTarget>,
    ) -> Result<Self, FeedError> {
        if let Some(name) = configured {
            return Ok(Self {
                name: name.to_owned(),
                _state: None,
            });
        }
        if let Some(SnapshotTarget::File(snapshot)) = snapshot {
            let path = state_path(snapshot);
            match persisted(&path) {
                Ok(identity) => {
                    tracing::info!(consumer = %identity.name, state = %path.display(), "consumer name kept in the state file");
                    return Ok(identity);
                }
                Err(Persist::Locked) => {
                    return Err(FeedError::Identity(format!(
                        "{} is locked by another running pairwarm serve; give each instance its own PAIRWARM_SNAPSHOT or PAIRWARM_CONSUMER",
                        path.display()
                    )));
                }
                Err(Persist::Io(e)) => tracing::warn!(
                    state = %path.display(),
                    error = %e,
                    "cannot keep the consumer name in a state file; using a per-process name"
                ),
            }
        }
        let name = format!("{}-{}", hostname(), std::process::id());
        tracing::warn!(
            consumer = %name,
            "consumer name changes with every restart, so a restarted instance's pending entries wait for PAIRWARM_CLAIM_IDLE_MS; set PAIRWARM_CONSUMER or a file PAIRWARM_SNAPSHOT to keep it"
        );
        Ok(Self { name, _state: None })
    }
}

/// `<snapshot>.consumer`.
pub(crate) fn state_path(snapshot: &Path) -> PathBuf {
    let mut path = OsString::from(snapshot.as_os_str());
    path.push(".consumer");
    PathBuf::from(path)
}

enum Persist {
    Locked,
    Io(std::io::Error),
}

/// Opens and locks the state file, reads the name in it or writes a new one.
fn persisted(path: &Path) -> Result<ConsumerIdentity, Persist> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(Persist::Io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(Persist::Locked),
        Err(TryLockError::Error(e)) => return Err(Persist::Io(e)),
    }
    let mut text = String::new();
    // A file that is not text (or was cut short by a crash) gets a new name.
    let kept = file
        .read_to_string(&mut text)
        .ok()
        .and_then(|_| values::name(text.trim()).ok());
    let name = match kept {
        Some(name) => name,
        None => {
            let name = format!("{}-{:016x}", hostname(), random());
            file.set_len(0).map_err(Persist::Io)?;
            file.rewind().map_err(Persist::Io)?;
            file.write_all(format!("{name}\n").as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(Persist::Io)?;
            name
        }
    };
    Ok(ConsumerIdentity {
        name,
        _state: Some(file),
    })
}

/// The host's name (`/etc/hostname`), made a valid consumer-name part.
fn hostname() -> String {
    let host: String = std::fs::read_to_string("/etc/hostname")
        .unwrap_or_default()
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if host.is_empty() {
        "pairwarm".to_owned()
    } else {
        host
    }
}

/// 64 random bits (the standard library's per-process hash keys, mixed with the time).
fn random() -> u64 {
    std::collections::hash_map::RandomState::new()
        .hash_one((std::time::SystemTime::now(), std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_name_survives_and_its_file_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = SnapshotTarget::File(dir.path().join("tracker.snap"));
        let first = ConsumerIdentity::resolve(None, Some(&snapshot)).unwrap();
        assert!(values::name(&first.name).is_ok(), "{}", first.name);
        // While the first holds the lock, a second instance on the same file is refused.
        let err = ConsumerIdentity::resolve(None, Some(&snapshot))
            .err()
            .expect("the state file is locked");
        assert!(err.to_string().contains("locked by another"), "{err}");
        let name = first.name.clone();
        drop(first);
        let again = ConsumerIdentity::resolve(None, Some(&snapshot)).unwrap();
        assert_eq!(again.name, name);
        let configured = ConsumerIdentity::resolve(Some("mine"), Some(&snapshot)).unwrap();
        assert_eq!(configured.name, "mine");
    }

    #[test]
    fn without_a_file_snapshot_the_name_is_per_process() {
        let id = ConsumerIdentity::resolve(None, None).unwrap();
        assert!(
            id.name.ends_with(&format!("-{}", std::process::id())),
            "{}",
            id.name
        );
    }
}
