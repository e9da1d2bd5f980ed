//! XLSX exports: rust_xlsxwriter in constant-memory mode writes each row to a temporary
//! file as it comes (no cell is kept in memory), on a blocking thread that reads the pages
//! from the database through the runtime; the finished workbook is a temporary file that
//! disappears when it is closed.
use super::{Cell, ExportError, Rows};
use rust_xlsxwriter::{Format, Workbook, Worksheet};
use std::io::{Seek, SeekFrom};
use std::path::Path;

/// Rows per sheet, the header included (the XLSX limit); further rows go on more sheets.
pub const XLSX_MAX_ROWS: u32 = 1_048_576;
/// Characters per cell (the XLSX limit); longer text (a long transcript) is cut.
const MAX_CELL_CHARS: usize = 32_767;

fn cut(s: &str) -> &str {
    match s.char_indices().nth(MAX_CELL_CHARS) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn add_sheet<'a>(
    book: &'a mut Workbook,
    name: &str,
    header: &[String],
    bold: &Format,
) -> Result<&'a mut Worksheet, ExportError> {
    let sheet = book.add_worksheet_with_constant_memory()?;
    sheet.set_name(name)?;
    for (col, title) in header.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, cut(title), bold)?;
    }
    Ok(sheet)
}

/// A finished workbook: an unnamed temporary file, rewound, and the rows in it.
#[derive(Debug)]
pub struct XlsxFile {
    pub file: std::fs::File,
    pub rows: u64,
}

/// Writes the export into a temporary file in `temp_dir` and returns it, rewound.
/// Runs on a blocking thread; must be called from within a Tokio runtime.
pub async fn write_xlsx(
    rows: Rows,
    dataset_name: &'static str,
    temp_dir: &Path,
) -> Result<XlsxFile, ExportError> {
    let temp_dir = temp_dir.to_path_buf();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || write_blocking(rows, dataset_name, &temp_dir, &runtime))
        .await
        .map_err(|e| ExportError::Task(e.to_string()))?
}

fn write_blocking(
    mut rows: Rows,
    name: &str,
    temp_dir: &Path,
    runtime: &tokio::runtime::Handle,
) -> Result<XlsxFile, ExportError> {
    let mut book = Workbook::new();
    // The row files of constant-memory sheets go beside the data, not in a tmpfs.
    book.set_tempdir(temp_dir)?;
    let bold = Format::new().set_bold();
    let header = rows.header().to_vec();
    let mut sheets = 1;
    let mut sheet = add_sheet(&mut book, name, &header, &bold)?;
    let mut row: u32 = 1;
    let mut written: u64 = 0;
    while let Some(page) = runtime.block_on(rows.next_page())? {
        for cells in page {
            if row == XLSX_MAX_ROWS {
                sheets += 1;
                sheet = add_sheet(&mut book, &format!("{name} {sheets}"), &header, &bold)?;
                row = 1;
            }
            for (col, cell) in cells.iter().enumerate() {
                let col = col as u16;
                match cell {
                    Cell::Empty => {}
                    // Always a string cell, never a formula, whatever the text.
                    Cell::Text(s) => {
                        sheet.write_string(row, col, cut(s))?;
                    }
                    Cell::Number(n) => {
                        sheet.write_number(row, col, *n)?;
                    }
                }
            }
            row += 1;
            written += 1;
        }
    }
    let mut file = tempfile::tempfile_in(temp_dir)?;
    book.save_to_writer(&mut file)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(XlsxFile {
        file,
        rows: written,
    })
}
