//! The `export` scenario: N generated calls in one campaign, each with an agent analysis
//! (three data-collection items, one evaluation criterion) and a summary, written in bulk;
//! then the campaign's calls exported through `GET /api/v1/calls/export`, as CSV and as
//! XLSX, the body read and counted as it arrives.
//!
//! The server runs in this process; the client keeps nothing of the body but counts, so
//! the resident memory sampled during each export is the server's.
use crate::proc_stats::{self, PeakSampler, Pid};
use crate::report::{figure, Row};
use crate::server::{BenchServer, Launch};
use crate::{BenchError, Db};
use futures::StreamExt;
use parley_domain::call::{CallOutcome, CallStatus};
use parley_domain::campaign::CampaignSettings;
use parley_domain::time::now_millis;
use parley_store::{NewCampaign, PastCall, Store};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::{Duration, Instant};

pub const SCENARIO: &str = "export";
pub const DEFAULT_CALLS: u64 = 2_000;
pub const MAX_CALLS: u64 = 5_000_000;
/// Calls written per transaction.
const BATCH: usize = 5_000;
/// How often the resident memory is sampled during an export.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);
pub const FORMATS: [&str; 2] = ["csv", "xlsx"];

#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Starts the node under test.
    pub launch: Launch,
    pub calls: u64,
    pub db: Db,
    /// Admin URL of the PostgreSQL server on which a fresh database is made.
    pub postgres_url: String,
}

/// One export of one backend: a row of `results`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportResult {
    pub db: Db,
    pub format: String,
    pub rows: u64,
    /// From the request to the last byte of the body.
    pub seconds: f64,
    pub rows_per_sec: f64,
    pub megabytes: f64,
    /// Resident memory of the process when the export started (after the seeding).
    pub rss_before_mb: f64,
    /// The highest resident memory sampled during the export.
    pub peak_rss_mb: f64,
    /// Seconds to write the calls (the same for both formats of a backend).
    pub seed_seconds: f64,
}

impl Row for ExportResult {
    fn headings() -> &'static [&'static str] {
        &[
            "db",
            "format",
            "rows",
            "seconds",
            "rows/s",
            "MB",
            "RSS before MB",
            "peak RSS MB",
            "seed s",
        ]
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.db.to_string(),
            self.format.clone(),
            self.rows.to_string(),
            figure(self.seconds),
            figure(self.rows_per_sec),
            figure(self.megabytes),
            figure(self.rss_before_mb),
            figure(self.peak_rss_mb),
            figure(self.seed_seconds),
        ]
    }
}

/// Seeds a fresh database of `options.db` and exports it in each format.
pub async fn run(options: &ExportOptions) -> Result<Vec<ExportResult>, BenchError> {
    let server = BenchServer::start_with(options.launch, options.db, &options.postgres_url, |s| {
        s.dialer.enabled = false
    })
    .await?;
    let measured = seed_and_export(&server, options).await;
    let stopped = server.stop().await;
    let results = measured?;
    stopped?;
    Ok(results)
}

async fn seed_and_export(
    server: &BenchServer,
    options: &ExportOptions,
) -> Result<Vec<ExportResult>, BenchError> {
    let started = Instant::now();
    let campaign = seed(&server.store, options.calls).await?;
    let seed_seconds = started.elapsed().as_secs_f64();
    let http = reqwest::Client::new();
    let mut results = Vec::new();
    for format in FORMATS {
        let url = server.url(&format!(
            "/api/v1/calls/export?campaign_id={campaign}&format={format}"
        ));
        let rss_before = proc_stats::memory(Pid::This)?.rss;
        let sampler = PeakSampler::start(Pid::This, SAMPLE_EVERY);
        let started = Instant::now();
        let response = http.get(&url).bearer_auth(&server.api_key).send().await?;
        let status = response.status().as_u16();
        if status != 200 {
            let body = response.text().await.unwrap_or_default();
            return Err(BenchError::Status { status, body });
        }
        let (mut bytes, mut newlines, mut head) = (0u64, 0u64, Vec::new());
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            if head.len() < 4 {
                head.extend(chunk.iter().take(4 - head.len()));
            }
            bytes += chunk.len() as u64;
            newlines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        }
        let seconds = started.elapsed().as_secs_f64();
        let peak = sampler.stop().max(rss_before);
        // The generated cells hold no line breaks: a CSV line is a row.
        let rows = match format {
            "csv" => newlines.saturating_sub(1),
            _ => options.calls,
        };
        if rows != options.calls || (format == "xlsx" && !head.starts_with(b"PK")) {
            return Err(BenchError::Wrong(format!(
                "the {format} export holds {rows} rows ({bytes} bytes); {} calls were written",
                options.calls
            )));
        }
        results.push(ExportResult {
            db: options.db,
            format: format.to_owned(),
            rows,
            seconds,
            rows_per_sec: rows as f64 / seconds,
            megabytes: bytes as f64 / 1e6,
            rss_before_mb: proc_stats::mib(rss_before),
            peak_rss_mb: proc_stats::mib(peak),
            seed_seconds,
        });
    }
    Ok(results)
}

/// Writes one campaign of `calls` answered calls with analyses; returns its id.
async fn seed(store: &Store, calls: u64) -> Result<i64, BenchError> {
    let campaign = store
        .create_campaign(
            &NewCampaign {
                name: "Bench export".into(),
                description: None,
                settings: CampaignSettings::default(),
            },
            "bench",
        )
        .await?;
    let now = now_millis();
    let mut batch = Vec::with_capacity(BATCH);
    for n in 0..calls {
        batch.push(call(campaign.id, n, now));
        if batch.len() == BATCH {
            store.insert_past_calls(&batch).await?;
            batch.clear();
        }
    }
    store.insert_past_calls(&batch).await?;
    Ok(campaign.id)
}

fn call(campaign_id: i64, n: u64, now: i64) -> PastCall {
    let created_at = now - (n as i64) * 1_000;
    let seconds = 30 + (n % 300) as i64;
    PastCall {
        campaign_id: Some(campaign_id),
        contact_id: None,
        to: format!("+1555{:07}", n % 10_000_000),
        from: "+15005550006".into(),
        status: CallStatus::Completed,
        answered_by: Some("human".into()),
        outcome: Some(CallOutcome::Success),
        duration_seconds: Some(seconds),
        created_at,
        answered_at: Some(created_at + 8_000),
        ended_at: Some(created_at + 8_000 + seconds * 1_000),
        summary: Some(format!(
            "The callee agreed to a demo on day {} and asked for an email.",
            n % 28 + 1
        )),
        analysis: Some(json!({
            "call_successful": "success",
            "termination_reason": "end_call tool was called",
            "data_collection_results": {
                "callback_time": {"data_collection_id": "callback_time", "value": format!("day {} 10:00", n % 28 + 1)},
                "seats": {"data_collection_id": "seats", "value": n % 50},
                "interested": {"data_collection_id": "interested", "value": n % 3 != 0}
            },
            "evaluation_criteria_results": {
                "goal_met": {"criteria_id": "goal_met", "result": "success", "rationale": "booked"}
            }
        })),
    }
}
