//! Google Sheets write-back queue. A settled call of a campaign that writes back queues
//! its contact's cells with [`Tx::queue_sheet_write`], inside the transaction that settles
//! it: if the settlement commits, so does the write. There is one row per (campaign,
//! contact): a newer settlement replaces the values still waiting, so only the latest
//! are ever written. Workers claim due rows of one spreadsheet at a time with a lease
//! (row locks on PostgreSQL, the single writer on SQLite), like the webhook outbox; a
//! worker that dies mid-write leaves a lease that runs out, and the row is written again.
use crate::tx::{execute, on_conn};
use crate::{on_reader, on_writer, Pools, Result, Store, StoreError, Tx};
use parley_domain::write_back::{SheetWriteBack, WriteBackFacts};
use serde::Serialize;

/// Where a contact imported from a Google Sheet came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetOrigin {
    pub spreadsheet_id: String,
    /// The sheet's (tab's) title.
    pub sheet_name: String,
    /// The row the header is on (1 unless the imported range started lower).
    pub header_row: i64,
}

/// A write claimed by a worker: the cells of one sheet row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedSheetWrite {
    pub id: i64,
    pub campaign_id: i64,
    pub contact_id: i64,
    pub spreadsheet_id: String,
    pub sheet_name: String,
    pub row_number: i64,
    pub header_row: i64,
    /// `(header, value)` in the campaign's column order.
    pub cells: Vec<(String, String)>,
    pub version: i64,
    /// Counting this one.
    pub attempts: i64,
}

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: i64,
    campaign_id: i64,
    contact_id: i64,
    spreadsheet_id: String,
    sheet_name: String,
    row_number: i64,
    header_row: i64,
    cells: String,
    version: i64,
    attempts: i64,
}

/// What became of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SheetWriteVerdict {
    Written,
    /// Try again at this time (epoch ms).
    RetryAt(i64),
    /// Given up: the reason is kept and shown.
    Failed,
}

/// A campaign's write-back queue at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SheetWriteCounts {
    /// Waiting to be written (for the first time, or again after a failed attempt).
    pub pending: i64,
    /// Of those, how many failed at least once and wait for a retry.
    pub retrying: i64,
    pub written: i64,
    /// Given up (every attempt failed, or Google refused for good).
    pub failed: i64,
    pub last_error: Option<String>,
    /// Epoch ms.
    pub last_error_at: Option<i64>,
    /// Epoch ms.
    pub last_written_at: Option<i64>,
}

const CLAIMED_COLUMNS: &str = "id, campaign_id, contact_id, spreadsheet_id, sheet_name, \
     row_number, header_row, cells, version, attempts";
const DUE: &str = "state IN ('pending', 'retrying') AND next_attempt_at <= $1";

impl Tx {
    /// Queues the cells `write_back` makes of a settled call for its contact's sheet row,
    /// replacing values of the same contact still waiting. Contacts that did not come from
    /// a sheet get nothing. Returns whether a write was queued.
    pub async fn queue_sheet_write(
        &mut self,
        campaign_id: i64,
        contact_id: i64,
        call_id: i64,
        write_back: &SheetWriteBack,
        now: i64,
    ) -> Result<bool> {
        if !write_back.enabled || write_back.columns.is_empty() {
            return Ok(false);
        }
        self.point("queue_sheet_write")?;
        type Origin = (Option<String>, Option<String>, Option<i64>, Option<i64>);
        let origin: Option<Origin> = on_conn!(self, c => sqlx::query_as(
            "SELECT sheet_spreadsheet_id, sheet_name, sheet_row, sheet_header_row FROM contacts \
             WHERE id = $1",
        )
        .bind(contact_id)
        .fetch_optional(c)
        .await)?;
        let Some((Some(spreadsheet_id), Some(sheet_name), Some(row), header_row)) = origin else {
            return Ok(false);
        };
        let facts = self
            .write_back_facts(campaign_id, contact_id, call_id, write_back)
            .await?;
        let cells = serde_json::to_string(&write_back.cells(&facts))
            .map_err(|e| StoreError::Corrupt(format!("sheet cells: {e}")))?;
        execute!(
            self,
            sqlx::query(
                "INSERT INTO sheet_writes (campaign_id, contact_id, call_id, spreadsheet_id, \
             sheet_name, row_number, header_row, cells, state, version, attempts, \
             next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 1, 0, $9, $9, $9) \
             ON CONFLICT (campaign_id, contact_id) DO UPDATE SET call_id = excluded.call_id, \
             spreadsheet_id = excluded.spreadsheet_id, sheet_name = excluded.sheet_name, \
             row_number = excluded.row_number, header_row = excluded.header_row, \
             cells = excluded.cells, state = 'pending', version = sheet_writes.version + 1, \
             attempts = 0, last_error = NULL, updated_at = excluded.updated_at, \
             next_attempt_at = CASE WHEN sheet_writes.lease_owner IS NOT NULL \
               AND sheet_writes.next_attempt_at > excluded.next_attempt_at \
               THEN sheet_writes.next_attempt_at ELSE excluded.next_attempt_at END",
            )
            .bind(campaign_id)
            .bind(contact_id)
            .bind(call_id)
            .bind(&spreadsheet_id)
            .bind(&sheet_name)
            .bind(row)
            .bind(header_row.unwrap_or(1))
            .bind(cells)
            .bind(now)
        )?;
        Ok(true)
    }

    /// What the settled call left: the contact's progress, the call, its data collection.
    async fn write_back_facts(
        &mut self,
        campaign_id: i64,
        contact_id: i64,
        call_id: i64,
        write_back: &SheetWriteBack,
    ) -> Result<WriteBackFacts> {
        type Row = (
            String,
            Option<i64>,
            Option<String>,
            Option<i64>,
            Option<String>,
        );
        let row: Option<Row> = on_conn!(self, c => sqlx::query_as(
            "SELECT cc.state, cc.next_attempt_at, COALESCE(cc.last_outcome, k.outcome), \
             COALESCE(k.ended_at, k.created_at), k.summary FROM campaign_contacts cc \
             JOIN calls k ON k.id = $3 WHERE cc.campaign_id = $1 AND cc.contact_id = $2",
        )
        .bind(campaign_id)
        .bind(contact_id)
        .bind(call_id)
        .fetch_optional(c)
        .await)?;
        let (status, next_attempt_at, outcome, last_call_at, summary) =
            row.ok_or(StoreError::NotFound)?;
        let mut facts = WriteBackFacts {
            // A scheduled contact's due time is its next attempt; the others have none.
            next_attempt_at: next_attempt_at.filter(|_| status == "scheduled"),
            status,
            outcome,
            last_call_at,
            summary,
            ..Default::default()
        };
        if write_back.reads_data_collection() {
            let items: Vec<(String, Option<String>)> = on_conn!(self, c => sqlx::query_as(
                "SELECT name, value FROM call_results WHERE call_id = $1 AND kind = 'data_collection'",
            )
            .bind(call_id)
            .fetch_all(c)
            .await)?;
            facts.data_collection = items.into_iter().collect();
        }
        Ok(facts)
    }
}

impl Store {
    /// Whether any write is due at `now`.
    pub async fn sheet_writes_due(&self, now: i64) -> Result<bool> {
        let due: Option<i64> = on_reader!(self, pool => sqlx::query_scalar(&format!(
            "SELECT id FROM sheet_writes WHERE {DUE} LIMIT 1"
        ))
        .bind(now)
        .fetch_optional(pool)
        .await)?;
        Ok(due.is_some())
    }

    /// Claims up to `limit` due writes of one spreadsheet (the one whose write is due
    /// longest) for `owner` until `lease_until`, counting the attempt. The lease is the due
    /// time: if the owner never reports back, the writes fall due again when it runs out.
    pub async fn claim_due_sheet_writes(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedSheetWrite>> {
        // SKIP LOCKED on PostgreSQL: other nodes take other rows; SQLite has one writer.
        let lock = match self.pools {
            Pools::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            Pools::Sqlite { .. } => "",
        };
        let sql = format!(
            "UPDATE sheet_writes SET next_attempt_at = $3, lease_owner = $4, \
             attempts = attempts + 1, updated_at = $1 WHERE id IN (SELECT id FROM sheet_writes \
               WHERE {DUE} AND spreadsheet_id = (SELECT spreadsheet_id FROM sheet_writes \
                 WHERE {DUE} ORDER BY next_attempt_at, id LIMIT 1) \
               ORDER BY next_attempt_at, id LIMIT $2{lock}) \
             RETURNING {CLAIMED_COLUMNS}"
        );
        let rows: Vec<ClaimedRow> = on_writer!(self, pool => sqlx::query_as(&sql)
            .bind(now)
            .bind(limit)
            .bind(lease_until)
            .bind(owner)
            .fetch_all(pool)
            .await)?;
        let mut claimed = rows
            .into_iter()
            .map(|r| {
                let cells = serde_json::from_str(&r.cells).map_err(|e| {
                    StoreError::Corrupt(format!("sheet write {}: cells: {e}", r.id))
                })?;
                Ok(ClaimedSheetWrite {
                    id: r.id,
                    campaign_id: r.campaign_id,
                    contact_id: r.contact_id,
                    spreadsheet_id: r.spreadsheet_id,
                    sheet_name: r.sheet_name,
                    row_number: r.row_number,
                    header_row: r.header_row,
                    cells,
                    version: r.version,
                    attempts: r.attempts,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        claimed.sort_by_key(|w| w.id);
        Ok(claimed)
    }

    /// Applies `verdict` to the writes `owner` still holds at the version it claimed.
    /// A write whose values were replaced while it was in flight is released instead, due
    /// at once with its new values. Returns how many took the verdict.
    pub async fn finish_sheet_writes(
        &self,
        owner: &str,
        writes: &[ClaimedSheetWrite],
        verdict: SheetWriteVerdict,
        error: Option<&str>,
        now: i64,
    ) -> Result<u64> {
        let (state, next, written) = match verdict {
            SheetWriteVerdict::Written => ("written", None, Some(now)),
            SheetWriteVerdict::RetryAt(at) => ("retrying", Some(at), None),
            SheetWriteVerdict::Failed => ("failed", None, None),
        };
        let mut tx = self.begin().await?;
        tx.point("finish_sheet_writes")?;
        let mut applied = 0;
        for w in writes {
            let done = execute!(tx, sqlx::query(
                "UPDATE sheet_writes SET state = $5, next_attempt_at = $6, lease_owner = NULL, \
                 last_error = $7, written_at = COALESCE($8, written_at), updated_at = $9 \
                 WHERE id = $1 AND lease_owner = $2 AND version = $3 AND attempts = $4",
            )
            .bind(w.id)
            .bind(owner)
            .bind(w.version)
            .bind(w.attempts)
            .bind(state)
            .bind(next)
            .bind(error)
            .bind(written)
            .bind(now))?;
            if done == 0 {
                execute!(tx, sqlx::query(
                    "UPDATE sheet_writes SET lease_owner = NULL, next_attempt_at = $4, updated_at = $4 \
                     WHERE id = $1 AND lease_owner = $2 AND version <> $3",
                )
                .bind(w.id)
                .bind(owner)
                .bind(w.version)
                .bind(now))?;
            }
            applied += done;
        }
        tx.commit().await?;
        Ok(applied)
    }

    /// Queues a campaign's failed writes again from scratch (after the sheet was shared
    /// or the configuration fixed). Returns how many.
    pub async fn retry_failed_sheet_writes(&self, campaign_id: i64, now: i64) -> Result<u64> {
        on_writer!(self, pool => sqlx::query(
            "UPDATE sheet_writes SET state = 'pending', attempts = 0, next_attempt_at = $2, \
             updated_at = $2 WHERE campaign_id = $1 AND state = 'failed'",
        )
        .bind(campaign_id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(StoreError::from)
    }

    /// A campaign's write-back queue: counts by state and the latest error.
    pub async fn sheet_write_counts(&self, campaign_id: i64) -> Result<SheetWriteCounts> {
        let by_state: Vec<(String, i64, Option<i64>)> = on_reader!(self, pool => sqlx::query_as(
            "SELECT state, COUNT(*), MAX(written_at) FROM sheet_writes WHERE campaign_id = $1 \
             GROUP BY state",
        )
        .bind(campaign_id)
        .fetch_all(pool)
        .await)?;
        let mut counts = SheetWriteCounts::default();
        for (state, n, written_at) in by_state {
            match state.as_str() {
                "pending" => counts.pending += n,
                "retrying" => {
                    counts.pending += n;
                    counts.retrying += n;
                }
                "written" => counts.written += n,
                "failed" => counts.failed += n,
                other => return Err(StoreError::Corrupt(format!("sheet write state {other}"))),
            }
            counts.last_written_at = counts.last_written_at.max(written_at);
        }
        let last: Option<(Option<String>, i64)> = on_reader!(self, pool => sqlx::query_as(
            "SELECT last_error, updated_at FROM sheet_writes WHERE campaign_id = $1 \
             AND last_error IS NOT NULL ORDER BY updated_at DESC, id DESC LIMIT 1",
        )
        .bind(campaign_id)
        .fetch_optional(pool)
        .await)?;
        if let Some((error, at)) = last {
            counts.last_error = error;
            counts.last_error_at = Some(at);
        }
        Ok(counts)
    }
}
