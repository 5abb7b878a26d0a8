//! [`RedisCluster`]: a real 3-master Redis Cluster on free loopback ports.
//!
//! Three `redis-server --cluster-enabled yes` processes (each with its own directory and
//! cluster config file, no persistence), joined by `redis-cli --cluster create ...
//! --cluster-replicas 0`, ready once every node reports `cluster_state:ok`; killed on drop.
//! The cluster bus port of each node is chosen free as well (`--cluster-port`), rather than
//! the default `port + 10000`, which may not exist for a high ephemeral port.

use std::io;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{binary, free_port};

/// Masters of a [`RedisCluster`].
pub const CLUSTER_MASTERS: usize = 3;

/// One node: its process, client port and directory.
struct Node {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

/// A 3-master Redis Cluster on `127.0.0.1`.
pub struct RedisCluster {
    nodes: Vec<Node>,
}

impl RedisCluster {
    /// Starts the cluster. Panics with installation advice when `redis-server` or
    /// `redis-cli` is missing or the cluster does not form.
    pub fn start() -> Self {
        let mut last = io::Error::other("no attempt made");
        for _ in 0..3 {
            match Self::try_start() {
                Ok(cluster) => return cluster,
                Err(e) => last = e,
            }
        }
        panic!(
            "could not start a Redis Cluster ({last}); install redis-server and redis-cli with \
             `apt-get install -y redis-server redis-tools`"
        )
    }

    fn try_start() -> io::Result<Self> {
        let mut ports = Vec::new();
        while ports.len() < 2 * CLUSTER_MASTERS {
            let port = free_port()?;
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        let mut cluster = Self { nodes: Vec::new() };
        for pair in ports.chunks(2) {
            let dir = tempfile::tempdir()?;
            let child = Command::new(binary())
                .arg("--port")
                .arg(pair[0].to_string())
                .arg("--cluster-port")
                .arg(pair[1].to_string())
                .args(["--cluster-enabled", "yes", "--cluster-config-file"])
                .arg(dir.path().join("nodes.conf"))
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--protected-mode", "yes", "--daemonize", "no"])
                .arg("--dir")
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            cluster.nodes.push(Node {
                child,
                port: pair[0],
                _dir: dir,
            });
        }
        for i in 0..CLUSTER_MASTERS {
            let pid = cluster.nodes[i].child.id();
            cluster.wait_for(i, Duration::from_secs(10), |c| {
                redis::cmd("PING").query::<String>(c).is_ok() && super::answers_as(c, pid)
            })?;
        }
        let create = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(
                cluster
                    .nodes
                    .iter()
                    .map(|n| format!("127.0.0.1:{}", n.port)),
            )
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()?;
        if !create.status.success() {
            return Err(io::Error::other(format!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&create.stderr)
            )));
        }
        for i in 0..CLUSTER_MASTERS {
            cluster.wait_for(i, Duration::from_secs(20), |c| {
                redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query::<String>(c)
                    .is_ok_and(|info| info.contains("cluster_state:ok"))
            })?;
        }
        Ok(cluster)
    }

    /// Polls node `i` until `ready` holds.
    fn wait_for(
        &mut self,
        i: usize,
        within: Duration,
        ready: impl Fn(&mut redis::Connection) -> bool,
    ) -> io::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(mut conn) = self.try_node_connection(i)
                && ready(&mut conn)
            {
                return Ok(());
            }
            // A node that could not bind its port exits: start again on other ports.
            if let Ok(Some(status)) = self.nodes[i].child.try_wait() {
                return Err(io::Error::other(format!(
                    "cluster node 127.0.0.1:{} exited with {status}",
                    self.nodes[i].port
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "cluster node 127.0.0.1:{} not ready within {within:?}",
                    self.nodes[i].port
                )));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn try_node_connection(&self, i: usize) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(self.node_url(i))?.get_connection_with_timeout(Duration::from_secs(2))
    }

    /// `redis://127.0.0.1:<port>/` of the first node: a seed for a cluster client.
    pub fn url(&self) -> String {
        self.node_url(0)
    }

    /// `redis://127.0.0.1:<port>/` of node `i`.
    pub fn node_url(&self, i: usize) -> String {
        format!("redis://127.0.0.1:{}/", self.nodes[i].port)
    }

    /// `127.0.0.1:<port>` of every node.
    pub fn addresses(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect()
    }

    /// A plain (non-cluster) connection to node `i`: what that node holds itself.
    pub fn node_connection(&self, i: usize) -> redis::Connection {
        self.try_node_connection(i)
            .unwrap_or_else(|e| panic!("connect to cluster node {}: {e}", self.node_url(i)))
    }

    /// A synchronous cluster connection for test setup and assertions (routes by key).
    pub fn connection(&self) -> redis::cluster::ClusterConnection {
        redis::cluster::ClusterClient::new(vec![self.url()])
            .and_then(|c| c.get_connection())
            .unwrap_or_else(|e| panic!("connect to the test cluster at {}: {e}", self.url()))
    }

    /// How many keys matching `pattern` each node holds (`KEYS` on each node: test sizes).
    pub fn keys_per_node(&self, pattern: &str) -> Vec<usize> {
        (0..self.nodes.len())
            .map(|i| {
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(pattern)
                    .query(&mut self.node_connection(i))
                    .unwrap_or_else(|e| panic!("KEYS on node {i}: {e}"));
                keys.len()
            })
            .collect()
    }

    /// The hash slot of `key` (`CLUSTER KEYSLOT`).
    pub fn slot_of(&self, key: &str) -> u16 {
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut self.node_connection(0))
            .unwrap_or_else(|e| panic!("CLUSTER KEYSLOT {key}: {e}"))
    }

    /// The index of the node serving `slot` (from `CLUSTER NODES`).
    pub fn owner_of(&self, slot: u16) -> usize {
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query(&mut self.node_connection(0))
            .unwrap_or_else(|e| panic!("CLUSTER NODES: {e}"));
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let Some(addr) = fields.get(1).and_then(|a| a.split('@').next()) else {
                continue;
            };
            let serves = fields.iter().skip(8).any(|range| {
                let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                matches!((lo.parse::<u16>(), hi.parse::<u16>()), (Ok(lo), Ok(hi)) if (lo..=hi).contains(&slot))
            });
            if serves && let Some(i) = self.addresses().iter().position(|a| a == addr) {
                return i;
            }
        }
        panic!("no node serves slot {slot}:\n{nodes}")
    }

    /// Moves `slot` and its keys to node `to`, as a resharding does (`SETSLOT IMPORTING` /
    /// `MIGRATING`, `MIGRATE`, `SETSLOT NODE` on every node). Clients holding the old
    /// layout then get `MOVED` (or, for a script, `non local key`).
    pub fn move_slot(&self, slot: u16, to: usize) {
        let from = self.owner_of(slot);
        assert_ne!(from, to, "slot {slot} is already on node {to}");
        let id = |i: usize| -> String {
            redis::cmd("CLUSTER")
                .arg("MYID")
                .query(&mut self.node_connection(i))
                .unwrap_or_else(|e| panic!("CLUSTER MYID: {e}"))
        };
        let (from_id, to_id) = (id(from), id(to));
        let setslot = |i: usize, args: &[&str]| {
            let _: () = redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg(args)
                .query(&mut self.node_connection(i))
                .unwrap_or_else(|e| panic!("CLUSTER SETSLOT {slot} {args:?} on node {i}: {e}"));
        };
        setslot(to, &["IMPORTING", &from_id]);
        setslot(from, &["MIGRATING", &to_id]);
        let mut source = self.node_connection(from);
        loop {
            let keys: Vec<String> = redis::cmd("CLUSTER")
                .arg("GETKEYSINSLOT")
                .arg(slot)
                .arg(100)
                .query(&mut source)
                .unwrap_or_else(|e| panic!("CLUSTER GETKEYSINSLOT: {e}"));
            if keys.is_empty() {
                break;
            }
            let _: () = redis::cmd("MIGRATE")
                .arg("127.0.0.1")
                .arg(self.nodes[to].port)
                .arg("")
                .arg(0)
                .arg(5000)
                .arg("KEYS")
                .arg(&keys)
                .query(&mut source)
                .unwrap_or_else(|e| panic!("MIGRATE: {e}"));
        }
        for i in 0..self.nodes.len() {
            setslot(i, &["NODE", &to_id]);
        }
        assert_eq!(self.owner_of(slot), to, "slot {slot} moved");
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_a_cluster_whose_slots_span_all_masters() {
        let cluster = RedisCluster::start();
        let mut conn = cluster.connection();
        for i in 0..300 {
            let _: () = redis::cmd("SET")
                .arg(format!("k:{i}"))
                .arg(i)
                .query(&mut conn)
                .unwrap();
        }
        let got: Option<i64> = redis::cmd("GET").arg("k:42").query(&mut conn).unwrap();
        assert_eq!(got, Some(42));
        let per_node = cluster.keys_per_node("k:*");
        assert_eq!(per_node.iter().sum::<usize>(), 300, "{per_node:?}");
        assert!(per_node.iter().all(|&n| n > 0), "{per_node:?}");
    }
}
