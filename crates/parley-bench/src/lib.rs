//! Load generators and measurements behind `parley bench`.
//!
//! Each scenario is a sibling module with an options struct, a `run` function and a result
//! row; `report` prints any scenario's rows as a table or as one JSON object. Scenarios
//! talk to a real Parley server over loopback, so what they measure is what a client
//! would see: `import` starts it in-process ([`server::BenchServer`]); `bridge` runs it as
//! a child process, so that its CPU and memory are measured apart from the load
//! generator's; `pickup` runs it in-process between the simulators.
//!
//! Figures are reported, never asserted: speed depends on the machine.
#![forbid(unsafe_code)]

pub mod analytics;
pub mod bridge;
pub mod child;
pub mod dialer;
pub mod export;
pub mod import;
pub mod pickup;
pub mod proc_stats;
pub mod report;
pub mod server;

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where `--postgres-url` points when neither it nor `PARLEY_TEST_POSTGRES_URL` is set.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The scenarios, by the name used on the command line and in the JSON `scenario` field.
pub const SCENARIOS: &[&str] = &[
    import::SCENARIO,
    bridge::SCENARIO,
    dialer::SCENARIO,
    analytics::SCENARIO,
    export::SCENARIO,
    pickup::SCENARIO,
];

/// A database backend to run a scenario on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Db {
    /// A SQLite file in a fresh temporary directory.
    Sqlite,
    /// A fresh database on the PostgreSQL server at the admin URL, dropped afterwards.
    Postgres,
}

impl Db {
    pub const ALL: [Db; 2] = [Db::Sqlite, Db::Postgres];

    pub fn as_str(self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("PostgreSQL at {url}: {source}")]
    Postgres {
        /// The URL without its password.
        url: String,
        source: sqlx::Error,
    },
    #[error("invalid PostgreSQL URL: {0}")]
    PostgresUrl(String),
    #[error(transparent)]
    Store(#[from] parley_store::StoreError),
    /// Starting or stopping the node under test failed.
    #[error("cannot start the server: {0}")]
    Launch(server::BoxError),
    #[error("cannot create the API key: {0}")]
    ApiKey(#[from] parley_engine::accounts::AccountError),
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the server answered {status}: {body}")]
    Status { status: u16, body: String },
    /// The server's answer disagrees with what the generated input must produce: the
    /// figures would describe a broken run, so none are reported.
    #[error("wrong result: {0}")]
    Wrong(String),
    #[error("{0}")]
    Child(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// `url` with any password replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "(unparsable url)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_url_hides_the_password() {
        let shown = redact_url("postgres://u:hunter2@db:5432/postgres");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("db:5432"), "{shown}");
    }

    #[test]
    fn db_names_match_serde() {
        for db in Db::ALL {
            assert_eq!(
                serde_json::to_value(db).unwrap(),
                serde_json::Value::from(db.as_str())
            );
        }
    }
}
