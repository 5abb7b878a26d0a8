use super::*;

const PAIR: &str = "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc";
const STREAM: &str = "stream:price-updates";
const BATCH: &str = include_str!("../../tests/data/reference_batch.json");
const SINGLE: &str = include_str!("../../tests/data/reference_single.json");
const SIGNED: &str = include_str!("../../tests/data/reference_signed.json");
const SIG: &str = include_str!("../../tests/data/reference_signed.sig");

fn parse_with(
    fields: &[(&str, &str)],
    rules: &EntryRules,
) -> Result<(EntryFormat, Vec<PriceUpdate>, BadUpdates), EntryError> {
    let mut out = Vec::new();
    let mut bad = BadUpdates::default();
    let format = parse_entry(STREAM, fields, rules, &mut out, &mut bad)?;
    Ok((format, out, bad))
}

fn parse(fields: &[(&str, &str)]) -> Result<PriceUpdate, EntryError> {
    let (_, mut out, bad) = parse_with(fields, &EntryRules::default())?;
    assert!(bad.is_empty());
    assert_eq!(out.len(), 1);
    Ok(out.remove(0))
}

#[test]
fn the_references_batch_envelope() {
    let (format, updates, bad) = parse_with(&[("data", BATCH)], &EntryRules::default()).unwrap();
    assert_eq!(format, EntryFormat::Batch);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(updates.len(), 3);
    let u = &updates[0];
    assert_eq!(u.chain, "ethereum");
    assert_eq!(u.pair.to_string(), PAIR.to_ascii_lowercase());
    assert_eq!(u.dex.as_deref(), Some("uniswap_v2"));
    assert_eq!(
        u.token0.as_deref(),
        Some("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48")
    );
    assert_eq!(u.price, 2.5e-9);
    assert_eq!(u.reserve0.to_string(), "50000000000000");
    assert_eq!(u.reserve1.to_string(), "20000000000000000000000");
    assert_eq!((u.block, u.ts_ms), (21_000_000, Some(1_795_923_833_539)));
    // A given price is the price (not recomputed from the reserves).
    assert_eq!(updates[1].price, 2.450980392e-9);
    assert_eq!(updates[2].price, 2500.0);
    assert_eq!(
        updates[2].reserve0.get(),
        30_000_000_000_000_000_000_000_000
    );
}

#[test]
fn the_references_single_update() {
    let (format, updates, _) = parse_with(&[("data", SINGLE)], &EntryRules::default()).unwrap();
    assert_eq!(format, EntryFormat::Single);
    assert_eq!(updates[0].ts_ms, Some(1_795_923_834_391));
}

#[test]
fn the_references_signed_entry_verifies_and_a_bad_one_is_refused() {
    let rules = EntryRules {
        keys: Some(SigningKeys::new("interop-signing-key", None)),
        ..EntryRules::default()
    };
    let (_, updates, _) = parse_with(&[("data", SIGNED), ("sig", SIG)], &rules).unwrap();
    assert_eq!(updates.len(), 1);
    let unsigned = parse_with(&[("data", SIGNED)], &rules).unwrap_err();
    assert_eq!(unsigned.reason(), "unsigned");
    let wrong = SIG.replace('b', "c");
    let refused = parse_with(&[("data", SIGNED), ("sig", &wrong)], &rules).unwrap_err();
    assert_eq!(refused.reason(), "bad_signature");
    // Signed for another stream: refused on this one.
    let mut out = Vec::new();
    let err = parse_entry(
        "stream:other",
        &[("data", SIGNED), ("sig", SIG)],
        &rules,
        &mut out,
        &mut BadUpdates::default(),
    )
    .unwrap_err();
    assert_eq!(err.reason(), "bad_signature");
}

#[test]
fn bad_updates_inside_a_good_envelope_are_counted_one_by_one() {
    let data = r#"{"type":"batch","count":5,"messages":[
        {"chain":"ethereum","pairAddress":"0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc","price":1},
        {"chain":"ethereum","pairAddress":"0x12","price":1},
        7,
        {"chain":"ethereum","pairAddress":"0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc","price":[1]},
        {"chain":"mars","pairAddress":"0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc","price":1,"nested":{"a":[1,{"b":2}]}}
    ],"timestamp":1}"#;
    let (format, updates, bad) = parse_with(&[("data", data)], &EntryRules::default()).unwrap();
    assert_eq!(format, EntryFormat::Batch);
    assert_eq!(updates.len(), 1);
    assert_eq!(bad.total(), 4);
    assert_eq!(
        bad.counts,
        vec![
            ("bad_address", 1),
            ("not_an_object", 1),
            ("bad_price", 1),
            ("unknown_chain", 1)
        ]
    );
    assert_eq!(bad.samples.len(), MAX_BAD_SAMPLES);
    assert_eq!(bad.samples[0].0, 1);
}

/// serde_json's message quoted a JSON string given as the document whole: a 2 KB `data`
/// string gave a 2.5 KB `bad_json` message for the dead letter and the log (found by the
/// `original_data` and `stream_entry` fuzz targets, seeds `long_json_string`).
#[test]
fn json_errors_quoting_the_input_are_clipped() {
    let data = format!("\"{}\"", "x".repeat(10_000));
    let err = parse_with(&[("data", &data)], &EntryRules::default()).unwrap_err();
    assert_eq!(err.reason(), "bad_json");
    let message = err.to_string();
    assert!(
        message.len() < 300,
        "{}-byte message: {message}",
        message.len()
    );
    assert!(message.contains("invalid type: string \"xxx"), "{message}");
    assert!(message.ends_with("at line 1 column 10002"), "{message}");
    // Short messages are kept whole.
    let err = parse_with(&[("data", "[1,2]")], &EntryRules::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `data` is not a price update or batch envelope: invalid type: sequence, \
         expected a JSON object (an update or a batch envelope) at line 1 column 0"
    );
}

#[test]
fn unreadable_envelopes_are_refused_whole() {
    for (data, reason) in [
        ("not json", "bad_json"),
        ("[1,2]", "bad_json"),
        (r#"{"type":"batch","count":1}"#, "bad_envelope"),
        (r#"{"type":"batch","messages":{"a":1}}"#, "bad_envelope"),
        (
            r#"{"type":"batch","messages":[{"chain":"ethereum"}"#,
            "bad_json",
        ),
        (r#"{"chain":"ethereum","price":1}"#, "missing_field"),
        (
            r#"{"chain":"eth","pairAddress":"0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc"}"#,
            "missing_field",
        ),
    ] {
        let err = parse_with(&[("data", data)], &EntryRules::default()).unwrap_err();
        assert_eq!(err.reason(), reason, "{data}: {err}");
    }
    let big = "x".repeat(DEFAULT_MAX_DATA_BYTES + 1);
    let err = parse_with(&[("data", &big)], &EntryRules::default()).unwrap_err();
    assert_eq!(err.reason(), "too_large");
    let small = EntryRules {
        max_data_bytes: 100,
        ..EntryRules::default()
    };
    assert_eq!(
        parse_with(&[("data", SINGLE)], &small)
            .unwrap_err()
            .reason(),
        "too_large"
    );
    assert_eq!(
        parse_with(&[("foo", "bar")], &EntryRules::default())
            .unwrap_err()
            .reason(),
        "unknown_format"
    );
}

#[test]
fn chains_aliases_and_extra_chains() {
    let single = |chain: &str| format!(r#"{{"chain":"{chain}","pairAddress":"{PAIR}","price":1}}"#);
    for (alias, canonical) in [("ETH", "ethereum"), ("bnb", "bsc"), ("zkSync", "zksync")] {
        let (_, u, _) = parse_with(&[("data", &single(alias))], &EntryRules::default()).unwrap();
        assert_eq!(u[0].chain, canonical);
    }
    let err = parse_with(&[("data", &single("devchain"))], &EntryRules::default()).unwrap_err();
    assert_eq!(err.reason(), "unknown_chain");
    let rules = EntryRules {
        chains: ChainPolicy {
            extra: vec!["devchain".into()],
        },
        ..EntryRules::default()
    };
    let (_, u, _) = parse_with(&[("data", &single("DevChain"))], &rules).unwrap();
    assert_eq!(u[0].chain, "devchain");
    let err = parse_with(&[("data", &single("bad chain!"))], &EntryRules::default()).unwrap_err();
    assert_eq!(err.reason(), "bad_chain");
}

#[test]
fn solana_pools_are_base58_and_keep_their_case() {
    let pool = "58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2";
    let data = format!(
        r#"{{"chain":"sol","dex":"raydium","pairAddress":"{pool}","token0":"So11111111111111111111111111111111111111112","token1":"EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v","reserve0":"1000","reserve1":"4000"}}"#
    );
    let (_, u, _) = parse_with(&[("data", &data)], &EntryRules::default()).unwrap();
    assert_eq!(u[0].chain, "solana");
    assert_eq!(u[0].pair.to_string(), pool);
    assert_eq!(
        u[0].token1.as_deref(),
        Some("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
    );
    // The original's convention: reserve0 / reserve1.
    assert_eq!(u[0].price, 0.25);
    // An EVM address on Solana, or a base58 one on Ethereum, is refused.
    let wrong = data.replace(pool, PAIR);
    assert_eq!(
        parse_with(&[("data", &wrong)], &EntryRules::default())
            .unwrap_err()
            .reason(),
        "bad_address"
    );
    let wrong = data.replace("\"sol\"", "\"ethereum\"");
    assert_eq!(
        parse_with(&[("data", &wrong)], &EntryRules::default())
            .unwrap_err()
            .reason(),
        "bad_address"
    );
}

/// `pairwarm feed` writes the original's shape, whose tokens are always present: `""` for
/// a pair without tokens. `serve` refused those updates (`bad_field`, "expected 1-64
/// characters"), so every update fed from a trace was dead-lettered (found by the
/// `stream_entry` and `original_data` fuzz targets' round trip).
#[test]
fn updates_fed_without_tokens_read_back() {
    let u = parse(&[
        ("chain", "bsc"),
        ("pair", PAIR),
        ("price", "3.5"),
        ("ts_ms", "7"),
    ])
    .unwrap();
    assert_eq!((u.token0.as_deref(), u.token1.as_deref()), (None, None));
    let single = encode_update(&u, 1);
    assert!(single.contains(r#""token0":"""#), "{single}");
    let (_, again, bad) = parse_with(&[("data", &single)], &EntryRules::default()).unwrap();
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(
        (again[0].token0.as_deref(), again[0].token1.as_deref()),
        (None, None)
    );
    assert_eq!(again[0].price, 3.5);
    let batch = encode_batch(std::slice::from_ref(&u), 1);
    let (_, again, bad) = parse_with(&[("data", &batch)], &EntryRules::default()).unwrap();
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(again.len(), 1);
    // A token given but malformed is still refused.
    let err = parse(&[
        ("chain", "bsc"),
        ("pair", PAIR),
        ("price", "1"),
        ("token0", " "),
    ]);
    assert_eq!(err.unwrap_err().reason(), "bad_field");
}

#[test]
fn flat_entry() {
    let u = parse(&[
        ("chain", "Ethereum"),
        ("pair", PAIR),
        ("dex", "uniswap_v2"),
        ("token0", "WETH"),
        ("token1", "USDC"),
        ("price", "1850.25"),
        ("block", "19000000"),
        ("ts_ms", "1700000000000"),
        ("extra", "ignored"),
    ])
    .unwrap();
    assert_eq!(u.chain, "ethereum");
    assert_eq!(u.pair.to_string(), PAIR.to_ascii_lowercase());
    assert_eq!(u.price, 1850.25);
    assert_eq!((u.block, u.ts_ms), (19_000_000, Some(1_700_000_000_000)));
    // Symbols keep their case (the detector compares tokens case-insensitively).
    assert_eq!(u.token0.as_deref(), Some("WETH"));
    let fields = to_fields(&u);
    let mut out = Vec::new();
    parse_entry(
        STREAM,
        &fields,
        &EntryRules::default(),
        &mut out,
        &mut BadUpdates::default(),
    )
    .unwrap();
    assert_eq!(out, vec![u]);
}

#[test]
fn flat_entries_are_signed_over_their_fields() {
    let keys = SigningKeys::new("k", None);
    let rules = EntryRules {
        keys: Some(keys.clone()),
        ..EntryRules::default()
    };
    let fields = [("chain", "bsc"), ("pair", PAIR), ("price", "2")];
    let sig = keys.sign_flat(STREAM, &fields);
    let mut signed = fields.to_vec();
    signed.push(("sig", &sig));
    assert!(parse_with(&signed, &rules).is_ok());
    assert_eq!(
        parse_with(&fields, &rules).unwrap_err().reason(),
        "unsigned"
    );
}

#[test]
fn extreme_prices_round_trip_through_to_fields() {
    for text in [
        "1e300",
        "1.7976931348623157e308",
        "1e-300",
        "5e-324",
        "1234.5",
        "1e-7",
    ] {
        let u = parse(&[("chain", "bsc"), ("pair", PAIR), ("price", text)]).unwrap();
        let fields = to_fields(&u);
        let price = &fields.iter().find(|(k, _)| *k == "price").unwrap().1;
        assert!(price.len() <= 32, "{text} written as {price}");
        let mut out = Vec::new();
        parse_entry(
            STREAM,
            &fields,
            &EntryRules::default(),
            &mut out,
            &mut BadUpdates::default(),
        )
        .unwrap();
        assert_eq!(out, vec![u], "{text} written as {price}");
    }
    let u = parse(&[("chain", "bsc"), ("pair", PAIR), ("price", "1850.25")]).unwrap();
    assert_eq!(to_fields(&u)[2], ("price", "1850.25".to_owned()));
}

#[test]
fn reserves_follow_the_originals_convention() {
    let u = parse(&[
        ("chain", "bsc"),
        ("pair", PAIR),
        ("reserve0", "2000"),
        ("reserve1", "5000"),
    ])
    .unwrap();
    assert_eq!(u.price, 0.4);
    assert_eq!((u.reserve0.get(), u.reserve1.get()), (2000, 5000));
    // Exact beyond 2^64; too large for u128 is refused, not rounded.
    let u = parse(&[
        ("chain", "bsc"),
        ("pair", PAIR),
        ("reserve0", "30000000000000000000000000"),
        ("reserve1", "12000000000000000000000"),
    ])
    .unwrap();
    assert_eq!(u.price, 2500.0);
    assert_eq!(u.reserve0.to_string(), "30000000000000000000000000");
    let err = parse(&[
        ("chain", "bsc"),
        ("pair", PAIR),
        ("reserve0", "340282366920938463463374607431768211456"),
        ("reserve1", "1"),
    ])
    .unwrap_err();
    assert_eq!(err.reason(), "bad_reserve");
}

#[test]
fn rejects_with_reason_labels() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("pair", PAIR), ("price", "1")], "missing_field"),
        (&[("chain", "bsc"), ("price", "1")], "missing_field"),
        (&[("chain", "bsc"), ("pair", PAIR)], "missing_field"),
        (
            &[("chain", "bsc"), ("pair", "0x12"), ("price", "1")],
            "bad_address",
        ),
        (
            &[("chain", "b c"), ("pair", PAIR), ("price", "1")],
            "bad_chain",
        ),
        (
            &[("chain", "bsc"), ("pair", PAIR), ("price", "-1")],
            "bad_price",
        ),
        (
            &[("chain", "bsc"), ("pair", PAIR), ("price", "abc")],
            "bad_price",
        ),
        (
            &[
                ("chain", "bsc"),
                ("pair", PAIR),
                ("price", "1"),
                ("block", "x"),
            ],
            "bad_number",
        ),
        (
            &[
                ("chain", "bsc"),
                ("pair", PAIR),
                ("price", "1"),
                ("dex", "a b"),
            ],
            "bad_field",
        ),
        (
            &[("chain", "bsc"), ("pair", PAIR), ("reserve0", "1")],
            "missing_field",
        ),
        (
            &[
                ("chain", "bsc"),
                ("pair", PAIR),
                ("reserve0", "1"),
                ("reserve1", "0"),
            ],
            "bad_price",
        ),
    ];
    for (fields, reason) in cases {
        let err = parse(fields).unwrap_err();
        assert_eq!(err.reason(), *reason, "{fields:?}: {err}");
        assert!(!err.to_string().is_empty());
    }
    let long = "x".repeat(MAX_FIELD_BYTES + 1);
    assert_eq!(
        parse(&[("chain", "bsc"), ("pair", PAIR), ("price", &long)])
            .unwrap_err()
            .reason(),
        "too_large"
    );
}

#[test]
fn encoded_updates_and_batches_read_back() {
    let (_, updates, _) = parse_with(&[("data", BATCH)], &EntryRules::default()).unwrap();
    let batch = encode_batch(&updates, 7);
    let (format, back, bad) = parse_with(&[("data", &batch)], &EntryRules::default()).unwrap();
    assert_eq!(format, EntryFormat::Batch);
    assert!(bad.is_empty());
    assert_eq!(back, updates);
    assert!(batch.contains(r#""pairKey":"uniswap_v2_0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48_0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2""#));
    let single = encode_update(&updates[2], 7);
    let (format, back, _) = parse_with(&[("data", &single)], &EntryRules::default()).unwrap();
    assert_eq!(format, EntryFormat::Single);
    assert_eq!(back[0], updates[2]);
}
