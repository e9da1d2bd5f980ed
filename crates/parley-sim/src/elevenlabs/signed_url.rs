//! Signed conversation URLs (reference F.1): `GET /v1/convai/conversation/get-signed-url`.
//!
//! The signature is stateless: expiry, a nonce and an HMAC over the agent id and both, so
//! issuing URLs costs no memory and a forged or altered one fails the MAC.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::Json;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde_json::{json, Value};
use sha2::Sha256;

use super::error::ApiError;
use super::{authorize, magic, ElevenLabsSim};

/// Issues and checks `conversation_signature` values.
#[derive(Debug)]
pub(crate) struct Signer {
    key: [u8; 32],
}

impl Signer {
    pub(crate) fn new() -> Self {
        let mut key = [0; 32];
        rand::thread_rng().fill_bytes(&mut key);
        Self { key }
    }

    pub(crate) fn issue(&self, agent_id: &str, ttl: Duration) -> String {
        let expires = unix_ms().saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        let mut nonce = [0; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let nonce = hex::encode(nonce);
        format!("{expires}.{nonce}.{}", self.mac(agent_id, expires, &nonce))
    }

    /// Whether `signature` was issued by this simulator for `agent_id` and is unexpired.
    pub(crate) fn check(&self, agent_id: &str, signature: &str) -> Result<(), ApiError> {
        let mut parts = signature.splitn(3, '.');
        let (Some(expires), Some(nonce), Some(mac)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(ApiError::InvalidSignature);
        };
        let expires: u64 = expires.parse().map_err(|_| ApiError::InvalidSignature)?;
        let expected = self.mac(agent_id, expires, nonce);
        // Both are hex of a MAC the caller cannot steer; a plain compare leaks nothing useful.
        if mac != expected {
            return Err(ApiError::InvalidSignature);
        }
        if unix_ms() >= expires {
            return Err(ApiError::ExpiredSignature);
        }
        Ok(())
    }

    fn mac(&self, agent_id: &str, expires: u64, nonce: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length works");
        mac.update(format!("{agent_id}\n{expires}\n{nonce}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Both the current and the deprecated (`get_signed_url`) path.
pub(crate) async fn get_signed_url(
    State(sim): State<ElevenLabsSim>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    authorize(&sim.inner.config, &headers)?;
    let agent_id = query
        .get("agent_id")
        .filter(|id| !id.is_empty())
        .ok_or(ApiError::MissingQuery("agent_id"))?;
    match agent_id.as_str() {
        magic::SIGNED_URL_FAILS => return Err(ApiError::SignedUrlFailure),
        magic::UNKNOWN => return Err(ApiError::AgentNotFound),
        _ => {}
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
        .ok_or(ApiError::MissingHost)?;
    // Behind a TLS-terminating proxy, hand out a URL the client can actually reach.
    let scheme = match headers.get("x-forwarded-proto").map(|v| v.as_bytes()) {
        Some(b"https") => "wss",
        _ => "ws",
    };
    let mut url = url::Url::parse(&format!("{scheme}://{host}{}", super::CONVERSATION_PATH))
        .map_err(|_| ApiError::MissingHost)?;
    let signature = sim
        .inner
        .signer
        .issue(agent_id, sim.inner.config.signed_url_ttl);
    url.query_pairs_mut()
        .append_pair("agent_id", agent_id)
        .append_pair("conversation_signature", &signature);
    Ok(Json(json!({ "signed_url": url.as_str() })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_bound_to_agent_and_time() {
        let signer = Signer::new();
        let signature = signer.issue("agent_a", Duration::from_secs(60));
        assert_eq!(signer.check("agent_a", &signature), Ok(()));
        assert_eq!(
            signer.check("agent_b", &signature),
            Err(ApiError::InvalidSignature)
        );
        assert_eq!(
            Signer::new().check("agent_a", &signature),
            Err(ApiError::InvalidSignature)
        );
        let mut parts: Vec<&str> = signature.split('.').collect();
        let later = (unix_ms() + 3_600_000).to_string();
        parts[0] = &later;
        assert_eq!(
            signer.check("agent_a", &parts.join(".")),
            Err(ApiError::InvalidSignature),
            "extending the expiry breaks the MAC"
        );
        assert_eq!(
            signer.check("agent_a", "junk"),
            Err(ApiError::InvalidSignature)
        );
        let expired = signer.issue("agent_a", Duration::ZERO);
        assert_eq!(
            signer.check("agent_a", &expired),
            Err(ApiError::ExpiredSignature)
        );
    }
}
