//! The stream reply decoders on any RESP value a server (or a man in the middle) can send.
//!
//! The bytes are parsed by redis-rs's own RESP parser, as the connection would; every value
//! it yields goes to `decode_read_reply` and `decode_autoclaim_reply`, and every decoded
//! entry on to the entry parser, as the consumer does. Invariants: no panic; a nil reply
//! is an empty batch; claimed/read entries keep the stream name they were given; the entry
//! invariants of `crate::check_entry`.

use pairwarm_service::stream::{RawEntry, decode_autoclaim_reply, decode_read_reply};
use redis::Value;

fn check_entries(entries: &[RawEntry]) {
    for entry in entries {
        if let Some(fields) = &entry.fields {
            crate::check_entry(fields);
        }
    }
}

/// One fuzz input: panics when an invariant above does not hold.
pub fn run(data: &[u8]) {
    let Ok(value) = redis::parse_redis_value(data) else {
        return;
    };
    match decode_read_reply(value.clone()) {
        Ok(entries) => {
            if value == Value::Nil {
                assert!(entries.is_empty());
            }
            check_entries(&entries);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    const STREAM: &str = "stream:price-updates";
    if let Ok(claim) = decode_autoclaim_reply(STREAM, value) {
        assert!(claim.claimed.iter().all(|e| &*e.stream == STREAM));
        check_entries(&claim.claimed);
    }
}
