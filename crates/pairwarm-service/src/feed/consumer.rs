//! Redis Streams consumer-group reader: at-least-once delivery of price updates.
//!
//! - Reads through a script ([`bounded_read.lua`](self::BOUNDED_READ)) that runs
//!   `XREADGROUP` in chunks and stops once `PAIRWARM_BATCH_MAX_BYTES` is spent, and cuts
//!   an entry larger than [`ConsumerConfig::whole_entry_bytes`] to a prefix and its size: what one read
//!   brings is bounded whatever the entries hold. When nothing waits it blocks in
//!   `XREADGROUP ... COUNT 1 BLOCK ms` for the next entry (cut here if it is too large).
//!   Reads run on a **dedicated** connection whose response timeout exceeds the block
//!   time (a blocking read on the cache's shared multiplexed connection would stall every
//!   cache read behind it).
//! - On (re)connecting it first re-reads its own pending entries: those delivered before a
//!   crash or a lost connection and never acknowledged. Each recovery read continues after
//!   the last entry it returned, so entries that stay pending cannot hold recovery up.
//! - Every `claim_every`, `XAUTOCLAIM ... JUSTID` takes over entries idle for longer than
//!   `claim_idle_ms` in the group (left by a dead consumer); they are then read as this
//!   consumer's own pending entries, through the same bounded read. Entries deleted from
//!   the stream while pending are acknowledged and dead-lettered as `deleted`, or they
//!   would stay pending forever.
//! - With the claims, consumers idle past `dead_consumer_idle` that own no pending entries
//!   are removed from the group ([`super::dead_consumers`]).
//! - Entries are acknowledged (`XACK`) only after processing; malformed ones are copied to
//!   `<stream>:dlq` with a `reason` (one pipelined round trip), and exactly the ones whose
//!   copy Redis accepted are acknowledged, so nothing is lost without a trace.
//! - On a Redis Cluster (`REDIS_CLUSTER`) every command and script runs on the node of its
//!   keys: streams are read in groups that share a hash slot (one group per stream unless
//!   their names share a `{hash tag}`), one group per read, rotating, so a read never mixes
//!   slots; the blocking read waits on one group at a time for `block_ms` divided by the
//!   number of groups. Pipelines (`XPENDING`, dead-letter `XADD`s) are sent one per slot.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::FeedError;
use super::dead_letter::{DeadLetter, Sample, letter_bounds, letter_fields};
use crate::stream::{
    RawEntry, decode_autoclaim_ids, decode_read_reply, group_backlog, pending_delivery_count,
};
use std::sync::atomic::{AtomicUsize, Ordering};

use pairwarm::cache::{RedisConnection, RedisTarget};

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
    /// Bytes of entries one read may bring (about: the last entry read may pass it).
    pub batch_max_bytes: usize,
    /// Bytes a dead-letter stream may hold (about).
    pub dead_letter_max_bytes: u64,
    /// An entry larger than this (names and values) is not read whole but cut to a prefix
    /// and its size: it can only be dead-lettered (`PAIRWARM_MAX_ENTRY_BYTES` +
    /// [`ENTRY_OVERHEAD_BYTES`] in the service).
    pub whole_entry_bytes: usize,
}

/// The bounded read ([`StreamConsumer`]'s reads).
pub const BOUNDED_READ: &str = include_str!("bounded_read.lua");

/// What an entry may hold besides its largest accepted `data` document
/// (`PAIRWARM_MAX_ENTRY_BYTES`) and still be read whole ([`ConsumerConfig::whole_entry_bytes`]).
pub const ENTRY_OVERHEAD_BYTES: usize = 64 * 1024;

/// Bytes of each of the first names and values a cut entry keeps.
pub const CUT_PREFIX_BYTES: usize = 64;

/// Names and values a cut entry keeps (8 fields).
const CUT_ITEMS: usize = 16;

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
    conn: RedisConnection,
    /// Acks and dead letters, so they never queue behind a blocked read.
    cmd: RedisConnection,
    cfg: ConsumerConfig,
    /// Indexes of the streams read together: all of them on one server; on a cluster,
    /// those sharing a hash slot.
    groups: Arc<Vec<Vec<usize>>>,
    /// The group the next read starts with (rotates, so no group starves another).
    next_group: Arc<AtomicUsize>,
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
    script: redis::Script,
}

impl StreamConsumer {
    /// Connects (two connections: blocking reads, and everything else) and creates the
    /// group on every stream if it does not exist.
    pub async fn connect(cfg: ConsumerConfig) -> Result<Self, FeedError> {
        let connect = || {
            RedisConnection::connect(
                &cfg.target,
                Duration::from_secs(2),
                // Longer than BLOCK, so a quiet stream is not mistaken for a dead server.
                Duration::from_millis(cfg.block_ms + 2000),
            )
        };
        let conn = connect().await.map_err(FeedError::redis("connect"))?;
        let cmd = connect().await.map_err(FeedError::redis("connect"))?;
        let groups = Arc::new(slot_groups(&cfg.streams, cfg.target.is_cluster()));
        let claim_cursor = vec!["0-0".to_string(); cfg.streams.len()];
        let recovery_cursor = claim_cursor.clone();
        let new_ids = vec![">".to_owned(); cfg.streams.len()];
        let mut consumer = Self {
            conn,
            cmd,
            cfg,
            groups,
            next_group: Arc::new(AtomicUsize::new(0)),
            own_pending: true,
            recovery_cursor,
            new_ids,
            last_claim: None,
            claim_cursor,
            recovered: 0,
            script: redis::Script::new(BOUNDED_READ),
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
            let entries = self.read(&self.recovery_cursor, false).await?;
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
            let (claimed, deleted) = self.claim().await?;
            self.last_claim = Some(Instant::now());
            if claimed > 0 {
                // Claimed entries are this consumer's pending entries now: read them through
                // the bounded read (ids only were claimed, nothing was delivered).
                self.own_pending = true;
                self.recovery_cursor.fill("0-0".to_owned());
            }
            if !deleted.is_empty() {
                return Ok(Batch::redelivered(deleted));
            }
            if claimed > 0 {
                return Box::pin(self.next_batch()).await;
            }
        }
        self.read(&self.new_ids, true).await.map(Batch::new)
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
        let read = self.read(&self.new_ids, true);
        async move { read.await.map(Batch::new) }
    }

    /// The bounded read from `ids` (one per stream: `>` for new entries, an id for own
    /// pending entries after it), group by group until one brings entries; with `block`,
    /// when nothing waits, a blocking read of one entry (of one group).
    fn read(
        &self,
        ids: &[String],
        block: bool,
    ) -> impl std::future::Future<Output = Result<Vec<RawEntry>, FeedError>> + Send + 'static {
        let script = self.script.clone();
        let streams = self.cfg.streams.clone();
        let groups = self.groups.clone();
        let first = self.next_group.fetch_add(1, Ordering::Relaxed);
        let ids = ids.to_vec();
        let args = (
            self.cfg.group.clone(),
            self.cfg.consumer.clone(),
            self.cfg.count,
            self.cfg.batch_max_bytes,
            self.cfg.whole_entry_bytes,
        );
        let blocking = block.then(|| {
            let group = &self.groups[first % self.groups.len()];
            // Several groups wait in turn: a quiet group must not delay the others long.
            let block_ms = (self.cfg.block_ms / self.groups.len() as u64).max(1);
            self.read_cmd(group, &self.new_ids, 1, Some(block_ms))
        });
        let mut conn = self.conn.clone();
        async move {
            for g in 0..groups.len() {
                let group = &groups[(first + g) % groups.len()];
                let mut call = script.prepare_invoke();
                for &i in group {
                    call.key(&streams[i]);
                }
                call.arg(&args.0)
                    .arg(&args.1)
                    .arg(args.2)
                    .arg(args.3)
                    .arg(args.4)
                    .arg(CUT_PREFIX_BYTES);
                for &i in group {
                    call.arg(&ids[i]);
                }
                let reply: redis::Value = call
                    .invoke_async(&mut conn)
                    .await
                    .map_err(FeedError::redis("XREADGROUP (bounded read script)"))?;
                let entries = decode_read_reply(reply)?;
                if !entries.is_empty() {
                    return Ok(entries);
                }
            }
            let Some(blocking) = blocking else {
                return Ok(Vec::new());
            };
            let mut entries = read_group(conn, blocking).await?;
            for e in &mut entries {
                cut_if_large(e, args.4);
            }
            Ok(entries)
        }
    }

    /// How many times each entry has been delivered (Redis' count in the pending list), for
    /// redelivered batches: one pipelined `XPENDING` per entry, in one round trip. Entries
    /// no longer pending are absent.
    pub async fn delivery_counts(
        &mut self,
        entries: &[RawEntry],
    ) -> Result<HashMap<(Arc<str>, String), u64>, FeedError> {
        let cmds = entries
            .iter()
            .map(|e| {
                let mut cmd = redis::cmd("XPENDING");
                cmd.arg(&*e.stream)
                    .arg(&self.cfg.group)
                    .arg(&e.id)
                    .arg(&e.id)
                    .arg(1);
                (&*e.stream, cmd)
            })
            .collect();
        let replies = self
            .cmd
            .query_per_slot(cmds)
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

    /// `XREADGROUP` of `count` entries from the streams of `group` at `ids` (one per
    /// stream: `>` for new entries, an id for own pending entries after it).
    fn read_cmd(
        &self,
        group: &[usize],
        ids: &[String],
        count: usize,
        block_ms: Option<u64>,
    ) -> redis::Cmd {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.cfg.group)
            .arg(&self.cfg.consumer)
            .arg("COUNT")
            .arg(count);
        if let Some(ms) = block_ms {
            cmd.arg("BLOCK").arg(ms);
        }
        cmd.arg("STREAMS");
        for &i in group {
            cmd.arg(&self.cfg.streams[i]);
        }
        for &i in group {
            cmd.arg(&ids[i]);
        }
        cmd
    }

    /// One `XAUTOCLAIM ... JUSTID` step per stream (continues from the last cursor):
    /// how many entries were claimed, and the claimed ids whose entries were deleted.
    async fn claim(&mut self) -> Result<(usize, Vec<RawEntry>), FeedError> {
        let mut out = Vec::new();
        let mut claimed = 0;
        for (i, stream) in self.cfg.streams.iter().enumerate() {
            let reply: redis::Value = redis::cmd("XAUTOCLAIM")
                .arg(stream)
                .arg(&self.cfg.group)
                .arg(&self.cfg.consumer)
                .arg(self.cfg.claim_idle_ms)
                .arg(&self.claim_cursor[i])
                .arg("COUNT")
                .arg(self.cfg.count)
                .arg("JUSTID")
                .query_async(&mut self.conn)
                .await
                .map_err(FeedError::redis("XAUTOCLAIM"))?;
            let claim = decode_autoclaim_ids(reply)?;
            self.claim_cursor[i] = claim.next;
            claimed += claim.claimed.len();
            // Pending ids whose entries were trimmed: nothing to process, but they must
            // leave the pending list.
            out.extend(claim.deleted.into_iter().map(|id| RawEntry {
                stream: stream.as_str().into(),
                id,
                fields: None,
                cut: None,
            }));
        }
        if claimed + out.len() > 0 {
            tracing::info!(
                entries = claimed + out.len(),
                "claimed entries left pending by another consumer"
            );
        }
        Ok((claimed, out))
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
        let (maxlen, per_letter) =
            letter_bounds(self.cfg.dead_letter_max_bytes, self.cfg.dead_letter_maxlen);
        let mut cmds = Vec::with_capacity(letters.len());
        for letter in letters {
            let e = letter.entry;
            let (dlq, mut add) = dead_letter_xadd(
                &e.stream,
                maxlen,
                letter.reason.label(),
                &letter.reason.to_string(),
                &e.id,
            );
            let (kept, truncated) = letter_fields(e, per_letter);
            for (k, v) in kept {
                add.arg(k).arg(v);
            }
            if let Some(note) = truncated {
                add.arg("truncated").arg(note);
            }
            cmds.push((dlq, add));
        }
        // One reply per XADD; an error reply for one copy does not fail the others.
        let replies = self
            .cmd
            .query_per_slot(cmds)
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

    /// Bytes of names and values one dead-letter copy keeps.
    pub fn letter_bytes(&self) -> usize {
        letter_bounds(self.cfg.dead_letter_max_bytes, self.cfg.dead_letter_maxlen).1
    }

    /// Copies samples of updates refused inside good envelopes to `<stream>:dlq` (reason,
    /// error, source entry id, index in the envelope), in one round trip. Nothing is
    /// acknowledged here: the envelopes were processed.
    pub async fn dead_letter_samples(&mut self, samples: &[Sample<'_>]) -> Result<(), FeedError> {
        if samples.is_empty() {
            return Ok(());
        }
        let (maxlen, _) =
            letter_bounds(self.cfg.dead_letter_max_bytes, self.cfg.dead_letter_maxlen);
        let mut cmds = Vec::with_capacity(samples.len());
        for s in samples {
            let (dlq, mut add) = dead_letter_xadd(
                &s.entry.stream,
                maxlen,
                s.error.reason(),
                &s.error.to_string(),
                &s.entry.id,
            );
            add.arg("index").arg(s.index);
            cmds.push((dlq, add));
        }
        let replies = self
            .cmd
            .query_per_slot(cmds)
            .await
            .map_err(FeedError::redis("dead-letter sample XADD"))?;
        match replies.into_iter().find_map(Result::err) {
            Some(e) => Err(FeedError::redis("dead-letter sample XADD")(e)),
            None => Ok(()),
        }
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

/// The streams read together, by index: all in one group on one server; on a cluster,
/// one group per hash slot (streams whose names share a `{hash tag}` share a slot), in the
/// order of their first stream.
fn slot_groups(streams: &[String], cluster: bool) -> Vec<Vec<usize>> {
    if !cluster {
        return vec![(0..streams.len()).collect()];
    }
    let mut groups: Vec<(redis::cluster_routing::Slot, Vec<usize>)> = Vec::new();
    for (i, stream) in streams.iter().enumerate() {
        let slot = redis::cluster_routing::Slot::for_key(stream);
        match groups.iter_mut().find(|(s, _)| *s == slot) {
            Some((_, group)) => group.push(i),
            None => groups.push((slot, vec![i])),
        }
    }
    groups.into_iter().map(|(_, group)| group).collect()
}

async fn read_group(
    mut conn: RedisConnection,
    cmd: redis::Cmd,
) -> Result<Vec<RawEntry>, FeedError> {
    let reply: redis::Value = cmd
        .query_async(&mut conn)
        .await
        .map_err(FeedError::redis("XREADGROUP"))?;
    Ok(decode_read_reply(reply)?)
}

/// Cuts an entry read whole by the blocking read to what the bounded read would have kept.
fn cut_if_large(entry: &mut RawEntry, whole: usize) {
    let Some(fields) = entry.fields.as_mut() else {
        return;
    };
    let size: usize = fields.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size <= whole {
        return;
    }
    fields.truncate(CUT_ITEMS / 2);
    for (k, v) in fields.iter_mut() {
        k.truncate(CUT_PREFIX_BYTES);
        v.truncate(CUT_PREFIX_BYTES);
        k.shrink_to_fit();
        v.shrink_to_fit();
    }
    entry.cut = Some(size as u64);
}

/// The head of a dead-letter copy: `XADD <stream>:dlq MAXLEN ~ <maxlen> * reason .. error ..
/// source_id ..` and the dead-letter stream's name; the caller appends what the copy carries.
fn dead_letter_xadd(
    stream: &str,
    maxlen: u64,
    reason: &str,
    error: &str,
    source_id: &str,
) -> (String, redis::Cmd) {
    let dlq = format!("{stream}:dlq");
    let mut add = redis::cmd("XADD");
    add.arg(&dlq)
        .arg("MAXLEN")
        .arg("~")
        .arg(maxlen)
        .arg("*")
        .arg("reason")
        .arg(reason)
        .arg("error")
        .arg(error)
        .arg("source_id")
        .arg(source_id);
    (dlq, add)
}
