//! Post-call webhooks (reference G): payload types and `ElevenLabs-Signature`.
//!
//! Header: `t=<unix seconds>,v0=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. Verify over the
//! raw body bytes exactly as received, before parsing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::conversation::Conversation;

/// Header name (case-insensitive on the wire).
pub const SIGNATURE_HEADER: &str = "ElevenLabs-Signature";
/// How old a signed timestamp may be. The SDK allows 30 minutes; a replayed webhook
/// rewrites the transcript and queues another `call.analyzed`, so Parley allows 5.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);
/// How far in the future a signed timestamp may be: clock skew between ElevenLabs and this
/// node, not a way to sign requests ahead of time.
pub const DEFAULT_FUTURE_SKEW: Duration = Duration::from_secs(30);

/// A post-call webhook body, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WebhookEvent {
    PostCallTranscription {
        event_timestamp: i64,
        /// Boxed: far larger than the other variants.
        data: Box<Conversation>,
    },
    PostCallAudio {
        event_timestamp: i64,
        data: PostCallAudio,
    },
    /// Only for calls ElevenLabs places itself (not our bridge).
    CallInitiationFailure {
        event_timestamp: i64,
        data: CallInitiationFailure,
    },
    /// A type this crate does not know: acknowledge and ignore.
    #[serde(other)]
    Unknown,
}

impl WebhookEvent {
    pub fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }

    pub fn conversation_id(&self) -> Option<&str> {
        match self {
            Self::PostCallTranscription { data, .. } => Some(&data.conversation_id),
            Self::PostCallAudio { data, .. } => Some(&data.conversation_id),
            Self::CallInitiationFailure { data, .. } => data.conversation_id.as_deref(),
            Self::Unknown => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostCallAudio {
    pub agent_id: String,
    pub conversation_id: String,
    /// Base64 MP3 of the whole conversation.
    pub full_audio: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallInitiationFailure {
    pub agent_id: String,
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// `busy`, `no-answer`, `unknown` (values unconfirmed).
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub metadata: Option<Value>,
}

/// Why a webhook signature was rejected. Messages follow the official SDK's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("Missing signature header")]
    MissingHeader,
    #[error("Malformed signature header: no valid timestamp")]
    MalformedHeader,
    #[error("No signature hash found with expected scheme v0")]
    MissingV0,
    #[error("Timestamp outside the tolerance zone")]
    Stale,
    #[error("Timestamp is in the future")]
    Future,
    #[error("Signature hash does not match the expected signature hash for payload")]
    Mismatch,
}

/// Computes the `ElevenLabs-Signature` header value for `body` sent at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},{}", v0(secret, timestamp, body))
}

fn v0(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Verifies `header` (None if the request had none) for `body` at time `now_unix`.
///
/// Timestamps older than `tolerance` or more than [`DEFAULT_FUTURE_SKEW`] ahead of
/// `now_unix` are rejected (the SDK accepts future ones; a captured request could then be
/// replayed for as long as its timestamp is ahead). Several `v0=` parts are accepted
/// (secret rotation); any match passes.
pub fn verify(
    secret: &str,
    header: Option<&str>,
    body: &[u8],
    now_unix: i64,
    tolerance: Duration,
) -> Result<i64, SignatureError> {
    let header = header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(SignatureError::MissingHeader)?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',').map(str::trim) {
        if let Some(t) = part.strip_prefix("t=") {
            timestamp = Some(
                t.parse::<i64>()
                    .map_err(|_| SignatureError::MalformedHeader)?,
            );
        } else if part.starts_with("v0=") {
            candidates.push(part);
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::MalformedHeader)?;
    if candidates.is_empty() {
        return Err(SignatureError::MissingV0);
    }
    let tolerance_secs = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if timestamp < now_unix.saturating_sub(tolerance_secs) {
        return Err(SignatureError::Stale);
    }
    let skew_secs = i64::try_from(DEFAULT_FUTURE_SKEW.as_secs()).unwrap_or(i64::MAX);
    if timestamp > now_unix.saturating_add(skew_secs) {
        return Err(SignatureError::Future);
    }
    let expected = v0(secret, timestamp, body);
    let matched = candidates.iter().fold(false, |any, c| {
        any | bool::from(c.as_bytes().ct_eq(expected.as_bytes()))
    });
    if matched {
        Ok(timestamp)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Holds the webhook secret and tolerance; verifies against the system clock.
#[derive(Debug, Clone)]
pub struct WebhookVerifier {
    secret: secrecy::SecretString,
    tolerance: Duration,
}

impl WebhookVerifier {
    pub fn new(secret: secrecy::SecretString) -> Self {
        Self {
            secret,
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies at the current time; returns the signed timestamp.
    pub fn verify(&self, header: Option<&str>, body: &[u8]) -> Result<i64, SignatureError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.verify_at(header, body, now)
    }

    pub fn verify_at(
        &self,
        header: Option<&str>,
        body: &[u8],
        now_unix: i64,
    ) -> Result<i64, SignatureError> {
        use secrecy::ExposeSecret;
        verify(
            self.secret.expose_secret(),
            header,
            body,
            now_unix,
            self.tolerance,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wsec_test_secret_123456";
    const BODY: &[u8] =
        br#"{"type":"post_call_transcription","event_timestamp":1739537297,"data":{"conversation_id":"abc"}}"#;
    const HEADER: &str =
        "t=1739537297,v0=8216454b90ccc949a1ab75a8897cfd03474c7fad13976e64ad8ef9a87617d00d";
    const T: i64 = 1_739_537_297;

    #[test]
    fn reference_vector() {
        assert_eq!(sign(SECRET, T, BODY), HEADER);
        assert_eq!(
            verify(SECRET, Some(HEADER), BODY, T + 60, DEFAULT_TOLERANCE),
            Ok(T)
        );
    }

    #[test]
    fn rejects_bad_signatures() {
        assert_eq!(
            verify("wsec_other", Some(HEADER), BODY, T, DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch)
        );
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            verify(SECRET, Some(HEADER), &tampered, T, DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch)
        );
        // Moving the timestamp invalidates the hash.
        let shifted = HEADER.replace("t=1739537297", "t=1739537298");
        assert_eq!(
            verify(SECRET, Some(&shifted), BODY, T, DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch)
        );
        let upper = HEADER
            .to_uppercase()
            .replace("T=", "t=")
            .replace("V0=", "v0=");
        assert_eq!(
            verify(SECRET, Some(&upper), BODY, T, DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch),
            "hex must be lowercase"
        );
    }

    #[test]
    fn enforces_the_tolerance() {
        let limit = T + 5 * 60;
        assert_eq!(
            verify(SECRET, Some(HEADER), BODY, limit, DEFAULT_TOLERANCE),
            Ok(T)
        );
        assert_eq!(
            verify(SECRET, Some(HEADER), BODY, limit + 1, DEFAULT_TOLERANCE),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, Some(HEADER), BODY, T + 10, Duration::from_secs(5)),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, Some(HEADER), BODY, T - 3600, DEFAULT_TOLERANCE),
            Err(SignatureError::Future),
            "signed an hour ahead of our clock"
        );
    }

    #[test]
    fn allows_30_seconds_of_clock_skew_and_no_more() {
        // The reference vector, received by a node whose clock is behind ElevenLabs'.
        assert_eq!(
            verify(SECRET, Some(HEADER), BODY, T - 30, DEFAULT_TOLERANCE),
            Ok(T)
        );
        assert_eq!(
            verify(SECRET, Some(HEADER), BODY, T - 31, DEFAULT_TOLERANCE),
            Err(SignatureError::Future)
        );
        // A bad hash is still a bad hash whatever the clock says: the timestamp is
        // checked first only because it is cheaper.
        let forged = HEADER.replace("v0=8", "v0=9");
        assert_eq!(
            verify(SECRET, Some(&forged), BODY, T, DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn rejects_malformed_headers() {
        let check = |header: Option<&str>| verify(SECRET, header, BODY, T, DEFAULT_TOLERANCE);
        assert_eq!(check(None), Err(SignatureError::MissingHeader));
        assert_eq!(check(Some("  ")), Err(SignatureError::MissingHeader));
        assert_eq!(
            check(Some(
                "v0=8216454b90ccc949a1ab75a8897cfd03474c7fad13976e64ad8ef9a87617d00d"
            )),
            Err(SignatureError::MalformedHeader)
        );
        assert_eq!(
            check(Some("t=abc,v0=00")),
            Err(SignatureError::MalformedHeader)
        );
        assert_eq!(check(Some("t=1739537297")), Err(SignatureError::MissingV0));
        assert_eq!(
            check(Some(
                "t=1739537297,v1=8216454b90ccc949a1ab75a8897cfd03474c7fad13976e64ad8ef9a87617d00d"
            )),
            Err(SignatureError::MissingV0)
        );
        assert_eq!(check(Some("garbage")), Err(SignatureError::MalformedHeader));
    }

    #[test]
    fn accepts_spaces_and_any_matching_v0() {
        let header = "t=1739537297, v0=deadbeef, v0=8216454b90ccc949a1ab75a8897cfd03474c7fad13976e64ad8ef9a87617d00d";
        assert_eq!(
            verify(SECRET, Some(header), BODY, T, DEFAULT_TOLERANCE),
            Ok(T)
        );
    }

    #[test]
    fn verifier_uses_its_secret_and_tolerance() {
        let verifier = WebhookVerifier::new(SECRET.into()).with_tolerance(Duration::from_secs(60));
        assert_eq!(verifier.verify_at(Some(HEADER), BODY, T + 60), Ok(T));
        assert_eq!(
            verifier.verify_at(Some(HEADER), BODY, T + 61),
            Err(SignatureError::Stale)
        );
        // Against the real clock, the 2025 reference vector is long stale.
        assert_eq!(
            verifier.verify(Some(HEADER), BODY),
            Err(SignatureError::Stale)
        );
        let fresh_t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let fresh = sign(SECRET, fresh_t, BODY);
        assert_eq!(verifier.verify(Some(&fresh), BODY), Ok(fresh_t));
        assert!(!format!("{verifier:?}").contains(SECRET));
    }

    #[test]
    fn parses_the_reference_transcription_webhook() {
        let body = format!(
            r#"{{"type":"post_call_transcription","event_timestamp":1739537297,"data":{}}}"#,
            crate::conversation::tests::REFERENCE_DATA
        );
        let event = WebhookEvent::parse(body.as_bytes()).unwrap();
        assert_eq!(event.conversation_id(), Some("conv_01jx"));
        let WebhookEvent::PostCallTranscription {
            event_timestamp,
            data,
        } = event
        else {
            panic!("wrong variant");
        };
        assert_eq!(event_timestamp, 1_739_537_297);
        assert_eq!(
            data.analysis.unwrap().transcript_summary.as_deref(),
            Some("Maya called John about …")
        );
    }

    #[test]
    fn parses_audio_and_failure_webhooks() {
        let audio = WebhookEvent::parse(
            br#"{"type":"post_call_audio","event_timestamp":1739537319,"data":{"agent_id":"agent_1","conversation_id":"conv_1","full_audio":"SUQz"}}"#,
        )
        .unwrap();
        assert_eq!(
            audio,
            WebhookEvent::PostCallAudio {
                event_timestamp: 1_739_537_319,
                data: PostCallAudio {
                    agent_id: "agent_1".into(),
                    conversation_id: "conv_1".into(),
                    full_audio: "SUQz".into()
                }
            }
        );
        let failure = WebhookEvent::parse(
            br#"{"type":"call_initiation_failure","event_timestamp":1759931652,"data":{"agent_id":"agent_1","conversation_id":"conv_2","failure_reason":"busy","metadata":{"type":"twilio","body":{"CallSid":"CA1","CallStatus":"busy"}}}}"#,
        )
        .unwrap();
        assert_eq!(failure.conversation_id(), Some("conv_2"));
        let WebhookEvent::CallInitiationFailure { data, .. } = failure else {
            panic!("wrong variant");
        };
        assert_eq!(data.failure_reason.as_deref(), Some("busy"));
        assert_eq!(data.metadata.unwrap()["body"]["CallStatus"], "busy");
        assert_eq!(
            WebhookEvent::parse(br#"{"type":"post_call_something","event_timestamp":1,"data":{}}"#)
                .unwrap(),
            WebhookEvent::Unknown
        );
    }

    #[test]
    fn signed_simulator_payload_verifies_and_parses() {
        let event = WebhookEvent::PostCallAudio {
            event_timestamp: T,
            data: PostCallAudio {
                agent_id: "a".into(),
                conversation_id: "c".into(),
                full_audio: "AA==".into(),
            },
        };
        let body = serde_json::to_vec(&event).unwrap();
        let header = sign(SECRET, T, &body);
        assert_eq!(
            verify(SECRET, Some(&header), &body, T, DEFAULT_TOLERANCE),
            Ok(T)
        );
        assert_eq!(WebhookEvent::parse(&body).unwrap(), event);
    }
}
