//! Warm transfers in the sandbox: the agent's `transfer_to_human` rings the campaign's
//! targets in order through the simulated carrier, the person who answers hears the
//! whisper, and when no one answers the callee hears the fallback and gets a callback.
use crate::calls_e2e::{sandbox, wait_for, CALL_TIMEOUT};
use crate::campaign_dialer::{any_hour_settings, create_campaign, import_csv};
use crate::harness::TestApp;
use parley_domain::call::CallStatus;
use parley_engine::events::LiveEvent;
use parley_twilio::signature::{sign, SIGNATURE_HEADER};
use reqwest::Method;
use serde_json::{json, Value};

/// The sim persona that asks for a person.
const WANTS_A_HUMAN: &str = "+15550100013";
/// Sim lines: any unlisted number answers; `...0003` never does; `...0004` is busy.
const ANSWERS: &str = "+15550109901";
const NO_ANSWER: &str = "+15550100003";
const BUSY: &str = "+15550100004";

/// Starts a one-contact campaign whose `transfer` settings are `transfer`; returns its
/// call's id once placed, and the live events from before it started.
async fn start_transfer_campaign(
    app: &TestApp,
    transfer: Value,
) -> (i64, tokio::sync::broadcast::Receiver<LiveEvent>) {
    let settings = any_hour_settings(json!({ "transfer": transfer }));
    let id = create_campaign(app, "transfers", settings).await;
    import_csv(
        app,
        id,
        format!("phone,first_name,last_name\n{WANTS_A_HUMAN},Ada,Lovelace\n"),
    )
    .await;
    let mut events = app.engine.events.subscribe();
    let (status, body) = app
        .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let call_id = tokio::time::timeout(CALL_TIMEOUT, async {
        loop {
            if let Ok(LiveEvent::CallStarted {
                call_id,
                campaign_id: Some(c),
            }) = events.recv().await
            {
                if c == id {
                    return call_id;
                }
            }
        }
    })
    .await
    .expect("the campaign places its call");
    (call_id, events)
}

/// Runs a one-contact campaign whose `transfer` settings are `transfer`, waits for its
/// call to end; returns the call's record.
async fn transferred_call(app: &TestApp, transfer: Value) -> Value {
    let (call_id, mut events) = start_transfer_campaign(app, transfer).await;
    wait_for(&mut events, call_id, |e| {
        matches!(e, LiveEvent::CallEnded { .. })
    })
    .await;
    let (status, call) = app
        .call(Method::GET, &format!("/api/v1/calls/{call_id}"), None)
        .await;
    assert_eq!(status, 200, "{call}");
    call
}

fn sim_call(app: &TestApp, call: &Value) -> parley_sim::twilio::SimCall {
    let sid = call["twilio_call_sid"].as_str().expect("a call sid");
    app.sandbox()
        .twilio
        .sim
        .call(sid)
        .expect("twilio knows the call")
}

/// The call's events of its transfer (`transferred`, `transfer_dial`, `transfer_whisper`).
fn transfer_events(call: &Value) -> Vec<&Value> {
    ["transferred", "transfer_dial", "transfer_whisper"]
        .iter()
        .flat_map(|kind| events_of(call, kind))
        .collect()
}

fn events_of<'a>(call: &'a Value, kind: &str) -> Vec<&'a Value> {
    call["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

#[tokio::test]
async fn a_warm_transfer_reaches_the_first_person_with_the_whisper() {
    let app = sandbox().await;
    let call = transferred_call(
        &app,
        json!({"targets": [ANSWERS, NO_ANSWER], "ring_seconds": 5,
               "whisper": "Call from {{contact_name}} for {{campaign}}: {{reason}}"}),
    )
    .await;
    let whisper = "Call from Ada Lovelace for transfers: callee asked for a person";
    let transfer = &call["transfer"];
    assert_eq!(transfer["outcome"], "connected", "{call}");
    assert_eq!(transfer["target_index"], 0);
    assert_eq!(transfer["whisper"], whisper);
    assert_eq!(
        transfer["attempts"],
        json!([{"index": 0, "number": ANSWERS, "whisper_heard": true, "dial_status": "completed"}])
    );
    let twilio = sim_call(&app, &call);
    assert_eq!(
        twilio.dialed,
        vec![ANSWERS.to_string()],
        "only the first rang"
    );
    assert_eq!(
        twilio.whispers,
        vec![whisper.to_string()],
        "the person heard it"
    );
    assert_eq!(twilio.dial_results, vec!["completed".to_string()]);
    assert_eq!(call["termination_source"], "agent");
    assert_eq!(call["error_message"], "transferred to a person");

    let (_, summary) = app
        .call(Method::GET, "/api/v1/analytics/summary", None)
        .await;
    assert_eq!(
        summary["transfers"],
        json!({"attempted": 1, "connected": 1, "connect_rate": 1.0})
    );
    app.stop().await;
}

#[tokio::test]
async fn an_unanswered_target_passes_the_call_to_the_next() {
    let app = sandbox().await;
    let call = transferred_call(
        &app,
        json!({"targets": [NO_ANSWER, BUSY, ANSWERS], "ring_seconds": 5}),
    )
    .await;
    let transfer = &call["transfer"];
    assert_eq!(transfer["outcome"], "connected", "{call}");
    assert_eq!(transfer["target_index"], 2);
    let statuses: Vec<&str> = transfer["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["dial_status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["no-answer", "busy", "completed"]);
    let twilio = sim_call(&app, &call);
    assert_eq!(twilio.dialed, [NO_ANSWER, BUSY, ANSWERS]);
    assert_eq!(
        twilio.whispers.len(),
        1,
        "only the one who answered heard it"
    );
    assert!(
        twilio.whispers[0].contains("Ada Lovelace"),
        "the default whisper names the contact: {:?}",
        twilio.whispers
    );
    app.stop().await;
}

#[tokio::test]
async fn when_no_one_answers_the_callee_hears_the_fallback_and_gets_a_callback() {
    let app = sandbox().await;
    let call = transferred_call(
        &app,
        json!({"targets": [NO_ANSWER, BUSY], "ring_seconds": 5,
               "fallback": {"voicemail_message": "Sorry, everyone is busy. We will call you back.",
                            "schedule_callback_in_minutes": 90}}),
    )
    .await;
    assert_eq!(call["transfer"]["outcome"], "no_answer", "{call}");
    assert_eq!(call["transfer"]["target_index"], 1);
    assert_eq!(
        call["error_message"], "transferred to a person; no one answered",
        "the call ended after the fallback"
    );
    let twilio = sim_call(&app, &call);
    assert_eq!(twilio.dial_results, ["no-answer", "busy"]);
    assert!(twilio.whispers.is_empty());
    let callbacks = events_of(&call, "callback_requested");
    assert_eq!(callbacks.len(), 1, "{call}");
    let at = callbacks[0]["data"]["at_ms"].as_i64().unwrap();
    let now = parley_domain::time::now_millis();
    assert!(
        (now + 80 * 60_000..=now + 91 * 60_000).contains(&at),
        "about 90 minutes away: {at} vs {now}"
    );
    let (_, summary) = app
        .call(Method::GET, "/api/v1/analytics/summary", None)
        .await;
    assert_eq!(summary["transfers"]["attempted"], 1);
    assert_eq!(summary["transfers"]["connected"], 0);
    app.stop().await;
}

#[tokio::test]
async fn a_transfer_whose_every_number_is_busy_says_so() {
    let app = sandbox().await;
    let call = transferred_call(&app, json!({"targets": [BUSY], "ring_seconds": 5})).await;
    assert_eq!(call["transfer"]["outcome"], "busy", "{call}");
    assert_eq!(call["transfer"]["outcome_label"], "Every line busy");
    assert_eq!(call["transfer"]["attempts"][0]["dial_status"], "busy");
    assert_eq!(
        call["error_message"],
        "transferred to a person; every line was busy"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_call_that_ends_while_a_target_rings_settles_its_transfer_as_unanswered() {
    let app = sandbox().await;
    let (id, mut events) =
        start_transfer_campaign(&app, json!({"targets": [NO_ANSWER], "ring_seconds": 120})).await;
    // The agent's conversation ends with the transfer; the target then rings for long.
    wait_for(&mut events, id, |e| {
        matches!(e, LiveEvent::CallAnalyzed { .. })
    })
    .await;
    let (_, ringing) = app
        .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
        .await;
    assert_eq!(ringing["transfer"]["outcome"], "in_progress", "{ringing}");
    assert_eq!(
        ringing["transfer"]["attempts"][0]["dial_status"],
        Value::Null
    );
    let (status, body) = app
        .call(Method::POST, &format!("/api/v1/calls/{id}/hangup"), None)
        .await;
    assert!(status < 300, "{status} {body}");
    wait_for(&mut events, id, |e| {
        matches!(e, LiveEvent::CallEnded { .. })
    })
    .await;
    let (_, call) = app
        .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
        .await;
    assert_eq!(call["transfer"]["outcome"], "no_answer", "{call}");
    assert!(
        sim_call(&app, &call).dial_results.is_empty(),
        "the ring never ended by itself"
    );
    app.stop().await;
}

/// Posts a Twilio-signed (or wrongly signed) form to `path`.
async fn post_signed(
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
    token: &str,
) -> (u16, String) {
    let url = app.engine.telephony.public_url(path);
    let params: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let resp = reqwest::Client::new()
        .post(app.url(path))
        .header(SIGNATURE_HEADER, sign(token, &url, &params))
        .form(&params)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn transfer_webhooks_refuse_bad_signatures_and_ignore_duplicates() {
    let app = sandbox().await;
    let call = transferred_call(&app, json!({"targets": [ANSWERS], "ring_seconds": 5})).await;
    let id = call["id"].as_i64().unwrap();
    let sid = call["twilio_call_sid"].as_str().unwrap();
    let token = app.engine.telephony.twilio_token().to_string();
    let dial = format!("/twilio/dial/{id}?target=0");
    let whisper = format!("/twilio/whisper/{id}?target=0");
    let answered = [
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("CallSid", sid),
        ("DialCallStatus", "completed"),
        ("DialCallSid", "CA11111111111111111111111111111111"),
        ("DialCallDuration", "4"),
    ];
    for path in [&dial, &whisper] {
        let (status, _) = post_signed(&app, path, &answered, "not-the-token").await;
        assert_eq!(status, 403, "{path}");
    }
    let before = app
        .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
        .await
        .1;

    // Redelivered: the same answer, and nothing changes.
    let (status, twiml) = post_signed(&app, &dial, &answered, &token).await;
    assert_eq!(status, 200, "{twiml}");
    assert!(twiml.ends_with("<Response><Hangup/></Response>"), "{twiml}");
    let redelivered_no_answer = [answered[0], answered[1], ("DialCallStatus", "no-answer")];
    let (status, _) = post_signed(&app, &dial, &redelivered_no_answer, &token).await;
    assert_eq!(status, 200);
    let (status, said) = post_signed(
        &app,
        &whisper,
        &[
            ("CallSid", "CA2"),
            ("ParentCallSid", sid),
            ("AccountSid", "AC0"),
        ],
        &token,
    )
    .await;
    assert_eq!(status, 200);
    assert!(said.contains("<Say>"), "{said}");
    let after = app
        .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
        .await
        .1;
    // Only the transfer's own events: the call's recording callback may still arrive
    // meanwhile, as it does after the call ended.
    assert_eq!(
        transfer_events(&after),
        transfer_events(&before),
        "no transfer event added"
    );
    assert_eq!(after["transfer"], before["transfer"]);
    assert_eq!(after["transfer"]["outcome"], "connected");

    // Another call's SID, and a target the transfer does not have, are refused.
    let other = [
        answered[0],
        ("CallSid", "CA99999999999999999999999999999999"),
        answered[2],
    ];
    assert_eq!(post_signed(&app, &dial, &other, &token).await.0, 403);
    let (status, _) = post_signed(
        &app,
        &format!("/twilio/dial/{id}?target=3"),
        &answered,
        &token,
    )
    .await;
    assert_eq!(status, 400);
    app.stop().await;
}

#[tokio::test]
async fn transfer_settings_are_validated() {
    let app = sandbox().await;
    let settings = any_hour_settings(json!({"transfer": {
        "targets": ["+15550109901", "0800 FLOWERS"], "ring_seconds": 1,
        "fallback": {"schedule_callback_in_minutes": 0}}}));
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "bad", "settings": settings})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["error"]["details"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "settings.transfer.targets[1]",
            "settings.transfer.ring_seconds",
            "settings.transfer.fallback.schedule_callback_in_minutes"
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_refused_redirect_leaves_the_call_to_the_agent_and_says_so() {
    let app = sandbox().await;
    let id = crate::tools_email::call_in(&app, "+15550107043", None, CallStatus::InProgress).await;
    // A call Twilio does not know: it refuses the redirect (404).
    let mut tx = app.engine.store.begin().await.unwrap();
    tx.set_call_sid(id, "CA00000000000000000000000000000bad")
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let refused = app
        .engine
        .transfer_to_human(id, "asked for a manager")
        .await;
    assert_eq!(
        refused,
        Err("The transfer did not go through; offer a call back instead.".to_string())
    );
    let (_, call) = app
        .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
        .await;
    assert_eq!(call["transfer"]["outcome"], "failed", "{call}");
    // The agent's conversation goes on: the transfer did not end the call.
    assert_eq!(call["termination_source"], Value::Null, "{call}");
    assert_eq!(call["error_message"], Value::Null, "{call}");

    // A settled transfer does not start again (the agent was told to offer a callback).
    let again = app.engine.transfer_to_human(id, "asked again").await;
    assert!(
        again
            .as_ref()
            .is_err_and(|e| e.contains("transferred once already")),
        "{again:?}"
    );
    let (_, after) = app
        .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
        .await;
    assert_eq!(after["transfer"], call["transfer"]);
    assert_eq!(after["termination_source"], Value::Null);
    app.stop().await;
}
