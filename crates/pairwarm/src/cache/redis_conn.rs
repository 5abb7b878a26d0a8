//! One connection type for a standalone Redis and a Redis Cluster, and the one rule that
//! differs between them: which commands may share a pipeline.
//!
//! On a cluster every key lives in one of 16,384 hash slots, each served by one master.
//! redis-rs's cluster connection routes a command by its first key, follows `MOVED`/`ASK`
//! redirections and splits a multi-key `MGET` per slot (sent concurrently, answers put
//! back in order); it keeps one multiplexed connection per node, so commands sent
//! concurrently to one node travel together, as a pipeline would. What it cannot do is
//! run a pipeline, or a script, whose keys span slots: [`query_per_slot`] therefore sends
//! one pipeline per slot, all concurrently, and returns the replies in the caller's order.
//! On a standalone server it is one pipeline, one round trip, as before.

use std::collections::HashMap;

use redis::aio::{ConnectionLike, ConnectionManager, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::Slot;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

use super::redis_target::{ClusterTimeouts, RedisTarget};

/// A connection to a standalone Redis or to a Redis Cluster. Cloning shares it.
#[derive(Clone)]
pub enum RedisConnection {
    /// A reconnecting connection to one server (the L2's).
    Managed(ConnectionManager),
    /// A plain multiplexed connection to one server (the stream consumer's).
    Single(MultiplexedConnection),
    /// The cluster client: one connection per node, routed by key slot.
    Cluster(ClusterConnection),
}

impl RedisConnection {
    /// Connects now to `target`: one multiplexed connection to a standalone server, or the
    /// cluster client (which discovers the cluster through the seed nodes). The response
    /// timeout must exceed any `BLOCK` sent on the connection.
    ///
    /// # Errors
    /// The URL is invalid or the server (every seed node) cannot be reached.
    pub async fn connect(
        target: &RedisTarget,
        connection_timeout: std::time::Duration,
        response_timeout: std::time::Duration,
    ) -> RedisResult<Self> {
        if target.is_cluster() {
            let client = target.cluster_client(ClusterTimeouts {
                connection: connection_timeout,
                response: response_timeout,
                retries: 2,
                min_wait: std::time::Duration::from_millis(10),
                max_wait: std::time::Duration::from_millis(200),
            })?;
            return client.get_async_connection().await.map(Self::Cluster);
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(connection_timeout))
            .set_response_timeout(Some(response_timeout));
        target
            .client()?
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map(Self::Single)
    }

    /// Whether this is a cluster connection.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// Sends `cmds` (each with the key that routes it) and returns one result per command,
    /// in order; one refused command does not hide the others' replies. Standalone: one
    /// pipeline. Cluster: one pipeline per hash slot, sent concurrently.
    ///
    /// # Errors
    /// A pipeline failed as a whole (connection lost, timeout).
    pub async fn query_per_slot<K: AsRef<[u8]>>(
        &self,
        cmds: Vec<(K, Cmd)>,
    ) -> RedisResult<Vec<RedisResult<Value>>> {
        if !self.is_cluster() {
            let mut pipe = redis::pipe();
            for (_, cmd) in cmds {
                pipe.add_command(cmd);
            }
            return pipe.ignore_errors().query_async(&mut self.clone()).await;
        }
        let n = cmds.len();
        let mut per_slot: HashMap<Slot, (Vec<usize>, Pipeline)> = HashMap::new();
        for (i, (key, cmd)) in cmds.into_iter().enumerate() {
            let (at, pipe) = per_slot
                .entry(Slot::for_key(key))
                .or_insert_with(|| (Vec::new(), redis::pipe()));
            at.push(i);
            pipe.add_command(cmd);
        }
        let sends = per_slot.into_values().map(|(at, mut pipe)| {
            let mut conn = self.clone();
            async move {
                let replies: Vec<RedisResult<Value>> =
                    pipe.ignore_errors().query_async(&mut conn).await?;
                Ok::<_, redis::RedisError>((at, replies))
            }
        });
        let mut out: Vec<Option<RedisResult<Value>>> = (0..n).map(|_| None).collect();
        for sent in futures_util::future::join_all(sends).await {
            let (at, replies) = sent?;
            for (i, reply) in at.into_iter().zip(replies) {
                out[i] = Some(reply);
            }
        }
        Ok(out
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(redis::RedisError::from((
                        redis::ErrorKind::Client,
                        "pipeline answered fewer replies than commands",
                    )))
                })
            })
            .collect())
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Managed(c) => c.req_packed_command(cmd),
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Managed(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Managed(c) => c.get_db(),
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}
