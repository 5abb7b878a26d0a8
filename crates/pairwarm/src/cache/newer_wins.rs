//! The newer-wins write of a batch, as a Lua script run inside Redis: per key, the value
//! held is kept if its `blockNumber` (or pairwarm's earlier `block`), then its `timestamp`,
//! is greater than the new one's; otherwise `SET key value PX ttl`. The reply is a string
//! of `1` (written) and `0` (kept a newer value), one per key.
//!
//! One call per batch, not one per key: Redis' per-call cost of a script was measured at
//! 3-4x that of a plain `SET` (27,700 vs 228,000 writes/s, pipelined, same session), a
//! loop in one call at 2-3x. The version is read with a plain `string.find` and an
//! anchored digit match: both the original (`JSON.stringify`) and pairwarm write compact
//! JSON, and a `%s*` pattern scan cost twice as much. A held value without a version (a
//! bare price) is replaced.
//!
//! Two variants of the same body. On one server ([`NEWER_WINS`]) the keys are the script's
//! `KEYS`. On a Redis Cluster the declared keys of one call must share a hash slot, and with
//! the original's key shape almost every key has its own: one call per key would cost the
//! script's per-call price for every price. So the cluster variant ([`NEWER_WINS_CLUSTER`],
//! Redis >= 7.0) declares only its first key (which routes the call to its node) and takes
//! every key from `ARGV`, with the `allow-cross-slot-keys` flag: Redis then lets it touch any
//! key of the node it runs on, and refuses (`non local key`) one that lives elsewhere, so a
//! stale view of the cluster is an error to retry, never a write to the wrong node.

use redis::Cmd;

use super::l2::L2Write;

/// The loop over the batch; `$n`, `$key`, `$value`, `$block` and `$ts` are Lua expressions
/// (of `i`) that differ between the variants.
macro_rules! newer_wins_body {
    ($n:literal, $key:literal, $value:literal, $block:literal, $ts:literal) => {
        concat!(
            r#"
local ttl = ARGV[1]
local out = {}
for i = 1, "#,
            $n,
            r#" do
  local key = "#,
            $key,
            r#"
  local nb = tonumber("#,
            $block,
            r#")
  local held = redis.call('GET', key)
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
        if t > tonumber("#,
            $ts,
            r#") then keep = true end
      end
    end
  end
  if keep then
    out[i] = '0'
  else
    redis.call('SET', key, "#,
            $value,
            r#", 'PX', ttl)
    out[i] = '1'
  end
end
return table.concat(out)
"#
        )
    };
}

/// Keys per script call: bounds how long one call holds Redis (~1 ms); larger batches are
/// several calls in the same pipeline (still one round trip).
pub(super) const KEYS_PER_CALL: usize = 256;

/// A script and its SHA-1 (`EVALSHA` sends only the hash).
pub(super) struct Script {
    /// The Lua source (`SCRIPT LOAD`).
    pub(super) source: &'static str,
    hash: std::sync::OnceLock<String>,
    /// Whether keys go in `ARGV` (the cluster variant).
    keys_in_argv: bool,
}

impl Script {
    fn hash(&self) -> &str {
        self.hash
            .get_or_init(|| redis::Script::new(self.source).get_hash().to_owned())
    }

    /// The `EVALSHA` writing `items[i]` for each `i` of `call` (not empty) with `ttl_ms`.
    pub(super) fn call(&self, items: &[L2Write], call: &[usize], ttl_ms: u64) -> Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(self.hash());
        if self.keys_in_argv {
            // The first key routes the call (and is written again from ARGV).
            cmd.arg(1).arg(&items[call[0]].key).arg(ttl_ms);
            for &i in call {
                let w = &items[i];
                cmd.arg(&w.key).arg(&w.value).arg(w.block).arg(w.ts_ms);
            }
        } else {
            cmd.arg(call.len());
            for &i in call {
                cmd.arg(&items[i].key);
            }
            cmd.arg(ttl_ms);
            for &i in call {
                let w = &items[i];
                cmd.arg(&w.value).arg(w.block).arg(w.ts_ms);
            }
        }
        cmd
    }
}

/// One server: `KEYS` are the keys, `ARGV[1]` the TTL in ms, then per key its value,
/// `blockNumber` and `timestamp`.
pub(super) static NEWER_WINS: Script = Script {
    source: newer_wins_body!(
        "#KEYS",
        "KEYS[i]",
        "ARGV[3 * i - 1]",
        "ARGV[3 * i]",
        "ARGV[3 * i + 1]"
    ),
    hash: std::sync::OnceLock::new(),
    keys_in_argv: false,
};

/// A Redis Cluster: `KEYS[1]` routes the call, `ARGV[1]` is the TTL in ms, then per key
/// the key, its value, `blockNumber` and `timestamp`; every key on the node the call runs
/// on.
pub(super) static NEWER_WINS_CLUSTER: Script = Script {
    source: concat!(
        "#!lua flags=allow-cross-slot-keys",
        newer_wins_body!(
            "(#ARGV - 1) / 4",
            "ARGV[4 * i - 2]",
            "ARGV[4 * i - 1]",
            "ARGV[4 * i]",
            "ARGV[4 * i + 1]"
        )
    ),
    hash: std::sync::OnceLock::new(),
    keys_in_argv: true,
};
