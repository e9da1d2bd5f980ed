//! The campaign form picks agents and numbers from the accounts, and a campaign does not
//! start with an agent or caller ID its accounts do not have.
use crate::calls_e2e::sandbox;
use crate::harness::{error_code, TestApp};
use parley_engine::telephony::sandbox_credentials as creds;
use parley_sim::elevenlabs::{ElevenLabsSim, ElevenLabsSimConfig, SimAgent};
use parley_sim::twilio::{TwilioSim, TwilioSimConfig};
use reqwest::Method;
use serde_json::{json, Value};

async fn draft_with(app: &TestApp, settings: Value, phone: &str) -> i64 {
    let (status, campaign) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "checked", "settings": settings})),
        )
        .await;
    assert_eq!(status, 201, "{campaign}");
    let id = campaign["id"].as_i64().unwrap();
    let (status, contact) = app
        .call(
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"phone": phone, "timezone": "America/New_York"})),
        )
        .await;
    assert_eq!(status, 201, "{contact}");
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/campaigns/{id}/contacts"),
            Some(json!({"contact_ids": [contact["id"]]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    id
}

#[tokio::test]
async fn the_sandbox_lists_its_agent_and_number_as_the_defaults() {
    let app = sandbox().await;
    let (status, agents) = app.call(Method::GET, "/api/v1/agents", None).await;
    assert_eq!(status, 200, "{agents}");
    assert_eq!(agents["items"][0]["agent_id"], creds::AGENT_ID);
    assert_eq!(agents["items"][0]["is_default"], true);
    let (status, numbers) = app.call(Method::GET, "/api/v1/phone-numbers", None).await;
    assert_eq!(status, 200, "{numbers}");
    assert_eq!(numbers["items"][0]["phone_number"], creds::CALLER_ID);
    assert_eq!(numbers["items"][0]["kind"], "purchased");
    assert_eq!(numbers["items"][0]["voice"], true);
    assert_eq!(numbers["items"][0]["is_default"], true);
    app.stop().await;
}

#[tokio::test]
async fn a_campaign_with_an_agent_or_caller_id_the_account_lacks_does_not_start() {
    let app = sandbox().await;
    let cases = [
        (
            json!({"agent_id": "agent_not_in_account"}),
            "agent_id",
            "+15550100001",
        ),
        (
            json!({"caller_ids": ["+15550009999"]}),
            "caller_ids",
            "+15550100002",
        ),
        (
            json!({"variants": [
                {"name": "a", "weight": 1, "agent_id": "sandbox-agent-b"},
                {"name": "b", "weight": 1, "agent_id": "agent_not_in_account"},
            ]}),
            "variants[1].agent_id",
            "+15550100004",
        ),
    ];
    for (settings, field, phone) in cases {
        let id = draft_with(&app, settings, phone).await;
        let (status, body) = app
            .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
            .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(error_code(&body), "validation_failed");
        assert_eq!(
            body["error"]["details"]["fields"][0]["field"], field,
            "names the setting: {body}"
        );
        let (_, campaign) = app
            .call(Method::GET, &format!("/api/v1/campaigns/{id}"), None)
            .await;
        assert_eq!(campaign["state"], "draft", "nothing changed");
    }
    // The account's own agent and number start.
    let id = draft_with(
        &app,
        json!({"agent_id": creds::AGENT_ID, "caller_ids": [creds::CALLER_ID]}),
        "+15550100003",
    )
    .await;
    let (status, body) = app
        .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn every_page_of_agents_numbers_and_verified_caller_ids_is_listed() {
    let loopback: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let numbers: Vec<String> = (0..1_001).map(|i| format!("+1555020{i:04}")).collect();
    let twilio = TwilioSim::spawn(
        TwilioSimConfig {
            numbers: numbers.clone(),
            verified_caller_ids: vec!["+15550300001".into()],
            ..TwilioSimConfig::default()
        },
        loopback,
    )
    .await
    .unwrap();
    let agents: Vec<SimAgent> = (0..130)
        .map(|i| SimAgent::new(format!("agent_{i}"), format!("Agent {i}")))
        .collect();
    let elevenlabs = ElevenLabsSim::spawn(
        ElevenLabsSimConfig {
            agents,
            ..ElevenLabsSimConfig::default()
        },
        loopback,
    )
    .await
    .unwrap();
    let app = TestApp::on_simulators(&twilio.base_url, &elevenlabs.base_url, |_| {}).await;
    let (status, listed) = app.call(Method::GET, "/api/v1/agents", None).await;
    assert_eq!(status, 200, "{listed}");
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agent_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 130);
    assert_eq!(ids[129], "agent_129");
    let (status, listed) = app.call(Method::GET, "/api/v1/phone-numbers", None).await;
    assert_eq!(status, 200, "{listed}");
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1_002);
    assert_eq!(items[1_000]["phone_number"], numbers[1_000].as_str());
    assert_eq!(items[1_001]["kind"], "verified_caller_id");
    app.stop().await;
    twilio.stop().await;
}

#[tokio::test]
async fn an_unreachable_service_answers_502_with_its_error() {
    // Nothing listens on port 9 of loopback.
    let app = TestApp::on_simulators("http://127.0.0.1:9", "http://127.0.0.1:9", |_| {}).await;
    for path in ["/api/v1/agents", "/api/v1/phone-numbers"] {
        let (status, body) = app.call(Method::GET, path, None).await;
        assert_eq!(status, 502, "{path}: {body}");
        assert_eq!(error_code(&body), "upstream");
    }
    app.stop().await;
}
