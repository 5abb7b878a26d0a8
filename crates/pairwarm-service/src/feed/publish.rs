//! Publishing the detector's opportunities to `PAIRWARM_OPPORTUNITIES_STREAM`, in one
//! pipelined round trip per batch. Best effort: a failure is logged, never blocks the feed.

use std::sync::atomic::Ordering;

use crate::processor::Published;
use crate::shared::Shared;

/// Entries the opportunities stream keeps (approximately, `MAXLEN ~`).
const STREAM_MAXLEN: u64 = 100_000;

/// `XADD`s every opportunity of a batch (nothing without Redis).
pub(super) async fn opportunities(inner: &Shared, found: &[Published]) {
    inner
        .stats
        .published
        .fetch_add(found.len() as u64, Ordering::Relaxed);
    let Some(redis) = &inner.redis else {
        return;
    };
    if found.is_empty() {
        return;
    }
    let stream = inner.config.lock().feed.opportunities_stream.clone();
    let mut pipe = redis::pipe();
    for o in found {
        pipe.cmd("XADD")
            .arg(&stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(STREAM_MAXLEN)
            .arg("*")
            .arg("chain")
            .arg(&o.chain)
            .arg("kind")
            .arg(o.opportunity.kind.as_str())
            .arg("pool")
            .arg(&o.pool)
            .arg("buy")
            .arg(&o.buy)
            .arg("sell")
            .arg(&o.sell)
            .arg("spread_bps")
            .arg(format!("{:.2}", o.opportunity.spread_bps))
            .arg("ts_ms")
            .arg(o.ts_ms)
            .ignore();
    }
    let mut conn = redis.connection();
    if let Err(e) = pipe.query_async::<()>(&mut conn).await {
        tracing::debug!(error = %e, "publishing opportunities failed");
    }
}
