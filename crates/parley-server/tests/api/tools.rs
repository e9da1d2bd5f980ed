//! Agent tools in sandbox calls: the simulated agent calls each tool as a client tool over
//! the conversation WebSocket and, as agent `agent_server_tools`, as an ElevenLabs server
//! tool over HTTP with the tool's bearer secret; Parley runs it against the local fakes,
//! the answer reaches the agent, and the call is logged.
use crate::calls_e2e::{place, sandbox, wait_for};
use crate::harness::{error_code, read, TestApp};
use parley_engine::events::LiveEvent;
use parley_sim::elevenlabs::magic::SERVER_TOOLS;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

/// Places a call to `number` with `agent`, waits until the agent's post-call analysis is
/// in, and returns the call's detail and the agent's side of the conversation.
pub async fn converse(
    app: &TestApp,
    number: &str,
    agent: Option<&str>,
) -> (Value, parley_sim::elevenlabs::SimConversation) {
    let mut events = app.engine.events.subscribe();
    let id = place(app, json!({"to": number, "agent_id": agent})).await;
    wait_for(&mut events, id, |e| {
        matches!(e, LiveEvent::CallAnalyzed { .. })
    })
    .await;
    let (status, call) = app
        .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
        .await;
    assert_eq!(status, 200, "{call}");
    let conversation_id = call["conversation_id"].as_str().expect("conversation id");
    let conversation = app
        .sandbox()
        .elevenlabs
        .sim
        .conversation(conversation_id)
        .expect("the simulator knows the conversation");
    (call, conversation)
}

/// The one tool call in a call's log and in the agent's record; checks they agree.
pub fn only_tool_call<'a>(
    call: &'a Value,
    conversation: &'a parley_sim::elevenlabs::SimConversation,
    tool: &str,
    via: &str,
) -> (&'a Value, &'a parley_sim::elevenlabs::SimToolResult) {
    let logged = call["tool_calls"].as_array().expect("tool_calls");
    assert_eq!(logged.len(), 1, "{call}");
    let logged = &logged[0];
    assert_eq!(logged["tool"], tool, "{logged}");
    assert_eq!(logged["via"], via, "{logged}");
    assert_eq!(logged["call_id"], call["id"], "{logged}");
    assert!(logged["duration_ms"].as_i64().unwrap() >= 0);
    assert_eq!(conversation.tool_calls.len(), 1, "{conversation:?}");
    let heard = conversation.tool_calls[0]
        .result
        .as_ref()
        .expect("the answer reached the agent");
    (logged, heard)
}

#[tokio::test]
async fn the_agent_asks_the_time_as_a_client_and_as_a_server_tool() {
    let app = sandbox().await;
    // Client tool, over the conversation WebSocket.
    let (call, conversation) = converse(&app, "+15550100010", None).await;
    let (logged, heard) = only_tool_call(&call, &conversation, "get_current_time", "client");
    assert_eq!(logged["is_error"], false, "{logged}");
    // +1 555 has no area-code zone: the fallback zone of +1 numbers is used.
    assert!(logged["result"]["timezone"].is_string(), "{logged}");
    assert!(!heard.is_error);
    let told: Value = serde_json::from_str(&heard.result).unwrap();
    assert_eq!(told, logged["result"]);

    // Server tool: ElevenLabs POSTs to /tools/get_current_time with the bearer secret.
    let (call, conversation) = converse(&app, "+15550100010", Some(SERVER_TOOLS)).await;
    let (logged, heard) = only_tool_call(&call, &conversation, "get_current_time", "server");
    assert_eq!(logged["is_error"], false, "{logged}");
    assert!(!heard.is_error, "{heard:?}");
    let told: Value = serde_json::from_str(&heard.result).unwrap();
    assert_eq!(told["result"], logged["result"]);
    assert_eq!(call["status"], "completed");
    app.stop().await;
}

fn secret(app: &TestApp, tool: &str) -> String {
    app.engine
        .settings
        .tools
        .secrets
        .get(tool)
        .expect("sandbox mode gives every tool a secret")
        .expose_secret()
        .to_owned()
}

async fn post_tool(app: &TestApp, tool: &str, bearer: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = app
        .http
        .post(app.url(&format!("/tools/{tool}")))
        .json(&body);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    read(request.send().await.unwrap()).await
}

#[tokio::test]
async fn server_tools_check_the_secret_the_tool_and_the_parameters() {
    let app = TestApp::start().await;
    let time_secret = secret(&app, "get_current_time");

    let (status, body) = post_tool(&app, "get_current_time", None, json!({})).await;
    assert_eq!((status, error_code(&body)), (401, "unauthorized"), "{body}");
    // Another tool's secret, or an API key, is not this tool's secret.
    let other = secret(&app, "opt_out");
    let (status, _) = post_tool(&app, "get_current_time", Some(&other), json!({})).await;
    assert_eq!(status, 401);
    let (status, _) = post_tool(&app, "get_current_time", Some(&app.admin_key), json!({})).await;
    assert_eq!(status, 401);
    let (status, body) = post_tool(&app, "make_coffee", Some(&time_secret), json!({})).await;
    assert_eq!((status, error_code(&body)), (404, "not_found"), "{body}");

    let live = crate::tools_email::call_in(
        &app,
        "+15550107041",
        None,
        parley_domain::call::CallStatus::InProgress,
    )
    .await
    .to_string();
    let (status, body) = post_tool(
        &app,
        "get_current_time",
        Some(&time_secret),
        json!({"timezone": "Mars/Olympus", "call_id": live}),
    )
    .await;
    assert_eq!((status, error_code(&body)), (400, "bad_request"), "{body}");
    assert_eq!(body["error"]["details"]["field"], "timezone");
    let (status, body) = post_tool(
        &app,
        "get_current_time",
        Some(&time_secret),
        json!({"call_id": "not-a-call"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (400, Some("call_id"))
    );
    let (status, body) = post_tool(
        &app,
        "get_current_time",
        Some(&time_secret),
        json!({"call_id": "987654"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (400, Some("call_id")),
        "{body}"
    );
    let (status, body) = post_tool(&app, "get_current_time", Some(&time_secret), json!([1])).await;
    assert_eq!((status, error_code(&body)), (400, "bad_request"));

    // Tools that act on a call need one.
    let (status, body) = post_tool(&app, "opt_out", Some(&other), json!({"reason": "x"})).await;
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (400, Some("call_id")),
        "{body}"
    );

    let (status, body) = post_tool(
        &app,
        "get_current_time",
        Some(&time_secret),
        json!({"timezone": "Asia/Tokyo", "call_id": live}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["timezone"], "Asia/Tokyo");
    assert!(body["result"]["business_hours"].is_boolean());
    app.stop().await;
}

#[tokio::test]
async fn the_agent_books_a_consultation_and_a_taken_slot_gets_alternatives() {
    let app = sandbox().await;
    let (call, conversation) = converse(&app, "+15550100011", None).await;
    let (logged, heard) = only_tool_call(&call, &conversation, "schedule_consultation", "client");
    assert_eq!(logged["result"]["booked"], true, "{logged}");
    assert!(!heard.is_error);
    assert!(heard.result.contains("Booked for"), "{}", heard.result);
    let calcom = &app
        .sandbox()
        .tools
        .calcom
        .as_ref()
        .expect("fake Cal.com")
        .state;
    let bookings = calcom.bookings();
    assert_eq!(bookings.len(), 1);
    assert_eq!(bookings[0].email, "ada@example.com");
    assert_eq!(bookings[0].name, "Ada Lovelace");
    assert_eq!(
        bookings[0].time_zone, "America/New_York",
        "the callee's zone"
    );
    assert_eq!(bookings[0].notes.as_deref(), Some("pricing questions"));
    assert_eq!(logged["result"]["booking_uid"], bookings[0].uid.as_str());
    assert!(call["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "consultation_booked"));

    // The same time again, through the server tool: taken, with the nearest free times.
    let (call, conversation) = converse(&app, "+15550100011", Some(SERVER_TOOLS)).await;
    let (logged, heard) = only_tool_call(&call, &conversation, "schedule_consultation", "server");
    assert_eq!(
        logged["is_error"], false,
        "a taken slot is an answer, not an error"
    );
    assert_eq!(logged["result"]["booked"], false, "{logged}");
    assert_eq!(
        logged["result"]["alternatives"].as_array().unwrap().len(),
        3
    );
    let told: Value = serde_json::from_str(&heard.result).unwrap();
    let message = told["result"]["message"].as_str().unwrap();
    assert!(
        message.contains("is not available. The nearest free times are"),
        "{message}"
    );
    assert_eq!(calcom.bookings().len(), 1, "nothing double-booked");
    app.stop().await;
}

#[tokio::test]
async fn the_agent_sends_an_email_through_graph_with_a_cached_token() {
    let app = sandbox().await;
    let (call, conversation) = converse(&app, "+15550100012", None).await;
    let (logged, heard) = only_tool_call(&call, &conversation, "send_email", "client");
    assert_eq!(logged["is_error"], false, "{logged}");
    assert_eq!(heard.result, "Email sent to grace@example.com.");
    let graph = &app
        .sandbox()
        .tools
        .graph
        .as_ref()
        .expect("fake Graph")
        .state;
    let sent = graph.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, vec!["grace@example.com".to_string()]);
    assert_eq!(
        sent[0].subject, "Your new plan details",
        "the sandbox template"
    );
    assert_eq!(sent[0].content_type, "HTML");
    assert!(sent[0].content.contains("<b>new plan</b>"));
    assert_eq!(sent[0].sender, graph.config().sender);

    let (call, conversation) = converse(&app, "+15550100012", Some(SERVER_TOOLS)).await;
    let (logged, heard) = only_tool_call(&call, &conversation, "send_email", "server");
    assert_eq!(logged["is_error"], false, "{logged}");
    assert!(!heard.is_error);
    assert_eq!(graph.sent().len(), 2);
    assert_eq!(
        graph.token_requests(),
        1,
        "the token is cached until it expires"
    );
    app.stop().await;
}

#[tokio::test]
async fn send_email_over_smtp_sends_text_and_html() {
    let app = TestApp::start_on(crate::harness::Db::Sqlite, |s| {
        s.dialer.enabled = false;
        s.tools.email.transport = parley_engine::settings::EmailTransport::Smtp;
    })
    .await;
    let bearer = secret(&app, "send_email");
    let call = crate::tools_email::call_in(
        &app,
        "+15550107042",
        Some("lin@example.com"),
        parley_domain::call::CallStatus::InProgress,
    )
    .await
    .to_string();
    let body = json!({"call_id": call, "template": "plan_details", "fields": {"name": "Lin", "plan": "gold plan"}});
    let (status, answer) = post_tool(&app, "send_email", Some(&bearer), body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"], "Email sent to lin@example.com.");
    let smtp = &app.sandbox().tools.smtp.as_ref().expect("fake SMTP").state;
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].from, "parley@sandbox.example");
    assert_eq!(received[0].to, vec!["lin@example.com".to_string()]);
    let data = &received[0].data;
    assert!(data.contains("Subject: Your gold plan details"), "{data}");
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(
        data.contains("Hello Lin, here are the details of the gold plan.")
            && data.contains("<p>Hello Lin, here are the details of the <b>gold plan</b>.</p>"),
        "{data}"
    );

    let (status, answer) = post_tool(
        &app,
        "send_email",
        Some(&bearer),
        json!({"call_id": call, "to": "not an address", "template": "plan_details", "fields": {"name": "x", "plan": "y"}}),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["details"]["field"].as_str()),
        (400, Some("to"))
    );
    assert_eq!(smtp.received().len(), 1, "nothing sent for bad input");
    app.stop().await;
}

/// Asks for a person through `agent`'s tool path; checks the call was redirected to
/// `<Dial>` the transfer number and the transfer was recorded.
async fn transfer(app: &TestApp, agent: Option<&str>, via: &str) {
    let (call, conversation) = converse(app, "+15550100013", agent).await;
    let logged = &call["tool_calls"][0];
    assert_eq!(logged["tool"], "transfer_to_human", "{call}");
    assert_eq!(logged["via"], via);
    assert_eq!(logged["is_error"], false, "{logged}");
    assert_eq!(conversation.tool_calls[0].tool_name, "transfer_to_human");
    let event = call["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "transferred")
        .expect("transfer recorded");
    assert_eq!(event["data"]["to"], parley_sandbox::SANDBOX_TRANSFER_NUMBER);
    assert_eq!(call["termination_source"], "agent", "{call}");
    let sid = call["twilio_call_sid"].as_str().unwrap();
    let twilio = app
        .sandbox()
        .twilio
        .sim
        .call(sid)
        .expect("twilio knows the call");
    assert_eq!(
        twilio.dialed,
        vec![parley_sandbox::SANDBOX_TRANSFER_NUMBER.to_string()]
    );
}

#[tokio::test]
async fn the_agent_transfers_the_call_to_a_person() {
    let app = sandbox().await;
    transfer(&app, None, "client").await;
    transfer(&app, Some(SERVER_TOOLS), "server").await;
    app.stop().await;
}
