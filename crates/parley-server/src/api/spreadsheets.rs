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
use calamine::{Data, Reader, Xlsx};
use parley_engine::sheets::{spreadsheet_id, SheetsConfigError, SheetsError};
use serde::Deserialize;
use utoipa::ToSchema;

pub const XLSX_CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Whether a file starts like a ZIP archive, as every XLSX does (no CSV does).
pub fn is_xlsx(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04")
}

/// Imports the first sheet of an XLSX file; its first used row is the header.
pub(crate) async fn import_xlsx(
    state: &AppState,
    target: ImportTarget<'_>,
    file: Vec<u8>,
) -> ApiResult<Json<ImportReport>> {
    let unreadable = |e: &dyn std::fmt::Display| {
        ApiError::field(
            "file",
            format!("the file is not a readable XLSX workbook: {e}"),
        )
    };
    let mut workbook = Xlsx::new(std::io::Cursor::new(file)).map_err(|e| unreadable(&e))?;
    let sheet = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| ApiError::field("file", "the workbook has no sheet"))?
        .map_err(|e| unreadable(&e))?;
    // Row numbers as the spreadsheet shows them (the used range may start lower down).
    let first_line = sheet.start().map_or(1, |(row, _)| i64::from(row) + 1);
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|cells| cells.iter().map(cell_text).collect())
        .collect();
    drop(sheet);
    drop(workbook);
    import_table(state, target, first_line, rows).await
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

/// The first sheet's columns A to ZZ, every row: A1 notation without a sheet name
/// means the first sheet.
const FIRST_SHEET: &str = "A:ZZ";

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
    let name = format!("{id} {range}");
    let target = ImportTarget {
        actor: &principal.actor,
        source: "sheets",
        name: Some(&name),
        campaign_id: request.campaign_id,
        region,
    };
    import_table(&state, target, values.first_row, values.rows).await
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
            format!("the range holds more than the {mb} MiB import limit; import it in parts"),
        ),
        SheetsError::Credentials(_)
        | SheetsError::Upstream { .. }
        | SheetsError::Unreachable(_) => {
            tracing::warn!(error = %message, "reading a Google spreadsheet failed");
            ApiError::new(ErrorCode::Upstream, message)
        }
    }
}

/// A cell as the text a CSV export would hold. Numbers that are whole (phone numbers
/// typed into a number cell) lose the `.0`.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => d
            .as_datetime()
            .map_or_else(|| d.as_f64().to_string(), |t| t.to_string()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_read_like_typed_phone_numbers() {
        assert_eq!(cell_text(&Data::Float(14155550100.0)), "14155550100");
        assert_eq!(cell_text(&Data::Float(1.5)), "1.5");
        assert_eq!(cell_text(&Data::String("+1 415".into())), "+1 415");
        assert_eq!(cell_text(&Data::Empty), "");
    }

    #[test]
    fn xlsx_is_told_by_its_zip_signature() {
        assert!(is_xlsx(b"PK\x03\x04rest"));
        assert!(!is_xlsx(b"phone,first_name\n"));
    }
}
