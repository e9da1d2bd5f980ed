//! `parley tools export`: the agent tools' definitions, ready to register with an
//! ElevenLabs agent (`POST /v1/convai/tools` with each as `tool_config`).
use crate::cli::ToolsCommand;
use parley_engine::settings::Settings;
use parley_engine::tools::{ToolDefinition, ToolRegistry};
use secrecy::ExposeSecret;

pub fn run(settings: &Settings, command: ToolsCommand) -> anyhow::Result<()> {
    let ToolsCommand::Export {
        client,
        reveal_secrets,
    } = command;
    // Only the descriptions are needed: the tools never run here.
    let registry = ToolRegistry::builtin(&std::sync::Weak::new(), &settings.tools);
    let base = settings
        .tools
        .public_base_url
        .clone()
        .unwrap_or_else(|| settings.public_base_url());
    let definitions: Vec<serde_json::Value> = registry
        .iter()
        .map(|tool| {
            if client {
                return ToolDefinition::client(tool.as_ref());
            }
            let secret = settings
                .tools
                .secrets
                .get(tool.name())
                .filter(|_| reveal_secrets)
                .map(|s| s.expose_secret());
            ToolDefinition::webhook(tool.as_ref(), &base, secret)
        })
        .collect();
    println!("{}", serde_json::to_string_pretty(&definitions)?);
    Ok(())
}
