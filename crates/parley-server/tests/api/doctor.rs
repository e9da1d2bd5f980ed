//! The doctor reads a configuration against the services it will use and says what to fix.
use crate::calls_e2e::sandbox;
use crate::harness::{read, TestApp};
use parley_engine::telephony::sandbox_credentials as creds;
use parley_sim::elevenlabs::{ElevenLabsSim, ElevenLabsSimConfig, SimAgent};
use parley_sim::twilio::{TwilioSim, TwilioSimConfig};
use reqwest::Method;
use serde_json::{json, Value};

/// The report, asked for as an admin.
async fn doctor(app: &TestApp) -> Value {
    let (status, report) = read(
        app.req(Method::GET, "/api/v1/doctor", &app.admin_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    report
}

/// The findings of one check.
fn findings<'a>(report: &'a Value, check: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .collect()
}

#[tokio::test]
async fn a_sandbox_node_is_healthy_and_only_admins_may_ask() {
    let app = sandbox().await;
    let report = doctor(&app).await;
    assert_eq!(report["healthy"], true, "{report:#}");
    assert_eq!(report["sandbox"], true);
    for check in [
        "database",
        "public_base_url",
        "twilio.account",
        "twilio.caller_id",
        "elevenlabs.key",
        "elevenlabs.agent",
        "data_dir",
        "clock",
    ] {
        let found = findings(&report, check);
        assert!(!found.is_empty(), "{check} was checked: {report:#}");
        assert!(
            found.iter().all(|f| f["severity"] == "ok"),
            "{check}: {found:?}"
        );
    }
    let (status, _) = app.call(Method::GET, "/api/v1/doctor", None).await;
    assert_eq!(status, 403, "an operator may not");
    app.stop().await;
}

#[tokio::test]
async fn a_misconfigured_node_gets_each_problem_with_its_fix() {
    let loopback: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let twilio = TwilioSim::spawn(TwilioSimConfig::default(), loopback)
        .await
        .unwrap();
    let elevenlabs = ElevenLabsSim::spawn(
        ElevenLabsSimConfig {
            agents: vec![SimAgent::new("agent_wideband", "Wideband")],
            agent_output_format: "pcm_16000".into(),
            ..ElevenLabsSimConfig::default()
        },
        loopback,
    )
    .await
    .unwrap();
    let app = TestApp::on_simulators(&twilio.base_url, &elevenlabs.base_url, |s| {
        s.twilio.auth_token = Some("a-revoked-token".into());
        s.twilio.caller_id = Some(creds::CALLER_ID.into());
        s.elevenlabs.agent_id = Some("agent_deleted".into());
    })
    .await;
    // A draft campaign that uses the account's agent, whose audio is not μ-law.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "wideband", "settings": {"agent_id": "agent_wideband"}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let report = doctor(&app).await;
    assert_eq!(report["healthy"], false, "{report:#}");
    let problem = |check: &str, needle: &str| {
        let found = findings(&report, check);
        assert!(
            found.iter().any(|f| f["severity"] == "problem"
                && f["message"].as_str().unwrap().contains(needle)
                && f["fix"].is_string()),
            "{check} reports {needle:?} with a fix: {found:?}"
        );
    };
    problem("twilio.account", "Twilio refused the account");
    problem("public_base_url", "is not https");
    problem("elevenlabs.agent", "agent_deleted");
    problem("elevenlabs.webhook_secret", "no post-call webhook secret");
    let twilio_fix = findings(&report, "twilio.account")[0]["fix"]
        .as_str()
        .unwrap();
    assert!(twilio_fix.contains("twilio.auth_token"), "{twilio_fix}");
    let wideband = findings(&report, "elevenlabs.agent");
    assert!(
        wideband.iter().any(|f| f["severity"] == "warning"
            && f["message"].as_str().unwrap().contains("output pcm_16000")),
        "transcoding is a warning: {wideband:?}"
    );
    app.stop().await;
    twilio.stop().await;
}
