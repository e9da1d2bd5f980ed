//! A fake of Microsoft Graph mail: the identity platform's client-credentials token
//! endpoint (`POST /{tenant}/oauth2/v2.0/token`) and `POST /v1.0/users/{sender}/sendMail`,
//! which answers 202 for a token it issued. Counts token requests so callers can see that
//! tokens are cached.
use super::{serve, RunningFake};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

#[derive(Debug, Clone)]
pub struct FakeGraphConfig {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// The one mailbox that exists (user principal name).
    pub sender: String,
    /// Lifetime of issued tokens (`expires_in`).
    pub token_ttl: Duration,
}

impl Default for FakeGraphConfig {
    fn default() -> Self {
        FakeGraphConfig {
            tenant_id: "00000000-0000-0000-0000-00000000c0de".into(),
            client_id: "11111111-1111-1111-1111-111111111111".into(),
            client_secret: "sandbox-graph-secret".into(),
            sender: "parley@sandbox.example".into(),
            token_ttl: Duration::from_secs(3599),
        }
    }
}

/// A message `sendMail` accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphMail {
    pub sender: String,
    pub subject: String,
    /// `Text` or `HTML`.
    pub content_type: String,
    pub content: String,
    pub to: Vec<String>,
    pub save_to_sent_items: bool,
}

#[derive(Default)]
struct Inner {
    tokens: HashMap<String, Instant>,
    token_requests: u64,
    sent: Vec<GraphMail>,
}

#[derive(Clone)]
pub struct FakeGraph {
    config: Arc<FakeGraphConfig>,
    inner: Arc<Mutex<Inner>>,
}

impl FakeGraph {
    pub fn new(config: FakeGraphConfig) -> Self {
        FakeGraph {
            config: Arc::new(config),
            inner: Arc::default(),
        }
    }

    pub fn config(&self) -> &FakeGraphConfig {
        &self.config
    }

    pub fn sent(&self) -> Vec<GraphMail> {
        self.lock().sent.clone()
    }

    pub fn token_requests(&self) -> u64 {
        self.lock().token_requests
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/v1.0/users/{sender}/sendMail", post(send_mail))
            .with_state(self.clone())
    }

    pub async fn spawn(
        config: FakeGraphConfig,
        addr: SocketAddr,
    ) -> std::io::Result<RunningFake<FakeGraph>> {
        let fake = FakeGraph::new(config);
        serve("graph", fake.router(), fake.clone(), addr).await
    }
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

/// The identity platform's OAuth2 error body.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description, "error_codes": [], "timestamp": chrono::Utc::now().to_rfc3339()});
    (status, Json(body)).into_response()
}

async fn token(
    State(fake): State<FakeGraph>,
    Path(tenant): Path<String>,
    Form(form): Form<TokenRequest>,
) -> Response {
    let config = &fake.config;
    fake.lock().token_requests += 1;
    if tenant != config.tenant_id {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS90002: Tenant not found.",
        );
    }
    if form.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    if form.scope.as_deref() != Some(GRAPH_SCOPE) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS1002012: The provided value for scope is not valid.",
        );
    }
    if form.client_id.as_deref() != Some(config.client_id.as_str()) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "AADSTS700016: Application not found in the directory.",
        );
    }
    if form.client_secret.as_deref() != Some(config.client_secret.as_str()) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    let access_token = format!("eyJ0eXAi.{}", uuid::Uuid::new_v4().simple());
    let expires_in = config.token_ttl.as_secs();
    {
        let mut inner = fake.lock();
        let now = Instant::now();
        inner.tokens.retain(|_, expiry| *expiry > now);
        inner
            .tokens
            .insert(access_token.clone(), now + config.token_ttl);
    }
    Json(json!({
        "token_type": "Bearer",
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": access_token,
    }))
    .into_response()
}

/// Graph's error body.
fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

async fn send_mail(
    State(fake): State<FakeGraph>,
    Path(sender): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let valid = token.is_some_and(|t| {
        fake.lock()
            .tokens
            .get(t)
            .is_some_and(|expiry| *expiry > Instant::now())
    });
    if !valid {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty or invalid.",
        );
    }
    if !sender.eq_ignore_ascii_case(&fake.config.sender) {
        return graph_error(
            StatusCode::NOT_FOUND,
            "ErrorInvalidUser",
            "The requested user is invalid.",
        );
    }
    let bad = |m: &str| graph_error(StatusCode::BAD_REQUEST, "ErrorInvalidRequest", m);
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return bad("Empty Payload. JSON content expected.");
    };
    let message = &request["message"];
    let content_type = message["body"]["contentType"].as_str().unwrap_or("Text");
    if !content_type.eq_ignore_ascii_case("text") && !content_type.eq_ignore_ascii_case("html") {
        return bad("Invalid body contentType.");
    }
    let to: Vec<String> = message["toRecipients"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|r| r["emailAddress"]["address"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if to.is_empty() || to.iter().any(|a| !a.contains('@')) {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRecipients",
            "At least one recipient is not valid.",
        );
    }
    let mail = GraphMail {
        sender,
        subject: message["subject"].as_str().unwrap_or_default().to_owned(),
        content_type: content_type.to_owned(),
        content: message["body"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        to,
        save_to_sent_items: request["saveToSentItems"].as_bool().unwrap_or(true),
    };
    fake.lock().sent.push(mail);
    StatusCode::ACCEPTED.into_response()
}
