use super::*;

const PAIR: &str = "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc";

fn parse(fields: &[(&str, &str)]) -> Result<PriceUpdate, EntryError> {
    parse_entry(fields)
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
    assert_eq!(u.token0.as_deref(), Some("weth"));
    let round = parse_entry(&to_fields(&u)).unwrap();
    assert_eq!(round, u);
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
        assert_eq!(parse_entry(&fields), Ok(u), "{text} written as {price}");
    }
    let u = parse(&[("chain", "bsc"), ("pair", PAIR), ("price", "1850.25")]).unwrap();
    assert_eq!(to_fields(&u)[2], ("price", "1850.25".to_owned()));
}

#[test]
fn reserves_and_json_data() {
    let u = parse(&[
        ("chain", "bsc"),
        ("pair", PAIR),
        ("reserve0", "2000"),
        ("reserve1", "5000"),
    ])
    .unwrap();
    assert_eq!(u.price, 2.5);
    assert_eq!(u.ts_ms, None);
    let json = format!(
        r#"{{"chain":"bsc","pair":"{PAIR}","price":3.5,"block":"7","ts_ms":1700000000001,"dex":null}}"#
    );
    let u = parse(&[("data", json.as_str())]).unwrap();
    assert_eq!(
        (u.price, u.block, u.ts_ms),
        (3.5, 7, Some(1_700_000_000_001))
    );
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
            &[("chain", "b s c"), ("pair", PAIR), ("price", "1")],
            "bad_chain",
        ),
        (
            &[("chain", "bsc"), ("pair", PAIR), ("price", "-1")],
            "bad_price",
        ),
        (
            &[("chain", "bsc"), ("pair", PAIR), ("price", "NaN")],
            "bad_price",
        ),
        (
            &[("chain", "bsc"), ("pair", PAIR), ("price", "inf")],
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
                ("reserve0", "0"),
                ("reserve1", "1"),
            ],
            "bad_price",
        ),
        (
            &[("chain", "bsc"), ("pair", PAIR), ("reserve0", "1")],
            "missing_field",
        ),
        (&[("data", "{not json")], "bad_json"),
        (&[("data", "[1,2]")], "bad_json"),
        (&[("data", r#"{"chain":["x"]}"#)], "bad_json"),
        (
            &[
                ("chain", "bsc"),
                ("pair", PAIR),
                ("price", "1"),
                ("dex", "a b"),
            ],
            "bad_field",
        ),
    ];
    for (fields, reason) in cases {
        let err = parse(fields).unwrap_err();
        assert_eq!(err.reason(), *reason, "{fields:?} -> {err}");
    }
    let long = "1".repeat(MAX_FIELD_BYTES + 1);
    let err = parse(&[("chain", "bsc"), ("pair", PAIR), ("price", &long)]).unwrap_err();
    assert_eq!(err.reason(), "too_large");
    let err = parse_entry(&[(b"chain".as_slice(), b"\xff\xfe".as_slice())]).unwrap_err();
    assert!(err.to_string().contains("UTF-8"), "{err}");
}
