//! # pairwarm-service
//!
//! The pairwarm service as a library: everything `pairwarm serve` runs, for a program that
//! wants it inside its own process (the seed's integration: the detector and the warming in
//! one process, sharing one cache).
//!
//! - [`ServiceConfig`]: every setting, from one table (env, env file, flags, docs);
//! - [`Service`]: `Service::builder(config).build()?`, then `service.run(shutdown).await`;
//!   meanwhile [`Service::ready`] (a latch), [`Service::health`] (the `/health/warming`
//!   document), [`Service::router`] (the HTTP endpoints, to mount in your own axum app),
//!   [`Service::process`] (feed updates yourself), [`Service::reload`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use pairwarm::pair::Address;
//! use pairwarm_service::entry::PriceUpdate;
//! use pairwarm_service::{Service, ServiceConfig};
//!
//! // The embedded default (in-memory L2; no REDIS_URL), fed by this program itself.
//! let config = ServiceConfig::builder()
//!     .set("PAIRWARM_FEED", "none")
//!     .set("CACHE_L1_SIZE", "1")
//!     .build()?;
//! let service = Service::builder(config).listen(false).build()?;
//!
//! // Mount the endpoints in the program's own HTTP app, next to its routes.
//! let app = axum::Router::new().nest("/pairwarm", service.router());
//!
//! // Run it until the program says stop.
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let running = tokio::spawn({
//!     let service = service.clone();
//!     async move { service.run(async { let _ = stopped.await; }).await }
//! });
//! assert!(service.ready().wait().await);
//!
//! // Feed price updates (what a stream entry carries), a few blocks of two pools.
//! for block in 0..5u64 {
//!     let update = |pool: &str, price: f64| PriceUpdate {
//!         dex: Some("uniswap".into()),
//!         token0: Some("weth".into()),
//!         token1: Some("usdc".into()),
//!         block,
//!         ts_ms: Some(1_700_000_000_000 + block * 12_000),
//!         ..PriceUpdate::new("ethereum", Address::parse(pool).unwrap(), price)
//!     };
//!     service
//!         .process(&[
//!             update("0xb4e16d0168e52d35cacd2c6185b44281ec28c9dc", 1850.0),
//!             update("0x397ff1542f962076d0bfe58ea045ffa2d347aca0", 1851.0),
//!         ])
//!         .await;
//! }
//!
//! // Read health: the document of /health/warming.
//! let health = service.health();
//! assert_eq!(health.body["tracker"]["totalUpdates"], 10);
//! assert_eq!(health.body["detector"]["updates"], 10);
//!
//! // The same document through the mounted router.
//! use tower::ServiceExt;
//! let request = axum::http::Request::get("/pairwarm/health/warming")
//!     .body(axum::body::Body::empty())?;
//! assert_eq!(app.oneshot(request).await?.status(), 200);
//!
//! // Shut down: the run drains the warm queue and returns its summary.
//! stop.send(()).ok();
//! let summary = running.await??;
//! assert_eq!(summary.updates, 10);
//! # Ok(())
//! # }
//! ```
//!
//! ## Modules
//!
//! | module | concept |
//! |---|---|
//! | [`config`] | [`ServiceConfig`]: the table of settings, sources and precedence, validation |
//! | [`entry`] | the price-update stream entry: wire format and parser |
//! | [`stream`] | decoding Redis stream replies without trusting them |
//! | [`feed`] | where updates come from: the stream consumer (read, batch, publish, ack, dead letters) or the synthetic feed |
//! | [`processor`] | the per-batch pipeline: write-through, tracking, rollout, warming, detector |
//! | [`detector`] | the reference detector: cross-DEX and triangle spreads net of fees |
//! | [`rollout`] | master switch, shadow mode, canary chains, stable percentage |
//! | [`shadow`] | shadow mode's accounting of what warming would have added |
//! | [`health`] | the `/health/warming` document and readiness |
//! | [`stats`] | what the feed did: counters, end-to-end stream figures |
//! | [`http`] | the HTTP endpoints (feature `http`) |
//! | [`reload`] | applying changed settings while running |
//!
//! ## Features
//!
//! - `http` (default): [`Service::router`] and the listener (axum).
//! - `synthetic` (default): the built-in synthetic feed of the embedded default
//!   (`pairwarm-sim`'s workload generator). Without it, feed from Redis or yourself.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

pub mod config;
pub mod detector;
pub mod entry;
pub mod feed;
pub mod health;
#[cfg(feature = "http")]
pub mod http;
pub mod processor;
pub mod reload;
pub mod rollout;
mod service;
pub mod shadow;
mod shared;
mod snapshot;
pub mod stats;
mod status;
pub mod stream;

pub use config::{ConfigErrors, ServiceConfig};
pub use service::{Cache, Ready, RunSummary, Service, ServiceBuilder, ServiceError};
pub use stats::StreamSummary;
