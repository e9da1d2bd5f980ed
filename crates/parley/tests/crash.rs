//! Crash safety: `parley serve` is killed with SIGKILL at random moments while it runs a
//! campaign, and restarted each time. The simulated carrier runs in its own process
//! (`parley sim`), so it remembers every call, as Twilio would. Afterwards no contact may
//! be lost, and the carrier may have exactly one call per attempt Parley recorded.
//!
//! CI size: 300 contacts, 20 kills. The full size is one variable away:
//! `PARLEY_CRASH_CONTACTS=2000 PARLEY_CRASH_KILLS=20 cargo test -p parley --test crash`.
mod common;

use common::{free_port, Proc};
use parley_twilio::rest::{CallFilter, TwilioClient};
use rand::Rng;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SID: &str = "AC00000000000000000000000000000000";
const TOKEN: &str = "sandbox-auth-token";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn parley() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_parley"));
    c.env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("PARLEY_") {
            c.env_remove(k);
        }
    }
    c
}

struct Node {
    dir: std::path::PathBuf,
    port: u16,
    twilio: String,
    elevenlabs: String,
}

impl Node {
    fn command(&self) -> Command {
        let mut c = parley();
        c.arg("--data-dir")
            .arg(&self.dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port));
        for (k, v) in [
            ("PARLEY_TWILIO__ACCOUNT_SID", SID),
            ("PARLEY_TWILIO__AUTH_TOKEN", TOKEN),
            ("PARLEY_TWILIO__API_BASE_URL", &self.twilio),
            ("PARLEY_TWILIO__CALLER_ID", "+15005550006"),
            ("PARLEY_ELEVENLABS__API_KEY", "sandbox-xi-api-key"),
            ("PARLEY_ELEVENLABS__API_BASE_URL", &self.elevenlabs),
            (
                "PARLEY_ELEVENLABS__WEBHOOK_SECRET",
                "sandbox-webhook-secret",
            ),
            ("PARLEY_ELEVENLABS__AGENT_ID", "sandbox-agent"),
            ("PARLEY_DIALER__ACCOUNT_CALLS_PER_SECOND", "50"),
            ("PARLEY_CALLS__POST_CALL_WAIT_SECS", "2"),
        ] {
            c.env(k, v);
        }
        c
    }

    /// Starts `parley serve` and returns once it logs that it is listening.
    fn start(&self) -> Proc {
        common::serve(self.command())
    }

    fn api(&self, key: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let client = reqwest::blocking::Client::new();
        let mut req = client
            .request(
                method,
                format!("http://127.0.0.1:{}/api/v1{path}", self.port),
            )
            .bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().unwrap().json().unwrap()
    }
}

/// Polls `ready` until it holds: the campaign's progress lives in another process,
/// which has no push channel for it yet.
fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "condition not reached within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn key(dir: &Path, node: &Node) -> String {
    let out = node
        .command()
        .args([
            "admin",
            "create-api-key",
            "--name",
            "crash",
            "--role",
            "operator",
        ])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success());
    let _ = dir;
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn killing_the_server_at_random_never_loses_a_contact_or_dials_an_attempt_twice() {
    let contacts = env_number("PARLEY_CRASH_CONTACTS", 300);
    let kills = env_number("PARLEY_CRASH_KILLS", 20);
    let dir = tempfile::tempdir().unwrap();
    let (twilio_port, agent_port, parley_port) = (free_port(), free_port(), free_port());
    let _carrier = Proc(
        parley()
            .args(["sim", "--speed", "20"])
            .arg("--twilio-listen")
            .arg(format!("127.0.0.1:{twilio_port}"))
            .arg("--elevenlabs-listen")
            .arg(format!("127.0.0.1:{agent_port}"))
            .arg("--webhook-url")
            .arg(format!("http://127.0.0.1:{parley_port}/elevenlabs/webhook"))
            .spawn()
            .unwrap(),
    );
    let node = Node {
        dir: dir.path().to_path_buf(),
        port: parley_port,
        twilio: format!("http://127.0.0.1:{twilio_port}"),
        elevenlabs: format!("http://127.0.0.1:{agent_port}"),
    };
    let status = node.command().arg("migrate").status().unwrap();
    assert!(status.success());
    let key = key(dir.path(), &node);

    // Contacts: mostly conversations, plus callees whose outcomes retry (no answer, busy).
    let mut csv = String::from("phone\n");
    for i in 0..contacts.saturating_sub(2) {
        csv.push_str(&format!("+1555030{i:04}\n"));
    }
    csv.push_str("+15550100003\n+15550100004\n");
    let mut server = node.start();
    let retry = |max: u32| json!({"max_attempts": max, "delay_minutes": 0});
    let campaign = node.api(&key, reqwest::Method::POST, "/campaigns", Some(json!({"name": "crash", "settings": {
        "max_concurrent_calls": 20, "calls_per_second": 50,
        "calling_window": {"start": "00:00", "end": "23:59", "days": ["mon","tue","wed","thu","fri","sat","sun"]},
        "allow_outside_legal_hours": true, "answering_machine": {"policy": "off"},
        "retry": {"no_answer": retry(2), "busy": retry(2), "failed": retry(2), "voicemail": retry(1),
                  "short_call": retry(2), "short_call_seconds": 1, "unsuccessful": retry(1), "max_attempts_per_day": 10}}})));
    let id = campaign["id"].as_i64().expect("campaign created");
    let form = reqwest::blocking::multipart::Form::new().part(
        "file",
        reqwest::blocking::multipart::Part::text(csv).file_name("c.csv"),
    );
    let import: Value = reqwest::blocking::Client::new()
        .post(format!(
            "http://127.0.0.1:{parley_port}/api/v1/contacts/import?campaign_id={id}"
        ))
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        import["import"]["created"].as_u64(),
        Some(contacts as u64),
        "{import}"
    );
    node.api(
        &key,
        reqwest::Method::POST,
        &format!("/campaigns/{id}/start"),
        None,
    );

    // The behaviour under test: death at random moments.
    let mut rng = rand::thread_rng();
    for _ in 0..kills {
        std::thread::sleep(Duration::from_millis(rng.gen_range(200..2500)));
        let _ = server.0.kill();
        let _ = server.0.wait();
        server = node.start();
    }
    wait_until(Duration::from_secs(600), || {
        node.api(
            &key,
            reqwest::Method::GET,
            &format!("/campaigns/{id}"),
            None,
        )["state"]
            == "completed"
    });
    let campaign = node.api(
        &key,
        reqwest::Method::GET,
        &format!("/campaigns/{id}"),
        None,
    );
    let p = &campaign["progress"];
    let finished = ["completed", "failed", "cancelled"]
        .iter()
        .map(|k| p[k].as_i64().unwrap())
        .sum::<i64>();
    assert_eq!(
        (p["total"].as_i64().unwrap(), finished),
        (contacts as i64, contacts as i64),
        "no contact lost: {p}"
    );

    // Parley's calls per number, against the carrier's.
    let mut ours: HashMap<String, usize> = HashMap::new();
    let mut attempts_recorded = 0;
    let mut voided = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/calls?campaign_id={id}&limit=500&cursor={c}"),
            None => format!("/calls?campaign_id={id}&limit=500"),
        };
        let page = node.api(&key, reqwest::Method::GET, &path, None);
        for call in page["items"].as_array().unwrap() {
            // Voided attempts never reached the carrier and are not attempts.
            if call["error_message"] == "never dialled: the node stopped first" {
                voided += 1;
            } else {
                *ours
                    .entry(call["to"].as_str().unwrap().to_string())
                    .or_default() += 1;
                attempts_recorded += 1;
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(
        attempts_recorded as i64,
        p["attempts"].as_i64().unwrap(),
        "counters agree with the calls"
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let carrier: HashMap<String, usize> = runtime.block_on(async {
        let client =
            TwilioClient::new(SID, TOKEN.to_string().into()).with_base_url(node.twilio.clone());
        let mut counts: HashMap<String, usize> = HashMap::new();
        let mut page = client
            .list_calls(&CallFilter {
                page_size: Some(1000),
                ..CallFilter::default()
            })
            .await
            .unwrap();
        loop {
            for call in &page.calls {
                *counts.entry(call.to.clone()).or_default() += 1;
            }
            match client.next_calls_page(&page).await.unwrap() {
                Some(next) => page = next,
                None => break counts,
            }
        }
    });
    let mut mismatches: Vec<String> = Vec::new();
    for (number, n) in &carrier {
        if ours.get(number) != Some(n) {
            mismatches.push(format!(
                "{number}: carrier {n}, parley {:?}",
                ours.get(number)
            ));
        }
    }
    for (number, n) in &ours {
        if !carrier.contains_key(number) {
            mismatches.push(format!("{number}: carrier 0, parley {n}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "every carrier call is exactly one recorded attempt: {mismatches:?}"
    );
    assert_eq!(ours.len(), contacts, "every contact was dialled");
    eprintln!(
        "crash test: {contacts} contacts, {kills} kills, {attempts_recorded} attempts, \
         {voided} attempts voided (never dialled), {} carrier calls, progress {p}",
        carrier.values().sum::<usize>()
    );
    drop(server);
}
