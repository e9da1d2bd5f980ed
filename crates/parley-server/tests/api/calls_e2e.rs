//! Calls end to end in sandbox mode: Parley's real clients and bridge against the
//! Twilio and ElevenLabs simulators, over real HTTP and WebSockets.
use crate::harness::{Db, TestApp};
use parley_engine::events::LiveEvent;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::broadcast::Receiver;

const CALL_TIMEOUT: Duration = Duration::from_secs(60);

async fn sandbox() -> TestApp {
    TestApp::start_on(Db::Sqlite, |s| {
        s.sandbox.speed = 5.0;
        s.calls.post_call_wait_secs = 30;
    })
    .await
}

/// Waits for an event about `call_id` that `pick` accepts; fails after the timeout.
async fn wait_for(
    rx: &mut Receiver<LiveEvent>,
    call_id: i64,
    pick: impl Fn(&LiveEvent) -> bool,
) -> LiveEvent {
    tokio::time::timeout(CALL_TIMEOUT, async {
        loop {
            match rx.recv().await {
                Ok(e) if e.call_id() == call_id && pick(&e) => return e,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event bus closed: {e}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("call {call_id}: no matching event within {CALL_TIMEOUT:?}"))
}

async fn place(app: &TestApp, body: Value) -> i64 {
    let (status, call) = app.call(Method::POST, "/api/v1/calls", Some(body)).await;
    assert_eq!(status, 201, "{call}");
    call["id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_conversation_is_bridged_transcribed_analysed_and_recorded() {
    let app = sandbox().await;
    let mut events = app.engine.events.subscribe();
    let id = place(
        &app,
        json!({"to": "+15550100001", "dynamic_variables": {"first_name": "Ann"}}),
    )
    .await;

    wait_for(&mut events, id, |e| {
        matches!(e, LiveEvent::CallEnded { .. })
    })
    .await;
    wait_for(&mut events, id, |e| {
        matches!(e, LiveEvent::CallAnalyzed { .. })
    })
    .await;
    let (_, call) = app
        .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
        .await;
    if call["recording"].is_null() {
        wait_for(&mut events, id, |e| {
            matches!(e, LiveEvent::RecordingReady { .. })
        })
        .await;
    }
    let (status, call) = app
        .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(call["status"], "completed", "{call}");
    assert_eq!(
        call["termination_source"], "agent",
        "the agent said goodbye and ended the call"
    );
    assert_eq!(call["outcome"], "success");
    assert!(call["duration_seconds"].as_i64().unwrap() >= 1);
    assert_eq!(call["analysis"]["call_successful"], "success");
    let user_lines: Vec<&str> = call["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["role"] == "user")
        .map(|t| t["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        user_lines,
        parley_sim::personas::CONVERSES.lines.to_vec(),
        "{call}"
    );
    let events_seen: Vec<&str> = call["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(events_seen.contains(&"status"), "{events_seen:?}");

    let url = call["recording"]["url"].as_str().unwrap();
    let wav = app
        .req(Method::GET, url, &app.viewer_key)
        .send()
        .await
        .unwrap();
    assert_eq!(wav.status(), 200);
    let bytes = wav.bytes().await.unwrap();
    assert_eq!(&bytes[..4], b"RIFF");
    let part = app
        .req(Method::GET, url, &app.viewer_key)
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206, "players can seek");
    assert_eq!(part.bytes().await.unwrap().len(), 100);
    app.stop().await;
}
