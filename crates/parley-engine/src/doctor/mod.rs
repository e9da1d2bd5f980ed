//! `parley doctor`: checks a configuration against the world it will run in (the
//! database, this node's public URL, Twilio, ElevenLabs, the data directory, the clock)
//! and says, for each finding, what to do. The CLI prints the report; the dashboard's
//! settings page shows the same one from `GET /api/v1/doctor`.

mod local;
mod services;

use serde::Serialize;
use utoipa::ToSchema;

use crate::directory::Directory;
use crate::settings::Settings;
use crate::telephony::Telephony;
use parley_store::Store;

/// How a finding reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Ok,
    /// Works, but worse than it could (transcoding, a clock drifting).
    Warning,
    /// Calls will fail or Parley cannot run this way.
    Problem,
}

/// One thing checked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Finding {
    /// Stable id of the check: `database`, `twilio.account`, `elevenlabs.agent`...
    pub check: String,
    pub severity: Severity,
    /// What was found, in a sentence.
    pub message: String,
    /// What to do about it; `None` when nothing needs doing.
    pub fix: Option<String>,
}

impl Finding {
    fn ok(check: &str, message: impl Into<String>) -> Self {
        Self::new(check, Severity::Ok, message, None::<String>)
    }

    fn warning(check: &str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Severity::Warning, message, Some(fix))
    }

    fn problem(check: &str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Severity::Problem, message, Some(fix))
    }

    fn new(
        check: &str,
        severity: Severity,
        message: impl Into<String>,
        fix: Option<impl Into<String>>,
    ) -> Self {
        Self {
            check: check.to_owned(),
            severity,
            message: message.into(),
            fix: fix.map(Into::into),
        }
    }
}

/// Every finding, in the order checked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Report {
    /// `true` when nothing is a problem (warnings allowed): `parley doctor` exits 0.
    pub healthy: bool,
    pub sandbox: bool,
    pub findings: Vec<Finding>,
}

/// What the doctor looks at.
pub struct Subject<'a> {
    pub settings: &'a Settings,
    /// Warnings from loading the settings (unknown keys, ignored variables).
    pub setting_warnings: &'a [String],
    /// The database, or why it could not be connected to.
    pub store: Result<&'a Store, String>,
    pub telephony: &'a Telephony,
    pub directory: &'a Directory,
}

/// Runs every check.
pub async fn examine(subject: &Subject<'_>) -> Report {
    let mut findings = local::settings(subject);
    let store = subject.store.as_ref().copied().map_err(String::as_str);
    findings.extend(local::database(store).await);
    findings.extend(local::public_url(subject).await);
    let in_use = services::in_use(subject).await;
    findings.extend(services::twilio(subject, &in_use).await);
    findings.extend(services::elevenlabs(subject, &in_use).await);
    // A file write and statvfs: blocking calls, kept off the workers that carry calls.
    let dir = subject.settings.data_dir.clone();
    findings.extend(
        tokio::task::spawn_blocking(move || local::data_dir(&dir))
            .await
            .unwrap_or_else(|e| {
                vec![Finding::warning(
                    "data_dir",
                    format!("the data directory check did not finish: {e}"),
                    "run `parley doctor` again",
                )]
            }),
    );
    findings.extend(services::clock(subject.telephony).await);
    Report {
        healthy: findings.iter().all(|f| f.severity != Severity::Problem),
        sandbox: subject.telephony.sandbox,
        findings,
    }
}
