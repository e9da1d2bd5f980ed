//! Calls that remember: a second call to the same sandbox contact gives the agent what
//! the first learned, the call record shows what was sent, and the contact's history
//! lists both calls.
use crate::calls_e2e::sandbox;
use crate::campaign_dialer::{any_hour_settings, create_campaign, wait_until_completed};
use crate::harness::TestApp;
use parley_elevenlabs::ws::DynamicValue;
use parley_engine::events::LiveEvent;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const ANALYSIS_TIMEOUT: Duration = Duration::from_secs(90);

/// A campaign calling at any hour without consent, with `extra` settings, the contact
/// enrolled and the campaign started.
async fn run_campaign(app: &TestApp, name: &str, contact_id: i64, extra: Value) -> i64 {
    let id = create_campaign(app, name, any_hour_settings(extra)).await;
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/campaigns/{id}/contacts"),
            Some(json!({"contact_ids": [contact_id]})),
        )
        .await;
    assert!(status < 300, "{body}");
    let (status, body) = app
        .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    id
}

/// Waits until a call's analysis arrives with a summary; returns the call's id.
async fn analyzed(events: &mut tokio::sync::broadcast::Receiver<LiveEvent>) -> i64 {
    tokio::time::timeout(ANALYSIS_TIMEOUT, async {
        loop {
            match events.recv().await {
                Ok(LiveEvent::CallAnalyzed {
                    call_id,
                    summary: Some(_),
                    ..
                }) => return call_id,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event bus closed: {e}"),
            }
        }
    })
    .await
    .expect("the call is analysed")
}

fn text(v: &DynamicValue) -> &str {
    match v {
        DynamicValue::String(s) => s,
        other => panic!("not text: {other:?}"),
    }
}

#[tokio::test]
async fn a_second_call_to_a_contact_carries_what_the_first_learned_and_the_history_shows_both() {
    let app = sandbox().await;
    let (status, ann) = app
        .call(
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"phone": "+15550100001", "first_name": "Ann",
                        "timezone": "America/New_York", "tags": ["memory"],
                        "custom_fields": {"plan": "basic"}})),
        )
        .await;
    assert_eq!(status, 201, "{ann}");
    let contact_id = ann["id"].as_i64().unwrap();

    // The first call: nothing to remember yet.
    let mut events = app.engine.events.subscribe();
    let first_campaign = run_campaign(&app, "first", contact_id, json!({})).await;
    let first = analyzed(&mut events).await;
    wait_until_completed(&app, first_campaign).await;
    let (_, first_call) = app
        .call(Method::GET, &format!("/api/v1/calls/{first}"), None)
        .await;
    let summary = first_call["summary"]
        .as_str()
        .expect("a summary")
        .to_owned();
    assert_eq!(
        first_call["dynamic_variables"],
        json!({"customer_name": "Ann"})
    );

    // The second, in a campaign that remembers and hides the name from call records.
    let remember = json!({
        "remember_previous_calls": {"enabled": true},
        "hidden_variables": ["customer_name"]
    });
    let second_campaign = run_campaign(&app, "second", contact_id, remember).await;
    let second = analyzed(&mut events).await;
    assert_ne!(second, first);
    wait_until_completed(&app, second_campaign).await;

    // What the simulated agent received.
    let conversation = app
        .sandbox()
        .elevenlabs
        .sim
        .conversations()
        .into_iter()
        .find(|c| {
            c.initiation.dynamic_variables.get("call_id")
                == Some(&DynamicValue::String(second.to_string()))
        })
        .expect("the agent heard the second call");
    let got = &conversation.initiation.dynamic_variables;
    assert_eq!(text(&got["previous_call_summary"]), summary);
    assert_eq!(
        text(&got["previous_outcome"]),
        first_call["outcome"].as_str().unwrap()
    );
    assert_eq!(got["attempt_number"], DynamicValue::Integer(1));
    assert_eq!(text(&got["customer_name"]), "Ann", "hidden is still sent");
    // Spoken, in the contact's zone: "Thursday, December 3 at 9:14 AM".
    let ended = chrono::DateTime::parse_from_rfc3339(first_call["ended_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono_tz::America::New_York);
    assert_eq!(
        text(&got["previous_call_at"]),
        ended.format("%A, %B %-d at %-I:%M %p").to_string()
    );
    assert!(
        !got.contains_key("callback_reason"),
        "not a callback: {got:?}"
    );

    // The call record shows what was sent, hidden names left out.
    let (_, second_call) = app
        .call(Method::GET, &format!("/api/v1/calls/{second}"), None)
        .await;
    let shown = &second_call["dynamic_variables"];
    assert_eq!(shown["previous_call_summary"], summary.as_str());
    assert_eq!(shown["attempt_number"], 1);
    assert!(shown.get("customer_name").is_none(), "{shown}");

    // The contact's page: both calls, newest first, with links and the contact's fields.
    let (status, history) = app
        .call(
            Method::GET,
            &format!("/api/v1/contacts/{contact_id}/history"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history["contact"]["tags"], json!(["memory"]));
    assert_eq!(history["contact"]["custom_fields"]["plan"], "basic");
    let calls = history["calls"].as_array().unwrap();
    let ids: Vec<i64> = calls.iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [second, first]);
    assert_eq!(calls[1]["summary"], summary.as_str());
    assert_eq!(calls[1]["campaign_name"], "first");
    assert_eq!(
        calls[1]["transcript_url"],
        format!("/api/v1/calls/{first}").as_str()
    );
    assert_eq!(history["next_cursor"], Value::Null);

    // Paged: one call, then the other.
    let (_, page) = app
        .call(
            Method::GET,
            &format!("/api/v1/contacts/{contact_id}/history?limit=1"),
            None,
        )
        .await;
    let cursor = page["next_cursor"]
        .as_str()
        .expect("another page")
        .to_owned();
    let (_, rest) = app
        .call(
            Method::GET,
            &format!("/api/v1/contacts/{contact_id}/history?limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(rest["calls"][0]["id"], first);

    // Bad requests change nothing and say why.
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/v1/contacts/{contact_id}/history?limit=101"),
            None,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = app
        .call(Method::GET, "/api/v1/contacts/999999/history", None)
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}
