//! Removing consumers that left the group for good.
//!
//! Every restart under a per-process name leaves a consumer behind in the group; `XINFO
//! CONSUMERS` grows and an operator cannot tell live instances from dead ones. A consumer
//! is removed when it has been idle (no read attempt) for the configured time **and** owns
//! no pending entries. Deleting a consumer deletes its pending entries from the group's
//! pending list, so both conditions are checked and the `XGROUP DELCONSUMER` issued in one
//! Lua script: Redis runs it atomically, so a consumer cannot read (and come to own) an
//! entry between the check and the delete. Entries a dead consumer still owns are left to
//! `XAUTOCLAIM`; once they are claimed, the consumer is removed on a later pass.

use pairwarm::cache::RedisConnection;

use super::FeedError;

/// Deletes the consumers of `group` on `stream`, other than `me`, that have been idle at
/// least `min_idle_ms` and own no pending entry; returns their names.
const SCRIPT: &str = r"
local removed = {}
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f['name'] ~= ARGV[2] and f['pending'] == 0 and f['idle'] >= tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    table.insert(removed, f['name'])
  end
end
return removed
";

/// One pass over `streams`: removes the dead consumers of `group` (never `me`).
pub(super) async fn remove(
    conn: &mut RedisConnection,
    streams: &[String],
    group: &str,
    me: &str,
    min_idle_ms: u64,
) -> Result<Vec<String>, FeedError> {
    static COMPILED: std::sync::LazyLock<redis::Script> =
        std::sync::LazyLock::new(|| redis::Script::new(SCRIPT));
    let script = &*COMPILED;
    let mut removed = Vec::new();
    for stream in streams {
        let names: Vec<String> = script
            .key(stream)
            .arg(group)
            .arg(me)
            .arg(min_idle_ms)
            .invoke_async(conn)
            .await
            .map_err(FeedError::redis("remove dead consumers"))?;
        if !names.is_empty() {
            tracing::info!(%stream, %group, consumers = ?names, idle_ms = min_idle_ms, "removed idle consumers that owned no pending entries");
        }
        removed.extend(names);
    }
    Ok(removed)
}
