//! Structured results: post-call data collection and evaluations stored as typed fields,
//! counted per campaign, and filtering the calls list.
use crate::calls_failures::{elevenlabs_webhook, unplaced_call};
use crate::harness::{error_code, Db, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// A queued call of `campaign_id` that the agent's conversation `conversation_id` belongs to.
async fn conversation_call(app: &TestApp, campaign_id: i64, conversation_id: &str) -> i64 {
    let call = unplaced_call(app, Some(campaign_id)).await;
    app.store
        .set_conversation_id(call, conversation_id)
        .await
        .unwrap();
    call
}

/// Posts a signed `post_call_transcription` webhook with this analysis; returns its status.
async fn post_call(app: &TestApp, conversation_id: &str, analysis: Value) -> u16 {
    let body = json!({"type": "post_call_transcription", "event_timestamp": 1, "data": {
        "agent_id": "sandbox-agent", "conversation_id": conversation_id, "status": "done",
        "transcript": [], "metadata": {"call_duration_secs": 30}, "analysis": analysis}})
    .to_string();
    elevenlabs_webhook(app, body).await
}

fn analysis(interested: Value, goal_met: &str) -> Value {
    json!({
        "call_successful": "success",
        "transcript_summary": "Talked.",
        "data_collection_results": {
            "interested": {"data_collection_id": "interested", "value": interested, "rationale": "said so"},
            "seats": {"data_collection_id": "seats", "value": 3}
        },
        "evaluation_criteria_results": {
            "goal_met": {"criteria_id": "goal_met", "result": goal_met, "rationale": "-"}
        }
    })
}

async fn ids(app: &TestApp, query: &str) -> Vec<i64> {
    let (status, body) = app
        .call(Method::GET, &format!("/api/v1/calls?{query}"), None)
        .await;
    assert_eq!(status, 200, "{query}: {body}");
    let mut ids: Vec<i64> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn post_call_results_are_stored_typed_counted_per_campaign_and_filter_the_calls() {
    results_round_trip(Db::Sqlite).await;
}

#[tokio::test]
async fn post_call_results_are_stored_typed_counted_and_filtered_on_postgres() {
    results_round_trip(Db::Postgres).await;
}

async fn results_round_trip(db: Db) {
    let app = TestApp::start_on(db, |s| s.dialer.enabled = false).await;
    let campaign = app.campaign_with_contact("Spring").await;
    let mut calls = Vec::new();
    for (i, (interested, goal)) in [
        (json!("yes"), "success"),
        (json!("no"), "failure"),
        (json!("no"), "unknown"),
    ]
    .into_iter()
    .enumerate()
    {
        let conversation = format!("conv_results_{i}");
        let call = conversation_call(&app, campaign, &conversation).await;
        let a = analysis(interested, goal);
        assert_eq!(post_call(&app, &conversation, a.clone()).await, 204);
        // ElevenLabs may deliver a webhook again: nothing is counted twice.
        assert_eq!(post_call(&app, &conversation, a).await, 204);
        calls.push(call);
    }

    let (status, call) = app
        .call(Method::GET, &format!("/api/v1/calls/{}", calls[0]), None)
        .await;
    assert_eq!(status, 200, "{call}");
    assert_eq!(
        call["results"],
        json!([
            {"kind": "data_collection", "name": "interested", "value_type": "string",
             "value": "yes", "rationale": "said so"},
            {"kind": "data_collection", "name": "seats", "value_type": "number",
             "value": "3", "rationale": null},
            {"kind": "evaluation", "name": "goal_met", "value_type": "string",
             "value": "success", "rationale": "-"},
        ])
    );
    assert_eq!(
        call["analysis"]["data_collection_results"]["seats"]["value"], 3,
        "the raw analysis stays as it came"
    );

    let (status, results) = app
        .call(
            Method::GET,
            &format!("/api/v1/campaigns/{campaign}/results"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{results}");
    assert_eq!(
        results["fields"],
        json!([
            {"kind": "data_collection", "name": "interested", "calls": 3, "other": null,
             "values": [{"value": "no", "count": 2}, {"value": "yes", "count": 1}]},
            {"kind": "data_collection", "name": "seats", "calls": 3, "other": null,
             "values": [{"value": "3", "count": 3}]},
            {"kind": "evaluation", "name": "goal_met", "calls": 3, "other": null,
             "values": [{"value": "failure", "count": 1}, {"value": "success", "count": 1},
                        {"value": "unknown", "count": 1}]},
        ])
    );

    assert_eq!(
        ids(&app, "result=interested:no").await,
        vec![calls[1], calls[2]]
    );
    assert_eq!(
        ids(
            &app,
            "result=interested:no&result=evaluation.goal_met:unknown"
        )
        .await,
        vec![calls[2]]
    );
    assert_eq!(
        ids(&app, &format!("campaign_id={campaign}&result=seats%3A3")).await,
        calls
    );
    assert!(ids(&app, "result=interested:maybe").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn malformed_result_filters_and_unknown_campaigns_get_the_standard_error() {
    let app = TestApp::start().await;
    let too_long = format!("result={}:x", "n".repeat(101));
    let too_many = ["result=a:b"; 11].join("&");
    for (query, status_wanted, code) in [
        ("result=interested", 400, "bad_request"),
        ("result=:yes", 400, "bad_request"),
        (too_long.as_str(), 422, "validation_failed"),
        (too_many.as_str(), 422, "validation_failed"),
    ] {
        for path in ["/api/v1/calls", "/api/v1/calls/export"] {
            let (status, body) = app
                .call(Method::GET, &format!("{path}?{query}"), None)
                .await;
            assert_eq!(status, status_wanted, "{path}?{query}: {body}");
            assert_eq!(error_code(&body), code, "{body}");
        }
    }
    let (status, body) = app
        .call(Method::GET, "/api/v1/campaigns/999/results", None)
        .await;
    assert_eq!(status, 404, "{body}");
    error_code(&body);
    app.stop().await;
}

#[tokio::test]
async fn oversized_results_are_cut_to_their_documented_bounds() {
    let app = TestApp::start().await;
    let campaign = app.campaign_with_contact("Big").await;
    let call = conversation_call(&app, campaign, "conv_big").await;
    let mut items = serde_json::Map::new();
    for i in 0..150 {
        let name = format!("f{i:03}");
        items.insert(
            name.clone(),
            json!({"data_collection_id": name, "value": "x".repeat(5_000)}),
        );
    }
    let long_name = "a".repeat(101);
    items.insert(
        long_name.clone(),
        json!({"data_collection_id": long_name, "value": "dropped"}),
    );
    let analysis = json!({"call_successful": "success", "data_collection_results": items,
        "evaluation_criteria_results": {"goal_met": {"criteria_id": "goal_met",
            "result": "success", "rationale": "r".repeat(10_000)}}});
    assert_eq!(post_call(&app, "conv_big", analysis).await, 204);

    let (status, body) = app
        .call(Method::GET, &format!("/api/v1/calls/{call}"), None)
        .await;
    assert_eq!(status, 200);
    let results = body["results"].as_array().unwrap();
    let (collected, evaluated): (Vec<&Value>, Vec<&Value>) =
        results.iter().partition(|r| r["kind"] == "data_collection");
    assert_eq!(collected.len(), 100, "at most 100 fields of a kind");
    assert_eq!(collected[0]["name"], "f000");
    assert_eq!(collected[99]["name"], "f099");
    assert!(collected
        .iter()
        .all(|r| r["value"].as_str().unwrap().len() == 1_000));
    assert_eq!(evaluated.len(), 1);
    assert_eq!(evaluated[0]["rationale"].as_str().unwrap().len(), 2_000);
    assert_eq!(
        body["analysis"]["data_collection_results"][&long_name]["value"], "dropped",
        "the raw analysis keeps what the typed fields leave out"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_sandbox_calls_analysis_arrives_as_typed_results_that_filter_the_list() {
    let app = crate::calls_e2e::sandbox().await;
    let mut events = app.engine.events.subscribe();
    let id = crate::calls_e2e::place(&app, json!({"to": "+15550100001"})).await;
    crate::calls_e2e::wait_for(&mut events, id, |e| {
        matches!(e, parley_engine::events::LiveEvent::CallAnalyzed { .. })
    })
    .await;
    let (status, call) = app
        .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
        .await;
    assert_eq!(status, 200);
    let results = call["results"].as_array().unwrap();
    let field = |name: &str| {
        results
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {results:?}"))
    };
    let persona = field("callee_persona");
    assert_eq!(
        (&persona["kind"], &persona["value_type"], &persona["value"]),
        (
            &json!("data_collection"),
            &json!("string"),
            &json!(parley_sim::personas::CONVERSES.name)
        )
    );
    assert_eq!(field("tools_called")["value_type"], "json");
    let script = field("script_completed");
    assert_eq!(
        (&script["kind"], &script["value"]),
        (&json!("evaluation"), &json!("success"))
    );

    let persona_filter = format!(
        "result=callee_persona%3A{}",
        parley_sim::personas::CONVERSES.name.replace(' ', "%20")
    );
    assert_eq!(ids(&app, &persona_filter).await, vec![id]);
    assert_eq!(ids(&app, "result=script_completed:success").await, vec![id]);
    assert!(ids(&app, "result=script_completed:failure")
        .await
        .is_empty());
    app.stop().await;
}
