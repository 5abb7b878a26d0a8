//! Test fixtures shared by pairwarm's test suites.
//!
//! [`RedisServer`] starts a real `redis-server` on a free loopback port with its own
//! temporary directory, waits until it answers `PING`, and kills it on drop. It can be
//! stopped and restarted on the same port to test reconnection, and reads
//! `INFO commandstats` so tests can count round trips instead of assuming them.
//! [`PrometheusServer`] does the same for a real Prometheus, and [`require_tool`] finds
//! `promtool`/`prometheus` or fails the test with the install command.

use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

mod prometheus;

pub use prometheus::{PrometheusServer, require_tool};

/// A `redis-server` child process on `127.0.0.1:<port>`.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
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

    /// Starts a server, retrying on another port if the chosen one was taken meanwhile.
    pub fn try_start() -> io::Result<Self> {
        let mut last_err = io::Error::other("no attempt made");
        for _ in 0..5 {
            let mut server = Self {
                child: None,
                port: free_port()?,
                dir: tempfile::tempdir()?,
            };
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }

    fn spawn(&mut self) -> io::Result<()> {
        let child = Command::new(binary())
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
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

    fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(200)) else {
            return false;
        };
        redis::cmd("PING").query::<String>(&mut conn).is_ok()
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

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (the port stays reserved for [`RedisServer::restart`]).
    pub fn stop(&mut self) {
        self.kill();
    }

    /// Starts the server again on the same port (data is not kept).
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
        redis::Client::open(self.url())
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
