//! [`PrometheusServer`]: a real Prometheus (Debian's `prometheus` package) on a free
//! loopback port with a temporary storage directory, killed on drop; and [`require_tool`],
//! which finds `promtool` and `prometheus` on `PATH` or fails the test saying how to
//! install them (a test that needs them must fail, not pass silently, where they are
//! missing).

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::free_port;

/// The path of `name` (`promtool`, `prometheus`) on `PATH`.
///
/// # Panics
/// When it is not there, with the install command: these tests must fail, not skip, on a
/// machine without the tools (`./scripts/test.sh` installs them when run as root).
pub fn require_tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "`{name}` not found on PATH. It comes with Debian's `prometheus` package: \
             `apt-get install -y --no-install-recommends prometheus` (./scripts/test.sh \
             installs it when run as root)."
        )
    })
}

/// A `prometheus` child process on `127.0.0.1:<port>`.
pub struct PrometheusServer {
    child: Option<Child>,
    port: u16,
    /// `prometheus.yml`, the files it names, the server's log.
    config_dir: tempfile::TempDir,
    storage: tempfile::TempDir,
}

impl PrometheusServer {
    /// Writes `files` (`(name, contents)`, e.g. a rules file the config names) and
    /// `prometheus.yml` = `config` into a temporary directory, starts Prometheus on a free
    /// port with that directory as working directory and a temporary storage, and waits
    /// until `/-/ready` answers 200.
    ///
    /// # Panics
    /// If `prometheus` is not on `PATH` ([`require_tool`]) or does not become ready in 30 s
    /// (with its log).
    pub fn start(config: &str, files: &[(&str, &str)]) -> Self {
        let binary = require_tool("prometheus");
        let config_dir = tempfile::tempdir().expect("temp dir for prometheus");
        for (name, contents) in files {
            std::fs::write(config_dir.path().join(name), contents).expect("write prometheus file");
        }
        std::fs::write(config_dir.path().join("prometheus.yml"), config)
            .expect("write prometheus.yml");
        let mut server = Self {
            child: None,
            port: 0,
            config_dir,
            storage: tempfile::tempdir().expect("temp dir for prometheus storage"),
        };
        let mut last = String::new();
        // Retry on another port if the chosen one was taken meanwhile.
        for _ in 0..5 {
            server.port = free_port().expect("free port");
            match server.spawn(&binary) {
                Ok(()) => return server,
                Err(e) => last = e.to_string(),
            }
        }
        panic!("prometheus did not start: {last}");
    }

    /// The server's log so far (warnings and errors; rule evaluation failures show here).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.config_dir.path().join("prometheus.log")
    }

    fn spawn(&mut self, binary: &Path) -> io::Result<()> {
        let dir = self.config_dir.path();
        let child = Command::new(binary)
            .current_dir(dir)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                self.storage.path().display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.log_path())?)
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if get(self.addr(), "/-/ready").is_ok_and(|(status, _)| status == 200) {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.child = None;
                return Err(io::Error::other(format!(
                    "prometheus exited with {status}: {}",
                    self.log()
                )));
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(io::Error::other(format!(
                    "prometheus not ready within 30 s: {}",
                    self.log()
                )));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// `GET path` against the server's HTTP API: `(status, body)`.
    ///
    /// # Errors
    /// Connection or protocol errors.
    pub fn get(&self, path: &str) -> io::Result<(u16, String)> {
        get(self.addr(), path)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One HTTP/1.0 GET (the server closes the connection after the answer).
fn get(addr: SocketAddr, path: &str) -> io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::other("no end of headers"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line in {head:?}")))?;
    Ok((status, body.to_owned()))
}
