//! Consent through the API: imported from a file's columns (a bad value reported, the row
//! kept), recorded and revoked by a client, history that only grows, exported, and the
//! reason a campaign does not dial a contact without it.
use crate::harness::{error_code, TestApp};
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};

async fn upload(app: &TestApp, name: &str, csv: &str) -> Value {
    let form = Form::new().part(
        "file",
        Part::text(csv.to_string())
            .file_name(name.to_string())
            .mime_str("text/csv")
            .unwrap(),
    );
    let resp = app
        .req(Method::POST, "/api/v1/contacts/import", &app.operator_key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, report) = crate::harness::read(resp).await;
    assert_eq!(status, 200, "{report}");
    report
}

async fn contact_id(app: &TestApp, phone: &str) -> i64 {
    let (_, list) = app
        .call(Method::GET, &format!("/api/v1/contacts?q={phone}"), None)
        .await;
    list["items"][0]["id"].as_i64().expect("the contact exists")
}

async fn history(app: &TestApp, id: i64) -> Vec<Value> {
    let (status, page) = app
        .call(Method::GET, &format!("/api/v1/contacts/{id}/consent"), None)
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_import_maps_consent_columns_and_reports_a_bad_one_without_dropping_the_row() {
    let app = TestApp::start().await;
    let csv = "phone,first_name,consent_type,consent_at,consent_url\n\
               +14155550501,Ann,express_written,2024-05-01,https://example.com/forms/77\n\
               +14155550502,Bob,whenever,2024-05-01,\n\
               +14155550503,Cy,,,\n";
    let report = upload(&app, "leads.csv", csv).await;
    let import = &report["import"];
    assert_eq!(import["created"], 3, "{report}");
    assert_eq!(import["rejected"], 0, "{report}");
    let id = import["id"].as_i64().unwrap();
    let (_, errors) = app
        .call(Method::GET, &format!("/api/v1/imports/{id}/errors"), None)
        .await;
    let errors = errors["items"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["line"], 3);
    assert_eq!(errors[0]["reason"], "invalid_consent");
    assert!(
        errors[0]["message"].as_str().unwrap().contains("whenever"),
        "{}",
        errors[0]
    );

    let ann = contact_id(&app, "4155550501").await;
    let (_, contact) = app
        .call(Method::GET, &format!("/api/v1/contacts/{ann}"), None)
        .await;
    let consent = &contact["consent"];
    assert_eq!(consent["consent_type"], "express_written");
    assert_eq!(consent["captured_at"], "2024-05-01T00:00:00Z");
    assert_eq!(consent["url"], "https://example.com/forms/77");
    assert_eq!(consent["source"]["kind"], "import");
    assert_eq!(consent["source"]["detail"], "leads.csv line 2");
    let bob = contact_id(&app, "4155550502").await;
    let (_, contact) = app
        .call(Method::GET, &format!("/api/v1/contacts/{bob}"), None)
        .await;
    assert!(contact["consent"].is_null(), "{contact}");
    assert!(history(&app, bob).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn consent_history_only_grows_through_the_api() {
    let app = TestApp::start().await;
    let (_, contact) = app
        .call(
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"phone": "+14155550511"})),
        )
        .await;
    let id = contact["id"].as_i64().unwrap();
    assert!(contact["consent"].is_null());
    let path = format!("/api/v1/contacts/{id}/consent");

    let (status, granted) = app
        .call(
            Method::POST,
            &path,
            Some(
                json!({"consent_type": "express", "captured_at": "2026-01-05T10:00:00Z",
                        "text": "Yes, you may call me about my order."}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{granted}");
    assert_eq!(granted["kind"], "grant");
    assert_eq!(granted["source"]["kind"], "api");
    let (status, from_form) = app
        .call(
            Method::POST,
            &path,
            Some(json!({"consent_type": "express_written",
                        "form_url": "https://example.com/signup"})),
        )
        .await;
    assert_eq!(status, 201, "{from_form}");
    assert_eq!(from_form["source"]["kind"], "form");
    let (_, contact) = app
        .call(Method::GET, &format!("/api/v1/contacts/{id}"), None)
        .await;
    assert_eq!(contact["consent"]["consent_type"], "express_written");

    // Refused, and nothing is written: a grant without a type, a time in the future,
    // a field the API does not know, an unknown contact.
    for body in [
        json!({"kind": "grant"}),
        json!({"consent_type": "express", "captured_at": "2999-01-01T00:00:00Z"}),
        json!({"kind": "revocation", "consent_type": "express"}),
    ] {
        let (status, e) = app.call(Method::POST, &path, Some(body)).await;
        assert_eq!((status, error_code(&e)), (422, "validation_failed"), "{e}");
    }
    let (status, e) = app
        .call(
            Method::POST,
            &path,
            Some(json!({"consent_type": "express", "id": 1})),
        )
        .await;
    assert!(matches!(status, 400 | 422), "{status} {e}");
    error_code(&e);
    let (status, e) = app
        .call(
            Method::POST,
            "/api/v1/contacts/424242/consent",
            Some(json!({"consent_type": "express"})),
        )
        .await;
    assert_eq!((status, error_code(&e)), (404, "not_found"), "{e}");
    // No way to change or remove a record.
    for method in [Method::PUT, Method::PATCH, Method::DELETE] {
        let (status, _) = app.call(method, &path, Some(json!({}))).await;
        assert_eq!(status, 405);
    }

    let (status, revoked) = app
        .call(
            Method::POST,
            &path,
            Some(json!({"kind": "revocation", "text": "said stop by email"})),
        )
        .await;
    assert_eq!(status, 201, "{revoked}");
    let (_, contact) = app
        .call(Method::GET, &format!("/api/v1/contacts/{id}"), None)
        .await;
    assert!(contact["consent"].is_null(), "revoked: {contact}");
    let kinds: Vec<(Value, Value)> = history(&app, id)
        .await
        .iter()
        .map(|r| (r["kind"].clone(), r["consent_type"].clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (json!("revocation"), Value::Null),
            (json!("grant"), json!("express_written")),
            (json!("grant"), json!("express")),
        ],
        "every record kept, newest first"
    );

    // The history exports as CSV, a row per record.
    let resp = app
        .req(
            Method::GET,
            &format!("/api/v1/contacts/consent/export?contact_id={id}"),
            &app.operator_key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let csv = resp.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("consent_record_id,contact_id,phone,kind,consent_type,source"));
    assert!(lines[1].contains(",revocation,,api,"), "{}", lines[1]);
    app.stop().await;
}

#[tokio::test]
async fn a_contact_without_the_consent_a_campaign_requires_is_said_to_wait_for_it() {
    let app = TestApp::start().await;
    let (status, campaign) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "promo"})),
        )
        .await;
    assert_eq!(status, 201, "{campaign}");
    assert_eq!(campaign["settings"]["required_consent"], "express_written");
    let id = campaign["id"].as_i64().unwrap();
    let (_, contact) = app
        .call(
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"phone": "+14155550521"})),
        )
        .await;
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/campaigns/{id}/contacts"),
            Some(json!({"contact_ids": [contact["id"]]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    // One dialer pass, as a node's dialer would run it.
    parley_engine::dialer::Dialer::new(app.engine.clone())
        .tick()
        .await
        .unwrap();
    let (_, activity) = app
        .call(
            Method::GET,
            &format!("/api/v1/campaigns/{id}/activity"),
            None,
        )
        .await;
    assert_eq!(activity["next_action"], "waiting_for_consent", "{activity}");
    assert_eq!(activity["waiting"][0]["reason"], "no_consent", "{activity}");
    let (_, calls) = app
        .call(
            Method::GET,
            &format!("/api/v1/calls?campaign_id={id}"),
            None,
        )
        .await;
    assert!(calls["items"].as_array().unwrap().is_empty(), "{calls}");
    app.stop().await;
}
