//! Decoding Redis Stream replies into raw entries, without trusting their contents.
//!
//! redis-rs's typed stream replies put field names into `String`s, so one entry with a
//! non-UTF-8 field name fails the whole batch — and a batch that cannot be parsed cannot be
//! acknowledged, which would wedge the consumer. This decoder walks the raw reply and keeps
//! names and values as bytes; the entry parser ([`super::entry`]) then judges each entry on
//! its own, and a bad one goes to the dead-letter stream.
//!
//! The consumer's other replies are read here too, as forgivingly: the group's backlog from
//! `XINFO GROUPS` and an entry's delivery count from `XPENDING`.

use std::sync::Arc;

use redis::Value;

/// One stream entry as delivered: its id and raw fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEntry {
    /// Stream the entry came from (shared by the entries of one reply).
    pub stream: Arc<str>,
    /// Entry id (`<ms>-<seq>`).
    pub id: String,
    /// `(field, value)` pairs; `None` when the entry was deleted from the stream while
    /// pending (Redis returns a nil body for it).
    pub fields: Option<Vec<(Vec<u8>, Vec<u8>)>>,
    /// The entry was larger than the reader takes whole: its size in bytes (names and
    /// values), and `fields` holds only the first ones, clipped.
    pub cut: Option<u64>,
}

/// A reply that does not have the shape of a stream reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected stream reply shape: {0}")]
pub struct ReplyError(pub String);

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// Takes the bytes out of a reply value (no copy for bulk strings, the common case).
fn bytes(v: Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        Value::VerbatimString { text, .. } => Some(text.into_bytes()),
        Value::Int(i) => Some(i.to_string().into_bytes()),
        Value::Double(d) => Some(d.to_string().into_bytes()),
        _ => None,
    }
}

fn items(v: Value) -> Result<Vec<Value>, Value> {
    match v {
        Value::Array(items) | Value::Set(items) => Ok(items),
        other => Err(other),
    }
}

/// Decodes `[id, [field, value, ...]]` (or `[id, nil]` for a deleted entry), and the
/// bounded read's `[id, fields, cut size]` (0: whole).
fn entry(stream: &Arc<str>, v: Value) -> Result<RawEntry, ReplyError> {
    let parts = items(v).map_err(|_| ReplyError("entry is not an array".into()))?;
    let len = parts.len();
    let mut parts = parts.into_iter();
    let (Some(id), Some(body), cut, None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReplyError(format!("entry has {len} parts, expected 2")));
    };
    let cut = match cut {
        None | Some(Value::Int(0)) => None,
        Some(Value::Int(n)) => u64::try_from(n).ok(),
        Some(_) => return Err(ReplyError("entry size is not an integer".into())),
    };
    let id = text(&id).ok_or_else(|| ReplyError("entry id is not a string".into()))?;
    let fields = match body {
        Value::Nil => None,
        Value::Map(pairs) => Some(
            pairs
                .into_iter()
                .filter_map(|(k, v)| Some((bytes(k)?, bytes(v)?)))
                .collect(),
        ),
        other => {
            let flat =
                items(other).map_err(|_| ReplyError(format!("entry {id} body is not an array")))?;
            let mut fields = Vec::with_capacity(flat.len() / 2);
            let mut flat = flat.into_iter();
            while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                if let (Some(k), Some(v)) = (bytes(k), bytes(v)) {
                    fields.push((k, v));
                }
            }
            Some(fields)
        }
    };
    Ok(RawEntry {
        stream: stream.clone(),
        id,
        fields,
        cut,
    })
}

fn entries(stream: &Arc<str>, v: Value, out: &mut Vec<RawEntry>) -> Result<(), ReplyError> {
    match v {
        Value::Nil => Ok(()),
        other => {
            let list = items(other).map_err(|_| ReplyError("entry list is not an array".into()))?;
            out.reserve(list.len());
            for e in list {
                out.push(entry(stream, e)?);
            }
            Ok(())
        }
    }
}

/// Decodes an `XREADGROUP`/`XREAD` reply (RESP2 array of `[stream, entries]` or RESP3
/// map); a nil reply (BLOCK timed out) is an empty batch. Takes the reply by value so the
/// field bytes are moved, not copied.
pub fn decode_read_reply(reply: Value) -> Result<Vec<RawEntry>, ReplyError> {
    let mut out = Vec::new();
    match reply {
        Value::Nil => {}
        Value::Map(streams) => {
            for (k, v) in streams {
                let stream: Arc<str> = text(&k)
                    .ok_or_else(|| ReplyError("stream name is not a string".into()))?
                    .into();
                entries(&stream, v, &mut out)?;
            }
        }
        other => {
            for s in items(other).map_err(|_| ReplyError("reply is not an array".into()))? {
                let parts =
                    items(s).map_err(|_| ReplyError("stream item is not an array".into()))?;
                let len = parts.len();
                let mut parts = parts.into_iter();
                let (Some(name), Some(list), None) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(ReplyError(format!(
                        "stream item has {len} parts, expected 2"
                    )));
                };
                let stream: Arc<str> = text(&name)
                    .ok_or_else(|| ReplyError("stream name is not a string".into()))?
                    .into();
                entries(&stream, list, &mut out)?;
            }
        }
    }
    Ok(out)
}

/// A decoded `XAUTOCLAIM` reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoClaim {
    /// Cursor for the next call (`0-0` when the scan is complete).
    pub next: String,
    /// Claimed entries (deleted ones have `fields: None`).
    pub claimed: Vec<RawEntry>,
    /// Ids that were pending but no longer exist (Redis 7).
    pub deleted: Vec<String>,
}

/// The parts of an `XAUTOCLAIM` reply of Redis 6.2 (2 elements) or 7 (3 elements): the
/// cursor, the claimed list, and the ids of deleted entries.
fn autoclaim_parts(reply: Value) -> Result<(String, Value, Vec<String>), ReplyError> {
    let parts = items(reply).map_err(|_| ReplyError("XAUTOCLAIM reply is not an array".into()))?;
    let len = parts.len();
    let mut parts = parts.into_iter();
    let (Some(next), Some(list), deleted, None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReplyError(format!("XAUTOCLAIM reply has {len} parts")));
    };
    let next = text(&next).ok_or_else(|| ReplyError("XAUTOCLAIM cursor is not a string".into()))?;
    let deleted = deleted
        .and_then(|d| items(d).ok())
        .map(|ids| ids.iter().filter_map(text).collect())
        .unwrap_or_default();
    Ok((next, list, deleted))
}

/// Decodes an `XAUTOCLAIM` reply of Redis 6.2 (2 elements) or 7 (3 elements).
pub fn decode_autoclaim_reply(stream: &str, reply: Value) -> Result<AutoClaim, ReplyError> {
    let (next, list, deleted) = autoclaim_parts(reply)?;
    let stream: Arc<str> = stream.into();
    let mut claimed = Vec::new();
    if let Ok(list) = items(list) {
        for e in list {
            // Redis 6.2 may return nil in place of a deleted entry.
            if matches!(e, Value::Nil) {
                continue;
            }
            claimed.push(entry(&stream, e)?);
        }
    }
    Ok(AutoClaim {
        next,
        claimed,
        deleted,
    })
}

/// A decoded `XAUTOCLAIM ... JUSTID` reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoClaimIds {
    /// Cursor for the next call (`0-0` when the scan is complete).
    pub next: String,
    /// Ids claimed (now pending on the claiming consumer; nothing delivered).
    pub claimed: Vec<String>,
    /// Ids that were pending but no longer exist (Redis 7).
    pub deleted: Vec<String>,
}

/// Decodes an `XAUTOCLAIM ... JUSTID` reply of Redis 6.2 (2 elements) or 7 (3 elements).
pub fn decode_autoclaim_ids(reply: Value) -> Result<AutoClaimIds, ReplyError> {
    let (next, list, deleted) = autoclaim_parts(reply)?;
    let claimed = items(list)
        .map(|ids| ids.iter().filter_map(text).collect())
        .unwrap_or_default();
    Ok(AutoClaimIds {
        next,
        claimed,
        deleted,
    })
}

/// The delivery count in an extended `XPENDING` reply for one entry:
/// `[[id, consumer, idle ms, deliveries]]`.
pub fn pending_delivery_count(reply: &Value) -> Option<u64> {
    let Value::Array(rows) = reply else {
        return None;
    };
    let Some(Value::Array(row)) = rows.first() else {
        return None;
    };
    match row.get(3)? {
        Value::Int(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// `lag + pending` of `group` in an `XINFO GROUPS` reply (missing fields count as 0).
pub fn group_backlog(reply: &Value, group: &str) -> u64 {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &[u8]) -> Value {
        Value::BulkString(s.to_vec())
    }

    #[test]
    fn decodes_xreadgroup_with_hostile_fields() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk(b"stream:price-updates"),
            Value::Array(vec![
                Value::Array(vec![
                    bulk(b"1-0"),
                    Value::Array(vec![
                        bulk(b"chain"),
                        bulk(b"bsc"),
                        bulk(b"\xff\xfe"),
                        bulk(b"x"),
                    ]),
                ]),
                Value::Array(vec![bulk(b"1-1"), Value::Nil]),
                // Odd number of items: the dangling field is dropped, the entry kept.
                Value::Array(vec![bulk(b"1-2"), Value::Array(vec![bulk(b"pair")])]),
            ]),
        ])]);
        let got = decode_read_reply(reply).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(&*got[0].stream, "stream:price-updates");
        assert_eq!(
            got[0].fields.as_deref(),
            Some(
                &[
                    (b"chain".to_vec(), b"bsc".to_vec()),
                    (b"\xff\xfe".to_vec(), b"x".to_vec())
                ][..]
            )
        );
        assert_eq!(got[1].fields, None);
        assert_eq!(got[2].fields, Some(vec![]));
        assert_eq!(decode_read_reply(Value::Nil).unwrap(), vec![]);
        assert!(decode_read_reply(Value::Int(3)).is_err());
    }

    #[test]
    fn decodes_autoclaim_both_versions() {
        let v7 = Value::Array(vec![
            bulk(b"0-0"),
            Value::Array(vec![Value::Array(vec![
                bulk(b"5-0"),
                Value::Array(vec![bulk(b"price"), bulk(b"1")]),
            ])]),
            Value::Array(vec![bulk(b"4-0")]),
        ]);
        let got = decode_autoclaim_reply("s", v7).unwrap();
        assert_eq!(got.next, "0-0");
        assert_eq!(got.claimed.len(), 1);
        assert_eq!(got.deleted, vec!["4-0".to_string()]);
        let v6 = Value::Array(vec![bulk(b"7-0"), Value::Array(vec![Value::Nil])]);
        let got = decode_autoclaim_reply("s", v6).unwrap();
        assert_eq!((got.next.as_str(), got.claimed.len()), ("7-0", 0));
        assert!(decode_autoclaim_reply("s", Value::Array(vec![])).is_err());
    }
}
