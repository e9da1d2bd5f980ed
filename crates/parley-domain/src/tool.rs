//! Agent tool calls as they are logged: which tool ran for which call, how it was
//! reached, what it was asked and what it answered.
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How the agent reached a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ToolVia {
    /// A `client_tool_call` over the conversation WebSocket, answered by the bridge.
    Client,
    /// An ElevenLabs server (webhook) tool: `POST /tools/{name}`.
    Server,
}

impl ToolVia {
    pub fn as_str(self) -> &'static str {
        match self {
            ToolVia::Client => "client",
            ToolVia::Server => "server",
        }
    }

    pub fn parse(s: &str) -> Option<ToolVia> {
        match s {
            "client" => Some(ToolVia::Client),
            "server" => Some(ToolVia::Server),
            _ => None,
        }
    }
}

/// One logged tool call.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ToolCallRecord {
    pub id: crate::Id,
    pub call_id: Option<crate::Id>,
    pub tool: String,
    pub via: ToolVia,
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    /// What the agent was given: the tool's answer, or the error message.
    #[schema(value_type = Object)]
    pub result: serde_json::Value,
    pub is_error: bool,
    pub duration_ms: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
}
