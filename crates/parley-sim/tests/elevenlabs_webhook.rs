//! Post-call webhooks (reference G) reach a local receiver, signed.

mod elevenlabs_common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use elevenlabs_common::{api, fast_config, start, BridgeClient, AGENT, WAIT};
use parley_elevenlabs::conversation::{ConversationStatus, Role};
use parley_elevenlabs::webhook::{self, WebhookEvent, SIGNATURE_HEADER};
use parley_elevenlabs::ws::{InitiationClientData, ServerMessage};
use parley_sim::elevenlabs::{ElevenLabsSimConfig, WebhookDelivery};
use tokio::sync::mpsc;

const SECRET: &str = "wsec_test_secret_123456";

#[derive(Clone)]
struct Receiver {
    deliveries: mpsc::UnboundedSender<(Option<String>, Bytes)>,
    /// Requests to fail with 500 before accepting.
    failures: Arc<AtomicU32>,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let failing = receiver
        .failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let _ = receiver.deliveries.send((signature, body));
    StatusCode::OK
}

/// A tiny webhook receiver; returns its URL and the deliveries it accepts.
async fn receiver(failures: u32) -> (String, mpsc::UnboundedReceiver<(Option<String>, Bytes)>) {
    let (deliveries, received) = mpsc::unbounded_channel();
    let state = Receiver {
        deliveries,
        failures: Arc::new(AtomicU32::new(failures)),
    };
    let app = Router::new()
        .route("/elevenlabs/webhook", post(receive))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/elevenlabs/webhook",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

async fn one_short_conversation(
    config: ElevenLabsSimConfig,
) -> (
    String,
    elevenlabs_common::BridgeClient,
    parley_sim::elevenlabs::RunningElevenLabsSim,
) {
    let sim = start(config).await;
    let url = api(&sim).get_signed_url(AGENT).await.unwrap();
    let mut client = BridgeClient::connect(&url, true).await;
    client.initiate(
        InitiationClientData {
            user_id: Some("contact-42".into()),
            ..InitiationClientData::default()
        }
        .dynamic_variable("call_id", "c_1"),
    );
    let conversation_id = client
        .expect(|m| match m {
            ServerMessage::ConversationInitiationMetadata {
                conversation_initiation_metadata_event,
            } => Some(
                conversation_initiation_metadata_event
                    .conversation_id
                    .clone(),
            ),
            _ => None,
        })
        .await;
    client.expect(elevenlabs_common::agent_text).await;
    client.close();
    (conversation_id, client, sim)
}

#[tokio::test]
async fn post_call_webhook_is_signed_and_carries_the_transcript() {
    let (url, mut received) = receiver(0).await;
    let config = ElevenLabsSimConfig {
        webhook_url: Some(url),
        webhook_secret: SECRET.into(),
        ..fast_config()
    };
    let (conversation_id, _client, sim) = one_short_conversation(config).await;
    let (signature, body) = tokio::time::timeout(WAIT, received.recv())
        .await
        .expect("webhook delivered")
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    webhook::verify(
        SECRET,
        signature.as_deref(),
        &body,
        now,
        webhook::DEFAULT_TOLERANCE,
    )
    .expect("valid signature");
    assert!(webhook::verify(SECRET, None, &body, now, webhook::DEFAULT_TOLERANCE).is_err());
    let raw: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(raw["type"], "post_call_transcription");
    assert!(raw["data"]["metadata"]["phone_call"].is_null());
    let WebhookEvent::PostCallTranscription {
        event_timestamp,
        data,
    } = WebhookEvent::parse(&body).unwrap()
    else {
        panic!("not a transcription webhook");
    };
    assert!((event_timestamp - now).abs() < 60);
    assert_eq!(data.conversation_id, conversation_id);
    assert_eq!(data.agent_id, AGENT);
    assert_eq!(data.status, ConversationStatus::Done);
    assert_eq!(data.user_id.as_deref(), Some("contact-42"));
    assert_eq!(data.transcript[0].role, Role::Agent);
    assert_eq!(
        data.transcript[0].message.as_deref(),
        Some(parley_sim::personas::AGENT_GREETING)
    );
    let analysis = data.analysis.as_ref().unwrap();
    assert!(analysis.transcript_summary.is_some());
    assert_eq!(
        data.initiation_client_data().unwrap().dynamic_variables["call_id"],
        "c_1".into()
    );
    assert!(data.metadata.start_time_unix_secs.is_some());
    sim.sim
        .wait_for(WAIT, |all| {
            (all[0].webhook == WebhookDelivery::Delivered { attempts: 1 }).then_some(())
        })
        .await
        .expect("delivery recorded");
}

#[tokio::test]
async fn failed_webhooks_are_retried() {
    let (url, mut received) = receiver(2).await;
    let config = ElevenLabsSimConfig {
        webhook_url: Some(url),
        webhook_secret: SECRET.into(),
        ..fast_config()
    };
    let (conversation_id, _client, sim) = one_short_conversation(config).await;
    let (_, body) = tokio::time::timeout(WAIT, received.recv())
        .await
        .expect("webhook delivered after retries")
        .unwrap();
    assert_eq!(
        WebhookEvent::parse(&body).unwrap().conversation_id(),
        Some(conversation_id.as_str())
    );
    sim.sim
        .wait_for(WAIT, |all| {
            (all[0].webhook == WebhookDelivery::Delivered { attempts: 3 }).then_some(())
        })
        .await
        .expect("three attempts recorded");
}

#[tokio::test]
async fn no_webhook_without_a_url() {
    let (_, _client, sim) = one_short_conversation(fast_config()).await;
    let done = sim
        .sim
        .wait_for(WAIT, |all| {
            all.first()
                .filter(|c| c.status == ConversationStatus::Done)
                .cloned()
        })
        .await
        .unwrap();
    assert_eq!(done.webhook, WebhookDelivery::NotConfigured);
}
