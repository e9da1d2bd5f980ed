//! Call analytics from the hourly counters in `call_stats_hourly`, which triggers keep in
//! step with every write to `calls` (migration 0002). Reads never scan `calls`, so they
//! cost the same at a thousand calls and at a million.
use crate::{on_reader, Result, Store};
use parley_domain::call::CallStatus;
use sqlx::QueryBuilder;

const HOUR_MS: i64 = 3_600_000;

/// The counter columns, in the order of [`CallCounts`]' fields.
const COUNTERS: [&str; 12] = [
    "dialed",
    "answered",
    "human",
    "machine",
    "conversations",
    "successful",
    "failed",
    "no_answer",
    "busy",
    "voicemail",
    "duration_seconds",
    "billed_minutes",
];

/// Which calls to count: created in `[from, to)` (UTC ms, counted by the hour the call
/// was created in: `from` is rounded down to its hour), of one campaign or of all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsRange {
    pub from: i64,
    pub to: i64,
    pub campaign_id: Option<i64>,
}

impl StatsRange {
    fn first_hour(&self) -> i64 {
        self.from - self.from.rem_euclid(HOUR_MS)
    }

    /// Campaign id 0 holds every call.
    fn scope(&self) -> i64 {
        self.campaign_id.unwrap_or(0)
    }
}

/// What happened to a set of calls. The definitions are the migration's, documented in
/// the API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct CallCounts {
    pub dialed: i64,
    pub answered: i64,
    pub human: i64,
    pub machine: i64,
    pub conversations: i64,
    pub successful: i64,
    pub failed: i64,
    pub no_answer: i64,
    pub busy: i64,
    pub voicemail: i64,
    pub duration_seconds: i64,
    /// Each call's duration rounded up to whole minutes, summed.
    pub billed_minutes: i64,
}

/// The counts of calls created in one UTC hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct HourCounts {
    /// Start of the UTC hour (UTC ms).
    pub hour: i64,
    #[sqlx(flatten)]
    pub counts: CallCounts,
}

/// One campaign's counts.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CampaignCounts {
    pub campaign_id: i64,
    pub name: String,
    pub state: String,
    #[sqlx(flatten)]
    pub counts: CallCounts,
}

/// `SUM(c) AS c, ...` for every counter, as BIGINT on both backends (PostgreSQL sums
/// BIGINT to NUMERIC), 0 when no row matches.
fn summed_counters(prefix: &str) -> String {
    COUNTERS
        .iter()
        .map(|c| format!("CAST(COALESCE(SUM({prefix}{c}), 0) AS BIGINT) AS {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Totals over a range.
    pub async fn call_counts(&self, range: &StatsRange) -> Result<CallCounts> {
        let sql = format!(
            "SELECT {} FROM call_stats_hourly WHERE campaign_id = $1 AND hour >= $2 AND hour < $3",
            summed_counters("")
        );
        Ok(on_reader!(self, pool => sqlx::query_as(&sql)
            .bind(range.scope())
            .bind(range.first_hour())
            .bind(range.to)
            .fetch_one(pool)
            .await)?)
    }

    /// Counts per UTC hour over a range, oldest first; hours without calls are left out.
    pub async fn call_counts_by_hour(&self, range: &StatsRange) -> Result<Vec<HourCounts>> {
        let sql = format!(
            "SELECT hour, {} FROM call_stats_hourly WHERE campaign_id = $1 AND hour >= $2 \
             AND hour < $3 AND dialed <> 0 ORDER BY hour",
            COUNTERS.join(", ")
        );
        Ok(on_reader!(self, pool => sqlx::query_as(&sql)
            .bind(range.scope())
            .bind(range.first_hour())
            .bind(range.to)
            .fetch_all(pool)
            .await)?)
    }

    /// Every campaign (newest first) with its counts over a range (`range.campaign_id`
    /// is ignored).
    pub async fn campaign_call_counts(&self, range: &StatsRange) -> Result<Vec<CampaignCounts>> {
        let sql = format!(
            "SELECT c.id AS campaign_id, c.name, c.state, {} FROM campaigns c \
             LEFT JOIN call_stats_hourly s ON s.campaign_id = c.id AND s.hour >= $1 AND s.hour < $2 \
             GROUP BY c.id, c.name, c.state ORDER BY c.id DESC",
            summed_counters("s.")
        );
        Ok(on_reader!(self, pool => sqlx::query_as(&sql)
            .bind(range.first_hour())
            .bind(range.to)
            .fetch_all(pool)
            .await)?)
    }

    /// Calls not yet over (queued, initiated, ringing, in progress), from the status index.
    pub async fn calls_in_progress(&self, campaign_id: Option<i64>) -> Result<i64> {
        let (n,): (i64,) = on_reader!(self, pool => {
            let mut qb = QueryBuilder::new("SELECT COUNT(*) FROM calls WHERE status IN (");
            let mut sep = qb.separated(", ");
            for s in CallStatus::ALL.iter().filter(|s| !s.is_final()) {
                sep.push_bind(s.as_str());
            }
            qb.push(")");
            if let Some(c) = campaign_id {
                // Unary plus keeps both planners on the status index (few calls are
                // unfinished) rather than the campaign index (a campaign has many calls).
                qb.push(" AND +campaign_id = ").push_bind(c);
            }
            qb.build_query_as().fetch_one(pool).await
        })?;
        Ok(n)
    }
}
