//! Per-call quality figures (written once, with the end of the bridged call) and their
//! counts per campaign and UTC hour, so the rolling 30-day abandonment rate reads at most
//! 720 counter rows whatever the call volume.
use crate::tx::{execute, on_conn, own_reader, own_tx};
use crate::{on_reader, Db, Result, Store, Tx};
use parley_domain::quality::{CallQuality, QualityCounts};
use parley_domain::time::now_millis;
use sqlx::QueryBuilder;
use std::collections::HashMap;

const HOUR_MS: i64 = 3_600_000;

const QUALITY_COLUMNS: &str = "frames_from_caller, frames_to_agent, frames_from_agent, \
     frames_to_caller, caller_gaps, interruptions, first_audio_ms, response_ms_mean, responses, \
     added_latency_p50_us, added_latency_p99_us, added_latency_max_us, live_answered, abandoned";

#[derive(sqlx::FromRow)]
struct QualityRow {
    call_id: i64,
    frames_from_caller: i64,
    frames_to_agent: i64,
    frames_from_agent: i64,
    frames_to_caller: i64,
    caller_gaps: i64,
    interruptions: i64,
    first_audio_ms: Option<i64>,
    response_ms_mean: Option<f64>,
    responses: i64,
    added_latency_p50_us: Option<i64>,
    added_latency_p99_us: Option<i64>,
    added_latency_max_us: Option<i64>,
    live_answered: bool,
    abandoned: bool,
}

impl From<QualityRow> for CallQuality {
    fn from(r: QualityRow) -> CallQuality {
        CallQuality {
            frames_from_caller: r.frames_from_caller,
            frames_to_agent: r.frames_to_agent,
            frames_from_agent: r.frames_from_agent,
            frames_to_caller: r.frames_to_caller,
            caller_gaps: r.caller_gaps,
            interruptions: r.interruptions,
            first_audio_ms: r.first_audio_ms,
            response_ms_mean: r.response_ms_mean,
            responses: r.responses,
            added_latency_p50_us: r.added_latency_p50_us,
            added_latency_p99_us: r.added_latency_p99_us,
            added_latency_max_us: r.added_latency_max_us,
            live_answered: r.live_answered,
            abandoned: r.abandoned,
        }
    }
}

impl Tx {
    /// Stores a call's quality figures, answered at `answered_at` (epoch ms), and adds
    /// them to its campaign's counters for that hour. A call has one record: a second
    /// changes nothing and returns false.
    pub async fn record_call_quality(
        &mut self,
        call_id: i64,
        campaign_id: Option<i64>,
        answered_at: i64,
        q: &CallQuality,
    ) -> Result<bool> {
        self.point("record_call_quality")?;
        let sql = format!(
            "INSERT INTO call_quality (call_id, campaign_id, answered_at, created_at, {QUALITY_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
             ON CONFLICT (call_id) DO NOTHING"
        );
        let inserted = execute!(
            self,
            sqlx::query(&sql)
                .bind(call_id)
                .bind(campaign_id)
                .bind(answered_at)
                .bind(now_millis())
                .bind(q.frames_from_caller)
                .bind(q.frames_to_agent)
                .bind(q.frames_from_agent)
                .bind(q.frames_to_caller)
                .bind(q.caller_gaps)
                .bind(q.interruptions)
                .bind(q.first_audio_ms)
                .bind(q.response_ms_mean)
                .bind(q.responses)
                .bind(q.added_latency_p50_us)
                .bind(q.added_latency_p99_us)
                .bind(q.added_latency_max_us)
                .bind(q.live_answered)
                .bind(q.abandoned)
        )? == 1;
        if let (true, Some(campaign_id)) = (inserted, campaign_id) {
            self.point("count_call_quality")?;
            let c = QualityCounts::of(q);
            execute!(
                self,
                sqlx::query(
                    "INSERT INTO campaign_quality_hourly (campaign_id, hour, calls, live_answered, \
                     abandoned, slow_first_audio, slow_relay) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (campaign_id, hour) DO UPDATE SET \
                     calls = campaign_quality_hourly.calls + excluded.calls, \
                     live_answered = campaign_quality_hourly.live_answered + excluded.live_answered, \
                     abandoned = campaign_quality_hourly.abandoned + excluded.abandoned, \
                     slow_first_audio = campaign_quality_hourly.slow_first_audio + excluded.slow_first_audio, \
                     slow_relay = campaign_quality_hourly.slow_relay + excluded.slow_relay",
                )
                .bind(campaign_id)
                .bind(answered_at - answered_at.rem_euclid(HOUR_MS))
                .bind(c.calls)
                .bind(c.live_answered)
                .bind(c.abandoned)
                .bind(c.slow_first_audio)
                .bind(c.slow_relay)
            )?;
        }
        Ok(inserted)
    }
}

own_tx! {
    fn record_call_quality(call_id: i64, campaign_id: Option<i64>, answered_at: i64, q: &CallQuality) -> bool;
}

impl Db {
    /// A call's quality figures; `None` for a call that was never bridged (or not yet over).
    pub async fn call_quality(&mut self, call_id: i64) -> Result<Option<CallQuality>> {
        let sql = format!("SELECT call_id, {QUALITY_COLUMNS} FROM call_quality WHERE call_id = $1");
        let row: Option<QualityRow> = on_conn!(self, c => sqlx::query_as(&sql)
            .bind(call_id)
            .fetch_optional(c)
            .await)?;
        Ok(row.map(CallQuality::from))
    }

    /// A campaign's counts over the calls answered from the UTC hour holding `since`
    /// (epoch ms) on.
    pub async fn campaign_quality_counts(
        &mut self,
        campaign_id: i64,
        since: i64,
    ) -> Result<QualityCounts> {
        let row: (i64, i64, i64, i64, i64) = on_conn!(self, c => sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(calls), 0) AS BIGINT), CAST(COALESCE(SUM(live_answered), 0) AS BIGINT), \
             CAST(COALESCE(SUM(abandoned), 0) AS BIGINT), CAST(COALESCE(SUM(slow_first_audio), 0) AS BIGINT), \
             CAST(COALESCE(SUM(slow_relay), 0) AS BIGINT) \
             FROM campaign_quality_hourly WHERE campaign_id = $1 AND hour >= $2",
        )
        .bind(campaign_id)
        .bind(since - since.rem_euclid(HOUR_MS))
        .fetch_one(c)
        .await)?;
        Ok(counts(row))
    }

    /// Every campaign's counts since `since`, by campaign id (campaigns without bridged
    /// calls in the window are left out).
    pub async fn all_campaign_quality_counts(
        &mut self,
        since: i64,
    ) -> Result<Vec<(i64, QualityCounts)>> {
        let rows: Vec<(i64, i64, i64, i64, i64, i64)> = on_conn!(self, c => sqlx::query_as(
            "SELECT campaign_id, CAST(SUM(calls) AS BIGINT), CAST(SUM(live_answered) AS BIGINT), \
             CAST(SUM(abandoned) AS BIGINT), CAST(SUM(slow_first_audio) AS BIGINT), \
             CAST(SUM(slow_relay) AS BIGINT) \
             FROM campaign_quality_hourly WHERE hour >= $1 GROUP BY campaign_id ORDER BY campaign_id",
        )
        .bind(since - since.rem_euclid(HOUR_MS))
        .fetch_all(c)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(id, a, b, c, d, e)| (id, counts((a, b, c, d, e))))
            .collect())
    }
}

fn counts(
    (calls, live_answered, abandoned, slow_first_audio, slow_relay): (i64, i64, i64, i64, i64),
) -> QualityCounts {
    QualityCounts {
        calls,
        live_answered,
        abandoned,
        slow_first_audio,
        slow_relay,
    }
}

own_reader! {
    fn call_quality(call_id: i64) -> Option<CallQuality>;
    fn campaign_quality_counts(campaign_id: i64, since: i64) -> QualityCounts;
    fn all_campaign_quality_counts(since: i64) -> Vec<(i64, QualityCounts)>;
}

impl Store {
    /// The quality figures of each of `call_ids` that has them (a page of an export).
    pub async fn qualities_of(&self, call_ids: &[i64]) -> Result<HashMap<i64, CallQuality>> {
        if call_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<QualityRow> = on_reader!(self, pool => {
            let mut qb = QueryBuilder::new(format!(
                "SELECT call_id, {QUALITY_COLUMNS} FROM call_quality WHERE call_id IN ("
            ));
            let mut sep = qb.separated(", ");
            for id in call_ids {
                sep.push_bind(*id);
            }
            sep.push_unseparated(")");
            qb.build_query_as().fetch_all(pool).await
        })?;
        Ok(rows.into_iter().map(|r| (r.call_id, r.into())).collect())
    }
}
