//! One vocabulary: a sandbox campaign's contacts and calls read in the glossary's words in
//! the API and in both exports.
use crate::calls_e2e::sandbox;
use crate::campaign_dialer::{campaign_with, wait_until_completed};
use crate::exports::{csv_rows, download};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;

const REACHED: &str = "+15550100001";
const VOICEMAIL: &str = "+15550100002";
const NO_ANSWER: &str = "+15550100003";
const BUSY: &str = "+15550100004";
const OPTS_OUT: &str = "+15550100007";
const INVALID: &str = "+15550100008";
const BLOCKED: &str = "+15550199009";

#[tokio::test]
async fn contacts_and_calls_read_in_the_glossarys_words_in_the_api_and_the_exports() {
    let app = sandbox().await;
    let phones = [
        REACHED, VOICEMAIL, NO_ANSWER, BUSY, OPTS_OUT, INVALID, BLOCKED,
    ];
    let id = campaign_with(&app, &phones, 4).await;
    let (status, _) = app
        .call(Method::POST, "/api/v1/dnc", Some(json!({"phone": BLOCKED})))
        .await;
    assert_eq!(status, 201);
    let (status, _) = app
        .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    assert_eq!(status, 200);
    wait_until_completed(&app, id).await;

    let want = [
        (REACHED, "completed", "reached", "Reached"),
        (VOICEMAIL, "failed", "voicemail", "Not reached: voicemail"),
        (NO_ANSWER, "failed", "no_answer", "Not reached: no answer"),
        (BUSY, "failed", "busy", "Not reached: busy"),
        (OPTS_OUT, "cancelled", "opted_out", "Opted out"),
        (INVALID, "failed", "call_failed", "Not reached: call failed"),
        (BLOCKED, "cancelled", "do_not_call", "Do not call"),
    ];
    let (_, list) = app
        .call(
            Method::GET,
            &format!("/api/v1/campaigns/{id}/contacts?limit=100"),
            None,
        )
        .await;
    let rows: HashMap<&str, &Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["phone"].as_str().unwrap(), c))
        .collect();
    for (phone, state, standing, words) in want {
        let row = rows[phone];
        assert_eq!(
            (row["state"].as_str(), row["standing"].as_str()),
            (Some(state), Some(standing)),
            "{phone}: {row}"
        );
        assert_eq!(row["standing_label"], words, "{phone}: {row}");
    }

    // Calls keep their wire outcome and add its words.
    let (_, calls) = app
        .call(
            Method::GET,
            &format!("/api/v1/calls?campaign_id={id}&limit=100"),
            None,
        )
        .await;
    let calls = calls["items"].as_array().unwrap();
    let outcome_of = |phone: &str| {
        let c = calls.iter().find(|c| c["to"] == phone).unwrap();
        (c["outcome"].clone(), c["outcome_label"].clone())
    };
    assert_eq!(outcome_of(REACHED), (json!("success"), json!("Successful")));
    assert_eq!(
        outcome_of(VOICEMAIL),
        (json!("voicemail"), json!("Voicemail"))
    );
    assert_eq!(outcome_of(INVALID), (json!("failed"), json!("Call failed")));
    let call_id = calls.iter().find(|c| c["to"] == OPTS_OUT).unwrap()["id"].clone();
    let (_, detail) = app
        .call(Method::GET, &format!("/api/v1/calls/{call_id}"), None)
        .await;
    assert_eq!(detail["outcome_label"], "Opted out", "{detail}");

    // The contacts export says where each stands; the calls export how each call ended.
    let (_, body) = download(&app, &format!("/api/v1/contacts/export?campaign_id={id}")).await;
    let (header, exported) = csv_rows(&body);
    let at = |name: &str| header.iter().position(|h| h == name);
    assert_eq!(
        at("standing"),
        at("last_outcome").map(|i| i + 1),
        "{header:?}"
    );
    let standing: HashMap<&str, &str> = exported
        .iter()
        .map(|r| (r["phone"].trim_start_matches('\''), r["standing"].as_str()))
        .collect();
    for (phone, _, _, words) in want {
        assert_eq!(standing.get(phone), Some(&words), "{phone}");
    }
    let (_, body) = download(&app, &format!("/api/v1/calls/export?campaign_id={id}")).await;
    let (header, exported) = csv_rows(&body);
    assert!(header.iter().any(|h| h == "outcome_label"), "{header:?}");
    let busy = exported
        .iter()
        .filter(|r| r["contact_number"].trim_start_matches('\'') == BUSY)
        .collect::<Vec<_>>();
    assert_eq!(busy.len(), 2, "two tries");
    assert!(busy
        .iter()
        .all(|r| r["outcome"] == "busy" && r["outcome_label"] == "Busy"));
    app.stop().await;
}
