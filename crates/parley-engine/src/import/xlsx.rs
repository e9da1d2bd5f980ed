//! Reading an XLSX workbook's first sheet under bounds. The ZIP directory is checked
//! before anything is unpacked (file count, each file's and the total unpacked size,
//! compression ratio); then the sheet is streamed cell by cell, so memory follows the
//! cells present rather than the range the sheet declares, and a cell past the row or
//! column bound is refused before it is stored. The zip crate refuses to unpack a file
//! past the size its directory declares, so the sizes checked are the bytes read.
//!
//! Reading is blocking work: [`read_xlsx`] runs it on tokio's blocking pool, a few
//! workbooks at a time, never on the async workers that carry live calls.
use super::limits::{kib, mib, LimitExceeded};
use super::Table;
use crate::settings::{ImportSettings, XlsxLimits};
use calamine::{Data, DataRef, Reader, Xlsx, XlsxError};
use std::collections::BTreeMap;
use std::io::{Cursor, Read, Seek, SeekFrom};
use tokio::sync::Semaphore;

/// Files smaller than this unpacked are not held to the compression ratio: a small
/// file of repeated XML compresses far without being a danger.
const RATIO_FLOOR: u64 = 1024 * 1024;

/// Workbooks read at once on a node: each may hold up to its cell and text bounds.
static READERS: Semaphore = Semaphore::const_new(2);

#[derive(Debug, thiserror::Error)]
pub enum XlsxRefused {
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
    #[error("the file is not a readable XLSX workbook: {0}")]
    Unreadable(String),
    #[error("the workbook has no sheet")]
    NoSheet,
}

fn unreadable(e: impl std::fmt::Display) -> XlsxRefused {
    XlsxRefused::Unreadable(e.to_string())
}

/// Reads the first sheet of a workbook off the async workers; its first used row is the
/// header. Nothing is imported from a workbook refused here.
pub async fn read_xlsx(file: Vec<u8>, settings: &ImportSettings) -> Result<Table, XlsxRefused> {
    read_off_runtime(Cursor::new(file), settings).await
}

async fn read_off_runtime<R: Read + Seek + Send + 'static>(
    file: R,
    settings: &ImportSettings,
) -> Result<Table, XlsxRefused> {
    let settings = settings.clone();
    let _permit = READERS
        .acquire()
        .await
        .map_err(|_| unreadable("the workbook reader has stopped"))?;
    tokio::task::spawn_blocking(move || read_xlsx_blocking(file, &settings))
        .await
        .map_err(|e| unreadable(format!("the workbook reader failed: {e}")))?
}

/// [`read_xlsx`] on the calling thread.
pub fn read_xlsx_blocking<R: Read + Seek>(
    mut file: R,
    settings: &ImportSettings,
) -> Result<Table, XlsxRefused> {
    check_archive(&mut file, &settings.xlsx)?;
    file.seek(SeekFrom::Start(0)).map_err(unreadable)?;
    let mut workbook = Xlsx::new(file).map_err(unreadable)?;
    let name = workbook
        .sheet_names()
        .first()
        .cloned()
        .ok_or(XlsxRefused::NoSheet)?;
    let mut cells = match workbook.worksheet_cells_reader(&name) {
        Ok(cells) => cells,
        // A chart sheet first: no cells, so no header.
        Err(XlsxError::NotAWorksheet(_)) => return Ok(SparseSheet::default().into_table()),
        Err(e) => return Err(unreadable(e)),
    };
    let mut sheet = SparseSheet::default();
    let bounds = CellBounds::new(settings);
    while let Some(cell) = cells.next_cell().map_err(unreadable)? {
        let value = cell.get_value();
        if matches!(value, DataRef::Empty) {
            continue;
        }
        sheet.put(cell.get_position(), value, &bounds)?;
    }
    Ok(sheet.into_table())
}

/// Refuses an archive from its central directory alone, before anything is unpacked.
fn check_archive<R: Read + Seek>(file: &mut R, limits: &XlsxLimits) -> Result<(), XlsxRefused> {
    // The count first, from the end record alone: the full index costs memory per entry.
    let entries = zip::unstable::read::ZipIterable::try_new(&mut *file, Default::default())
        .map_err(unreadable)?
        .len() as u64;
    if entries > limits.max_entries {
        return Err(LimitExceeded::Entries {
            entries,
            limit: limits.max_entries,
        }
        .into());
    }
    file.seek(SeekFrom::Start(0)).map_err(unreadable)?;
    // The same index calamine reads, so the sizes checked are the ones it unpacks by.
    let archive = zip::ZipArchive::new(&mut *file).map_err(unreadable)?;
    let directory = archive.metadata();
    let mut total: u64 = 0;
    for index in 0..directory.len() {
        let entry = directory.entry(index).map_err(unreadable)?;
        let (size, packed) = (entry.size(), entry.compressed_size());
        let name = || String::from_utf8_lossy(entry.name_raw()).into_owned();
        if size > mib(limits.max_entry_mb) {
            return Err(LimitExceeded::Entry {
                name: name(),
                size_mb: size / mib(1),
                limit_mb: limits.max_entry_mb,
            }
            .into());
        }
        total = total.saturating_add(size);
        if total > mib(limits.max_uncompressed_mb) {
            return Err(LimitExceeded::Uncompressed {
                limit_mb: limits.max_uncompressed_mb,
            }
            .into());
        }
        let ratio = size / packed.max(1);
        if size > RATIO_FLOOR && ratio > limits.max_compression_ratio {
            return Err(LimitExceeded::CompressionRatio {
                name: name(),
                ratio,
                limit: limits.max_compression_ratio,
            }
            .into());
        }
    }
    Ok(())
}

/// The bounds on what a sheet's cells may hold.
struct CellBounds {
    max_rows: u32,
    max_columns: u32,
    max_cells: u64,
    max_field_bytes: usize,
    max_text_bytes: usize,
    field_kb: u64,
    text_mb: u64,
}

impl CellBounds {
    fn new(settings: &ImportSettings) -> Self {
        let limits = &settings.xlsx;
        CellBounds {
            max_rows: limits.max_rows,
            max_columns: limits.max_columns,
            max_cells: limits.max_cells,
            max_field_bytes: usize::try_from(kib(settings.max_field_kb)).unwrap_or(usize::MAX),
            max_text_bytes: usize::try_from(mib(limits.max_uncompressed_mb)).unwrap_or(usize::MAX),
            field_kb: settings.max_field_kb,
            text_mb: limits.max_uncompressed_mb,
        }
    }
}

/// The cells with a value, by row then column: what the sheet holds, whatever range it
/// declares.
#[derive(Default)]
struct SparseSheet {
    rows: BTreeMap<u32, SparseRow>,
    first_column: Option<u32>,
    /// Cells the table will hold: each row's, up to its last value (at most; the table
    /// starts at the first used column).
    slots: u64,
    text_bytes: usize,
}

#[derive(Default)]
struct SparseRow {
    /// One past the row's last column with a value.
    width: u32,
    cells: Vec<(u32, String)>,
}

impl SparseSheet {
    /// Stores one cell, or refuses it before anything is allocated for it.
    fn put(
        &mut self,
        (row, col): (u32, u32),
        value: &DataRef<'_>,
        bounds: &CellBounds,
    ) -> Result<(), LimitExceeded> {
        if col >= bounds.max_columns {
            return Err(LimitExceeded::Columns {
                cell: cell_name(row, col),
                limit: bounds.max_columns,
            });
        }
        if row >= bounds.max_rows {
            return Err(LimitExceeded::Rows {
                cell: cell_name(row, col),
                limit: bounds.max_rows,
            });
        }
        let len = match value {
            DataRef::SharedString(s) => s.len(),
            DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.len(),
            // Numbers, booleans, dates and errors: a few dozen bytes at most.
            _ => 0,
        };
        if len > bounds.max_field_bytes {
            return Err(LimitExceeded::Field {
                place: format!("cell {}", cell_name(row, col)),
                limit_kb: bounds.field_kb,
            });
        }
        // A shared string is stored once in the file but copied into every cell using it.
        self.text_bytes = self.text_bytes.saturating_add(len);
        if self.text_bytes > bounds.max_text_bytes {
            return Err(LimitExceeded::Text {
                limit_mb: bounds.text_mb,
            });
        }
        let stored = self.rows.entry(row).or_default();
        if col >= stored.width {
            // Blank cells left of a row's last value are held too, so they count.
            self.slots += u64::from(col + 1 - stored.width);
            stored.width = col + 1;
            if self.slots > bounds.max_cells {
                return Err(LimitExceeded::Cells {
                    limit: bounds.max_cells,
                });
            }
        }
        self.first_column = Some(self.first_column.map_or(col, |c| c.min(col)));
        stored
            .cells
            .push((col, cell_text(Data::from(value.clone()))));
        Ok(())
    }

    /// The cells as rows from the first used row to the last, each from the first used
    /// column to its own last cell (rows hold no padding past their last value), the way
    /// a sheet's used range reads.
    fn into_table(self) -> Table {
        let Some(&first_row) = self.rows.keys().next() else {
            return Table {
                first_line: 1,
                rows: Vec::new(),
            };
        };
        let first_col = self.first_column.unwrap_or(0);
        let mut rows = Vec::new();
        for (row, SparseRow { mut cells, .. }) in self.rows {
            // Rows without a value between used rows keep the numbering.
            rows.resize_with((row - first_row) as usize, Vec::new);
            // Stable: of two cells at one position, the later in the file wins.
            cells.sort_by_key(|(col, _)| *col);
            let width = cells.last().map_or(0, |(col, _)| col - first_col + 1);
            let mut line = vec![String::new(); width as usize];
            for (col, text) in cells {
                line[(col - first_col) as usize] = text;
            }
            rows.push(line);
        }
        Table {
            first_line: i64::from(first_row) + 1,
            rows,
        }
    }
}

/// A cell's name as the spreadsheet shows it (`0, 0` is `A1`).
fn cell_name(row: u32, col: u32) -> String {
    format!(
        "{}{}",
        crate::sheets::column_name(col.saturating_add(1)),
        u64::from(row) + 1
    )
}

/// A cell as the text a CSV export would hold. Numbers that are whole (phone numbers
/// typed into a number cell) lose the `.0`.
pub(super) fn cell_text(cell: Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s,
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => d
            .as_datetime()
            .map_or_else(|| d.as_f64().to_string(), |t| t.to_string()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s,
        Data::Error(e) => format!("#{e:?}"),
    }
}

#[cfg(test)]
mod tests;
