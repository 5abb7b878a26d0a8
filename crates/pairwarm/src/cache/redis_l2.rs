//! Redis as L2, through redis-rs's `ConnectionManager` (one multiplexed connection that
//! reconnects with exponential backoff).
//!
//! Every call is bounded twice: redis-rs's response timeout cuts a request whose reply does
//! not come, and an outer deadline cuts a request that waits for a reconnect. A call made
//! while Redis is down therefore returns an [`L2Error`] within `op_timeout`, and the first
//! call after Redis comes back succeeds again without rebuilding anything.
//!
//! Batches use one `MGET` (one round trip whatever the batch size); a batch of writes is one
//! `EVALSHA` of a newer-wins script per 256 keys, pipelined (one round trip): each `SET key
//! value PX ttl` (the original's `SETEX key 300`) happens only if the held value is not
//! newer by `blockNumber`, then `timestamp`, decided atomically inside Redis. Do not use
//! this connection for blocking commands such as `XREADGROUP ... BLOCK`: they would stall
//! every cache read queued behind them.
//!
//! On a Redis Cluster ([`RedisTopology::Cluster`](super::RedisTopology)) the connection is
//! redis-rs's cluster client: `MGET` is split per hash slot and sent concurrently by the
//! client; a write batch is grouped by the node owning each key's slot (`CLUSTER SLOTS`,
//! re-read when found stale) and written by one call of the cluster variant of the script
//! per node and 256 keys, all nodes at once ([`NEWER_WINS_CLUSTER`], which needs Redis
//! >= 7.0: its keys may span the slots of its node).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::l2::{L2Error, L2Store, L2Write};
use super::newer_wins::{KEYS_PER_CALL, NEWER_WINS, NEWER_WINS_CLUSTER, Script};
use super::redis_conn::RedisConnection;
use super::redis_error::{RedisErrorClass, classify_redis_error};
use super::redis_target::{ClusterTimeouts, RedisTarget, RedisUrl};
use super::slot_owners::{SlotOwners, is_stale_topology};

/// Connection settings for [`RedisL2`].
#[derive(Clone, Debug)]
pub struct RedisL2Config {
    /// `redis://host:port/db` or `rediss://...` with its TLS material (the password is
    /// never printed).
    pub target: RedisTarget,
    /// Deadline of one call, including any wait for a reconnect.
    pub op_timeout: Duration,
    /// Deadline for a reply on an established connection.
    pub response_timeout: Duration,
    /// Deadline for establishing a connection.
    pub connection_timeout: Duration,
    /// First reconnect delay; doubles per attempt up to `max_reconnect_delay`.
    pub min_reconnect_delay: Duration,
    /// Longest reconnect delay.
    pub max_reconnect_delay: Duration,
    /// Reconnect attempts per outage before the error is surfaced (the next call retries).
    pub reconnect_retries: usize,
}

impl RedisL2Config {
    /// Defaults suited to a price cache on a local network: 250 ms per call.
    pub fn new(target: impl Into<RedisTarget>) -> Self {
        Self {
            target: target.into(),
            op_timeout: Duration::from_millis(250),
            response_timeout: Duration::from_millis(200),
            connection_timeout: Duration::from_millis(200),
            min_reconnect_delay: Duration::from_millis(20),
            max_reconnect_delay: Duration::from_secs(2),
            reconnect_retries: 6,
        }
    }
}

/// Redis-backed L2. Cloning shares the connection.
#[derive(Clone)]
pub struct RedisL2 {
    conn: RedisConnection,
    /// For scrubbing the password out of error text.
    url: Arc<RedisUrl>,
    op_timeout: Duration,
    round_trips: Arc<AtomicU64>,
    /// On a cluster, which node owns each slot (read when first needed, re-read when a
    /// write finds it stale).
    owners: Arc<parking_lot::RwLock<Option<Arc<SlotOwners>>>>,
}

impl RedisL2 {
    /// Prepares a connection without contacting Redis (it connects on first use), so a
    /// service can start while Redis is still coming up. Must run inside a tokio runtime.
    pub fn connect_lazy(config: &RedisL2Config) -> Result<Self, L2Error> {
        Self::build(config, None)
    }

    /// [`RedisL2::connect_lazy`] on RESP3, with the connection's push messages (client
    /// tracking invalidations, and redis-rs's `Disconnection` on every connection loss)
    /// handed to `pushes`. Used by [`super::coherence`], which turns tracking on.
    pub(crate) fn connect_lazy_with_pushes(
        config: &RedisL2Config,
        pushes: impl redis::aio::AsyncPushSender,
    ) -> Result<Self, L2Error> {
        Self::build(config, Some(std::sync::Arc::new(pushes)))
    }

    fn build(
        config: &RedisL2Config,
        pushes: Option<std::sync::Arc<dyn redis::aio::AsyncPushSender>>,
    ) -> Result<Self, L2Error> {
        let url = &config.target.url;
        let mut client = config
            .target
            .client()
            .map_err(|e| L2Error::Config(url.scrub(&e.to_string())))?;
        if config.target.is_cluster() {
            // Client tracking is set up for a standalone connection only (see
            // `super::coherence`); a cluster store takes no push sender.
            return Self::cluster_lazy(config);
        }
        if pushes.is_some() {
            client = super::coherence::resp3(&client)
                .map_err(|e| L2Error::Config(url.scrub(&e.to_string())))?;
        }
        let mut manager_config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(config.response_timeout))
            .set_connection_timeout(Some(config.connection_timeout))
            .set_min_delay(config.min_reconnect_delay)
            .set_max_delay(config.max_reconnect_delay)
            .set_exponent_base(2.0)
            .set_number_of_retries(config.reconnect_retries);
        if let Some(pushes) = pushes {
            manager_config = manager_config
                .set_push_sender(move |info| redis::aio::AsyncPushSender::send(&*pushes, info));
        }
        let conn = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|e| L2Error::Config(format!("{url}: {}", url.scrub(&e.to_string()))))?;
        Ok(Self::with(RedisConnection::Managed(conn), config))
    }

    fn with(conn: RedisConnection, config: &RedisL2Config) -> Self {
        Self {
            conn,
            url: Arc::new(config.target.url.clone()),
            op_timeout: config.op_timeout,
            round_trips: Arc::new(AtomicU64::new(0)),
            owners: Arc::default(),
        }
    }

    /// The cluster client, connecting on first use (it discovers the cluster through the
    /// seed nodes and refreshes its slot map on redirections and reconnects).
    fn cluster_lazy(config: &RedisL2Config) -> Result<Self, L2Error> {
        let timeouts = cluster_timeouts(config);
        let client = config
            .target
            .cluster_client(timeouts)
            .map_err(|e| L2Error::Config(e.to_string()))?;
        let conn = client.get_pending_async_connection_with_config(
            redis::cluster::ClusterConfig::new()
                .set_connection_timeout(timeouts.connection)
                .set_response_timeout(timeouts.response),
        );
        Ok(Self::with(RedisConnection::Cluster(conn), config))
    }

    /// Whether this store is on a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.conn.is_cluster()
    }

    /// Connects and checks the server answers `PING`.
    pub async fn connect(config: &RedisL2Config) -> Result<Self, L2Error> {
        let l2 = Self::connect_lazy(config)?;
        l2.ping().await?;
        Ok(l2)
    }

    /// One `PING` round trip (readiness checks).
    pub async fn ping(&self) -> Result<(), L2Error> {
        let _: String = self.run("PING", redis::cmd("PING")).await?;
        Ok(())
    }

    /// The underlying connection, for callers that need other non-blocking commands on
    /// the same multiplexed connection (stream acks, snapshots).
    pub fn connection(&self) -> RedisConnection {
        self.conn.clone()
    }

    /// Sends commands (each with its routing key) in one round trip, one pipeline per
    /// slot on a cluster (bounded by `op_timeout`); one result per command, so one refused
    /// command does not hide the others' replies.
    async fn pipeline(
        &self,
        op: &'static str,
        cmds: &[(&str, redis::Cmd)],
    ) -> Result<Vec<redis::RedisResult<redis::Value>>, L2Error> {
        let conn = self.conn.clone();
        let cmds = cmds.to_vec();
        self.bounded(op, async move { conn.query_per_slot(cmds).await })
            .await
    }

    /// Loads a script (`SCRIPT LOAD`; on a cluster the client sends it to every node).
    async fn load_script(&self, script: &Script) -> Result<(), L2Error> {
        let mut cmd = redis::cmd("SCRIPT");
        cmd.arg("LOAD").arg(script.source);
        let _: String = self.run("SCRIPT LOAD", cmd).await?;
        Ok(())
    }

    /// The cluster's slot owners, read with `CLUSTER SLOTS` when unknown or `stale`.
    async fn slot_owners(&self, stale: bool) -> Result<Arc<SlotOwners>, L2Error> {
        if !stale && let Some(owners) = self.owners.read().clone() {
            return Ok(owners);
        }
        let mut cmd = redis::cmd("CLUSTER");
        cmd.arg("SLOTS");
        let reply: redis::Value = self.run("CLUSTER SLOTS", cmd).await?;
        let owners = Arc::new(SlotOwners::parse(&reply).ok_or_else(|| L2Error::Command {
            op: "CLUSTER SLOTS",
            reason: format!("not a slot map: {reply:?}"),
        })?);
        *self.owners.write() = Some(owners.clone());
        Ok(owners)
    }

    /// The script and the items of each of its calls: on one server, runs of
    /// [`KEYS_PER_CALL`]; on a cluster, grouped by the node owning each key.
    async fn write_plan(
        &self,
        items: &[L2Write],
        stale: bool,
    ) -> Result<(&'static Script, Vec<Vec<usize>>), L2Error> {
        if !self.is_cluster() {
            let all: Vec<usize> = (0..items.len()).collect();
            let calls = all.chunks(KEYS_PER_CALL).map(<[usize]>::to_vec).collect();
            return Ok((&NEWER_WINS, calls));
        }
        let owners = self.slot_owners(stale).await?;
        Ok((&NEWER_WINS_CLUSTER, owners.calls(items)))
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        cmd: redis::Cmd,
    ) -> Result<T, L2Error> {
        let mut conn = self.conn.clone();
        self.bounded(op, async move { cmd.query_async::<T>(&mut conn).await })
            .await
    }

    /// One round trip on the shared connection, counted and bounded by `op_timeout`.
    async fn bounded<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, L2Error> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(self.op_timeout, call).await {
            Err(_) => Err(L2Error::Timeout {
                op,
                after: self.op_timeout,
            }),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(classify(&self.url, op, &e)),
        }
    }

    /// One fresh connection and a `PING`, without the reconnect retries of the shared
    /// connection, so a refusal (wrong password, TLS that does not verify) shows as
    /// [`L2Error::Refused`] at once instead of as a timeout after the retries.
    pub async fn probe(config: &RedisL2Config) -> Result<(), L2Error> {
        let url = &config.target.url;
        let call = async {
            let mut conn = RedisConnection::connect(
                &config.target,
                config.connection_timeout,
                config.response_timeout,
            )
            .await?;
            // On a cluster `PING` goes to every node and must succeed on all.
            redis::cmd("PING").query_async::<String>(&mut conn).await
        };
        let deadline = config.connection_timeout + config.response_timeout;
        match tokio::time::timeout(deadline, call).await {
            Err(_) => Err(L2Error::Timeout {
                op: "PING",
                after: deadline,
            }),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(classify(url, "PING", &e)),
        }
    }
}

fn cluster_timeouts(config: &RedisL2Config) -> ClusterTimeouts {
    ClusterTimeouts {
        connection: config.connection_timeout,
        response: config.response_timeout,
        retries: u32::try_from(config.reconnect_retries).unwrap_or(u32::MAX),
        min_wait: config.min_reconnect_delay,
        max_wait: config.max_reconnect_delay,
    }
}

fn is_noscript(reply: &redis::RedisResult<redis::Value>) -> bool {
    matches!(reply, Err(e) if e.code() == Some("NOSCRIPT"))
}

/// Maps a redis-rs error onto the outcomes a caller acts on differently; the reason never
/// contains the password.
fn classify(url: &RedisUrl, op: &'static str, e: &redis::RedisError) -> L2Error {
    let reason = url.scrub(&e.to_string());
    if let RedisErrorClass::Permanent(why) = classify_redis_error(e) {
        L2Error::Refused {
            op,
            hint: why.hint(),
            reason,
        }
    } else if e.is_timeout() {
        L2Error::Timeout {
            op,
            after: Duration::ZERO,
        }
    } else if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
        L2Error::Unavailable { op, reason }
    } else {
        L2Error::Command { op, reason }
    }
}

impl L2Store for RedisL2 {
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, L2Error> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = redis::cmd("MGET");
        cmd.arg(keys);
        let values: Vec<Option<Vec<u8>>> = self.run("MGET", cmd).await?;
        if values.len() != keys.len() {
            return Err(L2Error::Command {
                op: "MGET",
                reason: format!("asked {} keys, got {} values", keys.len(), values.len()),
            });
        }
        Ok(values)
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), L2Error> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key)
            .arg(value)
            .arg("PX")
            .arg(ttl.as_millis().clamp(1, u128::from(u64::MAX)) as u64);
        let _: () = self.run("SET", cmd).await?;
        Ok(())
    }

    async fn set_many(&self, items: Vec<L2Write>, ttl: Duration) -> Result<Vec<bool>, L2Error> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let px = ttl.as_millis().clamp(1, u128::from(u64::MAX)) as u64;
        let mut stale = false;
        let mut attempts = 0;
        let (calls, replies) = loop {
            attempts += 1;
            let (script, calls) = self.write_plan(&items, stale).await?;
            let cmds: Vec<(&str, redis::Cmd)> = calls
                .iter()
                .map(|call| (items[call[0]].key.as_str(), script.call(&items, call, px)))
                .collect();
            let replies = self.pipeline("SET", &cmds).await?;
            if attempts > 2 {
                break (calls, replies);
            }
            if replies.iter().any(is_noscript) {
                // First write since Redis started (or SCRIPT FLUSH): load the script, once
                // (on every node of a cluster), and write again.
                self.load_script(script).await?;
            } else if self.is_cluster() && replies.iter().any(is_stale_topology) {
                // A slot moved since the owners were read: read them again and write again
                // (newer wins, so what the first attempt wrote is written alike).
                stale = true;
            } else {
                break (calls, replies);
            }
        };
        let mut written = vec![false; items.len()];
        for (reply, chunk) in replies.into_iter().zip(&calls) {
            let flags = match reply {
                Ok(redis::Value::BulkString(b)) => b,
                Ok(redis::Value::SimpleString(s)) => s.into_bytes(),
                Ok(other) => {
                    return Err(L2Error::Command {
                        op: "SET",
                        reason: format!("newer-wins script answered {other:?}"),
                    });
                }
                Err(e) => return Err(classify(&self.url, "SET", &e)),
            };
            if flags.len() != chunk.len() {
                return Err(L2Error::Command {
                    op: "SET",
                    reason: format!(
                        "newer-wins script answered {} flags for {} keys",
                        flags.len(),
                        chunk.len()
                    ),
                });
            }
            for (&i, f) in chunk.iter().zip(&flags) {
                written[i] = *f == b'1';
            }
        }
        Ok(written)
    }

    async fn delete(&self, key: &str) -> Result<(), L2Error> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(key);
        let _: i64 = self.run("DEL", cmd).await?;
        Ok(())
    }

    fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}
