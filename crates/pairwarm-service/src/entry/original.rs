//! The original's `data` document: one update object, or a batch envelope
//! `{"type":"batch","count":N,"messages":[...],"timestamp":<ms>}`.
//!
//! Read in one pass with hand-written serde visitors over borrowed text: the fields the
//! service uses are kept as [`Given`] values pointing into the document (no copy unless a
//! string has escapes), every other field, nested objects included, is skipped with
//! `IgnoredAny` without being built, and no `serde_json::Value` tree is made. A message
//! that is not an object, or has a wrong field, refuses that update only.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::update::{Given, UpdateFields};
use super::{BadUpdates, EntryError, EntryFormat, EntryRules, PriceUpdate};

/// A map key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// One element of `messages`: an update's fields, or what it was instead of an object.
/// (Kept inline, not boxed: nearly every message is an update, so a box would be one more
/// allocation per update for nothing.)
#[allow(clippy::large_enum_variant)]
enum Message<'a> {
    Update(UpdateFields<'a>),
    NotObject(&'static str),
}

impl<'de> serde::Deserialize<'de> for Message<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ProbeVisitor)
    }
}

/// Reads an object as update fields, anything else as its kind (never fails on a type).
struct ProbeVisitor;

impl<'de> Visitor<'de> for ProbeVisitor {
    type Value = Message<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an update object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Message<'de>, A::Error> {
        let mut fields = UpdateFields::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match fields.slot(&key) {
                Some((_, slot)) => *slot = map.next_value::<Option<Given<'de>>>()?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Message::Update(fields))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Message<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Message::NotObject("an array"))
    }
    fn visit_borrowed_str<E>(self, _: &'de str) -> Result<Message<'de>, E> {
        Ok(Message::NotObject("a string"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Message<'de>, E> {
        Ok(Message::NotObject("a string"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Message<'de>, E> {
        Ok(Message::NotObject("a number"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Message<'de>, E> {
        Ok(Message::NotObject("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Message<'de>, E> {
        Ok(Message::NotObject("a number"))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Message<'de>, E> {
        Ok(Message::NotObject("a boolean"))
    }
    fn visit_unit<E>(self) -> Result<Message<'de>, E> {
        Ok(Message::NotObject("null"))
    }
}

/// The top-level document: the fields of a single update, and the envelope's.
#[derive(Default)]
struct Document<'a> {
    update: UpdateFields<'a>,
    kind: Option<Given<'a>>,
    /// `None`: no `messages` key; `Some(Err)`: present but not an array.
    messages: Option<Result<Vec<Message<'a>>, &'static str>>,
}

/// Reads `messages`: an array of messages, or (without failing) whatever it was instead.
struct MessagesSeed;

impl<'de> DeserializeSeed<'de> for MessagesSeed {
    type Value = Result<Vec<Message<'de>>, &'static str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Result<Vec<Message<'de>>, &'static str>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of updates")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                // One message is at least `{}` and a comma: the document's size bounds this.
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(64).min(4096));
                while let Some(m) = seq.next_element::<Message<'de>>()? {
                    out.push(m);
                }
                Ok(Ok(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Err("an object"))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Err("a string"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Err("a number"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Err("a number"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Err("a number"))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Err("a boolean"))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Err("null"))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> serde::Deserialize<'de> for Document<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Document<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object (an update or a batch envelope)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document<'de>, A::Error> {
                let mut doc = Document::default();
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    if key == "messages" {
                        doc.messages = Some(map.next_value_seed(MessagesSeed)?);
                    } else if key == "type" {
                        doc.kind = map.next_value::<Option<Given<'de>>>()?;
                    } else if let Some((_, slot)) = doc.update.slot(&key) {
                        *slot = map.next_value::<Option<Given<'de>>>()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(doc)
            }
        }
        d.deserialize_map(V)
    }
}

/// serde_json quotes an unexpected value whole (`invalid type: string "…"`, as long as the
/// input), and the message goes into dead letters and logs: clipped like every input
/// echoed in an error, keeping where the document went wrong.
fn bad_json(e: &serde_json::Error) -> EntryError {
    let message = e.to_string();
    if message.len() <= MAX_JSON_ERROR_LEN {
        return EntryError::BadJson(message);
    }
    let clipped = super::clip(&message);
    EntryError::BadJson(if e.line() == 0 {
        clipped
    } else {
        format!("{clipped} at line {} column {}", e.line(), e.column())
    })
}

/// Longer serde_json messages are clipped (theirs are ~60 bytes without a quoted value).
const MAX_JSON_ERROR_LEN: usize = 160;

/// Parses a `data` document and appends its good updates to `out`.
pub(super) fn parse_document(
    text: &str,
    rules: &EntryRules,
    out: &mut Vec<PriceUpdate>,
    bad: &mut BadUpdates,
) -> Result<EntryFormat, EntryError> {
    let doc: Document<'_> = serde_json::from_str(text).map_err(|e| bad_json(&e))?;
    let is_batch = matches!(&doc.kind, Some(Given::Text(t)) if t == "batch");
    if !is_batch && doc.messages.is_none() {
        out.push(doc.update.build(rules)?);
        return Ok(EntryFormat::Single);
    }
    let messages = match doc.messages {
        None => return Err(EntryError::BadEnvelope("no `messages` array".into())),
        Some(Err(kind)) => {
            return Err(EntryError::BadEnvelope(format!(
                "`messages` is {kind}, expected an array of updates"
            )));
        }
        Some(Ok(messages)) => messages,
    };
    out.reserve(messages.len());
    for (i, message) in messages.iter().enumerate() {
        let built = match message {
            Message::Update(fields) => fields.build(rules),
            Message::NotObject(kind) => Err(super::bad("update", kind, "expected an object")),
        };
        match built {
            Ok(update) => out.push(update),
            Err(e) => bad.push(i, e),
        }
    }
    Ok(EntryFormat::Batch)
}

/// One update in the original's JSON shape, every field its detectors write (what `pairwarm
/// feed` writes, so a consumer's parsing cost is the real one). `pairKey` is
/// `<dex>_<token0>_<token1>` as the original's consumers require it.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Out<'a> {
    chain: &'a str,
    dex: &'a str,
    pair_key: String,
    pair_address: String,
    token0: &'a str,
    token1: &'a str,
    price: f64,
    reserve0: pairwarm::cache::Reserve,
    reserve1: pairwarm::cache::Reserve,
    timestamp: u64,
    block_number: u64,
    latency: u64,
    fee: f64,
    pipeline_timestamps: PipelineTimestamps,
    source: &'static str,
    #[serde(rename = "_trace_traceId")]
    trace_id: String,
    #[serde(rename = "_trace_spanId")]
    span_id: String,
    #[serde(rename = "_trace_serviceName")]
    service_name: &'static str,
    #[serde(rename = "_trace_timestamp")]
    trace_timestamp: String,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PipelineTimestamps {
    ws_received_at: u64,
    published_at: u64,
}

fn out(update: &PriceUpdate, now_ms: u64) -> Out<'_> {
    let dex = update.dex.as_deref().unwrap_or("unknown");
    let token0 = update.token0.as_deref().unwrap_or("");
    let token1 = update.token1.as_deref().unwrap_or("");
    let ts = update.ts_ms.unwrap_or(now_ms);
    let trace = u64::from_le_bytes({
        let mut w = [0u8; 8];
        let b = update.pair.as_bytes();
        w.copy_from_slice(&b[b.len() - 8..]);
        w
    }) ^ ts;
    Out {
        chain: &update.chain,
        dex,
        pair_key: format!("{dex}_{token0}_{token1}"),
        pair_address: update.pair.to_string(),
        token0,
        token1,
        price: update.price,
        reserve0: update.reserve0,
        reserve1: update.reserve1,
        timestamp: ts,
        block_number: update.block,
        latency: 0,
        fee: 0.003,
        pipeline_timestamps: PipelineTimestamps {
            ws_received_at: ts,
            published_at: now_ms,
        },
        source: "pairwarm-feed",
        trace_id: format!("{trace:016x}{:016x}", update.block),
        span_id: format!("{trace:016x}"),
        service_name: "pairwarm-feed",
        trace_timestamp: now_ms.to_string(),
    }
}

/// The `data` of a single-update entry in the original's format.
pub fn encode_update(update: &PriceUpdate, now_ms: u64) -> String {
    serde_json::to_string(&out(update, now_ms)).unwrap_or_default()
}

/// The `data` of a batch envelope in the original's format.
pub fn encode_batch(updates: &[PriceUpdate], now_ms: u64) -> String {
    #[derive(serde::Serialize)]
    struct Batch<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        count: usize,
        messages: Vec<Out<'a>>,
        timestamp: u64,
    }
    let batch = Batch {
        kind: "batch",
        count: updates.len(),
        messages: updates.iter().map(|u| out(u, now_ms)).collect(),
        timestamp: now_ms,
    };
    serde_json::to_string(&batch).unwrap_or_default()
}
