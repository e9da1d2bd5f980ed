//! A contact's history, what earlier calls learned for the next dial, and the variables
//! a call's record shows.
use parley_domain::call::{CallOutcome, TurnRole};
use parley_domain::call_result::{CallResult, ResultKind, ValueType};
use parley_domain::history::CALLBACK_EVENT;
use parley_domain::tool::ToolVia;
use parley_store::{
    MemoryRead, NewToolCall, PageRequest, PostCall, Settle, Store, StoreError, CALLBACK_PRIORITY,
};
use serde_json::json;

use super::cases::{claim, contact, running_campaign};
use super::dialing_cases::attempt_call;

/// Read what earlier calls learned, for a call that is no callback.
const REMEMBER: MemoryRead = MemoryRead {
    remember: true,
    callback_in: None,
};

/// Claims the contact in the campaign and writes its next attempt, with `variables` as
/// the record's copy.
async fn attempt(store: &Store, campaign_id: i64, variables: serde_json::Value) -> (i64, i64) {
    let now = parley_domain::time::now_millis();
    let claims = claim(store, campaign_id, now, 1).await;
    let claim = claims.into_iter().next().expect("the contact is due");
    let call = parley_store::NewCall {
        agent_variables: Some(variables),
        ..attempt_call("+14155550142")
    };
    let call = store
        .start_attempt(&claim, "n1", "2026-12-01", &call)
        .await
        .unwrap()
        .unwrap();
    (call.id, claim.priority)
}

/// The call ends in a conversation with `summary` and one collected result.
async fn converse(store: &Store, call_id: i64, summary: &str, plan: &str) {
    store
        .record_post_call(
            call_id,
            &PostCall {
                summary: Some(summary.into()),
                analysis: json!({"call_successful": "unknown"}),
                cost: None,
                turns: vec![(TurnRole::Agent, "Hello".into(), Some(0.0))],
            },
        )
        .await
        .unwrap();
    store
        .set_outcome(call_id, CallOutcome::Conversation)
        .await
        .unwrap();
    let result = |name: &str, value_type, value: &str| CallResult {
        kind: ResultKind::DataCollection,
        name: name.into(),
        value_type,
        value: Some(value.into()),
        rationale: None,
    };
    store
        .record_call_results(
            call_id,
            &[
                result("plan", ValueType::String, plan),
                result("seats", ValueType::Number, "3"),
            ],
        )
        .await
        .unwrap();
}

/// The callee asks for a callback on `call` (`data` is the event's), and the attempt
/// settles as one: the contact is due again at once, as a callback.
async fn callback_asked(
    store: &Store,
    campaign_id: i64,
    contact_id: i64,
    call: i64,
    data: serde_json::Value,
) {
    let dedupe = format!("callback:{call}");
    store
        .add_call_event(call, CALLBACK_EVENT, Some(&dedupe), &data)
        .await
        .unwrap();
    let settle = Settle::RetryAt {
        at: 0,
        priority: CALLBACK_PRIORITY,
    };
    store
        .settle_attempt(campaign_id, contact_id, call, "conversation", &settle)
        .await
        .unwrap();
}

async fn log_tool(store: &Store, call_id: i64, tool: &str, result: serde_json::Value) {
    store
        .add_tool_call(&NewToolCall {
            call_id: Some(call_id),
            tool,
            via: ToolVia::Client,
            parameters: &json!({}),
            result: &result,
            is_error: false,
            duration_ms: 5,
        })
        .await
        .unwrap();
}

pub async fn a_contacts_history_pages_its_calls_with_callbacks_opt_outs_and_tool_actions(
    store: Store,
) {
    let ann = store
        .create_contact(&contact("+14155550142", "Ann", &["vip"]))
        .await
        .unwrap();
    let campaign = running_campaign(&store, "history", &[ann.id]).await;
    let (first, _) = attempt(&store, campaign, json!({"first_name": "Ann"})).await;
    converse(&store, first, "Busy; call back tomorrow.", "basic").await;
    log_tool(&store, first, "get_current_time", json!("3 PM")).await;
    log_tool(
        &store,
        first,
        "schedule_callback",
        json!("Callback scheduled."),
    )
    .await;
    let data = json!({"requested": "tomorrow 15:00", "reason": "callee busy", "at_ms": 1_800_000_000_000_i64});
    callback_asked(&store, campaign, ann.id, first, data).await;
    let (second, _) = attempt(&store, campaign, json!({})).await;
    log_tool(&store, second, "opt_out", json!("Done.")).await;

    let page = store
        .contact_history(ann.id, PageRequest::first(1))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let newest = &page.items[0];
    assert_eq!(newest.id, second, "newest first");
    assert!(newest.opted_out, "an opt-out tool action is an opt-out");
    assert_eq!(newest.campaign_name.as_deref(), Some("history"));
    let rest = store
        .contact_history(
            ann.id,
            PageRequest {
                before_id: page.next_before_id,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.next_before_id, None);
    let older = &rest.items[0];
    assert_eq!(
        (older.id, older.outcome, older.summary.as_deref()),
        (
            first,
            Some(CallOutcome::Conversation),
            Some("Busy; call back tomorrow.")
        )
    );
    assert!(older.has_transcript && !older.has_recording && !older.opted_out);
    assert_eq!(older.callbacks.len(), 1);
    assert_eq!(older.callbacks[0].reason.as_deref(), Some("callee busy"));
    assert_eq!(
        older.callbacks[0].requested.as_deref(),
        Some("tomorrow 15:00")
    );
    assert_eq!(
        older.callbacks[0].at.map(|t| t.timestamp_millis()),
        Some(1_800_000_000_000)
    );
    let tools: Vec<&str> = older.tool_actions.iter().map(|a| a.tool.as_str()).collect();
    assert_eq!(
        tools,
        ["schedule_callback"],
        "tools that only read are left out"
    );

    // Each call keeps the copy of its variables the record shows.
    assert_eq!(
        store.call_shown_inputs(first).await.unwrap().variables,
        Some(json!({"first_name": "Ann"}))
    );
    assert!(matches!(
        store.call_shown_inputs(i64::MAX).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .contact_history(i64::MAX, PageRequest::first(10))
            .await,
        Err(StoreError::NotFound)
    ));
    // A page is bounded whatever is asked.
    let huge = PageRequest::first(PageRequest::MAX_LIMIT);
    assert!(
        store
            .contact_history(ann.id, huge)
            .await
            .unwrap()
            .items
            .len()
            <= 100
    );
}

pub async fn the_next_dial_reads_the_latest_conversation_results_and_callback_reason_with_the_contact(
    store: Store,
) {
    let ann = store
        .create_contact(&contact("+14155550142", "Ann", &[]))
        .await
        .unwrap();
    let (_, none) = store
        .contact_for_dial(ann.id, MemoryRead::default())
        .await
        .unwrap();
    assert_eq!(none, None, "nothing is read unless asked for");
    let campaign = running_campaign(&store, "memory", &[ann.id]).await;
    let (_, remembered) = store.contact_for_dial(ann.id, REMEMBER).await.unwrap();
    let remembered = remembered.unwrap();
    assert_eq!(remembered.previous, None, "no earlier call");
    assert!(remembered.results.is_empty());

    let (first, _) = attempt(&store, campaign, json!({})).await;
    converse(&store, first, "Wants the premium plan.", "premium").await;
    let data = json!({"requested": "tomorrow", "reason": "driving", "at_ms": 0});
    callback_asked(&store, campaign, ann.id, first, data).await;
    // A later call that reached no one is not the previous conversation.
    let (unanswered, priority) = attempt(&store, campaign, json!({})).await;
    assert_eq!(priority, CALLBACK_PRIORITY, "the retry was the callback");
    store
        .set_outcome(unanswered, CallOutcome::NoAnswer)
        .await
        .unwrap();

    let (contact, remembered) = store.contact_for_dial(ann.id, REMEMBER).await.unwrap();
    assert_eq!(contact.id, ann.id);
    let remembered = remembered.unwrap();
    let previous = remembered.previous.expect("the conversation is remembered");
    assert_eq!(
        (
            previous.call_id,
            previous.summary.as_deref(),
            previous.outcome
        ),
        (
            first,
            Some("Wants the premium plan."),
            Some(CallOutcome::Conversation)
        )
    );
    let results: Vec<(&str, &str)> = remembered
        .results
        .iter()
        .map(|r| (r.name.as_str(), r.value.as_str()))
        .collect();
    assert_eq!(results, [("plan", "premium"), ("seats", "3")]);
    assert_eq!(
        remembered.callback_reason, None,
        "a reason is read only for a callback"
    );

    // The callback event sits on the contact's last call in the campaign: the unanswered
    // one carries none, so a callback dialled now has no reason to give.
    let read = MemoryRead {
        remember: true,
        callback_in: Some(campaign),
    };
    let (_, remembered) = store.contact_for_dial(ann.id, read).await.unwrap();
    assert_eq!(remembered.unwrap().callback_reason, None);
    let data = json!({"requested": "in an hour", "at_ms": 0});
    store
        .add_call_event(unanswered, CALLBACK_EVENT, Some("callback:1"), &data)
        .await
        .unwrap();
    let (_, remembered) = store.contact_for_dial(ann.id, read).await.unwrap();
    assert_eq!(
        remembered.unwrap().callback_reason.as_deref(),
        Some("the callee asked to be called back"),
        "a callback without a reason still says it is one"
    );
}
