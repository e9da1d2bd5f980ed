//! Workbooks crafted here: normal ones read as before, hostile ones refused by the bound
//! they go past, cheaply and before their cells are stored.
use super::*;
use calamine::Reader;
use rust_xlsxwriter::{Format, Workbook};
use std::io::Write;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

fn read(book: Vec<u8>, settings: &ImportSettings) -> Result<Table, XlsxRefused> {
    read_xlsx_blocking(Cursor::new(book), settings)
}

fn limit(result: Result<Table, XlsxRefused>) -> LimitExceeded {
    match result {
        Err(XlsxRefused::Limit(limit)) => limit,
        other => panic!("expected a bound to be hit, got {other:?}"),
    }
}

/// A sheet with a header in A1 and one contact; `extra` adds more.
fn book(extra: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) -> Vec<u8> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "phone").unwrap();
    sheet.write_string(0, 1, "first_name").unwrap();
    sheet.write_string(1, 0, "+14155550101").unwrap();
    sheet.write_string(1, 1, "Ann").unwrap();
    extra(sheet);
    book.save_to_buffer().unwrap()
}

/// `book` with more files added to its archive by `add`.
fn with_files(book: &[u8], add: impl FnOnce(&mut ZipWriter<Cursor<Vec<u8>>>)) -> Vec<u8> {
    replacing(book, "", add)
}

/// `book` without its file `name`, and with the files `add` writes.
fn replacing(
    book: &[u8],
    name: &str,
    add: impl FnOnce(&mut ZipWriter<Cursor<Vec<u8>>>),
) -> Vec<u8> {
    let mut source = ZipArchive::new(Cursor::new(book)).unwrap();
    let mut out = ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..source.len() {
        let file = source.by_index_raw(i).unwrap();
        if file.name_raw() != name.as_bytes() {
            out.raw_copy_file(file).unwrap();
        }
    }
    add(&mut out);
    out.finish().unwrap().into_inner()
}

/// Streams `mib` MiB of zeros into a deflated file: the archive grows by a few hundred
/// bytes per MiB, and the test never holds the unpacked bytes.
fn zeros(out: &mut ZipWriter<Cursor<Vec<u8>>>, name: &str, mib: usize) {
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    out.start_file(name, options).unwrap();
    let block = vec![0u8; 1024 * 1024];
    for _ in 0..mib {
        out.write_all(&block).unwrap();
    }
}

/// The table as calamine's dense range gave it, the way imports read workbooks before.
fn dense(book: &[u8]) -> Table {
    let mut workbook = Xlsx::new(Cursor::new(book.to_vec())).unwrap();
    let range = workbook.worksheet_range_at(0).unwrap().unwrap();
    Table {
        first_line: range.start().map_or(1, |(row, _)| i64::from(row) + 1),
        rows: range
            .rows()
            .map(|cells| cells.iter().cloned().map(cell_text).collect())
            .collect(),
    }
}

/// Blank cells after a row's last value change nothing: cells are matched to the header
/// by position, and a missing cell reads as a blank one.
fn without_trailing_blanks(mut table: Table) -> Table {
    for row in &mut table.rows {
        while row.last().is_some_and(String::is_empty) {
            row.pop();
        }
    }
    table
}

#[test]
fn a_normal_workbook_reads_as_the_dense_range_did() {
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    // The header lower down and to the right, with a gap in it.
    for (col, head) in [(1, "Phone"), (2, "First Name"), (3, "tags"), (5, "plan")] {
        sheet.write_string(2, col, head).unwrap();
    }
    sheet.write_string(3, 1, "+14155550101").unwrap();
    sheet.write_string(3, 2, "Ann").unwrap();
    sheet.write_string(3, 3, "vip;xlsx").unwrap();
    sheet.write_string(3, 5, "gold").unwrap();
    sheet.write_number(4, 1, 14155550102.0).unwrap();
    sheet.write_string(4, 2, "Bob").unwrap();
    // Row 6 blank; then a bad phone, a boolean and a fraction.
    sheet.write_string(6, 1, "not a phone").unwrap();
    sheet.write_boolean(6, 2, true).unwrap();
    sheet.write_number(6, 5, 1.5).unwrap();
    // A value left of the header moves the table's first column to A.
    sheet.write_string(7, 0, "left of the header").unwrap();
    sheet.write_string(7, 1, "+14155550103").unwrap();
    sheet
        .write_number_with_format(8, 1, 45000.0, &date)
        .unwrap();
    sheet.write_blank(9, 7, &date).unwrap();
    let other = book.add_worksheet();
    other.write_string(0, 0, "not the contacts").unwrap();
    let book = book.save_to_buffer().unwrap();

    let table = read(book.clone(), &ImportSettings::default()).unwrap();
    assert_eq!(table.first_line, 3);
    assert_eq!(
        table.rows[0],
        ["", "Phone", "First Name", "tags", "", "plan"]
    );
    assert_eq!(table.rows[2], ["", "14155550102", "Bob"]);
    assert!(table.rows[3].is_empty(), "a blank row keeps its place");
    assert_eq!(
        without_trailing_blanks(table),
        without_trailing_blanks(dense(&book))
    );
}

#[test]
fn whole_numbers_read_like_typed_phone_numbers() {
    assert_eq!(cell_text(Data::Float(14155550100.0)), "14155550100");
    assert_eq!(cell_text(Data::Float(1.5)), "1.5");
    assert_eq!(cell_text(Data::String("+1 415".into())), "+1 415");
    assert_eq!(cell_text(Data::Empty), "");
}

#[test]
fn a_whole_sheet_declared_with_a_far_cell_is_refused_by_that_cell() {
    // The sheet declares A1:XFD1048576, the dense range 17 billion cells.
    let hostile = book(|sheet| {
        sheet.write_string(1_048_575, 16_383, "far").unwrap();
    });
    assert!(hostile.len() < 10_000, "{} bytes", hostile.len());
    assert_eq!(
        limit(read(hostile.clone(), &ImportSettings::default())),
        LimitExceeded::Columns {
            cell: "XFD1048576".into(),
            limit: 200
        }
    );
    let mut wide = ImportSettings::default();
    wide.xlsx.max_columns = 16_384;
    assert_eq!(
        limit(read(hostile, &wide)),
        LimitExceeded::Rows {
            cell: "XFD1048576".into(),
            limit: 500_000
        }
    );
}

#[test]
fn a_declared_range_without_far_values_costs_nothing() {
    // A formatted blank cell in the last corner: the range is declared, no value is there.
    let declared = book(|sheet| {
        sheet
            .write_blank(1_048_575, 16_383, &Format::new().set_bold())
            .unwrap();
    });
    let table = read(declared, &ImportSettings::default()).unwrap();
    assert_eq!(
        table.rows,
        [["phone", "first_name"], ["+14155550101", "Ann"]]
    );
}

#[test]
fn blank_cells_left_of_a_value_count_toward_the_cell_bound() {
    let mut settings = ImportSettings::default();
    settings.xlsx.max_cells = 100;
    // Two cells with a value, but the second row holds 99 cells up to its value.
    let sparse = book(|sheet| {
        sheet.write_string(2, 98, "x").unwrap();
    });
    assert_eq!(
        limit(read(sparse, &settings)),
        LimitExceeded::Cells { limit: 100 }
    );
}

#[test]
fn a_shared_string_counts_toward_the_text_bound_in_every_cell_using_it() {
    let mut settings = ImportSettings {
        max_field_kb: 32,
        ..ImportSettings::default()
    };
    settings.xlsx.max_uncompressed_mb = 1;
    // One 30 KiB string (Excel's cells hold 32,767 characters), stored once, in 70
    // cells: 2 MiB once read.
    let long = "x".repeat(30 * 1024);
    let amplified = book(|sheet| {
        for row in 2..72 {
            sheet.write_string(row, 1, &long).unwrap();
        }
    });
    assert_eq!(
        limit(read(amplified, &settings)),
        LimitExceeded::Text { limit_mb: 1 }
    );
}

#[test]
fn a_cell_past_the_field_bound_is_named() {
    let long = book(|sheet| {
        sheet.write_string(3, 1, "y".repeat(17 * 1024)).unwrap();
    });
    assert_eq!(
        limit(read(long, &ImportSettings::default())),
        LimitExceeded::Field {
            place: "cell B4".into(),
            limit_kb: 16
        }
    );
}

#[test]
fn a_zip_bomb_is_refused_from_its_directory_before_anything_is_unpacked() {
    // 300 MiB of zeros in a file the workbook never uses, packed to well under 1 MiB.
    let bomb = with_files(&book(|_| {}), |out| zeros(out, "xl/media/zeros.bin", 300));
    assert!(bomb.len() < 1024 * 1024, "{} bytes", bomb.len());
    assert_eq!(
        limit(read(bomb, &ImportSettings::default())),
        LimitExceeded::Entry {
            name: "xl/media/zeros.bin".into(),
            size_mb: 300,
            limit_mb: 64
        }
    );
    // Under the size bounds, its compression gives it away.
    let small = with_files(&book(|_| {}), |out| zeros(out, "xl/media/zeros.bin", 8));
    assert!(matches!(
        limit(read(small, &ImportSettings::default())),
        LimitExceeded::CompressionRatio { limit: 100, .. }
    ));
    // Files that pass one by one still add up.
    let mut settings = ImportSettings::default();
    settings.xlsx.max_uncompressed_mb = 10;
    settings.xlsx.max_compression_ratio = u64::MAX;
    let many = with_files(&book(|_| {}), |out| {
        for n in 0..3 {
            zeros(out, &format!("xl/media/{n}.bin"), 4);
        }
    });
    assert_eq!(
        limit(read(many, &settings)),
        LimitExceeded::Uncompressed { limit_mb: 10 }
    );
}

#[test]
fn a_sheet_larger_than_its_directory_says_is_not_unpacked_past_that() {
    // The sheet holds 200 MiB but its directory entry claims 1 KiB: within every bound,
    // so only the unpacking can stop it.
    let forged = replacing(&book(|_| {}), "xl/worksheets/sheet1.xml", |out| {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(1));
        out.start_file("xl/worksheets/sheet1.xml", options).unwrap();
        out.write_all(b"<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>").unwrap();
        let spaces = vec![b' '; 1024 * 1024];
        for _ in 0..200 {
            out.write_all(&spaces).unwrap();
        }
        out.write_all(b"</sheetData></worksheet>").unwrap();
    });
    let forged = declare_size(forged, b"xl/worksheets/sheet1.xml", 1024);
    let refused = read(forged, &ImportSettings::default());
    assert!(
        matches!(refused, Err(XlsxRefused::Unreadable(_))),
        "{refused:?}"
    );
}

/// Rewrites the unpacked size the central directory declares for `name` (and the local
/// header's, so the two agree): what a forged archive would say.
fn declare_size(mut zip: Vec<u8>, name: &[u8], size: u32) -> Vec<u8> {
    let u16_at = |z: &[u8], at: usize| u16::from_le_bytes([z[at], z[at + 1]]) as usize;
    let u32_at = |z: &[u8], at: usize| u32::from_le_bytes(z[at..at + 4].try_into().unwrap());
    let mut patched = 0;
    for at in 0..zip.len() - 46 {
        if zip[at..at + 4] == *b"PK\x01\x02" {
            let len = u16_at(&zip, at + 28);
            if &zip[at + 46..at + 46 + len] == name {
                zip[at + 24..at + 28].copy_from_slice(&size.to_le_bytes());
                let local = u32_at(&zip, at + 42) as usize;
                zip[local + 22..local + 26].copy_from_slice(&size.to_le_bytes());
                patched += 1;
            }
        }
    }
    assert_eq!(patched, 1, "the directory names the file once");
    zip
}

#[test]
fn an_archive_of_too_many_files_is_refused_by_its_count() {
    let crowded = with_files(&book(|_| {}), |out| {
        for n in 0..1_000 {
            out.start_file(format!("xl/media/{n}.txt"), SimpleFileOptions::default())
                .unwrap();
        }
    });
    assert!(matches!(
        limit(read(crowded, &ImportSettings::default())),
        LimitExceeded::Entries { limit: 1_000, entries } if entries > 1_000
    ));
}

/// A file whose first read waits until the test says so.
struct Gated {
    inner: Cursor<Vec<u8>>,
    open: Option<std::sync::mpsc::Receiver<()>>,
}

impl Read for Gated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(gate) = self.open.take() {
            gate.recv_timeout(std::time::Duration::from_secs(10))
                .map_err(|_| std::io::Error::other("the gate was never opened"))?;
        }
        self.inner.read(buf)
    }
}

impl Seek for Gated {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(to)
    }
}

#[test]
fn workbooks_are_read_off_the_async_workers() {
    // One async worker. Reading the workbook blocks until a task on that worker opens the
    // gate, which can only run if the reading is elsewhere.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (open, gate) = std::sync::mpsc::channel();
    let file = Gated {
        inner: Cursor::new(book(|_| {})),
        open: Some(gate),
    };
    let table = runtime.block_on(async {
        let reading =
            tokio::spawn(async move { read_off_runtime(file, &ImportSettings::default()).await });
        tokio::spawn(async move { open.send(()) })
            .await
            .unwrap()
            .unwrap();
        reading.await.unwrap()
    });
    assert_eq!(table.unwrap().rows.len(), 2);
}
