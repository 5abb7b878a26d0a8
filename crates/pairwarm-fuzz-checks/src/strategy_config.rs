//! `StrategyConfig::parse` (`WARMING_STRATEGY` + `WARMING_STRATEGY_CONFIG`) on arbitrary
//! JSON, then the strategy it builds on arbitrary correlations.
//!
//! Input layout: byte 0 selects the kind (bits 0-1: topn, threshold, adaptive, timebased;
//! bit 2: written in upper case with spaces around, which `parse` accepts; bit 3: no JSON
//! at all, i.e. the defaults). The rest, up to the first 0xFF byte, is the JSON text
//! (must be UTF-8); after it come the selection context (`now_ms` u64, `l1_hit_rate` f64
//! bits, source pair byte) and then 18-byte correlations (pair byte, score f64 bits,
//! co-occurrences f64 bits, last-seen u8 × 1000 ms before `now_ms`), so scores and counts
//! take any f64 including NaN, infinities and negatives, and pairs repeat.
//!
//! Invariants: accepted: the config validates, `to_json` re-parses to an equal config,
//! `build()` gives a strategy of that kind whose `config()` matches (adaptive adds
//! `currentN`), finite `min_score`, `max_candidates() >= 1`; every selection (three in a
//! row: adaptive has state) is sorted by priority (descending), has no duplicate pair,
//! never the source, only finite scores and priorities, each candidate's score is the
//! first occurrence of its pair in the input, the size respects the configured cap and
//! thresholds, and nothing eligible above the threshold is dropped below the cap.

use pairwarm::pair::PairId;
use pairwarm::strategy::{StrategyConfig, TimeBasedStrategy, WarmingContext, WarmingStrategy};
use pairwarm::tracker::PairCorrelation;

const MAX_CORRELATIONS: usize = 64;

fn f64_at(b: &[u8], at: usize) -> f64 {
    let mut x = [0u8; 8];
    if let Some(src) = b.get(at..at + 8) {
        x.copy_from_slice(src);
    }
    f64::from_le_bytes(x)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    f64_at(b, at).to_bits()
}

/// The correlations a strategy may use: not the source, finite score and count, and the
/// first occurrence of its pair in the input (what the strategy module documents).
fn eligible<'a>(ctx: &'a WarmingContext<'a>) -> Vec<&'a PairCorrelation> {
    let all = ctx.correlations;
    all.iter()
        .enumerate()
        .filter(|(i, c)| {
            c.pair != ctx.source
                && c.score.is_finite()
                && c.co_occurrences.is_finite()
                && !all[..*i].iter().any(|o| o.pair == c.pair)
        })
        .map(|(_, c)| c)
        .collect()
}

fn check_selection(
    config: &StrategyConfig,
    strategy: &dyn WarmingStrategy,
    ctx: &WarmingContext<'_>,
) {
    let selection = strategy.select(ctx);
    let got = &selection.candidates;
    assert!(!selection.reason.to_string().is_empty());
    for w in got.windows(2) {
        assert!(w[0].priority >= w[1].priority, "not sorted: {got:?}");
    }
    for (i, c) in got.iter().enumerate() {
        assert_ne!(c.pair, ctx.source, "the source is a candidate");
        assert!(
            !got[..i].iter().any(|o| o.pair == c.pair),
            "duplicate {:?}",
            c.pair
        );
        assert!(c.score.is_finite() && c.priority.is_finite(), "{c:?}");
        assert!(!c.estimated_benefit.is_nan(), "{c:?}");
        let first = ctx.correlations.iter().find(|o| o.pair == c.pair);
        assert_eq!(
            first.map(|o| o.score.to_bits()),
            Some(c.score.to_bits()),
            "{c:?} is not its pair's first occurrence"
        );
    }
    let eligible = eligible(ctx);
    // Each strategy's cap, and how many eligible correlations pass its threshold.
    let above = |min: f64| eligible.iter().filter(|e| e.score >= min).count();
    let (cap, passing) = match config {
        StrategyConfig::TopN(c) => (c.top_n, above(c.min_score)),
        StrategyConfig::Threshold(c) => (c.max_pairs, above(c.min_score)),
        StrategyConfig::Adaptive(c) => {
            let n = strategy.config()["currentN"]
                .as_f64()
                .expect("adaptive reports currentN");
            let lo = c.min_pairs.min(c.max_pairs) as f64;
            let hi = c.min_pairs.max(c.max_pairs) as f64;
            assert!(n >= lo && n <= hi, "currentN {n} outside [{lo}, {hi}]");
            (n.round() as usize, above(c.min_score))
        }
        StrategyConfig::TimeBased(c) => {
            // The documented rule: recency_weight × recency + correlation_weight × score.
            let rules = TimeBasedStrategy::new(c.clone());
            let passing = eligible
                .iter()
                .filter(|e| {
                    let recency = rules.recency(ctx.now_ms, e.last_seen_ms);
                    c.recency_weight * recency + c.correlation_weight * e.score >= c.min_score
                })
                .count();
            (c.top_n, passing)
        }
    };
    for cand in got {
        match config {
            StrategyConfig::TimeBased(c) => {
                assert!(
                    cand.priority >= c.min_score,
                    "{cand:?} below {}",
                    c.min_score
                );
            }
            _ => {
                assert!(
                    cand.score >= strategy.min_score(),
                    "{cand:?} below {}",
                    strategy.min_score()
                );
                assert_eq!(cand.priority.to_bits(), cand.score.to_bits(), "{cand:?}");
            }
        }
    }
    assert_eq!(
        got.len(),
        cap.min(passing),
        "cap {cap}, {passing} passing: {got:?}"
    );
}

/// One fuzz input: panics when an invariant above does not hold.
pub fn run(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let kind = StrategyConfig::KINDS[usize::from(selector & 3)];
    let kind_text = if selector & 4 != 0 {
        format!(" {} ", kind.to_ascii_uppercase())
    } else {
        kind.to_owned()
    };
    let (json, tail) = match rest.iter().position(|b| *b == 0xFF) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let Ok(json) = std::str::from_utf8(json) else {
        return;
    };
    let json = (selector & 8 == 0).then_some(json);
    let config = match StrategyConfig::parse(&kind_text, json) {
        Ok(config) => config,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    assert_eq!(config.kind(), kind);
    assert!(config.validate().is_ok(), "{config:?}");
    let text = config.to_json().to_string();
    assert_eq!(
        StrategyConfig::parse(kind, Some(&text)).as_ref(),
        Ok(&config),
        "to_json gave {text}"
    );

    let strategy = config.build();
    assert_eq!(strategy.name(), kind);
    assert!(strategy.max_candidates() >= 1);
    assert!(strategy.min_score().is_finite());
    let mut reported = strategy.config();
    if let Some(map) = reported.as_object_mut() {
        map.remove("currentN");
    }
    assert_eq!(reported, config.to_json());

    let now_ms = u64_at(tail, 0);
    let l1_hit_rate = f64_at(tail, 8);
    let source = PairId::from_raw(u32::from(tail.get(16).copied().unwrap_or(0) % 16));
    let correlations: Vec<PairCorrelation> = tail
        .get(17..)
        .unwrap_or(&[])
        .chunks_exact(18)
        .take(MAX_CORRELATIONS)
        .map(|c| PairCorrelation {
            pair: PairId::from_raw(u32::from(c[0] % 16)),
            score: f64_at(c, 1),
            co_occurrences: f64_at(c, 9),
            last_seen_ms: now_ms.wrapping_sub(u64::from(c[17]) * 1000),
        })
        .collect();
    let ctx = WarmingContext {
        source,
        now_ms,
        l1_hit_rate,
        l1_size: 100,
        l1_capacity: 1000,
        correlations: &correlations,
    };
    for _ in 0..3 {
        check_selection(&config, &*strategy, &ctx);
    }
}
