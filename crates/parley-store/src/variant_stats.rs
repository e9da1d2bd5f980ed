//! A campaign's call counts split by A/B variant. Unlike the hourly counters these are
//! summed from `calls`, through the partial index on (campaign, variant, created_at) of
//! migration 0021: one campaign's variant calls, never the whole table.
use crate::{on_reader, CallCounts, Result, StatsRange, Store};

/// One variant's counts (`variant` as the calls recorded it).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VariantCounts {
    pub variant: String,
    #[sqlx(flatten)]
    pub counts: CallCounts,
}

/// Each counter as one call contributes it: the definitions of `call_contributions`
/// (migration 0002), written so both backends read them alike.
const CONTRIBUTIONS: [(&str, &str); 12] = [
    ("dialed", "1"),
    (
        "answered",
        "CASE WHEN answered_at IS NOT NULL OR status = 'completed' THEN 1 ELSE 0 END",
    ),
    ("human", "CASE WHEN answered_by = 'human' THEN 1 ELSE 0 END"),
    (
        "machine",
        "CASE WHEN answered_by LIKE 'machine%' OR answered_by = 'fax' THEN 1 ELSE 0 END",
    ),
    (
        "conversations",
        "CASE WHEN outcome IN ('success', 'unsuccessful', 'conversation', 'opted_out') \
         THEN 1 ELSE 0 END",
    ),
    (
        "successful",
        "CASE WHEN outcome = 'success' THEN 1 ELSE 0 END",
    ),
    ("failed", "CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END"),
    (
        "no_answer",
        "CASE WHEN outcome = 'no_answer' THEN 1 ELSE 0 END",
    ),
    ("busy", "CASE WHEN outcome = 'busy' THEN 1 ELSE 0 END"),
    (
        "voicemail",
        "CASE WHEN outcome = 'voicemail' THEN 1 ELSE 0 END",
    ),
    ("duration_seconds", "COALESCE(duration_seconds, 0)"),
    (
        "billed_minutes",
        "(COALESCE(duration_seconds, 0) + 59) / 60",
    ),
];

impl Store {
    /// The counts of `range.campaign_id`'s calls per variant, by name; calls without a
    /// variant are left out. Empty without a campaign.
    pub async fn variant_call_counts(&self, range: &StatsRange) -> Result<Vec<VariantCounts>> {
        let Some(campaign_id) = range.campaign_id else {
            return Ok(Vec::new());
        };
        let sums = CONTRIBUTIONS
            .iter()
            .map(|(name, expr)| format!("CAST(COALESCE(SUM({expr}), 0) AS BIGINT) AS {name}"))
            .collect::<Vec<_>>()
            .join(", ");
        // Counted by the hour the call was created in, as the hourly counters are.
        let sql = format!(
            "SELECT variant, {sums} FROM calls WHERE campaign_id = $1 AND variant IS NOT NULL \
             AND created_at >= $2 AND created_at < $3 GROUP BY variant ORDER BY variant"
        );
        Ok(on_reader!(self, pool => sqlx::query_as(&sql)
            .bind(campaign_id)
            .bind(range.from - range.from.rem_euclid(3_600_000))
            .bind(range.to)
            .fetch_all(pool)
            .await)?)
    }
}
