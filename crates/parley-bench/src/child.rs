//! Running one backend of a scenario in a child process, so that its peak memory is its
//! own and not the sum of every run before it.
use crate::BenchError;
use serde::de::DeserializeOwned;
use std::process::Stdio;

/// Runs `command`, which must print one JSON report on stdout (a
/// [`Report`](crate::report::Report) or a scenario's own), and reads the report back. The child's stderr (its logs) passes
/// through.
pub async fn run_json<T: DeserializeOwned>(
    mut command: tokio::process::Command,
) -> Result<T, BenchError> {
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        // `spawn` and not `output`, which would capture stderr too.
        .spawn()?
        .wait_with_output()
        .await?;
    if !output.status.success() {
        return Err(BenchError::Child(format!(
            "the child run failed ({})",
            output.status
        )));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| {
        BenchError::Child(format!(
            "unreadable report ({e}): {}",
            String::from_utf8_lossy(&output.stdout).trim()
        ))
    })
}
