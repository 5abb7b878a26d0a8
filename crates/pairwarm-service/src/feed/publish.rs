//! Publishing the detector's opportunities to `PAIRWARM_OPPORTUNITIES_STREAM`, in one
//! pipelined round trip per batch. Best effort: a failure is logged, never blocks the feed.
//!
//! The default format is the original's, as its coordinator reads it: one field `data`
//! holding a JSON object with a unique `id` (`<buyPair>-<sellPair>-<timestamp>-<counter>`,
//! the original detectors' form), `type` (`cross-dex` or `triangular`), `chain`, `buyDex`,
//! `sellDex`, `buyPair`, `sellPair` (pool addresses), `tokenIn`, `tokenOut`, `buyPrice`,
//! `sellPrice` (the pools' prices, reserve0 / reserve1), `profitPercentage` (net spread in
//! percent), `confidence`, `timestamp`, `expiresAt` (timestamp + 60 s, the coordinator's
//! default), `blockNumber`, `status` (`pending`), and `sig` when `STREAM_SIGNING_KEY` is
//! set; `XADD ... MAXLEN ~ 200000` (`STREAM_MAXLEN_OPPORTUNITIES`). pairwarm's flat fields
//! stay selectable (`PAIRWARM_OPPORTUNITY_FORMAT=flat`).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::OpportunityFormat;
use crate::detector::OpportunityKind;
use crate::entry::SigningKeys;
use crate::processor::Published;
use crate::shared::Shared;

/// How long an opportunity is valid, ms (the coordinator's default `expiresAt`).
const VALIDITY_MS: u64 = 60_000;

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
    let (stream, format, maxlen) = {
        let c = inner.config.lock();
        (
            c.feed.opportunities_stream.clone(),
            c.feed.opportunity_format,
            c.feed.opportunities_maxlen,
        )
    };
    let mut pipe = redis::pipe();
    for o in found {
        let cmd = pipe
            .cmd("XADD")
            .arg(&stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(maxlen)
            .arg("*");
        match format {
            OpportunityFormat::Original => {
                for (k, v) in original_fields(o, &stream, inner.entry_rules.keys.as_ref()) {
                    cmd.arg(k).arg(v);
                }
            }
            OpportunityFormat::Flat => {
                cmd.arg("chain")
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
                    .arg(o.ts_ms);
            }
        }
        cmd.ignore();
    }
    let mut conn = redis.connection();
    if let Err(e) = pipe.query_async::<()>(&mut conn).await {
        tracing::debug!(error = %e, "publishing opportunities failed");
    }
}

/// A process-wide counter for ids, started at a random point so two instances publishing
/// the same pools at the same millisecond do not make the same id.
fn next_counter() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        (u64::from(nanos) ^ (u64::from(std::process::id()) << 20)) % 1_000_000_000
    });
    start + COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// How much to trust a spread: wide net spreads are mostly stale or thin prices. 0.9 up
/// to 200 bps, falling linearly to 0.1 at 5,000 bps (a heuristic, documented as such).
fn confidence(spread_bps: f64) -> f64 {
    (0.9 - 0.8 * (spread_bps - 200.0) / 4_800.0).clamp(0.1, 0.9)
}

/// The original's `data` document of one opportunity.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Data<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    chain: &'a str,
    buy_dex: &'a str,
    sell_dex: &'a str,
    buy_pair: &'a str,
    sell_pair: &'a str,
    token_in: &'a str,
    token_out: &'a str,
    buy_price: f64,
    sell_price: f64,
    profit_percentage: f64,
    confidence: f64,
    timestamp: u64,
    expires_at: u64,
    block_number: u64,
    status: &'static str,
    source: &'static str,
}

/// The stream fields of one opportunity in the original's format: `data` and, with a key,
/// `sig` over `<stream>:<data>`.
pub fn original_fields(
    o: &Published,
    stream: &str,
    keys: Option<&SigningKeys>,
) -> Vec<(&'static str, String)> {
    let op = &o.opportunity;
    let (token0, token1) = (
        o.token0.as_deref().unwrap_or(""),
        o.token1.as_deref().unwrap_or(""),
    );
    // Cross-DEX: token0 is bought with token1 on the buy pool and sold back on the sell
    // pool. Triangle: token0 -> token1, directly against via a hub.
    let (token_in, token_out) = match op.kind {
        OpportunityKind::CrossDex => (token1, token0),
        OpportunityKind::Triangle => (token0, token1),
    };
    let data = Data {
        id: format!("{}-{}-{}-{}", o.buy, o.sell, o.ts_ms, next_counter()),
        kind: match op.kind {
            OpportunityKind::CrossDex => "cross-dex",
            OpportunityKind::Triangle => "triangular",
        },
        chain: &o.chain,
        buy_dex: &o.buy_dex,
        sell_dex: &o.sell_dex,
        buy_pair: &o.buy,
        sell_pair: &o.sell,
        token_in,
        token_out,
        buy_price: op.buy_price,
        sell_price: op.sell_price,
        profit_percentage: op.spread_bps / 100.0,
        confidence: confidence(op.spread_bps),
        timestamp: o.ts_ms,
        expires_at: o.ts_ms + VALIDITY_MS,
        block_number: o.block,
        status: "pending",
        source: "pairwarm",
    };
    // Numbers and plain strings: serialising cannot fail.
    let data = serde_json::to_string(&data).unwrap_or_default();
    let mut out = Vec::with_capacity(2);
    if let Some(keys) = keys {
        let sig = keys.sign(stream, data.as_bytes());
        out.push(("data", data));
        out.push(("sig", sig));
    } else {
        out.push(("data", data));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_falls_with_the_spread() {
        assert_eq!(confidence(50.0), 0.9);
        assert!(confidence(1_000.0) < 0.9 && confidence(1_000.0) > 0.1);
        assert_eq!(confidence(1e21), 0.1);
        assert_ne!(next_counter(), next_counter());
    }
}
