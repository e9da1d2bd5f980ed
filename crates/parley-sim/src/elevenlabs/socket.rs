//! `GET /v1/convai/conversation`: checks the signed URL, then upgrades to the
//! conversation WebSocket. Refusals happen on the handshake, as HTTP errors (reference
//! F.8 allows either this or accept-then-close 1008).

use std::collections::HashMap;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::{conversation, ElevenLabsSim};

/// Largest client message accepted (the SDK uses 16 MiB).
const MAX_MESSAGE: usize = 16 << 20;
/// Client frames are small (20 ms of audio, about 300 bytes of JSON).
const READ_BUFFER: usize = 8 << 10;

pub(crate) async fn connect(
    State(sim): State<ElevenLabsSim>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match accept(&sim, &query) {
        Ok(agent_id) => match upgrade {
            Ok(upgrade) => upgrade
                .max_message_size(MAX_MESSAGE)
                .read_buffer_size(READ_BUFFER)
                .on_upgrade(move |socket| conversation::run(socket, sim.inner, agent_id)),
            Err(_) => ApiError::NotWebSocket.into_response(),
        },
        Err(error) => error.into_response(),
    }
}

/// The agent id, if the signed URL is valid.
fn accept(sim: &ElevenLabsSim, query: &HashMap<String, String>) -> Result<String, ApiError> {
    let agent_id = query
        .get("agent_id")
        .filter(|id| !id.is_empty())
        .ok_or(ApiError::MissingQuery("agent_id"))?;
    let signature = query
        .get("conversation_signature")
        .ok_or(ApiError::InvalidSignature)?;
    sim.inner.signer.check(agent_id, signature)?;
    Ok(agent_id.clone())
}
