//! Test fixtures shared by pairwarm's test suites.
//!
//! [`RedisServer`] starts a real `redis-server` on a free loopback port with its own
//! temporary directory, waits until it answers `PING`, and kills it on drop. It can be
//! stopped (SIGKILL) and restarted on the same port to test reconnection, and reads
//! `INFO commandstats` so tests can count round trips instead of assuming them.
//! [`PrometheusServer`] does the same for a real Prometheus, and [`require_tool`] finds
//! `promtool`/`prometheus` or fails the test with the install command.
//!
//! [`RedisOptions`] adds what fault and security tests need: a password
//! (`requirepass`), an append-only file fsynced on every write (so a SIGKILLed server
//! comes back with everything it acknowledged), and TLS only (`rediss://`) with a CA,
//! server and client certificates generated for the test ([`TestTls`]).
//!
//! [`RedisCluster`] starts a 3-master Redis Cluster the same way.

mod cluster;
mod prometheus;
mod tls;

use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub use cluster::{CLUSTER_MASTERS, RedisCluster};
pub use prometheus::{PrometheusServer, require_tool};
pub use tls::TestTls;

/// How a [`RedisServer`] is configured beyond the defaults (no password, no persistence,
/// plain TCP).
#[derive(Clone, Debug, Default)]
pub struct RedisOptions {
    /// `requirepass`: clients must authenticate (the URL carries it).
    pub password: Option<String>,
    /// `appendonly yes` with `appendfsync always`: data survives a SIGKILL and restart.
    pub appendonly: bool,
    /// TLS only (no plain port), with test certificates; `true` also requires a client
    /// certificate (`tls-auth-clients yes`, redis-server's default).
    pub tls: Option<bool>,
}

/// A `redis-server` child process on `127.0.0.1:<port>`.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    options: RedisOptions,
    tls: Option<TestTls>,
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Whether the server behind `conn` is process `pid`. A free port may be taken between
/// choosing it and the server binding it (tests run in parallel); the server that failed
/// to bind exits, and until it does a PING on that port answers from someone else's.
fn answers_as(conn: &mut redis::Connection, pid: u32) -> bool {
    redis::cmd("INFO")
        .arg("server")
        .query::<String>(conn)
        .is_ok_and(|info| {
            info.lines()
                .any(|l| l.trim() == format!("process_id:{pid}"))
        })
}

fn binary() -> PathBuf {
    std::env::var_os("REDIS_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("redis-server"))
}

impl RedisServer {
    /// Starts a server on a free port. Panics with installation advice if `redis-server`
    /// is missing (the test script installs it).
    pub fn start() -> Self {
        match Self::try_start() {
            Ok(server) => server,
            Err(e) => panic!(
                "could not start redis-server ({e}); install it with `apt-get install -y redis-server` \
                 or point REDIS_SERVER_BIN at the binary"
            ),
        }
    }

    /// Starts a server configured by `options` (panics like [`RedisServer::start`]).
    pub fn start_with(options: RedisOptions) -> Self {
        match Self::try_start_with(options) {
            Ok(server) => server,
            Err(e) => panic!("could not start redis-server ({e})"),
        }
    }

    /// Starts a server, retrying on another port if the chosen one was taken meanwhile.
    pub fn try_start() -> io::Result<Self> {
        Self::try_start_with(RedisOptions::default())
    }

    /// [`RedisServer::try_start`] with `options`.
    pub fn try_start_with(options: RedisOptions) -> io::Result<Self> {
        let mut last_err = io::Error::other("no attempt made");
        for _ in 0..5 {
            let dir = tempfile::tempdir()?;
            let tls = match options.tls {
                Some(_) => Some(TestTls::generate(dir.path())?),
                None => None,
            };
            let mut server = Self {
                child: None,
                port: free_port()?,
                dir,
                options: options.clone(),
                tls,
            };
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }

    fn spawn(&mut self) -> io::Result<()> {
        let mut cmd = Command::new(binary());
        match &self.tls {
            None => cmd.arg("--port").arg(self.port.to_string()),
            Some(tls) => cmd
                .args(["--port", "0", "--tls-port"])
                .arg(self.port.to_string())
                .arg("--tls-cert-file")
                .arg(&tls.server_cert)
                .arg("--tls-key-file")
                .arg(&tls.server_key)
                .arg("--tls-ca-cert-file")
                .arg(&tls.ca_cert)
                .arg("--tls-auth-clients")
                .arg(if self.options.tls == Some(true) {
                    "yes"
                } else {
                    "optional"
                }),
        };
        cmd.args(["--bind", "127.0.0.1", "--save", ""]);
        if self.options.appendonly {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        if let Some(password) = &self.options.password {
            cmd.arg("--requirepass").arg(password);
        }
        let child = cmd
            .args(["--protected-mode", "yes", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.ping() {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                return Err(io::Error::other(format!(
                    "redis-server exited with {status} before answering"
                )));
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(io::Error::other(
                    "redis-server did not answer PING within 10 s",
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// A client for this server: the URL with its password, and for TLS the test CA and
    /// client certificate.
    pub fn client(&self) -> redis::RedisResult<redis::Client> {
        match &self.tls {
            None => redis::Client::open(self.url()),
            Some(tls) => tls.client(&self.url()),
        }
    }

    fn ping(&self) -> bool {
        let Ok(client) = self.client() else {
            return false;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(200)) else {
            return false;
        };
        let Some(pid) = self.child.as_ref().map(Child::id) else {
            return false;
        };
        redis::cmd("PING").query::<String>(&mut conn).is_ok() && answers_as(&mut conn, pid)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/`; `rediss://` with TLS, `:<password>@` with a password.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        let auth = self
            .options
            .password
            .as_ref()
            .map_or_else(String::new, |p| format!(":{p}@"));
        format!("{scheme}://{auth}127.0.0.1:{}/", self.port)
    }

    /// The test certificates of a TLS server.
    pub fn tls(&self) -> Option<&TestTls> {
        self.tls.as_ref()
    }

    /// Sends `signal` (`"STOP"`, `"CONT"`, `"TERM"`) to the server process.
    pub fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let status = Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(child.id().to_string())
                .status()
                .unwrap_or_else(|e| panic!("run kill: {e}"));
            assert!(status.success(), "kill -{signal} redis-server failed");
        }
    }

    /// Kills the server (the port stays reserved for [`RedisServer::restart`]).
    pub fn stop(&mut self) {
        self.kill();
    }

    /// Starts the server again on the same port (data is kept only with
    /// [`RedisOptions::appendonly`]).
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => panic!("redis-server restart failed: {e}"),
                Err(_) => thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// A synchronous connection for test setup and assertions.
    pub fn connection(&self) -> redis::Connection {
        self.client()
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .unwrap_or_else(|e| panic!("connect to test redis at {}: {e}", self.url()))
    }

    /// Calls of `command` (e.g. `"mget"`) since start or the last [`RedisServer::reset_stats`],
    /// from the server's own `INFO commandstats`.
    pub fn command_calls(&self, command: &str) -> u64 {
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query(&mut self.connection())
            .unwrap_or_else(|e| panic!("INFO commandstats: {e}"));
        parse_command_calls(&info, command)
    }

    /// Zeroes the server's command statistics (`CONFIG RESETSTAT`).
    pub fn reset_stats(&self) {
        let _: () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query(&mut self.connection())
            .unwrap_or_else(|e| panic!("CONFIG RESETSTAT: {e}"));
    }
}

/// Extracts `calls=N` of `cmdstat_<command>` from an `INFO commandstats` reply.
pub fn parse_command_calls(info: &str, command: &str) -> u64 {
    let prefix = format!("cmdstat_{}:", command.to_ascii_lowercase());
    info.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|rest| {
            rest.split(',')
                .find_map(|kv| kv.strip_prefix("calls="))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commandstats() {
        let info = "# Commandstats\r\ncmdstat_mget:calls=3,usec=10,usec_per_call=3.33\r\ncmdstat_set:calls=12,usec=1\r\n";
        assert_eq!(parse_command_calls(info, "MGET"), 3);
        assert_eq!(parse_command_calls(info, "set"), 12);
        assert_eq!(parse_command_calls(info, "get"), 0);
    }

    #[test]
    fn starts_answers_and_stops() {
        let mut server = RedisServer::start();
        let mut conn = server.connection();
        let _: () = redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query(&mut conn)
            .unwrap();
        assert!(server.command_calls("set") >= 1);
        server.stop();
        assert!(!server.ping());
        server.restart();
        assert!(server.ping());
    }

    #[test]
    fn password_aof_and_tls_servers_answer_their_own_clients() {
        let mut server = RedisServer::start_with(RedisOptions {
            password: Some("pw-test".into()),
            appendonly: true,
            tls: None,
        });
        assert!(server.url().starts_with("redis://:pw-test@127.0.0.1:"));
        let _: () = redis::cmd("SET")
            .arg("kept")
            .arg("1")
            .query(&mut server.connection())
            .unwrap();
        server.restart();
        let kept: Option<String> = redis::cmd("GET")
            .arg("kept")
            .query(&mut server.connection())
            .unwrap();
        assert_eq!(
            kept.as_deref(),
            Some("1"),
            "AOF kept the key across SIGKILL"
        );
        let tls = RedisServer::start_with(RedisOptions {
            tls: Some(true),
            ..RedisOptions::default()
        });
        assert!(tls.url().starts_with("rediss://127.0.0.1:"));
        assert!(tls.ping());
        // Without the client certificate the server refuses the handshake.
        let certs = tls.tls().unwrap();
        let anonymous = certs.client_without_certificate(&tls.url()).unwrap();
        assert!(
            anonymous
                .get_connection_with_timeout(Duration::from_secs(2))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_err()
        );
    }
}

#[cfg(test)]
mod tool_tests {
    #[test]
    fn a_missing_tool_fails_with_the_install_command() {
        let err = std::panic::catch_unwind(|| crate::require_tool("pairwarm-no-such-tool"))
            .expect_err("must panic");
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("pairwarm-no-such-tool"), "{msg}");
        assert!(msg.contains("apt-get install"), "{msg}");
    }
}
