//! Checks of this machine and its settings: settings, database, public URL, data directory.

use std::path::Path;
use std::time::Duration;

use parley_store::Store;

use super::{Finding, Subject};

/// Below this much free space, recordings and SQLite will soon fail.
const LOW_SPACE: u64 = 1 << 30;
const NO_SPACE: u64 = 100 << 20;
const URL_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) fn settings(subject: &Subject<'_>) -> Vec<Finding> {
    let mut findings = vec![Finding::ok("settings", "the settings are valid")];
    for warning in subject.setting_warnings {
        findings.push(Finding::warning(
            "settings",
            warning.clone(),
            "remove the setting, or correct its name (`parley config` lists them all)",
        ));
    }
    findings
}

pub(super) async fn database(store: Result<&Store, &str>) -> Vec<Finding> {
    const CHECK: &str = "database";
    let store = match store {
        Ok(store) => store,
        Err(e) => {
            return vec![Finding::problem(
            CHECK,
            format!("cannot connect to the database: {e}"),
            "check database_url (PARLEY_DATABASE_URL) and that the server is running and reachable",
        )]
        }
    };
    if let Err(e) = store.ping().await {
        return vec![Finding::problem(
            CHECK,
            format!("the database does not answer: {e}"),
            "check database_url (PARLEY_DATABASE_URL) and that the server is running and reachable",
        )];
    }
    match store.pending_migrations().await {
        Ok(0) => vec![Finding::ok(
            CHECK,
            format!("{:?} database reachable and migrated", store.backend()),
        )],
        Ok(n) => vec![Finding::warning(
            CHECK,
            format!("the database lacks {n} of this version's migrations"),
            "run `parley migrate` (or start `parley serve`, which migrates)",
        )],
        Err(e) => vec![Finding::problem(
            CHECK,
            format!("cannot read the migrations applied: {e}"),
            "check that the database user may read the `_sqlx_migrations` table",
        )],
    }
}

/// `public_base_url` is where Twilio and ElevenLabs call back; Twilio streams media only
/// to `wss://`, so production needs https, and the URL must reach a Parley.
pub(super) async fn public_url(subject: &Subject<'_>) -> Vec<Finding> {
    const CHECK: &str = "public_base_url";
    let base = &subject.telephony.public_base;
    let mut findings = Vec::new();
    if base.scheme() != "https" {
        if subject.telephony.sandbox {
            findings.push(Finding::ok(
                CHECK,
                format!("{base} is plain http, which the simulators accept"),
            ));
        } else {
            findings.push(Finding::problem(
                CHECK,
                format!("{base} is not https: Twilio streams call audio only to wss:// URLs"),
                "put Parley behind a TLS reverse proxy (README: \"Behind a TLS reverse proxy\") and set public_base_url to its https URL",
            ));
        }
    }
    let health = format!("{}/healthz", base.as_str().trim_end_matches('/'));
    let answer = reqwest::Client::new()
        .get(&health)
        .timeout(URL_TIMEOUT)
        .send()
        .await;
    let reached = match answer {
        Ok(r) if r.status().is_success() => r.text().await.is_ok_and(|body| body.trim() == "ok"),
        _ => false,
    };
    if reached {
        findings.push(Finding::ok(CHECK, format!("{health} answers as Parley")));
    } else if subject.telephony.sandbox {
        findings.push(Finding::warning(
            CHECK,
            format!("no Parley answers at {health}"),
            "start `parley serve`, or set public_base_url to where it listens",
        ));
    } else {
        findings.push(Finding::problem(
            CHECK,
            format!("no Parley answers at {health}: Twilio and ElevenLabs could not reach this node"),
            "start `parley serve`, check DNS and the reverse proxy, and that public_base_url is this node's public URL",
        ));
    }
    findings
}

pub(super) fn data_dir(dir: &Path) -> Vec<Finding> {
    const CHECK: &str = "data_dir";
    let probe = dir.join(".parley-doctor-probe");
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&probe, b"probe"))
        .and_then(|()| std::fs::remove_file(&probe));
    if let Err(e) = written {
        return vec![Finding::problem(
            CHECK,
            format!("{} is not writable: {e}", dir.display()),
            "give the user Parley runs as write access to data_dir, or point data_dir elsewhere",
        )];
    }
    match free_bytes(dir) {
        Ok(free) if free < NO_SPACE => vec![Finding::problem(
            CHECK,
            format!("{} has only {} MiB free", dir.display(), free >> 20),
            "free space on that disk: recordings and the SQLite database are written there",
        )],
        Ok(free) if free < LOW_SPACE => vec![Finding::warning(
            CHECK,
            format!("{} has {} MiB free", dir.display(), free >> 20),
            "free space, or lower calls.recording_retention_days",
        )],
        Ok(free) => vec![Finding::ok(
            CHECK,
            format!("{} is writable, {} GiB free", dir.display(), free >> 30),
        )],
        Err(e) => vec![Finding::warning(
            CHECK,
            format!("cannot tell the free space of {}: {e}", dir.display()),
            "check the disk's free space by hand",
        )],
    }
}

// The C types are u64 on 64-bit Linux but narrower elsewhere.
#[allow(clippy::useless_conversion)]
fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let stat = nix::sys::statvfs::statvfs(dir).map_err(std::io::Error::from)?;
    Ok(u64::from(stat.blocks_available()) * u64::from(stat.fragment_size()))
}
