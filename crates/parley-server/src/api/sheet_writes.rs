//! A campaign's Google Sheets write-back queue: what waits, what was written, what was
//! given up and why, and whether Parley can write at all as it is configured.
use crate::auth::Principal;
use crate::error::extract::Path;
use crate::error::{ApiResult, OrNotFound};
use crate::AppState;
use axum::extract::State;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use parley_domain::time::{from_millis, now_millis};
use serde::Serialize;
use utoipa::ToSchema;

/// The write-back queue of a campaign.
#[derive(Debug, Serialize, ToSchema)]
pub struct SheetWriteStatus {
    /// The campaign's `sheet_write_back.enabled`.
    pub enabled: bool,
    /// Rows waiting to be written (for the first time or again).
    pub pending: i64,
    /// Of those, rows that failed at least once and wait for a retry.
    pub retrying: i64,
    pub written: i64,
    /// Rows given up: every attempt failed, or Google refused for good (see `last_error`).
    pub failed: i64,
    /// The latest error of a row not written yet.
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_written_at: Option<DateTime<Utc>>,
    /// Why Parley cannot write to Google Sheets as configured (e.g. only an API key):
    /// rows wait until it is fixed.
    pub configuration_error: Option<String>,
}

/// The campaign's write-back queue: counts by state, the latest error, and a
/// configuration problem that keeps every write waiting.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/sheet-writes", tag = "campaigns",
    params(("id" = i64, Path)),
    responses((status = 200, body = SheetWriteStatus), (status = 404, body = crate::error::ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<SheetWriteStatus>> {
    let campaign = state
        .store
        .get_campaign(id)
        .await
        .or_not_found("campaign")?;
    let counts = state.store.sheet_write_counts(id).await?;
    let enabled = campaign.settings.sheet_write_back.enabled;
    Ok(Json(SheetWriteStatus {
        enabled,
        pending: counts.pending,
        retrying: counts.retrying,
        written: counts.written,
        failed: counts.failed,
        last_error: counts.last_error,
        last_error_at: counts.last_error_at.map(from_millis),
        last_written_at: counts.last_written_at.map(from_millis),
        configuration_error: enabled
            .then(|| state.engine.sheet_write_problem())
            .flatten(),
    }))
}

/// How many given-up rows were queued again.
#[derive(Debug, Serialize, ToSchema)]
pub struct SheetWritesRetried {
    pub requeued: u64,
}

/// Queues the campaign's given-up rows again from scratch, e.g. once the spreadsheet is
/// shared with the service account as Editor.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/sheet-writes/retry", tag = "campaigns",
    params(("id" = i64, Path)),
    responses((status = 200, body = SheetWritesRetried), (status = 404, body = crate::error::ErrorBody)))]
pub async fn retry(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
) -> ApiResult<Json<SheetWritesRetried>> {
    state
        .store
        .get_campaign(id)
        .await
        .or_not_found("campaign")?;
    let requeued = state
        .store
        .retry_failed_sheet_writes(id, now_millis())
        .await?;
    tracing::info!(campaign_id = id, requeued, actor = %principal.actor, "failed sheet writes queued again");
    Ok(Json(SheetWritesRetried { requeued }))
}
