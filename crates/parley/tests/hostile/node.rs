//! One `parley serve` in sandbox mode (no credentials: its own simulators), with an
//! operator and an admin key, and what the suite reads from it: the API and its memory.
use crate::common::{free_port, serve_logged, Proc};
use reqwest::Method;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The published sandbox credentials, used because the node listens on loopback (README,
/// "Sandbox mode"): the suite plays Twilio and ElevenLabs with them where an attacker
/// would have to have stolen them (a media stream after authentication, a replay).
pub const TWILIO_AUTH_TOKEN: &str = "sandbox-auth-token";
pub const TWILIO_ACCOUNT_SID: &str = "AC00000000000000000000000000000000";
pub const ELEVENLABS_WEBHOOK_SECRET: &str = "sandbox-webhook-secret";

/// Timeouts shortened from the defaults (10 s, 30 s, 10 s) so the suite sees each expire
/// within its run; the defences are the same code whatever the value.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(2);
pub const REQUEST_BODY_TIMEOUT: Duration = Duration::from_secs(2);
pub const MEDIA_START_TIMEOUT: Duration = Duration::from_secs(3);
/// `http.media_max_unauthenticated`, left at its default.
pub const MEDIA_MAX_UNAUTHENTICATED: usize = 64;

pub struct Node {
    pub port: u16,
    pub operator: String,
    pub admin: String,
    pub http: reqwest::Client,
    pub log: Arc<Mutex<Vec<String>>>,
    server: Proc,
    _dir: tempfile::TempDir,
}

fn parley(dir: &Path, port: u16, speed: f64) -> Command {
    let mut c = crate::common::clean_parley();
    c.arg("--data-dir")
        .arg(dir)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"));
    let secs = |d: Duration| d.as_secs_f64().to_string();
    for (k, v) in [
        ("PARLEY_SANDBOX__SPEED", speed.to_string()),
        ("PARLEY_DIALER__ACCOUNT_CALLS_PER_SECOND", "50".into()),
        // Parley waits for the simulator's post-call webhook instead of fetching it.
        ("PARLEY_CALLS__POST_CALL_WAIT_SECS", "60".into()),
        (
            "PARLEY_HTTP__HEADER_READ_TIMEOUT_SECS",
            secs(HEADER_READ_TIMEOUT),
        ),
        (
            "PARLEY_HTTP__REQUEST_BODY_TIMEOUT_SECS",
            secs(REQUEST_BODY_TIMEOUT),
        ),
        (
            "PARLEY_HTTP__MEDIA_START_TIMEOUT_SECS",
            secs(MEDIA_START_TIMEOUT),
        ),
    ] {
        c.env(k, v);
    }
    c
}

fn create_key(command: Command, role: &str) -> String {
    crate::common::create_api_key(command, "hostile", role)
}

impl Node {
    pub fn start(speed: f64) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let port = free_port();
        let status = parley(&data, port, speed).arg("migrate").status().unwrap();
        assert!(status.success(), "migrate");
        let operator = create_key(parley(&data, port, speed), "operator");
        let admin = create_key(parley(&data, port, speed), "admin");
        let (server, log) = serve_logged(parley(&data, port, speed));
        Node {
            port,
            operator,
            admin,
            http: reqwest::Client::new(),
            log,
            server,
            _dir: dir,
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.server.0.id()
    }

    /// An API request with `key`; the status and the JSON body (`Null` when empty).
    pub async fn api(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, self.url(&format!("/api/v1{path}")))
            .bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn call(&self, id: i64) -> Value {
        let (status, call) = self
            .api(&self.operator, Method::GET, &format!("/calls/{id}"), None)
            .await;
        assert_eq!(status, 200, "{call}");
        call
    }

    /// Places a one-off call; returns its id.
    pub async fn place(&self, to: &str) -> i64 {
        self.place_call(to).await["id"].as_i64().unwrap()
    }

    /// Places a one-off call; returns its record as `POST /calls` answers it, once the
    /// carrier has taken the call (so with its Twilio SID).
    pub async fn place_call(&self, to: &str) -> Value {
        let body = serde_json::json!({ "to": to });
        let (status, call) = self
            .api(&self.operator, Method::POST, "/calls", Some(body))
            .await;
        assert_eq!(status, 201, "{call}");
        call
    }

    /// Whether the server is still running (it has not crashed).
    pub fn running(&mut self) -> bool {
        matches!(self.server.0.try_wait(), Ok(None))
    }
}

/// The status and the body: JSON when it parses, else the text as a JSON string (which
/// the error assertions then reject).
pub async fn read(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// Asserts the standard error body, `{"error": {"code", "message", ...}}`, with `code`.
pub fn assert_error(what: &str, status: u16, body: &Value, expected: (u16, &str)) {
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (expected.0, Some(expected.1)),
        "{what}: {body}"
    );
    assert!(
        body["error"]["message"].is_string(),
        "{what}: error without a message: {body}"
    );
}

/// Resident memory of a process, in KiB: now (`VmRSS`) and its peak so far (`VmHWM`);
/// `None` once it is gone.
pub fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}
