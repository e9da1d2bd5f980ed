//! Outbound webhooks: subscriptions over the API, and a sandbox campaign's events
//! delivered, signed, to a receiving server.
use crate::calls_e2e::sandbox;
use crate::campaign_dialer::{campaign_with, wait_until_completed};
use crate::harness::{error_code, next_webhook_attempt, read, TestApp};
use axum::body::Bytes;
use axum::http::HeaderMap;
use parley_engine::webhooks::signature;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// One request the receiver got: its headers and body.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// A CRM endpoint that answers 200 and keeps every request.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
}

impl Receiver {
    async fn start(&self) -> String {
        let me = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let me = me.clone();
                async move {
                    me.got.lock().unwrap().push(Received { headers, body });
                    me.arrived.notify_waiters();
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/hook")
    }

    /// Waits until `done` holds for what arrived so far.
    async fn wait_for(&self, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let notified = self.arrived.notified();
                let got = self.got.lock().unwrap().clone();
                if done(&got) {
                    return got;
                }
                notified.await;
            }
        })
        .await
        .expect("the expected webhooks arrive")
    }
}

async fn admin(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut r = app.req(method, path, &app.admin_key);
    if let Some(b) = body {
        r = r.json(&b);
    }
    read(r.send().await.unwrap()).await
}

#[tokio::test]
async fn subscriptions_are_validated_admin_only_and_hide_their_secret() {
    let app = TestApp::start().await;
    let body = json!({"url": "https://crm.example.com/hook", "event_types": ["call.completed"]});
    let (status, _) = app
        .call(Method::POST, "/api/v1/webhooks", Some(body.clone()))
        .await;
    assert_eq!(status, 403, "operators cannot subscribe");

    let (status, bad) = admin(
        &app,
        Method::POST,
        "/api/v1/webhooks",
        Some(json!({"url": "ftp://crm.example.com", "event_types": ["call.started"]})),
    )
    .await;
    assert_eq!(status, 422, "{bad}");
    assert_eq!(error_code(&bad), "validation_failed");
    let fields = bad["error"]["details"]["fields"].to_string();
    assert!(
        fields.contains("url") && fields.contains("event_types"),
        "{bad}"
    );
    let (status, _) = admin(
        &app,
        Method::POST,
        "/api/v1/webhooks",
        Some(json!({"url": "https://crm.example.com", "event_types": []})),
    )
    .await;
    assert_eq!(status, 422);
    let (_, list) = admin(&app, Method::GET, "/api/v1/webhooks", None).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        0,
        "bad input changes nothing"
    );

    let (status, created) = admin(&app, Method::POST, "/api/v1/webhooks", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created["enabled"], true);
    assert_eq!(created["event_types"], json!(["call.completed"]));

    let (status, got) = admin(&app, Method::GET, &format!("/api/v1/webhooks/{id}"), None).await;
    assert_eq!(status, 200);
    assert!(
        got.get("secret").is_none(),
        "the secret is shown once: {got}"
    );
    let (_, list) = admin(&app, Method::GET, "/api/v1/webhooks", None).await;
    assert!(!list.to_string().contains(&secret));

    let (status, patched) = admin(
        &app,
        Method::PATCH,
        &format!("/api/v1/webhooks/{id}"),
        Some(json!({"enabled": false, "event_types": ["call.analyzed", "contact.opted_out"]})),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["enabled"], false);
    assert_eq!(
        patched["event_types"],
        json!(["call.analyzed", "contact.opted_out"])
    );
    let (status, _) = admin(
        &app,
        Method::PATCH,
        &format!("/api/v1/webhooks/{id}"),
        Some(json!({"url": "not a url"})),
    )
    .await;
    assert_eq!(status, 422);

    let (status, rotated) = admin(
        &app,
        Method::POST,
        &format!("/api/v1/webhooks/{id}/rotate-secret"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_ne!(rotated["secret"].as_str().unwrap(), secret);

    let (status, deliveries) = admin(
        &app,
        Method::GET,
        &format!("/api/v1/webhooks/{id}/deliveries"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(deliveries["items"], json!([]));
    let (status, _) = admin(&app, Method::GET, "/api/v1/webhook-deliveries/999", None).await;
    assert_eq!(status, 404);
    let (status, _) = admin(
        &app,
        Method::POST,
        "/api/v1/webhook-deliveries/999/replay",
        None,
    )
    .await;
    assert_eq!(status, 404);

    let (status, _) = admin(
        &app,
        Method::DELETE,
        &format!("/api/v1/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = admin(&app, Method::GET, &format!("/api/v1/webhooks/{id}"), None).await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn a_campaign_sends_signed_call_and_campaign_events_that_can_be_replayed() {
    let app = sandbox().await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let (status, hook) = admin(
        &app,
        Method::POST,
        "/api/v1/webhooks",
        Some(json!({
            "url": url,
            "event_types": ["call.completed", "call.analyzed", "campaign.state_changed"],
        })),
    )
    .await;
    assert_eq!(status, 201);
    let hook_id = hook["id"].as_i64().unwrap();
    let secret = hook["secret"].as_str().unwrap().to_string();
    // The worker announces every attempt it records.
    let mut attempts = app.engine.events.subscribe();

    // One conversation; one busy line, tried twice.
    let id = campaign_with(&app, &["+15550100001", "+15550100004"], 2).await;
    let (status, _) = app
        .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    assert_eq!(status, 200);
    wait_until_completed(&app, id).await;

    let completed_to = |r: &Received| {
        let b = r.json();
        b["type"] == "campaign.state_changed" && b["data"]["to"] == "completed"
    };
    let got = receiver
        .wait_for(|got| {
            let calls = got
                .iter()
                .filter(|r| r.json()["type"] == "call.completed")
                .count();
            calls >= 3 && got.iter().any(completed_to)
        })
        .await;
    let now = chrono::Utc::now().timestamp();
    for r in &got {
        let sig = r.header("parley-signature");
        assert!(
            signature::verify(&secret, sig, &r.body, now, 300),
            "bad signature {sig}"
        );
        let body = r.json();
        assert_eq!(
            r.header("idempotency-key"),
            body["event_id"].as_str().unwrap()
        );
        assert_eq!(r.header("parley-event"), body["type"].as_str().unwrap());
    }
    let calls: Vec<Value> = got
        .iter()
        .map(Received::json)
        .filter(|b| b["type"] == "call.completed")
        .collect();
    let held = calls
        .iter()
        .find(|b| b["data"]["phone"] == "+15550100001")
        .unwrap();
    let data = &held["data"];
    assert_eq!(data["campaign_id"], id);
    assert_eq!(data["campaign_name"], "dialer");
    assert_eq!(data["status"], "held");
    assert_eq!(data["outcome"], "success");
    // Added fields in the glossary's words; the wire values above stay as they were.
    assert_eq!(data["outcome_label"], "Successful");
    assert_eq!(
        (&data["contact_standing"], &data["contact_standing_label"]),
        (&json!("reached"), &json!("Reached"))
    );
    assert!(data["duration_seconds"].as_i64().is_some(), "{data}");
    assert!(
        data["summary"].as_str().is_some_and(|s| !s.is_empty()),
        "{data}"
    );
    let call_id = data["call_id"].as_i64().unwrap();
    assert_eq!(data["url"], format!("{}/calls/{call_id}", app.base));
    let busy: Vec<&Value> = calls
        .iter()
        .filter(|b| b["data"]["phone"] == "+15550100004")
        .collect();
    assert_eq!(busy.len(), 2, "one event per attempt");
    assert!(busy.iter().all(|b| b["data"]["status"] == "busy"));
    // The first try leaves the contact scheduled for the second; the second gives up.
    let mut standings: Vec<&str> = busy
        .iter()
        .map(|b| b["data"]["contact_standing_label"].as_str().unwrap())
        .collect();
    standings.sort();
    assert_eq!(standings, ["Not reached: busy", "Scheduled"]);
    let analyzed = got
        .iter()
        .map(Received::json)
        .find(|b| b["type"] == "call.analyzed" && b["data"]["call_id"] == call_id)
        .expect("the conversation's analysis is sent");
    assert_eq!(analyzed["data"]["analysis"]["call_successful"], "success");
    let started = got
        .iter()
        .map(Received::json)
        .find(|b| b["type"] == "campaign.state_changed" && b["data"]["to"] == "running")
        .unwrap();
    assert_eq!(started["data"]["from"], "draft");
    assert!(started["data"]["actor"]
        .as_str()
        .unwrap()
        .starts_with("api_key:"));

    // The delivery log shows each, delivered at the first attempt; a replay re-sends the
    // same event with the same idempotency key.
    // The receiver answers before the worker records the answer: wait for the log.
    let deliveries = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let (_, page) = admin(
                &app,
                Method::GET,
                &format!("/api/v1/webhooks/{hook_id}/deliveries"),
                None,
            )
            .await;
            let items = page["items"].as_array().unwrap();
            if items.len() == got.len() && items.iter().all(|d| d["state"] == "delivered") {
                return page;
            }
            next_webhook_attempt(&mut attempts).await;
        }
    })
    .await
    .expect("every delivery is recorded as delivered");
    let items = deliveries["items"].as_array().unwrap();
    assert!(items
        .iter()
        .all(|d| d["attempts"] == 1 && d["last_status"] == 200));
    let first = &items[0];
    let delivery_id = first["id"].as_i64().unwrap();
    let (status, detail) = admin(
        &app,
        Method::GET,
        &format!("/api/v1/webhook-deliveries/{delivery_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let log = detail["attempts_log"].as_array().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["response_status"], 200);
    assert_eq!(
        log[0]["request_headers"]["Idempotency-Key"],
        first["event_id"]
    );
    let before = got.len();
    let (status, replayed) = admin(
        &app,
        Method::POST,
        &format!("/api/v1/webhook-deliveries/{delivery_id}/replay"),
        None,
    )
    .await;
    assert_eq!(status, 202, "{replayed}");
    let event_id = first["event_id"].as_str().unwrap().to_string();
    let got = receiver.wait_for(|got| got.len() > before).await;
    assert_eq!(got.last().unwrap().header("idempotency-key"), event_id);
    app.stop().await;
}

#[tokio::test]
async fn a_campaign_started_from_the_api_is_announced_without_waiting_for_a_poll() {
    // A poll a minute: only the wake-up can deliver within the test's 10 s.
    let app = TestApp::start_on(crate::harness::Db::Sqlite, |s| {
        s.dialer.enabled = false;
        s.webhooks.poll_interval_ms = 60_000;
    })
    .await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let (status, _) = admin(
        &app,
        Method::POST,
        "/api/v1/webhooks",
        Some(json!({"url": url, "event_types": ["campaign.state_changed"]})),
    )
    .await;
    assert_eq!(status, 201);
    let id = app.campaign_with_contact("prompt").await;
    let (status, body) = app
        .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let got = tokio::time::timeout(
        Duration::from_secs(10),
        receiver.wait_for(|got| !got.is_empty()),
    )
    .await
    .expect("campaign.state_changed arrives without waiting for the next poll");
    let event = got[0].json();
    assert_eq!(event["type"], "campaign.state_changed");
    assert_eq!(event["data"]["to"], "running");
    app.stop().await;
}

#[tokio::test]
async fn a_call_placed_on_its_own_sends_call_completed_and_call_analyzed() {
    let app = sandbox().await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let (status, _) = admin(
        &app,
        Method::POST,
        "/api/v1/webhooks",
        Some(json!({"url": url, "event_types": ["call.completed", "call.analyzed"]})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, call) = app
        .call(
            Method::POST,
            "/api/v1/calls",
            Some(json!({"to": "+15550100001", "dynamic_variables": {"first_name": "Ann"}})),
        )
        .await;
    assert_eq!(status, 201, "{call}");
    let id = call["id"].as_i64().unwrap();
    let of_type = |got: &[Received], t: &str| {
        got.iter()
            .map(Received::json)
            .filter(|e| e["type"] == t && e["data"]["call_id"] == id)
            .collect::<Vec<_>>()
    };
    let got = receiver
        .wait_for(|got| {
            !of_type(got, "call.completed").is_empty() && !of_type(got, "call.analyzed").is_empty()
        })
        .await;
    let completed = of_type(&got, "call.completed");
    assert_eq!(completed.len(), 1, "one call.completed: {completed:?}");
    assert_eq!(completed[0]["data"]["campaign_id"], Value::Null);
    assert_eq!(completed[0]["data"]["outcome"], "success");
    assert_eq!(of_type(&got, "call.analyzed").len(), 1);
    app.stop().await;
}
