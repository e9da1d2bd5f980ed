//! `/metrics` for Prometheus, and the per-request figures behind it. The endpoint is served
//! on its own listener (`metrics.listen`, private by default) and, when `metrics.token` is
//! set, also on the main listener to requests bearing that token.
use crate::error::{ApiError, ErrorCode};
use crate::{connections, AppState};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use secrecy::ExposeSecret;
use std::future::Future;
use std::time::Instant;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Counts and times every request by method, route template and status. The route is the
/// template (`/api/v1/calls/{id}`), never the path, so the label stays bounded.
pub(crate) async fn track_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(
        "parley_http_request_duration_seconds",
        "method" => method,
        "route" => route.clone()
    )
    .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        "parley_http_requests_total",
        "method" => method,
        "route" => route,
        "status" => status
    )
    .increment(1);
    response
}

/// Clients may send any method name: only the standard ones become label values.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

async fn render(state: &AppState) -> Response {
    let body = parley_engine::telemetry::render(&state.engine).await;
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], body).into_response()
}

/// `GET /metrics` on the main listener: only with `metrics.token`, and only to requests
/// bearing it (compared in constant time).
pub(crate) async fn on_main_listener(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(token) = &state.settings.metrics.token else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "metrics are served on the metrics listener (metrics.listen)",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !bool::from(given.as_bytes().ct_eq(token.expose_secret().as_bytes())) {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "send the metrics token as `Authorization: Bearer <token>`",
        ));
    }
    Ok(render(&state).await)
}

/// Serves `/metrics` (and nothing else) on the metrics listener until `shutdown`.
pub(crate) async fn serve_listener(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let limits = connections::Limits::from_settings(&state.settings.http);
    let app = Router::new()
        .route(
            "/metrics",
            get(|State(state): State<AppState>| async move { render(&state).await }),
        )
        .with_state(state);
    connections::serve(listener, app, limits, shutdown).await
}
