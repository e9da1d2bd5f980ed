use crate::harness::{error_code, TestApp};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn contacts_round_trip_with_normalised_phone_and_tags() {
    let app = TestApp::start().await;
    let (status, c) = app
        .call(
            Method::POST,
            "/api/v1/contacts",
            Some(
                json!({"phone": "(415) 555-2671", "first_name": " Ann ", "email": "ann@example.com",
                        "tags": ["VIP", "q4"], "custom_fields": {"plan": "gold"}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["phone"], "+14155552671");
    assert_eq!(c["first_name"], "Ann");
    assert_eq!(c["tags"], json!(["q4", "vip"]));
    let id = c["id"].as_i64().unwrap();

    let (status, dup) = app
        .call(
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"phone": "+1 415 555 2671"})),
        )
        .await;
    assert_eq!((status, error_code(&dup)), (409, "conflict"));

    let (status, patched) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/contacts/{id}"),
            Some(json!({"first_name": null, "company": "Acme"})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["first_name"], serde_json::Value::Null);
    assert_eq!(patched["company"], "Acme");
    assert_eq!(patched["email"], "ann@example.com", "fields left out stay");

    let (status, got) = app
        .call(Method::GET, &format!("/api/v1/contacts/{id}"), None)
        .await;
    assert_eq!((status, got["company"].as_str()), (200, Some("Acme")));
    let (status, _) = app
        .call(Method::DELETE, &format!("/api/v1/contacts/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, gone) = app
        .call(Method::GET, &format!("/api/v1/contacts/{id}"), None)
        .await;
    assert_eq!((status, error_code(&gone)), (404, "not_found"));
    app.stop().await;
}

#[tokio::test]
async fn bad_contacts_get_field_errors_and_change_nothing() {
    let app = TestApp::start().await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"phone": "not a phone", "email": "nope", "timezone": "Mars/Base"})),
        )
        .await;
    assert_eq!((status, error_code(&body)), (422, "validation_failed"));
    let fields: Vec<&str> = body["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["phone", "email", "timezone"]);
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"phone": "+14155550100", "nickname": "x"})),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "bad_request"),
        "unknown fields cannot be read"
    );
    let raw = app
        .req(Method::POST, "/api/v1/contacts", &app.operator_key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let (_, list) = app.call(Method::GET, "/api/v1/contacts", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    app.stop().await;
}

#[tokio::test]
async fn contact_list_filters_and_pages() {
    let app = TestApp::start().await;
    for i in 0..7 {
        let tags = if i % 2 == 0 {
            json!(["even"])
        } else {
            json!([])
        };
        let (s, _) = app
            .call(
                Method::POST,
                "/api/v1/contacts",
                Some(json!({"phone": format!("+1415555{:04}", 4000 + i), "first_name": format!("Person{i}"), "tags": tags})),
            )
            .await;
        assert_eq!(s, 201);
    }
    let (_, even) = app
        .call(Method::GET, "/api/v1/contacts?tag=even", None)
        .await;
    assert_eq!(even["items"].as_array().unwrap().len(), 4);
    let (_, found) = app
        .call(Method::GET, "/api/v1/contacts?q=person3", None)
        .await;
    assert_eq!(found["items"][0]["first_name"], "Person3");
    let mut cursor: Option<String> = None;
    let mut seen = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/contacts?limit=3&cursor={c}"),
            None => "/api/v1/contacts?limit=3".to_string(),
        };
        let (status, page) = app.call(Method::GET, &path, None).await;
        assert_eq!(status, 200);
        seen += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, 7);
    let (status, body) = app
        .call(Method::GET, "/api/v1/contacts?cursor=forged", None)
        .await;
    assert_eq!((status, error_code(&body)), (400, "bad_request"));
    let (status, _) = app
        .call(Method::GET, "/api/v1/contacts?created_from=yesterday", None)
        .await;
    assert_eq!(status, 400);
    let (_, tags) = app.call(Method::GET, "/api/v1/tags", None).await;
    assert_eq!(tags, json!([{"name": "even", "contacts": 4}]));
    app.stop().await;
}
