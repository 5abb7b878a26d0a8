//! Redis Streams consumer-group reader: at-least-once delivery of price updates.
//!
//! - Reads with `XREADGROUP GROUP g c COUNT n BLOCK ms STREAMS s... >` on a **dedicated**
//!   connection whose response timeout exceeds the block time (a blocking read on the
//!   cache's shared multiplexed connection would stall every cache read behind it).
//! - On start it first re-reads its own pending entries (id `0`): those delivered before a
//!   crash and never acknowledged.
//! - Every `claim_every`, `XAUTOCLAIM` takes over entries idle for longer than
//!   `claim_idle_ms` in the group (left by a dead consumer). Entries deleted from the stream
//!   while pending are acknowledged and dead-lettered as `deleted`, or they would stay
//!   pending forever.
//! - Entries are acknowledged (`XACK`) only after processing; malformed ones are copied to
//!   `<stream>:dlq` with a `reason` and acknowledged in the same `MULTI`, so nothing is
//!   lost and nothing is retried forever.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::stream::{RawEntry, decode_autoclaim_reply, decode_read_reply};
use anyhow::Context;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;

/// Consumer settings.
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    /// Redis URL.
    pub url: String,
    /// Streams to read (one shared stream or one per chain).
    pub streams: Vec<String>,
    /// Consumer group.
    pub group: String,
    /// This consumer's name.
    pub consumer: String,
    /// Entries per read.
    pub count: usize,
    /// Block time of a read, ms.
    pub block_ms: u64,
    /// Claim entries idle longer than this, ms.
    pub claim_idle_ms: u64,
    /// How often to look for entries to claim.
    pub claim_every: Duration,
}

/// A dead-lettered entry: where it came from and why.
pub struct DeadLetter<'a> {
    pub entry: &'a RawEntry,
    pub reason: &'static str,
    pub detail: String,
}

pub struct StreamConsumer {
    /// Dedicated to `XREADGROUP` (may block for `block_ms`).
    conn: MultiplexedConnection,
    /// Acks and dead letters, so they never queue behind a blocked read.
    cmd: MultiplexedConnection,
    cfg: ConsumerConfig,
    /// Still draining this consumer's own pending entries (start-up recovery).
    own_pending: bool,
    last_claim: Option<Instant>,
    claim_cursor: Vec<String>,
}

impl StreamConsumer {
    pub async fn connect(cfg: ConsumerConfig) -> anyhow::Result<Self> {
        let client = redis::Client::open(cfg.url.as_str())
            .with_context(|| format!("invalid Redis URL {:?}", cfg.url))?;
        let conn_cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            // Longer than BLOCK, so a quiet stream is not mistaken for a dead server.
            .set_response_timeout(Some(Duration::from_millis(cfg.block_ms + 2000)));
        let conn = client
            .get_multiplexed_async_connection_with_config(&conn_cfg)
            .await
            .with_context(|| format!("connect to Redis at {}", cfg.url))?;
        let cmd = client
            .get_multiplexed_async_connection_with_config(&conn_cfg)
            .await
            .with_context(|| format!("connect to Redis at {}", cfg.url))?;
        let claim_cursor = vec!["0-0".to_string(); cfg.streams.len()];
        let mut consumer = Self {
            conn,
            cmd,
            cfg,
            own_pending: true,
            last_claim: None,
            claim_cursor,
        };
        consumer.ensure_groups().await?;
        Ok(consumer)
    }

    /// Creates the group on each stream (from the beginning, so entries written before
    /// the first start are processed too); an existing group is kept.
    async fn ensure_groups(&mut self) -> anyhow::Result<()> {
        for stream in &self.cfg.streams {
            let created: redis::RedisResult<()> = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(stream)
                .arg(&self.cfg.group)
                .arg("0")
                .arg("MKSTREAM")
                .query_async(&mut self.conn)
                .await;
            if let Err(e) = created
                && e.code() != Some("BUSYGROUP")
            {
                return Err(e).with_context(|| format!("create group on {stream}"));
            }
        }
        Ok(())
    }

    /// The next batch: own pending entries first, then claims when due, then new entries.
    pub async fn next_batch(&mut self) -> anyhow::Result<Vec<RawEntry>> {
        if self.own_pending {
            let batch = self.read("0", false).await?;
            if !batch.is_empty() {
                return Ok(batch);
            }
            self.own_pending = false;
        }
        let claim_due = self
            .last_claim
            .is_none_or(|t| t.elapsed() >= self.cfg.claim_every);
        if claim_due {
            let claimed = self.claim().await?;
            if !claimed.is_empty() {
                return Ok(claimed);
            }
            self.last_claim = Some(Instant::now());
        }
        self.read(">", true).await
    }

    async fn read(&mut self, id: &str, block: bool) -> anyhow::Result<Vec<RawEntry>> {
        read_group(self.conn.clone(), self.read_cmd(id, block)).await
    }

    /// True when the next batch is a plain read of new entries (no recovery or claim due),
    /// so it can be requested while the current batch is processed.
    pub fn can_prefetch(&self) -> bool {
        !self.own_pending
            && self
                .last_claim
                .is_some_and(|t| t.elapsed() < self.cfg.claim_every)
    }

    /// A read of new entries that runs on its own (spawnable while a batch is processed).
    pub fn prefetch(
        &self,
    ) -> impl std::future::Future<Output = anyhow::Result<Vec<RawEntry>>> + Send + 'static {
        read_group(self.conn.clone(), self.read_cmd(">", true))
    }

    fn read_cmd(&self, id: &str, block: bool) -> redis::Cmd {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.cfg.group)
            .arg(&self.cfg.consumer)
            .arg("COUNT")
            .arg(self.cfg.count);
        if block {
            cmd.arg("BLOCK").arg(self.cfg.block_ms);
        }
        cmd.arg("STREAMS").arg(&self.cfg.streams);
        for _ in &self.cfg.streams {
            cmd.arg(id);
        }
        cmd
    }

    /// One `XAUTOCLAIM` step per stream (continues from the last cursor).
    async fn claim(&mut self) -> anyhow::Result<Vec<RawEntry>> {
        let mut out = Vec::new();
        for (i, stream) in self.cfg.streams.iter().enumerate() {
            let reply: redis::Value = redis::cmd("XAUTOCLAIM")
                .arg(stream)
                .arg(&self.cfg.group)
                .arg(&self.cfg.consumer)
                .arg(self.cfg.claim_idle_ms)
                .arg(&self.claim_cursor[i])
                .arg("COUNT")
                .arg(self.cfg.count)
                .query_async(&mut self.conn)
                .await
                .context("XAUTOCLAIM")?;
            let claim = decode_autoclaim_reply(stream, reply)?;
            self.claim_cursor[i] = claim.next;
            out.extend(claim.claimed);
            // Pending ids whose entries were trimmed: nothing to process, but they must
            // leave the pending list.
            out.extend(claim.deleted.into_iter().map(|id| RawEntry {
                stream: stream.as_str().into(),
                id,
                fields: None,
            }));
        }
        if !out.is_empty() {
            tracing::info!(
                entries = out.len(),
                "claimed entries left pending by another consumer"
            );
        }
        Ok(out)
    }

    /// Acknowledges processed entries of `stream`.
    pub async fn ack(&mut self, stream: &str, ids: &[&str]) -> anyhow::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let _: i64 = redis::cmd("XACK")
            .arg(stream)
            .arg(&self.cfg.group)
            .arg(ids)
            .query_async(&mut self.cmd)
            .await
            .context("XACK")?;
        Ok(())
    }

    /// Copies bad entries to `<stream>:dlq` with their reason, then acknowledges exactly
    /// the ones whose copy succeeded (a failed copy leaves its entry pending, to be retried,
    /// never acked without a trace). Returns, per letter, whether it was dead-lettered.
    pub async fn dead_letter(&mut self, letters: &[DeadLetter<'_>]) -> anyhow::Result<Vec<bool>> {
        if letters.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for letter in letters {
            let e = letter.entry;
            let mut add = redis::cmd("XADD");
            add.arg(format!("{}:dlq", e.stream))
                .arg("MAXLEN")
                .arg("~")
                .arg(100_000)
                .arg("*")
                .arg("reason")
                .arg(letter.reason)
                .arg("error")
                .arg(&letter.detail)
                .arg("source_id")
                .arg(&e.id);
            for (k, v) in e.fields.iter().flatten() {
                add.arg(k.as_slice()).arg(v.as_slice());
            }
            pipe.add_command(add);
        }
        // One reply per XADD; an error reply for one copy does not fail the others.
        let replies: Vec<redis::Value> = pipe
            .query_async(&mut self.cmd)
            .await
            .context("dead-letter XADD")?;
        let mut copied: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut ok = Vec::with_capacity(letters.len());
        for (i, letter) in letters.iter().enumerate() {
            let refused = !matches!(
                replies.get(i),
                Some(redis::Value::BulkString(_) | redis::Value::SimpleString(_))
            );
            ok.push(!refused);
            if !refused {
                copied
                    .entry(&letter.entry.stream)
                    .or_default()
                    .push(letter.entry.id.as_str());
            }
        }
        for (stream, ids) in &copied {
            self.ack(stream, ids).await?;
        }
        Ok(ok)
    }

    /// Entries of the group not yet delivered plus delivered-but-unacknowledged ones.
    pub async fn lag(&mut self) -> anyhow::Result<u64> {
        let mut total = 0u64;
        for stream in &self.cfg.streams {
            let groups: redis::Value = redis::cmd("XINFO")
                .arg("GROUPS")
                .arg(stream)
                .query_async(&mut self.cmd)
                .await
                .context("XINFO GROUPS")?;
            total += group_backlog(&groups, &self.cfg.group);
        }
        Ok(total)
    }
}

async fn read_group(
    mut conn: MultiplexedConnection,
    cmd: redis::Cmd,
) -> anyhow::Result<Vec<RawEntry>> {
    let reply: redis::Value = cmd.query_async(&mut conn).await.context("XREADGROUP")?;
    Ok(decode_read_reply(reply)?)
}

/// `lag + pending` of `group` in an `XINFO GROUPS` reply (missing fields count as 0).
fn group_backlog(reply: &redis::Value, group: &str) -> u64 {
    use redis::Value;
    let groups: &[Value] = match reply {
        Value::Array(v) | Value::Set(v) => v,
        _ => return 0,
    };
    for g in groups {
        let pairs: Vec<(&Value, &Value)> = match g {
            Value::Array(v) => v
                .chunks(2)
                .filter_map(|c| Some((c.first()?, c.get(1)?)))
                .collect(),
            Value::Map(m) => m.iter().map(|(k, v)| (k, v)).collect(),
            _ => continue,
        };
        let field = |name: &str| {
            pairs.iter().find_map(|(k, v)| match k {
                Value::BulkString(b) if b.as_slice() == name.as_bytes() => Some(*v),
                Value::SimpleString(s) if s == name => Some(*v),
                _ => None,
            })
        };
        let is_ours =
            matches!(field("name"), Some(Value::BulkString(b)) if b.as_slice() == group.as_bytes());
        if !is_ours {
            continue;
        }
        let num = |v: Option<&Value>| match v {
            Some(Value::Int(i)) => u64::try_from(*i).unwrap_or(0),
            _ => 0,
        };
        return num(field("lag")) + num(field("pending"));
    }
    0
}
