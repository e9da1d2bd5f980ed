//! Calls and what is recorded about them: events, transcript turns, recordings.
use crate::error::OptionalExt;
use crate::tx::{execute, on_conn, own_reader, own_tx};
use crate::{on_reader, Db, Page, PageRequest, Result, Store, StoreError, Tx};
use parley_domain::call::{
    Call, CallEvent, CallOutcome, CallStatus, Recording, TerminationSource, TranscriptTurn,
    TurnRole,
};
use parley_domain::time::{from_millis, now_millis};
use parley_domain::vocabulary::Worded;
use sqlx::QueryBuilder;

#[derive(Debug, Clone, Default)]
pub struct NewCall {
    pub campaign_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub attempt: i64,
    pub to: String,
    pub from: String,
    pub agent_id: Option<String>,
    pub dynamic_variables: serde_json::Value,
    /// The variables as the call's record shows them (see
    /// `parley_domain::memory::shown_variables`); `None` keeps none.
    pub agent_variables: Option<serde_json::Value>,
    pub overrides: serde_json::Value,
    /// Where the callee is, as judged when the call is placed (`US-FL`; empty for no US
    /// state): kept as the compliance report's evidence.
    pub jurisdiction: Option<String>,
    /// The campaign's A/B variant this call uses (its name), if the campaign has any.
    pub variant: Option<String>,
    /// A test call: kept out of the campaign's results (see `Call::is_test`).
    pub is_test: bool,
}

#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    pub campaign_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub status: Option<CallStatus>,
    pub outcome: Option<CallOutcome>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    /// Every one must match (AND): calls with a typed result field at a value.
    pub results: Vec<parley_domain::call_result::ResultFilter>,
    /// `Some(false)`: no test calls; `Some(true)`: only test calls; `None`: both.
    pub test: Option<bool>,
}

/// Appends `filter`'s conditions (each starting with ` AND `) to a query on `calls`.
/// A macro, as the query builder's type differs per backend.
macro_rules! push_call_filter {
    ($qb:ident, $filter:expr) => {{
        let filter: &$crate::CallFilter = $filter;
        if let Some(c) = filter.campaign_id {
            $qb.push(" AND campaign_id = ").push_bind(c);
        }
        if let Some(c) = filter.contact_id {
            $qb.push(" AND contact_id = ").push_bind(c);
        }
        if let Some(s) = filter.status {
            $qb.push(" AND status = ").push_bind(s.as_str());
        }
        if let Some(o) = filter.outcome {
            $qb.push(" AND outcome = ").push_bind(o.as_str());
        }
        if let Some(t) = filter.test {
            $qb.push(" AND is_test = ").push_bind(t);
        }
        if let Some(from) = filter.created_from {
            $qb.push(" AND created_at >= ").push_bind(from);
        }
        if let Some(to) = filter.created_to {
            $qb.push(" AND created_at < ").push_bind(to);
        }
        // Each is one lookup on the (call, kind, name) key of `call_results`.
        for r in &filter.results {
            $qb.push(" AND EXISTS (SELECT 1 FROM call_results r WHERE r.call_id = calls.id")
                .push(" AND r.name = ")
                .push_bind(r.name.clone())
                .push(" AND r.value = ")
                .push_bind(r.value.clone());
            if let Some(kind) = r.kind {
                $qb.push(" AND r.kind = ").push_bind(kind.as_str());
            }
            $qb.push(")");
        }
    }};
}
pub(crate) use push_call_filter;

#[derive(sqlx::FromRow)]
pub(crate) struct CallRow {
    pub(crate) id: i64,
    campaign_id: Option<i64>,
    contact_id: Option<i64>,
    attempt: i64,
    to_number: String,
    from_number: String,
    agent_id: Option<String>,
    status: String,
    twilio_call_sid: Option<String>,
    conversation_id: Option<String>,
    answered_by: Option<String>,
    termination_source: Option<String>,
    outcome: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    duration_seconds: Option<i64>,
    summary: Option<String>,
    analysis: Option<String>,
    cost: Option<f64>,
    created_at: i64,
    updated_at: i64,
    answered_at: Option<i64>,
    ended_at: Option<i64>,
    variant: Option<String>,
    is_test: bool,
}

pub(crate) const CALL_COLUMNS: &str =
    "id, campaign_id, contact_id, attempt, to_number, from_number, \
     agent_id, status, twilio_call_sid, conversation_id, answered_by, termination_source, \
     outcome, error_code, error_message, duration_seconds, summary, analysis, cost, created_at, \
     updated_at, answered_at, ended_at, variant, is_test";

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} `{value}`"))
}

impl TryFrom<CallRow> for Call {
    type Error = StoreError;
    fn try_from(r: CallRow) -> Result<Call> {
        let status =
            CallStatus::parse(&r.status).ok_or_else(|| corrupt("call status", &r.status))?;
        let termination_source = r
            .termination_source
            .as_deref()
            .map(|t| TerminationSource::parse(t).ok_or_else(|| corrupt("termination source", t)))
            .transpose()?;
        let outcome = r
            .outcome
            .as_deref()
            .map(|o| CallOutcome::parse(o).ok_or_else(|| corrupt("call outcome", o)))
            .transpose()?;
        let analysis = r
            .analysis
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("call {} analysis: {e}", r.id)))?;
        Ok(Call {
            id: r.id,
            campaign_id: r.campaign_id,
            contact_id: r.contact_id,
            attempt: r.attempt,
            to: r.to_number,
            from: r.from_number,
            agent_id: r.agent_id,
            status,
            twilio_call_sid: r.twilio_call_sid,
            conversation_id: r.conversation_id,
            answered_by: r.answered_by,
            termination_source,
            outcome,
            outcome_label: outcome.map(Worded::label),
            error_code: r.error_code,
            error_message: r.error_message,
            duration_seconds: r.duration_seconds,
            summary: r.summary,
            analysis,
            cost: r.cost,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
            answered_at: r.answered_at.map(from_millis),
            ended_at: r.ended_at.map(from_millis),
            variant: r.variant,
            is_test: r.is_test,
        })
    }
}

impl Tx {
    /// Records an event. With a `dedupe_key`, a second delivery of the same event is
    /// ignored; returns whether this call stored it.
    pub async fn add_call_event(
        &mut self,
        call_id: i64,
        kind: &str,
        dedupe_key: Option<&str>,
        data: &serde_json::Value,
    ) -> Result<bool> {
        self.point("add_call_event")?;
        let affected = execute!(
            self,
            sqlx::query(
                "INSERT INTO call_events (call_id, kind, dedupe_key, data, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(call_id)
            .bind(kind)
            .bind(dedupe_key)
            .bind(data.to_string())
            .bind(now_millis())
        )?;
        Ok(affected == 1)
    }

    /// Stores one turn of the live transcript; a turn already on record (same call, role
    /// and ElevenLabs event) is kept as it is, so writing a turn again is harmless.
    pub async fn add_transcript_turn(
        &mut self,
        call_id: i64,
        role: TurnRole,
        text: &str,
        time_in_call_secs: Option<f64>,
        event_id: Option<i64>,
    ) -> Result<()> {
        self.point("add_transcript_turn")?;
        execute!(self, sqlx::query(
            "INSERT INTO transcript_turns (call_id, role, text, time_in_call_secs, event_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(call_id)
        .bind(role.as_str())
        .bind(text)
        .bind(time_in_call_secs)
        .bind(event_id)
        .bind(now_millis()))?;
        Ok(())
    }

    /// Replaces the latest `role` turn reading `original` (else the latest `role` turn)
    /// with `corrected`: an agent reply cut short by the caller is recorded as heard.
    /// With no such turn, the corrected text is added as a new one. Returns whether a
    /// turn was replaced.
    pub async fn correct_transcript_turn(
        &mut self,
        call_id: i64,
        role: TurnRole,
        original: &str,
        corrected: &str,
        time_in_call_secs: Option<f64>,
        event_id: Option<i64>,
    ) -> Result<bool> {
        self.point("correct_transcript_turn")?;
        let found: Option<i64> = on_conn!(self, c => sqlx::query_scalar(
            "SELECT id FROM transcript_turns WHERE call_id = $1 AND role = $2 \
             ORDER BY (text = $3) DESC, id DESC LIMIT 1",
        )
        .bind(call_id)
        .bind(role.as_str())
        .bind(original)
        .fetch_optional(c)
        .await)?;
        match found {
            Some(id) => {
                execute!(
                    self,
                    sqlx::query("UPDATE transcript_turns SET text = $1 WHERE id = $2")
                        .bind(corrected)
                        .bind(id)
                )?;
                Ok(true)
            }
            None => {
                self.add_transcript_turn(call_id, role, corrected, time_in_call_secs, event_id)
                    .await?;
                Ok(false)
            }
        }
    }
}

own_tx! {
    fn correct_transcript_turn(call_id: i64, role: TurnRole, original: &str, corrected: &str, time_in_call_secs: Option<f64>, event_id: Option<i64>) -> bool;
    fn add_call_event(call_id: i64, kind: &str, dedupe_key: Option<&str>, data: &serde_json::Value) -> bool;
    fn add_transcript_turn(call_id: i64, role: TurnRole, text: &str, time_in_call_secs: Option<f64>, event_id: Option<i64>) -> ();
}

impl Db {
    pub async fn get_call(&mut self, id: i64) -> Result<Call> {
        let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1");
        let row: CallRow =
            on_conn!(self, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await)?.found()?;
        row.try_into()
    }

    pub async fn call_events(&mut self, call_id: i64) -> Result<Vec<CallEvent>> {
        let rows: Vec<(i64, String, String, i64)> = on_conn!(self, c => sqlx::query_as(
            "SELECT id, kind, data, created_at FROM call_events WHERE call_id = $1 ORDER BY id",
        )
        .bind(call_id)
        .fetch_all(c)
        .await)?;
        rows.into_iter()
            .map(|(id, kind, data, created_at)| {
                Ok(CallEvent {
                    id,
                    kind,
                    data: serde_json::from_str(&data)
                        .map_err(|e| StoreError::Corrupt(format!("call event {id}: {e}")))?,
                    created_at: from_millis(created_at),
                })
            })
            .collect()
    }
}

own_reader! {
    fn get_call(id: i64) -> Call;
    fn call_events(call_id: i64) -> Vec<CallEvent>;
}

impl Tx {
    /// Writes a call in state `queued`: the record exists before any carrier is asked.
    pub async fn create_call(&mut self, new: &NewCall) -> Result<Call> {
        self.point("create_call")?;
        let sql = format!(
            "INSERT INTO calls (campaign_id, contact_id, attempt, to_number, from_number, agent_id, \
             status, dynamic_variables, overrides, created_at, updated_at, agent_variables, \
             jurisdiction, variant, is_test) \
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $9, $10, $11, $12, $13) \
             RETURNING {CALL_COLUMNS}"
        );
        let row: CallRow = on_conn!(self, c => sqlx::query_as(&sql)
            .bind(new.campaign_id)
            .bind(new.contact_id)
            .bind(new.attempt)
            .bind(&new.to)
            .bind(&new.from)
            .bind(&new.agent_id)
            .bind(new.dynamic_variables.to_string())
            .bind(new.overrides.to_string())
            .bind(now_millis())
            .bind(new.agent_variables.as_ref().map(|v| v.to_string()))
            .bind(&new.jurisdiction)
            .bind(&new.variant)
            .bind(new.is_test)
            .fetch_one(c)
            .await)
        .map_err(|e| StoreError::unique(e, "a test call to this number is in progress"))?;
        row.try_into()
    }
}

own_tx! {
    fn create_call(new: &NewCall) -> Call;
}

impl Store {
    pub async fn list_calls(&self, filter: &CallFilter, page: PageRequest) -> Result<Page<Call>> {
        let rows: Vec<CallRow> = on_reader!(self, pool => {
            let mut qb = QueryBuilder::new(format!("SELECT {CALL_COLUMNS} FROM calls WHERE id < "));
            qb.push_bind(page.cursor_id());
            push_call_filter!(qb, filter);
            qb.push(" ORDER BY id DESC LIMIT ").push_bind(page.fetch_limit());
            qb.build_query_as().fetch_all(pool).await
        })?;
        let page = Page::from_rows(rows, &page, |r| r.id);
        let items = page
            .items
            .into_iter()
            .map(Call::try_from)
            .collect::<Result<_>>()?;
        Ok(Page {
            items,
            next_before_id: page.next_before_id,
        })
    }

    pub async fn transcript(&self, call_id: i64) -> Result<Vec<TranscriptTurn>> {
        let rows: Vec<(String, String, Option<f64>, i64)> = on_reader!(self, pool => sqlx::query_as(
            "SELECT role, text, time_in_call_secs, created_at FROM transcript_turns \
             WHERE call_id = $1 ORDER BY id",
        )
        .bind(call_id)
        .fetch_all(pool)
        .await)?;
        rows.into_iter()
            .map(|(role, text, time_in_call_secs, created_at)| {
                Ok(TranscriptTurn {
                    role: TurnRole::parse(&role).ok_or_else(|| corrupt("turn role", &role))?,
                    text,
                    time_in_call_secs,
                    created_at: from_millis(created_at),
                })
            })
            .collect()
    }

    pub async fn recordings(&self, call_id: i64) -> Result<Vec<Recording>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: i64,
            recording_sid: String,
            status: String,
            content_type: Option<String>,
            channels: Option<i64>,
            duration_seconds: Option<i64>,
            size_bytes: Option<i64>,
            created_at: i64,
        }
        let rows: Vec<Row> = on_reader!(self, pool => sqlx::query_as(
            "SELECT id, recording_sid, status, content_type, channels, duration_seconds, \
             size_bytes, created_at FROM recordings WHERE call_id = $1 ORDER BY id",
        )
        .bind(call_id)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|r| Recording {
                id: r.id,
                recording_sid: r.recording_sid,
                status: r.status,
                content_type: r.content_type,
                channels: r.channels,
                duration_seconds: r.duration_seconds,
                size_bytes: r.size_bytes,
                created_at: from_millis(r.created_at),
            })
            .collect())
    }
}
