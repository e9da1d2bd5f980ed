//! Contact import from spreadsheets: XLSX uploads (through the CSV upload route) and
//! Google Sheets. Both end as rows of text handed to the same column mapping and batch
//! writer as CSV, so the report and per-row problems are the same.
use super::imports::{import_table, ImportReport, ImportTarget};
use crate::error::extract::Json;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use calamine::{Data, Reader, Xlsx};

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
