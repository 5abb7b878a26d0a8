//! `StrategyConfig::parse`: the seed's `WARMING_STRATEGY` / `WARMING_STRATEGY_CONFIG`
//! values, defaults, and errors that name the field, the value and the accepted range.

use pairwarm::strategy::{
    AdaptiveConfig, StrategyConfig, StrategyConfigError, ThresholdConfig, TimeBasedConfig,
    TopNConfig,
};

fn err(kind: &str, json: &str) -> String {
    StrategyConfig::parse(kind, Some(json))
        .unwrap_err()
        .to_string()
}

#[test]
fn defaults_are_the_originals() {
    assert_eq!(
        StrategyConfig::parse("topn", None).unwrap(),
        StrategyConfig::TopN(TopNConfig {
            top_n: 5,
            min_score: 0.3
        })
    );
    assert_eq!(
        StrategyConfig::parse("threshold", Some("  ")).unwrap(),
        StrategyConfig::Threshold(ThresholdConfig {
            min_score: 0.5,
            max_pairs: 10
        })
    );
    assert_eq!(
        StrategyConfig::parse("adaptive", Some("{}")).unwrap(),
        StrategyConfig::Adaptive(AdaptiveConfig {
            target_hit_rate: 0.97,
            min_pairs: 3,
            max_pairs: 10,
            min_score: 0.3,
            adjustment_factor: 0.1
        })
    );
    assert_eq!(
        StrategyConfig::parse("timebased", None).unwrap(),
        StrategyConfig::TimeBased(TimeBasedConfig {
            recency_weight: 0.3,
            correlation_weight: 0.7,
            recency_window_ms: 60_000,
            top_n: 5,
            min_score: 0.3
        })
    );
    assert_eq!(StrategyConfig::default().kind(), "topn");
}

#[test]
fn the_seeds_examples_parse() {
    let c = StrategyConfig::parse(
        "adaptive",
        Some(r#"{"targetHitRate":0.97,"minPairs":3,"maxPairs":10,"minScore":0.3,"adjustmentFactor":0.1}"#),
    )
    .unwrap();
    assert_eq!(c, StrategyConfig::Adaptive(AdaptiveConfig::default()));
    let c = StrategyConfig::parse("topn", Some(r#"{"topN":5,"minScore":0.3}"#)).unwrap();
    assert_eq!(c, StrategyConfig::TopN(TopNConfig::default()));
    // Partial configs take defaults for the rest; null means "default" as in the original.
    let c = StrategyConfig::parse("TopN", Some(r#"{"topN":8.0,"minScore":null}"#)).unwrap();
    assert_eq!(
        c,
        StrategyConfig::TopN(TopNConfig {
            top_n: 8,
            min_score: 0.3
        })
    );
    // Explicit zeros are honoured where accepted.
    let c =
        StrategyConfig::parse("adaptive", Some(r#"{"minPairs":0,"adjustmentFactor":0}"#)).unwrap();
    let StrategyConfig::Adaptive(a) = c else {
        panic!()
    };
    assert_eq!((a.min_pairs, a.adjustment_factor), (0, 0.0));
}

#[test]
fn to_json_round_trips() {
    for kind in StrategyConfig::KINDS {
        let c = StrategyConfig::parse(kind, None).unwrap();
        let json = c.to_json().to_string();
        assert_eq!(
            StrategyConfig::parse(kind, Some(&json)).unwrap(),
            c,
            "{json}"
        );
        assert_eq!(c.kind(), kind);
        assert_eq!(c.build().name(), kind);
    }
    assert_eq!(
        StrategyConfig::parse("timebased", None)
            .unwrap()
            .to_json()
            .to_string(),
        r#"{"correlationWeight":0.7,"minScore":0.3,"recencyWeight":0.3,"recencyWindowMs":60000,"topN":5}"#
    );
}

#[test]
fn unknown_kinds_and_fields_are_rejected() {
    let e = StrategyConfig::parse("lru", None).unwrap_err();
    assert!(matches!(e, StrategyConfigError::UnknownKind { .. }));
    assert!(e.to_string().contains("\"lru\""), "{e}");
    assert!(
        e.to_string()
            .contains("topn, threshold, adaptive, timebased"),
        "{e}"
    );

    let e = err("topn", r#"{"topN":5,"min_score":0.3}"#);
    assert!(
        e.contains("unknown field \"min_score\"") && e.contains("topN, minScore"),
        "{e}"
    );
    // A field of another strategy is unknown too (no silent shallow merge).
    let e = err("adaptive", r#"{"topN":5}"#);
    assert!(e.contains("unknown field \"topN\""), "{e}");
    assert!(e.contains("targetHitRate"), "{e}");
}

#[test]
fn out_of_range_values_name_the_field() {
    for (kind, json, field) in [
        ("topn", r#"{"minScore":1.5}"#, "minScore = 1.5"),
        ("topn", r#"{"minScore":-0.1}"#, "minScore = -0.1"),
        ("topn", r#"{"topN":0}"#, "topN = 0"),
        ("topn", r#"{"topN":5000}"#, "topN = 5000"),
        ("threshold", r#"{"maxPairs":0}"#, "maxPairs = 0"),
        ("adaptive", r#"{"minPairs":11}"#, "minPairs = 11"),
        ("adaptive", r#"{"minPairs":5,"maxPairs":4}"#, "minPairs = 5"),
        ("adaptive", r#"{"targetHitRate":97}"#, "targetHitRate = 97"),
        (
            "adaptive",
            r#"{"adjustmentFactor":-1}"#,
            "adjustmentFactor = -1",
        ),
        ("timebased", r#"{"recencyWeight":2}"#, "recencyWeight = 2"),
        (
            "timebased",
            r#"{"recencyWindowMs":0}"#,
            "recencyWindowMs = 0",
        ),
        (
            "timebased",
            r#"{"recencyWeight":0,"correlationWeight":0}"#,
            "correlationWeight = 0",
        ),
    ] {
        let e = err(kind, json);
        assert!(
            e.contains(field) && e.contains("out of range"),
            "{kind} {json}: {e}"
        );
        assert!(e.contains("expected"), "{e}");
    }
    let e = err("adaptive", r#"{"minPairs":5,"maxPairs":4}"#);
    assert!(e.contains("0 to maxPairs (4)"), "{e}");
}

#[test]
fn wrong_types_and_bad_json_are_explained() {
    let e = err("topn", r#"{"topN":"5"}"#);
    assert!(
        e.contains("topN = \"5\" is not a non-negative integer"),
        "{e}"
    );
    let e = err("topn", r#"{"topN":5.5}"#);
    assert!(e.contains("topN = 5.5"), "{e}");
    let e = err("topn", r#"{"topN":-1}"#);
    assert!(e.contains("topN = -1"), "{e}");
    let e = err("threshold", r#"{"minScore":true}"#);
    assert!(e.contains("minScore = true is not a number"), "{e}");
    let e = err("topn", r#"[5, 0.3]"#);
    assert!(e.contains("must be a JSON object"), "{e}");
    let e = err("topn", r#"{"topN":5"#);
    assert!(e.contains("not valid JSON") && e.contains("line 1"), "{e}");
}

/// A JSON string with a multi-byte character across byte 64 as the whole config panicked
/// (`String::truncate` mid-character) instead of being refused: found by the
/// `strategy_config` fuzz target (seed `multibyte_string`).
#[test]
fn a_long_non_object_is_clipped_on_a_character_boundary() {
    let text = format!("\"{}ǜ{}\"", "C".repeat(62), "C".repeat(100));
    let e = err("topn", &text);
    assert!(e.contains("must be a JSON object, found \"CCC"), "{e}");
    assert!(e.len() < 200, "{e}");
    let e = err("adaptive", &format!("[\"{}\"]", "é".repeat(100)));
    assert!(e.contains("must be a JSON object, found [\"éé"), "{e}");
}
