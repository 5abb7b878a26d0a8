//! `/admin/warming`: bearer-token check (constant time) and the rollout update body.

use std::net::SocketAddr;
use std::sync::PoisonError;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{AppState, MAX_BODY_BYTES, Shared, not_found, text};
use crate::rollout::{RolloutError, RolloutUpdate};

/// The configured admin token, kept only as a digest.
pub(super) struct AdminToken {
    digest: [u8; 20],
}

impl AdminToken {
    /// `None` for an absent or blank token (admin disabled).
    pub(super) fn new(token: Option<&str>) -> Option<Self> {
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
    pub(super) fn matches(&self, presented: &[u8]) -> bool {
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

#[derive(Debug, thiserror::Error)]
pub(super) enum BodyError {
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
pub(super) fn parse_update(body: &[u8]) -> Result<RolloutUpdate, BodyError> {
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
pub(super) fn bearer_token(value: &HeaderValue) -> Option<&[u8]> {
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

pub(super) async fn admin(State(s): AppState, req: Request) -> Response {
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
