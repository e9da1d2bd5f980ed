//! Pinning to CPU cores with util-linux's `taskset`, so the bridge and the load
//! generator each have a core and neither's figures include the other's work.
use crate::BenchError;
use std::process::{Command, Stdio};

/// The bridge's core; the load generator takes the next one.
pub const BRIDGE_CORE: usize = 0;
pub const LOADGEN_CORE: usize = 1;

/// Fails unless `taskset` runs and there are two cores to pin to.
pub fn check() -> Result<(), BenchError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores <= LOADGEN_CORE {
        return Err(BenchError::Child(format!(
            "--pin needs two CPU cores; {cores} available"
        )));
    }
    let found = Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        return Err(BenchError::Child(
            "--pin needs `taskset` (util-linux)".into(),
        ));
    }
    Ok(())
}

/// Pins every thread of this process (and threads it starts later) to `core`.
pub fn this_process(core: usize) -> Result<(), BenchError> {
    let status = Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &core.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(BenchError::Child(format!("taskset failed ({status})")));
    }
    Ok(())
}
