//! The server's limits, over real TCP connections with short timeouts: idle and slow
//! clients are closed within their timeouts while other clients are answered, a stalled
//! body gets 408, a silent connection is dropped, extra clients wait for a free slot.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::routing::{get, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{ServerLimits, serve};

const SHORT: Duration = Duration::from_millis(400);
/// Far longer than any limit under test: reaching it means the server never closed.
const NEVER: Duration = Duration::from_secs(20);

fn app() -> Router {
    Router::new().route("/ok", get(|| async { "ok" })).route(
        "/body",
        post(|body: Bytes| async move { body.len().to_string() }),
    )
}

struct Server {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start(limits: ServerLimits) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, app(), limits, async move {
        let _ = rx.await;
    }));
    Server {
        addr,
        stop: Some(tx),
    }
}

/// `GET /ok` on a fresh connection: the status, or the I/O error.
async fn get_ok(addr: std::net::SocketAddr) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(b"GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await?;
    let mut out = Vec::new();
    tokio::time::timeout(NEVER, s.read_to_end(&mut out))
        .await
        .map_err(|_| std::io::Error::other("no answer"))??;
    let text = String::from_utf8_lossy(&out);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad response {text:?}")))
}

/// Reads until the server closes; returns what it sent and how long that took.
async fn until_closed(s: &mut TcpStream) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout(NEVER, s.read(&mut buf)).await {
            Err(_) => panic!("the server kept the connection open for {NEVER:?}"),
            Ok(Ok(0) | Err(_)) => return (out, started.elapsed()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

fn limits(header: Duration, request: Duration, idle: Duration, max: usize) -> ServerLimits {
    ServerLimits {
        header_timeout: header,
        request_timeout: request,
        idle_timeout: idle,
        max_connections: max,
    }
}

#[tokio::test]
async fn idle_and_slow_header_clients_are_closed_while_others_are_answered() {
    let server = start(limits(SHORT, NEVER, NEVER, 1000)).await;
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // A client sending its request line one byte every 100 ms.
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    let trickle = tokio::spawn(async move {
        for b in b"GET /ok HTTP/1.1\r\nHost: slow-client\r\n\r\n" {
            if slow.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        until_closed(&mut slow).await
    });
    // Others are answered while the 301 are held.
    for _ in 0..3 {
        assert_eq!(get_ok(server.addr).await.unwrap(), 200);
    }
    for conn in &mut idle {
        let (sent, _) = until_closed(conn).await;
        assert!(
            sent.is_empty() || sent.starts_with(b"HTTP/1.1 408"),
            "{sent:?}"
        );
    }
    let (sent, took) = trickle.await.unwrap();
    assert!(
        !String::from_utf8_lossy(&sent).contains("200 OK"),
        "the slow request must not complete: {sent:?}"
    );
    assert!(took < NEVER, "{took:?}");
    assert_eq!(get_ok(server.addr).await.unwrap(), 200);
}

#[tokio::test]
async fn a_stalled_body_gets_408_after_the_request_timeout() {
    let server = start(limits(NEVER, SHORT, NEVER, 16)).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nab")
        .await
        .unwrap();
    let (sent, _) = until_closed(&mut s).await;
    let text = String::from_utf8_lossy(&sent);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    // A complete body within the timeout is fine.
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        b"POST /body HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
    )
    .await
    .unwrap();
    let (sent, _) = until_closed(&mut s).await;
    assert!(
        String::from_utf8_lossy(&sent).ends_with("\r\n\r\n3"),
        "{sent:?}"
    );
}

#[tokio::test]
async fn a_silent_connection_is_dropped_after_the_idle_timeout() {
    // The request timeout is far away: only the idle timeout can end this connection.
    let server = start(limits(NEVER, NEVER, SHORT, 16)).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n")
        .await
        .unwrap();
    let (sent, took) = until_closed(&mut s).await;
    assert!(sent.is_empty(), "closed without an answer: {sent:?}");
    assert!(took < NEVER, "{took:?}");
}

#[tokio::test]
async fn clients_over_the_connection_limit_wait_for_a_free_slot() {
    let server = start(limits(NEVER, NEVER, NEVER, 2)).await;
    let first = TcpStream::connect(server.addr).await.unwrap();
    let _second = TcpStream::connect(server.addr).await.unwrap();
    // The third connects (the kernel queues it) but is not served while both slots are
    // taken...
    let third = tokio::spawn(get_ok(server.addr));
    tokio::time::sleep(SHORT).await;
    assert!(!third.is_finished(), "served beyond the connection limit");
    // ...and is served as soon as one closes.
    drop(first);
    assert_eq!(third.await.unwrap().unwrap(), 200);
}

#[test]
fn the_connection_limit_stays_below_the_open_file_limit() {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .expect("a finite open-file limit in tests");
    let huge = limits(SHORT, SHORT, SHORT, usize::MAX).fitted();
    assert_eq!(
        huge.max_connections as u64,
        soft.saturating_sub(super::RESERVED_FDS).max(1)
    );
    let small = limits(SHORT, SHORT, SHORT, 3).fitted();
    assert_eq!(small.max_connections, 3);
}
