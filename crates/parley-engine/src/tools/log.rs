//! The `tool_calls` log. A tool whose change is written to the database adds its log row
//! to that change's transaction ([`Engine::commit_tool`]), so the change and the record of
//! the call that made it commit together or not at all. Any other call (one that changed
//! nothing, failed, or timed out) is logged on its own by `Engine::run_tool` once it has
//! answered.
use super::ToolContext;
use crate::calls::AfterCommit;
use crate::Engine;
use parley_domain::tool::ToolVia;
use parley_store::{NewToolCall, StoreError, Tx};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// What the log row of one running tool call needs, and whether it has been written.
#[derive(Debug)]
pub(crate) struct ToolLog {
    tool: String,
    via: ToolVia,
    parameters: Value,
    started: Instant,
    written: AtomicBool,
}

impl ToolLog {
    pub(crate) fn start(tool: &str, via: ToolVia, parameters: Value) -> ToolLog {
        ToolLog {
            tool: tool.to_owned(),
            via,
            parameters,
            started: Instant::now(),
            written: AtomicBool::new(false),
        }
    }

    pub(crate) fn duration_ms(&self) -> i64 {
        i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    /// Whether the row went in with the tool's own change.
    pub(crate) fn written(&self) -> bool {
        self.written.load(Ordering::Acquire)
    }

    pub(crate) fn entry<'a>(
        &'a self,
        call_id: Option<i64>,
        result: &'a Value,
        is_error: bool,
    ) -> NewToolCall<'a> {
        NewToolCall {
            call_id,
            tool: &self.tool,
            via: self.via,
            parameters: &self.parameters,
            result,
            is_error,
            duration_ms: self.duration_ms(),
        }
    }
}

impl Engine {
    /// Commits a tool's change with the log row of the tool call that made it (when the
    /// change comes from a tool call: the bridge's own opt-out detection has none), then
    /// publishes what changed. `answer` is what the agent is told on success.
    pub(crate) async fn commit_tool(
        &self,
        mut tx: Tx,
        after: AfterCommit,
        ctx: &ToolContext,
        answer: &Value,
    ) -> Result<(), StoreError> {
        if let Some(log) = &ctx.log {
            tx.add_tool_call(&log.entry(ctx.call_id, answer, false))
                .await?;
        }
        self.commit(tx, after).await?;
        if let Some(log) = &ctx.log {
            log.written.store(true, Ordering::Release);
        }
        Ok(())
    }
}
