//! Exports of calls and contacts as CSV or XLSX, with memory that does not grow with the
//! number of rows: rows come from the database in keyset pages ([`Rows`]), CSV is written
//! page by page into a streamed body ([`csv_stream`]), XLSX into a temporary file in
//! constant-memory mode ([`write_xlsx`]).
//!
//! Every text cell a spreadsheet would run as a formula is neutralised ([`neutralise`]),
//! in both formats; real numbers (ids, durations, attempts) stay numbers.
mod columns;
mod compliance;
mod csv;
mod xlsx;

pub use columns::{Rows, CALL_COLUMNS, CONSENT_COLUMNS, CONTACT_COLUMNS};
pub use compliance::COMPLIANCE_COLUMNS;
pub use csv::{csv_stream, header_bytes, page_bytes};
pub use xlsx::{write_xlsx, XlsxFile, XLSX_MAX_ROWS};

use parley_store::{CallFilter, ContactFilter, ReportRange, Store, StoreError};
use serde_json::json;

/// Rows read from the database per page.
pub const PAGE_ROWS: u32 = 500;
/// Rows per page when transcripts are included (each can be long).
pub const PAGE_ROWS_WITH_TRANSCRIPT: u32 = 50;

/// The file format of an export.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub enum Dataset {
    Calls {
        filter: CallFilter,
        /// Add a `transcript` column with every turn of the call.
        transcript: bool,
    },
    Contacts {
        filter: ContactFilter,
    },
    /// Consent history: every record (grants and revocations), or one contact's.
    Consent {
        contact_id: Option<i64>,
    },
    /// A campaign's compliance report over a range: its figures, then every blocked dial.
    Compliance {
        range: ReportRange,
    },
}

impl Dataset {
    /// The sheet name and the stem of the file name.
    pub fn name(&self) -> &'static str {
        match self {
            Dataset::Calls { .. } => "calls",
            Dataset::Contacts { .. } => "contacts",
            Dataset::Consent { .. } => "consent",
            Dataset::Compliance { .. } => "compliance",
        }
    }
}

/// The filters of `dataset`, for the audit log.
fn describe(dataset: &Dataset, format: Format) -> serde_json::Value {
    let time = |ms: Option<i64>| ms.map(parley_domain::time::from_millis);
    match dataset {
        Dataset::Calls { filter, transcript } => json!({
            "format": format,
            "campaign_id": filter.campaign_id,
            "contact_id": filter.contact_id,
            "status": filter.status,
            "outcome": filter.outcome,
            "from": time(filter.created_from),
            "to": time(filter.created_to),
            "transcript": transcript,
        }),
        // The search text is left out: it may be a phone number or a name.
        Dataset::Contacts { filter } => json!({
            "format": format,
            "campaign_id": filter.campaign_id,
            "tag": filter.tag,
            "search": filter.q.is_some(),
            "from": time(filter.created_from),
            "to": time(filter.created_to),
        }),
        Dataset::Consent { contact_id } => json!({
            "format": format,
            "contact_id": contact_id,
        }),
        Dataset::Compliance { range } => json!({
            "format": format,
            "campaign_id": range.campaign_id,
            "from": parley_domain::time::from_millis(range.from),
            "to": parley_domain::time::from_millis(range.to),
        }),
    }
}

/// Records in the audit log that `actor` exported `dataset` (personal data leaving
/// Parley), before any row is read.
pub async fn audit(
    store: &Store,
    actor: &str,
    dataset: &Dataset,
    format: Format,
) -> Result<(), StoreError> {
    let action = format!("{}.exported", dataset.name());
    let details = describe(dataset, format);
    store
        .record_audit(actor, &action, dataset.name(), None, &details)
        .await
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the CSV failed: {0}")]
    Csv(String),
    #[error("writing the workbook failed: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("the export task stopped: {0}")]
    Task(String),
    #[error("{EXPORTS_AT_ONCE} exports are running on this node; try again when one has finished")]
    Busy,
}

/// Exports running at once on a node: each keeps a database reader busy page after page
/// and, for XLSX, a blocking thread and a temporary file until it is sent.
pub const EXPORTS_AT_ONCE: usize = 2;

/// A node's places for running exports.
#[derive(Clone)]
pub struct ExportSlots(std::sync::Arc<tokio::sync::Semaphore>);

impl Default for ExportSlots {
    fn default() -> Self {
        ExportSlots(std::sync::Arc::new(tokio::sync::Semaphore::new(
            EXPORTS_AT_ONCE,
        )))
    }
}

/// A place among the exports running on a node, held until the export's rows are
/// dropped (for CSV, when the response body is done).
pub struct ExportSlot(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

impl ExportSlots {
    /// Takes a place, or refuses at once when every place is taken (a refusal the client
    /// can retry, rather than a queue of requests each holding a connection).
    pub fn take(&self) -> Result<ExportSlot, ExportError> {
        self.0
            .clone()
            .try_acquire_owned()
            .map(ExportSlot)
            .map_err(|_| ExportError::Busy)
    }
}

/// One cell of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
}

impl Cell {
    /// Text, neutralised if a spreadsheet would read it as a formula.
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(neutralise(s.into()))
    }

    pub fn opt_text(s: Option<impl Into<String>>) -> Cell {
        s.map_or(Cell::Empty, Cell::text)
    }

    pub fn int(n: i64) -> Cell {
        Cell::Number(n as f64)
    }

    pub fn opt_int(n: Option<i64>) -> Cell {
        n.map_or(Cell::Empty, Cell::int)
    }

    /// The cell as CSV text (numbers without a fraction print as integers).
    pub fn to_csv(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Cell::Empty => "".into(),
            Cell::Text(s) => s.as_str().into(),
            Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => {
                format!("{}", *n as i64).into()
            }
            Cell::Number(n) => n.to_string().into(),
        }
    }
}

/// Prefixes `'` to text starting with a character that makes a spreadsheet evaluate it
/// (`=`, `+`, `-`, `@`, tab, carriage return), so it shows as the text it is.
pub fn neutralise(s: String) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s,
    }
}

/// A file name for an export, such as `calls-20261202-190501.csv`.
pub fn file_name(dataset: &Dataset, format: Format) -> String {
    format!(
        "{}-{}.{}",
        dataset.name(),
        chrono::Utc::now().format("%Y%m%d-%H%M%S"),
        format.extension()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_plain_text_is_not() {
        for s in ["=1+1", "+1555", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(s.into()), format!("'{s}"));
        }
        for s in ["hello", "1+1", " =x", "", "'quoted"] {
            assert_eq!(neutralise(s.into()), s);
        }
    }

    #[test]
    fn numbers_print_as_numbers() {
        assert_eq!(Cell::int(42).to_csv(), "42");
        assert_eq!(Cell::Number(-1.5).to_csv(), "-1.5");
        assert_eq!(Cell::Empty.to_csv(), "");
    }
}
