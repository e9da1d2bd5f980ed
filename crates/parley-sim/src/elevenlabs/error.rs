//! Error answers in the shapes the real API uses (reference F–H, "Common REST facts").

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Why the simulator refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("Invalid API key")]
    InvalidApiKey,
    #[error("field required")]
    MissingQuery(&'static str),
    #[error("ensure this value is between 1 and 100")]
    QueryOutOfRange(&'static str),
    #[error("Agent not found")]
    AgentNotFound,
    #[error("Failed to generate a signed URL")]
    SignedUrlFailure,
    #[error("Conversation not found")]
    ConversationNotFound,
    #[error("Missing Host header")]
    MissingHost,
    #[error("Invalid conversation signature")]
    InvalidSignature,
    #[error("Conversation signature has expired")]
    ExpiredSignature,
    #[error("Expected a WebSocket upgrade")]
    NotWebSocket,
    #[error("Recording unavailable")]
    Recording,
    /// Audio is only ready once post-call processing is done.
    #[error("Conversation is still being processed")]
    NotReady,
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::InvalidApiKey => StatusCode::UNAUTHORIZED,
            Self::MissingQuery(_) | Self::QueryOutOfRange(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::AgentNotFound | Self::ConversationNotFound => StatusCode::NOT_FOUND,
            Self::SignedUrlFailure | Self::Recording => StatusCode::INTERNAL_SERVER_ERROR,
            Self::MissingHost | Self::NotWebSocket => StatusCode::BAD_REQUEST,
            Self::InvalidSignature | Self::ExpiredSignature => StatusCode::FORBIDDEN,
            Self::NotReady => StatusCode::TOO_EARLY,
        }
    }

    /// The `detail.status` code word.
    fn code(&self) -> &'static str {
        match self {
            Self::InvalidApiKey => "invalid_api_key",
            Self::MissingQuery(_) => "value_error.missing",
            Self::QueryOutOfRange(_) => "value_error.number.not_le",
            Self::AgentNotFound => "agent_not_found",
            Self::SignedUrlFailure | Self::Recording => "internal_error",
            Self::ConversationNotFound => "conversation_not_found",
            Self::MissingHost | Self::NotWebSocket => "invalid_request",
            Self::InvalidSignature => "invalid_signature",
            Self::ExpiredSignature => "signature_expired",
            Self::NotReady => "conversation_not_ready",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match &self {
            // FastAPI-style validation error (reference: HTTPValidationError).
            Self::MissingQuery(field) | Self::QueryOutOfRange(field) => json!({"detail": [{
                "loc": ["query", field],
                "msg": self.to_string(),
                "type": self.code(),
            }]}),
            _ => json!({"detail": {"status": self.code(), "message": self.to_string()}}),
        };
        (self.status(), Json(body)).into_response()
    }
}
