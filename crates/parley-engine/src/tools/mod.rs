//! Tools the agent can call during a conversation, each reachable two ways: as a client
//! tool over the conversation WebSocket (the bridge runs it through this registry) and as
//! an ElevenLabs server tool (`POST /tools/{name}` with the tool's bearer secret). Every
//! call, either way, is logged in `tool_calls`. An unknown tool, or a tool asked for
//! outside a call in progress, answers with an error result and the call goes on.
mod calcom;
mod callback;
mod consultation;
mod definition;
mod email;
mod log;
mod opt_out;
mod params;
mod time;
mod transfer;

pub use callback::ScheduleCallback;
pub use consultation::{ScheduleConsultation, CONSULTATION_EVENT};
pub use definition::{tool_url, ToolDefinition, CALL_ID_VARIABLE};
pub use email::{check_template as check_email_template, SendEmail, EMAIL_EVENT};
pub use opt_out::{OptOut, OPT_OUT_EVENT};
pub use time::GetCurrentTime;
pub use transfer::{TransferToHuman, TRANSFER_EVENT};

use crate::Engine;
use futures::future::BoxFuture;
use parley_domain::call::CallStatus;
use parley_domain::tool::ToolVia;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Every built-in tool, by name.
pub const NAMES: [&str; 6] = [
    "get_current_time",
    "opt_out",
    "schedule_callback",
    "schedule_consultation",
    "send_email",
    "transfer_to_human",
];

/// ElevenLabs waits 20 s for a tool by default; answer before it gives up.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(20);

/// What a tool knows about the call it runs in. Every tool refuses to run unless that
/// call exists and is in progress (see `Engine::run_tool`).
#[derive(Debug, Clone, Default)]
pub struct ToolContext {
    pub call_id: Option<i64>,
    pub campaign_id: Option<i64>,
    pub contact_id: Option<i64>,
    /// The log row of the tool call running in this context (set by `Engine::run_tool`).
    pub(crate) log: Option<Arc<log::ToolLog>>,
}

impl ToolContext {
    /// The context of a tool called during `call`.
    pub fn of_call(call: &parley_domain::call::Call) -> ToolContext {
        ToolContext {
            call_id: Some(call.id),
            campaign_id: call.campaign_id,
            contact_id: call.contact_id,
            log: None,
        }
    }

    /// The call, for tools that act on it.
    pub fn require_call(&self) -> Result<i64, ToolError> {
        self.call_id.ok_or_else(|| {
            ToolError::invalid("call_id", "this tool acts on a call: pass its call_id")
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    /// The agent sent a parameter the tool cannot use (a server call answers 400).
    #[error("{field}: {message}")]
    InvalidParameter {
        field: &'static str,
        message: String,
    },
    /// The tool ran and failed; the message is meant for the agent.
    #[error("{0}")]
    Failed(String),
}

impl ToolError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        ToolError::InvalidParameter {
            field,
            message: message.into(),
        }
    }
}

impl From<String> for ToolError {
    fn from(message: String) -> Self {
        ToolError::Failed(message)
    }
}

impl From<&str> for ToolError {
    fn from(message: &str) -> Self {
        ToolError::Failed(message.to_owned())
    }
}

/// A tool's answer: what the agent is told (text or a JSON object), or an error.
pub type ToolResult = Result<Value, ToolError>;

pub trait Tool: Send + Sync {
    fn name(&self) -> &'static str;
    /// Tells the agent's LLM what the tool does and when to use it.
    fn description(&self) -> &'static str;
    /// JSON schema (an object) of the parameters the agent fills in.
    fn parameters(&self) -> Value;
    fn call(&self, ctx: ToolContext, parameters: Value) -> BoxFuture<'static, ToolResult>;
}

#[derive(Clone, Default)]
pub struct ToolRegistry {
    tools: BTreeMap<&'static str, Arc<dyn Tool>>,
}

impl ToolRegistry {
    /// Parley's own tools, reaching the engine through a weak handle: the registry lives
    /// inside the engine it points to. (A dangling handle still describes them.)
    pub fn builtin(
        engine: &std::sync::Weak<crate::Shared>,
        settings: &crate::settings::ToolSettings,
    ) -> ToolRegistry {
        let mut tools = ToolRegistry::default();
        tools.register(Arc::new(ScheduleConsultation {
            engine: engine.clone(),
            calcom: Arc::new(calcom::Calcom::new(&settings.calcom)),
        }));
        tools.register(Arc::new(SendEmail::new(engine.clone(), &settings.email)));
        tools.register(Arc::new(GetCurrentTime(engine.clone())));
        tools.register(Arc::new(OptOut(engine.clone())));
        tools.register(Arc::new(ScheduleCallback(engine.clone())));
        tools.register(Arc::new(TransferToHuman(engine.clone())));
        tools
    }

    pub fn register(&mut self, tool: Arc<dyn Tool>) {
        self.tools.insert(tool.name(), tool);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.get(name)
    }

    /// Every tool, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Tool>> {
        self.tools.values()
    }
}

impl Engine {
    /// Runs tool `name` for the agent, within [`TOOL_TIMEOUT`], and logs the call; refused
    /// (an error result) unless the call is in progress. The
    /// tool runs in its own task: once started it finishes and is logged even if the
    /// conversation that asked for it ends first (a transfer ends it on purpose).
    pub async fn run_tool(
        &self,
        name: &str,
        ctx: ToolContext,
        parameters: Value,
        via: ToolVia,
    ) -> ToolResult {
        let engine = self.clone();
        let name = name.to_owned();
        tokio::spawn(async move { engine.run_and_log(&name, ctx, parameters, via).await })
            .await
            .unwrap_or_else(|e| Err(ToolError::Failed(format!("the tool failed: {e}"))))
    }

    async fn run_and_log(
        &self,
        name: &str,
        mut ctx: ToolContext,
        parameters: Value,
        via: ToolVia,
    ) -> ToolResult {
        let log = Arc::new(log::ToolLog::start(name, via, parameters.clone()));
        ctx.log = Some(log.clone());
        let result = match self.tools.get(name) {
            Some(tool) => match self.check_call_in_progress(&ctx).await {
                Ok(()) => tokio::time::timeout(TOOL_TIMEOUT, tool.call(ctx.clone(), parameters))
                    .await
                    .unwrap_or_else(|_| Err("the tool took too long".into())),
                Err(refused) => Err(refused),
            },
            None => Err(format!("no tool named `{name}` is available").into()),
        };
        // Parameters may hold emails and numbers: they go to the database, not the log.
        tracing::info!(
            tool = name,
            via = via.as_str(),
            call_id = ctx.call_id,
            duration_ms = log.duration_ms(),
            ok = result.is_ok(),
            "tool called"
        );
        if !log.written() {
            let logged = match &result {
                Ok(value) => value.clone(),
                Err(e) => Value::String(e.to_string()),
            };
            let entry = log.entry(ctx.call_id, &logged, result.is_err());
            if let Err(e) = self.store.add_tool_call(&entry).await {
                tracing::warn!(call_id = ctx.call_id, error = %e, "logging the tool call failed");
            }
        }
        result
    }

    /// Every tool acts inside a live call: one that exists, has not ended, and was
    /// answered (Twilio said in-progress, or the agent conversation is open: the status
    /// callback may trail the media stream).
    async fn check_call_in_progress(&self, ctx: &ToolContext) -> Result<(), ToolError> {
        let call_id = ctx.call_id.ok_or_else(|| {
            ToolError::invalid(
                "call_id",
                "tools run only during a call: pass the call_id of a call in progress",
            )
        })?;
        let call = match self.store.get_call(call_id).await {
            Ok(call) => call,
            Err(parley_store::StoreError::NotFound) => {
                return Err(ToolError::invalid("call_id", "no call has this id"))
            }
            Err(e) => return Err(ToolError::Failed(e.to_string())),
        };
        let answered = call.status == CallStatus::InProgress || call.conversation_id.is_some();
        if call.status.is_final() || call.ended_at.is_some() || !answered {
            return Err(ToolError::Failed(format!(
                "This call is {}, not in progress: tools run only during a live call.",
                call.status.as_str()
            )));
        }
        Ok(())
    }

    /// The zone a tool works in: the `timezone` parameter, else the callee's zone, else
    /// UTC (a server call made without a call).
    pub(crate) async fn tool_zone(
        &self,
        ctx: &ToolContext,
        parameters: &Value,
    ) -> Result<chrono_tz::Tz, ToolError> {
        if let Some(zone) = params::optional_zone(parameters, "timezone")? {
            return Ok(zone);
        }
        let Some(call_id) = ctx.call_id else {
            return Ok(chrono_tz::Tz::UTC);
        };
        let call = self
            .store
            .get_call(call_id)
            .await
            .map_err(|e| e.to_string())?;
        let mut db = self.store.reader().await.map_err(|e| e.to_string())?;
        Ok(crate::calls::call_zone(&mut db, &call)
            .await
            .map_err(|e| e.to_string())?)
    }

    /// The context of a server tool call: the call named by `call_id`, if any.
    pub async fn tool_context(&self, call_id: Option<i64>) -> Result<ToolContext, ToolError> {
        let Some(id) = call_id else {
            return Ok(ToolContext::default());
        };
        match self.store.get_call(id).await {
            Ok(call) => Ok(ToolContext::of_call(&call)),
            Err(parley_store::StoreError::NotFound) => {
                Err(ToolError::invalid("call_id", "no call has this id"))
            }
            Err(e) => Err(ToolError::Failed(e.to_string())),
        }
    }
}
