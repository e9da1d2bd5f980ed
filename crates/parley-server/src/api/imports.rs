//! CSV import as a streamed multipart upload. Rows are parsed as they arrive and written
//! in batches, so memory stays flat for a file of any length; every rejected row is
//! recorded with its line number and reason.
use super::contacts::region;
use crate::auth::Principal;
use crate::error::extract::{Json, Multipart, Path, Query};
use crate::error::{ApiError, ApiResult, ErrorCode, OrNotFound};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Extension;
use futures::StreamExt;
use parley_domain::import::ColumnMap;
use parley_domain::phone::Region;
use parley_engine::import::{
    check_campaign, BoundedCsv, CampaignRefused, LimitExceeded, RowWriter, Running, Table,
};
use parley_store::{ImportError, ImportRecord, StoreError};
use serde::{Deserialize, Serialize};
use tokio_util::io::StreamReader;
use utoipa::{IntoParams, ToSchema};

/// Errors returned inline in the import answer; the rest are paged from `/errors`.
const INLINE_ERRORS: u32 = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Also enrol every imported contact in this campaign.
    pub campaign_id: Option<i64>,
    /// Region for numbers written without a country code (default from settings).
    pub default_region: Option<String>,
}

/// The upload's form: one field, `file`.
#[derive(ToSchema)]
pub struct ImportUpload {
    /// The CSV or XLSX file.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportSummary {
    pub id: i64,
    /// `running`, `completed` or `failed`.
    pub state: String,
    /// `csv`, `xlsx` or `sheets`.
    pub source: String,
    /// The uploaded file's name; for Google Sheets, the spreadsheet id and range.
    pub filename: Option<String>,
    pub campaign_id: Option<i64>,
    /// Data rows read (the header is not counted).
    pub rows_total: i64,
    pub created: i64,
    pub updated: i64,
    /// Rows whose phone repeated an earlier row; merged into that contact.
    pub duplicates: i64,
    pub rejected: i64,
    pub error: Option<String>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RowProblem {
    /// Line in the CSV file, or row number in the sheet; the header is line 1 (in a sheet,
    /// the first row read).
    pub line: i64,
    /// Rejected rows: `missing_phone`, `invalid_phone`, `invalid_encoding`. Rows imported
    /// with a note: `duplicate` (merged into an earlier row's contact, whose values stay),
    /// `field_left_out` (a bad email, time zone, name or tag left out), `invalid_consent`.
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    pub import: ImportSummary,
    /// The first problems in line order.
    pub errors: Vec<RowProblem>,
    /// More problems exist than are listed; page them from `/api/v1/imports/{id}/errors`.
    pub errors_truncated: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ErrorPage {
    /// Return problems after this line.
    pub after_line: Option<i64>,
    /// 1-5000, default 500.
    #[param(minimum = 1, maximum = 5000)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RowProblems {
    pub items: Vec<RowProblem>,
    /// Pass as `after_line` for the next page; null on the last page.
    pub next_after_line: Option<i64>,
}

impl From<ImportRecord> for ImportSummary {
    fn from(r: ImportRecord) -> Self {
        use parley_domain::time::from_millis;
        ImportSummary {
            id: r.id,
            state: r.state,
            source: r.source,
            filename: r.filename,
            campaign_id: r.campaign_id,
            rows_total: r.rows_total,
            created: r.created,
            updated: r.updated,
            duplicates: r.duplicates,
            rejected: r.rejected,
            error: r.error,
            started_at: from_millis(r.started_at),
            finished_at: r.finished_at.map(from_millis),
        }
    }
}

impl From<ImportError> for RowProblem {
    fn from(e: ImportError) -> Self {
        RowProblem {
            line: e.line,
            reason: e.reason,
            message: e.message,
        }
    }
}

/// Why reading the upload stopped early, other than a size bound.
#[derive(Debug, thiserror::Error)]
enum UploadError {
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
}

/// A size bound hit: 413, naming the setting in the message and in `details`.
impl From<LimitExceeded> for ApiError {
    fn from(e: LimitExceeded) -> Self {
        let details = serde_json::json!({ "setting": e.setting(), "limit": e.limit() });
        ApiError::new(ErrorCode::PayloadTooLarge, e.to_string()).with_details(details)
    }
}

/// Imports contacts from a CSV or XLSX file (multipart field `file`; XLSX is told by its
/// content type, `.xlsx` name or contents, and its first sheet is read). Columns are mapped by
/// header: `phone` (required), `first_name`, `last_name`, `email`, `company`, `timezone`,
/// `tags` (separated by `,` `;` or `|`); any other column becomes a custom field. Rows
/// with a phone already seen are merged into that contact.
///
/// Files are read under the `import.*` bounds: a file, CSV line or field, or a workbook
/// past one (its ZIP directory, rows, columns, cells or unpacked size) is refused with 413,
/// `details.setting` naming the bound and `details.limit` its value; nothing of a refused
/// workbook is imported, and a CSV stops at the line that went past (the import ends
/// `failed`, `details.import` saying what was written before it). A workbook that cannot be
/// read is 422.
#[utoipa::path(post, path = "/api/v1/contacts/import", tag = "contacts", params(ImportParams),
    request_body(content = ImportUpload, content_type = "multipart/form-data", description = "form field `file`: the CSV or XLSX file"),
    responses((status = 200, body = ImportReport),
              (status = 400, description = "not a multipart upload with a `file` field, or the upload broke off", body = crate::error::ErrorBody),
              (status = 404, description = "no campaign `campaign_id`", body = crate::error::ErrorBody),
              (status = 409, description = "the campaign has finished", body = crate::error::ErrorBody),
              (status = 413, description = "past an `import.*` size bound, named in `details.setting`", body = crate::error::ErrorBody),
              (status = 422, description = "no usable header, an unreadable workbook, or a bad `default_region`", body = crate::error::ErrorBody)))]
pub async fn import_csv(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<ImportParams>,
    headers: HeaderMap,
    Multipart(mut multipart): Multipart,
) -> ApiResult<Json<ImportReport>> {
    let max_mb = state.settings.import.max_upload_mb;
    let max_bytes = max_mb.saturating_mul(1024 * 1024);
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_bytes) {
        return Err(too_large(max_mb));
    }
    let limits = &state.settings.import;
    let region =
        import_target(&state, params.campaign_id, params.default_region.as_deref()).await?;

    let field = loop {
        match multipart.next_field().await {
            Ok(Some(f)) if f.name() == Some("file") => break f,
            Ok(Some(_)) => continue,
            Ok(None) => {
                return Err(ApiError::bad_request(
                    "send the CSV as a multipart/form-data field named `file`",
                ))
            }
            Err(e) => return Err(ApiError::bad_request(format!("unreadable upload: {e}"))),
        }
    };
    let filename = field.file_name().map(str::to_string);
    let declared_xlsx = field.content_type() == Some(super::spreadsheets::XLSX_CONTENT_TYPE)
        || filename
            .as_deref()
            .is_some_and(|f| f.to_ascii_lowercase().ends_with(".xlsx"));
    let mut field = field;
    let first = field
        .chunk()
        .await
        .map_err(|e| ApiError::bad_request(format!("unreadable upload: {e}")))?
        .unwrap_or_default();
    if let Some(kind) = parley_engine::import::foreign_format(&first) {
        return Err(ApiError::field(
            "file",
            format!(
                "this file is {kind}, not a CSV or XLSX file: save the contacts as CSV \
                 (comma-separated, UTF-8) or as an Excel workbook (.xlsx) and upload that"
            ),
        ));
    }
    if declared_xlsx || parley_engine::import::is_xlsx(&first) {
        let mut file = first.to_vec();
        while let Some(chunk) = field.chunk().await.map_err(|e| {
            ApiError::bad_request(UploadError::Interrupted(e.to_string()).to_string())
        })? {
            if (file.len() + chunk.len()) as u64 > max_bytes {
                return Err(too_large(max_mb));
            }
            file.extend_from_slice(&chunk);
        }
        let target = ImportTarget {
            actor: &principal.actor,
            source: "xlsx",
            name: filename.as_deref(),
            campaign_id: params.campaign_id,
            region,
            origin: None,
        };
        return super::spreadsheets::import_xlsx(&state, target, file).await;
    }
    let mut received: u64 = 0;
    let rest = futures::stream::iter([Ok(first)]).chain(field);
    let bytes = rest.map(move |chunk| {
        let chunk =
            chunk.map_err(|e| std::io::Error::other(UploadError::Interrupted(e.to_string())))?;
        received += chunk.len() as u64;
        if received > max_bytes {
            return Err(std::io::Error::other(LimitExceeded::Upload {
                limit_mb: max_mb,
            }));
        }
        Ok::<_, std::io::Error>(chunk)
    });
    let mut csv = csv_async::AsyncReaderBuilder::new()
        .flexible(true)
        .create_reader(BoundedCsv::new(
            StreamReader::new(bytes),
            limits.max_line_kb,
        ));
    let header = csv.headers().await.map_err(|e| {
        upload_error(&e).unwrap_or_else(|| {
            ApiError::field("file", format!("the first line is not a CSV header: {e}"))
        })
    })?;
    let columns = ColumnMap::from_headers(header.iter())
        .map_err(|e| ApiError::field("file", e.to_string()))?;

    let import = Running::start(
        &state.store,
        "csv",
        filename.as_deref(),
        params.campaign_id,
        &principal.actor,
    )
    .await?;
    let writer = RowWriter::new(&state.store, &import.record, columns, region);
    let outcome = writer
        .write_csv(&mut csv, limits.max_field_kb, upload_error)
        .await;
    report(&state, import, outcome).await
}

/// Where imported rows go, and who asked.
pub(crate) struct ImportTarget<'a> {
    pub actor: &'a str,
    /// `csv`, `xlsx`, `sheets`.
    pub source: &'static str,
    /// The file name or the sheet's id and range, for the import record.
    pub name: Option<&'a str>,
    pub campaign_id: Option<i64>,
    pub region: Region,
    /// The Google Sheet read, which each contact remembers (for writing results back).
    pub origin: Option<parley_store::SheetOrigin>,
}

/// The region for numbers written without a country code, after checking that the
/// campaign to enrol into, if any, can take contacts.
pub(crate) async fn import_target(
    state: &AppState,
    campaign_id: Option<i64>,
    default_region: Option<&str>,
) -> ApiResult<Region> {
    let region = match default_region {
        Some(r) => {
            Region::parse(r).map_err(|e| ApiError::field("default_region", e.to_string()))?
        }
        None => region(state)?,
    };
    if let Some(id) = campaign_id {
        check_campaign(&state.store, id)
            .await
            .map_err(|e| match e {
                CampaignRefused::Store(StoreError::NotFound) => ApiError::not_found("campaign"),
                CampaignRefused::Store(e) => e.into(),
                finished => ApiError::new(ErrorCode::Conflict, finished.to_string()),
            })?;
    }
    Ok(region)
}

/// Imports the rows of a table already read (a spreadsheet's first sheet, a Google
/// Sheets range): the first row is the header.
pub(crate) async fn import_table(
    state: &AppState,
    target: ImportTarget<'_>,
    table: Table,
) -> ApiResult<Json<ImportReport>> {
    let mut rows = table.rows.into_iter();
    let header = rows.next().unwrap_or_default();
    // The field the user would change: the upload, or the range read from a sheet.
    let field = if target.source == "sheets" {
        "range"
    } else {
        "file"
    };
    let columns = ColumnMap::from_headers(header.iter().map(String::as_str)).map_err(|e| {
        ApiError::field(field, format!("the first row is not a usable header: {e}"))
    })?;
    let import = Running::start(
        &state.store,
        target.source,
        target.name,
        target.campaign_id,
        target.actor,
    )
    .await?;
    let writer = RowWriter::new(&state.store, &import.record, columns, target.region)
        .from_sheet(target.origin);
    let outcome = writer
        .write_table(table.first_line, rows)
        .await
        .map_err(ApiError::from);
    report(state, import, outcome).await
}

/// Closes an import and answers with its report; when reading failed, the error, with
/// the import's summary so far.
async fn report(
    state: &AppState,
    import: Running,
    outcome: ApiResult<()>,
) -> ApiResult<Json<ImportReport>> {
    let failure = outcome.as_ref().err().map(|e| e.message.clone());
    let record = import.finish(failure.as_deref()).await?;
    let import_id = record.id;
    if let Err(mut e) = outcome {
        // Beside what the error already says (the bound it hit, say).
        let mut details = e.details.take().unwrap_or_else(|| serde_json::json!({}));
        if let Some(fields) = details.as_object_mut() {
            let summary =
                serde_json::to_value(ImportSummary::from(record)).map_err(ApiError::internal)?;
            fields.insert("import".to_owned(), summary);
        }
        return Err(e.with_details(details));
    }
    tracing::info!(
        import_id = record.id,
        source = %record.source,
        rows = record.rows_total,
        created = record.created,
        rejected = record.rejected,
        "contact import finished"
    );
    let errors = state
        .store
        .import_errors(import_id, 0, INLINE_ERRORS + 1)
        .await?;
    let errors_truncated = errors.len() > INLINE_ERRORS as usize;
    Ok(Json(ImportReport {
        import: record.into(),
        errors: errors
            .into_iter()
            .take(INLINE_ERRORS as usize)
            .map(RowProblem::from)
            .collect(),
        errors_truncated,
    }))
}

/// The error to stop the whole import with, when reading failed because of the upload
/// itself (a bound, a broken upload) rather than one row.
fn upload_error(e: &csv_async::Error) -> Option<ApiError> {
    let csv_async::ErrorKind::Io(io) = e.kind() else {
        return None;
    };
    let inner = io.get_ref();
    if let Some(limit) = inner.and_then(|i| i.downcast_ref::<LimitExceeded>()) {
        return Some(limit.clone().into());
    }
    Some(match inner.and_then(|i| i.downcast_ref::<UploadError>()) {
        Some(interrupted) => ApiError::bad_request(interrupted.to_string()),
        None => ApiError::bad_request(format!("the upload could not be read: {io}")),
    })
}

fn too_large(max_mb: u64) -> ApiError {
    LimitExceeded::Upload { limit_mb: max_mb }.into()
}

#[utoipa::path(get, path = "/api/v1/imports/{id}", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = ImportSummary), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<ImportSummary>> {
    let record = state.store.get_import(id).await.or_not_found("import")?;
    Ok(Json(record.into()))
}

/// The problems of an import, in line order.
#[utoipa::path(get, path = "/api/v1/imports/{id}/errors", tag = "contacts",
    params(("id" = i64, Path), ErrorPage),
    responses((status = 200, body = RowProblems), (status = 404, body = crate::error::ErrorBody)))]
pub async fn errors(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(page): Query<ErrorPage>,
) -> ApiResult<Json<RowProblems>> {
    state.store.get_import(id).await.or_not_found("import")?;
    let limit = page.limit.unwrap_or(500);
    if !(1..=5000).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 5000"));
    }
    let mut items = state
        .store
        .import_errors(id, page.after_line.unwrap_or(0), limit + 1)
        .await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_after_line = if more {
        items.last().map(|e| e.line)
    } else {
        None
    };
    Ok(Json(RowProblems {
        items: items.into_iter().map(RowProblem::from).collect(),
        next_after_line,
    }))
}
