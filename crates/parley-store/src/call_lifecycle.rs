//! Writes that move a call through its life: carrier ids, status changes that never go
//! backwards, the media-stream token, who ended it, the agent's analysis, recordings.
use crate::calls::{CallRow, CALL_COLUMNS};
use crate::error::OptionalExt;
use crate::tx::{execute, on_conn, own_reader, own_tx};
use crate::{on_reader, Db, Result, Store, StoreError, Tx};
use parley_domain::call::{Call, CallOutcome, CallStatus, TerminationSource, TurnRole};
use parley_domain::time::now_millis;
use sqlx::QueryBuilder;

/// The call event that marks `call.completed` as queued for a call outside any campaign.
const COMPLETED_EVENT: &str = "completed";

/// A status reported by the carrier, with what came along with it.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub status: CallStatus,
    pub duration_seconds: Option<i64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// The agent's record of a finished conversation.
#[derive(Debug, Clone, Default)]
pub struct PostCall {
    pub summary: Option<String>,
    pub analysis: serde_json::Value,
    pub cost: Option<f64>,
    /// The full transcript; replaces the turns streamed live.
    pub turns: Vec<(TurnRole, String, Option<f64>)>,
}

#[derive(Debug, Clone)]
pub struct RecordingUpdate {
    pub recording_sid: String,
    pub status: String,
    pub path: Option<String>,
    pub content_type: Option<String>,
    pub channels: Option<i64>,
    pub duration_seconds: Option<i64>,
    pub size_bytes: Option<i64>,
}

impl Tx {
    /// Stores Twilio's call SID once the create request succeeded (or a callback that beat
    /// the create response carried it).
    pub async fn set_call_sid(&mut self, id: i64, sid: &str) -> Result<()> {
        self.point("set_call_sid")?;
        execute!(
            self,
            sqlx::query("UPDATE calls SET twilio_call_sid = $2, updated_at = $3 WHERE id = $1",)
                .bind(id)
                .bind(sid)
                .bind(now_millis())
        )
        .map_err(|e| StoreError::unique(e, "another call has this Twilio call SID"))?;
        Ok(())
    }

    /// Moves a call forward; a status that is not progress (a late or repeated callback)
    /// changes nothing. Returns the updated call when it moved.
    pub async fn advance_call_status(
        &mut self,
        id: i64,
        change: &StatusChange,
    ) -> Result<Option<Call>> {
        self.point("advance_call_status")?;
        let from: Vec<&'static str> = CallStatus::ALL
            .iter()
            .filter(|s| s.may_become(change.status))
            .map(|s| s.as_str())
            .collect();
        let now = now_millis();
        let answered = (change.status == CallStatus::InProgress).then_some(now);
        let ended = change.status.is_final().then_some(now);
        let row: Option<CallRow> = on_conn!(self, c => {
            let mut qb = QueryBuilder::new("UPDATE calls SET status = ");
            qb.push_bind(change.status.as_str())
                .push(", updated_at = ")
                .push_bind(now)
                .push(", answered_at = COALESCE(answered_at, ")
                .push_bind(answered)
                .push("), ended_at = COALESCE(ended_at, ")
                .push_bind(ended)
                .push("), duration_seconds = COALESCE(")
                .push_bind(change.duration_seconds)
                .push(", duration_seconds), error_code = COALESCE(")
                .push_bind(change.error_code.clone())
                .push(", error_code), error_message = COALESCE(error_message, ")
                .push_bind(change.error_message.clone())
                .push(") WHERE id = ")
                .push_bind(id)
                .push(" AND status IN (");
            let mut sep = qb.separated(", ");
            for s in &from {
                sep.push_bind(*s);
            }
            sep.push_unseparated(format!(") RETURNING {CALL_COLUMNS}"));
            qb.build_query_as().fetch_optional(c).await
        })?;
        row.map(Call::try_from).transpose()
    }

    /// Marks a call as just heard of (its status confirmed unchanged).
    pub async fn touch_call(&mut self, id: i64) -> Result<()> {
        self.point("touch_call")?;
        execute!(
            self,
            sqlx::query("UPDATE calls SET updated_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now_millis())
        )?;
        Ok(())
    }

    pub async fn set_answered_by(&mut self, id: i64, answered_by: &str) -> Result<()> {
        self.set_text_column(id, "answered_by", answered_by).await
    }

    pub async fn set_conversation_id(&mut self, id: i64, conversation_id: &str) -> Result<()> {
        self.set_text_column(id, "conversation_id", conversation_id)
            .await
    }

    pub async fn set_outcome(&mut self, id: i64, outcome: CallOutcome) -> Result<()> {
        self.set_text_column(id, "outcome", outcome.as_str()).await
    }

    /// Stores the hash of the one-time token that lets a media stream attach to the call.
    pub async fn set_stream_token(&mut self, id: i64, token_hash: &str) -> Result<()> {
        self.set_text_column(id, "stream_token_hash", token_hash)
            .await
    }

    async fn set_text_column(&mut self, id: i64, column: &'static str, value: &str) -> Result<()> {
        self.point(column)?;
        let sql = format!("UPDATE calls SET {column} = $2, updated_at = $3 WHERE id = $1");
        execute!(
            self,
            sqlx::query(&sql).bind(id).bind(value).bind(now_millis())
        )?;
        Ok(())
    }

    /// Records who ended the call, unless something already did: the first cause wins,
    /// so the echoes of a hang-up (stream stop, status callback) cannot overwrite it.
    /// Returns whether this cause was recorded.
    pub async fn set_termination(
        &mut self,
        id: i64,
        source: TerminationSource,
        reason: Option<&str>,
    ) -> Result<bool> {
        self.point("set_termination")?;
        let affected = execute!(self, sqlx::query(
            "UPDATE calls SET termination_source = $2, error_message = COALESCE(error_message, $3), \
             updated_at = $4 WHERE id = $1 AND termination_source IS NULL",
        )
        .bind(id)
        .bind(source.as_str())
        .bind(reason)
        .bind(now_millis()))?;
        Ok(affected == 1)
    }

    /// Consumes the stream token: true exactly once for the right token.
    pub async fn take_stream_token(&mut self, id: i64, token_hash: &str) -> Result<bool> {
        self.point("take_stream_token")?;
        let affected = execute!(self, sqlx::query(
            "UPDATE calls SET stream_token_hash = NULL WHERE id = $1 AND stream_token_hash = $2",
        )
        .bind(id)
        .bind(token_hash))?;
        Ok(affected == 1)
    }

    /// Stores the agent's analysis, replaces the live transcript with the full one, and
    /// queues `call.analyzed`.
    pub async fn record_post_call(&mut self, id: i64, post: &PostCall) -> Result<()> {
        self.point("record_post_call")?;
        let now = now_millis();
        on_conn!(self, c => {
            let affected = sqlx::query(
                "UPDATE calls SET summary = $2, analysis = $3, cost = $4, post_call_checked_at = $5, \
                 updated_at = $5 WHERE id = $1",
            )
            .bind(id)
            .bind(&post.summary)
            .bind(post.analysis.to_string())
            .bind(post.cost)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected();
            if affected == 0 {
                return Err(StoreError::NotFound);
            }
            if !post.turns.is_empty() {
                sqlx::query("DELETE FROM transcript_turns WHERE call_id = $1")
                    .bind(id)
                    .execute(&mut *c)
                    .await?;
                for chunk in post.turns.chunks(500) {
                    let mut qb = QueryBuilder::new(
                        "INSERT INTO transcript_turns (call_id, role, text, time_in_call_secs, created_at) ",
                    );
                    qb.push_values(chunk, |mut b, (role, text, t)| {
                        b.push_bind(id)
                            .push_bind(role.as_str())
                            .push_bind(text.clone())
                            .push_bind(*t)
                            .push_bind(now);
                    });
                    qb.build().execute(&mut *c).await?;
                }
            }
        });
        let mut data = self.call_data(id).await?;
        data["analysis"] = post.analysis.clone();
        self.outbox(parley_domain::webhook::EventType::CallAnalyzed, data)
            .await
    }

    /// Queues `call.completed` for a finished call placed on its own, once (a campaign
    /// call announces it with its attempt's settlement). Returns whether it was queued.
    pub async fn announce_call_completed(&mut self, call_id: i64) -> Result<bool> {
        let first = self
            .add_call_event(
                call_id,
                COMPLETED_EVENT,
                Some(COMPLETED_EVENT),
                &serde_json::json!({}),
            )
            .await?;
        if first {
            let data = self.call_data(call_id).await?;
            self.outbox(parley_domain::webhook::EventType::CallCompleted, data)
                .await?;
        }
        Ok(first)
    }

    pub async fn mark_post_call_checked(&mut self, id: i64) -> Result<()> {
        self.point("mark_post_call_checked")?;
        execute!(
            self,
            sqlx::query("UPDATE calls SET post_call_checked_at = $2 WHERE id = $1",)
                .bind(id)
                .bind(now_millis())
        )?;
        Ok(())
    }

    /// Creates or updates a recording by its SID (callbacks may repeat).
    pub async fn upsert_recording(&mut self, call_id: i64, r: &RecordingUpdate) -> Result<()> {
        self.point("upsert_recording")?;
        execute!(self, sqlx::query(
            "INSERT INTO recordings (call_id, recording_sid, status, path, content_type, channels, \
             duration_seconds, size_bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (recording_sid) DO UPDATE SET status = excluded.status, \
             path = COALESCE(excluded.path, recordings.path), \
             content_type = COALESCE(excluded.content_type, recordings.content_type), \
             channels = COALESCE(excluded.channels, recordings.channels), \
             duration_seconds = COALESCE(excluded.duration_seconds, recordings.duration_seconds), \
             size_bytes = COALESCE(excluded.size_bytes, recordings.size_bytes)",
        )
        .bind(call_id)
        .bind(&r.recording_sid)
        .bind(&r.status)
        .bind(&r.path)
        .bind(&r.content_type)
        .bind(r.channels)
        .bind(r.duration_seconds)
        .bind(r.size_bytes)
        .bind(now_millis()))?;
        Ok(())
    }

    pub async fn mark_recording_deleted(&mut self, id: i64) -> Result<()> {
        self.point("mark_recording_deleted")?;
        execute!(self, sqlx::query(
            "UPDATE recordings SET deleted_at = $2, status = 'deleted', path = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(now_millis()))?;
        Ok(())
    }
}

own_tx! {
    fn set_call_sid(id: i64, sid: &str) -> ();
    fn advance_call_status(id: i64, change: &StatusChange) -> Option<Call>;
    fn touch_call(id: i64) -> ();
    fn set_answered_by(id: i64, answered_by: &str) -> ();
    fn set_conversation_id(id: i64, conversation_id: &str) -> ();
    fn set_outcome(id: i64, outcome: CallOutcome) -> ();
    fn set_stream_token(id: i64, token_hash: &str) -> ();
    fn set_termination(id: i64, source: TerminationSource, reason: Option<&str>) -> bool;
    fn take_stream_token(id: i64, token_hash: &str) -> bool;
    fn record_post_call(id: i64, post: &PostCall) -> ();
    fn mark_post_call_checked(id: i64) -> ();
    fn upsert_recording(call_id: i64, r: &RecordingUpdate) -> ();
    fn mark_recording_deleted(id: i64) -> ();
}

impl Db {
    pub async fn call_by_sid(&mut self, sid: &str) -> Result<Option<Call>> {
        self.call_where("twilio_call_sid", sid).await
    }

    pub async fn call_by_conversation(&mut self, conversation_id: &str) -> Result<Option<Call>> {
        self.call_where("conversation_id", conversation_id).await
    }

    async fn call_where(&mut self, column: &'static str, value: &str) -> Result<Option<Call>> {
        let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE {column} = $1");
        let row: Option<CallRow> =
            on_conn!(self, c => sqlx::query_as(&sql).bind(value).fetch_optional(c).await)?;
        row.map(Call::try_from).transpose()
    }

    /// The dynamic-variable and override JSON stored with the call when it was placed.
    pub async fn call_agent_inputs(
        &mut self,
        id: i64,
    ) -> Result<(serde_json::Value, serde_json::Value)> {
        let (vars, overrides): (String, String) = on_conn!(self, c => sqlx::query_as(
            "SELECT dynamic_variables, overrides FROM calls WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(c)
        .await)?
        .found()?;
        let parse = |s: &str| {
            serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("call {id}: {e}")))
        };
        Ok((parse(&vars)?, parse(&overrides)?))
    }
}

own_reader! {
    fn call_by_sid(sid: &str) -> Option<Call>;
    fn call_by_conversation(conversation_id: &str) -> Option<Call>;
    fn call_agent_inputs(id: i64) -> (serde_json::Value, serde_json::Value);
}

impl Store {
    /// Ended calls whose analysis has not arrived and was not looked for since `before`.
    pub async fn calls_awaiting_analysis(&self, before: i64, limit: i64) -> Result<Vec<Call>> {
        let rows: Vec<CallRow> = on_reader!(self, pool => sqlx::query_as(&format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE analysis IS NULL AND conversation_id IS NOT NULL \
             AND ended_at < $1 AND (post_call_checked_at IS NULL OR post_call_checked_at < $1) \
             ORDER BY ended_at LIMIT $2"
        ))
        .bind(before)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(Call::try_from).collect()
    }

    /// Completed recordings whose file was never stored (the download failed, or the
    /// process stopped before it ran), created between `since` and `before` (epoch ms):
    /// each with its call, as the update that stores the file will need it.
    pub async fn recordings_without_file(
        &self,
        since: i64,
        before: i64,
        limit: i64,
    ) -> Result<Vec<(i64, RecordingUpdate)>> {
        type Row = (i64, String, String, Option<i64>, Option<i64>);
        let rows: Vec<Row> = on_reader!(self, pool => sqlx::query_as(
            "SELECT call_id, recording_sid, status, channels, duration_seconds FROM recordings \
             WHERE status = 'completed' AND path IS NULL AND deleted_at IS NULL \
             AND created_at >= $1 AND created_at < $2 ORDER BY id LIMIT $3",
        )
        .bind(since)
        .bind(before)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(
                |(call_id, recording_sid, status, channels, duration_seconds)| {
                    let update = RecordingUpdate {
                        recording_sid,
                        status,
                        path: None,
                        content_type: None,
                        channels,
                        duration_seconds,
                        size_bytes: None,
                    };
                    (call_id, update)
                },
            )
            .collect())
    }

    /// The newest completed recording of a call that is not deleted: its SID and the
    /// file it was stored in, if any (the file may be on another node's disk).
    pub async fn recording_file(&self, call_id: i64) -> Result<(String, Option<String>)> {
        let row: Option<(String, Option<String>)> = on_reader!(self, pool => sqlx::query_as(
            "SELECT recording_sid, path FROM recordings WHERE call_id = $1 \
             AND status = 'completed' AND deleted_at IS NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(call_id)
        .fetch_optional(pool)
        .await)?;
        row.found()
    }

    /// Stored recording files created before `before`: (recording id, path).
    pub async fn recordings_created_before(
        &self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String)>> {
        let rows: Vec<(i64, Option<String>)> = on_reader!(self, pool => sqlx::query_as(
            "SELECT id, path FROM recordings WHERE created_at < $1 AND deleted_at IS NULL \
             ORDER BY created_at LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(id, p)| (id, p.unwrap_or_default()))
            .collect())
    }

    /// Whether a recording is still kept (known and not deleted past retention).
    pub async fn recording_kept(&self, recording_sid: &str) -> Result<bool> {
        let found: Option<i64> = on_reader!(self, pool => sqlx::query_scalar(
            "SELECT id FROM recordings WHERE recording_sid = $1 AND deleted_at IS NULL",
        )
        .bind(recording_sid)
        .fetch_optional(pool)
        .await)?;
        Ok(found.is_some())
    }
}
