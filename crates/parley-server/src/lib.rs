//! Parley's HTTP surface: the REST API under `/api/v1`, health checks and API docs.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
mod connections;
mod dashboard;
mod drain;
pub mod error;
mod metrics;
mod openapi;
mod request_id;
mod webhooks;

use api::{
    account, admin as admin_api, analytics, audit, calls, campaigns, compliance, consent, contacts,
    dnc, events, exports, history, imports, results, sheet_writes, spreadsheets, status, test_call,
    webhooks as hooks,
};
use auth::routes::{self as auth_routes, SignInLimiter};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use error::ApiError;
use parley_engine::background::{Background, Stopping};
use parley_engine::log_throttle::LogThrottle;
use parley_engine::settings::Settings;
use parley_engine::telephony::Telephony;
use parley_engine::Engine;
use parley_store::Store;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

/// JSON bodies larger than this are refused (uploads have their own limit).
const JSON_BODY_LIMIT: usize = 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub engine: Engine,
    pub sign_in_limiter: Arc<SignInLimiter>,
    /// Places for media streams that have not authenticated yet.
    pub media_unauthenticated: Arc<tokio::sync::Semaphore>,
    refusal_logs: Arc<RefusalLogs>,
    /// Open live-events sockets, per credential and in total.
    pub live_sockets: Arc<events::LiveSockets>,
}

/// Warnings about refused input, each kind logged at most once per throttle period: a
/// flood of bad requests must not flood the log (the HTTP metrics count every one).
#[derive(Default)]
struct RefusalLogs {
    /// Media streams refused for want of a place among those not yet authenticated.
    media_no_place: LogThrottle,
    /// Media stream handshakes whose Twilio signature did not match (not refused).
    media_signature_mismatch: LogThrottle,
    /// Twilio requests without a valid signature.
    forged_twilio: LogThrottle,
    /// ElevenLabs post-call webhooks without a valid signature (or no secret to check).
    forged_elevenlabs: LogThrottle,
}

impl AppState {
    pub fn new(engine: Engine) -> Self {
        let http = &engine.settings.http;
        AppState {
            store: engine.store.clone(),
            settings: engine.settings.clone(),
            sign_in_limiter: Arc::new(SignInLimiter::from_settings(&engine.settings)),
            media_unauthenticated: Arc::new(tokio::sync::Semaphore::new(
                http.media_max_unauthenticated,
            )),
            refusal_logs: Arc::default(),
            live_sockets: Arc::new(events::LiveSockets::new(
                http.events_max_sockets,
                http.events_max_sockets_per_credential,
            )),
            engine,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("server failed: {0}")]
    Serve(#[from] std::io::Error),
    #[error("creating the bootstrap admin failed: {0}")]
    Bootstrap(#[from] parley_engine::accounts::AccountError),
    #[error("cannot listen for metrics on {addr} (metrics.listen): {source}")]
    MetricsBind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    // Reads for every role; writes need operator (enforced by the route layer).
    let operate = Router::new()
        .route("/contacts", get(contacts::list).post(contacts::create))
        .route("/contacts/export", get(exports::contacts))
        .route("/contacts/consent/export", get(consent::export_history))
        .route(
            "/contacts/import",
            post(imports::import_csv).layer(DefaultBodyLimit::disable()),
        )
        .route("/contacts/import/sheets", post(spreadsheets::import_sheets))
        .route(
            "/contacts/{id}",
            get(contacts::get)
                .patch(contacts::update)
                .delete(contacts::delete),
        )
        .route(
            "/contacts/{id}/consent",
            get(consent::history).post(consent::record),
        )
        .route("/contacts/{id}/history", get(history::history))
        .route("/tags", get(contacts::tags))
        .route("/imports/{id}", get(imports::get))
        .route("/imports/{id}/errors", get(imports::errors))
        .route("/campaign-defaults", get(campaigns::defaults))
        .route("/agents", get(account::agents))
        .route("/phone-numbers", get(account::phone_numbers))
        .route("/campaigns", get(campaigns::list).post(campaigns::create))
        .route(
            "/campaigns/{id}",
            get(campaigns::get)
                .patch(campaigns::update)
                .delete(campaigns::delete),
        )
        .route("/campaigns/{id}/start", post(campaigns::start))
        .route("/campaigns/{id}/pause", post(campaigns::pause))
        .route("/campaigns/{id}/resume", post(campaigns::resume))
        .route("/campaigns/{id}/stop", post(campaigns::stop))
        .route("/campaigns/{id}/test-call", post(test_call::test_call))
        .route(
            "/campaigns/{id}/contacts",
            get(campaigns::contacts).post(campaigns::add_contacts),
        )
        .route("/campaigns/{id}/activity", get(campaigns::activity))
        .route("/campaigns/{id}/compliance", get(compliance::report))
        .route(
            "/campaigns/{id}/compliance/export",
            get(compliance::export_report),
        )
        .route("/campaigns/{id}/results", get(results::campaign_results))
        .route("/campaigns/{id}/sheet-writes", get(sheet_writes::status))
        .route(
            "/campaigns/{id}/sheet-writes/retry",
            post(sheet_writes::retry),
        )
        .route(
            "/campaigns/{id}/contacts/remove",
            post(campaigns::remove_contacts),
        )
        .route("/calls", get(calls::list).post(calls::place))
        .route("/calls/export", get(exports::calls))
        .route("/calls/{id}", get(calls::get))
        .route("/calls/{id}/hangup", post(calls::hang_up))
        .route("/calls/{id}/recording", get(calls::recording))
        .route("/dnc", get(dnc::list).post(dnc::add))
        .route("/dnc/check", get(dnc::check))
        .route("/dnc/{phone}", axum::routing::delete(dnc::remove))
        .route_layer(from_fn(auth::require_operator_for_writes));
    let administer = Router::new()
        .route(
            "/users",
            get(admin_api::list_users).post(admin_api::create_user),
        )
        .route("/users/{id}", axum::routing::patch(admin_api::update_user))
        .route(
            "/api-keys",
            get(admin_api::list_api_keys).post(admin_api::create_api_key),
        )
        .route(
            "/api-keys/{id}",
            axum::routing::delete(admin_api::revoke_api_key),
        )
        .route("/webhooks", get(hooks::list).post(hooks::create))
        .route(
            "/webhooks/{id}",
            get(hooks::get).patch(hooks::update).delete(hooks::delete),
        )
        .route("/webhooks/{id}/rotate-secret", post(hooks::rotate_secret))
        .route("/webhooks/{id}/deliveries", get(hooks::deliveries))
        .route("/webhook-deliveries/{id}", get(hooks::delivery))
        .route("/webhook-deliveries/{id}/replay", post(hooks::replay))
        .route("/audit", get(audit::list))
        .route("/doctor", get(account::doctor))
        .route_layer(from_fn(auth::require_admin));
    let any_role = Router::new()
        .route("/auth/me", get(auth_routes::me))
        .route("/auth/sign-out", post(auth_routes::sign_out))
        .route("/auth/password", post(auth::password::change_password))
        .route("/status", get(status::status))
        .route("/analytics/summary", get(analytics::summary))
        .route("/analytics/timeline", get(analytics::timeline))
        .route("/analytics/hour-of-day", get(analytics::hour_of_day))
        .route("/analytics/campaigns", get(analytics::campaigns))
        .route("/analytics/variants", get(api::variant_analytics::variants))
        .route("/events", get(events::events))
        .route("/openapi.json", get(openapi::document));
    // `layer` (not `route_layer`) so unknown /api/v1 paths also need credentials.
    let api = operate
        .merge(administer)
        .merge(any_role)
        .fallback(api_not_found)
        .layer(from_fn_with_state(state.clone(), auth::authenticate))
        .merge(Router::new().route("/auth/sign-in", post(auth_routes::sign_in)));

    Router::new()
        .nest("/api/v1", api)
        .route(
            "/api/{*rest}",
            axum::routing::any(api_not_found)
                .layer(from_fn_with_state(state.clone(), auth::authenticate)),
        )
        .route("/twilio/twiml/{call_id}", post(webhooks::twilio::twiml))
        .route("/twilio/status/{call_id}", post(webhooks::twilio::status))
        .route("/twilio/amd/{call_id}", post(webhooks::twilio::amd))
        .route(
            "/twilio/recording/{call_id}",
            post(webhooks::twilio::recording),
        )
        .route("/twilio/media", get(webhooks::twilio::media))
        .route(
            "/twilio/media/{call_id}",
            get(webhooks::twilio::media_for_call),
        )
        .route(
            "/twilio/whisper/{call_id}",
            post(webhooks::twilio::transfer_whisper),
        )
        .route(
            "/twilio/dial/{call_id}",
            post(webhooks::twilio::transfer_dial),
        )
        .route("/elevenlabs/webhook", post(webhooks::elevenlabs::post_call))
        .route("/tools/{name}", post(webhooks::tools::call))
        .route("/metrics", get(metrics::on_main_listener))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(openapi::docs_page().layer(dashboard::docs_headers()))
        .fallback(dashboard::serve)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(dashboard::default_headers())
        .layer(from_fn(metrics::track_request))
        .layer(from_fn(request_id::assign))
        .layer(
            // Log the route template, never the raw URI: queries may hold phone numbers.
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("unmatched", MatchedPath::as_str);
                tracing::info_span!(
                    "http",
                    method = %req.method(),
                    route,
                    request_id = tracing::field::Empty,
                    // Twilio's callbacks name their call.
                    call_id = tracing::field::Empty
                )
            }),
        )
        .with_state(state)
}

/// The OpenAPI document as pretty JSON: what `GET /api/v1/openapi.json` serves, and what
/// the dashboard's API types are generated from (`web/openapi.json`).
pub fn openapi_json() -> String {
    openapi::pretty_json()
}

async fn api_not_found() -> ApiError {
    ApiError::new(error::ErrorCode::NotFound, "no such API endpoint")
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "database not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// A server started in the background, for tests and embedding.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// Where `/metrics` is served, when `metrics.enabled`.
    pub metrics_addr: Option<SocketAddr>,
    pub engine: Engine,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), ServerError>>,
}

impl RunningServer {
    pub async fn stop(self) -> Result<(), ServerError> {
        let _ = self.shutdown.send(());
        self.task
            .await
            .unwrap_or_else(|e| Err(ServerError::Serve(std::io::Error::other(e))))
    }
}

/// A node ready to serve: its state and the background loops that stop with it.
struct Prepared {
    state: AppState,
    background: Background,
}

/// Prepares everything behind the listener: the bootstrap admin, the engine and its
/// background work. `settings.public_base_url` must already name this server (callbacks
/// are built on it), and `telephony` be what it talks to: the caller binds the listener
/// and chooses the services (the simulators, in sandbox mode).
async fn prepare(
    settings: Settings,
    store: Store,
    telephony: Telephony,
) -> Result<Prepared, ServerError> {
    use secrecy::ExposeSecret;
    let created = parley_engine::accounts::bootstrap_admin(
        &store,
        settings.bootstrap_admin_email.as_deref(),
        settings
            .bootstrap_admin_password
            .as_ref()
            .map(|p| p.expose_secret()),
    )
    .await?;
    if let Some(user) = created {
        tracing::info!(user_id = user.id, "created the bootstrap admin");
    }
    // Without metrics no recorder is installed: every count is then a no-op.
    if settings.metrics.enabled {
        parley_engine::telemetry::install();
    }
    let engine = Engine::connected(Arc::new(settings), store, telephony).await;
    let mut background = engine.spawn_background();
    let state = AppState::new(engine);
    let store = state.store.clone();
    background.spawn("housekeeping", |stopping| housekeeping(store, stopping));
    Ok(Prepared { state, background })
}

async fn housekeeping(store: Store, mut stopping: Stopping) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    while stopping.before_tick(&mut tick).await {
        if let Err(e) = store.purge_expired_sessions().await {
            tracing::warn!(error = %e, "purging expired sessions failed");
        }
    }
}

/// How long live calls get to close their sockets when the server stops.
const BRIDGE_CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(5);
/// How long background loops get to end the pass they are in when the server stops
/// (a webhook delivery cut short, its own timeout being 10 s by default, is sent again
/// once its lease runs out).
const BACKGROUND_STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Binds the metrics listener, when there is to be one.
async fn bind_metrics(settings: &Settings) -> Result<Option<TcpListener>, ServerError> {
    if !settings.metrics.enabled {
        return Ok(None);
    }
    let addr = settings.metrics.listen;
    TcpListener::bind(addr)
        .await
        .map(Some)
        .map_err(|source| ServerError::MetricsBind { addr, source })
}

async fn serve(
    Prepared { state, background }: Prepared,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let limits = connections::Limits::from_settings(&state.settings.http);
    let engine = state.engine.clone();
    let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
    if let Some(metrics_listener) = metrics_listener {
        let state = state.clone();
        tokio::spawn(async move {
            let stopped = async {
                let _ = metrics_stopped.await;
            };
            if let Err(e) = metrics::serve_listener(state, metrics_listener, stopped).await {
                tracing::warn!(error = %e, "the metrics listener failed");
            }
        });
    }
    // Background work stops first, while the server still answers: a call the dialer
    // placed in its last tick still gets its TwiML, and no dial starts after the stop.
    let shutdown = async move {
        shutdown.await;
        background.stop(BACKGROUND_STOP_GRACE).await;
    };
    connections::serve(listener, router(state), limits, shutdown).await?;
    let _ = stop_metrics.send(());
    // Upgraded sockets outlive their HTTP connections: the calls still bridged are
    // closed with 1001 on both sides, so neither Twilio nor the agent sees a dropped
    // connection.
    engine.bridges.shut_down(BRIDGE_CLOSE_GRACE).await;
    Ok(())
}

/// Runs Parley's HTTP server on `listener` until `shutdown` completes.
pub async fn run(
    settings: Settings,
    store: Store,
    listener: TcpListener,
    telephony: Telephony,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let metrics_listener = bind_metrics(&settings).await?;
    let prepared = prepare(settings, store, telephony).await?;
    if let Some(metrics) = &metrics_listener {
        tracing::info!(addr = %metrics.local_addr()?, "serving metrics");
    }
    tracing::info!(addr = %listener.local_addr()?, "listening");
    serve(prepared, listener, metrics_listener, shutdown).await
}

/// Starts the server on `listener` in the background (bind `127.0.0.1:0` for a free port).
pub async fn spawn(
    settings: Settings,
    store: Store,
    listener: TcpListener,
    telephony: Telephony,
) -> Result<RunningServer, ServerError> {
    let addr = listener.local_addr()?;
    let metrics_listener = bind_metrics(&settings).await?;
    let metrics_addr = match &metrics_listener {
        Some(l) => Some(l.local_addr()?),
        None => None,
    };
    let prepared = prepare(settings, store, telephony).await?;
    let engine = prepared.state.engine.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(prepared, listener, metrics_listener, async {
        let _ = rx.await;
    }));
    Ok(RunningServer {
        addr,
        metrics_addr,
        engine,
        shutdown: tx,
        task,
    })
}
