//! The agent connection opened when Twilio fetches a call's TwiML, ahead of its media
//! stream: the stream uses it, and when the stream never comes it is closed with 1000
//! and a reason, whatever ends the call (a hang-up or no answer after the TwiML, an
//! answering machine, nothing at all). Checked against what the agent simulator recorded
//! of every socket opened to it.
use crate::calls_e2e::{place, wait_for};
use crate::calls_failures::{status_callback, stored_call, stream_token, twilio_post};
use crate::harness::{Db, TestApp};
use parley_engine::events::LiveEvent;
use parley_engine::telephony::sandbox_credentials::{TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN};
use parley_sim::elevenlabs::UnstartedEnd;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

async fn app_with(early_connect_secs: u32) -> TestApp {
    TestApp::start_on(Db::Sqlite, |s| {
        s.sandbox.speed = 5.0;
        s.calls.post_call_wait_secs = 30;
        s.calls.agent_early_connect_secs = early_connect_secs;
    })
    .await
}

/// The one socket opened to the agent, once it has closed without starting a
/// conversation.
async fn closed_unstarted(app: &TestApp) -> UnstartedEnd {
    let agent = &app.sandbox().elevenlabs.sim;
    let socket = agent
        .wait_for_sockets(WAIT, |sockets| {
            sockets
                .iter()
                .find(|s| s.closed_unstarted.is_some())
                .cloned()
        })
        .await
        .unwrap_or_else(|| panic!("no early socket closed: {:?}", agent.sockets()));
    assert_eq!(agent.sockets().len(), 1, "{:?}", agent.sockets());
    assert!(
        agent.conversations().is_empty(),
        "no conversation was started for a call nobody heard"
    );
    socket.closed_unstarted.unwrap()
}

fn call_ended() -> UnstartedEnd {
    UnstartedEnd::Client {
        code: 1000,
        reason: "call ended".into(),
    }
}

/// Places a call through the simulators; checks that it used one agent socket, which
/// carried its conversation.
async fn bridged_call(app: &TestApp) {
    let mut events = app.engine.events.subscribe();
    let id = place(app, json!({"to": "+15550100001"})).await;
    wait_for(&mut events, id, |e| {
        matches!(e, LiveEvent::CallEnded { .. })
    })
    .await;
    let sockets = app.sandbox().elevenlabs.sim.sockets();
    assert_eq!(sockets.len(), 1, "one agent socket per call: {sockets:?}");
    assert!(
        sockets[0].conversation_id.is_some(),
        "the socket carried the conversation: {sockets:?}"
    );
}

#[tokio::test]
async fn the_media_stream_takes_the_agent_socket_opened_when_the_twiml_was_fetched() {
    let app = app_with(15).await;
    bridged_call(&app).await;
    let early = &app.engine.bridges.early;
    assert_eq!(early.claimed(), 1, "the stream found its agent socket");
    assert_eq!(early.waiting(), 0);
    app.stop().await;
}

#[tokio::test]
async fn without_early_connect_the_agent_is_reached_when_the_stream_starts() {
    let app = app_with(0).await;
    bridged_call(&app).await;
    assert_eq!(app.engine.bridges.early.claimed(), 0);
    app.stop().await;
}

#[tokio::test]
async fn a_call_ending_after_its_twiml_but_before_its_stream_closes_the_agent_socket() {
    for (sid, status) in [
        ("CA0123456789abcdef0123456789abce01", "completed"),
        ("CA0123456789abcdef0123456789abce02", "no-answer"),
    ] {
        let app = app_with(15).await;
        let call_id = stored_call(&app, sid).await;
        stream_token(&app, call_id).await;
        assert_eq!(
            status_callback(&app, call_id, sid, status, 1, false).await,
            204
        );
        assert_eq!(closed_unstarted(&app).await, call_ended(), "{status}");
        assert_eq!(app.engine.bridges.early.waiting(), 0);
        app.stop().await;
    }
}

#[tokio::test]
async fn an_answering_machine_hang_up_closes_the_agent_socket() {
    let app = app_with(15).await;
    let sid = "CA0123456789abcdef0123456789abce03";
    let call_id = stored_call(&app, sid).await;
    stream_token(&app, call_id).await;
    let path = format!("/twilio/amd/{call_id}");
    let params: Vec<(String, String)> = [
        ("AccountSid", TWILIO_ACCOUNT_SID),
        ("CallSid", sid),
        ("AnsweredBy", "machine_start"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    // The stored call is unknown to the carrier, so the hang-up request itself fails
    // (502): the agent socket goes first.
    twilio_post(&app, &path, &params, TWILIO_AUTH_TOKEN).await;
    assert_eq!(closed_unstarted(&app).await, call_ended());
    app.stop().await;
}

#[tokio::test]
async fn an_agent_socket_whose_stream_never_comes_is_closed_in_time() {
    let app = app_with(1).await;
    let call_id = stored_call(&app, "CA0123456789abcdef0123456789abce04").await;
    stream_token(&app, call_id).await;
    let end = closed_unstarted(&app).await;
    assert_eq!(
        end,
        UnstartedEnd::Client {
            code: 1000,
            reason: "no media stream came for the call".into(),
        }
    );
    assert_eq!(app.engine.bridges.early.waiting(), 0);
    app.stop().await;
}
