//! Shared by the service's integration tests: a service running in a task of the test's
//! runtime, stopped (and its result checked) at the end.

use std::time::Duration;

use pairwarm_service::{RunSummary, Service, ServiceError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// `service.run(..)` in a task, until [`Running::stop`].
#[allow(dead_code)] // `service` is read by some test files only
pub struct Running {
    pub service: Service,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<RunSummary, ServiceError>>,
}

impl Running {
    /// Starts `service` and waits until it is ready.
    pub async fn start(service: Service) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn({
            let service = service.clone();
            async move {
                service
                    .run(async {
                        let _ = stopped.await;
                    })
                    .await
            }
        });
        assert!(service.ready().wait().await, "the service never got ready");
        Self {
            service,
            stop,
            task,
        }
    }

    /// Stops the service and returns what its run did; panics if it failed.
    pub async fn stop(self) -> RunSummary {
        let _ = self.stop.send(());
        self.task.await.expect("run task").expect("run")
    }
}

/// Polls `f` every 20 ms until it returns `Some`; panics with `what` after `limit`.
#[allow(dead_code)] // not every test file polls
pub async fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The number at a dotted `path` of a health document (`"stream.processed"`).
#[allow(dead_code)] // not every test file reads health documents
pub fn num(v: &serde_json::Value, path: &str) -> u64 {
    let mut cur = v;
    for part in path.split('.') {
        cur = &cur[part];
    }
    cur.as_u64()
        .unwrap_or_else(|| panic!("{path} is not a number in {v:#}"))
}
