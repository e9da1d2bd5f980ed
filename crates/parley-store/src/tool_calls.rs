//! The log of agent tool calls.
use crate::tx::{on_conn, own_tx};
use crate::{on_reader, Result, Store, StoreError, Tx};
use parley_domain::time::{from_millis, now_millis};
use parley_domain::tool::{ToolCallRecord, ToolVia};

/// A tool call to log.
#[derive(Debug, Clone)]
pub struct NewToolCall<'a> {
    pub call_id: Option<i64>,
    pub tool: &'a str,
    pub via: ToolVia,
    pub parameters: &'a serde_json::Value,
    pub result: &'a serde_json::Value,
    pub is_error: bool,
    pub duration_ms: i64,
}

pub(crate) type ToolCallRow = (
    i64,
    Option<i64>,
    String,
    String,
    String,
    String,
    bool,
    i64,
    i64,
);

pub(crate) const COLUMNS: &str =
    "id, call_id, tool, via, parameters, result, is_error, duration_ms, created_at";

impl Tx {
    pub async fn add_tool_call(&mut self, call: &NewToolCall<'_>) -> Result<i64> {
        self.point("add_tool_call")?;
        let id: i64 = on_conn!(self, c => sqlx::query_scalar(
            "INSERT INTO tool_calls \
             (call_id, tool, via, parameters, result, is_error, duration_ms, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(call.call_id)
        .bind(call.tool)
        .bind(call.via.as_str())
        .bind(call.parameters.to_string())
        .bind(call.result.to_string())
        .bind(call.is_error)
        .bind(call.duration_ms)
        .bind(now_millis())
        .fetch_one(c)
        .await)?;
        Ok(id)
    }
}

own_tx! {
    fn add_tool_call(call: &NewToolCall<'_>) -> i64;
}

impl Store {
    /// The tool calls made during one call, oldest first.
    pub async fn tool_calls(&self, call_id: i64) -> Result<Vec<ToolCallRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM tool_calls WHERE call_id = $1 ORDER BY id");
        let rows: Vec<ToolCallRow> = on_reader!(self, pool => sqlx::query_as(&sql)
        .bind(call_id)
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(record).collect()
    }
}

pub(crate) fn record(row: ToolCallRow) -> Result<ToolCallRecord> {
    let (id, call_id, tool, via, parameters, result, is_error, duration_ms, created_at) = row;
    let corrupt = |what: &str| StoreError::Corrupt(format!("tool call {id}: {what}"));
    let json = |text: &str| serde_json::from_str(text).map_err(|e| corrupt(&e.to_string()));
    Ok(ToolCallRecord {
        id,
        call_id,
        via: ToolVia::parse(&via).ok_or_else(|| corrupt("unknown via"))?,
        tool,
        parameters: json(&parameters)?,
        result: json(&result)?,
        is_error,
        duration_ms,
        created_at: from_millis(created_at),
    })
}
