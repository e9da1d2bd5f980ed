//! What happens when things go wrong around a call.
use crate::calls_e2e::{place, sandbox, user_lines, wait_for};
use parley_engine::events::LiveEvent;
use parley_engine::telephony::sandbox_credentials::{ELEVENLABS_WEBHOOK_SECRET, TWILIO_AUTH_TOKEN};
use parley_store::NewCall;
use reqwest::Method;
use serde_json::json;

/// A queued call (of `campaign_id`, if given) placed by nobody: for driving webhooks
/// and streams by hand.
pub async fn unplaced_call(app: &crate::harness::TestApp, campaign_id: Option<i64>) -> i64 {
    app.store
        .create_call(&NewCall {
            campaign_id,
            attempt: 1,
            to: "+15550100001".into(),
            from: "+15005550006".into(),
            agent_id: Some("sandbox-agent".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .id
}

/// Posts `body` to the ElevenLabs webhook, signed now with the sandbox secret; returns
/// the status.
pub async fn elevenlabs_webhook(app: &crate::harness::TestApp, body: String) -> u16 {
    let now = chrono::Utc::now().timestamp();
    app.http
        .post(app.url("/elevenlabs/webhook"))
        .header(
            "ElevenLabs-Signature",
            parley_elevenlabs::webhook::sign(ELEVENLABS_WEBHOOK_SECRET, now, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A call known to Parley with a Twilio SID, but placed by nobody.
pub async fn stored_call(app: &crate::harness::TestApp, sid: &str) -> i64 {
    let call = unplaced_call(app, None).await;
    app.store.set_call_sid(call, sid).await.unwrap();
    call
}

#[tokio::test]
async fn the_agent_dropping_mid_call_ends_the_call_with_a_reason() {
    let app = sandbox().await;
    let mut events = app.engine.events.subscribe();
    let id = place(
        &app,
        json!({"to": "+15550100001", "agent_id": "agent_drops"}),
    )
    .await;
    wait_for(&mut events, id, |e| {
        matches!(e, LiveEvent::CallEnded { .. })
    })
    .await;
    let (_, call) = app
        .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
        .await;
    assert_eq!(call["status"], "completed", "{call}");
    assert_eq!(call["termination_source"], "system");
    let reason = call["error_message"].as_str().unwrap();
    assert!(reason.contains("agent connection lost"), "{reason}");
    let sims = app.sandbox();
    let twilio_call = sims
        .twilio
        .sim
        .calls()
        .into_iter()
        .find(|c| Some(c.sid.as_str()) == call["twilio_call_sid"].as_str())
        .unwrap();
    assert!(twilio_call.ended.is_some(), "the phone call was hung up");
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_agent_hangs_the_call_up_with_a_reason() {
    let app = sandbox().await;
    let mut events = app.engine.events.subscribe();
    let id = place(
        &app,
        json!({"to": "+15550100001", "agent_id": "agent_signed_url_fails"}),
    )
    .await;
    wait_for(&mut events, id, |e| {
        matches!(e, LiveEvent::CallEnded { .. })
    })
    .await;
    let (_, call) = app
        .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
        .await;
    assert_eq!(call["termination_source"], "system", "{call}");
    assert!(
        call["error_message"]
            .as_str()
            .unwrap()
            .contains("agent unreachable"),
        "{call}"
    );
    assert!(
        app.sandbox().elevenlabs.sim.conversations().is_empty(),
        "no agent session was opened"
    );
    app.stop().await;
}

/// Posts a status callback signed as Twilio would (or with a forged signature).
pub async fn status_callback(
    app: &crate::harness::TestApp,
    call_id: i64,
    sid: &str,
    status: &str,
    seq: u32,
    forged: bool,
) -> u16 {
    let path = format!("/twilio/status/{call_id}");
    let params: Vec<(String, String)> = [
        (
            "AccountSid",
            parley_engine::telephony::sandbox_credentials::TWILIO_ACCOUNT_SID,
        ),
        ("CallSid", sid),
        ("CallStatus", status),
        ("SequenceNumber", &seq.to_string()),
        ("CallDuration", "12"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let key = if forged {
        "not-the-token"
    } else {
        TWILIO_AUTH_TOKEN
    };
    twilio_post(app, &path, &params, key).await
}

/// Posts `params` to `path` as Twilio would, signed with `key`; returns the status.
pub async fn twilio_post(
    app: &crate::harness::TestApp,
    path: &str,
    params: &[(String, String)],
    key: &str,
) -> u16 {
    let sig = parley_twilio::signature::sign(key, &app.url(path), params);
    app.http
        .post(app.url(path))
        .header("x-twilio-signature", sig)
        .form(params)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn status_callbacks_are_idempotent_and_never_move_a_call_backwards() {
    let app = sandbox().await;
    let sid = "CA0123456789abcdef0123456789abcdef";
    let call_id = stored_call(&app, sid).await;
    for (status, seq) in [
        ("in-progress", 2),
        ("ringing", 1),
        ("completed", 3),
        ("completed", 3),
        ("in-progress", 2),
    ] {
        assert_eq!(
            status_callback(&app, call_id, sid, status, seq, false).await,
            204,
            "{status}"
        );
    }
    let (_, got) = app
        .call(Method::GET, &format!("/api/v1/calls/{}", call_id), None)
        .await;
    assert_eq!(got["status"], "completed");
    assert_eq!(got["duration_seconds"], 12);
    assert_eq!(got["termination_source"], "callee");
    let statuses: Vec<&str> = got["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "status")
        .map(|e| e["data"]["CallStatus"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        vec!["in-progress", "ringing", "completed"],
        "duplicates are stored once"
    );
    app.stop().await;
}

#[tokio::test]
async fn forged_webhooks_get_403_and_store_nothing() {
    let app = sandbox().await;
    let sid = "CA0123456789abcdef0123456789abcdee";
    let call_id = stored_call(&app, sid).await;
    assert_eq!(
        status_callback(&app, call_id, sid, "completed", 3, true).await,
        403
    );
    let unsigned = app
        .http
        .post(app.url(&format!("/twilio/status/{}", call_id)))
        .form(&[("CallSid", sid)])
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
    let twiml = app
        .http
        .post(app.url(&format!("/twilio/twiml/{}", call_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        twiml.status(),
        403,
        "TwiML (and its stream token) only for Twilio"
    );
    assert!(app.store.call_events(call_id).await.unwrap().is_empty());
    assert_eq!(
        app.store.get_call(call_id).await.unwrap().status.as_str(),
        "queued"
    );

    app.store
        .set_conversation_id(call_id, "conv_forged")
        .await
        .unwrap();
    let body = json!({"type": "post_call_transcription", "event_timestamp": 1, "data": {
        "agent_id": "a", "conversation_id": "conv_forged", "status": "done", "transcript": [],
        "metadata": {}, "analysis": {"call_successful": "success"}}})
    .to_string();
    let now = chrono::Utc::now().timestamp();
    for header in [
        format!("t={now},v0={}", "0".repeat(64)),
        parley_elevenlabs::webhook::sign("wrong-secret", now, body.as_bytes()),
        parley_elevenlabs::webhook::sign(
            ELEVENLABS_WEBHOOK_SECRET,
            now - 3 * 3600,
            body.as_bytes(),
        ),
        // Replays: signed over 5 minutes ago, or ahead of our clock by more than skew.
        parley_elevenlabs::webhook::sign(ELEVENLABS_WEBHOOK_SECRET, now - 6 * 60, body.as_bytes()),
        parley_elevenlabs::webhook::sign(ELEVENLABS_WEBHOOK_SECRET, now + 120, body.as_bytes()),
    ] {
        let resp = app
            .http
            .post(app.url("/elevenlabs/webhook"))
            .header("ElevenLabs-Signature", header)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
    }
    assert!(
        app.store
            .get_call(call_id)
            .await
            .unwrap()
            .analysis
            .is_none(),
        "nothing stored"
    );
    assert_eq!(
        elevenlabs_webhook(&app, body).await,
        204,
        "a correctly signed webhook is accepted"
    );
    assert!(app
        .store
        .get_call(call_id)
        .await
        .unwrap()
        .analysis
        .is_some());
    app.stop().await;
}

#[tokio::test]
async fn one_off_calls_check_their_input_and_the_do_not_call_list() {
    let app = sandbox().await;
    let (status, body) = app
        .call(Method::POST, "/api/v1/calls", Some(json!({})))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/calls",
            Some(json!({"to": "+15550100001", "contact_id": 1})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/calls",
            Some(json!({"contact_id": 4242})),
        )
        .await;
    assert_eq!(status, 404);
    app.call(
        Method::POST,
        "/api/v1/dnc",
        Some(json!({"phone": "+15550100001"})),
    )
    .await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/calls",
            Some(json!({"to": "+15550100001"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    let viewer = app
        .req(Method::POST, "/api/v1/calls", &app.viewer_key)
        .json(&json!({"to": "+15550100002"}))
        .send()
        .await
        .unwrap();
    assert_eq!(viewer.status(), 403);
    let (_, calls) = app.call(Method::GET, "/api/v1/calls", None).await;
    assert!(
        calls["items"].as_array().unwrap().is_empty(),
        "no call was placed"
    );
    app.stop().await;
}

/// Fetches TwiML as Twilio would and returns the one-time stream token in it.
pub async fn stream_token(app: &crate::harness::TestApp, call_id: i64) -> String {
    let xml = twiml(app, call_id).await;
    let marker = r#"name="token" value=""#;
    let start = xml
        .find(marker)
        .unwrap_or_else(|| panic!("no token in {xml}"))
        + marker.len();
    xml[start..start + xml[start..].find('"').unwrap()].to_string()
}

/// Fetches a call's TwiML as Twilio would.
pub async fn twiml(app: &crate::harness::TestApp, call_id: i64) -> String {
    let path = format!("/twilio/twiml/{call_id}");
    let params: Vec<(String, String)> = vec![(
        "CallSid".into(),
        "CA0123456789abcdef0123456789abcdea".into(),
    )];
    let sig = parley_twilio::signature::sign(TWILIO_AUTH_TOKEN, &app.url(&path), &params);
    app.http
        .post(app.url(&path))
        .header("x-twilio-signature", sig)
        .form(&params)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Opens a media stream as Twilio does and sends `connected` and `start`.
pub async fn open_stream(
    app: &crate::harness::TestApp,
    call_id: i64,
    token: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use futures::SinkExt;
    let url = app.url("/twilio/media").replacen("http", "ws", 1);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    for msg in start_messages(call_id, token) {
        ws.send(tokio_tungstenite::tungstenite::Message::text(
            msg.to_string(),
        ))
        .await
        .unwrap();
    }
    ws
}

/// `connected` and `start`, with the call's id and one-time token, as Twilio sends them.
pub fn start_messages(call_id: i64, token: &str) -> [serde_json::Value; 2] {
    let connected = json!({"event": "connected", "protocol": "Call", "version": "1.0.0"});
    let start = json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZ0123456789abcdef0123456789abcdef",
        "start": {"accountSid": "AC00000000000000000000000000000000", "streamSid": "MZ0123456789abcdef0123456789abcdef",
                  "callSid": "CA0123456789abcdef0123456789abcdea", "tracks": ["inbound"],
                  "customParameters": {"call_id": call_id.to_string(), "token": token},
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}});
    [connected, start]
}

#[tokio::test]
async fn a_stream_dropping_during_agent_setup_leaves_no_agent_session() {
    let app = sandbox().await;
    let mut events = app.engine.events.subscribe();
    let call_id = stored_call(&app, "CA0123456789abcdef0123456789abcdea").await;
    let token = stream_token(&app, call_id).await;
    let ws = open_stream(&app, call_id, &token).await;
    drop(ws); // the caller's side vanishes while Parley is reaching the agent
    wait_for(&mut events, call_id, |e| {
        matches!(e, LiveEvent::StreamEnded { .. })
    })
    .await;
    let closed = app
        .sandbox()
        .elevenlabs
        .sim
        .wait_for(std::time::Duration::from_secs(10), |convs| {
            convs.iter().all(|c| !c.socket_open).then_some(())
        })
        .await;
    assert!(
        closed.is_some(),
        "an agent session outlived its call: {:?}",
        app.sandbox().elevenlabs.sim.conversations()
    );
    assert_eq!(
        app.store
            .get_call(call_id)
            .await
            .unwrap()
            .termination_source
            .map(|t| t.as_str()),
        Some("callee")
    );

    // The token was used up: replaying it opens nothing.
    let conversations_before = app.sandbox().elevenlabs.sim.conversations().len();
    let mut replay = open_stream(&app, call_id, &token).await;
    use futures::StreamExt;
    let answer = tokio::time::timeout(std::time::Duration::from_secs(10), replay.next())
        .await
        .expect("the replay is answered");
    assert!(
        matches!(
            answer,
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) | None | Some(Err(_))
        ),
        "{answer:?}"
    );
    assert_eq!(
        app.sandbox().elevenlabs.sim.conversations().len(),
        conversations_before
    );
    app.stop().await;
}

#[tokio::test]
async fn pcm_agents_are_transcoded_and_a_missing_webhook_is_fetched_instead() {
    use parley_engine::telephony::sandbox_credentials as creds;
    use parley_sim::elevenlabs::{ElevenLabsSim, ElevenLabsSimConfig};
    use parley_sim::twilio::{TwilioSim, TwilioSimConfig};
    let loopback: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let twilio = TwilioSim::spawn(
        TwilioSimConfig {
            speed: 5.0,
            ..TwilioSimConfig::default()
        },
        loopback,
    )
    .await
    .unwrap();
    let agent = ElevenLabsSim::spawn(
        ElevenLabsSimConfig {
            webhook_url: None, // never sends one: Parley must fetch the conversation
            agent_output_format: "pcm_16000".into(),
            user_input_format: "pcm_16000".into(),
            ..ElevenLabsSimConfig::default()
        }
        .with_speed(5.0),
        loopback,
    )
    .await
    .unwrap();
    let (twilio_url, agent_url) = (twilio.base_url.clone(), agent.base_url.clone());
    let app = crate::harness::TestApp::start_on(crate::harness::Db::Sqlite, move |s| {
        s.twilio.account_sid = Some(creds::TWILIO_ACCOUNT_SID.into());
        s.twilio.auth_token = Some(creds::TWILIO_AUTH_TOKEN.into());
        s.twilio.api_base_url = twilio_url.parse().unwrap();
        s.twilio.caller_id = Some("+15005550006".into());
        s.elevenlabs.api_key = Some(creds::ELEVENLABS_API_KEY.into());
        s.elevenlabs.api_base_url = agent_url.parse().unwrap();
        s.elevenlabs.agent_id = Some("agent-pcm".into());
        s.calls.post_call_wait_secs = 1;
    })
    .await;
    let (_, status) = app.call(Method::GET, "/api/v1/status", None).await;
    assert_eq!(status["mode"], "production");
    let mut events = app.engine.events.subscribe();
    let id = place(&app, json!({"to": "+15550100001"})).await;
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
    assert_eq!(
        user_lines(&call),
        parley_sim::personas::CONVERSES.lines.to_vec(),
        "the callee was understood through 8k<->16k transcoding"
    );
    assert_eq!(call["analysis"]["call_successful"], "success");
    assert_eq!(call["termination_source"], "agent");
    let conversation = agent.sim.conversations().pop().unwrap();
    assert!(
        conversation.pings_sent > 0 && conversation.pongs_missed == 0,
        "every ping answered: {} sent, {} missed",
        conversation.pings_sent,
        conversation.pongs_missed
    );
    app.stop().await;
    twilio.stop().await;
    agent.stop().await;
}
