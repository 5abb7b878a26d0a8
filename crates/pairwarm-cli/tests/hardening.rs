//! Hardening of `pairwarm serve` (issue 13, first half), on the real binary against real
//! redis-servers the tests start: permanent Redis errors end the process with a message
//! while transient ones are retried; the Redis password never reaches any output; TLS with
//! a test CA; a consumer name that survives restarts and the removal of dead consumers;
//! HTTP clients that hold connections cannot starve the consumer or the endpoints.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use pairwarm_testkit::{RedisOptions, RedisServer};
use support::*;

const STREAM: &str = "stream:price-updates";
const GROUP: &str = "pairwarm";
const WAIT: Duration = Duration::from_secs(60);
const EXIT: Duration = Duration::from_secs(30);
const SHUTDOWN: Duration = Duration::from_secs(15);
const PASSWORD: &str = "pw-Hunter2-never-printed";

fn with_password() -> RedisServer {
    RedisServer::start_with(RedisOptions {
        password: Some(PASSWORD.into()),
        ..RedisOptions::default()
    })
}

/// Runs serve until it exits by itself; returns its stderr after asserting a failure exit.
fn serve_fails(redis_url: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = serve_command(pairwarm(), redis_url, args, env);
    cmd.env("RUST_LOG", "debug");
    let mut proc = Proc::spawn(cmd);
    let status = proc.wait_exit(EXIT);
    let err = proc.stderr();
    assert!(!status.success(), "serve exited with {status}\n{err}");
    err
}

fn feed_entries(conn: &mut redis::Connection, n: u32) {
    let mut pipe = redis::pipe();
    for i in 0..n {
        let fields = valid_entry("ethereum", i + 1);
        pipe.cmd("XADD").arg(STREAM).arg("*");
        for (k, v) in &fields {
            pipe.arg(k.as_slice()).arg(v.as_slice());
        }
        pipe.ignore();
    }
    let _: () = pipe.query(conn).unwrap();
}

// --- Permanent and transient Redis errors -------------------------------------------------

#[test]
fn permanent_redis_errors_exit_non_zero_with_what_to_fix() {
    let redis = with_password();
    let port = redis.port();
    // A wrong password, and none at all (NOAUTH).
    for url in [
        format!("redis://:wrong-{PASSWORD}@127.0.0.1:{port}/"),
        format!("redis://127.0.0.1:{port}/"),
    ] {
        let err = serve_fails(Some(&url), &[], &[]);
        assert!(err.contains("authentication failed"), "{url}:\n{err}");
        assert!(!err.contains(PASSWORD), "password printed:\n{err}");
    }
    // The stream key holds a string.
    let plain = RedisServer::start();
    let _: () = redis::cmd("SET")
        .arg(STREAM)
        .arg("not a stream")
        .query(&mut plain.connection())
        .unwrap();
    let err = serve_fails(Some(&plain.url()), &[], &[]);
    assert!(err.contains("WRONGTYPE"), "{err}");
    assert!(err.contains("is not a stream"), "{err}");
    // Values that can never work are refused before anything starts.
    for (args, env, variable) in [
        (&["--batch-size", "0"][..], &[][..], "PAIRWARM_BATCH_SIZE"),
        (&["--block-ms", "0"][..], &[][..], "PAIRWARM_BLOCK_MS"),
        (&[][..], &[("REDIS_URL", "")][..], "REDIS_URL"),
        (
            &[][..],
            &[("PAIRWARM_ADMIN_TOKEN", "   ")][..],
            "PAIRWARM_ADMIN_TOKEN",
        ),
    ] {
        let url = plain.url();
        let err = serve_fails(Some(url.as_str()).filter(|_| env.is_empty()), args, env);
        assert!(err.contains(variable), "{args:?} {env:?}:\n{err}");
    }
}

#[test]
fn transient_redis_errors_are_retried_until_redis_answers() {
    // Connection refused: nothing listens yet.
    let mut redis = RedisServer::start();
    redis.stop();
    let mut serve = Serve::start(Some(&redis.url()), &[], &[]);
    wait_for(
        WAIT,
        "retries logged while Redis is down",
        || serve.proc.stderr().contains("retrying").then_some(()),
        || serve.ctx(),
    );
    assert_eq!(serve.get("/ready").status, 503);
    assert_eq!(serve.get("/health").status, 200);
    redis.restart();
    // BUSY: a script runs past busy-reply-threshold, so every other command is refused.
    let mut admin = redis.connection();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("busy-reply-threshold")
        .arg("100")
        .query(&mut admin)
        .unwrap();
    let mut busy = redis.connection();
    let script = std::thread::spawn(move || {
        redis::cmd("EVAL")
            .arg("local i = 0 while true do i = i + 1 end")
            .arg(0)
            .query::<redis::Value>(&mut busy)
    });
    wait_for(
        WAIT,
        "BUSY replies retried",
        || serve.proc.stderr().contains("BUSY").then_some(()),
        || serve.ctx(),
    );
    assert!(serve.proc.try_exit().is_none(), "{}", serve.ctx());
    let _: () = redis::cmd("SCRIPT").arg("KILL").query(&mut admin).unwrap();
    let _ = script.join();
    feed_entries(&mut admin, 500);
    serve.wait_processed(500, WAIT);
    assert_eq!(xpending_total(&mut admin, STREAM, GROUP), 0);
    // Readiness follows the L2 check (a PING every 500 ms), which may not have run since
    // the script was killed: wait for it rather than read it once.
    wait_for(
        WAIT,
        "/ready 200 after BUSY ended",
        || (serve.get("/ready").status == 200).then_some(()),
        || serve.ctx(),
    );
    serve.terminate(SHUTDOWN);
}

// --- The password never printed -------------------------------------------------------------

#[test]
fn the_redis_password_never_reaches_logs_errors_or_documents() {
    let mut redis = with_password();
    let url = redis.url();
    assert!(url.contains(PASSWORD));
    // A working run, then Redis killed: connection errors are logged, health goes red.
    let serve = Serve::start(Some(&url), &[], &[("RUST_LOG", "debug")]);
    let mut conn = redis.connection();
    feed_entries(&mut conn, 200);
    serve.wait_processed(200, WAIT);
    redis.stop();
    wait_for(
        WAIT,
        "/ready 503 with Redis down",
        || (serve.get("/ready").status == 503).then_some(()),
        || serve.ctx(),
    );
    let mut documents = String::new();
    for path in ["/health", "/ready", "/health/warming", "/metrics"] {
        documents.push_str(&serve.get(path).body);
    }
    wait_for(
        WAIT,
        "connection errors logged",
        || {
            serve
                .proc
                .stderr()
                .contains("Connection refused")
                .then_some(())
        },
        || serve.ctx(),
    );
    let err = serve.terminate(SHUTDOWN);
    assert!(!documents.contains(PASSWORD), "{documents}");
    assert!(!err.contains(PASSWORD), "{err}");
    // Refused at start (wrong password), and a URL that is not valid at all.
    redis.restart();
    let wrong = url.replace(PASSWORD, &format!("{PASSWORD}-x"));
    let err = serve_fails(Some(&wrong), &[], &[]);
    assert!(!err.contains(PASSWORD), "{err}");
    let invalid = format!("redis://app:{PASSWORD}@127.0.0.1:notaport/0");
    let err = serve_fails(Some(&invalid), &[], &[]);
    assert!(
        err.contains("redis://app:***@127.0.0.1:notaport/0"),
        "{err}"
    );
    assert!(!err.contains(PASSWORD), "{err}");
    // The feed tool and its --help.
    let out = pairwarm()
        .args([
            "feed",
            "--synthetic",
            "--count",
            "10",
            "--redis-url",
            &wrong,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && !text.contains(PASSWORD), "{text}");
    let help = pairwarm()
        .args(["feed", "--help"])
        .env("REDIS_URL", &url)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains(PASSWORD));
}

// --- TLS ------------------------------------------------------------------------------------

#[test]
fn rediss_with_a_test_ca_and_client_certificate() {
    let redis = RedisServer::start_with(RedisOptions {
        tls: Some(true),
        ..RedisOptions::default()
    });
    let tls = redis.tls().unwrap().clone();
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let (ca, cert, key) = (
        path(&tls.ca_cert),
        path(&tls.client_cert),
        path(&tls.client_key),
    );
    let env = [
        ("REDIS_TLS_CA_FILE", ca.as_str()),
        ("REDIS_TLS_CERT_FILE", cert.as_str()),
        ("REDIS_TLS_KEY_FILE", key.as_str()),
    ];
    let mut conn = redis.connection();
    feed_entries(&mut conn, 1_000);
    let serve = Serve::start(Some(&redis.url()), &[], &env);
    let h = serve.wait_processed(1_000, WAIT);
    assert_eq!(h["status"], "healthy", "{h:#}");
    assert_eq!(xpending_total(&mut conn, STREAM, GROUP), 0);
    // Written through to the TLS Redis.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("cache:l2:price:ethereum:*")
        .query(&mut conn)
        .unwrap();
    assert_eq!(keys.len(), 1_000);
    // `pairwarm feed` takes the same variables.
    let mut feed = pairwarm();
    // Flat entries, one update each, so entries and updates count alike.
    feed.args([
        "feed",
        "--synthetic",
        "--format",
        "flat",
        "--rate",
        "0",
        "--quiet",
        "--count",
        "500",
    ])
    .env("REDIS_URL", redis.url())
    .envs(env);
    let out = feed.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serve.wait_processed(1_500, WAIT);
    serve.terminate(SHUTDOWN);

    // A CA that did not sign the server's certificate: verification fails, serve exits.
    let other = path(&tls.other_ca_cert);
    let err = serve_fails(
        Some(&redis.url()),
        &[],
        &[
            ("REDIS_TLS_CA_FILE", other.as_str()),
            ("REDIS_TLS_CERT_FILE", cert.as_str()),
            ("REDIS_TLS_KEY_FILE", key.as_str()),
        ],
    );
    assert!(err.contains("TLS failed"), "{err}");
    // TLS files with a redis:// URL are a configuration error.
    let plain = redis.url().replace("rediss://", "redis://");
    let err = serve_fails(Some(&plain), &[], &env);
    assert!(
        err.contains("REDIS_TLS_CA_FILE") && err.contains("rediss://"),
        "{err}"
    );
}

// --- Consumer identity ----------------------------------------------------------------------

#[test]
fn a_kept_consumer_name_re_reads_its_pending_entries_at_once_after_a_restart() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("tracker.snap");
    let snap = snapshot.to_str().unwrap();
    feed_entries(&mut conn, 100);
    let serve = Serve::start(Some(&redis.url()), &["--snapshot", snap], &[]);
    serve.wait_processed(100, WAIT);
    serve.terminate(SHUTDOWN);
    let state = std::fs::read_to_string(dir.path().join("tracker.snap.consumer")).unwrap();
    let name = state.trim().to_owned();
    assert!(!name.is_empty());
    // The same instance "crashes" with 200 entries read and not acknowledged.
    feed_entries(&mut conn, 300);
    let _ = read_without_ack(&mut conn, STREAM, GROUP, &name, 200);
    assert_eq!(xpending_total(&mut conn, STREAM, GROUP), 200);
    // Restarted with the default claim timeout (30 s): only its own recovery read can take
    // these back within the wait, under the same name.
    let serve = Serve::start(Some(&redis.url()), &["--snapshot", snap], &[]);
    serve.wait_processed(300, Duration::from_secs(20));
    assert_eq!(xpending_total(&mut conn, STREAM, GROUP), 0);
    let err = serve.proc.stderr();
    assert!(
        err.contains("re-read this consumer's own pending entries"),
        "{err}"
    );
    assert!(!err.contains("claimed entries"), "{err}");
    assert_eq!(consumers(&mut conn, STREAM, GROUP), [(name.clone(), 0)]);
    // A second instance on the same state file is refused (it would share the name).
    let err = serve_fails(Some(&redis.url()), &["--snapshot", snap], &[]);
    assert!(
        err.contains("locked by another running pairwarm serve"),
        "{err}"
    );
    serve.terminate(SHUTDOWN);
    let again = std::fs::read_to_string(dir.path().join("tracker.snap.consumer")).unwrap();
    assert_eq!(again.trim(), name);
}

#[test]
fn dead_consumers_are_removed_but_never_while_they_own_pending_entries() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    create_group(&mut conn, STREAM, GROUP);
    let _: i64 = redis::cmd("XGROUP")
        .arg("CREATECONSUMER")
        .arg(STREAM)
        .arg(GROUP)
        .arg("ghost")
        .query(&mut conn)
        .unwrap();
    feed_entries(&mut conn, 5);
    let _ = read_without_ack(&mut conn, STREAM, GROUP, "owner", 5);
    std::thread::sleep(Duration::from_millis(1_100));
    // Claims far away: "owner" keeps its 5 pending entries during the test.
    let serve = Serve::start(
        Some(&redis.url()),
        &[
            "--consumer",
            "live",
            "--dead-consumer-idle",
            "1s",
            "--claim-idle-ms",
            "600000",
        ],
        &[],
    );
    let names = |conn: &mut redis::Connection| {
        let mut c = consumers(conn, STREAM, GROUP);
        c.sort();
        c
    };
    wait_for(
        WAIT,
        "the idle consumer without pending entries removed",
        || {
            let c = names(&mut conn);
            (!c.iter().any(|(n, _)| n == "ghost")).then_some(())
        },
        || serve.ctx(),
    );
    // Several more passes: the owner of pending entries stays.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        names(&mut conn),
        [("live".to_owned(), 0), ("owner".to_owned(), 5)]
    );
    // Once its entries are acknowledged (as after a claim), it goes too.
    let ids: Vec<String> = xrange(&mut conn, STREAM)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let _: i64 = redis::cmd("XACK")
        .arg(STREAM)
        .arg(GROUP)
        .arg(&ids)
        .query(&mut conn)
        .unwrap();
    wait_for(
        WAIT,
        "the former owner removed",
        || (names(&mut conn) == [("live".to_owned(), 0)]).then_some(()),
        || serve.ctx(),
    );
    assert!(serve.proc.stderr().contains("removed idle consumers"));
    serve.terminate(SHUTDOWN);
}

// --- HTTP clients holding connections -------------------------------------------------------

/// Opens `n` connections that send nothing.
fn idle_connections(addr: std::net::SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap())
        .collect()
}

/// Whether the server closed `conn` (EOF or reset) within `within`.
fn closed_by_server(conn: &mut TcpStream, within: Duration) -> bool {
    conn.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                );
            }
        }
    }
}

#[test]
fn idle_and_one_byte_per_second_clients_are_closed_while_metrics_answers() {
    let serve = Serve::start(
        None,
        &[
            "--http-header-timeout",
            "2s",
            "--http-idle-timeout",
            "3s",
            "--http-max-connections",
            "400",
            "--feed",
            "none",
        ],
        &[],
    );
    let mut idle = idle_connections(serve.addr, 300);
    let addr = serve.addr;
    let slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let mut closed = false;
        for b in b"GET /metrics HTTP/1.1\r\nHost: slow\r\n\r\n" {
            if s.write_all(&[*b]).is_err() {
                closed = true;
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        closed || closed_by_server(&mut s, Duration::from_secs(1))
    });
    for _ in 0..3 {
        assert_eq!(serve.get("/metrics").status, 200, "{}", serve.ctx());
        std::thread::sleep(Duration::from_millis(300));
    }
    for conn in &mut idle {
        assert!(
            closed_by_server(conn, Duration::from_secs(20)),
            "{}",
            serve.ctx()
        );
    }
    assert!(slow.join().unwrap(), "the 1-byte/s client was not closed");
    assert_eq!(serve.get("/metrics").status, 200);
    serve.terminate(SHUTDOWN);
}

#[test]
fn held_http_connections_cannot_starve_the_consumer_of_descriptors() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let cmd = serve_command(
        pairwarm_with_open_files(256),
        Some(&redis.url()),
        &["--http-header-timeout", "60s", "--http-idle-timeout", "60s"],
        &[],
    );
    let serve = Serve::spawn(cmd);
    feed_entries(&mut conn, 100);
    serve.wait_processed(100, WAIT);
    // More connections than descriptors; they stay open for the header timeout.
    let idle = idle_connections(serve.addr, 300);
    std::thread::sleep(Duration::from_millis(500));
    // Every Redis client connection killed: the consumer and L2 must open new sockets.
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query(&mut conn)
        .unwrap();
    feed_entries(&mut conn, 1_000);
    // Watched through Redis: the endpoints queue behind the held connections.
    wait_for(
        WAIT,
        "the new entries read and acknowledged after the reconnect",
        || {
            let info = group_info(&mut conn, STREAM, GROUP);
            (info.entries_read == 1_100 && info.lag == 0 && info.pending == 0).then_some(())
        },
        || serve.ctx(),
    );
    drop(idle);
    wait_for(
        WAIT,
        "/metrics once the held connections are gone",
        || {
            http(serve.addr, "GET", "/metrics", &[], None)
                .ok()
                .filter(|r| r.status == 200)
        },
        || serve.ctx(),
    );
    serve.terminate(SHUTDOWN);
}
