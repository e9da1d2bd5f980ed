//! Post-call webhook `post_call_transcription` (reference G), signed per G.3.

use std::time::Duration;

use parley_elevenlabs::webhook::{sign, WebhookEvent, SIGNATURE_HEADER};

use super::record::WebhookDelivery;
use super::Inner;

/// Delivery attempts before giving up (the real service retries only when configured to).
const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why one delivery attempt failed.
#[derive(Debug, thiserror::Error)]
enum DeliveryError {
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("receiver answered http {0}")]
    Status(u16),
}

/// Sends the webhook for a `done` conversation, retrying with backoff, and records the
/// outcome in the conversation's summary.
pub(crate) async fn deliver(inner: &Inner, conversation_id: &str) {
    let Some(url) = inner.config.webhook_url.clone() else {
        return;
    };
    let Some(event) = inner
        .store
        .read(conversation_id, |r| WebhookEvent::PostCallTranscription {
            event_timestamp: chrono::Utc::now().timestamp(),
            data: Box::new(r.to_conversation()),
        })
    else {
        return;
    };
    let body = serde_json::to_vec(&event).expect("conversations always serialize");
    let mut backoff = FIRST_BACKOFF;
    let mut outcome = WebhookDelivery::Pending;
    for attempt in 1..=ATTEMPTS {
        match post(inner, &url, &body).await {
            Ok(()) => {
                outcome = WebhookDelivery::Delivered { attempts: attempt };
                break;
            }
            Err(error) => {
                tracing::debug!(%error, attempt, conversation_id, "post-call webhook failed");
                outcome = WebhookDelivery::Failed {
                    attempts: attempt,
                    error: error.to_string(),
                };
                if attempt < ATTEMPTS {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
            }
        }
    }
    if let WebhookDelivery::Failed { error, .. } = &outcome {
        tracing::warn!(%error, conversation_id, "post-call webhook not delivered");
    }
    inner
        .store
        .update(conversation_id, |r| r.summary.webhook = outcome);
}

async fn post(inner: &Inner, url: &str, body: &[u8]) -> Result<(), DeliveryError> {
    // Signed per attempt: a retry carries a fresh timestamp, as a new request would.
    let signature = sign(
        &inner.config.webhook_secret,
        chrono::Utc::now().timestamp(),
        body,
    );
    let response = inner
        .http
        .post(url)
        .timeout(REQUEST_TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .body(body.to_vec())
        .send()
        .await?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(DeliveryError::Status(status.as_u16()))
    }
}
