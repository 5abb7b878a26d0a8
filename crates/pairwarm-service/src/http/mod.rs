//! The HTTP side of `pairwarm serve`, on `METRICS_PORT` (default 9090).
//!
//! | method | path | answers |
//! |---|---|---|
//! | `GET` | `/metrics` | 200: the metric set and the process metrics ([`process`]), Prometheus text 0.0.4 unless `Accept` prefers `application/openmetrics-text` ([`ExportFormat::negotiate`]); `?format=prometheus\|openmetrics\|json` overrides `Accept`. 400: unknown `format`. 404 `metrics disabled`: `WARMING_METRICS_ENABLED=false`. 500: encoding failed (logged). |
//! | `GET` | `/health` | liveness: always 200 `{"status":"ok"}` while the process serves requests. |
//! | `GET` | `/ready` | readiness (L2 reachable, consumer running): 200 when ready, 503 when not; body `{"ready":bool,"checks":[{"name","ok","detail"}]}`. |
//! | `GET` | `/health/warming` | the warming health document (`status`, `tracker.*`, `warmer.*`, ...): 200 for `healthy`/`degraded`, 503 for `unhealthy`. |
//! | `GET` | `/admin/warming` | the rollout state ([`RolloutState`] JSON). Token required (below). |
//! | `POST` | `/admin/warming` | applies a [`RolloutUpdate`](crate::rollout::RolloutUpdate) (`{"enabled":false}` is the emergency rollback) and answers 200 with the new state; 400 `{"error","field"}` naming the field for bad JSON, an unknown field or an out-of-range value; 413 for a body over 64 KiB. |
//! | any | anything else | 404 `not found`; a known path with another method: 405 with `Allow`. |
//! | any | any request, through [`serve`] | 408 when not answered within `PAIRWARM_HTTP_REQUEST_TIMEOUT` (body reading included); 413 for a body over 64 KiB. |
//!
//! # Admin authentication
//!
//! The admin routes exist only when `PAIRWARM_ADMIN_TOKEN` is set (non-empty): otherwise
//! they answer 404, like a path that does not exist, so a scan cannot tell them apart. With
//! a token: no `Authorization: Bearer …` header → 401 with `WWW-Authenticate: Bearer`; a
//! wrong token → 403 (logged with the peer address). The token is compared through SHA-1
//! digests of both sides and a branch-free compare of the 20 digest bytes, so the time taken
//! depends on neither the length of the configured token nor how much of it a guess got
//! right. Checks run before the body is read: an unauthenticated client cannot make the
//! server buffer a body.
//!
//! Every accepted change is logged at `warn` with the new state and the peer, then passed to
//! [`HttpState::on_rollout_change`]. Admin changes are serialised, so the callback sees the
//! states in the order they were applied.
//!
//! # Limits and shutdown
//!
//! [`serve`] bounds every connection in time (header, request and idle timeouts) and the
//! number of connections (sized below the open-file limit, so HTTP clients cannot take the
//! descriptors the stream consumer needs); see [`ServerLimits`]. It stops accepting when
//! its shutdown future completes, lets requests in flight finish (idle keep-alive
//! connections are closed at once), and returns after at most [`SHUTDOWN_DRAIN`]: a client
//! that holds a request open cannot keep the process alive.

mod admin;
pub mod process;
mod server;
#[cfg(test)]
mod server_tests;
#[cfg(test)]
mod tests;

pub use server::{RESERVED_FDS, ServerLimits, serve};

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use pairwarm::metrics::{ExportFormat, WarmingMetrics};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::health::{Health, Readiness, Status};
use crate::rollout::{RolloutControls, RolloutState};
use admin::AdminToken;

/// Largest request body accepted (only `POST /admin/warming` reads one; a rollout update is
/// under 1 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long [`serve`] waits for requests in flight after the shutdown signal.
pub const SHUTDOWN_DRAIN: Duration = Duration::from_secs(5);

/// What the HTTP endpoints need from the running service.
///
/// Closures rather than the service's own types, so this module does not depend on how
/// `serve` holds its state (and tests can drive every branch).
#[derive(Clone)]
pub struct HttpState {
    /// The metric set; `None` (`WARMING_METRICS_ENABLED=false`) makes `/metrics` answer 404.
    pub metrics: Option<Arc<WarmingMetrics>>,
    /// Called before each `/metrics` encode: copies the cache's own counters and the gauges
    /// (queue depth, pairs tracked, L1 entries) into the metric set, so a scrape sees the
    /// values of this moment without the hot paths updating gauges on every event.
    pub before_scrape: Arc<dyn Fn() + Send + Sync>,
    /// The `/health/warming` document.
    pub health: Arc<dyn Fn() -> Health + Send + Sync>,
    /// The `/ready` checks.
    pub ready: Arc<dyn Fn() -> Readiness + Send + Sync>,
    /// The live rollout controls the admin endpoint reads and changes.
    pub rollout: Arc<RolloutControls>,
    /// `PAIRWARM_ADMIN_TOKEN`. `None` or blank: the admin routes answer 404.
    pub admin_token: Option<String>,
    /// Called after each accepted admin change with the new state (for example: log it and
    /// apply the master switch to the warmer).
    pub on_rollout_change: Arc<dyn Fn(&RolloutState) + Send + Sync>,
}

impl fmt::Debug for HttpState {
    /// Never prints the admin token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpState")
            .field("metrics", &self.metrics.is_some())
            .field("rollout", &self.rollout.state())
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

struct Shared {
    metrics: Option<Arc<WarmingMetrics>>,
    before_scrape: Arc<dyn Fn() + Send + Sync>,
    health: Arc<dyn Fn() -> Health + Send + Sync>,
    ready: Arc<dyn Fn() -> Readiness + Send + Sync>,
    rollout: Arc<RolloutControls>,
    admin: Option<AdminToken>,
    on_rollout_change: Arc<dyn Fn(&RolloutState) + Send + Sync>,
    /// Serialises apply + callback of admin changes.
    admin_lock: Mutex<()>,
    /// The `process_*` collector, appended to every text scrape.
    process: prometheus_client::registry::Registry,
}

type AppState = State<Arc<Shared>>;

/// The endpoints of the module table, as a router (serve it with [`serve`], or call it
/// directly in tests).
pub fn router(state: HttpState) -> Router {
    if state
        .admin_token
        .as_deref()
        .is_some_and(|t| t.trim().is_empty())
    {
        tracing::warn!("PAIRWARM_ADMIN_TOKEN is blank; the admin endpoint stays disabled");
    }
    let shared = Arc::new(Shared {
        admin: AdminToken::new(state.admin_token.as_deref()),
        metrics: state.metrics,
        before_scrape: state.before_scrape,
        health: state.health,
        ready: state.ready,
        rollout: state.rollout,
        on_rollout_change: state.on_rollout_change,
        admin_lock: Mutex::new(()),
        process: process::ProcessCollector::registry(),
    });
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(liveness))
        .route("/ready", get(readiness))
        .route("/health/warming", get(warming_health))
        // `any`, so that with admin disabled every method gets the same 404.
        .route("/admin/warming", any(admin::admin))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    let mut body = body.into();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "not found")
}

#[derive(Deserialize)]
struct MetricsQuery {
    format: Option<String>,
}

async fn metrics(
    State(s): AppState,
    Query(query): Query<MetricsQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(metrics) = &s.metrics else {
        return text(StatusCode::NOT_FOUND, "metrics disabled");
    };
    let format = match query.format.as_deref() {
        Some(name) => match name.parse::<ExportFormat>() {
            Ok(format) => format,
            Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
        },
        None => ExportFormat::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())),
    };
    (s.before_scrape)();
    match metrics.render_with(format, &[&s.process]) {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, format.content_type())],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, %format, "metrics encoding failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
    }
}

async fn liveness() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readiness(State(s): AppState) -> Response {
    let Readiness { ready, checks } = (s.ready)();
    let checks: Vec<Value> = checks
        .into_iter()
        .map(|(name, ok, detail)| json!({"name": name, "ok": ok, "detail": detail}))
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({"ready": ready, "checks": checks}))).into_response()
}

async fn warming_health(State(s): AppState) -> Response {
    let Health { status, mut body } = (s.health)();
    if let Value::Object(map) = &mut body {
        map.entry("status")
            .or_insert_with(|| Value::from(status.as_str()));
    }
    (http_status(status), Json(body)).into_response()
}

/// The HTTP status of `/health/warming` for a health status: degraded still serves (200).
pub const fn http_status(status: Status) -> StatusCode {
    match status {
        Status::Healthy | Status::Degraded => StatusCode::OK,
        Status::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
    }
}
