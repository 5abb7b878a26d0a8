//! [`Ready`]: a latch an embedding program waits on before sending traffic.

use tokio::sync::watch;

/// Readiness of a [`Service`](super::Service): L2 reachable and the feed running.
///
/// Clone it freely; [`Ready::wait`] resolves once the service is ready (at once if it is).
/// Readiness can drop again later (Redis unreachable, feed stopped): [`Ready::is_ready`]
/// says what it is now.
#[derive(Clone, Debug)]
pub struct Ready(watch::Receiver<bool>);

impl Ready {
    pub(super) fn new(rx: watch::Receiver<bool>) -> Self {
        Self(rx)
    }

    /// Ready now.
    pub fn is_ready(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits until ready. Returns `false` if the service was dropped before it got ready.
    pub async fn wait(&self) -> bool {
        let mut rx = self.0.clone();
        rx.wait_for(|ready| *ready).await.is_ok()
    }
}
