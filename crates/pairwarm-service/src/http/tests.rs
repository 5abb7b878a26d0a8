//! Every branch of the HTTP endpoints, against a fake service (the harness below); one
//! file, longer than most, so all tests share that harness.

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use http_body_util::BodyExt;
use pairwarm::metrics::OPENMETRICS_CONTENT_TYPE;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use super::admin::AdminToken;
use super::*;

const TOKEN: &str = "s3cret-admin-token";
const PROMETHEUS_CT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Test double of the service: counts and records what the endpoints call.
struct Harness {
    metrics: Arc<WarmingMetrics>,
    scrapes: Arc<AtomicUsize>,
    rollout: Arc<RolloutControls>,
    changes: Arc<Mutex<Vec<RolloutState>>>,
    health: Arc<Mutex<Status>>,
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
            health: Arc::new(Mutex::new(Status::Healthy)),
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
                Health {
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
    *h.health.lock().unwrap() = Status::Unhealthy;
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
        (Status::Healthy, StatusCode::OK),
        (Status::Degraded, StatusCode::OK),
        (Status::Unhealthy, StatusCode::SERVICE_UNAVAILABLE),
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
        health: Arc::new(|| Health {
            status: Status::Degraded,
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
    let server = tokio::spawn(serve(
        listener,
        h.router(),
        ServerLimits::default(),
        async move {
            let _ = stop_rx.await;
        },
    ));

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
