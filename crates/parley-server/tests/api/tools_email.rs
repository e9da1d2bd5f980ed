//! `send_email` cannot be turned against people, and no tool runs outside a live call:
//! each refusal is a tool error the agent hears (`is_error`), and nothing is sent.
//! Driven as ElevenLabs server tools (`POST /tools/{name}`) on calls the tests put in
//! each state; the sandbox persona flow is in `tools.rs`.
use crate::harness::{read, Db, TestApp};
use parley_domain::call::CallStatus;
use parley_domain::contact::{ContactFields, NewContact};
use parley_domain::phone::{Phone, Region};
use parley_store::{NewCall, StatusChange};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

async fn start(db: Db) -> TestApp {
    TestApp::start_on(db, |s| s.dialer.enabled = false).await
}

/// A call to a new contact (with `email` on file), in `status`.
pub async fn call_in(app: &TestApp, phone: &str, email: Option<&str>, status: CallStatus) -> i64 {
    let store = &app.engine.store;
    let contact = store
        .create_contact(&NewContact {
            phone: Phone::parse(phone, Region::parse("US").unwrap()).unwrap(),
            fields: ContactFields {
                email: email.map(str::to_owned),
                ..Default::default()
            },
        })
        .await
        .unwrap();
    let call = store
        .create_call(&NewCall {
            campaign_id: None,
            contact_id: Some(contact.id),
            attempt: 1,
            to: phone.into(),
            from: "+15005550006".into(),
            agent_id: None,
            dynamic_variables: json!({}),
            overrides: json!({}),
            ..Default::default()
        })
        .await
        .unwrap();
    for step in [CallStatus::Initiated, CallStatus::InProgress, status] {
        if step.rank() > CallStatus::Queued.rank() && step.rank() <= status.rank() {
            store
                .advance_call_status(
                    call.id,
                    &StatusChange {
                        status: step,
                        duration_seconds: None,
                        error_code: None,
                        error_message: None,
                    },
                )
                .await
                .unwrap();
        }
    }
    call.id
}

/// Runs server tool `tool` on `call_id`; returns the status and the answer.
async fn tool(app: &TestApp, tool: &str, call_id: Option<i64>, mut body: Value) -> (u16, Value) {
    let secret = app.engine.settings.tools.secrets.get(tool).unwrap();
    if let Some(id) = call_id {
        body["call_id"] = json!(id.to_string());
    }
    let request = app
        .http
        .post(app.url(&format!("/tools/{tool}")))
        .bearer_auth(secret.expose_secret())
        .json(&body);
    read(request.send().await.unwrap()).await
}

fn plan(to: Option<&str>) -> Value {
    let mut body =
        json!({"template": "plan_details", "fields": {"name": "Ann", "plan": "gold plan"}});
    if let Some(to) = to {
        body["to"] = json!(to);
    }
    body
}

fn sent_to(app: &TestApp) -> Vec<String> {
    let graph = &app
        .sandbox()
        .tools
        .graph
        .as_ref()
        .expect("fake Graph")
        .state;
    graph.sent().into_iter().flat_map(|m| m.to).collect()
}

/// A refusal the agent hears: 200 with `is_error` and a sentence mentioning `says`.
fn assert_refused(answer: &(u16, Value), says: &str) {
    let (status, body) = answer;
    assert_eq!(*status, 200, "{body}");
    assert_eq!(body["is_error"], true, "{body}");
    let message = body["result"].as_str().unwrap();
    assert!(message.contains(says), "{message}");
}

async fn recipients_are_the_address_on_file_or_one_the_callee_gives(db: Db) {
    let app = start(db).await;
    let call = call_in(
        &app,
        "+15550107001",
        Some("ann@example.com"),
        CallStatus::InProgress,
    )
    .await;
    // 1. No `to`: the address on file.
    let (status, body) = tool(&app, "send_email", Some(call), plan(None)).await;
    assert_eq!(
        (status, &body["result"]),
        (200, &json!("Email sent to ann@example.com."))
    );
    // 2. An address the callee gives: the one allowed.
    let given = tool(
        &app,
        "send_email",
        Some(call),
        plan(Some("ann.work@example.org")),
    )
    .await;
    assert_eq!(
        given.1["result"], "Email sent to ann.work@example.org.",
        "{}",
        given.1
    );
    assert_eq!(sent_to(&app), ["ann@example.com", "ann.work@example.org"]);

    // A second new address in the same call is refused, and nothing goes out.
    let app2 = start_with_cap(db, 5).await;
    let bea = call_in(&app2, "+15550107002", None, CallStatus::InProgress).await;
    let call = bea;
    let first = tool(
        &app2,
        "send_email",
        Some(call),
        plan(Some("bea@example.com")),
    )
    .await;
    assert_eq!(
        first.1["result"], "Email sent to bea@example.com.",
        "{}",
        first.1
    );
    let other = tool(
        &app2,
        "send_email",
        Some(call),
        plan(Some("victim@example.net")),
    )
    .await;
    assert_refused(
        &other,
        "only to the address on file or the one address the callee gave",
    );
    // The same given address again is still fine.
    let again = tool(
        &app2,
        "send_email",
        Some(call),
        plan(Some("BEA@example.com")),
    )
    .await;
    assert_eq!(again.1["is_error"], Value::Null, "{}", again.1);
    assert_eq!(sent_to(&app2), ["bea@example.com", "BEA@example.com"]);

    // No address on file and none given: the agent is told to ask.
    let call = call_in(&app2, "+15550107003", None, CallStatus::InProgress).await;
    assert_refused(
        &tool(&app2, "send_email", Some(call), plan(None)).await,
        "no email address on file",
    );
    // The agent cannot write the content itself.
    let (status, body) = tool(
        &app2,
        "send_email",
        Some(call),
        json!({"template": "plan_details", "fields": {"name": "x", "plan": "y", "html": "<a href=//evil>"}, "to": "bea@example.com"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (400, Some("fields")),
        "{body}"
    );
    let (status, body) = tool(
        &app2,
        "send_email",
        Some(call),
        json!({"template": "anything", "fields": {}, "to": "bea@example.com"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (400, Some("template")),
        "{body}"
    );
    assert_eq!(sent_to(&app2).len(), 2, "nothing more was sent");

    // Each email is on the call's record with where its address came from.
    let events = app2.engine.store.call_events(bea).await.unwrap();
    let sources: Vec<&Value> = events
        .iter()
        .filter(|e| e.kind == "email_sent")
        .map(|e| &e.data["source"])
        .collect();
    assert_eq!(
        sources,
        [&json!("given_by_callee"), &json!("given_by_callee")]
    );
    app.stop().await;
    app2.stop().await;
}

async fn start_with_cap(db: Db, cap: u32) -> TestApp {
    TestApp::start_on(db, |s| {
        s.dialer.enabled = false;
        s.tools.email.max_per_call = cap;
    })
    .await
}

#[tokio::test]
async fn send_email_goes_only_to_the_address_on_file_or_one_the_callee_gives_sqlite() {
    recipients_are_the_address_on_file_or_one_the_callee_gives(Db::Sqlite).await;
}

#[tokio::test]
async fn send_email_goes_only_to_the_address_on_file_or_one_the_callee_gives_postgres() {
    recipients_are_the_address_on_file_or_one_the_callee_gives(Db::Postgres).await;
}

async fn a_call_sends_at_most_the_cap(db: Db) {
    let app = start(db).await;
    assert_eq!(
        app.engine.settings.tools.email.max_per_call, 2,
        "the default"
    );
    let call = call_in(
        &app,
        "+15550107011",
        Some("cap@example.com"),
        CallStatus::InProgress,
    )
    .await;
    for _ in 0..2 {
        let (status, body) = tool(&app, "send_email", Some(call), plan(None)).await;
        assert_eq!((status, &body["is_error"]), (200, &Value::Null), "{body}");
    }
    assert_refused(
        &tool(&app, "send_email", Some(call), plan(None)).await,
        "No more emails can be sent from this call",
    );
    assert_eq!(sent_to(&app).len(), 2);
    // Another call has its own allowance.
    let other = call_in(
        &app,
        "+15550107012",
        Some("cap2@example.com"),
        CallStatus::InProgress,
    )
    .await;
    let (_, body) = tool(&app, "send_email", Some(other), plan(None)).await;
    assert_eq!(body["result"], "Email sent to cap2@example.com.");
    app.stop().await;
}

#[tokio::test]
async fn send_email_stops_at_the_per_call_cap_sqlite() {
    a_call_sends_at_most_the_cap(Db::Sqlite).await;
}

#[tokio::test]
async fn send_email_stops_at_the_per_call_cap_postgres() {
    a_call_sends_at_most_the_cap(Db::Postgres).await;
}

async fn no_tool_runs_outside_a_live_call(db: Db) {
    let app = start(db).await;
    let queued = call_in(
        &app,
        "+15550107021",
        Some("q@example.com"),
        CallStatus::Queued,
    )
    .await;
    let ringing = call_in(
        &app,
        "+15550107022",
        Some("r@example.com"),
        CallStatus::Ringing,
    )
    .await;
    let ended = call_in(
        &app,
        "+15550107023",
        Some("e@example.com"),
        CallStatus::Completed,
    )
    .await;
    for call in [queued, ringing, ended] {
        for (name, body) in [
            ("send_email", plan(None)),
            ("get_current_time", json!({})),
            ("opt_out", json!({"reason": "asked"})),
            ("schedule_callback", json!({"when": "tomorrow 10:00"})),
        ] {
            let answer = tool(&app, name, Some(call), body).await;
            assert_refused(&answer, "not in progress");
        }
    }
    // Without a call at all: the request names no call (400 on call_id).
    let (status, body) = tool(
        &app,
        "get_current_time",
        None,
        json!({"timezone": "Asia/Tokyo"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (400, Some("call_id")),
        "{body}"
    );
    assert!(sent_to(&app).is_empty(), "nothing was sent");
    let dnc = app.engine.store.call_events(queued).await.unwrap();
    assert!(dnc.iter().all(|e| e.kind != "opted_out"), "{dnc:?}");
    // Refusals are in the tool log.
    let logged = app.engine.store.tool_calls(ended).await.unwrap();
    assert_eq!(logged.len(), 4);
    assert!(logged.iter().all(|t| t.is_error));
    app.stop().await;
}

#[tokio::test]
async fn tools_refuse_to_run_unless_the_call_is_in_progress_sqlite() {
    no_tool_runs_outside_a_live_call(Db::Sqlite).await;
}

#[tokio::test]
async fn tools_refuse_to_run_unless_the_call_is_in_progress_postgres() {
    no_tool_runs_outside_a_live_call(Db::Postgres).await;
}

#[tokio::test]
async fn template_fields_are_escaped_and_kept_off_the_subject_line() {
    let app = start(Db::Sqlite).await;
    let call = call_in(
        &app,
        "+15550107031",
        Some("esc@example.com"),
        CallStatus::InProgress,
    )
    .await;
    let body = json!({
        "template": "plan_details",
        "fields": {"name": "<img src=x onerror=alert(1)>", "plan": "gold\r\nBcc: all@example.com"},
    });
    let (status, answer) = tool(&app, "send_email", Some(call), body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["is_error"], Value::Null, "{answer}");
    let graph = &app.sandbox().tools.graph.as_ref().unwrap().state;
    let sent = graph.sent();
    assert_eq!(sent.len(), 1);
    let mail = &sent[0];
    assert_eq!(mail.content_type, "HTML");
    assert!(
        mail.content
            .starts_with("<p>Hello &lt;img src=x onerror=alert(1)&gt;, here are"),
        "{}",
        mail.content
    );
    assert!(!mail.content.contains("<img"), "{}", mail.content);
    assert!(
        mail.content.contains("<b>gold\r\nBcc: all@example.com</b>"),
        "{}",
        mail.content
    );
    assert_eq!(mail.subject, "Your gold  Bcc: all@example.com details");
    assert_eq!(mail.to, ["esc@example.com"]);
    app.stop().await;
}
