//! The HTTP side of `pairwarm serve`, on `METRICS_PORT` (default 9090).
//!
//! | method | path | answers |
//! |---|---|---|
//! | `GET` | `/metrics` | 200: the metric set, Prometheus text 0.0.4 unless `Accept` prefers `application/openmetrics-text` ([`ExportFormat::negotiate`]); `?format=prometheus\|openmetrics\|json` overrides `Accept`. 400: unknown `format`. 404 `metrics disabled`: `WARMING_METRICS_ENABLED=false`. 500: encoding failed (logged). |
//! | `GET` | `/health` | liveness: always 200 `{"status":"ok"}` while the process serves requests. |
//! | `GET` | `/ready` | readiness (L2 reachable, consumer running): 200 when ready, 503 when not; body `{"ready":bool,"checks":[{"name","ok","detail"}]}`. |
//! | `GET` | `/health/warming` | the warming health document (`status`, `tracker.*`, `warmer.*`, ...): 200 for `healthy`/`degraded`, 503 for `unhealthy`. |
//! | `GET` | `/admin/warming` | the rollout state ([`RolloutState`] JSON). Token required (below). |
//! | `POST` | `/admin/warming` | applies a [`RolloutUpdate`] (`{"enabled":false}` is the emergency rollback) and answers 200 with the new state; 400 `{"error","field"}` naming the field for bad JSON, an unknown field or an out-of-range value; 413 for a body over 64 KiB. |
//! | any | anything else | 404 `not found`; a known path with another method: 405 with `Allow`. |
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
//! # Shutdown
//!
//! [`serve`] stops accepting when its shutdown future completes, lets requests in flight
//! finish (idle keep-alive connections are closed at once), and returns after at most
//! [`SHUTDOWN_DRAIN`]: a client that holds a request open cannot keep the process alive.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::rollout::{RolloutControls, RolloutError, RolloutState, RolloutUpdate};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use pairwarm::metrics::{ExportFormat, WarmingMetrics};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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
    pub health: Arc<dyn Fn() -> HealthReport + Send + Sync>,
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

/// Overall warming health, as the seed's `/health/warming` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Everything works.
    Healthy,
    /// Working with reduced quality (e.g. L2 errors make warms fail); still serving: 200.
    Degraded,
    /// Not doing its job: 503, so a load balancer or an alert notices.
    Unhealthy,
}

impl HealthStatus {
    /// The lowercase name used in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
        }
    }

    /// The HTTP status of `/health/warming` for this health.
    pub const fn http_status(self) -> StatusCode {
        match self {
            Self::Healthy | Self::Degraded => StatusCode::OK,
            Self::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The `/health/warming` answer.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthReport {
    /// Decides the HTTP status.
    pub status: HealthStatus,
    /// The JSON body; it already contains `"status"` (if an object lacks it, the handler
    /// adds it, so the body and the HTTP status cannot disagree by omission).
    pub body: Value,
}

/// The `/ready` answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// Whether to answer 200 (otherwise 503).
    pub ready: bool,
    /// `(name, ok, detail)` per check, in display order.
    pub checks: Vec<(String, bool, String)>,
}

/// The configured admin token, kept only as a digest.
struct AdminToken {
    digest: [u8; 20],
}

impl AdminToken {
    /// `None` for an absent or blank token (admin disabled).
    fn new(token: Option<&str>) -> Option<Self> {
        let token = token?.trim();
        (!token.is_empty()).then(|| Self {
            digest: digest(token.as_bytes()),
        })
    }

    /// Constant-time check of a presented token.
    ///
    /// Hashing first makes both sides 20 bytes, so neither a length check nor the position
    /// of the first differing byte can show through the timing; SHA-1 is enough here because
    /// only its preimage resistance matters (an attacker who does not know the token cannot
    /// make a digest that matches it), and `sha1_smol` is already in the dependency tree.
    fn matches(&self, presented: &[u8]) -> bool {
        let presented = digest(presented);
        let mut diff = 0u8;
        for (a, b) in self.digest.iter().zip(presented.iter()) {
            diff |= a ^ b;
        }
        // Keep the optimiser from turning the fold into an early-exit compare.
        std::hint::black_box(diff) == 0
    }
}

fn digest(bytes: &[u8]) -> [u8; 20] {
    sha1_smol::Sha1::from(bytes).digest().bytes()
}

struct Shared {
    metrics: Option<Arc<WarmingMetrics>>,
    before_scrape: Arc<dyn Fn() + Send + Sync>,
    health: Arc<dyn Fn() -> HealthReport + Send + Sync>,
    ready: Arc<dyn Fn() -> Readiness + Send + Sync>,
    rollout: Arc<RolloutControls>,
    admin: Option<AdminToken>,
    on_rollout_change: Arc<dyn Fn(&RolloutState) + Send + Sync>,
    /// Serialises apply + callback of admin changes.
    admin_lock: Mutex<()>,
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
    });
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(liveness))
        .route("/ready", get(readiness))
        .route("/health/warming", get(warming_health))
        // `any`, so that with admin disabled every method gets the same 404.
        .route("/admin/warming", any(admin))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

/// Serves [`router`] on `listener` until `shutdown` completes, then drains for at most
/// [`SHUTDOWN_DRAIN`].
///
/// # Errors
/// None today (axum's accept loop retries failed accepts); the `io::Result` keeps room for
/// listener errors.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: HttpState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (signalled_tx, mut signalled_rx) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        // The receiver lives as long as `serve`; if it is gone nobody waits for this.
        let _ = signalled_tx.send(true);
    };
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(signal);
    let drain_limit = async move {
        // Err: the sender is gone without signalling, which cannot happen before `signal`
        // ran; then only the server future decides.
        if signalled_rx.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(SHUTDOWN_DRAIN).await;
    };
    tokio::select! {
        result = server => result,
        () = drain_limit => {
            tracing::warn!(
                drain_secs = SHUTDOWN_DRAIN.as_secs(),
                "HTTP requests still open after the shutdown drain period; abandoning them"
            );
            Ok(())
        }
    }
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
    match metrics.render(format) {
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
    let HealthReport { status, mut body } = (s.health)();
    if let Value::Object(map) = &mut body {
        map.entry("status")
            .or_insert_with(|| Value::from(status.as_str()));
    }
    (status.http_status(), Json(body)).into_response()
}

/// A rejected admin request body.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("{message}")]
    Parse {
        /// The field at fault, when the error is inside one.
        field: Option<String>,
        message: String,
    },
    #[error(transparent)]
    Rollout(#[from] RolloutError),
}

impl BodyError {
    fn field(&self) -> Option<&str> {
        match self {
            Self::Parse { field, .. } => field.as_deref(),
            Self::Rollout(e) => Some(e.field),
        }
    }
}

/// Parses a [`RolloutUpdate`], naming the field at fault: serde_json alone says "invalid
/// type: string, expected a boolean" without saying which key.
fn parse_update(body: &[u8]) -> Result<RolloutUpdate, BodyError> {
    // serde also reads a struct from a JSON array, by position (`[false]` would switch
    // warming off); only the object form is documented, so only it is accepted.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(BodyError::Parse {
            field: None,
            message: r#"body must be a JSON object such as {"enabled":false}"#.into(),
        });
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let update: RolloutUpdate =
        serde_path_to_error::deserialize(&mut de).map_err(|e| parse_error(&e))?;
    de.end().map_err(|e| BodyError::Parse {
        field: None,
        message: format!("trailing data after the JSON object: {e}"),
    })?;
    Ok(update)
}

fn parse_error(e: &serde_path_to_error::Error<serde_json::Error>) -> BodyError {
    let inner = e.inner();
    let path = e.path().to_string();
    if inner.classify() != serde_json::error::Category::Data {
        return BodyError::Parse {
            field: None,
            message: format!("body is not valid JSON: {inner}"),
        };
    }
    let message = inner.to_string();
    // serde's "unknown field `x`, expected one of ..." already names the field.
    if let Some(name) = unknown_field_name(&message) {
        return BodyError::Parse {
            field: Some(name),
            message,
        };
    }
    match path.as_str() {
        "." => BodyError::Parse {
            field: None,
            message: format!(
                "body must be a JSON object of rollout fields (enabled, shadowMode, percentage, enabledChains): {message}"
            ),
        },
        _ => BodyError::Parse {
            message: format!("field `{path}`: {message}"),
            field: Some(path),
        },
    }
}

/// The name in serde's "unknown field `x`, expected one of ..." message.
fn unknown_field_name(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(name, _)| name.to_owned())
}

fn json_error(status: StatusCode, message: &str, field: Option<&str>) -> Response {
    (status, Json(json!({"error": message, "field": field}))).into_response()
}

fn peer_of(req: &Request) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr)
}

/// Splits `Bearer <token>` (scheme case-insensitive, RFC 9110 §11.1); `Bearer` alone gives
/// an empty token, which then fails the compare (403), like any other wrong token.
fn bearer_token(value: &HeaderValue) -> Option<&[u8]> {
    let raw = value.as_bytes().trim_ascii();
    let (scheme, token) = match raw.iter().position(|b| *b == b' ') {
        Some(space) => (&raw[..space], &raw[space + 1..]),
        None => (raw, &[][..]),
    };
    scheme
        .eq_ignore_ascii_case(b"bearer")
        .then(|| token.trim_ascii())
}

fn unauthorized(message: &str) -> Response {
    let mut response = json_error(StatusCode::UNAUTHORIZED, message, None);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"pairwarm-admin\""),
    );
    response
}

async fn admin(State(s): AppState, req: Request) -> Response {
    let Some(token) = &s.admin else {
        return not_found().await;
    };
    let peer = peer_of(&req);
    let Some(header_value) = req.headers().get(header::AUTHORIZATION) else {
        return unauthorized("missing Authorization: Bearer <PAIRWARM_ADMIN_TOKEN>");
    };
    let Some(presented) = bearer_token(header_value) else {
        return unauthorized("Authorization must use the Bearer scheme");
    };
    if !token.matches(presented) {
        tracing::warn!(?peer, method = %req.method(), "admin request with a wrong token");
        return json_error(StatusCode::FORBIDDEN, "wrong admin token", None);
    }
    let method = req.method().clone();
    if method == Method::GET || method == Method::HEAD {
        Json(s.rollout.state()).into_response()
    } else if method == Method::POST {
        apply_update(&s, req, peer).await
    } else {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET,HEAD,POST"));
        response
    }
}

async fn apply_update(s: &Shared, req: Request, peer: Option<SocketAddr>) -> Response {
    let body = match Bytes::from_request(req, &()).await {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("body larger than {MAX_BODY_BYTES} bytes"),
                None,
            );
        }
        Err(rejection) => {
            return json_error(rejection.status(), &rejection.body_text(), None);
        }
    };
    let result = parse_update(&body).and_then(|update| {
        // Held across apply and callback only (both sync), so concurrent admin calls reach
        // the callback in the order their states were applied.
        let _serial = s.admin_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let state = s.rollout.apply(&update)?;
        tracing::warn!(
            ?peer,
            ?update,
            enabled = state.enabled,
            shadow_mode = state.shadow_mode,
            percentage = state.percentage,
            enabled_chains = ?state.enabled_chains,
            "rollout changed through the admin endpoint"
        );
        (s.on_rollout_change)(&state);
        Ok(state)
    });
    match result {
        Ok(state) => Json(state).into_response(),
        Err(e) => json_error(StatusCode::BAD_REQUEST, &e.to_string(), e.field()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::body::Body;
    use http_body_util::BodyExt;
    use pairwarm::metrics::OPENMETRICS_CONTENT_TYPE;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tower::ServiceExt;

    use super::*;

    const TOKEN: &str = "s3cret-admin-token";
    const PROMETHEUS_CT: &str = "text/plain; version=0.0.4; charset=utf-8";

    /// Test double of the service: counts and records what the endpoints call.
    struct Harness {
        metrics: Arc<WarmingMetrics>,
        scrapes: Arc<AtomicUsize>,
        rollout: Arc<RolloutControls>,
        changes: Arc<Mutex<Vec<RolloutState>>>,
        health: Arc<Mutex<HealthStatus>>,
        ready: Arc<Mutex<bool>>,
    }

    impl Harness {
        fn new() -> Self {
            let metrics = Arc::new(WarmingMetrics::default());
            metrics.chain_by_name("ethereum").price_updates.inc_by(42);
            Self {
                metrics,
                scrapes: Arc::new(AtomicUsize::new(0)),
                rollout: Arc::new(RolloutControls::new(&RolloutState::default()).unwrap()),
                changes: Arc::new(Mutex::new(Vec::new())),
                health: Arc::new(Mutex::new(HealthStatus::Healthy)),
                ready: Arc::new(Mutex::new(true)),
            }
        }

        fn state(&self, token: Option<&str>) -> HttpState {
            let (metrics, scrapes) = (self.metrics.clone(), self.scrapes.clone());
            let (health, ready, changes) = (
                self.health.clone(),
                self.ready.clone(),
                self.changes.clone(),
            );
            HttpState {
                metrics: Some(self.metrics.clone()),
                // Like the real hook: sets a gauge, so the test can see it ran *before* the
                // encode (the value is in the body).
                before_scrape: Arc::new(move || {
                    let n = scrapes.fetch_add(1, Ordering::SeqCst) + 1;
                    metrics.set_pending(100 + n);
                }),
                health: Arc::new(move || {
                    let status = *health.lock().unwrap();
                    HealthReport {
                        status,
                        body: json!({"status": status, "tracker": {"totalPairs": 7}}),
                    }
                }),
                ready: Arc::new(move || {
                    let ok = *ready.lock().unwrap();
                    Readiness {
                        ready: ok,
                        checks: vec![
                            ("l2".into(), ok, if ok { "PONG" } else { "timeout" }.into()),
                            ("consumer".into(), true, "running".into()),
                        ],
                    }
                }),
                rollout: self.rollout.clone(),
                admin_token: token.map(str::to_owned),
                on_rollout_change: Arc::new(move |s| changes.lock().unwrap().push(s.clone())),
            }
        }

        fn router(&self) -> Router {
            router(self.state(Some(TOKEN)))
        }
    }

    struct Reply {
        status: StatusCode,
        headers: HeaderMap,
        body: String,
    }

    impl Reply {
        fn header(&self, name: header::HeaderName) -> &str {
            self.headers
                .get(&name)
                .map(|v| v.to_str().unwrap())
                .unwrap_or_else(|| panic!("no {name} header"))
        }

        fn json(&self) -> Value {
            serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
        }
    }

    async fn call(app: &Router, req: axum::http::Request<Body>) -> Reply {
        let response = app.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn get(app: &Router, uri: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = axum::http::Request::get(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        call(app, req.body(Body::empty()).unwrap()).await
    }

    async fn post(app: &Router, auth: Option<&str>, body: impl Into<Body>) -> Reply {
        let mut req = axum::http::Request::post("/admin/warming")
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(auth) = auth {
            req = req.header(header::AUTHORIZATION, auth);
        }
        call(app, req.body(body.into()).unwrap()).await
    }

    fn bearer() -> String {
        format!("Bearer {TOKEN}")
    }

    const PRICE_LINE: &str = r#"arbitrage_price_updates_total{chain="ethereum"} 42"#;

    #[tokio::test]
    async fn metrics_default_is_prometheus_text_after_before_scrape() {
        let h = Harness::new();
        let app = h.router();
        let r = get(&app, "/metrics", &[]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header(header::CONTENT_TYPE), PROMETHEUS_CT);
        assert!(r.body.contains(PRICE_LINE), "{}", r.body);
        assert!(!r.body.contains("# EOF"));
        // before_scrape ran once, before the encode: its gauge value is in this body.
        assert_eq!(h.scrapes.load(Ordering::SeqCst), 1);
        assert!(
            r.body
                .contains("arbitrage_warming_pending_operations 101\n"),
            "{}",
            r.body
        );
        let r = get(&app, "/metrics", &[("accept", "text/plain;version=0.0.4")]).await;
        assert_eq!(r.header(header::CONTENT_TYPE), PROMETHEUS_CT);
        assert_eq!(h.scrapes.load(Ordering::SeqCst), 2);
        assert!(
            r.body
                .contains("arbitrage_warming_pending_operations 102\n")
        );
    }

    #[tokio::test]
    async fn metrics_openmetrics_when_accept_prefers_it() {
        let h = Harness::new();
        let prometheus_scrape =
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        let r = get(&h.router(), "/metrics", &[("accept", prometheus_scrape)]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header(header::CONTENT_TYPE), OPENMETRICS_CONTENT_TYPE);
        assert!(r.body.contains(PRICE_LINE), "{}", r.body);
        assert!(r.body.ends_with("# EOF\n"), "{}", r.body);
    }

    #[tokio::test]
    async fn metrics_format_query_overrides_accept() {
        let h = Harness::new();
        let app = h.router();
        let om = [("accept", "application/openmetrics-text")];
        let r = get(&app, "/metrics?format=json", &om).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header(header::CONTENT_TYPE), "application/json");
        let doc = r.json();
        let metric = doc["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "arbitrage_price_updates_total")
            .unwrap();
        assert_eq!(metric["samples"][0]["labels"]["chain"], "ethereum");
        assert_eq!(metric["samples"][0]["value"], 42);
        assert_eq!(doc["metadata"]["prefix"], "arbitrage_");

        let r = get(&app, "/metrics?format=prometheus", &om).await;
        assert_eq!(r.header(header::CONTENT_TYPE), PROMETHEUS_CT);
        assert!(r.body.contains(PRICE_LINE));
        let r = get(&app, "/metrics?format=openmetrics", &[]).await;
        assert_eq!(r.header(header::CONTENT_TYPE), OPENMETRICS_CONTENT_TYPE);
        assert!(r.body.ends_with("# EOF\n"));

        let r = get(&app, "/metrics?format=xml", &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.body.contains("\"xml\""), "{}", r.body);
        assert_eq!(
            h.scrapes.load(Ordering::SeqCst),
            3,
            "no scrape hook for a 400"
        );
    }

    #[tokio::test]
    async fn metrics_disabled_is_404() {
        let h = Harness::new();
        let state = HttpState {
            metrics: None,
            ..h.state(None)
        };
        let r = get(&router(state), "/metrics", &[]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.body, "metrics disabled\n");
        assert_eq!(h.scrapes.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn liveness_is_always_ok() {
        let h = Harness::new();
        *h.health.lock().unwrap() = HealthStatus::Unhealthy;
        *h.ready.lock().unwrap() = false;
        let r = get(&h.router(), "/health", &[]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header(header::CONTENT_TYPE), "application/json");
        assert_eq!(r.json(), json!({"status": "ok"}));
    }

    #[tokio::test]
    async fn ready_200_then_503_with_checks() {
        let h = Harness::new();
        let app = h.router();
        let r = get(&app, "/ready", &[]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.json(),
            json!({"ready": true, "checks": [
                {"name": "l2", "ok": true, "detail": "PONG"},
                {"name": "consumer", "ok": true, "detail": "running"}
            ]})
        );
        *h.ready.lock().unwrap() = false;
        let r = get(&app, "/ready", &[]).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.json()["ready"], false);
        assert_eq!(r.json()["checks"][0]["detail"], "timeout");
    }

    #[tokio::test]
    async fn warming_health_status_codes() {
        let h = Harness::new();
        let app = h.router();
        for (status, code) in [
            (HealthStatus::Healthy, StatusCode::OK),
            (HealthStatus::Degraded, StatusCode::OK),
            (HealthStatus::Unhealthy, StatusCode::SERVICE_UNAVAILABLE),
        ] {
            *h.health.lock().unwrap() = status;
            let r = get(&app, "/health/warming", &[]).await;
            assert_eq!(r.status, code, "{status:?}");
            assert_eq!(r.header(header::CONTENT_TYPE), "application/json");
            assert_eq!(
                r.json(),
                json!({"status": status.as_str(), "tracker": {"totalPairs": 7}})
            );
        }
    }

    #[tokio::test]
    async fn warming_health_adds_a_missing_status() {
        let h = Harness::new();
        let state = HttpState {
            health: Arc::new(|| HealthReport {
                status: HealthStatus::Degraded,
                body: json!({"warmer": {"successRate": 0.5}}),
            }),
            ..h.state(None)
        };
        let r = get(&router(state), "/health/warming", &[]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["status"], "degraded");
        assert_eq!(r.json()["warmer"]["successRate"], 0.5);
    }

    #[tokio::test]
    async fn admin_without_token_configured_is_404() {
        let h = Harness::new();
        for token in [None, Some(""), Some("   ")] {
            let app = router(h.state(token));
            let r = get(&app, "/admin/warming", &[("authorization", "Bearer ")]).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{token:?}");
            assert_eq!(r.body, "not found\n");
            let r = post(&app, Some("Bearer "), r#"{"enabled":false}"#).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{token:?}");
            let r = call(
                &app,
                axum::http::Request::delete("/admin/warming")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{token:?}");
        }
        assert!(h.rollout.enabled());
        assert!(h.changes.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn admin_without_bearer_is_401_with_challenge() {
        let h = Harness::new();
        let app = h.router();
        let r = post(&app, None, r#"{"enabled":false}"#).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.header(header::WWW_AUTHENTICATE).starts_with("Bearer"));
        assert!(
            r.json()["error"]
                .as_str()
                .unwrap()
                .contains("Authorization")
        );
        let r = get(&app, "/admin/warming", &[]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let basic = format!("Basic {TOKEN}");
        let r = get(&app, "/admin/warming", &[("authorization", &basic)]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.header(header::WWW_AUTHENTICATE).starts_with("Bearer"));
        assert!(h.rollout.enabled());
        assert!(h.changes.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn admin_wrong_token_is_403() {
        let h = Harness::new();
        let app = h.router();
        let prefix = format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]);
        let longer = format!("Bearer {TOKEN}x");
        let other_case = format!("Bearer {}", TOKEN.to_uppercase());
        for auth in [
            "Bearer nope",
            "Bearer",
            prefix.as_str(),
            &longer,
            &other_case,
        ] {
            let r = post(&app, Some(auth), r#"{"enabled":false}"#).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{auth:?}");
            assert_eq!(r.json()["error"], "wrong admin token");
        }
        let r = get(&app, "/admin/warming", &[("authorization", &longer)]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(h.rollout.enabled(), "a rejected request changed the state");
        assert!(h.changes.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn admin_bad_body_is_400_naming_the_field() {
        let h = Harness::new();
        let app = h.router();
        let auth = bearer();
        let cases: &[(&str, Option<&str>, &str)] = &[
            (r#"{"percentage":1.5}"#, Some("percentage"), "[0, 1]"),
            (r#"{"percentage":-0.1}"#, Some("percentage"), "percentage"),
            (r#"{"enabled":"no"}"#, Some("enabled"), "enabled"),
            (r#"{"shadowMode":1}"#, Some("shadowMode"), "shadowMode"),
            (
                r#"{"enabledChains":"ethereum"}"#,
                Some("enabledChains"),
                "enabledChains",
            ),
            (
                r#"{"enabledChains":["no spaces"]}"#,
                Some("enabledChains"),
                "no spaces",
            ),
            (r#"{"enabled":false,"bogus":1}"#, Some("bogus"), "bogus"),
            (r#"{"enabled": false"#, None, "JSON"),
            ("[1]", None, "JSON object"),
            ("[false]", None, "JSON object"),
            ("null", None, "JSON object"),
            ("", None, "JSON"),
            (r#"{"enabled":false} {}"#, None, "trailing"),
        ];
        for (body, field, needle) in cases {
            let r = post(&app, Some(&auth), *body).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
            let doc = r.json();
            assert_eq!(doc["field"].as_str(), *field, "{body}: {doc}");
            let message = doc["error"].as_str().unwrap();
            assert!(message.contains(needle), "{body}: {message}");
        }
        assert_eq!(h.rollout.state(), RolloutState::default());
        assert!(h.changes.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn admin_body_over_64k_is_413() {
        let h = Harness::new();
        let padding = " ".repeat(MAX_BODY_BYTES);
        let r = post(
            &h.router(),
            Some(&bearer()),
            format!("{{\"enabled\":false}}{padding}"),
        )
        .await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(r.json()["error"].as_str().unwrap().contains("65536"));
        assert!(h.rollout.enabled());
    }

    #[tokio::test]
    async fn admin_post_applies_calls_back_and_get_reads() {
        let h = Harness::new();
        let app = h.router();
        let auth = bearer();
        let r = post(&app, Some(&auth), r#"{"enabled":false}"#).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.header(header::CONTENT_TYPE), "application/json");
        assert_eq!(
            r.json(),
            json!({"enabled": false, "shadowMode": false, "percentage": 1.0, "enabledChains": null})
        );
        assert!(!h.rollout.enabled());
        assert_eq!(h.changes.lock().unwrap().len(), 1);
        assert!(!h.changes.lock().unwrap()[0].enabled);

        // Scheme is case-insensitive; absent fields stay as they are.
        let r = post(
            &app,
            Some(&format!("bearer  {TOKEN} ")),
            r#"{"percentage":0.25,"shadowMode":true,"enabledChains":["Ethereum"]}"#,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let expected = RolloutState {
            enabled: false,
            shadow_mode: true,
            percentage: 0.25,
            enabled_chains: Some(vec!["ethereum".into()]),
        };
        assert_eq!(h.rollout.state(), expected);
        assert_eq!(h.changes.lock().unwrap().last(), Some(&expected));
        assert_eq!(h.changes.lock().unwrap().len(), 2);

        let r = get(&app, "/admin/warming", &[("authorization", &auth)]).await;
        assert_eq!(r.status, StatusCode::OK);
        let got: RolloutState = serde_json::from_str(&r.body).unwrap();
        assert_eq!(got, expected);
        assert_eq!(r.json()["enabledChains"], json!(["ethereum"]));
        assert_eq!(h.changes.lock().unwrap().len(), 2, "GET must not call back");

        let r = call(
            &app,
            axum::http::Request::put("/admin/warming")
                .header(header::AUTHORIZATION, &auth)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.header(header::ALLOW), "GET,HEAD,POST");
    }

    #[tokio::test]
    async fn unknown_paths_404_and_wrong_methods_405() {
        let h = Harness::new();
        let app = h.router();
        for path in [
            "/",
            "/metricsx",
            "/health/other",
            "/admin",
            "/admin/warming/x",
        ] {
            let r = get(&app, path, &[]).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(r.body, "not found\n");
        }
        let r = call(
            &app,
            axum::http::Request::post("/metrics")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(r.header(header::ALLOW).contains("GET"));
    }

    #[test]
    fn token_compare_is_exact() {
        let t = AdminToken::new(Some(TOKEN)).unwrap();
        assert!(t.matches(TOKEN.as_bytes()));
        for other in ["", "s3cret", "s3cret-admin-tokeN", "s3cret-admin-token\0"] {
            assert!(!t.matches(other.as_bytes()), "{other:?}");
        }
        assert!(AdminToken::new(Some(" \t")).is_none());
        assert!(format!("{:?}", Harness::new().state(Some(TOKEN))).contains("<redacted>"));
        assert!(!format!("{:?}", Harness::new().state(Some(TOKEN))).contains(TOKEN));
    }

    /// Sends one HTTP/1.1 request and reads one response (`Content-Length` framed, or to
    /// EOF with `Connection: close`). Returns status and body.
    async fn raw_request(stream: &mut TcpStream, path: &str, close: bool) -> (u16, String) {
        let connection = if close { "close" } else { "keep-alive" };
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: {connection}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        let head_end = loop {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed before the response head");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
        let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().unwrap())
            })
            .expect("content-length");
        while buf.len() < head_end + length {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed inside the body");
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = String::from_utf8(buf[head_end..head_end + length].to_vec()).unwrap();
        (status, body)
    }

    #[tokio::test]
    async fn serves_over_tcp_and_shuts_down_gracefully() {
        let h = Harness::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, h.state(Some(TOKEN)), async move {
            let _ = stop_rx.await;
        }));

        let mut conn = TcpStream::connect(addr).await.unwrap();
        let (status, body) = raw_request(&mut conn, "/health", true).await;
        assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
        // `Connection: close` was honoured: the server closed its side.
        let mut rest = Vec::new();
        conn.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());

        // A keep-alive connection left idle must not hold up shutdown.
        let mut idle = TcpStream::connect(addr).await.unwrap();
        let (status, _) = raw_request(&mut idle, "/ready", false).await;
        assert_eq!(status, 200);
        let (status, body) = raw_request(&mut idle, "/nope", false).await;
        assert_eq!((status, body.as_str()), (404, "not found\n"));

        stop_tx.send(()).unwrap();
        let result = tokio::time::timeout(Duration::from_secs(3), server)
            .await
            .expect("serve did not return within 3 s of the shutdown signal")
            .unwrap();
        assert!(result.is_ok());
        // The idle connection was closed by the server, and nobody listens any more.
        let n = tokio::time::timeout(Duration::from_secs(1), idle.read(&mut [0u8; 16]))
            .await
            .expect("idle connection still open after shutdown");
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
        assert!(TcpStream::connect(addr).await.is_err());
    }
}
