//! Redis Streams consumer-group reader: at-least-once delivery of price updates.
//!
//! - Reads with `XREADGROUP GROUP g c COUNT n BLOCK ms STREAMS s... >` on a **dedicated**
//!   connection whose response timeout exceeds the block time (a blocking read on the
//!   cache's shared multiplexed connection would stall every cache read behind it).
//! - On (re)connecting it first re-reads its own pending entries: those delivered before a
//!   crash or a lost connection and never acknowledged. Each recovery read continues after
//!   the last entry it returned, so entries that stay pending cannot hold recovery up.
//! - Every `claim_every`, `XAUTOCLAIM` takes over entries idle for longer than
//!   `claim_idle_ms` in the group (left by a dead consumer). Entries deleted from the stream
//!   while pending are acknowledged and dead-lettered as `deleted`, or they would stay
//!   pending forever.
//! - With the claims, consumers idle past `dead_consumer_idle` that own no pending entries
//!   are removed from the group ([`super::dead_consumers`]).
//! - Entries are acknowledged (`XACK`) only after processing; malformed ones are copied to
//!   `<stream>:dlq` with a `reason` (one pipelined round trip), and exactly the ones whose
//!   copy Redis accepted are acknowledged, so nothing is lost without a trace.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::FeedError;
use super::dead_letter::{DeadLetter, Sample};
use crate::stream::{
    RawEntry, decode_autoclaim_reply, decode_read_reply, group_backlog, pending_delivery_count,
};
use pairwarm::cache::RedisTarget;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;

/// Consumer settings.
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    /// Redis URL and TLS material.
    pub target: RedisTarget,
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
    /// How often to look for entries to claim (and for dead consumers).
    pub claim_every: Duration,
    /// Where a group this consumer creates starts: `$` (the end) or `0`.
    pub group_start: &'static str,
    /// `MAXLEN ~` of the dead-letter streams.
    pub dead_letter_maxlen: u64,
    /// Remove other consumers idle this long that own no pending entries (zero: never).
    pub dead_consumer_idle: Duration,
}

/// Bytes of one field value a dead-letter copy keeps (a 620 KB envelope is clipped, and
/// the copy says so): the dead-letter stream stays small whatever comes in.
pub const DEAD_LETTER_VALUE_BYTES: usize = 4096;

/// Entries of one read, and whether they were delivered before (own pending entries after
/// a restart or reconnect, or claimed from another consumer) or are new.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    /// The entries, as read.
    pub entries: Vec<RawEntry>,
    /// Delivered before: worth checking their delivery counts.
    pub redelivered: bool,
}

impl Batch {
    fn new(entries: Vec<RawEntry>) -> Self {
        Self {
            entries,
            redelivered: false,
        }
    }

    fn redelivered(entries: Vec<RawEntry>) -> Self {
        Self {
            entries,
            redelivered: true,
        }
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A consumer of the price streams in one consumer group, on its own two connections.
pub struct StreamConsumer {
    /// Dedicated to `XREADGROUP` (may block for `block_ms`).
    conn: MultiplexedConnection,
    /// Acks and dead letters, so they never queue behind a blocked read.
    cmd: MultiplexedConnection,
    cfg: ConsumerConfig,
    /// Still draining this consumer's own pending entries (start-up recovery).
    own_pending: bool,
    /// Per stream, the last own pending entry recovery has returned: each recovery read
    /// continues after it, so entries that stay pending (a refused dead-letter copy) are
    /// passed over instead of coming back forever.
    recovery_cursor: Vec<String>,
    /// `>` per stream: the ids of a read of new entries.
    new_ids: Vec<String>,
    last_claim: Option<Instant>,
    claim_cursor: Vec<String>,
    /// Own pending entries re-read since connecting (logged when recovery ends).
    recovered: usize,
}

impl StreamConsumer {
    /// Connects (two connections: blocking reads, and everything else) and creates the
    /// group on every stream if it does not exist.
    pub async fn connect(cfg: ConsumerConfig) -> Result<Self, FeedError> {
        let client = cfg
            .target
            .client()
            .map_err(FeedError::redis("open Redis URL"))?;
        let conn_cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            // Longer than BLOCK, so a quiet stream is not mistaken for a dead server.
            .set_response_timeout(Some(Duration::from_millis(cfg.block_ms + 2000)));
        let conn = client
            .get_multiplexed_async_connection_with_config(&conn_cfg)
            .await
            .map_err(FeedError::redis("connect"))?;
        let cmd = client
            .get_multiplexed_async_connection_with_config(&conn_cfg)
            .await
            .map_err(FeedError::redis("connect"))?;
        let claim_cursor = vec!["0-0".to_string(); cfg.streams.len()];
        let recovery_cursor = claim_cursor.clone();
        let new_ids = vec![">".to_owned(); cfg.streams.len()];
        let mut consumer = Self {
            conn,
            cmd,
            cfg,
            own_pending: true,
            recovery_cursor,
            new_ids,
            last_claim: None,
            claim_cursor,
            recovered: 0,
        };
        consumer.ensure_groups().await?;
        Ok(consumer)
    }

    /// Creates the group on each stream at `group_start` (`$` by default: a shared stream's
    /// retained history is not replayed); an existing group keeps its position.
    async fn ensure_groups(&mut self) -> Result<(), FeedError> {
        for stream in &self.cfg.streams {
            let created: redis::RedisResult<()> = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(stream)
                .arg(&self.cfg.group)
                .arg(self.cfg.group_start)
                .arg("MKSTREAM")
                .query_async(&mut self.conn)
                .await;
            if let Err(e) = created
                && e.code() != Some("BUSYGROUP")
            {
                return Err(FeedError::redis("XGROUP CREATE")(e));
            }
        }
        Ok(())
    }

    /// The next batch: own pending entries first, then claims when due, then new entries.
    pub async fn next_batch(&mut self) -> Result<Batch, FeedError> {
        if self.own_pending {
            let entries = read_group(
                self.conn.clone(),
                self.read_cmd(&self.recovery_cursor, false),
            )
            .await?;
            if !entries.is_empty() {
                for entry in &entries {
                    if let Some(i) = self.cfg.streams.iter().position(|s| **s == *entry.stream) {
                        self.recovery_cursor[i].clone_from(&entry.id);
                    }
                }
                self.recovered += entries.len();
                return Ok(Batch::redelivered(entries));
            }
            self.own_pending = false;
            if self.recovered > 0 {
                tracing::info!(
                    consumer = %self.cfg.consumer,
                    entries = self.recovered,
                    "re-read this consumer's own pending entries"
                );
            }
        }
        let claim_due = self
            .last_claim
            .is_none_or(|t| t.elapsed() >= self.cfg.claim_every);
        if claim_due {
            if !self.cfg.dead_consumer_idle.is_zero() {
                let idle_ms =
                    u64::try_from(self.cfg.dead_consumer_idle.as_millis()).unwrap_or(u64::MAX);
                super::dead_consumers::remove(
                    &mut self.cmd,
                    &self.cfg.streams,
                    &self.cfg.group,
                    &self.cfg.consumer,
                    idle_ms,
                )
                .await?;
            }
            let claimed = self.claim().await?;
            if !claimed.is_empty() {
                return Ok(Batch::redelivered(claimed));
            }
            self.last_claim = Some(Instant::now());
        }
        read_group(self.conn.clone(), self.read_cmd(&self.new_ids, true))
            .await
            .map(Batch::new)
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
    ) -> impl std::future::Future<Output = Result<Batch, FeedError>> + Send + 'static {
        let read = read_group(self.conn.clone(), self.read_cmd(&self.new_ids, true));
        async move { read.await.map(Batch::new) }
    }

    /// How many times each entry has been delivered (Redis' count in the pending list), for
    /// redelivered batches: one pipelined `XPENDING` per entry, in one round trip. Entries
    /// no longer pending are absent.
    pub async fn delivery_counts(
        &mut self,
        entries: &[RawEntry],
    ) -> Result<HashMap<(Arc<str>, String), u64>, FeedError> {
        let mut pipe = redis::pipe();
        for e in entries {
            pipe.cmd("XPENDING")
                .arg(&*e.stream)
                .arg(&self.cfg.group)
                .arg(&e.id)
                .arg(&e.id)
                .arg(1);
        }
        let replies: Vec<redis::RedisResult<redis::Value>> = pipe
            .ignore_errors()
            .query_async(&mut self.cmd)
            .await
            .map_err(FeedError::redis("XPENDING"))?;
        Ok(entries
            .iter()
            .zip(replies)
            .filter_map(|(e, reply)| {
                let count = pending_delivery_count(&reply.ok()?)?;
                Some(((e.stream.clone(), e.id.clone()), count))
            })
            .collect())
    }

    /// `XREADGROUP` from `ids` (one per stream: `>` for new entries, an id for own pending
    /// entries after it).
    fn read_cmd(&self, ids: &[String], block: bool) -> redis::Cmd {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.cfg.group)
            .arg(&self.cfg.consumer)
            .arg("COUNT")
            .arg(self.cfg.count);
        if block {
            cmd.arg("BLOCK").arg(self.cfg.block_ms);
        }
        cmd.arg("STREAMS").arg(&self.cfg.streams).arg(ids);
        cmd
    }

    /// One `XAUTOCLAIM` step per stream (continues from the last cursor).
    async fn claim(&mut self) -> Result<Vec<RawEntry>, FeedError> {
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
                .map_err(FeedError::redis("XAUTOCLAIM"))?;
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
    pub async fn ack(&mut self, stream: &str, ids: &[&str]) -> Result<(), FeedError> {
        if ids.is_empty() {
            return Ok(());
        }
        let _: i64 = redis::cmd("XACK")
            .arg(stream)
            .arg(&self.cfg.group)
            .arg(ids)
            .query_async(&mut self.cmd)
            .await
            .map_err(FeedError::redis("XACK"))?;
        Ok(())
    }

    /// Copies bad entries to `<stream>:dlq` with their reason, then acknowledges exactly
    /// the ones whose copy succeeded (a failed copy leaves its entry pending, to be retried,
    /// never acked without a trace). Returns, per letter, whether it was dead-lettered.
    pub async fn dead_letter(
        &mut self,
        letters: &[DeadLetter<'_>],
    ) -> Result<Vec<bool>, FeedError> {
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
                .arg(self.cfg.dead_letter_maxlen)
                .arg("*")
                .arg("reason")
                .arg(letter.reason.label())
                .arg("error")
                .arg(letter.reason.to_string())
                .arg("source_id")
                .arg(&e.id);
            let mut clipped = Vec::new();
            for (k, v) in e.fields.iter().flatten() {
                if v.len() > DEAD_LETTER_VALUE_BYTES {
                    clipped.push(format!("{}={}", String::from_utf8_lossy(k), v.len()));
                }
                add.arg(k.as_slice())
                    .arg(&v[..v.len().min(DEAD_LETTER_VALUE_BYTES)]);
            }
            if !clipped.is_empty() {
                // `<field>=<original bytes>` of each value cut to DEAD_LETTER_VALUE_BYTES.
                add.arg("truncated").arg(clipped.join(","));
            }
            pipe.add_command(add);
        }
        // One reply per XADD; an error reply for one copy does not fail the others.
        let replies: Vec<redis::RedisResult<redis::Value>> = pipe
            .ignore_errors()
            .query_async(&mut self.cmd)
            .await
            .map_err(FeedError::redis("dead-letter XADD"))?;
        let mut copied: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut ok = Vec::with_capacity(letters.len());
        for (i, letter) in letters.iter().enumerate() {
            let refused = !matches!(
                replies.get(i),
                Some(Ok(
                    redis::Value::BulkString(_) | redis::Value::SimpleString(_)
                ))
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

    /// Copies samples of updates refused inside good envelopes to `<stream>:dlq` (reason,
    /// error, source entry id, index in the envelope), in one round trip. Nothing is
    /// acknowledged here: the envelopes were processed.
    pub async fn dead_letter_samples(&mut self, samples: &[Sample<'_>]) -> Result<(), FeedError> {
        if samples.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for s in samples {
            pipe.cmd("XADD")
                .arg(format!("{}:dlq", s.entry.stream))
                .arg("MAXLEN")
                .arg("~")
                .arg(self.cfg.dead_letter_maxlen)
                .arg("*")
                .arg("reason")
                .arg(s.error.reason())
                .arg("error")
                .arg(s.error.to_string())
                .arg("source_id")
                .arg(&s.entry.id)
                .arg("index")
                .arg(s.index)
                .ignore();
        }
        pipe.query_async::<()>(&mut self.cmd)
            .await
            .map_err(FeedError::redis("dead-letter sample XADD"))
    }

    /// Entries of the group not yet delivered plus delivered-but-unacknowledged ones.
    pub async fn lag(&mut self) -> Result<u64, FeedError> {
        let mut total = 0u64;
        for stream in &self.cfg.streams {
            let groups: redis::Value = redis::cmd("XINFO")
                .arg("GROUPS")
                .arg(stream)
                .query_async(&mut self.cmd)
                .await
                .map_err(FeedError::redis("XINFO GROUPS"))?;
            total += group_backlog(&groups, &self.cfg.group);
        }
        Ok(total)
    }
}

async fn read_group(
    mut conn: MultiplexedConnection,
    cmd: redis::Cmd,
) -> Result<Vec<RawEntry>, FeedError> {
    let reply: redis::Value = cmd
        .query_async(&mut conn)
        .await
        .map_err(FeedError::redis("XREADGROUP"))?;
    Ok(decode_read_reply(reply)?)
}
