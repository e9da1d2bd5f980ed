//! `parley doctor`: the configuration checked against the world it will run in, each
//! finding with its fix. Exits 1 when anything is a problem. In sandbox mode the
//! simulators are started here and checked, as `serve` would use them.
use anyhow::bail;
use parley_engine::directory::Directory;
use parley_engine::doctor::{self, Report, Severity, Subject};
use parley_engine::settings::Settings;

use crate::database;

pub async fn run(mut settings: Settings, warnings: Vec<String>, json: bool) -> anyhow::Result<()> {
    let store = database::connect(&settings).await;
    let listen = settings.listen;
    let services = parley_sandbox::telephony(&mut settings, listen).await?;
    let directory = Directory::default();
    let report = doctor::examine(&Subject {
        settings: &settings,
        setting_warnings: &warnings,
        store: store.as_ref().map_err(|e| format!("{e:#}")),
        telephony: &services.telephony,
        directory: &directory,
    })
    .await;
    if let Some(sandbox) = services.sandbox {
        sandbox.stop().await;
    }
    if let Ok(store) = &store {
        store.close().await;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    let problems = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Problem)
        .count();
    if problems > 0 {
        bail!("{problems} problem(s) found");
    }
    Ok(())
}

/// One line per finding, its fix indented below it.
fn render(report: &Report) -> String {
    let width = report
        .findings
        .iter()
        .map(|f| f.check.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    if report.sandbox {
        out.push_str("sandbox mode: checked against the built-in simulators\n");
    }
    for finding in &report.findings {
        let label = match finding.severity {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Problem => "PROBLEM",
        };
        out.push_str(&format!(
            "{label:<8} {:<width$}  {}\n",
            finding.check, finding.message
        ));
        if let Some(fix) = &finding.fix {
            out.push_str(&format!("{:<8} {:<width$}  fix: {fix}\n", "", ""));
        }
    }
    out
}
