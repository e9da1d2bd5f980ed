//! Bulk writes of calls that already happened (generated history for benchmarks and
//! demos). The analytics counters follow through the same triggers as every other write.
use crate::{on_writer, Result, Store, StoreError};
use parley_domain::call::{CallOutcome, CallStatus};
use sqlx::QueryBuilder;

/// A finished call, as it would be stored once every callback had arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct PastCall {
    pub campaign_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub to: String,
    pub from: String,
    pub status: CallStatus,
    pub answered_by: Option<String>,
    pub outcome: Option<CallOutcome>,
    pub duration_seconds: Option<i64>,
    /// UTC ms.
    pub created_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub summary: Option<String>,
    /// The agent's post-call analysis, as stored for live calls.
    pub analysis: Option<serde_json::Value>,
}

/// Rows per INSERT: 15 values each stays far below either backend's bind limit.
const ROWS_PER_INSERT: usize = 500;

impl Store {
    /// Writes `calls` in one transaction; returns how many were written.
    pub async fn insert_past_calls(&self, calls: &[PastCall]) -> Result<u64> {
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut written = 0;
            for chunk in calls.chunks(ROWS_PER_INSERT) {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO calls (campaign_id, contact_id, attempt, to_number, from_number, status, \
                     answered_by, outcome, duration_seconds, created_at, updated_at, answered_at, \
                     ended_at, summary, analysis) ",
                );
                qb.push_values(chunk, |mut b, c| {
                    b.push_bind(c.campaign_id)
                        .push_bind(c.contact_id)
                        .push_bind(1_i64)
                        .push_bind(&c.to)
                        .push_bind(&c.from)
                        .push_bind(c.status.as_str())
                        .push_bind(&c.answered_by)
                        .push_bind(c.outcome.map(CallOutcome::as_str))
                        .push_bind(c.duration_seconds)
                        .push_bind(c.created_at)
                        .push_bind(c.ended_at.unwrap_or(c.created_at))
                        .push_bind(c.answered_at)
                        .push_bind(c.ended_at)
                        .push_bind(&c.summary)
                        .push_bind(c.analysis.as_ref().map(|a| a.to_string()));
                });
                written += qb.build().execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
            Ok::<_, StoreError>(written)
        })
    }
}
