//! The pools' structure for `structure` runs and for `default` when a pairs file is given:
//! which trace pools the pairs file describes, handed to the library's
//! [`PoolStructure`] (the index `serve` builds from the feed's token fields) at each pool's
//! first update, as `serve` learns them, so the simulator and the service warm the same
//! neighbours.

use std::collections::HashMap;

use pairwarm::structure::PoolStructure;

use crate::pair::{PairId, PairInterner};
use crate::trace::{PairInfo, Trace};

/// The pairs-file row describing each trace pool, if any.
pub(crate) struct Described<'a> {
    /// By trace pair index.
    rows: Vec<Option<&'a PairInfo>>,
}

impl<'a> Described<'a> {
    /// Rows of `pairs` naming a pool of `trace` (others are ignored; a pool listed twice
    /// keeps its first row).
    pub(crate) fn new(trace: &Trace, pairs: &'a [PairInfo]) -> Self {
        let mut rows = vec![
            None;
            if pairs.is_empty() {
                0
            } else {
                trace.pairs.len()
            }
        ];
        if !pairs.is_empty() {
            let ix_of: HashMap<(&str, crate::pair::Address), usize> = trace
                .pairs
                .iter()
                .enumerate()
                .map(|(i, p)| ((p.chain.as_str(), p.address), i))
                .collect();
            for p in pairs {
                if let Some(&ix) = ix_of.get(&(p.chain.as_str(), p.pair))
                    && rows[ix].is_none()
                {
                    rows[ix] = Some(p);
                }
            }
        }
        Self { rows }
    }

    /// Describes trace pool `ix` to `structure` (with the run's ids: `by_pair` maps trace
    /// index -> id in `interner`), if the pairs file describes it.
    pub(crate) fn describe(
        &self,
        structure: &PoolStructure,
        ix: usize,
        by_pair: &[PairId],
        interner: &PairInterner,
    ) {
        let (Some(Some(p)), Some(&id)) = (self.rows.get(ix), by_pair.get(ix)) else {
            return;
        };
        if let Ok(chain) = interner.chain_id(&p.chain) {
            structure.observe(id, chain, &p.token0, &p.token1);
        }
    }
}
