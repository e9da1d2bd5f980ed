//! `parley export`: calls or contacts as CSV or XLSX, read straight from the database
//! with the API's filters and the same writers (so the files are the API's files).
use crate::cli::{ExportCommand, ExportFormat};
use crate::database;
use anyhow::Context;
use parley_engine::exports::{self, Dataset, Format, Rows};
use parley_engine::settings::Settings;
use parley_store::{CallFilter, ContactFilter};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

pub async fn run(settings: Settings, command: ExportCommand) -> anyhow::Result<()> {
    let (dataset, output) = match command {
        ExportCommand::Calls(a) => (
            Dataset::Calls {
                filter: CallFilter {
                    campaign_id: a.campaign,
                    contact_id: a.contact,
                    status: a.status,
                    outcome: a.outcome,
                    created_from: a.from,
                    created_to: a.to,
                    results: a.results,
                    // Test calls are no campaign's results (the API's `include_test`).
                    test: Some(false),
                },
                transcript: a.transcript,
            },
            a.output,
        ),
        ExportCommand::Contacts(a) => (
            Dataset::Contacts {
                filter: ContactFilter {
                    tag: a.tag,
                    q: a.search,
                    created_from: a.from,
                    created_to: a.to,
                    campaign_id: a.campaign,
                },
            },
            a.output,
        ),
    };
    let format = match output.format {
        ExportFormat::Csv => Format::Csv,
        ExportFormat::Xlsx => Format::Xlsx,
    };
    let store = database::open(&settings).await?;
    let result = export(&store, dataset, format, &output.output).await;
    store.close().await;
    let rows = result?;
    eprintln!("exported {rows} rows to {}", output.output.display());
    Ok(())
}

/// `FILE.partial`, renamed to `FILE` once complete: a failed export leaves no file
/// that looks whole.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

async fn export(
    store: &parley_store::Store,
    dataset: Dataset,
    format: Format,
    path: &Path,
) -> anyhow::Result<u64> {
    let sheet = dataset.name();
    exports::audit(store, "cli", &dataset, format).await?;
    let rows = Rows::open(
        store.clone(),
        dataset,
        exports::ExportSlots::default().take()?,
    )
    .await?;
    let partial = partial_path(path);
    let written = match format {
        Format::Csv => write_csv(rows, &partial).await,
        Format::Xlsx => {
            let dir = partial
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf();
            let counted = exports::write_xlsx(rows, sheet, &dir)
                .await
                .context("cannot write the workbook")?;
            let (mut file, count) = (counted.file, counted.rows);
            let copied = tokio::task::spawn_blocking({
                let partial = partial.clone();
                move || -> std::io::Result<()> {
                    let mut out = std::fs::File::create(&partial)?;
                    std::io::copy(&mut file, &mut out)?;
                    out.sync_all()
                }
            })
            .await?;
            copied
                .with_context(|| format!("cannot write {}", partial.display()))
                .map(|()| count)
        }
    };
    match written {
        Ok(count) => {
            tokio::fs::rename(&partial, path)
                .await
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(count)
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            Err(e)
        }
    }
}

async fn write_csv(mut rows: Rows, path: &Path) -> anyhow::Result<u64> {
    let mut out = tokio::io::BufWriter::new(
        tokio::fs::File::create(path)
            .await
            .with_context(|| format!("cannot create {}", path.display()))?,
    );
    out.write_all(&exports::header_bytes(rows.header())?)
        .await?;
    let mut count = 0u64;
    while let Some(page) = rows.next_page().await? {
        count += page.len() as u64;
        out.write_all(&exports::page_bytes(&page)?).await?;
    }
    out.flush().await?;
    out.into_inner().sync_all().await?;
    Ok(count)
}
