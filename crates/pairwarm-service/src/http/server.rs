//! The HTTP server around the router: timeouts, a connection limit and graceful shutdown.
//!
//! axum's own `serve` has no header-read or idle timeout and accepts without limit, so one
//! client holding hundreds of idle connections could use up the process's file descriptors
//! — including those the stream consumer needs to reconnect to Redis. Here, per
//! connection (hyper's HTTP/1 server, driven by our accept loop):
//!
//! | limit | what it bounds | how |
//! |---|---|---|
//! | `header_timeout` | a request's headers must be complete this long after the server starts waiting for them: a client sending 1 byte/s, and an idle keep-alive connection (hyper starts the timer when it waits for the next request) | hyper's `header_read_timeout` |
//! | `request_timeout` | from the headers to the response, reading the body included: answered `408` | tower-http's `TimeoutLayer` |
//! | `idle_timeout` | no byte read or written for this long: a client that stopped reading its response or went silent mid-body | [`IdleIo`] and a watchdog per connection |
//! | `max_connections` | open connections; further clients wait in the kernel's listen queue (no descriptor used) until one closes | a semaphore permit taken **before** `accept` |
//! | body | 64 KiB ([`MAX_BODY_BYTES`]) on every route, headers 16 KiB | `RequestBodyLimitLayer`, hyper's `max_buf_size` |
//!
//! The connection limit is sized from the open-file limit: at most `RLIMIT_NOFILE` (soft)
//! minus [`RESERVED_FDS`], which keeps descriptors for the Redis connections (L2, the two
//! of the stream consumer, and a reconnect of each while the old socket closes), the
//! snapshot and state files, the runtime's own descriptors and the listener.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use super::{MAX_BODY_BYTES, SHUTDOWN_DRAIN};
use crate::config::HttpSettings;

/// Descriptors kept out of the HTTP connection limit (see the module docs).
pub const RESERVED_FDS: u64 = 64;

/// Largest request head (request line and headers) hyper buffers.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Per-connection limits of [`serve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Complete request headers within this (also the idle keep-alive limit).
    pub header_timeout: Duration,
    /// From headers to response, body included.
    pub request_timeout: Duration,
    /// No byte moving either way for this long closes the connection.
    pub idle_timeout: Duration,
    /// Open connections at most (before [`ServerLimits::fitted`] lowers it).
    pub max_connections: usize,
}

impl Default for ServerLimits {
    /// The defaults of the settings table.
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 256,
        }
    }
}

impl ServerLimits {
    /// The `PAIRWARM_HTTP_*` settings.
    pub fn from_settings(http: &HttpSettings) -> Self {
        Self {
            header_timeout: http.header_timeout,
            request_timeout: http.request_timeout,
            idle_timeout: http.idle_timeout,
            max_connections: http.max_connections,
        }
    }

    /// The connection limit lowered to what the open-file limit allows
    /// (`RLIMIT_NOFILE` soft limit minus [`RESERVED_FDS`], at least 1); unchanged when the
    /// limit is unknown or unlimited.
    pub fn fitted(mut self) -> Self {
        if let Some(soft) = open_file_limit() {
            let allowed =
                usize::try_from(soft.saturating_sub(RESERVED_FDS).max(1)).unwrap_or(usize::MAX);
            if self.max_connections > allowed {
                tracing::warn!(
                    configured = self.max_connections,
                    lowered_to = allowed,
                    open_file_limit = soft,
                    reserved = RESERVED_FDS,
                    "HTTP connection limit lowered to the open-file limit minus the descriptors kept for Redis and files"
                );
                self.max_connections = allowed;
            }
        }
        self
    }
}

#[cfg(unix)]
fn open_file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<u64> {
    None
}

/// Serves `router` on `listener` with `limits` until `shutdown` completes, then lets
/// requests in flight finish for at most [`SHUTDOWN_DRAIN`] (idle connections close at
/// once).
///
/// # Errors
/// None today: failed accepts are logged and retried after a pause (running out of
/// descriptors must not end the server); the `io::Result` keeps room for listener errors.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let limits = limits.fitted();
    let app = router
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // The permit first: at the limit, nothing is accepted (no descriptor is taken).
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service =
            app.clone()
                .map_request(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                    req
                });
        let io = IdleIo::new(stream);
        let last_io = io.last_io.clone();
        let conn = http.serve_connection(
            TokioIo::new(io),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let conn = graceful.watch(conn);
        let idle_timeout = limits.idle_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                result = conn => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
                    }
                }
                () = idle(&last_io, idle_timeout) => {
                    tracing::debug!(%peer, ?idle_timeout, "HTTP connection idle; closed");
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            drain_secs = SHUTDOWN_DRAIN.as_secs(),
            "HTTP requests still open after the shutdown drain period; abandoning them"
        );
    }
    Ok(())
}

/// A failed `accept`: connection-level errors (the peer gave up) are skipped; anything
/// else (out of descriptors) is logged and waited out briefly, never spun on.
async fn accept_failed(e: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "HTTP accept failed; pausing 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Resolves once no byte has moved on the connection for `timeout`.
async fn idle(last_io: &LastIo, timeout: Duration) {
    loop {
        let quiet = last_io.elapsed();
        if quiet >= timeout {
            return;
        }
        tokio::time::sleep(timeout - quiet).await;
    }
}

/// When a connection last moved a byte, as milliseconds since its start.
#[derive(Clone)]
struct LastIo {
    start: Instant,
    ms: Arc<AtomicU64>,
}

impl LastIo {
    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.ms.store(ms, Ordering::Relaxed);
    }

    fn elapsed(&self) -> Duration {
        let at = self.start + Duration::from_millis(self.ms.load(Ordering::Relaxed));
        at.elapsed()
    }
}

/// A connection's I/O that records when a byte last moved either way.
struct IdleIo<T> {
    inner: T,
    last_io: LastIo,
}

impl<T> IdleIo<T> {
    fn new(inner: T) -> Self {
        Self {
            inner,
            last_io: LastIo {
                start: Instant::now(),
                ms: Arc::new(AtomicU64::new(0)),
            },
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.last_io.touch();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.last_io.touch();
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.last_io.touch();
        }
        result
    }
}
