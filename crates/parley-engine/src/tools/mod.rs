//! Tools the agent can call during a conversation. The bridge runs client tool calls
//! through this registry; an unknown tool answers with an error result and the call goes on.
mod callback;
mod opt_out;

pub use callback::ScheduleCallback;
pub use opt_out::{OptOut, OPT_OUT_EVENT};

use futures::future::BoxFuture;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// What a tool knows about the call it runs in.
#[derive(Debug, Clone)]
pub struct ToolContext {
    pub call_id: i64,
    pub campaign_id: Option<i64>,
    pub contact_id: Option<i64>,
}

/// A tool's answer: text the agent reads, or an error the agent is told about.
pub type ToolResult = Result<Value, String>;

pub trait Tool: Send + Sync {
    fn name(&self) -> &'static str;
    fn call(&self, ctx: ToolContext, parameters: Value) -> BoxFuture<'static, ToolResult>;
}

#[derive(Clone, Default)]
pub struct ToolRegistry {
    tools: HashMap<&'static str, Arc<dyn Tool>>,
}

impl ToolRegistry {
    pub fn register(&mut self, tool: Arc<dyn Tool>) {
        self.tools.insert(tool.name(), tool);
    }

    pub async fn call(&self, name: &str, ctx: ToolContext, parameters: Value) -> ToolResult {
        match self.tools.get(name) {
            Some(tool) => tool.call(ctx, parameters).await,
            None => Err(format!("no tool named `{name}` is available")),
        }
    }
}
