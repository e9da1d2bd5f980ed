use crate::harness::{error_code, TestApp};
use reqwest::Method;
use serde_json::json;

async fn tagged_contacts(app: &TestApp, n: usize, tag: &str) {
    for i in 0..n {
        let (s, b) = app
            .call(
                Method::POST,
                "/api/v1/contacts",
                Some(json!({"phone": format!("+1415555{:04}", 6000 + i), "tags": [tag]})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
}

#[tokio::test]
async fn a_campaign_moves_only_along_its_state_machine() {
    let app = TestApp::start().await;
    tagged_contacts(&app, 5, "spring").await;
    let (status, c) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "Spring outreach", "settings": {
                "caller_ids": ["+15005550006"], "max_concurrent_calls": 3,
                "calling_window": {"start": "09:00", "end": "18:00", "days": ["mon", "wed"]},
                "dynamic_variables": {"customer_name": "first_name"}}})),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["state"], "draft");
    assert_eq!(c["settings"]["calling_window"]["start"], "09:00");
    assert_eq!(
        c["settings"]["calls_per_second"], 1.0,
        "defaults fill the rest"
    );
    let id = c["id"].as_i64().unwrap();
    let base = format!("/api/v1/campaigns/{id}");

    let (status, added) = app
        .call(
            Method::POST,
            &format!("{base}/contacts"),
            Some(json!({"tag": "spring"})),
        )
        .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(
        (
            added["count"].as_u64(),
            added["campaign"]["progress"]["pending"].as_i64()
        ),
        (Some(5), Some(5))
    );

    for (action, expected) in [
        ("start", "running"),
        ("pause", "paused"),
        ("resume", "running"),
        ("pause", "paused"),
    ] {
        let (status, body) = app
            .call(Method::POST, &format!("{base}/{action}"), None)
            .await;
        assert_eq!(
            (status, body["state"].as_str()),
            (200, Some(expected)),
            "{action}: {body}"
        );
    }
    let (status, body) = app.call(Method::POST, &format!("{base}/pause"), None).await;
    assert_eq!((status, error_code(&body)), (409, "conflict"));
    assert_eq!(body["error"]["details"]["current_state"], "paused");
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{base}/stop"),
            Some(json!({"reason": "budget spent"})),
        )
        .await;
    assert_eq!(
        (status, body["state_reason"].as_str()),
        (200, Some("budget spent"))
    );
    for action in ["start", "resume", "pause", "stop"] {
        let (status, body) = app
            .call(Method::POST, &format!("{base}/{action}"), None)
            .await;
        assert_eq!(status, 409, "{action} after stop");
        assert_eq!(body["error"]["details"]["current_state"], "stopped");
    }
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{base}/start"),
            Some(json!({"bogus": 1})),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "bad_request"),
        "an unknown field cannot be read: {body}"
    );
    let (status, _) = app
        .call(Method::POST, "/api/v1/campaigns/999/start", None)
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn settings_are_validated_field_by_field_and_locked_while_running() {
    let app = TestApp::start().await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "", "settings": {"max_concurrent_calls": 0}})),
        )
        .await;
    assert_eq!((status, error_code(&body)), (422, "validation_failed"));
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(
                json!({"name": "x", "settings": {"max_concurrent_calls": 0, "calls_per_second": 500,
                "answering_machine": {"policy": "leave_voicemail"}}}),
            ),
        )
        .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec![
            "settings.max_concurrent_calls",
            "settings.calls_per_second",
            "settings.answering_machine.voicemail_message"
        ]
    );
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "x", "settings": {"max_calls": 2}})),
        )
        .await;
    assert_eq!(status, 400, "unknown settings cannot be read: {body}");
    let (_, list) = app.call(Method::GET, "/api/v1/campaigns", None).await;
    assert!(
        list["items"].as_array().unwrap().is_empty(),
        "nothing was created"
    );

    let (_, c) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "locked"})),
        )
        .await;
    let base = format!("/api/v1/campaigns/{}", c["id"]);
    let (status, body) = app.call(Method::POST, &format!("{base}/start"), None).await;
    assert_eq!((status, error_code(&body)), (409, "conflict"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no contacts"),
        "starting an empty campaign says why it is refused: {body}"
    );
    tagged_contacts(&app, 1, "locked").await;
    app.call(
        Method::POST,
        &format!("{base}/contacts"),
        Some(json!({"tag": "locked"})),
    )
    .await;
    let (status, body) = app.call(Method::POST, &format!("{base}/start"), None).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("running")));
    let (status, body) = app
        .call(Method::PATCH, &base, Some(json!({"name": "new"})))
        .await;
    assert_eq!(
        (status, body["error"]["details"]["current_state"].as_str()),
        (409, Some("running"))
    );
    let (status, _) = app.call(Method::DELETE, &base, None).await;
    assert_eq!(status, 409, "a running campaign cannot be deleted");
    app.call(Method::POST, &format!("{base}/pause"), None).await;
    let (status, body) = app
        .call(
            Method::PATCH,
            &base,
            Some(json!({"name": "renamed", "description": "after pause"})),
        )
        .await;
    assert_eq!((status, body["name"].as_str()), (200, Some("renamed")));
    let (status, _) = app.call(Method::DELETE, &base, None).await;
    assert_eq!(status, 204);
    app.stop().await;
}

#[tokio::test]
async fn contacts_are_added_and_removed_with_exact_progress() {
    let app = TestApp::start().await;
    tagged_contacts(&app, 4, "batch").await;
    let (_, c) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "members"})),
        )
        .await;
    let base = format!("/api/v1/campaigns/{}", c["id"]);
    let (_, contacts) = app
        .call(Method::GET, "/api/v1/contacts?tag=batch", None)
        .await;
    let ids: Vec<i64> = contacts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    let (_, added) = app
        .call(
            Method::POST,
            &format!("{base}/contacts"),
            Some(json!({"contact_ids": ids[..2]})),
        )
        .await;
    assert_eq!(added["count"], 2);
    let (_, added) = app
        .call(
            Method::POST,
            &format!("{base}/contacts"),
            Some(json!({"tag": "batch"})),
        )
        .await;
    assert_eq!(
        (
            added["count"].as_u64(),
            added["campaign"]["progress"]["total"].as_i64()
        ),
        (Some(2), Some(4))
    );
    let (_, removed) = app
        .call(
            Method::POST,
            &format!("{base}/contacts/remove"),
            Some(json!({"contact_ids": [ids[0]]})),
        )
        .await;
    assert_eq!(
        (
            removed["count"].as_u64(),
            removed["campaign"]["progress"]["total"].as_i64()
        ),
        (Some(1), Some(3))
    );
    let (status, listed) = app
        .call(Method::GET, &format!("{base}/contacts?state=pending"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 3);
    // Read fine, but names no contacts: a rule broken, so 422.
    let (status, body) = app
        .call(Method::POST, &format!("{base}/contacts"), Some(json!({})))
        .await;
    assert_eq!((status, error_code(&body)), (422, "validation_failed"));
    app.stop().await;
}
