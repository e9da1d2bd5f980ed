//! `parley import`: contacts from a CSV or XLSX file or a Google Sheet, written straight
//! to the database through the same row mapping and batch writer as the API's import.
use crate::cli::ImportArgs;
use crate::database;
use anyhow::{bail, Context};
use parley_domain::import::ColumnMap;
use parley_domain::phone::Region;
use parley_engine::import::{
    check_campaign, foreign_format, is_xlsx, read_xlsx, BoundedCsv, LimitExceeded, RowWriter,
    Running, Table,
};
use parley_engine::settings::{ImportSettings, Settings};
use parley_engine::sheets::{spreadsheet_id, Sheets, FIRST_SHEET};
use parley_store::{ImportRecord, SheetOrigin, Store, StoreError};
use std::path::Path;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Problems printed; the rest are counted and paged from the API.
const SHOWN_PROBLEMS: u32 = 20;
const ACTOR: &str = "cli";

/// What was read, before any of it is written.
enum Source {
    Csv {
        reader: Box<dyn AsyncRead + Unpin + Send>,
        name: String,
    },
    Table {
        source: &'static str,
        name: String,
        table: Table,
        /// The Google Sheet read, which each contact remembers.
        origin: Option<SheetOrigin>,
    },
}

pub async fn run(settings: Settings, args: ImportArgs) -> anyhow::Result<()> {
    let region = Region::parse(
        args.region
            .as_deref()
            .unwrap_or(&settings.import.default_region),
    )
    .context("--region")?;
    let source = read(&settings, &args).await?;
    let store = database::open(&settings).await?;
    let result = import(&store, source, args.campaign, region, &settings.import).await;
    store.close().await;
    result
}

async fn read(settings: &Settings, args: &ImportArgs) -> anyhow::Result<Source> {
    if let Some(sheet) = &args.sheet {
        let id = spreadsheet_id(sheet)
            .context("--sheet: give the spreadsheet's id or its docs.google.com URL")?;
        let range = args.range.as_deref().unwrap_or(FIRST_SHEET);
        let sheets = Sheets::from_settings(&settings.google);
        let max_bytes = settings.import.max_upload_mb.saturating_mul(1024 * 1024);
        let values = sheets.client()?.values(id, range, max_bytes).await?;
        return Ok(Source::Table {
            source: "sheets",
            name: format!("{id} {range}"),
            origin: Some(SheetOrigin {
                spreadsheet_id: id.to_owned(),
                sheet_name: values.sheet,
                header_row: values.table.first_line,
            }),
            table: values.table,
        });
    }
    let path = args.file.as_deref().context("give a file or --sheet")?;
    let max_line_kb = settings.import.max_line_kb;
    if path == Path::new("-") {
        return Ok(Source::Csv {
            reader: Box::new(BoundedCsv::new(tokio::io::stdin(), max_line_kb)),
            name: "stdin".into(),
        });
    }
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    let mut file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut head = [0u8; 1024];
    let read = file.read(&mut head).await?;
    if let Some(kind) = foreign_format(&head[..read]) {
        bail!("{name} is {kind}, not a CSV or XLSX file");
    }
    let named_xlsx = name.to_ascii_lowercase().ends_with(".xlsx");
    if named_xlsx || is_xlsx(&head[..read]) {
        // A workbook is read whole, so it is held to the upload bound as the API's is.
        let limit_mb = settings.import.max_upload_mb;
        if file.metadata().await?.len() > limit_mb.saturating_mul(1024 * 1024) {
            return Err(LimitExceeded::Upload { limit_mb }.into());
        }
        let bytes = tokio::fs::read(path)
            .await
            .with_context(|| format!("cannot read {}", path.display()))?;
        let table = read_xlsx(bytes, &settings.import).await?;
        return Ok(Source::Table {
            source: "xlsx",
            name,
            table,
            origin: None,
        });
    }
    let file = tokio::fs::File::open(path).await?;
    Ok(Source::Csv {
        reader: Box::new(BoundedCsv::new(file, max_line_kb)),
        name,
    })
}

async fn import(
    store: &Store,
    source: Source,
    campaign_id: Option<i64>,
    region: Region,
    limits: &ImportSettings,
) -> anyhow::Result<()> {
    if let Some(id) = campaign_id {
        check_campaign(store, id)
            .await
            .with_context(|| format!("campaign {id}"))?;
    }
    let (import, written) = match source {
        Source::Table {
            source,
            name,
            table,
            origin,
        } => {
            let mut rows = table.rows.into_iter();
            let columns = header(rows.next().unwrap_or_default().iter().map(String::as_str))?;
            let import = Running::start(store, source, Some(&name), campaign_id, ACTOR).await?;
            let writer = RowWriter::new(store, &import.record, columns, region).from_sheet(origin);
            let written = writer
                .write_table(table.first_line, rows)
                .await
                .map_err(Stopped::from);
            (import, written)
        }
        Source::Csv { reader, name } => {
            let mut csv = csv_async::AsyncReaderBuilder::new()
                .flexible(true)
                .create_reader(reader);
            let first = csv.headers().await.map_err(|e| match read_error(&e) {
                Stopped::Limit(limit) => anyhow::Error::new(limit),
                _ => anyhow::Error::new(e).context("the first line"),
            })?;
            let columns = header(first.iter())?;
            let import = Running::start(store, "csv", Some(&name), campaign_id, ACTOR).await?;
            let writer = RowWriter::new(store, &import.record, columns, region);
            // A file that cannot be read further stops the import; one bad row does not.
            let written = writer
                .write_csv(&mut csv, limits.max_field_kb, |e| match e.kind() {
                    csv_async::ErrorKind::Io(_) => Some(read_error(e)),
                    _ => None,
                })
                .await;
            (import, written)
        }
    };
    let failure = written.as_ref().err().map(ToString::to_string);
    let record = import.finish(failure.as_deref()).await?;
    summarize(store, &record).await?;
    match failure {
        Some(reason) => bail!("import {} failed: {reason}", record.id),
        None => Ok(()),
    }
}

/// Why writing stopped part-way.
#[derive(Debug, thiserror::Error)]
enum Stopped {
    #[error("the file could not be read further: {0}")]
    Read(String),
    /// Worded as the API words it.
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A read that broke: a bound the file went past, or the file itself.
fn read_error(e: &csv_async::Error) -> Stopped {
    if let csv_async::ErrorKind::Io(io) = e.kind() {
        if let Some(limit) = io.get_ref().and_then(|i| i.downcast_ref::<LimitExceeded>()) {
            return Stopped::Limit(limit.clone());
        }
        return Stopped::Read(io.to_string());
    }
    Stopped::Read(e.to_string())
}

fn header<'c>(cells: impl IntoIterator<Item = &'c str>) -> anyhow::Result<ColumnMap> {
    ColumnMap::from_headers(cells).context("the first row is not a usable header")
}

async fn summarize(store: &Store, record: &ImportRecord) -> anyhow::Result<()> {
    println!(
        "import {} {}: {} rows read, {} new contacts, {} updated, {} duplicates merged, {} rejected",
        record.id,
        record.state,
        record.rows_total,
        record.created,
        record.updated,
        record.duplicates,
        record.rejected,
    );
    let problems = store
        .import_errors(record.id, 0, SHOWN_PROBLEMS + 1)
        .await?;
    for problem in problems.iter().take(SHOWN_PROBLEMS as usize) {
        println!(
            "  line {}: {}: {}",
            problem.line, problem.reason, problem.message
        );
    }
    if problems.len() > SHOWN_PROBLEMS as usize {
        let shown = problems[SHOWN_PROBLEMS as usize - 1].line;
        println!(
            "  more problems: GET /api/v1/imports/{}/errors?after_line={shown}",
            record.id
        );
    }
    Ok(())
}
