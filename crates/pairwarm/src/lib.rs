//! # pairwarm
//!
//! Predictive cache warming for DEX price pipelines.
//!
//! An arbitrage detector reads pool prices from a small in-process L1 backed by Redis (L2).
//! pairwarm learns, online, which pools are read after which price updates, and moves those
//! prices from L2 into L1 before the detector asks for them.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use pairwarm::cache::{HierarchicalCache, Price};
//!
//! // 64 MB of L1 in the original's unit (1 KiB per entry => 65,536 entries), in-memory L2.
//! let cache = HierarchicalCache::builder().l1_size_mb(64).build_in_memory();
//! let weth_usdc = cache
//!     .interner()
//!     .intern_str("ethereum", "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc")
//!     .unwrap();
//! cache.set(weth_usdc, Price::new(1850.25, 19_000_000, 1_700_000_000_000)).await.unwrap();
//! let price = cache.get(weth_usdc).await.unwrap();
//! assert_eq!(price.map(|p| p.price), Some(1850.25));
//! let stats = cache.stats();
//! assert_eq!((stats.l1.hits, stats.l1.misses), (1, 0));
//! # });
//! ```
//!
//! ## Modules
//!
//! | module | concept |
//! |---|---|
//! | [`pair`] | `(chain, address)` identities interned into dense, bounded [`pair::PairId`]s |
//! | [`cache`] | [`cache::HierarchicalCache`]: bounded L1 (policy as a value) over an [`cache::L2Store`] |
//! | [`metrics`] | [`metrics::WarmingMetrics`]: the Prometheus metric set (names are a contract), per-chain handles, text/OpenMetrics/JSON export |
//! | [`trace`] | trace files (`ts_us,op,chain,pair`, pairs file), reader/writer, synthetic DEX workload generator |
//! | [`tracker`] | [`tracker::CorrelationTracker`]: online, decayed, fixed-memory co-occurrence of pairs (updates or reads) |
//! | [`strategy`] | [`strategy::WarmingStrategy`]: `topn`, `threshold`, `adaptive`, `timebased` over the tracker's scores |
//!
//! ## Memory
//!
//! Everything is bounded at construction: the interner holds at most its capacity of pairs
//! (~60 bytes each), L1 at most its bound (quick_cache: ~70 bytes per entry with its ghost
//! table; price matrix: 48 bytes per slot), the tracker exactly its construction-time
//! tables (`36 + 16·m` bytes per tracked pair plus ~26 bytes of index: 1.6 MB at 5,000
//! pairs and m = 16), whatever the number of distinct pairs it sees.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

pub mod cache;
pub mod metrics;
pub mod pair;
pub mod service;
pub mod trace;
pub mod strategy;
pub mod tracker;
