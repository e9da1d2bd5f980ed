//! Contact import: rows of text (CSV records, a workbook's first sheet, a Google Sheets
//! range) mapped by their header to contacts and written in batches; a row that cannot be
//! a contact is recorded with its line. The REST API and `parley import` both use it.
use calamine::{Data, Reader, Xlsx};
use futures::StreamExt;
use parley_domain::campaign::CampaignState;
use parley_domain::import::ColumnMap;
use parley_domain::phone::Region;
use parley_store::{ImportError, ImportRecord, ImportRow, Store, StoreError};

/// Rows written per transaction.
pub const BATCH_ROWS: usize = 500;
/// Why an import dropped before it finished failed.
const INTERRUPTED: &str = "the import was interrupted before it finished (the client went away)";

/// An import being written. Dropped without [`Running::finish`] (the request was
/// cancelled because its client went away), it is recorded as failed rather than left
/// `running` for ever.
pub struct Running {
    store: Store,
    pub record: ImportRecord,
    finished: bool,
}

impl Running {
    pub async fn start(
        store: &Store,
        source: &str,
        name: Option<&str>,
        campaign_id: Option<i64>,
        actor: &str,
    ) -> Result<Running, StoreError> {
        let record = store.start_import(source, name, campaign_id, actor).await?;
        Ok(Running {
            store: store.clone(),
            record,
            finished: false,
        })
    }

    /// Records the end: completed, or failed with `failure`.
    pub async fn finish(mut self, failure: Option<&str>) -> Result<ImportRecord, StoreError> {
        self.finished = true;
        self.store.finish_import(self.record.id, failure).await
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (store, id) = (self.store.clone(), self.record.id);
            runtime.spawn(async move {
                if let Err(e) = store.finish_import(id, Some(INTERRUPTED)).await {
                    tracing::warn!(import_id = id, error = %e, "recording an interrupted import failed");
                }
            });
        }
    }
}

/// Why contacts cannot be enrolled in the campaign an import names.
#[derive(Debug, thiserror::Error)]
pub enum CampaignRefused {
    #[error("the campaign is {0}; contacts cannot be added")]
    Finished(CampaignState),
    /// `StoreError::NotFound` when there is no such campaign.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks that the campaign an import enrols into exists and can still take contacts.
pub async fn check_campaign(store: &Store, campaign_id: i64) -> Result<(), CampaignRefused> {
    let campaign = store.get_campaign(campaign_id).await?;
    if campaign.state.is_final() {
        return Err(CampaignRefused::Finished(campaign.state));
    }
    Ok(())
}

/// Rows already read whole: the first is the header, numbered `first_line` (a range or
/// a sheet's used area may start lower down).
#[derive(Debug, PartialEq)]
pub struct Table {
    pub first_line: i64,
    pub rows: Vec<Vec<String>>,
}

/// Turns rows into contacts and writes them in batches; rows that cannot be contacts are
/// recorded as problems with their line.
pub struct RowWriter<'a> {
    store: &'a Store,
    import: &'a ImportRecord,
    columns: ColumnMap,
    region: Region,
    rows: Vec<ImportRow>,
    rejected: Vec<ImportError>,
}

impl<'a> RowWriter<'a> {
    pub fn new(
        store: &'a Store,
        import: &'a ImportRecord,
        columns: ColumnMap,
        region: Region,
    ) -> Self {
        RowWriter {
            store,
            import,
            columns,
            region,
            rows: Vec::with_capacity(BATCH_ROWS),
            rejected: Vec::new(),
        }
    }

    /// Takes one row; call [`RowWriter::flush_if_full`] after.
    pub fn push<'c>(&mut self, line: i64, cells: impl IntoIterator<Item = &'c str>) {
        match self.columns.contact(cells, self.region) {
            Ok(contact) => self.rows.push(ImportRow { line, contact }),
            Err(e) => self.reject(line, e.reason, e.message),
        }
    }

    /// Records a row that could not even be read.
    pub fn reject(&mut self, line: i64, reason: &str, message: String) {
        self.rejected.push(ImportError {
            line,
            reason: reason.to_owned(),
            message,
        });
    }

    /// Writes the rows taken so far once they make a batch.
    pub async fn flush_if_full(&mut self) -> Result<(), StoreError> {
        if self.rows.len() + self.rejected.len() >= BATCH_ROWS {
            let rows = std::mem::replace(&mut self.rows, Vec::with_capacity(BATCH_ROWS));
            let rejected = std::mem::take(&mut self.rejected);
            self.store.import_batch(self.import, rows, rejected).await?;
        }
        Ok(())
    }

    /// Writes what is left.
    pub async fn finish(self) -> Result<(), StoreError> {
        if !self.rows.is_empty() || !self.rejected.is_empty() {
            self.store
                .import_batch(self.import, self.rows, self.rejected)
                .await?;
        }
        Ok(())
    }

    /// Writes a table's rows after its header. Blank rows (common at the end of
    /// spreadsheets) are not contacts.
    pub async fn write_table(
        mut self,
        first_line: i64,
        rows: impl IntoIterator<Item = Vec<String>>,
    ) -> Result<(), StoreError> {
        for (i, cells) in rows.into_iter().enumerate() {
            if cells.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            self.push(first_line + 1 + i as i64, cells.iter().map(String::as_str));
            self.flush_if_full().await?;
        }
        self.finish().await
    }

    /// Writes every record `csv` holds after its header. A record that cannot be read is
    /// a rejected row, unless `fatal` says the whole read must stop (the input broke).
    pub async fn write_csv<R, E>(
        mut self,
        csv: &mut csv_async::AsyncReader<R>,
        fatal: impl Fn(&csv_async::Error) -> Option<E>,
    ) -> Result<(), E>
    where
        R: tokio::io::AsyncRead + Unpin + Send,
        E: From<StoreError>,
    {
        let mut records = csv.records();
        while let Some(record) = records.next().await {
            match record {
                Ok(record) => {
                    let line = record.position().map_or(0, |p| p.line() as i64);
                    self.push(line, record.iter());
                }
                Err(e) => {
                    if let Some(stop) = fatal(&e) {
                        return Err(stop);
                    }
                    let line = e.position().map_or(0, |p| p.line() as i64);
                    self.reject(
                        line,
                        "invalid_encoding",
                        format!("the row could not be read: {e}"),
                    );
                }
            }
            self.flush_if_full().await?;
        }
        Ok(self.finish().await?)
    }
}

/// Whether a file starts like a ZIP archive, as every XLSX does (no CSV does).
pub fn is_xlsx(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04")
}

/// The first sheet of an XLSX workbook; its first used row is the header.
pub fn read_xlsx(file: Vec<u8>) -> Result<Table, String> {
    let unreadable =
        |e: &dyn std::fmt::Display| format!("the file is not a readable XLSX workbook: {e}");
    let mut workbook = Xlsx::new(std::io::Cursor::new(file)).map_err(|e| unreadable(&e))?;
    let sheet = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| "the workbook has no sheet".to_owned())?
        .map_err(|e| unreadable(&e))?;
    // Row numbers as the spreadsheet shows them.
    let first_line = sheet.start().map_or(1, |(row, _)| i64::from(row) + 1);
    let rows = sheet
        .rows()
        .map(|cells| cells.iter().map(cell_text).collect())
        .collect();
    Ok(Table { first_line, rows })
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
