//! Built-in chain presets: real block intervals, the DEXes a practitioner expects on each
//! chain (most liquid first), and the hub tokens arbitrage routes go through.

use super::ChainConfig;

pub(super) struct Preset {
    pub name: &'static str,
    pub block_interval_us: u64,
    /// Mean DEX swaps (price-moving pool events) per block seen by the detector.
    pub swaps_per_block: f64,
    /// A block number near 2025-01-01, so traces look like the real chain.
    pub first_block: u64,
    pub dexes: &'static [&'static str],
    pub hubs: &'static [&'static str],
}

pub(super) const PRESETS: &[Preset] = &[
    Preset {
        name: "ethereum",
        block_interval_us: 12_000_000,
        swaps_per_block: 40.0,
        first_block: 21_525_000,
        dexes: &[
            "uniswap-v3",
            "uniswap-v2",
            "sushiswap",
            "curve",
            "balancer-v2",
            "pancakeswap-v3",
        ],
        hubs: &["WETH", "USDC", "USDT", "DAI", "WBTC"],
    },
    Preset {
        name: "bsc",
        block_interval_us: 3_000_000,
        swaps_per_block: 20.0,
        first_block: 45_000_000,
        dexes: &[
            "pancakeswap-v2",
            "pancakeswap-v3",
            "biswap",
            "uniswap-v3",
            "apeswap",
            "thena",
        ],
        hubs: &["WBNB", "USDT", "BUSD", "USDC", "BTCB"],
    },
    Preset {
        name: "arbitrum",
        block_interval_us: 250_000,
        swaps_per_block: 3.0,
        first_block: 290_000_000,
        dexes: &[
            "uniswap-v3",
            "camelot",
            "sushiswap",
            "curve",
            "ramses",
            "traderjoe",
        ],
        hubs: &["WETH", "USDC", "USDT", "ARB", "WBTC"],
    },
    Preset {
        name: "polygon",
        block_interval_us: 2_000_000,
        swaps_per_block: 8.0,
        first_block: 66_000_000,
        dexes: &[
            "quickswap",
            "uniswap-v3",
            "sushiswap",
            "curve",
            "balancer-v2",
        ],
        hubs: &["WMATIC", "USDC", "USDT", "WETH", "DAI"],
    },
    Preset {
        name: "base",
        block_interval_us: 2_000_000,
        swaps_per_block: 12.0,
        first_block: 24_500_000,
        dexes: &[
            "aerodrome",
            "uniswap-v3",
            "baseswap",
            "sushiswap",
            "uniswap-v2",
        ],
        hubs: &["WETH", "USDC", "DAI", "cbETH", "USDbC"],
    },
    Preset {
        name: "optimism",
        block_interval_us: 2_000_000,
        swaps_per_block: 4.0,
        first_block: 130_000_000,
        dexes: &[
            "velodrome",
            "uniswap-v3",
            "curve",
            "sushiswap",
            "beethoven-x",
        ],
        hubs: &["WETH", "USDC", "USDT", "OP", "DAI"],
    },
    Preset {
        name: "avalanche",
        block_interval_us: 2_000_000,
        swaps_per_block: 5.0,
        first_block: 55_000_000,
        dexes: &["traderjoe", "pangolin", "uniswap-v3", "curve", "sushiswap"],
        hubs: &["WAVAX", "USDC", "USDT", "WETH.e", "BTC.b"],
    },
];

/// How many presets [`super::GeneratorConfig::default`] uses (all but avalanche).
pub(super) const DEFAULT_CHAINS: usize = 6;

/// Symbols for the most popular non-hub tokens; the tail is `TKN0031`, `TKN0032`, ...
const ALT_SYMBOLS: &[&str] = &[
    "LINK", "UNI", "AAVE", "PEPE", "SHIB", "MKR", "LDO", "CRV", "SNX", "COMP", "GRT", "APE", "ENS",
    "RPL", "FXS", "BAL", "SUSHI", "1INCH", "YFI", "BLUR", "PENDLE", "GMX", "DYDX", "FET", "RNDR",
    "IMX", "WLD", "ONDO", "ENA", "EIGEN",
];

/// Symbol of the `n`-th non-hub token (0-based); unique per chain, distinct from any hub name.
pub(super) fn alt_symbol(n: usize) -> String {
    match ALT_SYMBOLS.get(n) {
        Some(s) => (*s).to_owned(),
        None => format!("TKN{:04}", n + 1),
    }
}

/// Rough USD price of a hub token, for the demo price model (stablecoins at 1).
pub(super) fn hub_usd(symbol: &str) -> Option<f64> {
    Some(match symbol {
        "USDC" | "USDT" | "DAI" | "BUSD" | "USDbC" => 1.0,
        "WETH" | "WETH.e" => 3300.0,
        "cbETH" => 3550.0,
        "WBTC" | "BTCB" | "BTC.b" => 95_000.0,
        "WBNB" => 700.0,
        "WMATIC" => 0.5,
        "WAVAX" => 35.0,
        "ARB" => 0.8,
        "OP" => 1.9,
        _ => return None,
    })
}

impl ChainConfig {
    /// The preset for a chain name (`ethereum`, `bsc`, `arbitrum`, `polygon`, `base`,
    /// `optimism`, `avalanche`), or `None`.
    pub fn preset(name: &str) -> Option<Self> {
        PRESETS
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(Self::from_preset)
    }

    /// Names of all presets, in the order `--chains N` takes them.
    pub fn preset_names() -> Vec<&'static str> {
        PRESETS.iter().map(|p| p.name).collect()
    }

    fn from_preset(p: &Preset) -> Self {
        Self {
            name: p.name.to_owned(),
            block_interval_us: p.block_interval_us,
            swaps_per_block: p.swaps_per_block,
            first_block: p.first_block,
            dexes: p.dexes.iter().map(|d| (*d).to_owned()).collect(),
            hubs: p.hubs.iter().map(|h| (*h).to_owned()).collect(),
        }
    }
}
