//! Invariants of the pool structure against a model, for any sequence of pool descriptions
//! (the feed's tokens are outside input: any names and case, pools re-described with other
//! tokens, an interner small enough to recycle slots): one description per slot, never a
//! pool's own neighbour, no duplicates, at most `MAX_NEIGHBOURS`, only live described
//! pools, and every same-chain sibling listed first.

use std::collections::HashMap;
use std::sync::Arc;

use pairwarm::pair::{Address, ChainId, PairId, PairInterner, PairKey};
use pairwarm::structure::{MAX_NEIGHBOURS, PoolStructure};
use proptest::prelude::*;

const TOKENS: [&str; 6] = ["WETH", "USDC", "DAI", "WBTC", "", "weth"];
const CHAINS: [&str; 3] = ["ethereum", "arbitrum", "base"];

/// The unordered, case-folded token pair (what the structure compares).
fn key(a: &str, b: &str) -> (String, String) {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    if a <= b { (a, b) } else { (b, a) }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn neighbours_are_bounded_distinct_live_and_siblings_first(
        capacity in 4usize..48,
        ops in prop::collection::vec((0u8..40, 0usize..6, 0usize..6), 1..200),
    ) {
        let interner = Arc::new(PairInterner::new(capacity));
        let chains: Vec<ChainId> = CHAINS.iter().map(|c| interner.chain_id(c).unwrap()).collect();
        let s = PoolStructure::for_interner(interner.clone());
        // Model: per interner slot, the latest accepted description.
        let mut model: HashMap<usize, (PairId, ChainId, (String, String))> = HashMap::new();
        for &(n, t0, t1) in &ops {
            let chain = chains[usize::from(n) % chains.len()];
            let mut a = [0u8; 20];
            a[0] = n;
            let id = interner.intern(PairKey { chain, address: Address::from_bytes(a) });
            let (x, y) = (TOKENS[t0], TOKENS[t1]);
            let valid = !x.is_empty() && !y.is_empty() && !x.eq_ignore_ascii_case(y);
            let changed = s.observe(id, chain, x, y);
            if valid {
                let desc = (id, chain, key(x, y));
                let same = model.get(&interner.slot(id)) == Some(&desc);
                prop_assert_eq!(changed, !same, "pool {} {}/{}", n, x, y);
                model.insert(interner.slot(id), desc);
            } else {
                prop_assert!(!changed);
            }
            prop_assert_eq!(s.len(), model.len());
            prop_assert!(s.len() <= interner.capacity());
        }
        let live = |q: PairId| interner.resolve(q).is_some();
        let mut out = Vec::new();
        for (id, chain, k) in model.values() {
            s.neighbours_into(*id, &mut out);
            if !live(*id) {
                continue;
            }
            prop_assert!(out.len() <= MAX_NEIGHBOURS);
            prop_assert!(!out.contains(id));
            let mut seen = out.clone();
            seen.sort_unstable_by_key(|p| p.raw());
            seen.dedup();
            prop_assert_eq!(seen.len(), out.len(), "duplicates in {:?}", out);
            prop_assert!(out.iter().all(|&q| live(q)), "a dead id in {:?}", out);
            prop_assert!(
                out.iter().all(|q| model.values().any(|(m, _, _)| m == q)),
                "an undescribed pool in {:?}",
                out
            );
            // Live pools on the same chain with the same token pair: all listed first.
            let siblings: Vec<PairId> = model
                .values()
                .filter(|(q, c, kk)| q != id && c == chain && kk == k && live(*q))
                .map(|(q, _, _)| *q)
                .collect();
            let fits = siblings.len().min(MAX_NEIGHBOURS);
            prop_assert!(out.len() >= fits);
            prop_assert!(out[..fits].iter().all(|q| siblings.contains(q)), "{:?} vs {:?}", out, siblings);
        }
    }
}
