//! The `parley` binary: command line parsing, settings, logging, then one command.
#![forbid(unsafe_code)]

mod admin;
mod app;
mod bench;
mod campaigns;
mod cli;
mod database;
mod doctor;
mod export;
mod healthcheck;
mod import;
mod serve;
mod shutdown;
mod sim;
mod telemetry;
mod tools;

use anyhow::Context;
use clap::Parser;
use cli::{Cli, Command, GlobalArgs};
use parley_engine::settings::Settings;
use std::process::ExitCode;

/// jemalloc rather than the system's allocator: an import's many short-lived rows cost
/// glibc's a third of Parley's CPU (its free-chunk consolidation above all).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", describe_error(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, skipping a cause whose text its parent already
/// repeats (many library errors embed their source in their own message).
fn describe_error(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let command = match cli.command {
        Command::Config => {
            // Needs no settings, so it works even when the current ones are broken.
            print!("{}", Settings::example_toml());
            return Ok(());
        }
        Command::Openapi => {
            print!("{}", parley_server::openapi_json());
            return Ok(());
        }
        // Makes its own settings for the server it measures.
        Command::Bench(command) => return bench::run(command, cli.global.data_dir),
        Command::Sim(args) => return sim::run(args),
        command => command,
    };

    let (settings, warnings) = load_settings(&cli.global)?;
    let _tracing = telemetry::init(&settings.log)?;
    for warning in &warnings {
        tracing::warn!("{warning}");
    }

    if let Command::Tools(command) = command {
        return tools::run(&settings, command);
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match command {
            Command::Serve => serve::run(settings).await,
            Command::Migrate => migrate(settings).await,
            Command::Healthcheck => healthcheck::run(settings).await,
            Command::Doctor { json } => doctor::run(settings, warnings, json).await,
            Command::Admin(command) => admin::run(settings, command).await,
            Command::Campaigns(command) => campaigns::run(settings, command).await,
            Command::Import(args) => import::run(settings, args).await,
            Command::Export(command) => export::run(settings, command).await,
            Command::Config
            | Command::Openapi
            | Command::Bench(_)
            | Command::Sim(_)
            | Command::Tools(_) => {
                unreachable!("handled above")
            }
        }
    })
}

/// Settings from defaults, file and environment, then the command-line overrides.
fn load_settings(global: &GlobalArgs) -> anyhow::Result<(Settings, Vec<String>)> {
    let (mut settings, warnings) = Settings::load(global.config.as_deref())?;
    if let Some(listen) = global.listen {
        settings.listen = listen;
    }
    if let Some(data_dir) = &global.data_dir {
        settings.data_dir = data_dir.clone();
    }
    Ok((settings, warnings))
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let described = database::describe(&settings.database_url());
    let store = database::connect(&settings).await?;
    println!("connected to {described}");
    store
        .migrate()
        .await
        .with_context(|| format!("cannot migrate {described}"))?;
    store.close().await;
    println!("migrations applied: the schema is up to date");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::describe_error;

    #[test]
    fn error_chain_is_not_repeated() {
        let inner = std::io::Error::other("connection refused");
        let error = anyhow::Error::new(std::io::Error::other(format!("database error: {inner}")))
            .context("cannot connect");
        assert_eq!(
            describe_error(&error),
            "cannot connect: database error: connection refused"
        );
    }
}
