use crate::harness::{error_code, TestApp};
use parley_store::NewCall;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn do_not_call_lists_add_check_and_remove() {
    let app = TestApp::start().await;
    let (_, contact) = app
        .call(
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"phone": "4155550142"})),
        )
        .await;
    let (status, entry) = app
        .call(
            Method::POST,
            "/api/v1/dnc",
            Some(json!({"phone": "(415) 555-0142", "reason": "asked"})),
        )
        .await;
    assert_eq!(status, 201, "{entry}");
    assert_eq!(entry["phone"], "+14155550142");
    let (_, c) = app
        .call(
            Method::GET,
            &format!("/api/v1/contacts/{}", contact["id"]),
            None,
        )
        .await;
    assert_eq!(c["do_not_call"], true);
    let (_, check) = app
        .call(Method::GET, "/api/v1/dnc/check?phone=%2B14155550142", None)
        .await;
    assert_eq!(
        (check["global"].as_bool(), check["blocked"].as_bool()),
        (Some(true), Some(true))
    );

    let (_, campaign) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "scoped"})),
        )
        .await;
    let cid = campaign["id"].as_i64().unwrap();
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/dnc",
            Some(json!({"phone": "+14155550143", "campaign_id": cid})),
        )
        .await;
    assert_eq!(status, 201);
    let (_, check) = app
        .call(
            Method::GET,
            &format!("/api/v1/dnc/check?phone=%2B14155550143&campaign_id={cid}"),
            None,
        )
        .await;
    assert_eq!(
        (check["global"].as_bool(), check["campaign"].as_bool()),
        (Some(false), Some(true))
    );
    let (_, scoped) = app
        .call(Method::GET, &format!("/api/v1/dnc?campaign_id={cid}"), None)
        .await;
    assert_eq!(scoped["items"].as_array().unwrap().len(), 1);
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/dnc",
            Some(json!({"phone": "+14155550144", "campaign_id": 777})),
        )
        .await;
    assert_eq!((status, error_code(&body)), (404, "not_found"));
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/dnc",
            Some(json!({"phone": "garbage"})),
        )
        .await;
    assert_eq!((status, error_code(&body)), (422, "validation_failed"));

    let (status, _) = app
        .call(Method::DELETE, "/api/v1/dnc/%2B14155550142", None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .call(Method::DELETE, "/api/v1/dnc/%2B14155550142", None)
        .await;
    assert_eq!(status, 404);
    let (_, check) = app
        .call(Method::GET, "/api/v1/dnc/check?phone=%2B14155550142", None)
        .await;
    assert_eq!(check["blocked"], false);
    app.stop().await;
}

#[tokio::test]
async fn calls_are_listed_with_filters_and_shown_with_their_record() {
    let app = TestApp::start().await;
    let (_, campaign) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "calls"})),
        )
        .await;
    let cid = campaign["id"].as_i64().unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let call = app
            .store
            .create_call(&NewCall {
                campaign_id: (i != 2).then_some(cid),
                attempt: 1,
                to: format!("+1415555{:04}", 7000 + i),
                from: "+15005550006".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        ids.push(call.id);
    }
    app.store
        .add_transcript_turn(
            ids[0],
            parley_domain::call::TurnRole::Agent,
            "Hello, this is Parley.",
            Some(0.4),
            None,
        )
        .await
        .unwrap();
    let (status, list) = app
        .call(
            Method::GET,
            &format!("/api/v1/calls?campaign_id={cid}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let (_, queued) = app
        .call(Method::GET, "/api/v1/calls?status=queued&limit=1", None)
        .await;
    assert!(queued["next_cursor"].is_string());
    let (status, _) = app
        .call(Method::GET, "/api/v1/calls?status=exploded", None)
        .await;
    assert_eq!(status, 400);
    let (status, call) = app
        .call(Method::GET, &format!("/api/v1/calls/{}", ids[0]), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(call["status"], "queued");
    assert_eq!(call["transcript"][0]["role"], "agent");
    assert_eq!(call["transcript"][0]["text"], "Hello, this is Parley.");
    assert!(call["events"].as_array().unwrap().is_empty());
    let (status, body) = app.call(Method::GET, "/api/v1/calls/424242", None).await;
    assert_eq!((status, error_code(&body)), (404, "not_found"));
    app.stop().await;
}
