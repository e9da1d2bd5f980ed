//! Exports of calls and contacts as CSV or XLSX, with the list endpoints' filters.
//! CSV streams while the rows are read; XLSX is written to a temporary file in the data
//! directory first (a workbook is a ZIP whose index comes last), then streamed.
use super::calls::call_filter;
use super::contacts::contact_filter;
use crate::auth::Principal;
use crate::error::extract::Query;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::AppState;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::TryStreamExt;
use parley_domain::call::{CallOutcome, CallStatus};
use parley_engine::exports::{self, Dataset, ExportError, Format, Rows};
use parley_engine::private_files::create_private_dir_async;
use serde::Deserialize;
use tokio_util::io::ReaderStream;
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallExportQuery {
    /// `csv` (default) or `xlsx`.
    pub format: Option<Format>,
    /// Add a `transcript` column with every turn of each call.
    pub transcript: Option<bool>,
    pub campaign_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub status: Option<CallStatus>,
    pub outcome: Option<CallOutcome>,
    /// Also export test calls ("Call me" on a campaign; their `test` column is `true`).
    /// Default false: they are no campaign's results.
    pub include_test: Option<bool>,
    /// Created at or after this RFC 3339 time.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Created before this RFC 3339 time.
    #[param(format = DateTime)]
    pub to: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactExportQuery {
    /// `csv` (default) or `xlsx`.
    pub format: Option<Format>,
    /// Only contacts with this tag.
    pub tag: Option<String>,
    /// Text contained in name, phone, email or company (case-insensitive).
    pub q: Option<String>,
    /// Only contacts enrolled in this campaign (their progress columns are then this
    /// campaign's).
    pub campaign_id: Option<i64>,
    /// Created at or after this RFC 3339 time.
    #[param(format = DateTime)]
    pub created_from: Option<String>,
    /// Created before this RFC 3339 time.
    #[param(format = DateTime)]
    pub created_to: Option<String>,
}

/// Every call the filters select, newest first, one row each: times, campaign and contact
/// by name, status, outcome, duration, summary, then a column per data-collection item
/// (`data_collection.<id>`) and evaluation criterion (`evaluation.<id>`) found in the
/// selected calls' analyses. Text a spreadsheet would run as a formula starts with `'`.
#[utoipa::path(get, path = "/api/v1/calls/export", tag = "calls", operation_id = "export",
    params(CallExportQuery, ("result" = Option<Vec<String>>, Query, explode, description = "Typed result filters, as in the calls list: `NAME:VALUE`, repeated for AND.")),
    responses((status = 200, description = "the file, as an attachment",
                content(("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
              (status = 400, description = "an unknown format or a malformed filter", body = crate::error::ErrorBody),
              (status = 503, description = "the node's export places are all in use; retry", body = crate::error::ErrorBody)))]
pub async fn calls(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<CallExportQuery>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let filter = call_filter(
        q.campaign_id,
        q.contact_id,
        q.status,
        q.outcome,
        (!q.include_test.unwrap_or(false)).then_some(false),
        (q.from.as_deref(), q.to.as_deref()),
        raw.as_deref(),
    )?;
    let dataset = Dataset::Calls {
        filter,
        transcript: q.transcript.unwrap_or(false),
    };
    export(&state, &principal, dataset, q.format.unwrap_or(Format::Csv)).await
}

/// Every contact the filters select, newest first: fields, tags, do-not-call, campaign
/// progress (last outcome, attempts, next attempt) and a column per custom field.
#[utoipa::path(get, path = "/api/v1/contacts/export", tag = "contacts", operation_id = "export", params(ContactExportQuery),
    responses((status = 200, description = "the file, as an attachment",
                content(("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
              (status = 400, description = "an unknown format or a malformed filter", body = crate::error::ErrorBody),
              (status = 503, description = "the node's export places are all in use; retry", body = crate::error::ErrorBody)))]
pub async fn contacts(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<ContactExportQuery>,
) -> ApiResult<Response> {
    let filter = contact_filter(
        q.tag,
        q.q,
        q.campaign_id,
        q.created_from.as_deref(),
        q.created_to.as_deref(),
    )?;
    let format = q.format.unwrap_or(Format::Csv);
    export(&state, &principal, Dataset::Contacts { filter }, format).await
}

fn failed(e: ExportError) -> ApiError {
    match e {
        ExportError::Busy => ApiError::new(ErrorCode::ServiceUnavailable, e.to_string()),
        e => ApiError::internal(e),
    }
}

pub(crate) async fn export(
    state: &AppState,
    principal: &Principal,
    dataset: Dataset,
    format: Format,
) -> ApiResult<Response> {
    // Refused when busy before anything is recorded.
    let slot = state.engine.exports.take().map_err(failed)?;
    exports::audit(&state.store, &principal.actor, &dataset, format).await?;
    let name = exports::file_name(&dataset, format);
    let sheet = dataset.name();
    let rows = Rows::open(state.store.clone(), dataset, slot)
        .await
        .map_err(failed)?;
    let mut length = None;
    let body = match format {
        Format::Csv => Body::from_stream(exports::csv_stream(rows).inspect_err(|e| {
            // The status line is sent; all that is left is to cut the body short.
            tracing::warn!(error = %e, "a CSV export failed part way");
        })),
        Format::Xlsx => {
            // The workbook holds personal data until it is sent: owner-only, like the rest.
            let dir = state.settings.data_dir.join("exports");
            create_private_dir_async(&dir)
                .await
                .map_err(ApiError::internal)?;
            let written = exports::write_xlsx(rows, sheet, &dir)
                .await
                .map_err(failed)?;
            length = Some(written.file.metadata().map_err(ApiError::internal)?.len());
            let file = tokio::fs::File::from_std(written.file);
            Body::from_stream(ReaderStream::with_capacity(file, 64 * 1024))
        }
    };
    let mut response = (
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response();
    if let Some(length) = length {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, length.into());
    }
    Ok(response)
}
