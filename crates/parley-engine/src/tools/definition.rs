//! Tool definitions as ElevenLabs takes them (`parley tools export`): a webhook (server)
//! tool pointing at `/tools/{name}`, or a client tool the bridge answers.
use super::{Tool, TOOL_TIMEOUT};
use serde_json::{json, Value};
use url::Url;

/// The dynamic variable Parley passes at conversation start with the call's id; server
/// tools send it back so Parley knows which call they act on.
pub const CALL_ID_VARIABLE: &str = "call_id";

pub struct ToolDefinition;

impl ToolDefinition {
    /// A webhook tool config (`POST /v1/convai/tools` body's `tool_config`). The
    /// `Authorization` header carries `secret`, or a placeholder naming the setting.
    pub fn webhook(tool: &dyn Tool, base_url: &Url, secret: Option<&str>) -> Value {
        let mut body = tool.parameters();
        body["properties"][CALL_ID_VARIABLE] = json!({
            "type": "string",
            "description": "The Parley call this conversation belongs to",
            "dynamic_variable": CALL_ID_VARIABLE,
        });
        let secret =
            secret.map_or_else(|| format!("<tools.secrets.{}>", tool.name()), str::to_owned);
        json!({
            "type": "webhook",
            "name": tool.name(),
            "description": tool.description(),
            "response_timeout_secs": TOOL_TIMEOUT.as_secs(),
            "api_schema": {
                "url": tool_url(base_url, tool.name()),
                "method": "POST",
                "request_body_schema": body,
                "request_headers": {"Authorization": format!("Bearer {secret}")},
                "content_type": "application/json",
            },
        })
    }

    /// A client tool config: the agent sends `client_tool_call` and the bridge answers.
    pub fn client(tool: &dyn Tool) -> Value {
        json!({
            "type": "client",
            "name": tool.name(),
            "description": tool.description(),
            "parameters": tool.parameters(),
            "expects_response": true,
            "response_timeout_secs": TOOL_TIMEOUT.as_secs(),
        })
    }
}

/// `{base}/tools/{name}`.
pub fn tool_url(base_url: &Url, name: &str) -> String {
    format!("{}/tools/{name}", base_url.as_str().trim_end_matches('/'))
}
