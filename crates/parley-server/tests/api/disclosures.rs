//! A campaign's disclosures: the first message must identify the caller and say the voice
//! is automated before the campaign may start, and calls into all-party-consent states are
//! recorded only after a notice (or not at all).
use crate::campaign_dialer::{any_hour_settings, create_campaign, import_csv};
use crate::harness::{error_code, Db, TestApp};
use parley_engine::dialer::Dialer;
use parley_engine::events::LiveEvent;

use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// A sandbox whose dialer the test runs by hand, on a clock of its own.
async fn sandbox() -> TestApp {
    TestApp::start_on(Db::Sqlite, |s| {
        s.sandbox.speed = 5.0;
        s.dialer.account_calls_per_second = 10.0;
        s.dialer.enabled = false;
    })
    .await
}

const FIRST: &str = "Hi {{customer_name}}, this is Sam, an AI assistant calling for Acme Dental.";

fn disclosures() -> Value {
    json!({"required": true, "identification": "Acme Dental", "ai_voice": "an AI assistant"})
}

/// A draft campaign with one contact; `settings` as given.
async fn draft(app: &TestApp, settings: Value) -> i64 {
    let id = app.campaign_with_contact("disclosed").await;
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/campaigns/{id}"),
            Some(json!({ "settings": settings })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    id
}

#[tokio::test]
async fn a_campaign_whose_first_message_lacks_its_disclosures_does_not_start() {
    let app = TestApp::start().await;
    let id = draft(
        &app,
        json!({"first_message": "Hi, this is Sam from Acme Dental.", "disclosures": disclosures()}),
    )
    .await;
    let start = format!("/api/v1/campaigns/{id}/start");
    let (status, body) = app.call(Method::POST, &start, None).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_code(&body), "validation_failed", "{body}");
    let fields = &body["error"]["details"]["fields"];
    assert_eq!(fields[0]["field"], "first_message", "{body}");
    assert!(
        fields[0]["message"]
            .as_str()
            .unwrap()
            .contains("an AI assistant"),
        "{body}"
    );
    let (_, campaign) = app
        .call(Method::GET, &format!("/api/v1/campaigns/{id}"), None)
        .await;
    assert_eq!(campaign["state"], "draft", "nothing changed: {campaign}");

    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/campaigns/{id}"),
            Some(json!({"settings": {"first_message": FIRST, "disclosures": disclosures()}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.call(Method::POST, &start, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "running");
    app.stop().await;
}

#[tokio::test]
async fn a_scheduled_campaign_cannot_be_edited_out_of_its_disclosures() {
    let app = TestApp::start().await;
    let later = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive();
    let settings = json!({"first_message": FIRST, "disclosures": disclosures(),
                          "start_date": later.to_string()});
    let id = draft(&app, settings.clone()).await;
    let (status, body) = app
        .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "scheduled");
    // A scheduled campaign dials on its start date with no further start to check it.
    let mut edited = settings;
    edited["first_message"] = json!("Hi, it's Sam.");
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/campaigns/{id}"),
            Some(json!({ "settings": edited })),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (_, campaign) = app
        .call(Method::GET, &format!("/api/v1/campaigns/{id}"), None)
        .await;
    assert_eq!(campaign["settings"]["first_message"], FIRST, "{campaign}");
    app.stop().await;
}

/// Runs a recorded sandbox campaign calling one Florida and one New York contact (by
/// their `state` column) to completion; returns the two calls, Florida's first.
async fn run_recorded_campaign(app: &TestApp, disclosures: Value) -> (Value, Value) {
    let settings = any_hour_settings(json!({
        "record_calls": true,
        "first_message": FIRST,
        "disclosures": disclosures,
    }));
    let id = create_campaign(app, "recorded", settings).await;
    // Magic sandbox numbers that converse; their states come from the `state` column
    // (the area code 555 is no state's).
    let csv = "phone,first_name,state\n+15550199001,Flo,FL\n+15550199002,Nate,NY\n";
    import_csv(app, id, csv.into()).await;
    let (status, body) = app
        .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    // Florida allows calls 08:00-20:00 its time whatever the campaign says: the dialer
    // runs on a clock at 11:00 Eastern, so the test passes at any hour.
    let mut events = app.engine.events.subscribe();
    let at = chrono::DateTime::parse_from_rfc3339("2026-06-16T15:00:00Z")
        .unwrap()
        .to_utc();
    Dialer::new(app.engine.clone())
        .with_clock(Arc::new(move || at))
        .tick()
        .await
        .unwrap();
    let mut ended = 0;
    tokio::time::timeout(Duration::from_secs(120), async {
        while ended < 2 {
            if let Ok(LiveEvent::CallEnded { .. }) = events.recv().await {
                ended += 1;
            }
        }
    })
    .await
    .expect("both calls end");
    let (_, list) = app
        .call(
            Method::GET,
            &format!("/api/v1/calls?campaign_id={id}"),
            None,
        )
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
    let mut florida = None;
    let mut new_york = None;
    for call in list["items"].as_array().unwrap() {
        let (_, detail) = app
            .call(Method::GET, &format!("/api/v1/calls/{}", call["id"]), None)
            .await;
        match call["to"].as_str().unwrap() {
            "+15550199001" => florida = Some(detail),
            _ => new_york = Some(detail),
        }
    }
    (
        florida.expect("Florida's call"),
        new_york.expect("New York's call"),
    )
}

/// Whether the carrier was asked to record the call with this SID.
fn recorded_at_carrier(app: &TestApp, call: &Value) -> bool {
    let sid = call["twilio_call_sid"].as_str().unwrap();
    let at_carrier = app
        .sandbox()
        .twilio
        .sim
        .call(sid)
        .expect("the carrier's call");
    at_carrier.recording_sid.is_some()
}

/// The first message the agent was given for this call.
fn first_message_sent(app: &TestApp, call: &Value) -> Option<String> {
    let conversation_id = call["conversation_id"].as_str().unwrap();
    app.sandbox()
        .elevenlabs
        .sim
        .conversations()
        .into_iter()
        .find(|c| c.conversation_id == conversation_id)
        .expect("the agent's conversation")
        .initiation
        .conversation_config_override
        .and_then(|o| o.agent)
        .and_then(|a| a.first_message)
}

#[tokio::test]
async fn by_default_a_call_into_an_all_party_consent_state_is_not_recorded_and_says_why() {
    let app = sandbox().await;
    let (florida, new_york) = run_recorded_campaign(&app, json!({})).await;
    assert!(!recorded_at_carrier(&app, &florida), "{florida}");
    assert_eq!(florida["recording_withheld_by"], "Fla. Stat. 934.03");
    assert!(recorded_at_carrier(&app, &new_york), "{new_york}");
    assert!(new_york["recording_withheld_by"].is_null());
    // The first message is the campaign's own on both.
    for call in [&florida, &new_york] {
        assert_eq!(first_message_sent(&app, call).as_deref(), Some(FIRST));
    }
    app.stop().await;
}

#[tokio::test]
async fn with_a_notice_first_the_florida_call_is_recorded_after_the_agent_says_it() {
    let app = sandbox().await;
    let notice = "This call is recorded.";
    let (florida, new_york) = run_recorded_campaign(
        &app,
        json!({"all_party_recording": "notice_first", "recording_notice": notice}),
    )
    .await;
    assert!(recorded_at_carrier(&app, &florida), "{florida}");
    assert!(florida["recording_withheld_by"].is_null());
    assert_eq!(
        first_message_sent(&app, &florida),
        Some(format!("{notice} {FIRST}"))
    );
    // New York needs one party's consent: no notice is added there.
    assert!(recorded_at_carrier(&app, &new_york));
    assert_eq!(first_message_sent(&app, &new_york).as_deref(), Some(FIRST));
    app.stop().await;
}
