//! The `import` scenario: generated contacts with about 5% bad rows, imported as a CSV
//! streamed as a multipart upload to `POST /api/v1/contacts/import`, or read from a Google
//! spreadsheet (the local fake, over HTTP) by `POST /api/v1/contacts/import/sheets`; timed
//! from the request to the answer.
//!
//! The CSV is generated while it is sent, a chunk at a time, so the process's peak memory
//! is the server's, not the file's. The spreadsheet is held by the fake, in this process.
use crate::proc_stats::{self, Pid};
use crate::report::{figure, Row};
use crate::server::{BenchServer, Launch};
use crate::{BenchError, Db};
use bytes::Bytes;
use parley_sim::fakes::sheets::{FakeSheets, FakeSheetsConfig, Spreadsheet};
use parley_sim::fakes::RunningFake;
use reqwest::multipart::{Form, Part};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Instant;

pub const SCENARIO: &str = "import";
pub const DEFAULT_ROWS: u64 = 20_000;
/// Phones are `+1415` and seven digits counted from 1,000,000, which leaves room for
/// this many distinct numbers.
pub const MAX_ROWS: u64 = 8_000_000;
const HEADER: [&str; 6] = ["phone", "first_name", "last_name", "email", "tags", "plan"];
const SPREADSHEET_ID: &str = "bench-contacts";
/// Bytes handed to the HTTP client at a time.
const CHUNK_BYTES: usize = 64 * 1024;

/// Where the contacts come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportSource {
    #[default]
    Csv,
    Sheets,
}

impl ImportSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportSource::Csv => "csv",
            ImportSource::Sheets => "sheets",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Starts the node under test.
    pub launch: Launch,
    /// Data rows in the file (the header is not counted).
    pub rows: u64,
    pub source: ImportSource,
    pub db: Db,
    /// Admin URL of the PostgreSQL server on which a fresh database is made.
    pub postgres_url: String,
}

/// One backend's run: what `--json` prints in `results`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportResult {
    pub db: Db,
    #[serde(default)]
    pub source: ImportSource,
    pub rows: u64,
    /// Wall time of the upload request, from sending to the complete answer.
    pub seconds: f64,
    pub rows_per_sec: f64,
    pub created: u64,
    pub rejected: u64,
    pub duplicates: u64,
    /// Peak resident memory of the whole process (VmHWM): server, HTTP client and
    /// generator.
    pub peak_rss_mb: f64,
    /// CPU time (user + system) of the process during the upload; PostgreSQL's own work
    /// is not included.
    pub cpu_seconds: f64,
}

impl Row for ImportResult {
    fn headings() -> &'static [&'static str] {
        &[
            "db",
            "source",
            "rows",
            "seconds",
            "rows/s",
            "created",
            "rejected",
            "duplicates",
            "peak RSS MB",
            "CPU s",
        ]
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.db.to_string(),
            self.source.as_str().to_owned(),
            self.rows.to_string(),
            figure(self.seconds),
            figure(self.rows_per_sec),
            self.created.to_string(),
            self.rejected.to_string(),
            self.duplicates.to_string(),
            figure(self.peak_rss_mb),
            figure(self.cpu_seconds),
        ]
    }
}

/// Runs the scenario once on `options.db`, in this process.
pub async fn run(options: &ImportOptions) -> Result<ImportResult, BenchError> {
    let sheets = match options.source {
        ImportSource::Csv => None,
        ImportSource::Sheets => Some(spreadsheet_fake(options.rows).await?),
    };
    let server = match &sheets {
        None => BenchServer::start(options.launch, options.db, &options.postgres_url).await?,
        Some(fake) => {
            let (key, base) = (fake.state.config().api_key.clone(), fake.base_url.clone());
            BenchServer::start_with(options.launch, options.db, &options.postgres_url, |s| {
                s.google.api_key = Some(key.into());
                s.google.sheets_api_base_url = base.parse().expect("the fake's URL");
            })
            .await?
        }
    };
    let measured = match options.source {
        ImportSource::Csv => upload(&server, options.rows).await,
        ImportSource::Sheets => read_sheet(&server, options.rows).await,
    };
    // Clean up (drop the PostgreSQL database) whether or not the upload worked.
    let stopped = server.stop().await;
    if let Some(fake) = sheets {
        fake.stop().await;
    }
    let (seconds, cpu_seconds, counts) = measured?;
    stopped?;

    let expected = Expected::for_rows(options.rows);
    if counts != expected {
        return Err(BenchError::Wrong(format!(
            "the import answered {counts:?} for {} rows; the file holds {expected:?}",
            options.rows
        )));
    }
    let memory = proc_stats::memory(Pid::This)?;
    Ok(ImportResult {
        db: options.db,
        source: options.source,
        rows: options.rows,
        seconds,
        rows_per_sec: options.rows as f64 / seconds,
        created: counts.created,
        rejected: counts.rejected,
        duplicates: counts.duplicates,
        peak_rss_mb: proc_stats::mib(memory.peak_rss),
        cpu_seconds,
    })
}

/// The Sheets fake, serving the generated rows as a public spreadsheet.
async fn spreadsheet_fake(rows: u64) -> Result<RunningFake<FakeSheets>, BenchError> {
    let fake = FakeSheets::spawn(
        FakeSheetsConfig::default(),
        "127.0.0.1:0".parse().expect("a valid address"),
    )
    .await?;
    let header = HEADER.iter().map(|h| json!(h)).collect();
    let cells = (0..rows).map(|i| row_cells(i).into_iter().map(|c| json!(c)).collect());
    let values = std::iter::once(header).chain(cells).collect();
    fake.state
        .add_spreadsheet(Spreadsheet::public(SPREADSHEET_ID, values));
    Ok(fake)
}

/// Has Parley read the spreadsheet; returns wall seconds, CPU seconds and the counts.
async fn read_sheet(server: &BenchServer, rows: u64) -> Result<(f64, f64, Expected), BenchError> {
    let request = reqwest::Client::new()
        .post(server.url("/api/v1/contacts/import/sheets"))
        .bearer_auth(&server.api_key)
        .json(&json!({"spreadsheet": SPREADSHEET_ID}));
    timed(request, rows).await
}

/// Uploads the generated file.
async fn upload(server: &BenchServer, rows: u64) -> Result<(f64, f64, Expected), BenchError> {
    let chunks = futures::stream::iter(CsvChunks::new(rows).map(Ok::<Bytes, std::io::Error>));
    let part = Part::stream(reqwest::Body::wrap_stream(chunks))
        .file_name("contacts.csv")
        .mime_str("text/csv")?;
    let request = reqwest::Client::new()
        .post(server.url("/api/v1/contacts/import"))
        .bearer_auth(&server.api_key)
        .multipart(Form::new().part("file", part));
    timed(request, rows).await
}

/// Sends an import request; returns wall seconds, CPU seconds and the answer's counts.
async fn timed(
    request: reqwest::RequestBuilder,
    rows: u64,
) -> Result<(f64, f64, Expected), BenchError> {
    let cpu_before = proc_stats::cpu_time(Pid::This)?;
    let started = Instant::now();
    let response = request.send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = (proc_stats::cpu_time(Pid::This)? - cpu_before).as_secs_f64();

    if !status.is_success() {
        return Err(BenchError::Status {
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body).chars().take(2000).collect(),
        });
    }
    let answer: Answer = serde_json::from_slice(&body)
        .map_err(|e| BenchError::Wrong(format!("unreadable import answer: {e}")))?;
    let summary = answer.import;
    if summary.state != "completed" || summary.rows_total != rows {
        return Err(BenchError::Wrong(format!(
            "import {} with {} of {rows} rows read",
            summary.state, summary.rows_total
        )));
    }
    Ok((
        seconds,
        cpu_seconds,
        Expected {
            created: summary.created,
            rejected: summary.rejected,
            duplicates: summary.duplicates,
        },
    ))
}

/// The part of the import answer the scenario checks.
#[derive(Deserialize)]
struct Answer {
    import: Summary,
}

#[derive(Deserialize)]
struct Summary {
    state: String,
    rows_total: u64,
    created: u64,
    rejected: u64,
    duplicates: u64,
}

/// What a file of some rows must produce on an empty database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub created: u64,
    pub rejected: u64,
    pub duplicates: u64,
}

impl Expected {
    pub fn for_rows(rows: u64) -> Expected {
        // Every 20th row is bad, the three kinds taking turns.
        let bad = rows / 20;
        let (invalid, missing, duplicate) = (bad.div_ceil(3), (bad + 1) / 3, bad / 3);
        Expected {
            created: rows - bad,
            rejected: invalid + missing,
            duplicates: duplicate,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowKind {
    Good,
    InvalidPhone,
    MissingPhone,
    /// Repeats the phone of the row before, which the import merges and reports.
    Duplicate,
}

fn row_kind(i: u64) -> RowKind {
    if i % 20 != 19 {
        return RowKind::Good;
    }
    match (i / 20) % 3 {
        0 => RowKind::InvalidPhone,
        1 => RowKind::MissingPhone,
        _ => RowKind::Duplicate,
    }
}

/// The CSV, header first, as chunks of about [`CHUNK_BYTES`].
pub struct CsvChunks {
    next_row: u64,
    rows: u64,
    header_sent: bool,
}

impl CsvChunks {
    pub fn new(rows: u64) -> CsvChunks {
        CsvChunks {
            next_row: 0,
            rows,
            header_sent: false,
        }
    }
}

impl Iterator for CsvChunks {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.header_sent && self.next_row >= self.rows {
            return None;
        }
        // A little headroom so the last row rarely makes the buffer grow.
        let mut buf = Vec::with_capacity(CHUNK_BYTES + 256);
        if !self.header_sent {
            write_line(&mut buf, &HEADER);
            self.header_sent = true;
        }
        while buf.len() < CHUNK_BYTES && self.next_row < self.rows {
            write_line(&mut buf, &row_cells(self.next_row));
            self.next_row += 1;
        }
        Some(Bytes::from(buf))
    }
}

/// Row `i`'s cells, in [`HEADER`]'s order.
fn row_cells(i: u64) -> [String; 6] {
    let phone = |n: u64| format!("+1415{:07}", 1_000_000 + n);
    let none = String::new;
    match row_kind(i) {
        RowKind::Good => [
            phone(i),
            format!("First{i}"),
            format!("Last, {i}"),
            format!("p{i}@example.com"),
            "wave1;csv".into(),
            "basic".into(),
        ],
        RowKind::InvalidPhone => [
            "call me maybe".into(),
            format!("Bad{i}"),
            "Row".into(),
            none(),
            none(),
            none(),
        ],
        RowKind::MissingPhone => [
            none(),
            format!("Missing{i}"),
            "Phone".into(),
            none(),
            none(),
            none(),
        ],
        RowKind::Duplicate => [
            phone(i - 1),
            format!("Dup{i}"),
            "Row".into(),
            none(),
            "extra".into(),
            none(),
        ],
    }
}

/// A CSV line; the generated cells hold no quotes, so quoting a cell with a comma is enough.
fn write_line<S: AsRef<str>>(buf: &mut Vec<u8>, cells: &[S]) {
    for (n, cell) in cells.iter().enumerate() {
        let cell = cell.as_ref();
        if n > 0 {
            buf.push(b',');
        }
        if cell.contains(',') {
            buf.push(b'"');
            buf.extend_from_slice(cell.as_bytes());
            buf.push(b'"');
        } else {
            buf.extend_from_slice(cell.as_bytes());
        }
    }
    buf.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rows: u64) -> String {
        let bytes: Vec<u8> = CsvChunks::new(rows).flat_map(|c| c.to_vec()).collect();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn expected_counts_match_the_generated_rows() {
        for rows in [0, 1, 19, 20, 59, 60, 61, 500, 1234, 100_000] {
            let (mut good, mut rejected, mut dups) = (0, 0, 0);
            for i in 0..rows {
                match row_kind(i) {
                    RowKind::Good => good += 1,
                    RowKind::InvalidPhone | RowKind::MissingPhone => rejected += 1,
                    RowKind::Duplicate => dups += 1,
                }
            }
            let expected = Expected::for_rows(rows);
            assert_eq!(
                (expected.created, expected.rejected, expected.duplicates),
                (good, rejected, dups),
                "{rows} rows"
            );
            assert_eq!(good + rejected + dups, rows);
        }
    }

    #[test]
    fn the_file_has_a_header_and_one_line_per_row() {
        let text = file(100);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 101);
        assert_eq!(lines[0], "phone,first_name,last_name,email,tags,plan");
        assert_eq!(
            lines[1],
            "+14151000000,First0,\"Last, 0\",p0@example.com,wave1;csv,basic"
        );
        assert_eq!(lines[20], "call me maybe,Bad19,Row,,,");
        assert_eq!(lines[40], ",Missing39,Phone,,,");
        assert_eq!(lines[60], "+14151000058,Dup59,Row,,extra,");
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn chunks_are_bounded_and_cover_every_row() {
        let chunks: Vec<Bytes> = CsvChunks::new(20_000).collect();
        assert!(chunks.len() > 1);
        assert!(chunks.iter().all(|c| c.len() < CHUNK_BYTES + 256));
        let lines: usize = chunks
            .iter()
            .map(|c| c.iter().filter(|b| **b == b'\n').count())
            .sum();
        assert_eq!(lines, 20_001);
        assert_eq!(CsvChunks::new(0).count(), 1, "an empty file is the header");
    }
}
