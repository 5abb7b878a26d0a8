//! Invariants of the pool structure against a model, for any sequence of pool descriptions
//! (the feed's tokens are outside input: any names, pools re-described with other tokens):
//! bounded, never a pool's own neighbour, no duplicates, at most `MAX_NEIGHBOURS`, only
//! described pools, and every same-chain sibling that fits is listed first.

use std::collections::HashMap;

use pairwarm::pair::{Address, ChainId, PairId, PairInterner, PairKey};
use pairwarm::structure::{MAX_NEIGHBOURS, PoolStructure};
use proptest::prelude::*;

const TOKENS: [&str; 6] = ["WETH", "USDC", "DAI", "WBTC", "", "weth"];
const CHAINS: [&str; 3] = ["ethereum", "arbitrum", "base"];

fn pool(interner: &PairInterner, chain: ChainId, n: u8) -> PairId {
    let mut a = [0u8; 20];
    a[0] = n;
    interner.intern(PairKey {
        chain,
        address: Address::from_bytes(a),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn neighbours_are_bounded_distinct_described_and_siblings_first(
        max_pools in 1usize..24,
        ops in prop::collection::vec((0u8..40, 0usize..6, 0usize..6), 1..200),
    ) {
        let interner = PairInterner::new(1024);
        let chains: Vec<ChainId> = CHAINS.iter().map(|c| interner.chain_id(c).unwrap()).collect();
        let s = PoolStructure::new(max_pools);
        // Model: the latest description of each pool that was accepted.
        let mut model: HashMap<PairId, (ChainId, &str, &str)> = HashMap::new();
        for &(n, t0, t1) in &ops {
            // A pool's address decides its chain (as the interner's key does).
            let chain = chains[usize::from(n) % chains.len()];
            let id = pool(&interner, chain, n);
            let (a, b) = (TOKENS[t0], TOKENS[t1]);
            let valid = !a.is_empty() && !b.is_empty() && a != b;
            let known = model.contains_key(&id);
            let changed = s.observe(id, chain, a, b);
            if valid && (known || model.len() < max_pools) {
                let same = model.get(&id) == Some(&(chain, a, b));
                prop_assert_eq!(changed, !same, "pool {} {}/{}", n, a, b);
                model.insert(id, (chain, a, b));
            } else {
                prop_assert!(!changed);
            }
            prop_assert!(s.len() <= max_pools);
            prop_assert_eq!(s.len(), model.len());
        }
        let key = |a: &str, b: &str| if a <= b { (a.to_owned(), b.to_owned()) } else { (b.to_owned(), a.to_owned()) };
        let mut out = Vec::new();
        for (&id, &(chain, a, b)) in &model {
            s.neighbours_into(id, &mut out);
            prop_assert!(out.len() <= MAX_NEIGHBOURS);
            prop_assert!(!out.contains(&id));
            let mut seen = out.clone();
            seen.sort_unstable_by_key(|p| p.raw());
            seen.dedup();
            prop_assert_eq!(seen.len(), out.len(), "duplicates in {:?}", out);
            prop_assert!(out.iter().all(|q| model.contains_key(q)));
            // Same chain, same token pair: all listed, before anything else.
            let siblings: Vec<PairId> = model
                .iter()
                .filter(|&(&q, &(c, x, y))| q != id && c == chain && key(x, y) == key(a, b))
                .map(|(&q, _)| q)
                .collect();
            let fits = siblings.len().min(MAX_NEIGHBOURS);
            prop_assert!(out[..fits].iter().all(|q| siblings.contains(q)), "{:?} vs {:?}", out, siblings);
        }
    }
}
