//! ElevenLabs' post-call webhook, verified with the `ElevenLabs-Signature` HMAC.
use crate::error::{ApiError, ErrorCode};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use parley_elevenlabs::webhook::{WebhookVerifier, SIGNATURE_HEADER};
use parley_engine::calls::post_call::PostCallError;

pub async fn post_call(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let forbidden = || ApiError::new(ErrorCode::Forbidden, "invalid ElevenLabs signature");
    let logs = &state.refusal_logs.forged_elevenlabs;
    let Some(secret) = state.engine.telephony.elevenlabs_webhook_secret.as_ref() else {
        if logs.ready() {
            tracing::warn!("post-call webhook refused: elevenlabs.webhook_secret is not set");
        }
        return Err(forbidden());
    };
    let header = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    WebhookVerifier::new(secret.clone())
        .verify(header, &body)
        .map_err(|e| {
            if logs.ready() {
                tracing::warn!(error = %e, "post-call webhook with a bad signature refused");
            }
            forbidden()
        })?;
    state
        .engine
        .on_post_call_webhook(&body)
        .await
        .map_err(|e| match e {
            PostCallError::Malformed(m) => ApiError::bad_request(m),
            other => ApiError::internal(other),
        })?;
    Ok(StatusCode::NO_CONTENT)
}
