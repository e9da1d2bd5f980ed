//! Test calls ("Call me" on a campaign): placed in sandbox mode with the campaign's
//! settings, answered by the simulators, and kept out of everything that counts the
//! campaign's results.
use crate::calls_e2e::{sandbox, user_lines, wait_for};
use crate::campaign_dialer::{any_hour_settings, create_campaign, import_csv};
use crate::harness::TestApp;
use crate::metrics::{scrape, series};
use parley_engine::events::LiveEvent;
use reqwest::Method;
use serde_json::{json, Value};

/// The operator's own phone: the simulators' conversing callee.
const MY_NUMBER: &str = "+15550100001";

fn test_call_path(campaign: i64) -> String {
    format!("/api/v1/campaigns/{campaign}/test-call")
}

/// A draft campaign with one contact (never called by these tests); returns both ids.
async fn draft_with_contact(app: &TestApp) -> (i64, i64) {
    draft_with(app, "phone,first_name\n+15550100002,Ada\n").await
}

/// A draft campaign with the contacts of `csv`; returns it and its first contact.
async fn draft_with(app: &TestApp, csv: &str) -> (i64, i64) {
    let settings = any_hour_settings(json!({
        "first_message": "Hello {{customer_name}}, this is a test.",
        "prompt": "Keep it short.",
    }));
    let campaign = create_campaign(app, "Test calls", settings).await;
    import_csv(app, campaign, csv.into()).await;
    let (_, contacts) = app
        .call(
            Method::GET,
            &format!("/api/v1/campaigns/{campaign}/contacts"),
            None,
        )
        .await;
    let contact = contacts["items"][0]["contact_id"].as_i64();
    let contact = contact.unwrap_or_else(|| panic!("a contact: {contacts}"));
    (campaign, contact)
}

async fn get(app: &TestApp, path: &str) -> Value {
    let (status, body) = app.call(Method::GET, path, None).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn export_rows(app: &TestApp, query: &str) -> Vec<Vec<String>> {
    let resp = app
        .req(
            Method::GET,
            &format!("/api/v1/calls/export?{query}"),
            &app.operator_key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

async fn audit_actions(app: &TestApp) -> Vec<Value> {
    let resp = app
        .req(Method::GET, "/api/v1/audit?limit=500", &app.admin_key)
        .send()
        .await
        .unwrap();
    let (status, body) = crate::harness::read(resp).await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "campaign.test_call")
        .cloned()
        .collect()
}

async fn call_count(app: &TestApp) -> usize {
    get(app, "/api/v1/calls?limit=500").await["items"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_test_call_plays_live_completes_and_counts_in_none_of_the_campaigns_results() {
    let app = sandbox().await;
    let (campaign, contact) = draft_with_contact(&app).await;
    let mut events = app.engine.events.subscribe();
    let tested = r#"parley_calls_placed_total{kind="test"}"#;
    let tested_before = series(&scrape(&app).await, tested).unwrap_or(0.0);
    let (status, placed) = app
        .call(
            Method::POST,
            &test_call_path(campaign),
            Some(json!({"to": MY_NUMBER, "contact_id": contact,
                        "variables": {"plan": "gold", "seats": 3}})),
        )
        .await;
    assert_eq!(status, 201, "{placed}");
    assert_eq!(placed["test"], true);
    assert_eq!(placed["campaign_id"], campaign);
    assert_eq!(placed["contact_id"], contact);
    assert_eq!(placed["to"], MY_NUMBER);
    let id = placed["id"].as_i64().unwrap();
    // Counted as a test call, not one of the campaign's (other tests share the recorder:
    // at least this call shows).
    let tested_after = series(&scrape(&app).await, tested).unwrap_or(0.0);
    assert!(tested_after >= tested_before + 1.0, "{tested_after}");
    // A second click while the phone rings (the conversation lasts seconds) is refused.
    let (status, again) = app
        .call(
            Method::POST,
            &test_call_path(campaign),
            Some(json!({ "to": MY_NUMBER })),
        )
        .await;
    assert_eq!(status, 409, "{again}");
    assert!(again["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&format!("call {id}")));

    // The transcript arrives live, turn by turn, before the call is over.
    let first = wait_for(&mut events, id, |e| {
        matches!(
            e,
            LiveEvent::Transcript { .. } | LiveEvent::CallEnded { .. }
        )
    })
    .await;
    assert!(
        matches!(first, LiveEvent::Transcript { .. }),
        "a turn before the end: {first:?}"
    );
    wait_for(&mut events, id, |e| {
        matches!(e, LiveEvent::CallAnalyzed { .. })
    })
    .await;

    let call = get(&app, &format!("/api/v1/calls/{id}")).await;
    assert_eq!(call["status"], "completed", "{call}");
    assert_eq!(call["test"], true);
    assert_eq!(
        user_lines(&call),
        parley_sim::personas::CONVERSES.lines.to_vec()
    );
    assert_eq!(
        call["dynamic_variables"],
        json!({"customer_name": "Ada", "plan": "gold", "seats": 3}),
        "the contact's mapped fields, under the typed variables"
    );
    assert!(!call["results"].as_array().unwrap().is_empty(), "{call}");

    // The campaign is as it was: still a draft, its contact untouched.
    let c = get(&app, &format!("/api/v1/campaigns/{campaign}")).await;
    assert_eq!(c["state"], "draft");
    assert_eq!(c["progress"]["total"], 1, "{c}");
    assert_eq!(c["progress"]["pending"], 1, "{c}");
    let contacts = get(&app, &format!("/api/v1/campaigns/{campaign}/contacts")).await;
    assert_eq!(contacts["items"][0]["attempts"], 0, "{contacts}");
    assert_eq!(contacts["items"][0]["state"], "pending", "{contacts}");
    assert_eq!(contacts["items"][0]["last_call_id"], Value::Null);

    // Analytics, results and the compliance report leave it out.
    for scope in [format!("?campaign_id={campaign}"), String::new()] {
        let s = get(&app, &format!("/api/v1/analytics/summary{scope}")).await;
        assert_eq!(s["totals"]["dialed"], 0, "{s}");
    }
    let results = get(&app, &format!("/api/v1/campaigns/{campaign}/results")).await;
    assert_eq!(results["fields"], json!([]), "{results}");
    let report = get(&app, &format!("/api/v1/campaigns/{campaign}/compliance")).await;
    assert_eq!(report["calls_by_jurisdiction"], json!([]), "{report}");

    // The calls list shows it, marked; exports leave it out unless asked.
    let listed = get(&app, &format!("/api/v1/calls?campaign_id={campaign}")).await;
    assert_eq!(listed["items"][0]["id"], id);
    assert_eq!(listed["items"][0]["test"], true);
    let untested = get(
        &app,
        &format!("/api/v1/calls?campaign_id={campaign}&test=false"),
    )
    .await;
    assert_eq!(untested["items"], json!([]));
    assert!(export_rows(&app, &format!("campaign_id={campaign}"))
        .await
        .is_empty());
    let rows = export_rows(&app, &format!("campaign_id={campaign}&include_test=true")).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], id.to_string());
    assert!(rows[0].contains(&"true".to_string()), "{rows:?}");

    // Audited on the campaign, with the number masked.
    let audited = audit_actions(&app).await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0]["target_type"], "campaign");
    assert_eq!(audited[0]["target_id"], campaign.to_string());
    assert_eq!(audited[0]["details"]["call_id"], id);
    assert!(
        !audited[0]["details"]["to"]
            .as_str()
            .unwrap()
            .contains("0100001"),
        "{audited:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_number_on_a_do_not_call_list_is_refused_and_nothing_is_written() {
    let app = sandbox().await;
    let (campaign, _) = draft_with_contact(&app).await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/dnc",
            Some(json!({"phone": MY_NUMBER, "reason": "asked"})),
        )
        .await;
    assert!(status == 201 || status == 200, "{body}");
    let before = call_count(&app).await;
    let (status, body) = app
        .call(
            Method::POST,
            &test_call_path(campaign),
            Some(json!({"to": MY_NUMBER})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "conflict", "{body}");
    assert_eq!(call_count(&app).await, before);
    assert!(audit_actions(&app).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn viewers_cannot_place_test_calls_and_bad_input_is_named() {
    let app = sandbox().await;
    let (campaign, _) = draft_with_contact(&app).await;
    let resp = app
        .req(Method::POST, &test_call_path(campaign), &app.viewer_key)
        .json(&json!({"to": MY_NUMBER}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(call_count(&app).await, 0);

    let (status, body) = app
        .call(
            Method::POST,
            &test_call_path(campaign),
            Some(json!({"to": "not a number", "variables": {"list": [1, 2]}})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("\"to\"") && text.contains("variables.list"),
        "{body}"
    );
    let (status, _) = app
        .call(
            Method::POST,
            &test_call_path(999_999),
            Some(json!({"to": MY_NUMBER})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .call(
            Method::POST,
            &test_call_path(campaign),
            Some(json!({"to": MY_NUMBER, "contact_id": 999_999})),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(call_count(&app).await, 0);
    app.stop().await;
}

/// Places a test call to `to` and waits for its analysis; returns the call.
async fn tested(app: &TestApp, campaign: i64, to: &str) -> Value {
    let mut events = app.engine.events.subscribe();
    let (status, placed) = app
        .call(
            Method::POST,
            &test_call_path(campaign),
            Some(json!({ "to": to })),
        )
        .await;
    assert_eq!(status, 201, "{placed}");
    let id = placed["id"].as_i64().unwrap();
    wait_for(&mut events, id, |e| {
        matches!(e, LiveEvent::CallAnalyzed { .. })
    })
    .await;
    get(app, &format!("/api/v1/calls/{id}")).await
}

#[tokio::test]
async fn an_opt_out_or_a_callback_on_a_test_call_lists_no_number_and_moves_no_contact() {
    let app = sandbox().await;
    // The operator's numbers are also contacts of the campaign, waiting to be called.
    let csv = "phone,first_name\n+15550100007,Opts\n+15550100006,Later\n";
    let (campaign, _) = draft_with(&app, csv).await;

    let opted = tested(&app, campaign, "+15550100007").await;
    assert_eq!(opted["outcome"], "opted_out", "{opted}");
    let kinds: Vec<&str> = opted["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"opt_out"), "{kinds:?}");
    let dnc = get(&app, "/api/v1/dnc/check?phone=%2B15550100007").await;
    assert_eq!(dnc["global"], false, "a rehearsed opt-out lists nothing");

    let later = tested(&app, campaign, "+15550100006").await;
    let asked = later["events"].as_array().unwrap().iter();
    assert!(
        asked.clone().any(|e| e["kind"] == "callback_requested"),
        "{later}"
    );

    let contacts = get(&app, &format!("/api/v1/campaigns/{campaign}/contacts")).await;
    for c in contacts["items"].as_array().unwrap() {
        assert_eq!(c["state"], "pending", "{c}");
        assert_eq!(c["attempts"], 0, "{c}");
        assert_eq!(c["next_attempt_at"], Value::Null, "{c}");
    }
    let c = get(&app, &format!("/api/v1/campaigns/{campaign}")).await;
    assert_eq!(c["state"], "draft");
    assert_eq!(c["progress"]["pending"], 2, "{c}");
    app.stop().await;
}
