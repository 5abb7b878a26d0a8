//! Structure-aware warming candidates: from a pairs file (`pair,chain,dex,token0,token1`),
//! the pools a detector compares an updated pool with — the same token pair on the chain's
//! other DEXes (cross-DEX spread), the same token pair on other chains (cross-chain moves)
//! and the triangle legs through the chain's hub tokens. No learning: the candidates are
//! known before the first update, which is what a learned predictor lacks on a cold or
//! shifting workload.
//!
//! Hubs are the tokens that appear in the most pools of a chain (WETH, USDC, ... on real
//! chains); a leg of `A/B` through hub `H` is the first pool listed for `A/H` (and `B/H`).

use std::collections::HashMap;

use crate::trace::{PairInfo, Trace};

/// Hubs per chain used for triangle legs.
const HUBS: usize = 2;
/// Most candidates kept per pool (siblings first, then other chains, then legs).
const MAX_NEIGHBOURS: usize = 16;

/// For every pair of a trace, its structural neighbours (indices into `Trace::pairs`).
pub(crate) struct StructureIndex {
    by_pair: Vec<Box<[u32]>>,
}

impl StructureIndex {
    /// Pairs of `trace` missing from `pairs` have no neighbours.
    pub(crate) fn build(trace: &Trace, pairs: &[PairInfo]) -> Self {
        let mut ix_of: HashMap<(&str, crate::pair::Address), u32> = HashMap::new();
        for (i, p) in trace.pairs.iter().enumerate() {
            ix_of.insert((p.chain.as_str(), p.address), i as u32);
        }
        let tokens = |p: &PairInfo| {
            if p.token0 <= p.token1 {
                (p.token0.clone(), p.token1.clone())
            } else {
                (p.token1.clone(), p.token0.clone())
            }
        };
        // (chain, token pair) -> pools; token pair -> pools on every chain; per chain the
        // pool count of each token.
        let mut same_chain: HashMap<(String, (String, String)), Vec<u32>> = HashMap::new();
        let mut any_chain: HashMap<(String, String), Vec<u32>> = HashMap::new();
        let mut token_pools: HashMap<(String, String), usize> = HashMap::new();
        let mut described: Vec<Option<&PairInfo>> = vec![None; trace.pairs.len()];
        for p in pairs {
            let Some(&ix) = ix_of.get(&(p.chain.as_str(), p.pair)) else {
                continue;
            };
            described[ix as usize] = Some(p);
            let key = tokens(p);
            same_chain
                .entry((p.chain.clone(), key.clone()))
                .or_default()
                .push(ix);
            any_chain.entry(key).or_default().push(ix);
            for t in [&p.token0, &p.token1] {
                *token_pools.entry((p.chain.clone(), t.clone())).or_default() += 1;
            }
        }
        let mut hubs: HashMap<String, Vec<String>> = HashMap::new();
        {
            let mut by_chain: HashMap<&str, Vec<(usize, &str)>> = HashMap::new();
            for ((chain, token), n) in &token_pools {
                by_chain.entry(chain).or_default().push((*n, token));
            }
            for (chain, mut list) in by_chain {
                list.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
                hubs.insert(
                    chain.to_owned(),
                    list.iter()
                        .take(HUBS)
                        .map(|(_, t)| (*t).to_owned())
                        .collect(),
                );
            }
        }
        let pool = |chain: &str, a: &str, b: &str| -> Option<u32> {
            let key = if a <= b {
                (a.to_owned(), b.to_owned())
            } else {
                (b.to_owned(), a.to_owned())
            };
            same_chain
                .get(&(chain.to_owned(), key))
                .and_then(|v| v.first().copied())
        };
        let by_pair = described
            .iter()
            .enumerate()
            .map(|(me, info)| {
                let Some(p) = info else {
                    return Box::default();
                };
                let me = me as u32;
                let key = tokens(p);
                let mut out: Vec<u32> = Vec::new();
                let add = |q: u32, out: &mut Vec<u32>| {
                    if q != me && !out.contains(&q) && out.len() < MAX_NEIGHBOURS {
                        out.push(q);
                    }
                };
                for &q in same_chain
                    .get(&(p.chain.clone(), key.clone()))
                    .into_iter()
                    .flatten()
                {
                    add(q, &mut out);
                }
                for &q in any_chain.get(&key).into_iter().flatten() {
                    add(q, &mut out);
                }
                for h in hubs.get(&p.chain).into_iter().flatten() {
                    for t in [&p.token0, &p.token1] {
                        if t != h
                            && let Some(q) = pool(&p.chain, t, h)
                        {
                            add(q, &mut out);
                        }
                    }
                }
                out.into_boxed_slice()
            })
            .collect();
        Self { by_pair }
    }

    /// Structural neighbours of trace pair `ix`, most direct first.
    pub(crate) fn neighbours(&self, ix: u32) -> &[u32] {
        self.by_pair.get(ix as usize).map_or(&[], |v| v)
    }
}
