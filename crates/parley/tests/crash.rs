//! Crash safety: `parley serve` is killed with SIGKILL at random moments while it runs a
//! campaign against a simulated carrier that delivers status callbacks twice and out of
//! order (its chaos seed), and restarted each time. The carrier runs in its own process
//! (`parley sim`), so it remembers every call, as Twilio would.
//!
//! The same campaign also runs once without kills, with the same seed. Afterwards:
//! - no contact is lost, and each ends in the state, with the last outcome, it has in the
//!   run without kills (a conversation the kill cut short is retried, so it ends the same);
//! - the carrier has exactly one call per attempt Parley recorded, and Parley's record of
//!   each carrier call (status, answered-by, duration) is the carrier's own;
//! - every call that reached the agent has its analysis stored.
//!
//! CI size: 150 contacts, 20 kills. The full size is one variable away:
//! `PARLEY_CRASH_CONTACTS=2000 PARLEY_CRASH_KILLS=20 cargo test --workspace --test crash`.
mod common;

use common::live::Live;
use common::{free_port, Proc};
use parley_twilio::rest::{CallFilter, TwilioClient};
use rand::Rng;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::{Duration, Instant};

const SID: &str = "AC00000000000000000000000000000000";
const TOKEN: &str = "sandbox-auth-token";
const CHAOS_SEED: &str = "1202";
/// How long the campaign may take to complete after the last restart.
const COMPLETION_WAIT: Duration = Duration::from_secs(900);

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Node {
    dir: std::path::PathBuf,
    port: u16,
    twilio: String,
    elevenlabs: String,
}

impl Node {
    fn command(&self) -> Command {
        let mut c = common::clean_parley();
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
            ("PARLEY_DIALER__MAX_CONCURRENT_CALLS", "20"),
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

    fn get(&self, key: &str, path: &str) -> Value {
        self.api(key, reqwest::Method::GET, path, None)
    }

    /// Every item of a cursor-paged list.
    fn all(&self, key: &str, path: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = match &cursor {
                Some(c) => self.get(key, &format!("{path}&limit=500&cursor={c}")),
                None => self.get(key, &format!("{path}&limit=500")),
            };
            items.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return items,
            }
        }
    }

    fn create_api_key(&self) -> String {
        common::create_api_key(self.command(), "crash", "operator")
    }
}

/// What the carrier says one call was.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CarrierCall {
    to: String,
    status: String,
    answered_by: Option<String>,
    duration_seconds: Option<i64>,
}

/// What one run of the campaign left behind.
struct Outcome {
    /// Per phone number: the contact's final state and its last call's outcome.
    contacts: BTreeMap<String, (String, Option<String>)>,
    /// Parley's calls that reached the carrier, by Twilio call SID.
    parley_calls: HashMap<String, CarrierCall>,
    carrier_calls: HashMap<String, CarrierCall>,
    progress: Value,
    voided: usize,
    /// Attempts the carrier refused at once (no call resource there).
    refused: usize,
    /// Calls that had a conversation with the agent but no stored analysis.
    unanalysed: Vec<i64>,
}

fn carrier_calls(twilio: &str) -> HashMap<String, CarrierCall> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = TwilioClient::new(SID, TOKEN.to_string().into()).with_base_url(twilio);
        let mut calls = HashMap::new();
        let mut page = client
            .list_calls(&CallFilter {
                page_size: Some(1000),
                ..CallFilter::default()
            })
            .await
            .unwrap();
        loop {
            for call in &page.calls {
                let status = serde_json::to_value(call.status).unwrap();
                calls.insert(
                    call.sid.clone(),
                    CarrierCall {
                        to: call.to.clone(),
                        status: status.as_str().unwrap().to_string(),
                        answered_by: call.answered_by.clone(),
                        duration_seconds: call.duration.as_deref().and_then(|d| d.parse().ok()),
                    },
                );
            }
            match client.next_calls_page(&page).await.unwrap() {
                Some(next) => page = next,
                None => break calls,
            }
        }
    })
}

/// Runs a campaign of `contacts` contacts to completion, killing the server `kills` times
/// at random moments on the way.
fn run_campaign(contacts: usize, kills: usize) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let (twilio_port, agent_port, parley_port) = (free_port(), free_port(), free_port());
    let _carrier = Proc(
        common::clean_parley()
            .args(["sim", "--speed", "20", "--chaos-seed", CHAOS_SEED])
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
    let key = node.create_api_key();

    // Mostly conversations, plus callees whose outcomes retry (no answer, busy), an
    // invalid number and one the carrier cannot reach.
    let mut csv = String::from("phone\n");
    for i in 0..contacts.saturating_sub(4) {
        csv.push_str(&format!("+1555030{i:04}\n"));
    }
    csv.push_str("+15550100003\n+15550100004\n+15550100008\n+15550100009\n");
    let mut server = node.start();
    let retry = |max: u32| json!({"max_attempts": max, "delay_minutes": 0});
    // A conversation a kill cut short has no verdict from the agent, or a poor one; with
    // a short-call threshold above any cut conversation's length it is retried, with
    // enough retries that no contact runs out of them because of kills alone. (Every
    // whole conversation here gets the agent's verdict, so the threshold changes nothing
    // in the run without kills.)
    let campaign = node.api(&key, reqwest::Method::POST, "/campaigns", Some(json!({"name": "crash", "settings": {
        "max_concurrent_calls": 20, "calls_per_second": 50,
        "calling_window": {"start": "00:00", "end": "23:59", "days": ["mon","tue","wed","thu","fri","sat","sun"]},
        "allow_outside_legal_hours": true, "answering_machine": {"policy": "off"},
        "required_consent": "none",
        "retry": {"no_answer": retry(2), "busy": retry(2), "failed": retry(2), "voicemail": retry(1),
                  "short_call": retry(10), "short_call_seconds": 30, "unsuccessful": retry(10),
                  "max_attempts_per_day": 20}}})));
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
    // The node is up for good now: its live events say when the campaign completes.
    let events = tokio::runtime::Runtime::new().unwrap();
    let url = format!("ws://127.0.0.1:{parley_port}/api/v1/events?campaign_id={id}");
    let live = events.block_on(Live::connect(&url, &key));
    if node.get(&key, &format!("/campaigns/{id}"))["state"] != "completed" {
        let completed = live.until("the campaign completes", COMPLETION_WAIT, |e| {
            e.iter()
                .any(|e| e["type"] == "campaign_changed" && e["state"] == "completed")
                .then_some(())
        });
        events.block_on(completed);
    }
    let progress = node.get(&key, &format!("/campaigns/{id}"))["progress"].clone();

    let mut parley_calls = HashMap::new();
    let mut voided = 0;
    let mut unanalysed = Vec::new();
    let mut refused = 0;
    for call in node.all(&key, &format!("/calls?campaign_id={id}")) {
        if !call["conversation_id"].is_null() && call["analysis"].is_null() {
            unanalysed.push(call["id"].as_i64().unwrap());
        }
        // Voided attempts never reached the carrier and are not attempts.
        if call["error_message"] == "never dialled: the node stopped first" {
            voided += 1;
            continue;
        }
        let Some(sid) = call["twilio_call_sid"].as_str() else {
            // Refused by the carrier's create request (an invalid number): no call there.
            assert!(
                call["status"] == "failed" && !call["error_code"].is_null(),
                "a call without the carrier's SID was refused by it: {call}"
            );
            refused += 1;
            continue;
        };
        parley_calls.insert(
            sid.to_string(),
            CarrierCall {
                to: call["to"].as_str().unwrap().to_string(),
                status: call["status"].as_str().unwrap().to_string(),
                answered_by: call["answered_by"].as_str().map(str::to_string),
                duration_seconds: call["duration_seconds"].as_i64(),
            },
        );
    }
    let contacts = node
        .all(&key, &format!("/campaigns/{id}/contacts?"))
        .into_iter()
        .map(|c| {
            (
                c["phone"].as_str().unwrap().to_string(),
                (
                    c["state"].as_str().unwrap().to_string(),
                    c["last_outcome"].as_str().map(str::to_string),
                ),
            )
        })
        .collect();
    drop(server);
    Outcome {
        contacts,
        parley_calls,
        carrier_calls: carrier_calls(&node.twilio),
        progress,
        voided,
        refused,
        unanalysed,
    }
}

#[test]
fn killing_the_server_during_a_callback_storm_loses_nothing_and_ends_as_a_run_without_kills() {
    let contacts = env_number("PARLEY_CRASH_CONTACTS", 150);
    let kills = env_number("PARLEY_CRASH_KILLS", 20);
    let started = Instant::now();
    let reference = run_campaign(contacts, 0);
    let reference_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let killed = run_campaign(contacts, kills);
    let killed_secs = started.elapsed().as_secs_f64();

    let p = &killed.progress;
    let finished = ["completed", "failed", "cancelled"]
        .iter()
        .map(|k| p[k].as_i64().unwrap())
        .sum::<i64>();
    assert_eq!(
        (p["total"].as_i64().unwrap(), finished),
        (contacts as i64, contacts as i64),
        "no contact lost: {p}"
    );
    assert_eq!(
        (killed.parley_calls.len() + killed.refused) as i64,
        p["attempts"].as_i64().unwrap(),
        "counters agree with the calls"
    );
    for run in [&reference, &killed] {
        assert!(
            run.unanalysed.is_empty(),
            "every conversation's analysis is stored: calls {:?} have none",
            run.unanalysed
        );
        let mut mismatches: Vec<String> = Vec::new();
        for (sid, theirs) in &run.carrier_calls {
            match run.parley_calls.get(sid) {
                Some(ours) if ours == theirs => {}
                ours => mismatches.push(format!("{sid}: carrier {theirs:?}, parley {ours:?}")),
            }
        }
        for sid in run.parley_calls.keys() {
            if !run.carrier_calls.contains_key(sid) {
                mismatches.push(format!("{sid}: recorded by parley, unknown to the carrier"));
            }
        }
        assert!(
            mismatches.is_empty(),
            "every carrier call is exactly one recorded attempt, recorded as the carrier \
             has it: {mismatches:?}"
        );
    }
    assert_eq!(killed.contacts.len(), contacts, "every contact was dialled");
    let differences: Vec<_> = reference
        .contacts
        .iter()
        .filter(|(phone, end)| killed.contacts.get(*phone) != Some(end))
        .map(|(phone, end)| format!("{phone}: {end:?} vs {:?}", killed.contacts.get(phone)))
        .collect();
    assert!(
        differences.is_empty(),
        "each contact ends as it does without kills: {differences:?}"
    );
    eprintln!(
        "crash test: {contacts} contacts; without kills {} carrier calls in {reference_secs:.1} s; \
         with {kills} kills {} carrier calls ({} voided before dialling) in {killed_secs:.1} s; \
         progress {p}",
        reference.carrier_calls.len(),
        killed.carrier_calls.len(),
        killed.voided,
    );
}
