//! Reading the original's stream entries: parsing batch envelopes (50 updates, ~33 KB; and
//! 1,000 updates, ~620 KB, the largest the original publishes) and verifying their `sig`.
//!
//! `cargo bench -p pairwarm-service --bench entry`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pairwarm_service::entry::{BadUpdates, EntryRules, SigningKeys, parse_entry};

const STREAM: &str = "stream:price-updates";
const SINGLE: &str = include_str!("../tests/data/reference_single.json");

/// A batch envelope of `n` distinct pools, each message the reference's update (~645 bytes,
/// nested `pipelineTimestamps` and tracing fields included).
fn envelope(n: u32) -> String {
    let messages: Vec<String> = (0..n)
        .map(|i| {
            SINGLE.replace(
                "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc",
                &format!("0x{:040x}", i + 1),
            )
        })
        .collect();
    format!(
        r#"{{"type":"batch","count":{n},"messages":[{}],"timestamp":1795923834400}}"#,
        messages.join(",")
    )
}

fn parse(c: &mut Criterion) {
    let rules = EntryRules::default();
    let mut g = c.benchmark_group("parse_envelope");
    for n in [50u32, 1000] {
        let data = envelope(n);
        g.throughput(Throughput::Elements(u64::from(n)));
        let mut out = Vec::with_capacity(n as usize);
        let mut bad = BadUpdates::default();
        g.bench_function(format!("{n}_updates_{}_kb", data.len() / 1000), |b| {
            b.iter(|| {
                out.clear();
                bad.clear();
                parse_entry(
                    STREAM,
                    &[("data", data.as_str())],
                    &rules,
                    &mut out,
                    &mut bad,
                )
                .unwrap();
                black_box(out.len())
            });
        });
    }
    g.finish();
}

fn signature(c: &mut Criterion) {
    let keys = SigningKeys::new("interop-signing-key", None);
    let mut g = c.benchmark_group("verify_sig");
    for (name, data) in [
        ("single_645_b", SINGLE.to_owned()),
        ("batch_50", envelope(50)),
        ("batch_1000", envelope(1000)),
    ] {
        let sig = keys.sign(STREAM, data.as_bytes());
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| keys.verify(STREAM, black_box(data.as_bytes()), Some(sig.as_bytes())))
        });
    }
    g.finish();
}

criterion_group!(benches, parse, signature);
criterion_main!(benches);
