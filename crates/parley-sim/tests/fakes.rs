//! The tool fakes refuse what the real services refuse.
use parley_sim::fakes::calcom::{FakeCalcom, FakeCalcomConfig};
use parley_sim::fakes::graph::{FakeGraph, FakeGraphConfig, GRAPH_SCOPE};
use serde_json::{json, Value};
use std::net::SocketAddr;

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

#[tokio::test]
async fn calcom_wants_its_api_version_and_key() {
    let fake = FakeCalcom::spawn(FakeCalcomConfig::default(), loopback())
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let slots = format!(
        "{}/v2/slots?eventTypeId=1001&start=2099-01-01&end=2099-01-01",
        fake.base_url
    );
    let no_version = http.get(&slots).send().await.unwrap();
    assert_eq!(no_version.status(), 400);
    let ok: Value = http
        .get(&slots)
        .header("cal-api-version", "2024-09-04")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let day = ok["data"]["2099-01-01"].as_array().unwrap();
    assert_eq!(day.len(), 20, "08:00-18:00 in 30-minute slots");
    assert_eq!(day[0]["start"], "2099-01-01T08:00:00.000+00:00");

    let booking = json!({"start": "2099-01-01T08:00:00Z", "eventTypeId": 1001,
        "attendee": {"name": "Ada", "email": "ada@example.com", "timeZone": "Europe/London"}});
    let book = || {
        http.post(format!("{}/v2/bookings", fake.base_url))
            .header("cal-api-version", "2024-08-13")
    };
    let anonymous = book().json(&booking).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let made = book()
        .bearer_auth("cal_sandbox_key")
        .json(&booking)
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    let again = book()
        .bearer_auth("cal_sandbox_key")
        .json(&booking)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400, "a taken slot cannot be booked twice");
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["status"], "error");
    assert_eq!(fake.state.bookings().len(), 1);
    fake.stop().await;
}

#[tokio::test]
async fn graph_issues_tokens_for_client_credentials_and_needs_one_to_send() {
    let config = FakeGraphConfig::default();
    let fake = FakeGraph::spawn(config.clone(), loopback()).await.unwrap();
    let http = reqwest::Client::new();
    let token_url = format!("{}/{}/oauth2/v2.0/token", fake.base_url, config.tenant_id);
    let form = |secret: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", config.client_id.clone()),
            ("client_secret", secret.to_string()),
            ("scope", GRAPH_SCOPE.to_string()),
        ]
    };
    let wrong = http
        .post(&token_url)
        .form(&form("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    let token: Value = http
        .post(&token_url)
        .form(&form(&config.client_secret))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert!(token["expires_in"].as_u64().unwrap() > 0);
    let mail = json!({"message": {"subject": "Hi", "body": {"contentType": "Text", "content": "Hello"},
        "toRecipients": [{"emailAddress": {"address": "ada@example.com"}}]}, "saveToSentItems": false});
    let send_url = format!("{}/v1.0/users/{}/sendMail", fake.base_url, config.sender);
    let anonymous = http.post(&send_url).json(&mail).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let sent = http
        .post(&send_url)
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&mail)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    assert_eq!(fake.state.sent().len(), 1);
    assert!(!fake.state.sent()[0].save_to_sent_items);
    fake.stop().await;
}
