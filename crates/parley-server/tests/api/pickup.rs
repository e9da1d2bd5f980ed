//! The agent connection opened when Twilio fetches a call's TwiML, ahead of its media
//! stream: the stream uses it, and when the stream never comes it is closed with 1000
//! and a reason, whatever ends the call (a hang-up or no answer after the TwiML, an
//! answering machine, nothing at all). Checked against what the agent simulator recorded
//! of every socket opened to it.
use crate::calls_e2e::{place, wait_for};
use crate::calls_failures::{
    open_stream, start_messages, status_callback, stored_call, stream_token, twilio_post, twiml,
};
use crate::harness::{Db, TestApp};
use crate::metrics::scraped;
use futures::SinkExt;
use parley_engine::events::LiveEvent;
use parley_engine::telephony::sandbox_credentials::{TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN};
use parley_sim::elevenlabs::{SimConversation, UnstartedEnd};
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(30);

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn app_with(early_connect_secs: u32) -> TestApp {
    app_starting_at_handshake(early_connect_secs, true).await
}

async fn app_starting_at_handshake(early_connect_secs: u32, at_handshake: bool) -> TestApp {
    TestApp::start_on(Db::Sqlite, |s| {
        s.sandbox.speed = 5.0;
        s.calls.post_call_wait_secs = 30;
        s.calls.agent_early_connect_secs = early_connect_secs;
        s.calls.agent_starts_at_handshake = at_handshake;
    })
    .await
}

/// Opens the media stream of `call_id` at its own URL, signed as Twilio signs the
/// handshake when `signed`, and sends nothing.
async fn open_call_stream(app: &TestApp, call_id: i64, signed: bool) -> Stream {
    open_call_stream_signed_with(app, call_id, signed.then_some(TWILIO_AUTH_TOKEN)).await
}

/// Like [`open_call_stream`], the handshake signed with `auth_token` when there is one.
async fn open_call_stream_signed_with(
    app: &TestApp,
    call_id: i64,
    auth_token: Option<&str>,
) -> Stream {
    let url = app.engine.telephony.call_media_url(call_id);
    let mut request = url.as_str().into_client_request().unwrap();
    if let Some(auth_token) = auth_token {
        let signature = parley_twilio::signature::sign::<&str, &str>(auth_token, &url, &[]);
        request
            .headers_mut()
            .insert("x-twilio-signature", signature.parse().unwrap());
    }
    let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws
}

/// Sends `connected` and `start`, as Twilio does.
async fn send_start(ws: &mut Stream, call_id: i64, token: &str) {
    for message in start_messages(call_id, token) {
        ws.send(Message::text(message.to_string())).await.unwrap();
    }
}

/// The first conversation the agent simulator started.
async fn first_conversation(app: &TestApp) -> SimConversation {
    let agent = &app.sandbox().elevenlabs.sim;
    agent
        .wait_for(WAIT, |conversations| conversations.first().cloned())
        .await
        .expect("the agent's conversation started")
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
async fn a_signed_stream_handshake_starts_the_agent_before_twilio_says_start() {
    let app = app_with(15).await;
    bridged_call(&app).await;
    let early = &app.engine.bridges.early;
    assert_eq!(early.primed(), 1, "the handshake started the conversation");
    assert_eq!(early.claimed(), 1);
    // What the agent said before `start` reached the callee, and the call went on.
    let calls = app.sandbox().twilio.sim.calls();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].first_app_audio.is_some(), "{:?}", calls[0]);
    assert!(calls[0].callee_lines_spoken > 0, "{:?}", calls[0]);
    let conversation = first_conversation(&app).await;
    assert!(
        conversation.transcript.len() >= 2,
        "the conversation went on past the greeting: {:?}",
        conversation.transcript
    );
    app.stop().await;
}

#[tokio::test]
async fn with_starting_at_the_handshake_off_the_stream_url_names_no_call() {
    let app = app_starting_at_handshake(15, false).await;
    let call_id = stored_call(&app, "CA0123456789abcdef0123456789abcdea").await;
    let xml = twiml(&app, call_id).await;
    let url = format!("url=\"{}\"", app.engine.telephony.media_url());
    assert!(xml.contains(&url), "{xml}");
    let token = stream_token(&app, call_id).await;
    let _ws = open_stream(&app, call_id, &token).await;
    first_conversation(&app).await;
    assert_eq!(app.engine.bridges.early.primed(), 0);
    assert_eq!(
        app.engine.bridges.early.claimed(),
        1,
        "it waited for `start`"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_unsigned_stream_handshake_or_one_signed_wrong_leaves_the_agent_to_start_with_the_stream(
) {
    // A wrong signature is taken as none: the `start` token still authenticates the
    // stream, so a URL Twilio signs differently costs the early start, not the call.
    for signed_with in [None, Some("another-auth-token")] {
        let app = app_with(15).await;
        let call_id = stored_call(&app, "CA0123456789abcdef0123456789abcdea").await;
        let token = stream_token(&app, call_id).await;
        let mismatches = "parley_bridge_handshake_signature_mismatches_total";
        let before = scraped(&app, mismatches).await;
        let mut ws = open_call_stream_signed_with(&app, call_id, signed_with).await;
        send_start(&mut ws, call_id, &token).await;
        first_conversation(&app).await;
        let early = &app.engine.bridges.early;
        assert_eq!(
            early.primed(),
            0,
            "only Twilio's signature may start it early ({signed_with:?})"
        );
        assert_eq!(early.claimed(), 1, "{signed_with:?}");
        if signed_with.is_some() {
            // Other tests share the process's recorder: at least this one counts.
            assert!(
                scraped(&app, mismatches).await >= before + 1.0,
                "the mismatch is counted"
            );
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn a_conversation_started_at_the_handshake_ends_when_the_stream_never_starts() {
    let app = app_with(15).await;
    let call_id = stored_call(&app, "CA0123456789abcdef0123456789abcdea").await;
    stream_token(&app, call_id).await;
    let ws = open_call_stream(&app, call_id, true).await;
    let started = first_conversation(&app).await;
    assert_eq!(app.engine.bridges.early.primed(), 1);
    drop(ws); // the stream goes before its `start`
    let agent = &app.sandbox().elevenlabs.sim;
    let ended = agent
        .wait_for(WAIT, |conversations| {
            let c = conversations.first()?;
            (!c.socket_open).then(|| c.clone())
        })
        .await
        .expect("the conversation's socket was closed");
    assert_eq!(ended.conversation_id, started.conversation_id);
    assert_eq!(ended.client_close_code, Some(1000), "{ended:?}");
    assert_eq!(app.engine.bridges.early.waiting(), 0);
    app.stop().await;
}

#[tokio::test]
async fn a_handshake_for_another_call_than_its_start_names_is_refused() {
    let app = app_with(15).await;
    let first = stored_call(&app, "CA0123456789abcdef0123456789abcdea").await;
    stream_token(&app, first).await;
    let other = stored_call(&app, "CA0123456789abcdef0123456789abce06").await;
    let token = stream_token(&app, other).await;
    let mut ws = open_call_stream(&app, first, true).await;
    send_start(&mut ws, other, &token).await;
    let close = loop {
        match tokio::time::timeout(WAIT, futures::StreamExt::next(&mut ws)).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    };
    assert_eq!(close.map(|f| u16::from(f.code)), Some(1008));
    // The conversation the handshake started is closed with it.
    let agent = &app.sandbox().elevenlabs.sim;
    let closed = agent
        .wait_for(WAIT, |conversations| {
            conversations.iter().all(|c| !c.socket_open).then_some(())
        })
        .await;
    assert!(closed.is_some(), "{:?}", agent.conversations());
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
