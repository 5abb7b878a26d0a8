//! What the pool structure adds per price update in `serve`: describing a pool that is
//! already described (every update after a pool's first) and the neighbours a warm plans,
//! on 5,000 pools over 3 chains and ~300 tokens. Baseline in the same run: one L1 hit of the
//! default cache (the update path's other per-update lookups are of that order).
//!
//! `cargo bench -p pairwarm --bench structure`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use pairwarm::cache::{HierarchicalCache, Price};
use pairwarm::pair::{Address, ChainId, PairId, PairKey};
use pairwarm::structure::PoolStructure;

const POOLS: u32 = 5_000;

fn address(n: u32) -> Address {
    let mut b = [0u8; 20];
    b[..4].copy_from_slice(&n.to_be_bytes());
    Address::from_bytes(b)
}

fn token(n: u32) -> String {
    format!("0x{:040x}", 0xA0B8_6991_u64 * u64::from(n + 1))
}

fn structure(c: &mut Criterion) {
    let cache = HierarchicalCache::builder()
        .l1_entries(8_192)
        .build_in_memory();
    let interner = cache.interner().clone();
    let chains: Vec<ChainId> = ["ethereum", "arbitrum", "base"]
        .iter()
        .map(|c| interner.chain_id(c).expect("valid chain"))
        .collect();
    let s = PoolStructure::for_interner(interner.clone());
    let mut pools: Vec<(PairId, ChainId, String, String)> = Vec::new();
    for n in 0..POOLS {
        let chain = chains[(n % 3) as usize];
        let id = interner.intern(PairKey {
            chain,
            address: address(n),
        });
        // Two hub tokens in most pools, a long tail of others.
        let (t0, t1) = (token(n % 2), token(2 + (n * 7919) % 300));
        s.observe(id, chain, &t0, &t1);
        cache.set_l1(id, Price::new(1.0, 1, 1));
        pools.push((id, chain, t0, t1));
    }
    let mut g = c.benchmark_group("structure");
    let mut i = 0usize;
    g.bench_function("observe_described", |b| {
        b.iter(|| {
            i = (i + 1) % pools.len();
            let (id, chain, t0, t1) = &pools[i];
            black_box(s.observe(*id, *chain, t0, t1))
        })
    });
    let mut out = Vec::new();
    g.bench_function("neighbours", |b| {
        b.iter(|| {
            i = (i + 1) % pools.len();
            s.neighbours_into(pools[i].0, &mut out);
            black_box(out.len())
        })
    });
    g.bench_function("baseline_l1_hit", |b| {
        b.iter(|| {
            i = (i + 1) % pools.len();
            black_box(cache.get_l1_only(pools[i].0))
        })
    });
    g.finish();
}

criterion_group!(benches, structure);
criterion_main!(benches);
