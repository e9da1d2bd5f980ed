//! `parley admin …`: creating users and API keys from the command line.
use crate::cli::{AdminCommand, CreateApiKeyArgs, CreateUserArgs};
use crate::database;
use anyhow::Context;
use parley_engine::accounts::{self, ApiKeySpec};
use parley_engine::settings::Settings;
use parley_store::Store;
use std::io::BufRead;

const DAY_MILLIS: i64 = 24 * 60 * 60 * 1000;

pub async fn run(settings: Settings, command: AdminCommand) -> anyhow::Result<()> {
    let store = database::open(&settings).await?;
    let result = match command {
        AdminCommand::CreateUser(args) => create_user(&store, args).await,
        AdminCommand::CreateApiKey(args) => create_api_key(&store, args).await,
    };
    store.close().await;
    result
}

async fn create_user(store: &Store, args: CreateUserArgs) -> anyhow::Result<()> {
    let password = match args.password {
        Some(password) => password,
        None => read_password_line()?,
    };
    let user = accounts::create_user(store, &args.email, &password, args.role, None)
        .await
        .context("cannot create the user")?;
    println!(
        "created user {} (id {}, role {})",
        user.email,
        user.id,
        user.role.as_str()
    );
    Ok(())
}

async fn create_api_key(store: &Store, args: CreateApiKeyArgs) -> anyhow::Result<()> {
    let expires_at = args
        .expires_in_days
        .map(|days| parley_domain::time::now_millis() + i64::from(days) * DAY_MILLIS);
    let spec = ApiKeySpec {
        name: &args.name,
        role: args.role,
        expires_at_millis: expires_at,
        created_by: None,
    };
    let (key, plaintext) = accounts::create_api_key(store, spec, None)
        .await
        .context("cannot create the API key")?;
    let expires = match key.expires_at {
        Some(ms) => parley_domain::time::from_millis(ms).to_rfc3339(),
        None => "never".to_owned(),
    };
    println!(
        "created API key {:?} (id {}, role {}, prefix {}, expires {expires})",
        key.name,
        key.id,
        key.role.as_str(),
        key.prefix
    );
    println!("store the key now, it is not shown again:");
    // Alone on the last line, so scripts can take it with `tail -1`.
    println!("{plaintext}");
    Ok(())
}

fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password on standard input");
    Ok(password)
}
