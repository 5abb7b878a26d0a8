//! The pools' structure for `structure` runs and for `default` when a pairs file is given:
//! which trace pools the pairs file describes, handed to the library's
//! [`PoolStructure`](pairwarm::structure::PoolStructure) (the index `serve` builds from
//! the feed's token fields), so the simulator and the service warm the same neighbours.

use std::collections::HashMap;

use crate::pair::{PairId, PairInterner};
use crate::trace::{PairInfo, Trace};
use pairwarm::structure::PoolStructure;

/// The pairs-file rows that describe trace pools, in file order.
pub(crate) struct Described<'a> {
    /// (trace pair index, its description).
    rows: Vec<(u32, &'a PairInfo)>,
}

impl<'a> Described<'a> {
    /// Rows of `pairs` naming a pool of `trace` (others are ignored).
    pub(crate) fn new(trace: &Trace, pairs: &'a [PairInfo]) -> Self {
        let ix_of: HashMap<(&str, crate::pair::Address), u32> = trace
            .pairs
            .iter()
            .enumerate()
            .map(|(i, p)| ((p.chain.as_str(), p.address), i as u32))
            .collect();
        Self {
            rows: pairs
                .iter()
                .filter_map(|p| ix_of.get(&(p.chain.as_str(), p.pair)).map(|&ix| (ix, p)))
                .collect(),
        }
    }

    /// Describes the pools to `structure`, with the run's ids (`by_pair`: trace index ->
    /// id in `interner`), in file order.
    pub(crate) fn describe(
        &self,
        structure: &PoolStructure,
        by_pair: &[PairId],
        interner: &PairInterner,
    ) {
        for &(ix, p) in &self.rows {
            let (Some(&id), Ok(chain)) = (by_pair.get(ix as usize), interner.chain_id(&p.chain))
            else {
                continue;
            };
            structure.observe(id, chain, &p.token0, &p.token1);
        }
    }
}
