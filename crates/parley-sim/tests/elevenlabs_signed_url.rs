//! Signed URLs (reference F.1), the WebSocket handshake's checks and magic agent ids.

mod elevenlabs_common;

use std::time::Duration;

use elevenlabs_common::{api, fast_config, start, AGENT};
use parley_elevenlabs::rest::SignedUrlEndpoint;
use parley_elevenlabs::ElevenLabsError;
use parley_sim::elevenlabs::{magic, ElevenLabsSimConfig};
use serde_json::Value;
use tokio_tungstenite::tungstenite;

async fn handshake_status(url: &str) -> u16 {
    match tokio_tungstenite::connect_async(url).await {
        Ok(_) => 101,
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("unexpected handshake error: {other}"),
    }
}

#[tokio::test]
async fn signed_url_needs_the_api_key() {
    let sim = start(fast_config()).await;
    let http = reqwest::Client::new();
    let url = format!(
        "{}/v1/convai/conversation/get-signed-url?agent_id={AGENT}",
        sim.base_url
    );
    for key in [None, Some("wrong-key")] {
        let mut request = http.get(&url);
        if let Some(key) = key {
            request = request.header("xi-api-key", key);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["detail"]["status"], "invalid_api_key");
        assert_eq!(body["detail"]["message"], "Invalid API key");
    }
    let wrong = parley_elevenlabs::ElevenLabsClient::new("nope".to_owned().into())
        .with_base_url(&sim.base_url)
        .unwrap();
    assert!(matches!(
        wrong.get_signed_url(AGENT).await,
        Err(ElevenLabsError::Unauthorized { status: 401, .. })
    ));
}

#[tokio::test]
async fn signed_url_points_at_this_host_on_both_paths() {
    let sim = start(fast_config()).await;
    let client = api(&sim);
    for endpoint in [SignedUrlEndpoint::Current, SignedUrlEndpoint::Legacy] {
        let signed = client
            .get_signed_url_from("agent 1&x", endpoint)
            .await
            .unwrap();
        let url = url::Url::parse(&signed).unwrap();
        assert_eq!(url.scheme(), "ws");
        assert_eq!(url.port(), Some(sim.addr.port()));
        assert_eq!(url.path(), "/v1/convai/conversation");
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(query[0], ("agent_id".into(), "agent 1&x".into()));
        assert_eq!(query[1].0, "conversation_signature");
        assert_eq!(handshake_status(&signed).await, 101);
    }
    let missing = reqwest::Client::new()
        .get(format!(
            "{}/v1/convai/conversation/get-signed-url",
            sim.base_url
        ))
        .header("xi-api-key", &sim.sim.config().api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 422);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["detail"][0]["loc"][1], "agent_id");
}

#[tokio::test]
async fn forged_and_mismatched_signatures_are_refused() {
    let sim = start(fast_config()).await;
    let signed = api(&sim).get_signed_url(AGENT).await.unwrap();
    let mut url = url::Url::parse(&signed).unwrap();
    let signature = url
        .query_pairs()
        .find(|(k, _)| k == "conversation_signature")
        .unwrap()
        .1
        .into_owned();

    let mut forged = signature.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    let base = format!("ws://{}/v1/convai/conversation", sim.addr);
    let cases = [
        format!("{base}?agent_id={AGENT}&conversation_signature={forged}"),
        format!("{base}?agent_id=other_agent&conversation_signature={signature}"),
        format!("{base}?agent_id={AGENT}"),
        format!("{base}?agent_id={AGENT}&conversation_signature=garbage"),
    ];
    for case in &cases {
        assert_eq!(handshake_status(case).await, 403, "{case}");
    }
    // Extra query parameters (the SDK appends some) do not invalidate the URL.
    url.query_pairs_mut().append_pair("source", "parley");
    assert_eq!(handshake_status(url.as_str()).await, 101);
}

#[tokio::test]
async fn expired_signatures_are_refused() {
    let sim = start(ElevenLabsSimConfig {
        signed_url_ttl: Duration::ZERO,
        ..fast_config()
    })
    .await;
    let signed = api(&sim).get_signed_url(AGENT).await.unwrap();
    assert_eq!(handshake_status(&signed).await, 403);
    assert!(sim.sim.conversations().is_empty());
}

#[tokio::test]
async fn magic_agents_fail_the_signed_url_request() {
    let sim = start(fast_config()).await;
    let client = api(&sim);
    match client.get_signed_url(magic::SIGNED_URL_FAILS).await {
        Err(ElevenLabsError::Unavailable { status: 500, .. }) => {}
        other => panic!("{other:?}"),
    }
    match client.get_signed_url(magic::UNKNOWN).await {
        Err(ElevenLabsError::NotFound { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(client.get_signed_url(magic::DROPS).await.is_ok());
}

#[tokio::test]
async fn unknown_conversations_are_404() {
    let sim = start(fast_config()).await;
    let client = api(&sim);
    assert!(matches!(
        client.get_conversation("conv_missing").await,
        Err(ElevenLabsError::NotFound { .. })
    ));
    assert!(matches!(
        client.get_conversation_audio("conv_missing").await,
        Err(ElevenLabsError::NotFound { .. })
    ));
}
