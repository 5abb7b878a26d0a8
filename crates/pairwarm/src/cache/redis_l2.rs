//! Redis as L2, through redis-rs's `ConnectionManager` (one multiplexed connection that
//! reconnects with exponential backoff).
//!
//! Every call is bounded twice: redis-rs's response timeout cuts a request whose reply does
//! not come, and an outer deadline cuts a request that waits for a reconnect. A call made
//! while Redis is down therefore returns an [`L2Error`] within `op_timeout`, and the first
//! call after Redis comes back succeeds again without rebuilding anything.
//!
//! Batches use one `MGET` (one round trip whatever the batch size); writes use
//! `SET key value PX ttl`. Do not use this connection for blocking commands such as
//! `XREADGROUP ... BLOCK`: they would stall every cache read queued behind them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::l2::{L2Error, L2Store};
use super::redis_error::{RedisErrorClass, classify_redis_error};
use super::redis_target::{RedisTarget, RedisUrl};

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
    conn: ConnectionManager,
    /// For scrubbing the password out of error text.
    url: Arc<RedisUrl>,
    op_timeout: Duration,
    round_trips: Arc<AtomicU64>,
}

impl RedisL2 {
    /// Prepares a connection without contacting Redis (it connects on first use), so a
    /// service can start while Redis is still coming up. Must run inside a tokio runtime.
    pub fn connect_lazy(config: &RedisL2Config) -> Result<Self, L2Error> {
        let url = &config.target.url;
        let client = config
            .target
            .client()
            .map_err(|e| L2Error::Config(url.scrub(&e.to_string())))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(config.response_timeout))
            .set_connection_timeout(Some(config.connection_timeout))
            .set_min_delay(config.min_reconnect_delay)
            .set_max_delay(config.max_reconnect_delay)
            .set_exponent_base(2.0)
            .set_number_of_retries(config.reconnect_retries);
        let conn = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|e| L2Error::Config(format!("{url}: {}", url.scrub(&e.to_string()))))?;
        Ok(Self {
            conn,
            url: Arc::new(url.clone()),
            op_timeout: config.op_timeout,
            round_trips: Arc::new(AtomicU64::new(0)),
        })
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
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        cmd: redis::Cmd,
    ) -> Result<T, L2Error> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let mut conn = self.conn.clone();
        let call = async move { cmd.query_async::<T>(&mut conn).await };
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
        let client = config
            .target
            .client()
            .map_err(|e| L2Error::Config(url.scrub(&e.to_string())))?;
        let conn_config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(config.connection_timeout))
            .set_response_timeout(Some(config.response_timeout));
        let call = async {
            let mut conn = client
                .get_multiplexed_async_connection_with_config(&conn_config)
                .await?;
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

    async fn set_many(&self, items: Vec<(String, Vec<u8>)>, ttl: Duration) -> Result<(), L2Error> {
        if items.is_empty() {
            return Ok(());
        }
        let px = ttl.as_millis().clamp(1, u128::from(u64::MAX)) as u64;
        let mut pipe = redis::pipe();
        for (key, value) in items {
            pipe.cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(px)
                .ignore();
        }
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let mut conn = self.conn.clone();
        let call = async move { pipe.query_async::<()>(&mut conn).await };
        match tokio::time::timeout(self.op_timeout, call).await {
            Err(_) => Err(L2Error::Timeout {
                op: "SET",
                after: self.op_timeout,
            }),
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(classify(&self.url, "SET", &e)),
        }
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
