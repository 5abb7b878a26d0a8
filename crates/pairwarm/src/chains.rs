//! The original system's chain names: canonical ids and the aliases it normalises.
//!
//! Producers of the original write canonical ids (`ethereum`, `bsc`, ...) but some write
//! aliases (`eth`, `bnb`, `zkSync`); its consumers normalise them case-insensitively. The
//! same table here lets pairwarm key L2 values, metrics and opportunities by the names the
//! original uses, and refuse chain names nobody runs (each distinct chain takes one of the
//! interner's [`MAX_CHAINS`](crate::pair::MAX_CHAINS) slots and a metrics label).

/// Canonical chain ids of the original, mainnets then testnets.
pub const CANONICAL_CHAINS: [&str; 20] = [
    "ethereum",
    "polygon",
    "arbitrum",
    "base",
    "optimism",
    "bsc",
    "avalanche",
    "fantom",
    "zksync",
    "linea",
    "blast",
    "scroll",
    "mantle",
    "mode",
    "solana",
    "sepolia",
    "arbitrum-sepolia",
    "base-sepolia",
    "zksync-sepolia",
    "solana-devnet",
];

/// Aliases the original normalises, matched case-insensitively, and their canonical id.
/// (`zkSync` needs no entry: it is `zksync` case-insensitively.)
pub const CHAIN_ALIASES: [(&str, &str); 15] = [
    ("eth", "ethereum"),
    ("matic", "polygon"),
    ("arb", "arbitrum"),
    ("bnb", "bsc"),
    ("binance", "bsc"),
    ("binance-smart-chain", "bsc"),
    ("avax", "avalanche"),
    ("ftm", "fantom"),
    ("sol", "solana"),
    ("mnt", "mantle"),
    ("zksync-mainnet", "zksync"),
    ("zksync-testnet", "zksync-sepolia"),
    ("arbitrumsepolia", "arbitrum-sepolia"),
    ("basesepolia", "base-sepolia"),
    ("zksyncsepolia", "zksync-sepolia"),
];

/// The canonical id of a chain name or alias (case-insensitive), `None` if the original
/// does not know it. Allocation-free.
///
/// ```
/// use pairwarm::chains::canonical_chain;
/// assert_eq!(canonical_chain("ETH"), Some("ethereum"));
/// assert_eq!(canonical_chain("zkSyncSepolia"), Some("zksync-sepolia"));
/// assert_eq!(canonical_chain("bsc"), Some("bsc"));
/// assert_eq!(canonical_chain("ethereum-classic"), None);
/// ```
pub fn canonical_chain(name: &str) -> Option<&'static str> {
    CANONICAL_CHAINS
        .iter()
        .copied()
        .find(|c| c.eq_ignore_ascii_case(name))
        .or_else(|| {
            CHAIN_ALIASES
                .iter()
                .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
                .map(|&(_, canonical)| canonical)
        })
}

/// Whether pools of this canonical chain have base58 (Solana) addresses.
pub fn uses_base58(chain: &str) -> bool {
    matches!(chain, "solana" | "solana-devnet")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alias_of_the_reference_normalises() {
        for (alias, canonical) in [
            ("eth", "ethereum"),
            ("matic", "polygon"),
            ("arb", "arbitrum"),
            ("bnb", "bsc"),
            ("binance", "bsc"),
            ("binance-smart-chain", "bsc"),
            ("avax", "avalanche"),
            ("ftm", "fantom"),
            ("sol", "solana"),
            ("mnt", "mantle"),
            ("zksync-mainnet", "zksync"),
            ("zkSync", "zksync"),
            ("zksync-testnet", "zksync-sepolia"),
            ("arbitrumSepolia", "arbitrum-sepolia"),
            ("baseSepolia", "base-sepolia"),
            ("zkSyncSepolia", "zksync-sepolia"),
            ("BNB", "bsc"),
            ("Ethereum", "ethereum"),
        ] {
            assert_eq!(canonical_chain(alias), Some(canonical), "{alias}");
        }
        for c in CANONICAL_CHAINS {
            assert_eq!(canonical_chain(c), Some(c));
            assert_eq!(canonical_chain(&c.to_ascii_uppercase()), Some(c));
        }
        for unknown in ["", "ethereum-classic", "ether", "bsc ", "sol-ana"] {
            assert_eq!(canonical_chain(unknown), None, "{unknown:?}");
        }
        assert!(uses_base58("solana") && uses_base58("solana-devnet"));
        assert!(!uses_base58("ethereum"));
    }
}
