//! Webhook delivery through a receiver outage and a Parley crash: the CRM's endpoint
//! fails (500), then hangs past the timeout, and `parley serve` is killed (SIGKILL) while
//! an attempt is in flight and started again; then the endpoint recovers. Every event
//! must arrive, signed, with one idempotency key across all its attempts.
//!
//! The outage is the 10 minutes on a schedule 200 times faster than the default
//! (30 s, 2 min, 8 min, 30 min, ... becomes 0.15 s, 0.6 s, 2.4 s, 9 s, ...): 3 s.
mod common;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use common::live::Live;
use common::{free_port, Proc};
use parley_engine::webhooks::signature;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const SPEEDUP: f64 = 200.0;
const OUTAGE: Duration = Duration::from_secs(600);
const WAIT: Duration = Duration::from_secs(60);

const FAILING: u8 = 0;
const HANGING: u8 = 1;
const HEALTHY: u8 = 2;

/// One request as the receiver saw it, and whether it answered 2xx.
#[derive(Clone)]
struct Hit {
    headers: HeaderMap,
    body: Bytes,
    mode: u8,
}

impl Hit {
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }
}

/// The CRM endpoint: fails, hangs or answers depending on its mode.
#[derive(Clone, Default)]
struct Crm {
    mode: Arc<AtomicU8>,
    hits: Arc<Mutex<Vec<Hit>>>,
    arrived: Arc<Notify>,
}

impl Crm {
    async fn start(&self) -> String {
        let me = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let me = me.clone();
                async move {
                    let mode = me.mode.load(Ordering::SeqCst);
                    me.hits.lock().unwrap().push(Hit {
                        headers,
                        body,
                        mode,
                    });
                    me.arrived.notify_waiters();
                    match mode {
                        FAILING => StatusCode::INTERNAL_SERVER_ERROR,
                        // Longer than Parley's 1 s timeout.
                        HANGING => {
                            tokio::time::sleep(Duration::from_secs(5)).await;
                            StatusCode::SERVICE_UNAVAILABLE
                        }
                        _ => StatusCode::OK,
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/hook")
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    /// Waits until `done` holds for the requests so far.
    async fn until(&self, what: &str, done: impl Fn(&[Hit]) -> bool) {
        tokio::time::timeout(WAIT, async {
            loop {
                let notified = self.arrived.notified();
                if done(&self.hits.lock().unwrap()) {
                    return;
                }
                notified.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting until {what}"));
    }
}

struct Node {
    dir: PathBuf,
    config: PathBuf,
    port: u16,
}

impl Node {
    fn command(&self) -> Command {
        let mut c = common::clean_parley();
        c.arg("--config")
            .arg(&self.config)
            .arg("--data-dir")
            .arg(&self.dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port));
        c
    }

    /// Starts `parley serve` and returns once it logs that it is listening.
    fn start(&self) -> Proc {
        common::serve(self.command())
    }

    fn admin_key(&self) -> String {
        common::create_api_key(self.command(), "crm", "admin")
    }

    async fn api(&self, key: &str, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut req = reqwest::Client::new()
            .request(
                method,
                format!("http://127.0.0.1:{}/api/v1{path}", self.port),
            )
            .bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    /// A campaign (with a contact, so it may start) started and paused: two
    /// `campaign.state_changed` events.
    async fn two_events(&self, key: &str, name: &str) {
        static CONTACTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let c = self
            .api(key, Method::POST, "/campaigns", Some(json!({"name": name})))
            .await;
        let id = c["id"].as_i64().unwrap();
        let n = CONTACTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let contact = self
            .api(
                key,
                Method::POST,
                "/contacts",
                Some(json!({"phone": format!("+1415555{:04}", 3000 + n)})),
            )
            .await;
        self.api(
            key,
            Method::POST,
            &format!("/campaigns/{id}/contacts"),
            Some(json!({"contact_ids": [contact["id"]]})),
        )
        .await;
        for action in ["start", "pause"] {
            self.api(
                key,
                Method::POST,
                &format!("/campaigns/{id}/{action}"),
                None,
            )
            .await;
        }
    }
}

fn attempts_of(hits: &[Hit], key: &str) -> usize {
    hits.iter()
        .filter(|h| h.header("idempotency-key") == key)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_survive_a_ten_minute_outage_and_a_crash_without_losing_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let schedule: Vec<f64> = [30.0, 120.0, 480.0, 1800.0, 7200.0, 21600.0]
        .iter()
        .map(|s| s / SPEEDUP)
        .collect();
    let config = dir.path().join("parley.toml");
    std::fs::write(
        &config,
        format!(
            "[dialer]\nenabled = false\n[webhooks]\ntimeout_secs = 1\npoll_interval_ms = 50\n\
             retry_schedule_secs = {schedule:?}\n[egress]\nallowed_hosts = [\"127.0.0.1\"]\n"
        ),
    )
    .unwrap();
    let node = Node {
        dir: dir.path().join("data"),
        config,
        port: free_port(),
    };
    assert!(node.command().arg("migrate").status().unwrap().success());
    let key = node.admin_key();
    let crm = Crm::default();
    let url = crm.start().await;

    let mut server = node.start();
    let hook = node
        .api(&key, Method::POST, "/webhooks", Some(json!({
            "url": url,
            "event_types": ["campaign.state_changed", "call.completed", "call.analyzed", "contact.opted_out"],
        })))
        .await;
    let secret = hook["secret"].as_str().unwrap().to_string();
    let hook_id = hook["id"].as_i64().unwrap();

    // The outage starts: the endpoint answers 500.
    let outage_started = Instant::now();
    for i in 0..4 {
        node.two_events(&key, &format!("before-{i}")).await;
    }
    crm.until("every event failed twice", |hits| {
        let keys: HashSet<String> = hits.iter().map(|h| h.header("idempotency-key")).collect();
        keys.len() == 8 && keys.iter().all(|k| attempts_of(hits, k) >= 2)
    })
    .await;

    // Then it hangs; Parley is killed while an attempt waits on it.
    crm.set(HANGING);
    crm.until("an attempt hangs", |hits| {
        hits.iter().any(|h| h.mode == HANGING)
    })
    .await;
    let _ = server.0.kill();
    let _ = server.0.wait();
    server = node.start();
    node.two_events(&key, "after-restart").await;
    crm.until("the restarted node tries again", |hits| {
        hits.iter().filter(|h| h.mode == HANGING).count() >= 2
    })
    .await;

    // Parley's own record of each attempt is announced: the wait for the log below.
    let live = Live::connect(&format!("ws://127.0.0.1:{}/api/v1/events", node.port), &key).await;

    // The endpoint comes back once the (scaled) ten minutes are over.
    tokio::time::sleep_until((outage_started + OUTAGE.div_f64(SPEEDUP)).into()).await;
    crm.set(HEALTHY);
    let deliveries = node
        .api(
            &key,
            Method::GET,
            &format!("/webhooks/{hook_id}/deliveries?limit=100"),
            None,
        )
        .await;
    let events: HashSet<String> = deliveries["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events.len(), 10, "one delivery per event");
    crm.until("every event is accepted", |hits| {
        let accepted: HashSet<String> = hits
            .iter()
            .filter(|h| h.mode == HEALTHY)
            .map(|h| h.header("idempotency-key"))
            .collect();
        events.iter().all(|e| accepted.contains(e))
    })
    .await;

    // Every request signed; one key per event on every attempt, equal to its id; the
    // receiver's dedupe by key sees each event once.
    let hits = crm.hits.lock().unwrap().clone();
    let now = chrono::Utc::now().timestamp();
    let mut bodies: HashMap<String, Value> = HashMap::new();
    for hit in &hits {
        let sig = hit.header("parley-signature");
        assert!(
            signature::verify(&secret, &sig, &hit.body, now, 300),
            "signature {sig}"
        );
        let body: Value = serde_json::from_slice(&hit.body).unwrap();
        let key = hit.header("idempotency-key");
        assert_eq!(body["event_id"], key.as_str());
        assert!(events.contains(&key), "an event Parley knows: {key}");
        if let Some(seen) = bodies.get(&key) {
            assert_eq!(
                seen["data"], body["data"],
                "the same event on every attempt"
            );
        }
        bodies.insert(key, body);
    }
    assert_eq!(
        bodies.len(),
        events.len(),
        "dedupe by key sees each event once"
    );
    for e in &events {
        assert!(
            attempts_of(&hits, e) >= 2,
            "{e} was retried through the outage"
        );
    }

    // The log agrees: all delivered (once Parley has recorded the last answers), attempts
    // counted, the last one answered 200. Read again after each recorded attempt.
    let recorded = |e: &Value| e["type"] == "webhook_delivery_changed";
    let deliveries = loop {
        let before = live.count_where(recorded);
        let page = node
            .api(
                &key,
                Method::GET,
                &format!("/webhooks/{hook_id}/deliveries?limit=100"),
                None,
            )
            .await;
        let items = page["items"].as_array().unwrap();
        if items.iter().all(|d| d["state"] == "delivered") {
            break page;
        }
        let what = format!("another attempt is recorded; so far {page}");
        live.until(&what, WAIT, |e| {
            (e.iter().filter(|e| recorded(e)).count() > before).then_some(())
        })
        .await;
    };
    for d in deliveries["items"].as_array().unwrap() {
        assert_eq!(d["state"], "delivered", "{d}");
        assert_eq!(d["last_status"], 200, "{d}");
        assert!(d["attempts"].as_i64().unwrap() >= 2, "{d}");
    }
    drop(server);
}
