//! # pairwarm
//!
//! Predictive cache warming for DEX price pipelines.
//!
//! An arbitrage detector reads pool prices from a small in-process L1 backed by Redis (L2).
//! pairwarm learns, online, which pools go together, and moves prices from L2 into L1
//! before the detector asks for them. Everything on the update path is bounded: fixed
//! memory, no allocation, no global lock.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use pairwarm::cache::{HierarchicalCache, Price};
//! use pairwarm::container::create_top_n_warming;
//!
//! // 64 MB of L1 in the original's unit (1 KiB per entry => 65,536 entries), in-memory L2.
//! let cache = Arc::new(HierarchicalCache::builder().l1_size_mb(64).build_in_memory());
//! let pool = |addr: &str| cache.interner().intern_str("ethereum", addr).unwrap();
//! let (uni, sushi) = (
//!     pool("0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc"),
//!     pool("0x397FF1542f962076d0BFE58eA045FfA2d347ACa0"),
//! );
//! // The seed's `createTopNWarming(cache, topN = 5, minScore = 0.3)`.
//! let warming = create_top_n_warming(cache.clone(), 5, 0.3).unwrap();
//!
//! // The price feed: every update is written through and recorded (~100 ns).
//! for block in 0..5u64 {
//!     let t = 1_700_000_000_000 + block * 12_000;
//!     cache.set(uni, Price::new(1850.0, block, t)).await.unwrap();
//!     warming.tracker.record_price_update(uni, t);
//!     cache.set(sushi, Price::new(1851.0, block, t + 2)).await.unwrap();
//!     warming.tracker.record_price_update(sushi, t + 2);
//! }
//! // The two pools update together, so after an update of `uni` the warmer brings
//! // `sushi` back into L1 (one MGET for all pairs of a warm).
//! cache.invalidate_l1(sushi);
//! // `warm_now` warms inline (`warm_for_pair` would queue it for the async worker).
//! let result = warming.warmer.warm_now(uni, 1_700_000_048_000).await;
//! assert_eq!(result.pairs_warmed, 1);
//! assert_eq!(cache.get_l1_only(sushi).map(|p| p.price), Some(1851.0));
//! # });
//! ```
//!
//! ## Modules
//!
//! | module | concept |
//! |---|---|
//! | [`pair`] | `(chain, address)` identities interned into dense, bounded [`pair::PairId`]s |
//! | [`cache`] | [`cache::HierarchicalCache`]: bounded L1 (policy as a value) over an [`cache::L2Store`] (Redis or memory) |
//! | [`tracker`] | [`tracker::CorrelationTracker`]: online, decayed, fixed-memory co-occurrence of pairs (updates or reads) |
//! | [`strategy`] | [`strategy::WarmingStrategy`]: `topn`, `threshold`, `adaptive`, `timebased` over the tracker's scores |
//! | [`warmer`] | [`warmer::CacheWarmer`]: plan (tracker + strategy + L1 check), one batched L2 fetch, promote into L1; async queue |
//! | [`metrics`] | [`metrics::WarmingMetrics`]: the Prometheus metric set (names are a contract), per-chain handles, text/OpenMetrics/JSON export |
//! | [`container`] | [`container::WarmingContainer`]: builds the above from one config; the seed's factories and profiles |
//! | [`log_throttle`] | [`log_throttle::LogThrottle`]: at most one warning per failure kind per interval, with the count held back |
//!
//! The running service (configuration, stream consumer, detector, HTTP) is the
//! `pairwarm-service` crate; trace files and the simulator are `pairwarm-sim`.
//!
//! ## Memory
//!
//! Everything is bounded at construction: the interner holds at most its capacity of pairs
//! (~72 bytes each), L1 at most its bound (quick_cache: ~70 bytes per entry with its ghost
//! table; price matrix: 48 bytes per slot), the tracker exactly its construction-time
//! tables (`36 + 16·m` bytes per tracked pair plus ~26 bytes of index: 1.6 MB at 5,000
//! pairs and m = 16), whatever the number of distinct pairs it sees.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

pub mod cache;
pub mod chains;
pub mod container;
pub mod log_throttle;
pub mod metrics;
pub mod pair;
pub mod strategy;
pub mod structure;
pub mod tracker;
pub mod warmer;

/// The examples of `docs/API_REFERENCE.md`, compiled and run as doctests so the reference
/// cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/API_REFERENCE.md")]
pub struct ApiReferenceExamples;

/// The example of `docs/MIGRATION_GUIDE.md`, run as a doctest for the same reason.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/MIGRATION_GUIDE.md")]
pub struct MigrationGuideExamples;
