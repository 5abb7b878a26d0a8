//! [`Service`]: the running service as a value an embedding program holds.
//!
//! `Service::builder(config).build()` assembles the cache, tracker, warmer, rollout
//! controls and detector (no I/O but binding the HTTP listener); [`Service::run`] starts the
//! feed, the background timers and the HTTP endpoints and returns after a graceful
//! shutdown. A `Service` is a cheap handle (clone it freely): one clone runs, others read
//! health, readiness and metrics, mount [`Service::router`], or feed updates themselves.

mod lifecycle;
mod ready;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pairwarm::cache::{
    AnyL2, Coherence, CoherenceMode, HierarchicalCache, L1Capacity, L2Error, MemoryL2, RedisL2,
    RedisL2Config, TrackingDriver, connect_tracked,
};
use pairwarm::container::{ContainerError, WarmingContainer};
use pairwarm::pair::PairInterner;

use crate::config::{ConfigErrors, FeedSource, ServiceConfig};
use crate::detector::{Detector, DetectorConfig, PoolRegistry};
use crate::entry::PriceUpdate;
use crate::feed::FeedError;
use crate::health::{Health, Readiness};
use crate::processor::{Processor, Published};
use crate::rollout::{RolloutControls, RolloutError};
use crate::shadow::ShadowTracker;
use crate::shared::Shared;

pub use lifecycle::RunSummary;
pub use ready::Ready;

pub use crate::shared::Cache;

/// Why the service could not be built or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Invalid settings.
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// The warming components refused their settings.
    #[error("warming components: {0}")]
    Container(#[from] ContainerError),
    /// The L2 store could not be set up.
    #[error("L2: {0}")]
    L2(#[from] L2Error),
    /// The rollout settings were refused.
    #[error("rollout: {0}")]
    Rollout(#[from] RolloutError),
    /// The HTTP listener could not be bound.
    #[error("bind HTTP listener on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The price feed stopped with an error (a supervisor should restart the process).
    #[error("price feed stopped: {0}")]
    Feed(#[from] FeedError),
}

/// Builds a [`Service`] from a [`ServiceConfig`].
pub struct ServiceBuilder {
    config: ServiceConfig,
    l2: Option<AnyL2>,
    listen: bool,
}

impl ServiceBuilder {
    /// Uses this L2 instead of the one `REDIS_URL` chooses (an embedder's own Redis
    /// connection, or an in-memory store a test controls).
    pub fn l2(mut self, l2: impl Into<AnyL2>) -> Self {
        self.l2 = Some(l2.into());
        self
    }

    /// Whether [`Service::run`] serves the HTTP endpoints on `PAIRWARM_LISTEN` /
    /// `METRICS_PORT` (default: yes with the `http` feature). Without it, mount
    /// [`Service::router`] in your own server, or do without HTTP.
    pub fn listen(mut self, listen: bool) -> Self {
        self.listen = listen;
        self
    }

    /// Assembles the components and binds the HTTP listener (when listening).
    pub fn build(self) -> Result<Service, ServiceError> {
        let config = self.config;
        if let Some(note) = &config.strategy_note {
            tracing::warn!("{note}");
        }
        let redis_configured = config.redis_url.is_some();
        let feed = config.feed.resolved(redis_configured);
        let l1_size_mb = config
            .cache
            .effective_l1_size_mb(feed == FeedSource::Synthetic);
        let l1_entries = L1Capacity::Megabytes(l1_size_mb).entries();
        let interner = Arc::new(PairInterner::new(if config.cache.use_price_matrix {
            l1_entries
        } else {
            (l1_entries * 4).max(1 << 16)
        }));
        // Coherence needs our own Redis connection (an embedder's L2 is used as given).
        let coherent = config.cache.l1_coherence == CoherenceMode::Tracking
            && config.cache.l2_enabled
            && self.l2.is_none();
        let (l2, invalidations) = match (self.l2, config.redis_target()) {
            (Some(l2), _) => (l2, None),
            // Client tracking on a standalone Redis only (not on a cluster).
            (None, Some(target)) if coherent && !target.is_cluster() => {
                let (l2, invalidations) = connect_tracked(&RedisL2Config::new(target))?;
                (l2.into(), Some(invalidations))
            }
            (None, Some(target)) => (
                RedisL2::connect_lazy(&RedisL2Config::new(target))?.into(),
                None,
            ),
            (None, None) => (MemoryL2::new().into(), None),
        };
        let redis = match &l2 {
            AnyL2::Redis(redis) => Some(redis.clone()),
            AnyL2::Memory(_) => None,
        };
        let mut builder = HierarchicalCache::builder()
            .l1_size_mb(l1_size_mb)
            .l1_ttl(config.cache.l1_ttl_ms.map(Duration::from_millis))
            .l1_policy(config.cache.l1_policy)
            .use_price_matrix(config.cache.use_price_matrix)
            .chain_hash_tag(config.redis_cluster.hash_tags)
            .l2_enabled(config.cache.l2_enabled)
            .interner(interner.clone());
        if invalidations.is_some() {
            builder = builder.coherence(Coherence::new());
        }
        let cache = Arc::new(builder.build(l2));
        // Runs from now on (L1 is bypassed until tracking is on), stopped with the service.
        let coherence = match (invalidations, &redis) {
            (Some(invalidations), Some(redis)) => {
                TrackingDriver::new(cache.clone(), redis.clone(), invalidations)
                    .ok()
                    .map(|driver| {
                        crate::shared::AbortOnDrop(tokio::spawn(driver.run(std::future::pending())))
                    })
            }
            _ => None,
        };
        let parts = WarmingContainer::new(cache.clone(), config.warming.clone()).build()?;
        let rollout = Arc::new(RolloutControls::new(&config.rollout)?);
        let shadow = Arc::new(ShadowTracker::for_interner(
            &interner,
            config.warming.tracker.window_ms.max(1000) * 5,
        ));
        let detector = Arc::new(Detector::new(
            Arc::new(PoolRegistry::new(interner)),
            DetectorConfig {
                default_fee_bps: config.detector.fee_bps,
                dex_fees_bps: config.detector.dex_fees.iter().cloned().collect(),
                min_spread_bps: config.detector.min_spread_bps,
                hub_tokens: config.detector.hub_tokens.clone(),
                ..DetectorConfig::default()
            },
        ));
        let processor = Processor {
            cache: cache.clone(),
            tracker: parts.tracker.clone(),
            warmer: Some(parts.warmer.clone()),
            rollout: rollout.clone(),
            shadow: shadow.clone(),
            detector,
            metrics: parts.metrics.clone(),
            counters: Arc::default(),
        };
        let listener = if self.listen && cfg!(feature = "http") {
            let addr = config.http.listen_addr();
            let bind = |addr| {
                let listener = std::net::TcpListener::bind(addr)?;
                listener.set_nonblocking(true)?;
                Ok(listener)
            };
            Some(bind(addr).map_err(|source| ServiceError::Bind { addr, source })?)
        } else {
            None
        };
        let mut shared = Shared::new(
            config, feed, cache, parts, processor, rollout, shadow, redis, listener,
        );
        shared.coherence = coherence;
        Ok(Service {
            inner: Arc::new(shared),
        })
    }
}

/// The running service (a cheap, clonable handle). See the crate docs for an example.
#[derive(Clone)]
pub struct Service {
    pub(crate) inner: Arc<Shared>,
}

impl Service {
    /// Starts building a service from its settings.
    pub fn builder(config: ServiceConfig) -> ServiceBuilder {
        ServiceBuilder {
            config,
            l2: None,
            listen: true,
        }
    }

    /// The settings in effect (a reload replaces them).
    pub fn config(&self) -> ServiceConfig {
        self.inner.config.lock().clone()
    }

    /// Where price updates come from (the `auto` choice resolved).
    pub fn feed_source(&self) -> FeedSource {
        self.inner.feed
    }

    /// The address of the HTTP endpoints, when [`Service::run`] serves them.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.local_addr
    }

    /// The cache (L1 over L2).
    pub fn cache(&self) -> &Arc<Cache> {
        &self.inner.cache
    }

    /// The warming components: tracker, strategy, warmer, metrics.
    pub fn warming(&self) -> &pairwarm::container::WarmingComponents<AnyL2> {
        &self.inner.parts
    }

    /// The live rollout controls.
    pub fn rollout(&self) -> &Arc<RolloutControls> {
        &self.inner.rollout
    }

    /// Processes a batch of price updates through the pipeline (write-through, tracking,
    /// rollout, warming, detector) and returns the opportunities found. This is how a
    /// program with `PAIRWARM_FEED=none` feeds the service; the feeds call it too.
    pub async fn process(&self, updates: &[PriceUpdate]) -> Vec<Published> {
        self.inner.processor.process(updates).await
    }

    /// The readiness latch: ready once L2 answers and the feed runs; clone it and wait.
    pub fn ready(&self) -> Ready {
        Ready::new(self.inner.ready.subscribe())
    }

    /// The `/ready` answer: the latch's checks.
    pub fn readiness(&self) -> Readiness {
        self.inner.readiness()
    }

    /// The `/health/warming` document.
    pub fn health(&self) -> Health {
        self.inner.health()
    }

    /// The HTTP endpoints (`/metrics`, `/health`, `/ready`, `/health/warming`,
    /// `/admin/warming`) as a router, to mount in a program's own axum app
    /// (`Router::new().nest("/pairwarm", service.router())`).
    #[cfg(feature = "http")]
    pub fn router(&self) -> axum::Router {
        crate::http::router(self.inner.http_state())
    }

    /// Re-reads the settings' sources (the env file) and applies what can change while
    /// running; see [`crate::reload`].
    pub fn reload(&self) -> Result<crate::reload::Reloaded, ConfigErrors> {
        crate::reload::reload(&self.inner)
    }
}
