//! Consent: a contact's history (append-only: records are added, never changed or
//! removed) and recording one, and the export of the history.
use super::exports::export;
use super::{List, PageParams};
use crate::auth::Principal;
use crate::error::extract::{Json, Path, Query};
use crate::error::{ApiError, ApiResult, OrNotFound};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use chrono::{DateTime, Utc};
use parley_domain::consent::{
    is_web_url, ConsentKind, ConsentRecord, ConsentSource, ConsentSourceKind, ConsentType,
    NewConsent, MAX_DETAIL,
};
use parley_engine::exports::{Dataset, Format};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

fn grant() -> ConsentKind {
    ConsentKind::Grant
}

/// A consent given (a grant) or withdrawn (a revocation). Its source is the API key or
/// user recording it, or the web form named by `form_url`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordConsent {
    /// `grant` (the default) or `revocation`.
    #[serde(default = "grant")]
    pub kind: ConsentKind,
    /// The consent given; required on a grant, absent on a revocation.
    pub consent_type: Option<ConsentType>,
    /// When the person gave or withdrew it (RFC 3339, not in the future); now when absent.
    pub captured_at: Option<DateTime<Utc>>,
    /// The wording agreed to, or what was said (at most 10,000 characters).
    pub text: Option<String>,
    /// A link to the wording or the signed form (http or https).
    pub url: Option<String>,
    /// The web form the consent was given on: the record's source.
    pub form_url: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsentExportQuery {
    /// `csv` (default) or `xlsx`.
    pub format: Option<Format>,
    /// Only this contact's history.
    pub contact_id: Option<i64>,
}

/// A contact's consent history, most recently recorded first. The consent in force is
/// the latest record by `captured_at` unless it is a revocation (also on the contact, as
/// `consent`).
#[utoipa::path(get, path = "/api/v1/contacts/{id}/consent", tag = "contacts", operation_id = "consent_history",
    params(("id" = i64, Path), PageParams),
    responses((status = 200, body = List<ConsentRecord>), (status = 404, body = crate::error::ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<List<ConsentRecord>>> {
    let page = page.request()?;
    let history = state
        .store
        .consent_history(id, page)
        .await
        .or_not_found("contact")?;
    Ok(Json(history.into()))
}

/// Appends a record to a contact's consent history (nothing is ever changed or removed).
#[utoipa::path(post, path = "/api/v1/contacts/{id}/consent", tag = "contacts", operation_id = "record_consent",
    request_body = RecordConsent, params(("id" = i64, Path)),
    responses((status = 201, body = ConsentRecord), (status = 404, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn record(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
    Json(body): Json<RecordConsent>,
) -> ApiResult<(StatusCode, Json<ConsentRecord>)> {
    let source = match body.form_url {
        Some(url) if url.chars().count() > MAX_DETAIL || !is_web_url(&url) => {
            return Err(ApiError::field(
                "form_url",
                format!("must be an http or https URL of at most {MAX_DETAIL} characters"),
            ));
        }
        Some(url) => ConsentSource::new(ConsentSourceKind::Form, url),
        None => ConsentSource::new(ConsentSourceKind::Api, principal.actor.clone()),
    };
    let new = NewConsent {
        kind: body.kind,
        consent_type: body.consent_type,
        source,
        captured_at: body.captured_at,
        text: body.text.filter(|t| !t.trim().is_empty()),
        url: body.url.filter(|u| !u.trim().is_empty()),
    };
    new.validate(Utc::now()).map_err(ApiError::validation)?;
    // The record and its audit row are one change.
    let mut tx = state.store.begin().await?;
    let record = tx
        .append_consent(id, &new, &principal.actor)
        .await
        .or_not_found("contact")?;
    tx.audit(
        &principal.actor,
        "consent.recorded",
        "contact",
        Some(&id.to_string()),
        &serde_json::json!({ "kind": record.kind, "consent_type": record.consent_type }),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// The consent history of every contact (or one), newest first, one row per record:
/// grants and revocations with their source, capture time, text and link.
#[utoipa::path(get, path = "/api/v1/contacts/consent/export", tag = "contacts", operation_id = "export_consent",
    params(ConsentExportQuery),
    responses((status = 200, description = "the file, as an attachment",
                content(("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
              (status = 400, description = "an unknown format", body = crate::error::ErrorBody),
              (status = 503, description = "the node's export places are all in use; retry", body = crate::error::ErrorBody)))]
pub async fn export_history(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<ConsentExportQuery>,
) -> ApiResult<Response> {
    let dataset = Dataset::Consent {
        contact_id: q.contact_id,
    };
    export(&state, &principal, dataset, q.format.unwrap_or(Format::Csv)).await
}
