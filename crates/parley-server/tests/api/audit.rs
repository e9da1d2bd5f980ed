//! The audit log reads back who changed what, filtered and paged, for admins only.
use crate::harness::{read, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

async fn audit(app: &TestApp, key: &str, query: &str) -> (u16, Value) {
    read(
        app.req(Method::GET, &format!("/api/v1/audit{query}"), key)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn actions(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn every_change_an_operator_makes_is_in_the_audit_log_with_its_actor() {
    let app = TestApp::start().await;
    let (status, contact) = app
        .call(
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"phone": "+14155550191", "tags": ["audit"]})),
        )
        .await;
    assert_eq!(status, 201);
    let contact_id = contact["id"].as_i64().unwrap();
    app.call(
        Method::PATCH,
        &format!("/api/v1/contacts/{contact_id}"),
        Some(json!({"first_name": "Ada", "email": "ada@example.com"})),
    )
    .await;
    let (_, campaign) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "audited"})),
        )
        .await;
    let id = campaign["id"].as_i64().unwrap();
    app.call(
        Method::POST,
        &format!("/api/v1/campaigns/{id}/contacts"),
        Some(json!({"tag": "audit"})),
    )
    .await;
    app.call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;

    let (status, all) = audit(&app, &app.admin_key, "").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(
        actions(&all)[..5],
        [
            "campaign.state_changed",
            "campaign.contacts_added",
            "campaign.created",
            "contact.updated",
            "contact.created"
        ],
        "newest first: {all}"
    );
    let operator = all["items"][0]["actor"].as_str().unwrap().to_owned();
    assert!(operator.starts_with("api_key:"), "{operator}");
    let updated = &all["items"][3];
    assert_eq!(updated["details"]["fields"], json!(["first_name", "email"]));
    assert!(
        !all.to_string().contains("4155550191"),
        "the audit log names contacts by id, not by number"
    );
    assert_eq!(all["items"][1]["details"]["count"], 1);

    // Filters: a family of actions, one object, one actor, a time range.
    let (_, campaigns) = audit(&app, &app.admin_key, "?action=campaign.").await;
    assert_eq!(
        actions(&campaigns),
        [
            "campaign.state_changed",
            "campaign.contacts_added",
            "campaign.created"
        ]
    );
    let (_, one) = audit(
        &app,
        &app.admin_key,
        &format!("?target_type=contact&target_id={contact_id}"),
    )
    .await;
    assert_eq!(actions(&one), ["contact.updated", "contact.created"]);
    let (_, by_actor) = audit(&app, &app.admin_key, &format!("?actor={operator}")).await;
    assert_eq!(by_actor["items"].as_array().unwrap().len(), 5);
    let (_, future) = audit(&app, &app.admin_key, "?from=2999-01-01T00:00:00Z").await;
    assert!(future["items"].as_array().unwrap().is_empty());

    // Cursor paging walks the same entries.
    let (_, first) = audit(&app, &app.admin_key, "?limit=2").await;
    assert_eq!(actions(&first), actions(&all)[..2]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = audit(&app, &app.admin_key, &format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(actions(&second), actions(&all)[2..4]);

    // Admins only; bad input is the standard error.
    let (status, _) = audit(&app, &app.operator_key, "").await;
    assert_eq!(status, 403);
    let (status, body) = audit(&app, &app.admin_key, "?from=yesterday").await;
    assert!(matches!(status, 400 | 422), "{status} {body}");
    assert!(body["error"]["code"].is_string(), "{body}");
    let (status, _) = audit(&app, &app.admin_key, "?limit=0").await;
    assert!(matches!(status, 400 | 422));
    app.stop().await;
}
