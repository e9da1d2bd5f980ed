//! Writes campaign results back to the Google Sheets their contacts came from. Every node
//! runs one writer; they share the queue through leases in the database (a node that dies
//! mid-write leaves a lease that runs out, and the rows are written again: writing the
//! same values twice changes nothing). Each pass takes the due rows of one spreadsheet,
//! reads the header row of each sheet involved, and writes every cell in one
//! `values:batchUpdate`. Requests are paced by a token bucket in the database shared by
//! every node, under Google's default quota of 60 write requests per minute per user per
//! project (and as many reads; https://developers.google.com/sheets/api/limits), and a
//! 429 or 5xx is retried with exponential backoff.
use crate::background::Stopping;
use crate::dialer::Clock;
use crate::events::LiveEvent;
use crate::sheets::{SheetsClient, WriteError};
use crate::Engine;
use parley_domain::time::to_millis;
use parley_store::{Bucket, ClaimedSheetWrite, SheetWriteVerdict, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

mod plan;
pub use plan::{plan_sheet, SheetPlan};

/// Rows written in one request at most (each row is a few cells).
const BATCH: i64 = 100;
/// A lease outlives a request's timeout (60 s) by this much, so it only runs out if the
/// node stopped.
const LEASE: Duration = Duration::from_secs(90);
/// The first retry waits this long; each further one twice as long, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// Longest error text kept.
const MAX_ERROR_CHARS: usize = 500;
/// The bucket every node takes a token from before each batch.
const BUCKET: &str = "google_sheets:requests";

/// The wait before retry number `attempts` (1-based): 30 s, 1 min, 2 min, … up to an
/// hour, stretched by up to 10% by `roll` (0..1) so nodes do not retry in step; never
/// less than what Google asked for.
pub fn backoff(attempts: u32, roll: f64, asked: Option<Duration>) -> Duration {
    let doubled = FIRST_BACKOFF.saturating_mul(1u32 << attempts.saturating_sub(1).min(16));
    let wait = doubled
        .min(MAX_BACKOFF)
        .mul_f64(1.0 + 0.1 * roll.clamp(0.0, 1.0));
    asked.map_or(wait, |asked| wait.max(asked))
}

pub struct SheetWriter {
    engine: Engine,
    /// Identifies this node's leases.
    node: String,
    clock: Clock,
}

impl SheetWriter {
    pub fn new(engine: Engine) -> SheetWriter {
        SheetWriter {
            node: engine.node.clone(),
            engine,
            clock: Arc::new(chrono::Utc::now),
        }
    }

    /// Judges due times, leases and the pace by `clock` instead of the system's.
    pub fn with_clock(mut self, clock: Clock) -> SheetWriter {
        self.clock = clock;
        self
    }

    fn now(&self) -> i64 {
        to_millis((self.clock)())
    }

    /// Writes due rows until the node stops (see [`crate::background`]).
    pub async fn run(self, mut stopping: Stopping) {
        tracing::info!(node = %self.node, "sheet writer started");
        let poll = Duration::from_millis(self.engine.settings.google.sheets_write_poll_ms);
        let mut events = self.engine.events.subscribe();
        loop {
            if let Err(e) = self.write_due().await {
                tracing::warn!(error = %e, "sheet write-back pass failed");
            }
            // A settlement that queues a write publishes its progress: look again then.
            let next = crate::events::wake_or_poll(&mut events, poll, |e| {
                matches!(e, LiveEvent::ProgressChanged { .. })
            });
            if !stopping.before_next(next).await {
                break;
            }
        }
    }

    /// Writes due rows, a spreadsheet at a time, while the pace allows. Returns how many
    /// rows were attempted. Without a client that can write, nothing is claimed: the rows
    /// wait, and the campaign shows the configuration error.
    pub async fn write_due(&self) -> Result<usize, StoreError> {
        let Some(client) = self.engine.sheets.client().ok() else {
            return Ok(0);
        };
        if client.can_write().is_err() {
            return Ok(0);
        }
        let google = &self.engine.settings.google;
        let per_minute = f64::from(google.sheets_requests_per_minute.max(1));
        let bucket = Bucket {
            key: BUCKET.into(),
            rate: per_minute / 60.0,
            burst: (per_minute / 10.0).max(1.0),
        };
        let mut attempted = 0;
        loop {
            let now = self.now();
            if !self.engine.store.sheet_writes_due(now).await? {
                return Ok(attempted);
            }
            if self
                .engine
                .store
                .take_tokens(std::slice::from_ref(&bucket), 1, now)
                .await?
                == 0
            {
                return Ok(attempted); // the next pass goes on once the bucket refills
            }
            let lease_until = now + LEASE.as_millis() as i64;
            let batch = self
                .engine
                .store
                .claim_due_sheet_writes(&self.node, now, lease_until, BATCH)
                .await?;
            if batch.is_empty() {
                return Ok(attempted);
            }
            attempted += batch.len();
            self.write_batch(client, &batch).await?;
        }
    }

    /// Writes one spreadsheet's rows and records the verdict on each.
    async fn write_batch(
        &self,
        client: &SheetsClient,
        batch: &[ClaimedSheetWrite],
    ) -> Result<(), StoreError> {
        let spreadsheet_id = &batch[0].spreadsheet_id;
        let result = self.write(client, spreadsheet_id, batch).await;
        let now = self.now();
        let error = result.as_ref().err().map(|e| {
            let text = parley_domain::mask_phone_numbers(&e.to_string()).into_owned();
            text.chars().take(MAX_ERROR_CHARS).collect::<String>()
        });
        // Rows share the request but not their schedule: each is judged by its attempts.
        let mut by_attempts: BTreeMap<i64, Vec<ClaimedSheetWrite>> = BTreeMap::new();
        for w in batch {
            by_attempts.entry(w.attempts).or_default().push(w.clone());
        }
        for (attempts, rows) in by_attempts {
            let verdict = self.verdict(&result, attempts.max(1) as u32, now);
            match verdict {
                SheetWriteVerdict::Written => {
                    tracing::info!(
                        rows = rows.len(),
                        attempt = attempts,
                        "sheet rows written back"
                    )
                }
                SheetWriteVerdict::Failed => {
                    tracing::warn!(rows = rows.len(), attempt = attempts, error = ?error, "sheet write-back given up")
                }
                SheetWriteVerdict::RetryAt(at) => {
                    tracing::info!(rows = rows.len(), attempt = attempts, retry_at = at, error = ?error, "sheet write-back failed; will retry")
                }
            }
            self.engine
                .store
                .finish_sheet_writes(&self.node, &rows, verdict, error.as_deref(), now)
                .await?;
        }
        let mut campaigns: Vec<i64> = batch.iter().map(|w| w.campaign_id).collect();
        campaigns.sort_unstable();
        campaigns.dedup();
        for campaign_id in campaigns {
            self.engine
                .events
                .publish(LiveEvent::SheetWritesChanged { campaign_id });
        }
        Ok(())
    }

    /// What becomes of rows at their attempt number `attempts` after `result`: written;
    /// failed when Google refused for good or the attempts are used up; else retried
    /// after a backoff (never sooner than Google asked).
    fn verdict(
        &self,
        result: &Result<(), WriteError>,
        attempts: u32,
        now: i64,
    ) -> SheetWriteVerdict {
        let max_attempts = self.engine.settings.google.sheets_write_attempts;
        match result {
            Ok(()) => SheetWriteVerdict::Written,
            Err(WriteError::Refused(_)) => SheetWriteVerdict::Failed,
            Err(_) if attempts >= max_attempts => SheetWriteVerdict::Failed,
            Err(e) => {
                let asked = match e {
                    WriteError::Transient { retry_after, .. } => *retry_after,
                    _ => None,
                };
                let wait = backoff(attempts, rand::random::<f64>(), asked);
                SheetWriteVerdict::RetryAt(now + wait.as_millis() as i64)
            }
        }
    }

    /// Reads each sheet's header row, then writes the headers to create and every cell
    /// in one request.
    async fn write(
        &self,
        client: &SheetsClient,
        spreadsheet_id: &str,
        batch: &[ClaimedSheetWrite],
    ) -> Result<(), WriteError> {
        let mut by_sheet: BTreeMap<(&str, i64), Vec<&ClaimedSheetWrite>> = BTreeMap::new();
        for write in batch {
            by_sheet
                .entry((write.sheet_name.as_str(), write.header_row))
                .or_default()
                .push(write);
        }
        let mut cells = Vec::new();
        for ((sheet, header_row), writes) in by_sheet {
            let existing = client.header_row(spreadsheet_id, sheet, header_row).await?;
            let plan = plan_sheet(sheet, header_row, &existing, &writes);
            if !plan.created_headers.is_empty() {
                tracing::info!(headers = ?plan.created_headers, "creating header cells");
            }
            cells.extend(plan.cells);
        }
        if cells.is_empty() {
            return Ok(());
        }
        client.batch_update(spreadsheet_id, &cells).await
    }
}

impl Engine {
    /// Why results cannot be written back to Google Sheets as Parley is configured, if
    /// they cannot: shown on campaigns that write back.
    pub fn sheet_write_problem(&self) -> Option<String> {
        match self.sheets.client() {
            Err(e) => Some(format!("Google Sheets write-back is not configured: {e}")),
            Ok(client) => client.can_write().err().map(|e| e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_and_honour_what_google_asks() {
        assert_eq!(backoff(1, 0.0, None), Duration::from_secs(30));
        assert_eq!(backoff(2, 0.0, None), Duration::from_secs(60));
        assert_eq!(backoff(3, 1.0, None), Duration::from_secs(132));
        assert_eq!(backoff(30, 0.0, None), MAX_BACKOFF);
        assert_eq!(
            backoff(1, 0.0, Some(Duration::from_secs(90))),
            Duration::from_secs(90)
        );
    }
}
