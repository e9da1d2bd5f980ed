//! A contact's history (every call to it, with what each led to), what earlier calls
//! learned for the next one, and the dynamic variables each call's record shows.
use crate::error::OptionalExt;
use crate::tool_calls::{self, ToolCallRow};
use crate::tx::on_conn;
use crate::{on_reader, Db, Page, PageRequest, Result, Store, StoreError};
use parley_domain::call::{CallOutcome, CallStatus};
use parley_domain::call_result::ValueType;
use parley_domain::contact::Contact;
use parley_domain::history::{
    CallbackRequest, ContactCall, CALLBACK_EVENT, MAX_CALLBACKS_PER_CALL,
    MAX_TOOL_ACTIONS_PER_CALL, READ_ONLY_TOOLS,
};
use parley_domain::memory::{PreviousCall, Remembered, RememberedResult, MAX_REMEMBERED_RESULTS};
use parley_domain::time::from_millis;
use sqlx::QueryBuilder;
use std::collections::{HashMap, HashSet};

/// A contact's history pages hold at most this many calls.
pub const MAX_HISTORY_PAGE: u32 = 100;

/// Outcomes of calls that reached a conversation: the previous call is the latest of them.
const CONVERSATION_OUTCOMES: &str = "'success', 'unsuccessful', 'conversation', 'short_call'";

/// Result rows read to find the latest value of each field (newest calls first).
const RESULT_ROWS_READ: i64 = 200;

/// What the next dial needs to know besides the contact.
/// See [`Store::call_shown_inputs`].
#[derive(Debug, Clone, PartialEq)]
pub struct ShownInputs {
    pub variables: Option<serde_json::Value>,
    pub overrides: serde_json::Value,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryRead {
    /// Read what earlier calls learned at all.
    pub remember: bool,
    /// The call is a requested callback in this campaign: read its reason.
    pub callback_in: Option<i64>,
}

type HistoryRow = (
    i64,
    Option<i64>,
    Option<String>,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    i64,
    Option<i64>,
    bool,
    bool,
);

impl Db {
    /// What earlier calls to the contact learned: the latest conversation, the reason of
    /// the callback this call is (if it is one) and the latest value of each
    /// data-collection field.
    pub async fn remembered(&mut self, contact_id: i64, read: MemoryRead) -> Result<Remembered> {
        let sql = format!(
            "SELECT id, outcome, summary, COALESCE(ended_at, created_at) FROM calls \
             WHERE contact_id = $1 AND outcome IN ({CONVERSATION_OUTCOMES}) AND NOT is_test \
             ORDER BY id DESC LIMIT 1"
        );
        let previous: Option<(i64, Option<String>, Option<String>, i64)> =
            on_conn!(self, c => sqlx::query_as(&sql).bind(contact_id).fetch_optional(c).await)?;
        let previous = previous.map(|(call_id, outcome, summary, at)| PreviousCall {
            call_id,
            at: from_millis(at),
            outcome: outcome.as_deref().and_then(CallOutcome::parse),
            summary,
        });
        let callback_reason = match read.callback_in {
            None => None,
            Some(campaign_id) => {
                // The callback was asked for on the contact's last call in the campaign.
                let data: Option<String> = on_conn!(self, c => sqlx::query_scalar(
                    "SELECT e.data FROM campaign_contacts cc \
                     JOIN call_events e ON e.call_id = cc.last_call_id \
                     WHERE cc.campaign_id = $1 AND cc.contact_id = $2 AND e.kind = $3 \
                     ORDER BY e.id DESC LIMIT 1",
                )
                .bind(campaign_id)
                .bind(contact_id)
                .bind(CALLBACK_EVENT)
                .fetch_optional(c)
                .await)?;
                data.map(|d| callback_reason(&d))
            }
        };
        let rows: Vec<(String, String, String)> = on_conn!(self, c => sqlx::query_as(
            "SELECT r.name, r.value_type, r.value FROM calls c \
             JOIN call_results r ON r.call_id = c.id \
             WHERE c.contact_id = $1 AND NOT c.is_test AND r.kind = 'data_collection' \
             AND r.value IS NOT NULL \
             ORDER BY c.id DESC, r.name LIMIT $2",
        )
        .bind(contact_id)
        .bind(RESULT_ROWS_READ)
        .fetch_all(c)
        .await)?;
        let mut seen = HashSet::new();
        let results = rows
            .into_iter()
            .filter(|(name, _, _)| seen.insert(name.clone()))
            .filter_map(|(name, value_type, value)| {
                Some(RememberedResult {
                    name,
                    value_type: ValueType::parse(&value_type)?,
                    value,
                })
            })
            .take(MAX_REMEMBERED_RESULTS)
            .collect();
        Ok(Remembered {
            previous,
            callback_reason,
            results,
        })
    }
}

/// The reason of a callback event's data; a callback without one still says it is one.
fn callback_reason(data: &str) -> String {
    serde_json::from_str::<serde_json::Value>(data)
        .ok()
        .and_then(|d| d.get("reason").and_then(|r| r.as_str()).map(str::to_owned))
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| "the callee asked to be called back".to_owned())
}

impl Store {
    /// The contact to dial and, when `read.remember`, what earlier calls learned: one
    /// connection, read once per dial.
    pub async fn contact_for_dial(
        &self,
        contact_id: i64,
        read: MemoryRead,
    ) -> Result<(Contact, Option<Remembered>)> {
        let mut db = self.reader().await?;
        let contact = db.get_contact(contact_id).await?;
        let remembered = match read.remember {
            true => Some(db.remembered(contact_id, read).await?),
            false => None,
        };
        Ok((contact, remembered))
    }

    /// What a call's record shows of how it was placed, in one read: the dynamic
    /// variables as kept for the record (`None` for a call placed before they were) and
    /// the options it was placed with.
    pub async fn call_shown_inputs(&self, call_id: i64) -> Result<ShownInputs> {
        let row: Option<(Option<String>, String)> = on_reader!(self, pool => sqlx::query_as(
            "SELECT agent_variables, overrides FROM calls WHERE id = $1",
        )
        .bind(call_id)
        .fetch_optional(pool)
        .await)?;
        let (variables, overrides) = row.found()?;
        let parse = |what: &str, t: &str| {
            serde_json::from_str(t)
                .map_err(|e| StoreError::Corrupt(format!("call {call_id} {what}: {e}")))
        };
        Ok(ShownInputs {
            variables: variables.map(|t| parse("variables", &t)).transpose()?,
            overrides: parse("overrides", &overrides)?,
        })
    }

    /// A page of the calls to a contact, newest first, each with its callbacks, opt-out
    /// and tool actions (`NotFound` for an unknown contact). At most
    /// [`MAX_HISTORY_PAGE`] calls per page.
    pub async fn contact_history(
        &self,
        contact_id: i64,
        page: PageRequest,
    ) -> Result<Page<ContactCall>> {
        let page = PageRequest {
            limit: page.limit.min(MAX_HISTORY_PAGE),
            ..page
        };
        let mut db = self.reader().await?;
        db.require_contact(contact_id).await?;
        let rows: Vec<HistoryRow> = on_conn!(db, c => sqlx::query_as(
            "SELECT c.id, c.campaign_id, k.name, c.attempt, c.status, c.outcome, c.answered_by, \
             c.duration_seconds, c.summary, c.created_at, c.ended_at, \
             EXISTS (SELECT 1 FROM transcript_turns t WHERE t.call_id = c.id), \
             EXISTS (SELECT 1 FROM recordings r WHERE r.call_id = c.id AND r.status = 'completed' \
                     AND r.size_bytes IS NOT NULL AND r.deleted_at IS NULL) \
             FROM calls c LEFT JOIN campaigns k ON k.id = c.campaign_id \
             WHERE c.contact_id = $1 AND c.id < $2 ORDER BY c.id DESC LIMIT $3",
        )
        .bind(contact_id)
        .bind(page.cursor_id())
        .bind(page.fetch_limit())
        .fetch_all(c)
        .await)?;
        let page = Page::from_rows(rows, &page, |r| r.0);
        let ids: Vec<i64> = page.items.iter().map(|r| r.0).collect();
        let mut callbacks = db.callbacks_of(&ids).await?;
        let mut actions = db.tool_actions_of(&ids).await?;
        page.try_map(|row| {
            let id = row.0;
            history_call(
                row,
                callbacks.remove(&id).unwrap_or_default(),
                actions.remove(&id).unwrap_or_default(),
            )
        })
    }
}

impl Db {
    async fn callbacks_of(&mut self, ids: &[i64]) -> Result<HashMap<i64, Vec<CallbackRequest>>> {
        let mut out: HashMap<i64, Vec<CallbackRequest>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let rows: Vec<(i64, String, i64)> = on_conn!(self, c => {
            let mut qb = QueryBuilder::new("SELECT call_id, data, created_at FROM call_events WHERE kind = ");
            qb.push_bind(CALLBACK_EVENT).push(" AND call_id IN (");
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(*id);
            }
            sep.push_unseparated(") ORDER BY id");
            qb.build_query_as().fetch_all(c).await
        })?;
        for (call_id, data, created_at) in rows {
            let list = out.entry(call_id).or_default();
            if list.len() >= MAX_CALLBACKS_PER_CALL {
                continue;
            }
            let data: serde_json::Value = serde_json::from_str(&data).unwrap_or_default();
            let text = |key: &str| data.get(key).and_then(|v| v.as_str()).map(str::to_owned);
            list.push(CallbackRequest {
                at: data.get("at_ms").and_then(|v| v.as_i64()).map(from_millis),
                requested: text("requested"),
                reason: text("reason"),
                created_at: from_millis(created_at),
            });
        }
        Ok(out)
    }

    async fn tool_actions_of(
        &mut self,
        ids: &[i64],
    ) -> Result<HashMap<i64, Vec<parley_domain::tool::ToolCallRecord>>> {
        let mut out: HashMap<i64, Vec<_>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let limit = (ids.len() * MAX_TOOL_ACTIONS_PER_CALL) as i64;
        let rows: Vec<ToolCallRow> = on_conn!(self, c => {
            let mut qb = QueryBuilder::new(format!(
                "SELECT {} FROM tool_calls WHERE call_id IN (",
                tool_calls::COLUMNS
            ));
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(*id);
            }
            sep.push_unseparated(")");
            for tool in READ_ONLY_TOOLS {
                qb.push(" AND tool <> ").push_bind(*tool);
            }
            qb.push(" ORDER BY id LIMIT ").push_bind(limit);
            qb.build_query_as().fetch_all(c).await
        })?;
        for row in rows {
            let record = tool_calls::record(row)?;
            let Some(call_id) = record.call_id else {
                continue;
            };
            let list = out.entry(call_id).or_default();
            if list.len() < MAX_TOOL_ACTIONS_PER_CALL {
                list.push(record);
            }
        }
        Ok(out)
    }
}

fn history_call(
    row: HistoryRow,
    callbacks: Vec<CallbackRequest>,
    tool_actions: Vec<parley_domain::tool::ToolCallRecord>,
) -> Result<ContactCall> {
    let (id, campaign_id, campaign_name, attempt, status, outcome, answered_by, duration, summary) = (
        row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8,
    );
    let (created_at, ended_at, has_transcript, has_recording) = (row.9, row.10, row.11, row.12);
    let corrupt = |what: &str| StoreError::Corrupt(format!("call {id}: {what}"));
    let outcome = outcome
        .as_deref()
        .map(|o| CallOutcome::parse(o).ok_or_else(|| corrupt("unknown outcome")))
        .transpose()?;
    Ok(ContactCall {
        id,
        campaign_id,
        campaign_name,
        attempt,
        status: CallStatus::parse(&status).ok_or_else(|| corrupt("unknown status"))?,
        outcome,
        answered_by,
        duration_seconds: duration,
        summary,
        created_at: from_millis(created_at),
        ended_at: ended_at.map(from_millis),
        has_transcript,
        has_recording,
        callbacks,
        opted_out: outcome == Some(CallOutcome::OptedOut)
            || tool_actions
                .iter()
                .any(|a| a.tool == "opt_out" && !a.is_error),
        tool_actions,
    })
}
