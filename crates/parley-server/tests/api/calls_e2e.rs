//! Calls end to end in sandbox mode: Parley's real clients and bridge against the
//! Twilio and ElevenLabs simulators, over real HTTP and WebSockets.
use crate::harness::{Db, TestApp};
use parley_engine::events::LiveEvent;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::broadcast::Receiver;

pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn sandbox() -> TestApp {
    TestApp::start_on(Db::Sqlite, |s| {
        s.sandbox.speed = 5.0;
        s.calls.post_call_wait_secs = 30;
        s.dialer.account_calls_per_second = 10.0;
    })
    .await
}

/// The callee's lines in a call's transcript.
pub fn user_lines(call: &Value) -> Vec<&str> {
    call["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["role"] == "user")
        .map(|t| t["text"].as_str().unwrap())
        .collect()
}

/// Waits for an event about `call_id` that `pick` accepts; fails after the timeout.
pub async fn wait_for(
    rx: &mut Receiver<LiveEvent>,
    call_id: i64,
    pick: impl Fn(&LiveEvent) -> bool,
) -> LiveEvent {
    tokio::time::timeout(CALL_TIMEOUT, async {
        loop {
            match rx.recv().await {
                Ok(e) if e.call_id() == Some(call_id) && pick(&e) => return e,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event bus closed: {e}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("call {call_id}: no matching event within {CALL_TIMEOUT:?}"))
}

pub async fn place(app: &TestApp, body: Value) -> i64 {
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
    assert_eq!(
        user_lines(&call),
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

    // A download lost (the process stopped after Twilio's callback, before the file was
    // written) is fetched again.
    let stored = lose_recording_file(&app, id).await;
    let now = parley_domain::time::now_millis();
    assert_eq!(
        app.engine.fetch_missing_recordings(now + 1).await.unwrap(),
        1
    );
    let again = app
        .req(Method::GET, url, &app.viewer_key)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.bytes().await.unwrap(), bytes, "the same recording");
    assert_eq!(
        app.engine.fetch_missing_recordings(now + 1).await.unwrap(),
        0
    );
    assert!(std::path::Path::new(&stored).exists());

    // A node that does not have the file (another node stored it) fetches it from
    // Twilio when asked.
    std::fs::remove_file(&stored).unwrap();
    let elsewhere = app
        .req(Method::GET, url, &app.viewer_key)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 200);
    assert_eq!(
        elsewhere.bytes().await.unwrap(),
        bytes,
        "the same recording"
    );

    // The sweep of local files keeps the files of recordings still kept.
    let swept = app
        .engine
        .delete_local_recordings_before(std::time::SystemTime::UNIX_EPOCH)
        .await;
    assert_eq!(swept.unwrap(), 0);

    // Past the retention period the file goes, and the call says so.
    let tomorrow = parley_domain::time::now_millis() + 86_400_000;
    assert_eq!(
        app.engine.delete_recordings_before(tomorrow).await.unwrap(),
        1
    );
    let gone = app
        .req(Method::GET, url, &app.viewer_key)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    let (_, call) = app
        .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
        .await;
    assert!(call["recording"].is_null());
    assert_eq!(call["recordings"][0]["status"], "deleted");
    let files = std::fs::read_dir(app.engine.recordings_dir())
        .unwrap()
        .count();
    assert_eq!(files, 0, "the WAV file was removed");
    // A copy fetched by a node whose recording is since deleted goes, however new it is.
    let copy = std::path::PathBuf::from(&stored);
    std::fs::write(&copy, b"RIFF").unwrap();
    let long_ago = std::time::SystemTime::UNIX_EPOCH;
    let swept = app.engine.delete_local_recordings_before(long_ago).await;
    assert_eq!(swept.unwrap(), 1);
    assert!(!copy.exists());
    app.stop().await;
}

#[tokio::test]
async fn a_call_that_reaches_its_time_limit_ends_as_a_timeout() {
    let app = sandbox().await;
    let mut events = app.engine.events.subscribe();
    let id = place(
        &app,
        json!({"to": "+15550100001", "max_duration_seconds": 10}),
    )
    .await;
    wait_for(&mut events, id, |e| {
        matches!(e, LiveEvent::CallEnded { .. })
    })
    .await;
    let (_, call) = app
        .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
        .await;
    // The scripted conversation lasts about 15 simulated seconds: the 10 s limit cuts it off.
    assert_eq!(call["termination_source"], "timeout", "{call}");
    app.stop().await;
}

/// What each simulated callee's call must end as.
struct Expect {
    number: &'static str,
    status: &'static str,
    outcome: &'static str,
    termination: &'static str,
    talks: bool,
    /// Whether the agent's analysis arrives; `None` where timing decides (a machine may
    /// answer before or after the agent joined).
    analysed: Option<bool>,
}

const PERSONAS: [Expect; 8] = [
    Expect {
        number: "+15550100002",
        status: "completed",
        outcome: "voicemail",
        termination: "amd",
        talks: false,
        analysed: None,
    },
    Expect {
        number: "+15550100003",
        status: "no-answer",
        outcome: "no_answer",
        termination: "carrier",
        talks: false,
        analysed: Some(false),
    },
    Expect {
        number: "+15550100004",
        status: "busy",
        outcome: "busy",
        termination: "carrier",
        talks: false,
        analysed: Some(false),
    },
    Expect {
        number: "+15550100005",
        status: "completed",
        outcome: "short_call",
        termination: "callee",
        talks: false,
        analysed: None,
    },
    Expect {
        number: "+15550100006",
        status: "completed",
        outcome: "conversation",
        termination: "agent",
        talks: true,
        analysed: Some(true),
    },
    Expect {
        number: "+15550100007",
        status: "completed",
        outcome: "opted_out",
        termination: "agent",
        talks: true,
        analysed: Some(true),
    },
    Expect {
        number: "+15550100008",
        status: "failed",
        outcome: "failed",
        termination: "carrier",
        talks: false,
        analysed: Some(false),
    },
    Expect {
        number: "+15550100009",
        status: "failed",
        outcome: "failed",
        termination: "carrier",
        talks: false,
        analysed: Some(false),
    },
];

#[tokio::test]
async fn every_persona_ends_in_its_own_final_state() {
    let app = sandbox().await;
    let mut events = app.engine.events.subscribe();
    let mut placed = Vec::new();
    for p in &PERSONAS {
        placed.push((place(&app, json!({"to": p.number})).await, p));
    }
    // Collect every event until each call has ended (and been analysed, where it talked).
    let mut seen: std::collections::HashMap<i64, Vec<LiveEvent>> = Default::default();
    let done = |seen: &std::collections::HashMap<i64, Vec<LiveEvent>>| {
        placed.iter().all(|(id, p)| {
            let evs = seen.get(id).map(Vec::as_slice).unwrap_or_default();
            let ended = evs.iter().any(|e| matches!(e, LiveEvent::CallEnded { .. }));
            let analysed = p.analysed != Some(true)
                || evs
                    .iter()
                    .any(|e| matches!(e, LiveEvent::CallAnalyzed { .. }));
            ended && analysed
        })
    };
    tokio::time::timeout(CALL_TIMEOUT, async {
        while !done(&seen) {
            if let Ok(e) = events.recv().await {
                if let Some(id) = e.call_id() {
                    seen.entry(id).or_default().push(e);
                }
            }
        }
    })
    .await
    .expect("every persona's call ends within the timeout");

    for (id, p) in &placed {
        let (_, call) = app
            .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
            .await;
        let who = p.number;
        assert_eq!(call["status"], p.status, "{who}: {call}");
        assert_eq!(call["outcome"], p.outcome, "{who}: {call}");
        assert_eq!(call["termination_source"], p.termination, "{who}: {call}");
        assert_eq!(
            !user_lines(&call).is_empty(),
            p.talks,
            "{who} transcript: {}",
            call["transcript"]
        );
        if let Some(analysed) = p.analysed {
            assert_eq!(
                call["analysis"].is_object(),
                analysed,
                "{who}: {}",
                call["analysis"]
            );
        }
        // Live events come in lifecycle order: started first, ended after every update.
        let evs = &seen[id];
        assert!(
            matches!(evs.first(), Some(LiveEvent::CallStarted { .. })),
            "{who}: {evs:?}"
        );
        let ended_at = evs
            .iter()
            .position(|e| matches!(e, LiveEvent::CallEnded { .. }))
            .unwrap();
        assert!(
            evs[..ended_at]
                .iter()
                .all(|e| !matches!(e, LiveEvent::CallAnalyzed { .. })),
            "{who}: {evs:?}"
        );
    }
    let (_, voicemail) = app
        .call(Method::GET, &format!("/api/v1/calls/{}", placed[0].0), None)
        .await;
    assert!(
        voicemail["answered_by"]
            .as_str()
            .unwrap()
            .starts_with("machine"),
        "{voicemail}"
    );
    let (_, invalid) = app
        .call(Method::GET, &format!("/api/v1/calls/{}", placed[6].0), None)
        .await;
    assert_eq!(invalid["error_code"], "21211");
    // The callback persona's agent calls `schedule_callback`: it runs, and is logged.
    let (_, callback) = app
        .call(Method::GET, &format!("/api/v1/calls/{}", placed[4].0), None)
        .await;
    let tool = &callback["tool_calls"][0];
    assert_eq!(tool["tool"], "schedule_callback", "{callback}");
    assert_eq!(tool["via"], "client");
    assert_eq!(tool["is_error"], false, "{tool}");
    assert!(callback["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "callback_requested"));
    let (_, dnc) = app
        .call(Method::GET, "/api/v1/dnc/check?phone=%2B15550100007", None)
        .await;
    assert_eq!(
        dnc["global"], true,
        "the opt-out persona is on the do-not-call list"
    );
    app.stop().await;
}

#[tokio::test]
async fn answering_machines_get_a_voicemail_or_the_agent_as_the_policy_says() {
    let app = sandbox().await;
    let mut events = app.engine.events.subscribe();
    let message = "Hi, this is Parley. Please call us back.";
    let voicemail = place(
        &app,
        json!({"to": "+15550100002", "answering_machine": {"policy": "leave_voicemail", "voicemail_message": message}}),
    )
    .await;
    let agent_talks = place(
        &app,
        json!({"to": "+15550100002", "answering_machine": {"policy": "agent_talks"}}),
    )
    .await;
    for id in [voicemail, agent_talks] {
        wait_for(&mut events, id, |e| {
            matches!(e, LiveEvent::CallEnded { .. })
        })
        .await;
    }
    let (_, left) = app
        .call(Method::GET, &format!("/api/v1/calls/{voicemail}"), None)
        .await;
    assert_eq!(left["answered_by"], "machine_end_beep", "{left}");
    assert_eq!(left["termination_source"], "amd");
    assert_eq!(left["error_message"], "left a voicemail");
    assert_eq!(left["outcome"], "voicemail");
    let sim_call = app
        .sandbox()
        .twilio
        .sim
        .call(left["twilio_call_sid"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        sim_call.end_reason,
        Some(parley_sim::twilio::EndReason::TwimlHangUp),
        "the message was played, then the call hung up"
    );

    let (_, talked) = app
        .call(Method::GET, &format!("/api/v1/calls/{agent_talks}"), None)
        .await;
    assert!(
        talked["answered_by"]
            .as_str()
            .unwrap()
            .starts_with("machine"),
        "{talked}"
    );
    assert_ne!(
        talked["termination_source"], "amd",
        "the agent was let talk: {talked}"
    );
    assert_eq!(talked["outcome"], "voicemail");
    app.stop().await;
}

/// Forgets a call's stored recording file, as if its download never happened; returns
/// where it was.
async fn lose_recording_file(app: &TestApp, call_id: i64) -> String {
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(&app.database_url)
        .await
        .unwrap();
    let (path,): (String,) = sqlx::query_as("SELECT path FROM recordings WHERE call_id = $1")
        .bind(call_id)
        .fetch_one(&mut db)
        .await
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    sqlx::query("UPDATE recordings SET path = NULL WHERE call_id = $1")
        .bind(call_id)
        .execute(&mut db)
        .await
        .unwrap();
    path
}
