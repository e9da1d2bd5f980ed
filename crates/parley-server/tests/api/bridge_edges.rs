//! The bridge at the edges of the protocols: close handshakes and their codes (RFC 6455),
//! corrections of interrupted replies, caller audio before the agent's formats are known,
//! and dynamic variables the agent can take. Checked against the simulators, which
//! record what crossed the wire.
use crate::calls_e2e::{place, wait_for};
use crate::calls_failures::{open_stream, stored_call, stream_token};
use crate::harness::{error_code, Db, TestApp};
use crate::metrics::scraped;
use futures::{SinkExt, StreamExt};
use parley_domain::call::TurnRole;
use parley_engine::events::LiveEvent;
use parley_sim::elevenlabs::{ElevenLabsSim, RunningElevenLabsSim, SimConversation};
use parley_sim::twilio::{RunningTwilioSim, SimCall, TwilioSim};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(30);

/// A sandbox app at real-time speed (the agent's greeting lasts long enough to talk over
/// it, or to stop the node during it).
async fn real_time() -> TestApp {
    TestApp::start_on(Db::Sqlite, |s| {
        s.sandbox.speed = 1.0;
        s.calls.post_call_wait_secs = 30;
    })
    .await
}

/// The agent conversation once the client's close code is on record.
async fn closed_conversation(agent: &ElevenLabsSim) -> SimConversation {
    agent
        .wait_for(WAIT, |convs| {
            convs
                .iter()
                .find(|c| c.client_close_code.is_some())
                .cloned()
        })
        .await
        .unwrap_or_else(|| panic!("no close on record: {:?}", agent.conversations()))
}

fn twilio_call(twilio: &TwilioSim, sid: Option<&str>) -> SimCall {
    twilio
        .calls()
        .into_iter()
        .find(|c| Some(c.sid.as_str()) == sid)
        .expect("the call is known to the Twilio simulator")
}

#[tokio::test]
async fn the_agent_ending_the_call_is_answered_and_twilio_hears_a_normal_close() {
    let app = crate::calls_e2e::sandbox().await;
    let mut events = app.engine.events.subscribe();
    let id = place(&app, json!({"to": "+15550100001"})).await;
    wait_for(&mut events, id, |e| {
        matches!(e, LiveEvent::CallEnded { .. })
    })
    .await;
    let conversation = closed_conversation(&app.sandbox().elevenlabs.sim).await;
    assert_eq!(
        conversation.client_close_code,
        Some(1000),
        "Parley answered the agent's close 1000 (not a dropped connection, 1006)"
    );
    let (_, call) = app
        .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
        .await;
    assert_eq!(call["termination_source"], "agent", "{call}");
    let sid = call["twilio_call_sid"].as_str();
    assert_eq!(
        twilio_call(&app.sandbox().twilio.sim, sid).stream_close_code,
        Some(1000),
        "the media stream was closed with 1000, not without a code (1005)"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_caller_hanging_up_closes_the_agent_with_1000_and_answers_twilio() {
    let app = real_time().await;
    let mut events = app.engine.events.subscribe();
    // The `hangs-up` callee hangs up 3 s after answering, during the agent's greeting.
    let id = place(&app, json!({"to": "+15550100005"})).await;
    wait_for(&mut events, id, |e| {
        matches!(e, LiveEvent::CallEnded { .. })
    })
    .await;
    let conversation = closed_conversation(&app.sandbox().elevenlabs.sim).await;
    assert_eq!(
        conversation.client_close_code,
        Some(1000),
        "{conversation:?}"
    );
    let (_, call) = app
        .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
        .await;
    // Twilio's own close frame carries no code; Parley's answer echoes it (RFC 6455
    // 5.5.1). What matters is that it was answered: 1006 would mean it was not.
    assert_eq!(
        twilio_call(&app.sandbox().twilio.sim, call["twilio_call_sid"].as_str()).stream_close_code,
        Some(1005),
        "{call}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_node_shutting_down_closes_its_live_calls_with_1001_on_both_sides() {
    let app = real_time().await;
    let (twilio, agent) = (
        app.sandbox().twilio.sim.clone(),
        app.sandbox().elevenlabs.sim.clone(),
    );
    let mut events = app.engine.events.subscribe();
    let id = place(&app, json!({"to": "+15550100001"})).await;
    // The greeting is on record: the call is bridged.
    wait_for(&mut events, id, |e| {
        matches!(
            e,
            LiveEvent::Transcript {
                role: TurnRole::Agent,
                ..
            }
        )
    })
    .await;
    assert_eq!(app.engine.bridges.live(), 1);
    let store = app.store.clone();
    let sid = store.get_call(id).await.unwrap().twilio_call_sid;
    app.stop().await;
    let conversation = closed_conversation(&agent).await;
    assert_eq!(
        conversation.client_close_code,
        Some(1001),
        "{conversation:?}"
    );
    assert_eq!(
        twilio_call(&twilio, sid.as_deref()).stream_close_code,
        Some(1001)
    );
}

#[tokio::test]
async fn an_agent_failing_closes_the_stream_with_1011() {
    let app = crate::calls_e2e::sandbox().await;
    let mut events = app.engine.events.subscribe();
    for agent in ["agent_drops", "agent_signed_url_fails"] {
        let id = place(&app, json!({"to": "+15550100001", "agent_id": agent})).await;
        wait_for(&mut events, id, |e| {
            matches!(e, LiveEvent::CallEnded { .. })
        })
        .await;
        let (_, call) = app
            .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
            .await;
        assert_eq!(call["termination_source"], "system", "{call}");
        assert_eq!(
            twilio_call(&app.sandbox().twilio.sim, call["twilio_call_sid"].as_str())
                .stream_close_code,
            Some(1011),
            "{agent}: {call}"
        );
    }
    app.stop().await;
}

/// The close frame a refused stream gets.
async fn refusal(
    mut ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> (u16, String) {
    let answer = tokio::time::timeout(WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => {}
                other => panic!("no close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("the stream is answered");
    let frame = answer.expect("the close frame carries a code");
    (frame.code.into(), frame.reason.to_string())
}

#[tokio::test]
async fn refused_streams_are_closed_with_1008_and_a_reason() {
    let app = TestApp::start().await;
    let call_id = stored_call(&app, "CA0123456789abcdef0123456789abcdea").await;
    let token = stream_token(&app, call_id).await;
    let refused = r#"parley_bridge_streams_unbridged_total{reason="unauthenticated"}"#;
    let before = scraped(&app, refused).await;
    let (code, reason) = refusal(open_stream(&app, call_id, "not-the-token").await).await;
    assert_eq!(code, 1008, "bad credentials: {reason}");
    assert!(reason.contains("credentials"), "{reason}");
    let (code, _) = refusal(open_stream(&app, call_id + 1000, &token).await).await;
    assert_eq!(code, 1008, "an unknown call");
    // Other tests share the process's recorder: at least these two count.
    assert!(
        scraped(&app, refused).await >= before + 2.0,
        "both refusals are counted"
    );
    app.stop().await;
}

/// Twilio frames of the `converses` callee's voice: the agent hears speech.
fn caller_speech(frames: usize) -> Vec<Message> {
    use base64::Engine as _;
    let voice = parley_sim::voice::tone_mulaw(parley_sim::personas::CONVERSES.voice_hz, 20);
    (0..frames)
        .map(|i| {
            let payload = base64::engine::general_purpose::STANDARD.encode(&voice);
            Message::text(
                json!({"event": "media", "sequenceNumber": (i + 3).to_string(),
                       "streamSid": "MZ0123456789abcdef0123456789abcdef",
                       "media": {"track": "inbound", "chunk": (i + 1).to_string(),
                                 "timestamp": (i * 20).to_string(), "payload": payload}})
                .to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_correction_replaces_the_interrupted_turn_in_the_record_and_live() {
    let app = real_time().await;
    let mut events = app.engine.events.subscribe();
    let call_id = stored_call(&app, "CA0123456789abcdef0123456789abcdea").await;
    let token = stream_token(&app, call_id).await;
    let mut ws = open_stream(&app, call_id, &token).await;
    let greeting = wait_for(&mut events, call_id, |e| {
        matches!(
            e,
            LiveEvent::Transcript {
                role: TurnRole::Agent,
                ..
            }
        )
    })
    .await;
    let LiveEvent::Transcript { text: said, .. } = greeting else {
        unreachable!("matched above")
    };
    // The caller talks over the greeting: the agent stops and corrects its reply.
    for frame in caller_speech(15) {
        ws.send(frame).await.unwrap();
    }
    let corrected = wait_for(&mut events, call_id, |e| {
        matches!(e, LiveEvent::TranscriptCorrected { .. })
    })
    .await;
    let LiveEvent::TranscriptCorrected {
        role,
        original_text,
        text: heard,
        ..
    } = corrected
    else {
        unreachable!("matched above")
    };
    assert_eq!(
        (role, original_text.as_str()),
        (TurnRole::Agent, said.as_str())
    );
    assert_ne!(heard, said, "the caller cut in before the end");
    let agent_turns: Vec<String> = app
        .store
        .transcript(call_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.role == TurnRole::Agent)
        .map(|t| t.text)
        .collect();
    assert_eq!(
        agent_turns,
        vec![heard],
        "the corrected text replaced the reply, no second turn"
    );
    drop(ws);
    app.stop().await;
}

/// Parley wired to its own simulators, whose agent asks for `pcm_16000` both ways.
async fn pcm_app(metadata_delay: Duration) -> (TestApp, RunningTwilioSim, RunningElevenLabsSim) {
    use parley_engine::telephony::sandbox_credentials as creds;
    use parley_sim::elevenlabs::ElevenLabsSimConfig;
    use parley_sim::twilio::TwilioSimConfig;
    let loopback: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let twilio = TwilioSim::spawn(TwilioSimConfig::default(), loopback)
        .await
        .unwrap();
    let agent = ElevenLabsSim::spawn(
        ElevenLabsSimConfig {
            agent_output_format: "pcm_16000".into(),
            user_input_format: "pcm_16000".into(),
            metadata_delay,
            ..ElevenLabsSimConfig::default()
        },
        loopback,
    )
    .await
    .unwrap();
    let (twilio_url, agent_url) = (twilio.base_url.clone(), agent.base_url.clone());
    let app = TestApp::start_on(Db::Sqlite, move |s| {
        s.twilio.account_sid = Some(creds::TWILIO_ACCOUNT_SID.into());
        s.twilio.auth_token = Some(creds::TWILIO_AUTH_TOKEN.into());
        s.twilio.api_base_url = twilio_url.parse().unwrap();
        s.twilio.caller_id = Some("+15005550006".into());
        s.elevenlabs.api_key = Some(creds::ELEVENLABS_API_KEY.into());
        s.elevenlabs.api_base_url = agent_url.parse().unwrap();
        s.elevenlabs.agent_id = Some("agent-pcm".into());
    })
    .await;
    (app, twilio, agent)
}

/// Sends `FRAMES` frames of caller speech once `ready` says so, and returns the formats
/// the agent received them in.
async fn caller_audio_formats(
    metadata_delay: Duration,
    before_the_agent_connects: bool,
) -> Vec<(String, u64)> {
    const FRAMES: usize = 20;
    let (app, twilio, agent) = pcm_app(metadata_delay).await;
    let call_id = stored_call(&app, "CA0123456789abcdef0123456789abcdea").await;
    let token = stream_token(&app, call_id).await;
    let mut ws = open_stream(&app, call_id, &token).await;
    if !before_the_agent_connects {
        // The agent has the initiation data; its metadata is still to come.
        let opened = agent.sim.wait_for(WAIT, |convs| convs.first().map(|_| ()));
        opened.await.expect("the agent conversation opened");
    }
    for frame in caller_speech(FRAMES) {
        ws.send(frame).await.unwrap();
    }
    let formats = agent
        .sim
        .wait_for(WAIT, |convs| {
            let formats = &convs.first()?.audio_chunk_formats;
            (formats.values().sum::<u64>() >= FRAMES as u64).then(|| formats.clone())
        })
        .await
        .unwrap_or_else(|| panic!("not every frame arrived: {:?}", agent.sim.conversations()));
    assert_eq!(app.engine.bridges.held_frames_dropped(), 0);
    drop(ws);
    app.stop().await;
    twilio.stop().await;
    agent.stop().await;
    formats.into_iter().collect()
}

#[tokio::test]
async fn caller_audio_before_the_agent_names_its_format_reaches_it_in_that_format() {
    let all_pcm = vec![("pcm_16000".to_string(), 20)];
    assert_eq!(
        caller_audio_formats(Duration::from_millis(300), false).await,
        all_pcm,
        "sent between the agent's answer and its metadata: held, then transcoded"
    );
    assert_eq!(
        caller_audio_formats(Duration::ZERO, true).await,
        all_pcm,
        "sent while the agent was being reached: held too, not lost"
    );
}

#[tokio::test]
async fn dynamic_variables_leave_nulls_out_and_refuse_lists_and_objects() {
    let app = crate::calls_e2e::sandbox().await;
    for (name, value) in [
        ("tags", json!(["a", "b"])),
        ("address", json!({"city": "Oslo"})),
    ] {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/v1/calls",
                Some(json!({"to": "+15550100001", "dynamic_variables": {"name": "Ann", name: value}})),
            )
            .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(error_code(&body), "validation_failed");
        assert!(
            body.to_string()
                .contains(&format!("dynamic_variables.{name}")),
            "the variable is named: {body}"
        );
    }
    assert!(
        app.sandbox().twilio.sim.calls().is_empty(),
        "nothing was placed"
    );

    let mut events = app.engine.events.subscribe();
    let id = place(
        &app,
        json!({"to": "+15550100001",
               "dynamic_variables": {"name": "Ann", "nothing": null, "visits": 3, "vip": true}}),
    )
    .await;
    wait_for(&mut events, id, |e| {
        matches!(e, LiveEvent::CallEnded { .. })
    })
    .await;
    let sent = app.sandbox().elevenlabs.sim.conversations().pop().unwrap();
    let vars = &sent.initiation.dynamic_variables;
    use parley_elevenlabs::ws::DynamicValue;
    assert!(!vars.contains_key("nothing"), "null is left out: {vars:?}");
    assert_eq!(vars.get("visits"), Some(&DynamicValue::Integer(3)));
    assert_eq!(vars.get("vip"), Some(&DynamicValue::Bool(true)));
    assert_eq!(vars.get("name"), Some(&DynamicValue::from("Ann")));

    // Campaigns map variables to contact fields: a list or object there is named too.
    let settings = json!({"dynamic_variables": {"first": "first_name", "bad": ["x"]}});
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "Spring", "settings": settings})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.to_string().contains("settings.dynamic_variables.bad"),
        "{body}"
    );
    let (status, campaign) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "Spring", "settings": {"dynamic_variables": {"first": "first_name"}}})),
        )
        .await;
    assert_eq!(status, 201, "{campaign}");
    let path = format!("/api/v1/campaigns/{}", campaign["id"]);
    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"settings": {"dynamic_variables": {"first": {"field": "first_name"}}}})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.to_string()
            .contains("settings.dynamic_variables.first"),
        "{body}"
    );
    let (_, unchanged) = app.call(Method::GET, &path, None).await;
    assert_eq!(
        unchanged["settings"]["dynamic_variables"],
        json!({"first": "first_name"})
    );
    app.stop().await;
}
