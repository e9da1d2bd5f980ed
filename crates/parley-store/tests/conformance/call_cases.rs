//! Calls: events, dedupe, filters, lifecycle and tool calls.
use parley_domain::call::{CallStatus, TurnRole};
use parley_store::{CallFilter, NewCall, PageRequest, Store, StoreError};

use super::cases::campaign;

pub async fn calls_events_dedupe_and_filters(store: Store) {
    let id = campaign(&store, "calls").await;
    let mut made = Vec::new();
    for i in 0..3 {
        let call = store
            .create_call(&NewCall {
                campaign_id: (i < 2).then_some(id),
                attempt: 1,
                to: format!("+1415555{:04}", 3000 + i),
                from: "+15005550006".into(),
                dynamic_variables: serde_json::json!({"name": "x"}),
                overrides: serde_json::json!({}),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(call.status, CallStatus::Queued);
        made.push(call.id);
    }
    let in_campaign = store
        .list_calls(
            &CallFilter {
                campaign_id: Some(id),
                ..Default::default()
            },
            PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(in_campaign.items.len(), 2);
    let queued = store
        .list_calls(
            &CallFilter {
                status: Some(CallStatus::Queued),
                ..Default::default()
            },
            PageRequest::first(2),
        )
        .await
        .unwrap();
    assert_eq!(queued.items.len(), 2);
    assert!(queued.next_before_id.is_some());

    let data = serde_json::json!({"CallStatus": "ringing"});
    assert!(store
        .add_call_event(made[0], "status", Some("CA1:1"), &data)
        .await
        .unwrap());
    assert!(!store
        .add_call_event(made[0], "status", Some("CA1:1"), &data)
        .await
        .unwrap());
    assert!(store
        .add_call_event(made[0], "note", None, &data)
        .await
        .unwrap());
    assert!(store
        .add_call_event(made[0], "note", None, &data)
        .await
        .unwrap());
    let events = store.call_events(made[0]).await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].data["CallStatus"], "ringing");

    store
        .add_transcript_turn(made[0], TurnRole::Agent, "Hello!", Some(0.5), Some(1))
        .await
        .unwrap();
    store
        .add_transcript_turn(made[0], TurnRole::User, "Hi", Some(1.7), None)
        .await
        .unwrap();
    let turns = store.transcript(made[0]).await.unwrap();
    assert_eq!(turns.len(), 2);
    assert_eq!(
        (turns[1].role, turns[1].text.as_str()),
        (TurnRole::User, "Hi")
    );
    assert!(store.recordings(made[0]).await.unwrap().is_empty());
    assert!(matches!(
        store.get_call(987654).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn call_lifecycle_never_moves_backwards(store: Store) {
    use parley_domain::call::{CallOutcome, TerminationSource};
    use parley_store::{PostCall, RecordingUpdate, StatusChange};
    let call = store
        .create_call(&NewCall {
            attempt: 1,
            to: "+15550100001".into(),
            from: "+15005550006".into(),
            dynamic_variables: serde_json::json!({"first_name": "Ann"}),
            overrides: serde_json::json!({"first_message": "Hi"}),
            ..Default::default()
        })
        .await
        .unwrap();
    store.set_call_sid(call.id, "CA0001").await.unwrap();
    assert_eq!(
        store.call_by_sid("CA0001").await.unwrap().unwrap().id,
        call.id
    );
    let change = |status| StatusChange {
        status,
        duration_seconds: None,
        error_code: None,
        error_message: None,
    };
    let ringing = store
        .advance_call_status(call.id, &change(CallStatus::Ringing))
        .await
        .unwrap();
    assert_eq!(ringing.unwrap().status, CallStatus::Ringing);
    let answered = store
        .advance_call_status(call.id, &change(CallStatus::InProgress))
        .await
        .unwrap()
        .unwrap();
    assert!(answered.answered_at.is_some());
    assert!(
        store
            .advance_call_status(call.id, &change(CallStatus::Ringing))
            .await
            .unwrap()
            .is_none(),
        "late ringing is ignored"
    );
    let done = store
        .advance_call_status(
            call.id,
            &StatusChange {
                duration_seconds: Some(42),
                ..change(CallStatus::Completed)
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (done.status, done.duration_seconds),
        (CallStatus::Completed, Some(42))
    );
    assert!(done.ended_at.is_some());
    assert!(
        store
            .advance_call_status(call.id, &change(CallStatus::Failed))
            .await
            .unwrap()
            .is_none(),
        "final is final"
    );

    assert!(store
        .set_termination(call.id, TerminationSource::Agent, None)
        .await
        .unwrap());
    assert!(!store
        .set_termination(call.id, TerminationSource::Callee, Some("late"))
        .await
        .unwrap());
    assert_eq!(
        store.get_call(call.id).await.unwrap().termination_source,
        Some(TerminationSource::Agent)
    );

    store.set_stream_token(call.id, "tokenhash").await.unwrap();
    assert!(!store.take_stream_token(call.id, "wrong").await.unwrap());
    assert!(store.take_stream_token(call.id, "tokenhash").await.unwrap());
    assert!(
        !store.take_stream_token(call.id, "tokenhash").await.unwrap(),
        "one use only"
    );

    store.set_conversation_id(call.id, "conv_1").await.unwrap();
    store
        .add_transcript_turn(call.id, TurnRole::Agent, "live", Some(0.1), Some(1))
        .await
        .unwrap();
    let far_future = parley_domain::time::now_millis() + 60_000;
    assert_eq!(
        store
            .calls_awaiting_analysis(far_future, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    store
        .record_post_call(
            call.id,
            &PostCall {
                summary: Some("Talked about plans.".into()),
                analysis: serde_json::json!({"call_successful": "success"}),
                cost: Some(512.0),
                turns: vec![
                    (TurnRole::Agent, "Hello".into(), Some(0.0)),
                    (TurnRole::User, "Hi".into(), Some(1.5)),
                ],
            },
        )
        .await
        .unwrap();
    store
        .set_outcome(call.id, CallOutcome::Success)
        .await
        .unwrap();
    let c = store.call_by_conversation("conv_1").await.unwrap().unwrap();
    assert_eq!(
        (c.summary.as_deref(), c.outcome),
        (Some("Talked about plans."), Some(CallOutcome::Success))
    );
    assert_eq!(c.analysis.unwrap()["call_successful"], "success");
    let turns = store.transcript(call.id).await.unwrap();
    assert_eq!(
        turns.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(),
        vec!["Hello", "Hi"]
    );
    assert!(store
        .calls_awaiting_analysis(far_future, 10)
        .await
        .unwrap()
        .is_empty());
    let (vars, overrides) = store.call_agent_inputs(call.id).await.unwrap();
    assert_eq!(
        (
            vars["first_name"].as_str(),
            overrides["first_message"].as_str()
        ),
        (Some("Ann"), Some("Hi"))
    );

    let rec = |status: &str, path: Option<&str>| RecordingUpdate {
        recording_sid: "RE0001".into(),
        status: status.into(),
        path: path.map(str::to_string),
        content_type: path.map(|_| "audio/wav".to_string()),
        channels: Some(2),
        duration_seconds: Some(42),
        size_bytes: None,
    };
    store
        .upsert_recording(call.id, &rec("in-progress", None))
        .await
        .unwrap();
    assert!(matches!(
        store.recording_file(call.id).await,
        Err(StoreError::NotFound)
    ));
    store
        .upsert_recording(call.id, &rec("completed", Some("/data/r.wav")))
        .await
        .unwrap();
    assert_eq!(
        store.recording_file(call.id).await.unwrap(),
        ("RE0001".to_string(), Some("/data/r.wav".to_string()))
    );
    assert_eq!(
        store.recordings(call.id).await.unwrap().len(),
        1,
        "callbacks update one row"
    );
    let old = store
        .recordings_created_before(far_future, 10)
        .await
        .unwrap();
    assert_eq!(old.len(), 1);
    store.mark_recording_deleted(old[0].0).await.unwrap();
    assert!(store
        .recordings_created_before(far_future, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        store.recording_file(call.id).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn tool_calls_are_logged_per_call(store: Store) {
    use parley_domain::tool::ToolVia;
    use parley_store::NewToolCall;
    let call = store
        .create_call(&NewCall {
            attempt: 1,
            to: "+14155550199".into(),
            from: "+15005550006".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let parameters = serde_json::json!({"email": "ada@example.com", "nested": {"n": 1.5}});
    let answer = serde_json::json!("Sent.");
    let logged = |call_id, tool, via, is_error| NewToolCall {
        call_id,
        tool,
        via,
        parameters: &parameters,
        result: &answer,
        is_error,
        duration_ms: 12,
    };
    store
        .add_tool_call(&logged(Some(call.id), "send_email", ToolVia::Client, false))
        .await
        .unwrap();
    // A server tool called without a call id is still logged, against no call.
    store
        .add_tool_call(&logged(None, "get_current_time", ToolVia::Server, false))
        .await
        .unwrap();
    store
        .add_tool_call(&logged(Some(call.id), "opt_out", ToolVia::Server, true))
        .await
        .unwrap();
    let listed = store.tool_calls(call.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].tool, "send_email");
    assert_eq!(listed[0].via, ToolVia::Client);
    assert_eq!(listed[0].parameters, parameters);
    assert_eq!(listed[0].result, answer);
    assert_eq!(listed[0].duration_ms, 12);
    assert!(!listed[0].is_error);
    assert_eq!(
        (listed[1].tool.as_str(), listed[1].is_error),
        ("opt_out", true)
    );
    assert_eq!(listed[1].via, ToolVia::Server);
    assert!(store.tool_calls(call.id + 1).await.unwrap().is_empty());
}

pub async fn a_correction_replaces_the_turn_it_corrects(store: Store) {
    let call = store
        .create_call(&NewCall {
            attempt: 1,
            to: "+14155553100".into(),
            from: "+15005550006".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let text = |turns: Vec<parley_domain::call::TranscriptTurn>| -> Vec<(TurnRole, String)> {
        turns.into_iter().map(|t| (t.role, t.text)).collect()
    };
    // Nothing to correct yet: the corrected text is the turn.
    assert!(!store
        .correct_transcript_turn(
            call.id,
            TurnRole::Agent,
            "Hi there",
            "Hi…",
            Some(0.2),
            Some(2)
        )
        .await
        .unwrap());
    for (role, said, event) in [
        (TurnRole::Agent, "We have a new plan for you.", 3),
        (TurnRole::User, "Wait", 4),
        (TurnRole::Agent, "Sorry, go on.", 5),
    ] {
        store
            .add_transcript_turn(call.id, role, said, Some(1.0), Some(event))
            .await
            .unwrap();
    }
    // The turn that read the original text is replaced in place, however late.
    assert!(store
        .correct_transcript_turn(
            call.id,
            TurnRole::Agent,
            "We have a new plan for you.",
            "We have a…",
            Some(1.5),
            Some(9),
        )
        .await
        .unwrap());
    // No turn reads the original: the latest agent turn is the one meant.
    assert!(store
        .correct_transcript_turn(
            call.id,
            TurnRole::Agent,
            "not said",
            "Sorry…",
            None,
            Some(10)
        )
        .await
        .unwrap());
    assert_eq!(
        text(store.transcript(call.id).await.unwrap()),
        vec![
            (TurnRole::Agent, "Hi…".to_string()),
            (TurnRole::Agent, "We have a…".to_string()),
            (TurnRole::User, "Wait".to_string()),
            (TurnRole::Agent, "Sorry…".to_string()),
        ]
    );
}
