//! ElevenLabs REST errors.

use parley_domain::mask_phone_numbers;
use serde_json::Value;

/// A failed ElevenLabs REST request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElevenLabsError {
    /// 401/403: bad or missing API key, or no permission.
    #[error("elevenlabs rejected the credentials (http {status}): {message}")]
    Unauthorized { status: u16, message: String },
    #[error("elevenlabs resource not found: {message}")]
    NotFound { message: String },
    /// 400/422: the request is invalid; do not retry.
    #[error("elevenlabs rejected the request (http {status}): {message}")]
    InvalidRequest { status: u16, message: String },
    /// 429 or 5xx: retry with backoff.
    #[error("elevenlabs is temporarily unavailable (http {status}): {message}")]
    Unavailable { status: u16, message: String },
    /// Any other HTTP status.
    #[error("elevenlabs request failed (http {status}): {message}")]
    Http { status: u16, message: String },
    /// No response (connection, timeout): retry with backoff.
    #[error("elevenlabs transport error: {0}")]
    Transport(String),
    /// A success response we could not read.
    #[error("unreadable elevenlabs response: {0}")]
    InvalidResponse(String),
    /// Refused locally before sending.
    #[error("invalid elevenlabs request: {0}")]
    Local(String),
}

impl ElevenLabsError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Transport(_))
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Unauthorized { status, .. }
            | Self::InvalidRequest { status, .. }
            | Self::Unavailable { status, .. }
            | Self::Http { status, .. } => Some(*status),
            Self::NotFound { .. } => Some(404),
            Self::Transport(_) | Self::InvalidResponse(_) | Self::Local(_) => None,
        }
    }
}

const MAX_RAW_MESSAGE: usize = 300;

/// Maps an error response to an [`ElevenLabsError`], extracting the most useful message
/// from the known body shapes: `{"detail":{"status","message"}}`, `{"detail":[{"msg"...}]}`
/// (validation) or `{"detail":"..."}`. Phone numbers in it (a dynamic variable echoed in
/// a validation error, say) are masked before the text can reach a log line.
pub(crate) fn from_response(status: u16, body: &[u8]) -> ElevenLabsError {
    let message = detail_message(body).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            format!("http status {status}")
        } else {
            text.chars().take(MAX_RAW_MESSAGE).collect()
        }
    });
    let message = mask_phone_numbers(&message).into_owned();
    match status {
        401 | 403 => ElevenLabsError::Unauthorized { status, message },
        404 => ElevenLabsError::NotFound { message },
        400 | 422 => ElevenLabsError::InvalidRequest { status, message },
        429 | 500..=599 => ElevenLabsError::Unavailable { status, message },
        _ => ElevenLabsError::Http { status, message },
    }
}

fn detail_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    match value.get("detail")? {
        Value::String(text) => Some(text.clone()),
        Value::Object(detail) => {
            let message = detail.get("message").and_then(Value::as_str);
            let status = detail.get("status").and_then(Value::as_str);
            match (status, message) {
                (Some(status), Some(message)) => Some(format!("{status}: {message}")),
                (None, Some(message)) => Some(message.to_owned()),
                (Some(status), None) => Some(status.to_owned()),
                (None, None) => None,
            }
        }
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|item| {
                    let location = item
                        .get("loc")
                        .and_then(Value::as_array)
                        .map(|loc| {
                            loc.iter()
                                .map(|part| match part {
                                    Value::String(s) => s.clone(),
                                    other => other.to_string(),
                                })
                                .collect::<Vec<_>>()
                                .join(".")
                        })
                        .unwrap_or_default();
                    let msg = item.get("msg").and_then(Value::as_str).unwrap_or("invalid");
                    format!("{location}: {msg}")
                })
                .collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
        _ => None,
    }
}

pub(crate) fn from_transport(error: &reqwest::Error) -> ElevenLabsError {
    // The error names the URL, whose query may carry caller-supplied values.
    let text = mask_phone_numbers(&error.to_string()).into_owned();
    if error.is_builder() {
        return ElevenLabsError::Local(text);
    }
    ElevenLabsError::Transport(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_api_key() {
        let err = from_response(
            401,
            br#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#,
        );
        assert_eq!(
            err,
            ElevenLabsError::Unauthorized {
                status: 401,
                message: "invalid_api_key: Invalid API key".into()
            }
        );
        assert!(!err.is_retryable());
    }

    #[test]
    fn validation_error_lists_locations() {
        let err = from_response(
            422,
            br#"{"detail":[{"loc":["query","agent_id"],"msg":"field required","type":"value_error.missing"}]}"#,
        );
        assert_eq!(
            err,
            ElevenLabsError::InvalidRequest {
                status: 422,
                message: "query.agent_id: field required".into()
            }
        );
    }

    #[test]
    fn phone_numbers_in_error_text_are_masked() {
        let err = from_response(
            422,
            br#"{"detail":[{"loc":["body","phone"],"msg":"+15550100008 is not allowed"}]}"#,
        );
        assert_eq!(
            err.to_string(),
            "elevenlabs rejected the request (http 422): body.phone: +1********08 is not allowed"
        );
        let raw = from_response(500, b"upstream said 4155552671");
        assert!(!raw.to_string().contains("5552671"), "{raw}");
    }

    #[test]
    fn other_statuses() {
        assert!(
            matches!(from_response(404, br#"{"detail":"Not Found"}"#), ElevenLabsError::NotFound { message } if message == "Not Found")
        );
        assert!(from_response(429, b"").is_retryable());
        let err = from_response(502, b"<html>bad gateway</html>");
        assert!(err.is_retryable());
        assert_eq!(err.status(), Some(502));
        assert!(matches!(
            from_response(409, b"{}"),
            ElevenLabsError::Http { status: 409, .. }
        ));
        assert!(ElevenLabsError::Transport("reset".into()).is_retryable());
    }
}
