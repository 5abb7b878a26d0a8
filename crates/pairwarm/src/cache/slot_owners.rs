//! Which master of a Redis Cluster owns each hash slot, so a write batch can be grouped by
//! node: one newer-wins call per node and 256 keys instead of one per key
//! ([`NEWER_WINS_CLUSTER`](super::newer_wins::NEWER_WINS_CLUSTER)).
//!
//! Read from `CLUSTER SLOTS` when first needed and again whenever a write finds it stale (a
//! `non local key`, `MOVED` or `ASK` answer after a resharding or a failover).

use std::collections::HashMap;

use redis::Value;
use redis::cluster_routing::Slot;

use super::l2::L2Write;
use super::newer_wins::KEYS_PER_CALL;

/// The owner (a node index) of every slot.
#[derive(Debug)]
pub(super) struct SlotOwners {
    by_slot: HashMap<Slot, u16>,
}

impl SlotOwners {
    /// Reads a `CLUSTER SLOTS` reply: `[[start, end, [host, port, ...], replicas...], ...]`.
    /// `None` when it is not one.
    pub(super) fn parse(reply: &Value) -> Option<Self> {
        let Value::Array(ranges) = reply else {
            return None;
        };
        let mut nodes: HashMap<(Vec<u8>, i64), u16> = HashMap::new();
        let mut by_slot = HashMap::with_capacity(16_384);
        for range in ranges {
            let Value::Array(range) = range else {
                return None;
            };
            let (Some(Value::Int(start)), Some(Value::Int(end)), Some(Value::Array(master))) =
                (range.first(), range.get(1), range.get(2))
            else {
                return None;
            };
            let host = match master.first()? {
                Value::BulkString(b) => b.clone(),
                Value::SimpleString(s) => s.clone().into_bytes(),
                _ => return None,
            };
            let Some(Value::Int(port)) = master.get(1) else {
                return None;
            };
            let next = u16::try_from(nodes.len()).ok()?;
            let node = *nodes.entry((host, *port)).or_insert(next);
            for n in *start..=*end {
                by_slot.insert(Slot::new(u16::try_from(n).ok()?)?, node);
            }
        }
        Some(Self { by_slot })
    }

    /// The items of each script call, by index: grouped by the node owning each key's
    /// slot (in order within a node), runs of [`KEYS_PER_CALL`]. A key of a slot no node
    /// serves goes in a call of its own (the cluster answers it with an error).
    pub(super) fn calls(&self, items: &[L2Write]) -> Vec<Vec<usize>> {
        let mut per_node: Vec<Vec<usize>> = Vec::new();
        let mut orphans = Vec::new();
        for (i, w) in items.iter().enumerate() {
            match self.by_slot.get(&Slot::for_key(&w.key)) {
                Some(&node) => {
                    let node = usize::from(node);
                    if per_node.len() <= node {
                        per_node.resize_with(node + 1, Vec::new);
                    }
                    per_node[node].push(i);
                }
                None => orphans.push(vec![i]),
            }
        }
        per_node
            .iter()
            .flat_map(|run| run.chunks(KEYS_PER_CALL).map(<[usize]>::to_vec))
            .chain(orphans)
            .collect()
    }
}

/// Whether a reply says the view of the cluster is stale: a key not on the node the call
/// ran on, or a slot moved or moving.
pub(super) fn is_stale_topology(reply: &redis::RedisResult<Value>) -> bool {
    let Err(e) = reply else {
        return false;
    };
    matches!(e.code(), Some("MOVED" | "ASK" | "CROSSSLOT" | "TRYAGAIN"))
        || e.to_string().contains("non local key")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(host: &str, port: i64) -> Value {
        Value::Array(vec![
            Value::BulkString(host.as_bytes().to_vec()),
            Value::Int(port),
            Value::BulkString(b"id".to_vec()),
        ])
    }

    #[test]
    fn groups_keys_by_the_node_owning_their_slot() {
        // Slots 0..8191 on one node, 8192..16383 on another.
        let reply = Value::Array(vec![
            Value::Array(vec![Value::Int(0), Value::Int(8191), node("127.0.0.1", 1)]),
            Value::Array(vec![
                Value::Int(8192),
                Value::Int(16383),
                node("127.0.0.1", 2),
            ]),
        ]);
        let owners = SlotOwners::parse(&reply).unwrap();
        // `{a}` hashes to slot 15495, `{b}` to 3300 (CLUSTER KEYSLOT).
        let items: Vec<L2Write> = ["x:{a}:1", "x:{b}:1", "x:{a}:2", "x:{b}:2"]
            .iter()
            .map(|k| L2Write {
                key: (*k).to_owned(),
                value: Vec::new(),
                block: 0,
                ts_ms: 0,
            })
            .collect();
        let mut calls = owners.calls(&items);
        calls.sort();
        assert_eq!(calls, [vec![0, 2], vec![1, 3]]);
        let many: Vec<L2Write> = (0..600).map(|_| items[1].clone()).collect();
        let sizes: Vec<usize> = owners.calls(&many).iter().map(Vec::len).collect();
        assert_eq!(sizes, [256, 256, 88]);
        assert!(SlotOwners::parse(&Value::Int(1)).is_none());
    }
}
