//! Contact import from spreadsheets: XLSX uploads (through the CSV upload route) and
//! Google Sheets. Both end as rows of text handed to the same column mapping and batch
//! writer as CSV, so the report and per-row problems are the same.
use super::imports::{import_table, import_target, ImportReport, ImportTarget};
use crate::auth::Principal;
use crate::error::extract::Json;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::AppState;
use axum::extract::State;
use axum::Extension;
use parley_engine::import::{read_xlsx, XlsxRefused};
use parley_engine::sheets::{spreadsheet_id, SheetsConfigError, SheetsError, FIRST_SHEET};
use serde::Deserialize;
use utoipa::ToSchema;

pub const XLSX_CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Imports the first sheet of an XLSX file; its first used row is the header.
pub(crate) async fn import_xlsx(
    state: &AppState,
    target: ImportTarget<'_>,
    file: Vec<u8>,
) -> ApiResult<Json<ImportReport>> {
    let table = read_xlsx(file, &state.settings.import)
        .await
        .map_err(|e| match e {
            XlsxRefused::Limit(limit) => ApiError::from(limit),
            unreadable => ApiError::field("file", unreadable.to_string()),
        })?;
    import_table(state, target, table).await
}

/// Which Google spreadsheet range to import, and where the contacts go.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SheetsImportRequest {
    /// The spreadsheet's id, or its URL as the browser shows it.
    #[schema(
        example = "https://docs.google.com/spreadsheets/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/edit"
    )]
    pub spreadsheet: String,
    /// A1 notation, e.g. `Contacts!A1:H` or a sheet's name; by default the first sheet.
    /// Its first row is the header.
    #[schema(example = "Sheet1")]
    pub range: Option<String>,
    /// Also enrol every imported contact in this campaign.
    pub campaign_id: Option<i64>,
    /// Region for numbers written without a country code (default from settings).
    pub default_region: Option<String>,
}

/// Imports contacts from a Google spreadsheet (Sheets API v4 `values.get`), with the same
/// column mapping and per-row report as a CSV upload. Parley reads it with its service
/// account (share the spreadsheet with that address) or, for spreadsheets shared as
/// "anyone with the link", its API key.
#[utoipa::path(post, path = "/api/v1/contacts/import/sheets", tag = "contacts",
    request_body = SheetsImportRequest,
    responses((status = 200, body = ImportReport), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody), (status = 502, body = crate::error::ErrorBody)))]
pub async fn import_sheets(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(request): Json<SheetsImportRequest>,
) -> ApiResult<Json<ImportReport>> {
    let id = spreadsheet_id(&request.spreadsheet).ok_or_else(|| {
        ApiError::field(
            "spreadsheet",
            "give the spreadsheet's id or its docs.google.com URL",
        )
    })?;
    let range = match request.range.as_deref().map(str::trim) {
        None | Some("") => FIRST_SHEET,
        Some(range) if range.len() > 300 => {
            return Err(ApiError::field("range", "must be at most 300 characters"))
        }
        Some(range) => range,
    };
    let region = import_target(
        &state,
        request.campaign_id,
        request.default_region.as_deref(),
    )
    .await?;
    let client = state.engine.sheets.client().map_err(config_error)?;
    let max_bytes = state
        .settings
        .import
        .max_upload_mb
        .saturating_mul(1024 * 1024);
    let values = client
        .values(id, range, max_bytes)
        .await
        .map_err(sheets_error)?;
    let origin = parley_store::SheetOrigin {
        spreadsheet_id: id.to_owned(),
        sheet_name: values.sheet,
        header_row: values.table.first_line,
    };
    let name = format!("{id} {range}");
    let target = ImportTarget {
        actor: &principal.actor,
        source: "sheets",
        name: Some(&name),
        campaign_id: request.campaign_id,
        region,
        origin: Some(origin),
    };
    import_table(&state, target, values.table).await
}

fn config_error(e: SheetsConfigError) -> ApiError {
    match e {
        SheetsConfigError::NotConfigured => ApiError::new(ErrorCode::Conflict, e.to_string()),
        SheetsConfigError::KeyFile { .. } => {
            tracing::error!(error = %e, "Google Sheets import is misconfigured");
            ApiError::new(
                ErrorCode::Conflict,
                "Google Sheets import is misconfigured: the service account key file is not usable",
            )
        }
    }
}

fn sheets_error(e: SheetsError) -> ApiError {
    let message = e.to_string();
    match e {
        SheetsError::Config(config) => config_error(config),
        SheetsError::NotFound => {
            ApiError::field("spreadsheet", "Google has no spreadsheet with this id")
        }
        SheetsError::NotShared { .. } => ApiError::field("spreadsheet", message),
        SheetsError::BadRange(_) => ApiError::field("range", message),
        SheetsError::TooLarge(mb) => ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "the range holds more than the {mb} MiB import limit (import.max_upload_mb); \
                 import it in parts"
            ),
        ),
        SheetsError::Credentials(_)
        | SheetsError::Upstream { .. }
        | SheetsError::Unreachable(_) => {
            tracing::warn!(error = %message, "reading a Google spreadsheet failed");
            ApiError::new(ErrorCode::Upstream, message)
        }
    }
}
