//! What this Parley is running as.
use crate::error::extract::Json;
use crate::AppState;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct Status {
    pub version: &'static str,
    /// `sandbox` (built-in simulators stand in for Twilio and ElevenLabs) or `production`.
    pub mode: &'static str,
    pub sandbox: bool,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
}

#[utoipa::path(get, path = "/api/v1/status", tag = "system", responses((status = 200, body = Status)))]
pub async fn status(State(state): State<AppState>) -> Json<Status> {
    let sandbox = state.settings.sandbox();
    Json(Status {
        version: env!("CARGO_PKG_VERSION"),
        mode: if sandbox { "sandbox" } else { "production" },
        sandbox,
        database: match state.store.backend() {
            parley_store::Backend::Sqlite => "sqlite",
            parley_store::Backend::Postgres => "postgres",
        },
    })
}
