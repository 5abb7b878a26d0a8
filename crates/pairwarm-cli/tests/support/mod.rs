//! Helpers of the `serve` integration tests: the `pairwarm` binary as a child process
//! (killed on drop, stderr captured), a minimal HTTP/1.1 client, a Prometheus text parser
//! and a few Redis Streams queries.

#![allow(dead_code)]

pub mod ops;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_pairwarm");

/// A `pairwarm` command with a clean environment (no serve variables, no colours).
pub fn pairwarm() -> Command {
    let mut cmd = Command::new(BIN);
    // Every variable `pairwarm serve` reads (the settings table), so the test runner's
    // environment cannot change what a test configures.
    for s in pairwarm_service::config::settings() {
        cmd.env_remove(s.name);
    }
    cmd.env_remove("RUST_LOG");
    cmd.env("NO_COLOR", "1");
    cmd
}

/// Polls `f` every 20 ms until it returns `Some`, or panics after `timeout` with `what`
/// and the extra context `ctx()`.
pub fn wait_for<T>(
    timeout: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
    ctx: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}\n{}",
            ctx()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed on drop, its stderr collected by a thread.
pub struct Proc {
    child: Child,
    stderr: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
    exit: Option<ExitStatus>,
}

impl Proc {
    /// Spawns `cmd` with stdout discarded and stderr captured.
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let pipe = child.stderr.take().expect("stderr is piped");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let reader = thread::spawn(move || {
            let mut lines = BufReader::new(pipe);
            let mut line = Vec::new();
            while let Ok(n) = lines.read_until(b'\n', &mut line) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&line));
                line.clear();
            }
        });
        Self {
            child,
            stderr,
            reader: Some(reader),
            exit: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends a signal (`"TERM"`, `"HUP"`, ...) with the system's `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// The exit status if the process has ended.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().expect("try_wait");
        }
        self.exit
    }

    /// Waits for the process to end; panics after `timeout`. Returns the status once the
    /// stderr reader has seen the end of the pipe (so [`Proc::stderr`] is complete).
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.try_exit() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "process {} still running after {timeout:?}\nstderr:\n{}",
                self.pid(),
                self.stderr()
            );
            thread::sleep(Duration::from_millis(20));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        status
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.try_exit().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// A running `pairwarm serve` with its HTTP address.
pub struct Serve {
    pub proc: Proc,
    pub addr: SocketAddr,
}

impl Serve {
    /// Starts `pairwarm serve --listen 127.0.0.1:0 --status-interval 0 <args>` with `env`
    /// (`REDIS_URL` included when given) and waits for its banner, which names the
    /// address actually bound. `args` may give its own `--status-interval`.
    pub fn start(redis_url: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(serve_command(pairwarm(), redis_url, args, env))
    }

    /// Starts a serve command built by [`serve_command`] (e.g. under `prlimit`) and waits
    /// for its banner.
    pub fn spawn(cmd: Command) -> Self {
        let mut proc = Proc::spawn(cmd);
        let addr = wait_for(
            Duration::from_secs(30),
            "the serve banner with its HTTP address",
            || {
                if let Some(status) = proc.try_exit() {
                    panic!(
                        "serve exited with {status} before listening\nstderr:\n{}",
                        proc.stderr()
                    );
                }
                let err = proc.stderr();
                let at = err.find("http://")? + "http://".len();
                let rest = &err[at..];
                let end = rest.find([' ', '\n'])?;
                rest[..end].parse::<SocketAddr>().ok()
            },
            String::new,
        );
        Self { proc, addr }
    }

    /// Stderr so far, for assertion messages.
    pub fn ctx(&self) -> String {
        format!("serve stderr:\n{}", self.proc.stderr())
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], None)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Response {
        http(self.addr, method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.ctx()))
    }

    /// `/health/warming` as JSON (any HTTP status).
    pub fn health(&self) -> Value {
        let r = self.get("/health/warming");
        serde_json::from_str(&r.body)
            .unwrap_or_else(|e| panic!("/health/warming body is not JSON ({e}): {}", r.body))
    }

    /// `/metrics`, parsed; panics unless 200.
    pub fn metrics(&self) -> Metrics {
        let r = self.get("/metrics");
        assert_eq!(r.status, 200, "/metrics: {}\n{}", r.body, self.ctx());
        Metrics::parse(&r.body)
    }

    /// Waits until `/health/warming` `stream.processed` reaches `n` (panics if it goes
    /// past) and returns a health document taken after that.
    ///
    /// The document that shows `processed == n` is not returned: it reads the tracker and
    /// warmer counters before `stream.processed`, so it may predate the last batch.
    pub fn wait_processed(&self, n: u64, timeout: Duration) -> Value {
        wait_for(
            timeout,
            &format!("{n} stream entries processed"),
            || {
                let h = self.health();
                let done = h["stream"]["processed"].as_u64().unwrap_or(0);
                assert!(done <= n, "processed {done} entries, expected {n}\n{h:#}");
                (done == n).then_some(())
            },
            || self.ctx(),
        );
        self.health()
    }

    /// Waits until the async warm queue is empty and no warm is running.
    pub fn wait_warmer_idle(&self) -> Value {
        wait_for(
            Duration::from_secs(20),
            "an idle warmer",
            || {
                let h = self.health();
                let w = &h["warmer"];
                (w["queueDepth"].as_u64() == Some(0) && w["inFlight"].as_u64() == Some(0))
                    .then_some(h)
            },
            || self.ctx(),
        )
    }

    /// SIGTERM, then waits for the exit; asserts status 0 within `timeout`.
    pub fn terminate(mut self, timeout: Duration) -> String {
        self.proc.signal("TERM");
        let status = self.proc.wait_exit(timeout);
        assert!(
            status.success(),
            "serve exited with {status} after SIGTERM\n{}",
            self.ctx()
        );
        self.proc.stderr()
    }
}

/// `<cmd> serve --listen 127.0.0.1:0 --status-interval 0 <args>` with `env` (and
/// `REDIS_URL` when given); `cmd` is [`pairwarm`] or a wrapper whose arguments end with
/// the binary.
pub fn serve_command(
    mut cmd: Command,
    redis_url: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> Command {
    cmd.arg("serve").args(["--listen", "127.0.0.1:0"]);
    if !args.contains(&"--status-interval") {
        cmd.args(["--status-interval", "0"]);
    }
    cmd.args(args);
    if let Some(url) = redis_url {
        cmd.env("REDIS_URL", url);
        // The tests write entries before serve creates its group.
        cmd.env("PAIRWARM_GROUP_START", "beginning");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A command that runs [`BIN`] under `prlimit --nofile=<n>:<n>` (with the clean
/// environment of [`pairwarm`]).
pub fn pairwarm_with_open_files(n: u64) -> Command {
    let plain = pairwarm();
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--nofile={n}:{n}")).arg(BIN);
    for (k, v) in plain.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd
}

/// `XINFO CONSUMERS <stream> <group>` as `(name, pending)` pairs.
pub fn consumers(conn: &mut redis::Connection, stream: &str, group: &str) -> Vec<(String, u64)> {
    let rows: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(stream)
        .arg(group)
        .query(conn)
        .unwrap_or_else(|e| panic!("XINFO CONSUMERS {stream} {group}: {e}"));
    rows.iter()
        .map(|r| {
            let name = match r.get("name") {
                Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
                other => panic!("consumer name {other:?}"),
            };
            let pending = match r.get("pending") {
                Some(redis::Value::Int(n)) => u64::try_from(*n).unwrap_or(0),
                other => panic!("consumer pending {other:?}"),
            };
            (name, pending)
        })
        .collect()
}

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers in the response"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| std::io::Error::other("truncated chunk size"))?;
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| std::io::Error::other(format!("bad chunk size {size_text:?}")))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err(std::io::Error::other("truncated chunk"));
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// One sample of the Prometheus text format.
#[derive(Clone, Debug)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// A parsed `/metrics` answer.
#[derive(Clone, Debug)]
pub struct Metrics {
    pub samples: Vec<Sample>,
    pub text: String,
}

impl Metrics {
    /// Parses the Prometheus text format 0.0.4 (comments skipped).
    pub fn parse(text: &str) -> Self {
        let mut samples = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("metric line without value: {line:?}"));
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in metric line {line:?}")),
            };
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), Vec::new()),
                Some((name, rest)) => {
                    let inner = rest
                        .strip_suffix('}')
                        .unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                    (name.to_owned(), parse_labels(inner, line))
                }
            };
            samples.push(Sample {
                name,
                labels,
                value,
            });
        }
        Self {
            samples,
            text: text.to_owned(),
        }
    }

    /// Samples of `name` whose labels include all of `filter`.
    pub fn select<'a>(
        &'a self,
        name: &'a str,
        filter: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && filter
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
    }

    /// Sum of `name` over the samples matching `filter` (0 when there are none).
    pub fn sum(&self, name: &str, filter: &[(&str, &str)]) -> f64 {
        self.select(name, filter).map(|s| s.value).sum()
    }

    /// Whether any sample of `name` exists.
    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|s| s.name == name)
    }

    /// Sums of `name` by the value of `label`.
    pub fn by_label(&self, name: &str, label: &str) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for s in self.select(name, &[]) {
            if let Some((_, v)) = s.labels.iter().find(|(k, _)| k == label) {
                *out.entry(v.clone()).or_insert(0.0) += s.value;
            }
        }
        out
    }
}

fn parse_labels(inner: &str, line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = inner;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad labels in {line:?}"));
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => value.push(other),
                    None => break,
                },
                '"' => {
                    end = Some(i);
                    break;
                }
                c => value.push(c),
            }
        }
        let end = end.unwrap_or_else(|| panic!("unterminated label value in {line:?}"));
        out.push((key.trim_start_matches(',').trim().to_owned(), value));
        rest = after[end + 1..].trim_start_matches(',');
    }
    out
}

/// `pairwarm feed --synthetic --format flat --count n --rate 0` into `stream` (one update
/// per entry, so entries and updates count alike); asserts success.
pub fn feed_synthetic(redis_url: &str, stream: &str, count: u64, seed: u64) {
    let out = pairwarm()
        .args([
            "feed",
            "--synthetic",
            "--format",
            "flat",
            "--rate",
            "0",
            "--quiet",
        ])
        .args(["--count", &count.to_string()])
        .args(["--seed", &seed.to_string()])
        .args(["--stream", stream])
        .env("REDIS_URL", redis_url)
        .stdin(Stdio::null())
        .output()
        .expect("run pairwarm feed");
    assert!(
        out.status.success(),
        "pairwarm feed failed with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "fed {count} updates in {count} entries to {stream}"
        )),
        "feed did not report {count} updates: {err}"
    );
}

/// Total of `XPENDING <stream> <group>` (0 when the group has nothing pending).
/// Creates `group` on `stream` from its beginning (the stream is created if missing).
pub fn create_group(conn: &mut redis::Connection, stream: &str, group: &str) {
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(stream)
        .arg(group)
        .arg("0")
        .arg("MKSTREAM")
        .query(conn)
        .unwrap();
}

/// Reads up to `count` new entries of `stream` as `consumer` of `group` and never acks them
/// (a consumer that dies mid-batch); returns the raw reply.
pub fn read_without_ack(
    conn: &mut redis::Connection,
    stream: &str,
    group: &str,
    consumer: &str,
    count: usize,
) -> redis::Value {
    redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(group)
        .arg(consumer)
        .arg("COUNT")
        .arg(count)
        .arg("STREAMS")
        .arg(stream)
        .arg(">")
        .query(conn)
        .unwrap()
}

pub fn xpending_total(conn: &mut redis::Connection, stream: &str, group: &str) -> u64 {
    let reply: redis::Value = redis::cmd("XPENDING")
        .arg(stream)
        .arg(group)
        .query(conn)
        .unwrap_or_else(|e| panic!("XPENDING {stream} {group}: {e}"));
    match reply {
        redis::Value::Array(v) => match v.first() {
            Some(redis::Value::Int(n)) => u64::try_from(*n).expect("non-negative count"),
            other => panic!("unexpected XPENDING count {other:?}"),
        },
        other => panic!("unexpected XPENDING reply {other:?}"),
    }
}

/// `entries-read`, `lag` and `pending` of `group` on `stream` (`XINFO GROUPS`, Redis 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupInfo {
    pub entries_read: u64,
    pub lag: u64,
    pub pending: u64,
}

pub fn group_info(conn: &mut redis::Connection, stream: &str, group: &str) -> GroupInfo {
    let groups: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(stream)
        .query(conn)
        .unwrap_or_else(|e| panic!("XINFO GROUPS {stream}: {e}"));
    let g = groups
        .iter()
        .find(|g| {
            matches!(g.get("name"), Some(redis::Value::BulkString(b)) if b.as_slice() == group.as_bytes())
        })
        .unwrap_or_else(|| panic!("group {group} not found on {stream}: {groups:?}"));
    let num = |k: &str| match g.get(k) {
        Some(redis::Value::Int(n)) => u64::try_from(*n).expect("non-negative"),
        other => panic!("XINFO GROUPS field {k}: {other:?}"),
    };
    GroupInfo {
        entries_read: num("entries-read"),
        lag: num("lag"),
        pending: num("pending"),
    }
}

/// The fields of a stream entry as raw bytes.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// `XRANGE <stream> - +` as `(id, fields)`.
pub fn xrange(conn: &mut impl redis::ConnectionLike, stream: &str) -> Vec<(String, Fields)> {
    let reply: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query(conn)
        .unwrap_or_else(|e| panic!("XRANGE {stream}: {e}"));
    reply
        .into_iter()
        .map(|(id, flat)| {
            let fields = flat
                .chunks(2)
                .map(|c| (c[0].clone(), c.get(1).cloned().unwrap_or_default()))
                .collect();
            (id, fields)
        })
        .collect()
}

/// `XADD <stream> * <fields>`; returns the id.
pub fn xadd(conn: &mut redis::Connection, stream: &str, fields: &[(&[u8], &[u8])]) -> String {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(stream).arg("*");
    for (k, v) in fields {
        cmd.arg(*k).arg(*v);
    }
    cmd.query(conn)
        .unwrap_or_else(|e| panic!("XADD {stream}: {e}"))
}

/// A valid price entry for pool number `i` on `chain`.
pub fn valid_entry(chain: &str, i: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
    vec![
        (b"chain".to_vec(), chain.as_bytes().to_vec()),
        (b"pair".to_vec(), format!("0x{i:040x}").into_bytes()),
        (b"price".to_vec(), format!("{}.5", 1000 + i).into_bytes()),
        (b"dex".to_vec(), b"uniswap-v2".to_vec()),
        (b"token0".to_vec(), b"weth".to_vec()),
        (b"token1".to_vec(), b"usdc".to_vec()),
    ]
}

/// Borrowed view of owned fields, for [`xadd`].
pub fn as_refs(fields: &[(Vec<u8>, Vec<u8>)]) -> Vec<(&[u8], &[u8])> {
    fields
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect()
}

/// The L2 key of a pool (the cache's default prefix).
pub fn l2_key(chain: &str, pair: &str) -> String {
    format!(
        "cache:l2:price:{}:{}",
        chain.to_ascii_lowercase(),
        pair.to_ascii_lowercase()
    )
}

/// Distinct pools of the stream's entries, how many have no L2 key, and how many hold
/// another price than their last entry's (an acknowledged price that never reached L2).
pub fn l2_keys_missing(conn: &mut redis::Connection, stream: &str) -> (usize, usize) {
    let audit = l2_audit(conn, stream);
    assert_eq!(
        audit.stale, 0,
        "{} of {} pools hold an older price in L2 than their last entry",
        audit.stale, audit.pools
    );
    (audit.pools, audit.missing)
}

/// What [`l2_audit`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L2Audit {
    pub pools: usize,
    pub missing: usize,
    pub stale: usize,
}

/// Compares every pool's L2 price with the price of its last entry in `stream`.
pub fn l2_audit(conn: &mut redis::Connection, stream: &str) -> L2Audit {
    let mut last = BTreeMap::new();
    for (_, fields) in xrange(conn, stream) {
        let field = |name: &[u8]| {
            fields
                .iter()
                .find(|(k, _)| k.as_slice() == name)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        if let (Some(chain), Some(pair), Some(price)) =
            (field(b"chain"), field(b"pair"), field(b"price"))
        {
            last.insert(l2_key(&chain, &pair), price.parse::<f64>().ok());
        }
    }
    let pools: Vec<(&String, &Option<f64>)> = last.iter().collect();
    let (mut missing, mut stale) = (0, 0);
    for chunk in pools.chunks(1000) {
        let mut pipe = redis::pipe();
        for (key, _) in chunk {
            pipe.cmd("GET").arg(key.as_str());
        }
        let values: Vec<Option<Vec<u8>>> = pipe.query(conn).expect("GET pipeline");
        for ((key, expected), value) in chunk.iter().zip(values) {
            let Some(bytes) = value else {
                missing += 1;
                continue;
            };
            let stored = pairwarm::cache::codec::decode(key, &bytes)
                .unwrap_or_else(|e| panic!("L2 value of {key}: {e}"));
            if let Some(want) = expected
                && (stored.price - want).abs() > want.abs() * 1e-9
            {
                stale += 1;
            }
        }
    }
    L2Audit {
        pools: pools.len(),
        missing,
        stale,
    }
}

/// Figures of one fault run, printed as a row of the fault table in
/// `docs/reliability.md` (run the fault tests with `--nocapture` to see them).
#[derive(Clone, Debug, Default)]
pub struct FaultRow {
    pub fault: &'static str,
    /// Entries in the stream.
    pub sent: u64,
    /// Entries acknowledged as processed, summed over instances (counted twice when
    /// processed twice).
    pub processed: u64,
    pub dead_lettered: u64,
    /// Entries still pending at the end (the tests also check the group was delivered
    /// the stream's last entry).
    pub lost: u64,
    /// Distinct pools of the stream without an L2 key at the end.
    pub l2_missing: usize,
    /// From the end of the fault until the first entry was acknowledged again.
    pub resumed_in: Duration,
    /// From the end of the fault until every entry was acknowledged.
    pub recovered_in: Duration,
}

/// Waits until `serve` has acknowledged more than `from` entries; returns how long since
/// `since`.
pub fn wait_resumed(serve: &Serve, from: u64, since: Instant) -> Duration {
    wait_for(
        Duration::from_secs(90),
        "an entry acknowledged after the fault",
        || {
            let done = serve.health()["stream"]["processed"].as_u64().unwrap_or(0);
            (done > from).then(|| since.elapsed())
        },
        || serve.ctx(),
    )
}

impl FaultRow {
    /// A row from `serve`'s counters at the end, plus `earlier` entries acknowledged by an
    /// instance gone since; `times` is `(resumed_in, recovered_in)`.
    pub fn measured(
        fault: &'static str,
        sent: u64,
        serve: &Serve,
        earlier: u64,
        audit: (&mut redis::Connection, usize),
        times: (Duration, Duration),
    ) -> Self {
        let stream = &serve.health()["stream"];
        let count = |k: &str| stream[k].as_u64().unwrap_or(0);
        let (conn, l2_missing) = audit;
        Self {
            fault,
            sent,
            processed: earlier + count("processed") - count("deadLettered"),
            dead_lettered: count("deadLettered"),
            lost: xpending_total(conn, "stream:price-updates", "pairwarm"),
            l2_missing,
            resumed_in: times.0,
            recovered_in: times.1,
        }
    }

    pub fn print(&self) {
        let duplicated = (self.processed + self.dead_lettered).saturating_sub(self.sent);
        eprintln!(
            "FAULT-ROW | {} | {} | {} | {} | {} | {} | {} | {:.2} s | {:.1} s |",
            self.fault,
            self.sent,
            self.processed,
            self.dead_lettered,
            duplicated,
            self.lost,
            self.l2_missing,
            self.resumed_in.as_secs_f64(),
            self.recovered_in.as_secs_f64()
        );
    }
}
