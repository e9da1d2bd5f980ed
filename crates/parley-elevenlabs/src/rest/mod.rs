//! ElevenLabs REST client: signed URLs (F.1), conversation details (H.1) and audio (H.2).

mod agents;
mod error;

use std::time::Duration;

use bytes::Bytes;
use reqwest::RequestBuilder;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::conversation::Conversation;

pub use agents::{AgentDetails, AgentPage, AgentSummary};
pub use error::ElevenLabsError;

pub const DEFAULT_BASE_URL: &str = "https://api.elevenlabs.io";
/// Header carrying the API key.
pub const API_KEY_HEADER: &str = "xi-api-key";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const AUDIO_TIMEOUT: Duration = Duration::from_secs(300);

/// Which signed-URL endpoint to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignedUrlEndpoint {
    /// `GET /v1/convai/conversation/get-signed-url`
    #[default]
    Current,
    /// `GET /v1/convai/conversation/get_signed_url` (deprecated alias)
    Legacy,
}

impl SignedUrlEndpoint {
    fn path(self) -> &'static str {
        match self {
            Self::Current => "/v1/convai/conversation/get-signed-url",
            Self::Legacy => "/v1/convai/conversation/get_signed_url",
        }
    }
}

#[derive(Deserialize)]
struct SignedUrlResponse {
    signed_url: String,
}

/// Client for the ElevenLabs API. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ElevenLabsClient {
    http: reqwest::Client,
    base_url: Url,
    /// Debug prints `[REDACTED]`.
    api_key: SecretString,
}

impl ElevenLabsClient {
    pub fn new(api_key: SecretString) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .expect("static reqwest configuration is valid");
        Self {
            http,
            base_url: Url::parse(DEFAULT_BASE_URL).expect("default base URL is valid"),
            api_key,
        }
    }

    /// Points the client elsewhere (a simulator, a regional host).
    pub fn with_base_url(mut self, base_url: &str) -> Result<Self, ElevenLabsError> {
        let url = Url::parse(base_url)
            .map_err(|e| ElevenLabsError::Local(format!("invalid base url {base_url:?}: {e}")))?;
        if url.cannot_be_a_base() {
            return Err(ElevenLabsError::Local(format!(
                "invalid base url {base_url:?}"
            )));
        }
        self.base_url = url;
        Ok(self)
    }

    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// URL of the signed-URL request for `agent_id` (query properly encoded).
    pub fn signed_url_request_url(&self, agent_id: &str, endpoint: SignedUrlEndpoint) -> Url {
        let mut url = self.base_url.clone();
        url.set_path(&join_path(self.base_url.path(), endpoint.path()));
        url.set_query(None);
        url.query_pairs_mut().append_pair("agent_id", agent_id);
        url
    }

    /// `base_url` + `segments`, each segment percent-encoded (ids cannot inject paths).
    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.base_url.clone();
        url.set_query(None);
        {
            let mut path = url
                .path_segments_mut()
                .expect("base url checked to be a base");
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }

    fn get(&self, url: Url, timeout: Duration) -> RequestBuilder {
        self.http
            .get(url)
            .timeout(timeout)
            .header(API_KEY_HEADER, self.api_key.expose_secret())
    }

    /// A single-use `wss://` URL for a conversation with `agent_id` (valid 15 minutes for
    /// starting a conversation). Treat it as opaque.
    pub async fn get_signed_url(&self, agent_id: &str) -> Result<String, ElevenLabsError> {
        self.get_signed_url_from(agent_id, SignedUrlEndpoint::Current)
            .await
    }

    pub async fn get_signed_url_from(
        &self,
        agent_id: &str,
        endpoint: SignedUrlEndpoint,
    ) -> Result<String, ElevenLabsError> {
        if agent_id.is_empty() {
            return Err(ElevenLabsError::Local("agent_id is required".into()));
        }
        let url = self.signed_url_request_url(agent_id, endpoint);
        let body = send(self.get(url, REQUEST_TIMEOUT)).await?;
        let response: SignedUrlResponse = serde_json::from_slice(&body)
            .map_err(|e| ElevenLabsError::InvalidResponse(e.to_string()))?;
        Ok(response.signed_url)
    }

    /// Conversation details; poll until [`Conversation::is_final`].
    pub async fn get_conversation(
        &self,
        conversation_id: &str,
    ) -> Result<Conversation, ElevenLabsError> {
        let url = self.endpoint(&["v1", "convai", "conversations", conversation_id]);
        let body = send(self.get(url, REQUEST_TIMEOUT)).await?;
        serde_json::from_slice(&body).map_err(|e| ElevenLabsError::InvalidResponse(e.to_string()))
    }

    /// The full conversation recording (`audio/mpeg`).
    pub async fn get_conversation_audio(
        &self,
        conversation_id: &str,
    ) -> Result<Bytes, ElevenLabsError> {
        let url = self.endpoint(&["v1", "convai", "conversations", conversation_id, "audio"]);
        send(self.get(url, AUDIO_TIMEOUT)).await
    }
}

fn join_path(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

async fn send(request: RequestBuilder) -> Result<Bytes, ElevenLabsError> {
    let response = request
        .send()
        .await
        .map_err(|e| error::from_transport(&e))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| error::from_transport(&e))?;
    if !(200..300).contains(&status) {
        return Err(error::from_response(status, &body));
    }
    Ok(body)
}

#[cfg(test)]
mod tests;
