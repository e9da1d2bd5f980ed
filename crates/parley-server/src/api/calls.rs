//! Calls: the list and one call with everything recorded about it.
use super::{parse_time, List, PageParams};
use crate::error::extract::{Json, Path, Query};
use crate::error::{ApiResult, OrNotFound};
use crate::AppState;
use axum::extract::State;
use parley_domain::call::{Call, CallEvent, CallOutcome, CallStatus, Recording, TranscriptTurn};
use parley_store::CallFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallQuery {
    pub campaign_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub status: Option<CallStatus>,
    pub outcome: Option<CallOutcome>,
    /// Created at or after this RFC 3339 time.
    pub from: Option<String>,
    /// Created before this RFC 3339 time.
    pub to: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A call with its events, transcript and recordings.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallDetail {
    #[serde(flatten)]
    pub call: Call,
    pub events: Vec<CallEvent>,
    pub transcript: Vec<TranscriptTurn>,
    pub recordings: Vec<Recording>,
}

#[utoipa::path(get, path = "/api/v1/calls", tag = "calls", params(CallQuery),
    responses((status = 200, body = List<Call>)))]
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<CallQuery>,
) -> ApiResult<Json<List<Call>>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    let filter = CallFilter {
        campaign_id: q.campaign_id,
        contact_id: q.contact_id,
        status: q.status,
        outcome: q.outcome,
        created_from: parse_time("from", q.from.as_deref())?,
        created_to: parse_time("to", q.to.as_deref())?,
    };
    Ok(Json(state.store.list_calls(&filter, page).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/calls/{id}", tag = "calls", params(("id" = i64, Path)),
    responses((status = 200, body = CallDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<CallDetail>> {
    let call = state.store.get_call(id).await.or_not_found("call")?;
    let (events, transcript, recordings) = tokio::try_join!(
        state.store.call_events(id),
        state.store.transcript(id),
        state.store.recordings(id),
    )?;
    Ok(Json(CallDetail {
        call,
        events,
        transcript,
        recordings,
    }))
}
