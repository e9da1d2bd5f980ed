//! Contact import: rows of text (CSV records, a workbook's first sheet, a Google Sheets
//! range) mapped by their header to contacts and written in batches; a row that cannot be
//! a contact is recorded with its line. The REST API and `parley import` both use it.
//! Every input is read under the `import.*` bounds ([`LimitExceeded`] names the one hit).
use futures::StreamExt;
use parley_domain::campaign::CampaignState;
use parley_domain::consent::{ConsentSource, ConsentSourceKind};
use parley_domain::import::ColumnMap;
use parley_domain::phone::Region;
use parley_store::{
    BatchTurns, ImportError, ImportRecord, ImportRow, SheetOrigin, Store, StoreError,
};
use std::collections::VecDeque;

mod csv_bounds;
mod limits;
mod xlsx;
pub use csv_bounds::BoundedCsv;
pub use limits::LimitExceeded;
pub use xlsx::{read_xlsx, read_xlsx_blocking, XlsxRefused};

/// Why an import dropped before it finished failed.
const INTERRUPTED: &str = "the import was interrupted before it finished (the client went away)";

/// Bumped whenever an import record changes (a batch written, the import ended, also
/// when its drop records it as interrupted), so that whoever waits for an import (a test,
/// a progress display) re-reads it on a change rather than polling. Process-wide: a
/// waiter re-reads its own import on each bump.
static CHANGED: std::sync::LazyLock<tokio::sync::watch::Sender<u64>> =
    std::sync::LazyLock::new(|| tokio::sync::watch::channel(0).0);

/// Changes to import records from now on (see [`CHANGED`]): mark the value seen, read
/// the import, then await `changed()`.
pub fn changes() -> tokio::sync::watch::Receiver<u64> {
    CHANGED.subscribe()
}

fn changed() {
    CHANGED.send_modify(|n| *n = n.wrapping_add(1));
}

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
        let ended = self.store.finish_import(self.record.id, failure).await;
        changed();
        ended
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
                changed();
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
    /// The Google Sheet the rows are read from, remembered by each contact.
    origin: Option<SheetOrigin>,
    /// Rows per batch (per transaction): the store's.
    batch_rows: usize,
    /// The batches being written while the next one is read, oldest first: at most the
    /// store's batches in flight, so the rows held stay that many batches and one.
    writing: VecDeque<Writing>,
    in_flight: usize,
    turns: BatchTurns,
}

/// A batch written by a task of its own, so that reading the next batch overlaps the
/// database's work on this one (and, on PostgreSQL, on the batch before). Batches still
/// commit one after the other, in order (a later one may merge into contacts an earlier
/// one wrote; their turns see to it). Dropped unfinished (the import was cancelled), it
/// stops the write, whose transaction then rolls back.
struct Writing(tokio::task::JoinHandle<Result<(), StoreError>>);

impl Writing {
    async fn done(mut self) -> Result<(), StoreError> {
        match (&mut self.0).await {
            Ok(written) => written,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => unreachable!("a batch write is only cancelled by its drop: {e}"),
        }
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<'a> RowWriter<'a> {
    pub fn new(
        store: &'a Store,
        import: &'a ImportRecord,
        columns: ColumnMap,
        region: Region,
    ) -> Self {
        let batch_rows = store.import_batch_rows();
        RowWriter {
            store,
            import,
            columns,
            region,
            rows: Vec::with_capacity(batch_rows),
            rejected: Vec::new(),
            origin: None,
            batch_rows,
            writing: VecDeque::new(),
            in_flight: store.import_batches_in_flight().max(1),
            turns: BatchTurns::new(),
        }
    }

    /// Rows read from a Google Sheet: each contact remembers its sheet and row (its line).
    pub fn from_sheet(mut self, origin: Option<SheetOrigin>) -> Self {
        self.origin = origin;
        self
    }

    /// Takes one row; call [`RowWriter::flush_if_full`] after. Its consent columns become
    /// a consent record whose source is this file and line (or sheet and row); consent
    /// cells that cannot be read are reported and the contact imported without them.
    pub fn push<'c>(&mut self, line: i64, cells: impl IntoIterator<Item = &'c str>) {
        match self.columns.row(cells, self.region) {
            Ok(row) => {
                let consent = row
                    .consent
                    .grant(consent_source(self.import, line), chrono::Utc::now())
                    .map_err(|e| e.to_string());
                self.rows.push(ImportRow {
                    line,
                    contact: row.contact,
                    consent,
                    left_out: row.left_out,
                })
            }
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

    /// Writes the rows taken so far once they make a batch: waits until fewer than the
    /// store's batches in flight are being written, then starts writing this one and
    /// returns.
    pub async fn flush_if_full(&mut self) -> Result<(), StoreError> {
        if self.rows.len() + self.rejected.len() >= self.batch_rows {
            if self.writing.len() >= self.in_flight {
                if let Some(oldest) = self.writing.pop_front() {
                    oldest.done().await?;
                }
            }
            let rows = std::mem::replace(&mut self.rows, Vec::with_capacity(self.batch_rows));
            let rejected = std::mem::take(&mut self.rejected);
            let (store, import, origin) =
                (self.store.clone(), self.import.clone(), self.origin.clone());
            let turn = self.turns.next_turn();
            self.writing.push_back(Writing(tokio::spawn(async move {
                let written = store
                    .import_batch_from(&import, rows, rejected, origin.as_ref(), turn)
                    .await
                    .map(drop);
                changed();
                written
            })));
        }
        Ok(())
    }

    /// Waits for the batches being written, in order; the first that failed says why.
    async fn written(&mut self) -> Result<(), StoreError> {
        while let Some(oldest) = self.writing.pop_front() {
            oldest.done().await?;
        }
        Ok(())
    }

    /// Writes what is left, after the batches being written.
    pub async fn finish(mut self) -> Result<(), StoreError> {
        self.written().await?;
        if !self.rows.is_empty() || !self.rejected.is_empty() {
            let (rows, rejected) = (
                std::mem::take(&mut self.rows),
                std::mem::take(&mut self.rejected),
            );
            let turn = self.turns.next_turn();
            let written = self
                .store
                .import_batch_from(self.import, rows, rejected, self.origin.as_ref(), turn)
                .await;
            changed();
            written?;
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
    /// a rejected row, unless `fatal` says the whole read must stop (the input broke). A
    /// field longer than `max_field_kb` stops it too. When the read stops, the batches
    /// before are written all the same (the batches being written complete).
    pub async fn write_csv<R, E>(
        mut self,
        csv: &mut csv_async::AsyncReader<R>,
        max_field_kb: u64,
        fatal: impl Fn(&csv_async::Error) -> Option<E>,
    ) -> Result<(), E>
    where
        R: tokio::io::AsyncRead + Unpin + Send,
        E: From<StoreError> + From<LimitExceeded>,
    {
        match self.read_csv(csv, max_field_kb, fatal).await {
            Ok(()) => Ok(self.finish().await?),
            Err(stop) => {
                self.written().await?;
                Err(stop)
            }
        }
    }

    async fn read_csv<R, E>(
        &mut self,
        csv: &mut csv_async::AsyncReader<R>,
        max_field_kb: u64,
        fatal: impl Fn(&csv_async::Error) -> Option<E>,
    ) -> Result<(), E>
    where
        R: tokio::io::AsyncRead + Unpin + Send,
        E: From<StoreError> + From<LimitExceeded>,
    {
        let max_field = usize::try_from(limits::kib(max_field_kb)).unwrap_or(usize::MAX);
        let mut records = csv.records();
        while let Some(record) = records.next().await {
            match record {
                Ok(record) => {
                    let line = record.position().map_or(0, |p| p.line() as i64);
                    if record.iter().any(|field| field.len() > max_field) {
                        return Err(LimitExceeded::Field {
                            place: format!("line {line}"),
                            limit_kb: max_field_kb,
                        }
                        .into());
                    }
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
        Ok(())
    }
}

/// Where a consent read from `line` of an import comes from: the file and line, or for
/// Google Sheets the sheet (its id and range) and row.
fn consent_source(import: &ImportRecord, line: i64) -> ConsentSource {
    let name = import.filename.as_deref().unwrap_or("upload");
    if import.source == "sheets" {
        ConsentSource::new(ConsentSourceKind::Sheet, format!("{name} row {line}"))
    } else {
        ConsentSource::new(ConsentSourceKind::Import, format!("{name} line {line}"))
    }
}

/// Whether a file starts like a ZIP archive, as every XLSX does (no CSV does).
pub fn is_xlsx(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04")
}

/// What a file that is neither CSV nor XLSX is, told by its first bytes, so that the person
/// who uploaded it reads "a PDF document" rather than a CSV parser's complaint about it.
pub fn foreign_format(head: &[u8]) -> Option<&'static str> {
    if is_xlsx(head) {
        return None;
    }
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"%PDF", "a PDF document"),
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (
            b"\xD0\xCF\x11\xE0",
            "an old Excel (.xls) or Word (.doc) file",
        ),
        (b"\x1F\x8B", "a gzip archive"),
        (b"Rar!", "a RAR archive"),
        (b"7z\xBC\xAF", "a 7-Zip archive"),
        (b"{\\rtf", "an RTF document"),
        (b"\xFF\xFE", "UTF-16 text"),
        (b"\xFE\xFF", "UTF-16 text"),
    ];
    if let Some((_, kind)) = SIGNATURES.iter().find(|(sig, _)| head.starts_with(sig)) {
        return Some(kind);
    }
    let text = String::from_utf8_lossy(&head[..head.len().min(64)]).to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if ["<!doctype", "<html", "<?xml"]
        .iter()
        .any(|t| text.starts_with(t))
    {
        return Some("an HTML or XML page");
    }
    // No text file has NUL bytes; a CSV saved as UTF-16 without its mark does.
    head[..head.len().min(1024)]
        .contains(&0)
        .then_some("a binary file, not text")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_that_are_not_tables_are_named() {
        assert_eq!(foreign_format(b"%PDF-1.7\n..."), Some("a PDF document"));
        assert_eq!(foreign_format(b"\x89PNG\r\n\x1a\n"), Some("a PNG image"));
        assert_eq!(
            foreign_format(b"\xD0\xCF\x11\xE0\xA1\xB1"),
            Some("an old Excel (.xls) or Word (.doc) file")
        );
        assert_eq!(foreign_format(b"\xFF\xFEp\0h\0"), Some("UTF-16 text"));
        assert_eq!(
            foreign_format(b"  <!DOCTYPE html><html>"),
            Some("an HTML or XML page")
        );
        assert_eq!(
            foreign_format(b"p\0h\0o\0"),
            Some("a binary file, not text")
        );
        assert_eq!(foreign_format(b"\xEF\xBB\xBFphone,name\n"), None);
        assert_eq!(foreign_format("phone,name\n+1415,Zoë\n".as_bytes()), None);
        assert_eq!(foreign_format(b""), None);
        assert_eq!(
            foreign_format(b"PK\x03\x04\x14\0\0\0\x08\0"),
            None,
            "a workbook"
        );
    }

    #[test]
    fn xlsx_is_told_by_its_zip_signature() {
        assert!(is_xlsx(b"PK\x03\x04rest"));
        assert!(!is_xlsx(b"phone,first_name\n"));
    }
}
