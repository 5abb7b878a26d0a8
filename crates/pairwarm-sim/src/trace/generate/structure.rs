//! The pool universe: tokens, which token pairs exist, which DEXes list them, pool
//! addresses, and for every pool the fixed set of pools the detector reads after it updates.
//!
//! Built once from the seed; only token *popularity* changes afterwards (regime changes), so
//! the read structure a tracker can learn stays valid across regimes.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use rand::{Rng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;

use crate::pair::Address;
use crate::trace::PairInfo;

use super::GeneratorConfig;

/// One pool.
#[derive(Debug, Clone)]
pub(super) struct Pool {
    pub chain: u16,
    /// Chain-local token indices (hubs first).
    pub token0: u32,
    pub token1: u32,
    /// Chain-local token-pair index.
    pub token_pair: u32,
    /// True for the pair's most liquid listing (the one triangle legs read).
    pub primary: bool,
    /// Other pools of the same token pair on the same chain (other DEXes).
    pub siblings: Vec<u32>,
    /// Pools the detector reads after this one updates: siblings, then triangle legs.
    pub reads: Vec<u32>,
}

/// One chain's universe.
#[derive(Debug, Clone)]
pub(super) struct ChainUniverse {
    /// Global pool indices of this chain.
    pub pools: Range<u32>,
    /// Token symbols; the first `hubs` are hub tokens.
    pub tokens: Vec<String>,
    pub hubs: usize,
}

/// All chains' pools.
#[derive(Debug, Clone)]
pub(super) struct Universe {
    pub info: Vec<PairInfo>,
    pub pools: Vec<Pool>,
    pub chains: Vec<ChainUniverse>,
}

/// Probabilities of a non-hub token trading against 1, 2 or 3 hubs.
const HUB_PARTNERS: [f64; 3] = [0.4, 0.4, 0.2];

pub(super) fn build(config: &GeneratorConfig, rng: &mut ChaCha8Rng) -> Universe {
    let mut info = Vec::new();
    let mut pools: Vec<Pool> = Vec::new();
    let mut chains = Vec::new();
    let mut used_addresses = HashSet::new();
    for (c, chain) in config.chains.iter().enumerate() {
        let hubs = chain.hubs.len().min(config.tokens_per_chain);
        let dexes = &chain.dexes[..config.dexes_per_chain.min(chain.dexes.len())];
        let mut tokens: Vec<String> = chain.hubs[..hubs].to_vec();
        tokens.extend((0..config.tokens_per_chain - hubs).map(super::presets::alt_symbol));

        // Token pairs: every hub with every hub, and each other token with 1-3 hubs, chosen
        // with weights halving down the hub list (most pools quote in WETH/USDC).
        let mut token_pairs: Vec<(u32, u32)> = Vec::new();
        for a in 0..hubs {
            for b in a + 1..hubs {
                token_pairs.push((a as u32, b as u32));
            }
        }
        for t in hubs..tokens.len() {
            let u: f64 = rng.random();
            let wanted = if u < HUB_PARTNERS[0] {
                1
            } else if u < HUB_PARTNERS[0] + HUB_PARTNERS[1] {
                2
            } else {
                3
            };
            let mut weights: Vec<f64> = (0..hubs).map(|h| 0.5f64.powi(h as i32)).collect();
            for _ in 0..wanted.min(hubs) {
                let h = weighted_index(&weights, rng);
                weights[h] = 0.0;
                token_pairs.push((t as u32, h as u32));
            }
        }

        // Listings: hub-hub pairs on every DEX (primary = the chain's top DEX); other pairs on
        // a primary DEX drawn by DEX share plus each other DEX with `secondary_listing_prob`.
        let first_pool = pools.len() as u32;
        let dex_share: Vec<f64> = (0..dexes.len()).map(|d| 0.6f64.powi(d as i32)).collect();
        let mut pair_pools: Vec<Vec<u32>> = Vec::with_capacity(token_pairs.len());
        for (tp, &(t0, t1)) in token_pairs.iter().enumerate() {
            let hub_pair = (t0 as usize) < hubs && (t1 as usize) < hubs;
            let primary = if hub_pair {
                0
            } else {
                weighted_index(&dex_share, rng)
            };
            let mut listed = vec![primary];
            for d in 0..dexes.len() {
                if d != primary && (hub_pair || rng.random_bool(config.secondary_listing_prob)) {
                    listed.push(d);
                }
            }
            let mut ids = Vec::with_capacity(listed.len());
            for (k, &d) in listed.iter().enumerate() {
                let address = loop {
                    let mut bytes = [0u8; 20];
                    rng.fill(&mut bytes);
                    let a = Address::from_bytes(bytes);
                    if used_addresses.insert(a) {
                        break a;
                    }
                };
                let id = pools.len() as u32;
                ids.push(id);
                info.push(PairInfo {
                    pair: address,
                    chain: chain.name.clone(),
                    dex: dexes[d].clone(),
                    token0: tokens[t0 as usize].clone(),
                    token1: tokens[t1 as usize].clone(),
                });
                pools.push(Pool {
                    chain: c as u16,
                    token0: t0,
                    token1: t1,
                    token_pair: tp as u32,
                    primary: k == 0,
                    siblings: Vec::new(),
                    reads: Vec::new(),
                });
            }
            pair_pools.push(ids);
        }

        // Read sets: siblings first (cross-DEX spread), then triangle legs through up to
        // `triangle_hubs` hubs (hub list order) that both tokens trade against, each leg the
        // pair's primary pool; capped at `max_reads_per_update`.
        let pair_index: HashMap<(u32, u32), usize> = token_pairs
            .iter()
            .enumerate()
            .map(|(i, &(a, b))| ((a.min(b), a.max(b)), i))
            .collect();
        let primary_of = |a: u32, b: u32| -> Option<u32> {
            let tp = *pair_index.get(&(a.min(b), a.max(b)))?;
            pair_pools.get(tp)?.first().copied()
        };
        for (id, pool) in pools.iter_mut().enumerate().skip(first_pool as usize) {
            let (t0, t1, tp) = (pool.token0, pool.token1, pool.token_pair);
            let siblings: Vec<u32> = pair_pools[tp as usize]
                .iter()
                .copied()
                .filter(|&p| p as usize != id)
                .collect();
            let mut reads = siblings.clone();
            let mut through = 0;
            for h in 0..hubs as u32 {
                if through >= config.triangle_hubs {
                    break;
                }
                if h == t0 || h == t1 {
                    continue;
                }
                if let (Some(a), Some(b)) = (primary_of(t0, h), primary_of(t1, h)) {
                    reads.push(a);
                    reads.push(b);
                    through += 1;
                }
            }
            reads.truncate(config.max_reads_per_update);
            pool.siblings = siblings;
            pool.reads = reads;
        }
        chains.push(ChainUniverse {
            pools: first_pool..pools.len() as u32,
            tokens,
            hubs,
        });
    }
    Universe {
        info,
        pools,
        chains,
    }
}

/// Index drawn with probability proportional to `weights` (all finite, not all zero).
pub(super) fn weighted_index(weights: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    // Rounding: fall back to the last non-zero weight.
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

/// Token popularity ranks: hubs keep ranks `0..hubs`; other tokens get `hubs..n`, in creation
/// order for the first regime and shuffled for each later one (a token that was obscure
/// becomes hot, the hot one cools down; WETH stays WETH).
pub(super) fn ranks(chain: &ChainUniverse, regime: u32, rng: &mut ChaCha8Rng) -> Vec<u32> {
    let n = chain.tokens.len() as u32;
    let mut ranks: Vec<u32> = (0..n).collect();
    if regime > 0 {
        ranks[chain.hubs..].shuffle(rng);
    }
    ranks
}
