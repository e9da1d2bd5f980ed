//! What the metrics endpoint reads from the database at each scrape, and the pools' own
//! figures. Every query here is served by an index or a small table: a scrape every few
//! seconds must cost nothing that grows with the call history.
use crate::tx::{on_conn, own_reader};
use crate::{Db, Pools, Result, Store};

/// The database's view of the work in flight, for the whole account (every node).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkInFlight {
    /// Calls in progress per campaign (campaigns with none are left out).
    pub campaign_calls: Vec<(i64, i64)>,
    /// Calls placed on their own that are not over.
    pub single_calls: i64,
    /// Webhook deliveries waiting for their first attempt.
    pub deliveries_pending: i64,
    /// Webhook deliveries that failed and wait for a retry.
    pub deliveries_retrying: i64,
    /// Sheet write-back rows waiting for their first write.
    pub sheet_writes_pending: i64,
    /// Sheet write-back rows that failed and wait for a retry.
    pub sheet_writes_retrying: i64,
}

/// One connection pool as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// `write` or `read` on SQLite (one writer, several readers); `main` on PostgreSQL.
    pub pool: &'static str,
    pub open: u32,
    pub idle: u32,
}

impl Db {
    pub async fn work_in_flight(&mut self) -> Result<WorkInFlight> {
        let campaign_calls: Vec<(i64, i64)> = on_conn!(self, c => sqlx::query_as(
            "SELECT id, in_progress FROM campaigns WHERE in_progress > 0 ORDER BY id",
        )
        .fetch_all(c)
        .await)?;
        let single_calls = self.single_calls_in_progress().await?;
        // The partial index on due deliveries covers exactly these two states.
        let queued: Vec<(String, i64)> = on_conn!(self, c => sqlx::query_as(
            "SELECT state, COUNT(*) FROM webhook_deliveries \
              WHERE state IN ('pending', 'failed') GROUP BY state",
        )
        .fetch_all(c)
        .await)?;
        // So does the one on due sheet writes.
        let writes: Vec<(String, i64)> = on_conn!(self, c => sqlx::query_as(
            "SELECT state, COUNT(*) FROM sheet_writes \
              WHERE state IN ('pending', 'retrying') GROUP BY state",
        )
        .fetch_all(c)
        .await)?;
        let count = |rows: &[(String, i64)], state: &str| {
            rows.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n)
        };
        Ok(WorkInFlight {
            campaign_calls,
            single_calls,
            deliveries_pending: count(&queued, "pending"),
            deliveries_retrying: count(&queued, "failed"),
            sheet_writes_pending: count(&writes, "pending"),
            sheet_writes_retrying: count(&writes, "retrying"),
        })
    }
}

own_reader! {
    fn work_in_flight() -> WorkInFlight;
}

impl Store {
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        fn stats<DB: sqlx::Database>(pool: &'static str, p: &sqlx::Pool<DB>) -> PoolStats {
            PoolStats {
                pool,
                open: p.size(),
                idle: u32::try_from(p.num_idle()).unwrap_or(u32::MAX),
            }
        }
        match &self.pools {
            Pools::Sqlite { read, write } => vec![stats("write", write), stats("read", read)],
            Pools::Postgres(pool) => vec![stats("main", pool)],
        }
    }
}
