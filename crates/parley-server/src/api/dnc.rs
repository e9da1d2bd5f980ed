//! Do-not-call lists: the global list and one per campaign.
use super::contacts::{parse_phone, region};
use super::{List, PageParams};
use crate::auth::Principal;
use crate::error::extract::{Json, Path, Query};
use crate::error::{ApiError, ApiResult, OrNotFound};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Extension;
use parley_domain::{FieldErrors, Phone};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, ToSchema)]
pub struct DncEntry {
    pub id: i64,
    pub phone: String,
    /// Null for the global list.
    pub campaign_id: Option<i64>,
    pub reason: Option<String>,
    /// `api`, `opt_out`, ...
    pub source: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<parley_store::DncEntry> for DncEntry {
    fn from(e: parley_store::DncEntry) -> Self {
        DncEntry {
            id: e.id,
            phone: e.phone,
            campaign_id: e.campaign_id,
            reason: e.reason,
            source: e.source,
            created_at: e.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDnc {
    pub phone: String,
    /// Put the number on this campaign's list instead of the global one.
    pub campaign_id: Option<i64>,
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DncListQuery {
    /// A campaign's list; the global list when absent.
    pub campaign_id: Option<i64>,
    /// 1-500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Which list a number is taken off.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DncScope {
    /// A campaign's list; the global list when absent.
    pub campaign_id: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DncCheckQuery {
    pub phone: String,
    pub campaign_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DncCheck {
    pub phone: String,
    /// On the global list.
    pub global: bool,
    /// On the given campaign's list.
    pub campaign: bool,
    /// Whether calling this number is forbidden.
    pub blocked: bool,
}

fn phone_of(state: &AppState, raw: &str) -> ApiResult<Phone> {
    let mut errors = FieldErrors::new();
    parse_phone(raw, region(state)?, &mut errors).ok_or_else(|| ApiError::validation(errors))
}

async fn ensure_campaign(state: &AppState, id: Option<i64>) -> ApiResult<()> {
    if let Some(id) = id {
        state
            .store
            .get_campaign(id)
            .await
            .or_not_found("campaign")?;
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/dnc", tag = "dnc", params(DncListQuery),
    responses((status = 200, body = List<DncEntry>)))]
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<DncListQuery>,
) -> ApiResult<Json<List<DncEntry>>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    let page = state.store.list_dnc(q.campaign_id, page).await?;
    Ok(Json(page.map(DncEntry::from).into()))
}

/// Puts a number on a do-not-call list (adding it twice keeps the first entry).
#[utoipa::path(post, path = "/api/v1/dnc", tag = "dnc", request_body = AddDnc,
    responses((status = 201, body = DncEntry), (status = 404, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn add(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<AddDnc>,
) -> ApiResult<(StatusCode, Json<DncEntry>)> {
    let phone = phone_of(&state, &body.phone)?;
    ensure_campaign(&state, body.campaign_id).await?;
    // The entry and its audit row are one change.
    let mut tx = state.store.begin().await?;
    let entry = tx
        .add_dnc(&phone, body.campaign_id, body.reason.as_deref(), "api")
        .await
        .or_not_found("campaign")?;
    tx.audit(
        &principal.actor,
        "dnc.added",
        "dnc",
        Some(&entry.id.to_string()),
        &serde_json::json!({ "campaign_id": body.campaign_id }),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(entry.into())))
}

/// Takes a number off a list.
#[utoipa::path(delete, path = "/api/v1/dnc/{phone}", tag = "dnc",
    params(("phone" = String, Path, description = "the number, E.164 or any common format"), DncScope),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(raw): Path<String>,
    Query(q): Query<DncScope>,
) -> ApiResult<StatusCode> {
    let phone = phone_of(&state, &raw)?;
    let mut tx = state.store.begin().await?;
    if !tx.remove_dnc(&phone, q.campaign_id).await? {
        return Err(ApiError::not_found("do-not-call entry"));
    }
    tx.audit(
        &principal.actor,
        "dnc.removed",
        "dnc",
        None,
        &serde_json::json!({ "campaign_id": q.campaign_id }),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether a number may be called, globally and for a campaign.
#[utoipa::path(get, path = "/api/v1/dnc/check", tag = "dnc", params(DncCheckQuery),
    responses((status = 200, body = DncCheck), (status = 422, body = crate::error::ErrorBody)))]
pub async fn check(
    State(state): State<AppState>,
    Query(q): Query<DncCheckQuery>,
) -> ApiResult<Json<DncCheck>> {
    let phone = phone_of(&state, &q.phone)?;
    ensure_campaign(&state, q.campaign_id).await?;
    let c = state.store.check_dnc(&phone, q.campaign_id).await?;
    Ok(Json(DncCheck {
        phone: phone.to_string(),
        global: c.global,
        campaign: c.campaign,
        blocked: c.blocked(),
    }))
}
