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
//! newer by `blockNumber`, then `timestamp`, decided atomically inside Redis. (A multi-key
//! script needs its keys in one slot on a Redis Cluster; this store is standalone only.) Do not use this connection for blocking commands such as
//! `XREADGROUP ... BLOCK`: they would stall every cache read queued behind them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::l2::{L2Error, L2Store, L2Write};
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

    /// Sends a pipeline in one round trip (bounded by `op_timeout`); one result per
    /// command, so one refused command does not hide the others' replies.
    async fn pipeline(
        &self,
        op: &'static str,
        pipe: &redis::Pipeline,
    ) -> Result<Vec<redis::RedisResult<redis::Value>>, L2Error> {
        let mut conn = self.conn.clone();
        let mut pipe = pipe.clone();
        self.bounded(op, async move {
            pipe.ignore_errors()
                .query_async::<Vec<redis::RedisResult<redis::Value>>>(&mut conn)
                .await
        })
        .await
    }

    /// Loads the newer-wins script (`SCRIPT LOAD`).
    async fn load_script(&self) -> Result<(), L2Error> {
        let mut cmd = redis::cmd("SCRIPT");
        cmd.arg("LOAD").arg(NEWER_WINS.source);
        let _: String = self.run("SCRIPT LOAD", cmd).await?;
        Ok(())
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

/// The newer-wins write of a batch: `KEYS` are the keys, `ARGV[1]` the TTL in ms, then per
/// key its value, `blockNumber` and `timestamp`. Each value held is kept if its
/// `blockNumber` (or pairwarm's earlier `block`), then its `timestamp`, is greater than the
/// new one's; otherwise `SET key value PX ttl`. Returns a string of `1` (written) and `0`
/// (kept a newer value), one per key.
///
/// One call per batch, not one per key: Redis' per-call cost of a script was measured at
/// 3-4x that of a plain `SET` (27,700 vs 228,000 writes/s, pipelined, same session), a
/// loop in one call at 2-3x. The version is read with a plain `string.find` and an
/// anchored digit match: both the original (`JSON.stringify`) and pairwarm write compact
/// JSON, and a `%s*` pattern scan cost twice as much. A held value without a version (a
/// bare price) is replaced.
const NEWER_WINS_LUA: &str = r#"
local ttl = ARGV[1]
local out = {}
for i = 1, #KEYS do
  local nb = tonumber(ARGV[3 * i])
  local held = redis.call('GET', KEYS[i])
  local keep = false
  if held then
    local b
    local p = string.find(held, '"blockNumber":', 1, true)
    if p then
      b = tonumber(string.match(held, '^%d+', p + 14))
    else
      p = string.find(held, '"block":', 1, true)
      if p then b = tonumber(string.match(held, '^%d+', p + 8)) end
    end
    if b then
      if b > nb then
        keep = true
      elseif b == nb then
        p = string.find(held, '"timestamp":', 1, true)
        local t = p and tonumber(string.match(held, '^%d+', p + 12)) or 0
        if t > tonumber(ARGV[3 * i + 1]) then keep = true end
      end
    end
  end
  if keep then
    out[i] = '0'
  else
    redis.call('SET', KEYS[i], ARGV[3 * i - 1], 'PX', ttl)
    out[i] = '1'
  end
end
return table.concat(out)
"#;

/// Keys per script call: bounds how long one call holds Redis (~1 ms); larger batches are
/// several calls in the same pipeline (still one round trip).
const KEYS_PER_CALL: usize = 256;

/// The script and its SHA-1 (`EVALSHA` sends only the hash).
struct Script {
    source: &'static str,
    hash: std::sync::OnceLock<String>,
}

impl Script {
    fn hash(&self) -> &str {
        self.hash
            .get_or_init(|| redis::Script::new(self.source).get_hash().to_owned())
    }
}

static NEWER_WINS: Script = Script {
    source: NEWER_WINS_LUA,
    hash: std::sync::OnceLock::new(),
};

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
        let mut pipe = redis::pipe();
        for chunk in items.chunks(KEYS_PER_CALL) {
            let cmd = pipe.cmd("EVALSHA").arg(NEWER_WINS.hash()).arg(chunk.len());
            for w in chunk {
                cmd.arg(&w.key);
            }
            cmd.arg(px);
            for w in chunk {
                cmd.arg(&w.value).arg(w.block).arg(w.ts_ms);
            }
        }
        let replies = self.pipeline("SET", &pipe).await?;
        let replies = if replies.iter().any(is_noscript) {
            // First write since Redis started (or SCRIPT FLUSH): load the script, once.
            self.load_script().await?;
            self.pipeline("SET", &pipe).await?
        } else {
            replies
        };
        let mut written = Vec::with_capacity(items.len());
        for (reply, chunk) in replies.into_iter().zip(items.chunks(KEYS_PER_CALL)) {
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
            written.extend(flags.iter().map(|f| *f == b'1'));
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
