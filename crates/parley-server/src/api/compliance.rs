//! A campaign's compliance report over a date range, as JSON and as an export: its calls
//! by jurisdiction, the dials held back and why, consent coverage, abandonment, opt-outs
//! and the rules version in force.
use super::campaigns::quality_window_start;
use super::exports::export;
use super::parse_time;
use crate::auth::Principal;
use crate::error::extract::{Path, Query};
use crate::error::{ApiError, ApiResult, OrNotFound};
use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use axum::{Extension, Json};
use parley_domain::compliance::ComplianceReport;
use parley_engine::exports::{Dataset, Format};
use parley_store::ReportRange;
use serde::Deserialize;
use utoipa::IntoParams;

/// The default range: the last 30 days.
const DEFAULT_DAYS: i64 = 30;
/// The longest range one report covers (a year and a day).
const MAX_RANGE_MS: i64 = 366 * 86_400_000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ComplianceQuery {
    /// The export's file: `csv` (default) or `xlsx` (the report itself is JSON).
    pub format: Option<Format>,
    /// Start of the range (RFC 3339, inclusive); 30 days before `to` when absent.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// End of the range (RFC 3339, exclusive); now when absent.
    #[param(format = DateTime)]
    pub to: Option<String>,
}

/// The report's range for campaign `id`, checked; 404 if there is no such campaign.
async fn range(
    state: &AppState,
    id: i64,
    from: Option<&str>,
    to: Option<&str>,
) -> ApiResult<ReportRange> {
    let to = parse_time("to", to)?.unwrap_or_else(parley_domain::time::now_millis);
    let from = parse_time("from", from)?.unwrap_or(to - DEFAULT_DAYS * 86_400_000);
    if from >= to {
        return Err(ApiError::bad_request("from must be before to"));
    }
    if to - from > MAX_RANGE_MS {
        return Err(ApiError::bad_request("the range may span at most 366 days"));
    }
    let campaign = state
        .store
        .get_campaign(id)
        .await
        .or_not_found("campaign")?;
    Ok(ReportRange {
        campaign_id: id,
        required: campaign.settings.required_consent,
        from,
        to,
        quality_since: quality_window_start(),
    })
}

/// The campaign's compliance over `[from, to)`: calls by jurisdiction, dials held back by
/// reason (the calling window, a state's hours, a frequency cap, a do-not-call list,
/// consent) with the latest of them, consent coverage of its contacts, the rolling 30-day
/// abandonment rate, opt-outs with how fast they reached the do-not-call list, and the
/// rules version in force. Not legal advice.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/compliance", tag = "campaigns",
    params(("id" = i64, Path), ComplianceQuery),
    responses((status = 200, body = ComplianceReport),
              (status = 400, description = "a malformed or empty range", body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn report(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<ComplianceQuery>,
) -> ApiResult<Json<ComplianceReport>> {
    let range = range(&state, id, q.from.as_deref(), q.to.as_deref()).await?;
    Ok(Json(state.store.compliance_report(range).await?))
}

/// The report as a file: one row per figure (`section` names it: `report`,
/// `calls_by_jurisdiction`, `blocked`, `consent_coverage`, `consent_by_type`,
/// `abandonment`, `opt_outs`, `opt_out`), then every blocked dial of the range
/// (`blocked_dial`, newest first) with who, when, which rule and the rules version.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/compliance/export", tag = "campaigns",
    operation_id = "export_compliance",
    params(("id" = i64, Path), ComplianceQuery),
    responses((status = 200, description = "the file, as an attachment",
                content(("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
              (status = 400, description = "an unknown format or a malformed range", body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody),
              (status = 503, description = "the node's export places are all in use; retry", body = crate::error::ErrorBody)))]
pub async fn export_report(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
    Query(q): Query<ComplianceQuery>,
) -> ApiResult<Response> {
    let range = range(&state, id, q.from.as_deref(), q.to.as_deref()).await?;
    let format = q.format.unwrap_or(Format::Csv);
    export(&state, &principal, Dataset::Compliance { range }, format).await
}
