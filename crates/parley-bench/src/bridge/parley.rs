//! Parley's own bridge as the system under test: `parley serve` in a child process (so
//! its CPU and memory are its own), on a fresh SQLite database in which the calls are
//! prepared the way placing a call prepares them: a call row, a call SID and the hash of
//! a one-time stream token. Each simulated stream then presents the call id and token in
//! `start.customParameters` and authenticates exactly as Twilio's would.
use super::twilio_side::StreamAuth;
use crate::BenchError;
use parley_engine::settings::Settings;
use parley_store::{NewCall, Store};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const READY_POLL: Duration = Duration::from_millis(50);
const AGENT_ID: &str = "agent_bench";

pub struct ParleyBridge {
    child: Child,
    pub pid: u32,
    /// `ws://127.0.0.1:<port>/twilio/media`.
    pub media_url: String,
    _dir: tempfile::TempDir,
}

impl ParleyBridge {
    /// Prepares `calls` calls and starts `parley serve` (`exe`), using the simulated
    /// agent at `agent` for ElevenLabs and, so it is not in sandbox mode, for Twilio's
    /// REST API too (which a call ended by Twilio, as here, never uses). With `core`, the
    /// server is pinned to that CPU core; without `metrics`, it records none.
    pub async fn start(
        exe: &Path,
        agent: SocketAddr,
        calls: usize,
        core: Option<usize>,
        metrics: bool,
    ) -> Result<(ParleyBridge, Vec<StreamAuth>), BenchError> {
        let dir = tempfile::Builder::new()
            .prefix("parley-bench-bridge-")
            .tempdir()?;
        let settings = Settings {
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        };
        let streams = prepare_calls(&settings.database_url(), calls).await?;
        let listen = free_port()?;

        let mut command = match core {
            Some(core) => {
                let mut taskset = Command::new("taskset");
                taskset.arg("-c").arg(core.to_string()).arg(exe);
                taskset
            }
            None => Command::new(exe),
        };
        // Inherited PARLEY_* settings (a database URL, say) must not leak into the run.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PARLEY_") {
                command.env_remove(name);
            }
        }
        let agent_url = format!("http://{agent}/");
        command
            .arg("serve")
            // No ./parley.toml is read from an empty directory.
            .current_dir(dir.path())
            .env("PARLEY_LISTEN", listen.to_string())
            .env("PARLEY_METRICS__LISTEN", "127.0.0.1:0")
            .env("PARLEY_METRICS__ENABLED", metrics.to_string())
            .env("PARLEY_DATA_DIR", dir.path())
            .env("PARLEY_LOG__LEVEL", "warn")
            .env(
                "PARLEY_TWILIO__ACCOUNT_SID",
                format!("AC{:032x}", 0xbe_u128),
            )
            .env("PARLEY_TWILIO__AUTH_TOKEN", "bench-auth-token")
            .env("PARLEY_TWILIO__API_BASE_URL", &agent_url)
            .env("PARLEY_ELEVENLABS__API_KEY", "bench-api-key")
            .env("PARLEY_ELEVENLABS__API_BASE_URL", &agent_url)
            .stdin(Stdio::null())
            // Our stdout carries the report.
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let child = command.spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| BenchError::Child("parley serve exited at once".into()))?;
        let mut bridge = ParleyBridge {
            child,
            pid,
            media_url: format!("ws://{listen}/twilio/media"),
            _dir: dir,
        };
        bridge.wait_ready(listen).await?;
        Ok((bridge, streams))
    }

    /// Polls `/healthz` until the server answers, failing if the child exits.
    async fn wait_ready(&mut self, listen: SocketAddr) -> Result<(), BenchError> {
        let client = reqwest::Client::new();
        let url = format!("http://{listen}/healthz");
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(BenchError::Child(format!("parley serve exited ({status})")));
            }
            let answer = client.get(&url).timeout(READY_POLL * 10).send().await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(BenchError::Child(
                    "parley serve did not answer /healthz in time".into(),
                ));
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Writes the call rows and stream tokens before the server starts, so nothing but the
/// server touches the database while it is measured.
async fn prepare_calls(database_url: &str, calls: usize) -> Result<Vec<StreamAuth>, BenchError> {
    let store = Store::open(database_url).await?;
    let mut streams = Vec::with_capacity(calls);
    for i in 0..calls {
        let call = store
            .create_call(&NewCall {
                attempt: 1,
                to: format!("+1415555{:04}", i % 10_000),
                from: "+15005550006".to_owned(),
                agent_id: Some(AGENT_ID.to_owned()),
                dynamic_variables: serde_json::json!({"first_name": format!("Caller{i}")}),
                overrides: serde_json::json!({}),
                ..NewCall::default()
            })
            .await?;
        store
            .set_call_sid(call.id, &super::frame::StreamIds::for_call(i).call_sid)
            .await?;
        let token = uuid::Uuid::new_v4().simple().to_string();
        store
            .set_stream_token(call.id, &parley_engine::secrets::sha256_hex(&token))
            .await?;
        streams.push(StreamAuth {
            call_id: call.id.to_string(),
            token,
        });
    }
    store.close().await;
    Ok(streams)
}

/// A port that was free a moment ago (the child binds it right after).
fn free_port() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}
