//! A contact's history: every call to it with what each led to, next to the contact
//! itself (tags, custom fields, do-not-call, consent). A resource of its own rather than
//! part of `GET /contacts/{id}`: it pages on its own, and the contact stays one cheap read
//! for the lists and forms that fetch it.
use super::PageParams;
use crate::error::extract::{Json, Path, Query};
use crate::error::{ApiError, ApiResult, OrNotFound};
use crate::AppState;
use axum::extract::State;
use parley_domain::contact::Contact;
use parley_domain::history::ContactCall;
use parley_store::MAX_HISTORY_PAGE;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

const DEFAULT_HISTORY_PAGE: u32 = 20;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Calls per page: 1-100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

/// The contact and a page of the calls to it, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactHistory {
    /// Tags, custom fields, do-not-call and the consent in force included.
    pub contact: Contact,
    pub calls: Vec<HistoryCall>,
    /// Pass as `cursor` for older calls; null on the last page.
    pub next_cursor: Option<String>,
}

/// One call to the contact, with links to its transcript and recording.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryCall {
    #[serde(flatten)]
    pub call: ContactCall,
    /// The call with its transcript (`GET`), when one was stored.
    pub transcript_url: Option<String>,
    /// The recording (WAV, range requests), when one was stored.
    pub recording_url: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}/history", tag = "contacts", operation_id = "contact_history",
    params(("id" = i64, Path), HistoryQuery),
    responses((status = 200, body = ContactHistory), (status = 404, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<ContactHistory>> {
    let limit = q.limit.unwrap_or(DEFAULT_HISTORY_PAGE);
    if !(1..=MAX_HISTORY_PAGE).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            format!("must be between 1 and {MAX_HISTORY_PAGE}"),
        ));
    }
    let page = PageParams {
        limit: Some(limit),
        cursor: q.cursor,
    }
    .request()?;
    let contact = state.store.get_contact(id).await.or_not_found("contact")?;
    let calls = state
        .store
        .contact_history(id, page)
        .await
        .or_not_found("contact")?;
    let list: super::List<ContactCall> = calls.into();
    Ok(Json(ContactHistory {
        contact,
        calls: list.items.into_iter().map(linked).collect(),
        next_cursor: list.next_cursor,
    }))
}

fn linked(call: ContactCall) -> HistoryCall {
    let id = call.id;
    HistoryCall {
        transcript_url: call.has_transcript.then(|| format!("/api/v1/calls/{id}")),
        recording_url: call
            .has_recording
            .then(|| format!("/api/v1/calls/{id}/recording")),
        call,
    }
}
