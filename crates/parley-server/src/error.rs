//! The one API error type: a stable JSON body `{ "error": { "code", "message", "details" } }`
//! and a small code -> status table. Internal detail is logged, never returned.
//!
//! 400 (`bad_request`) and 422 (`validation_failed`) split on one rule, stated in the
//! OpenAPI description ([`STATUS_RULE`]): 400 when the request cannot be read into the
//! operation's types, 422 when it was read but a value breaks a rule.
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use parley_domain::FieldErrors;
use parley_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// Which of 400 and 422 an invalid request gets, for the API description.
pub const STATUS_RULE: &str = "**400** `bad_request`: the request could not be read: malformed \
    JSON or not JSON, a wrong type, a missing or unknown field, a value not in its declared \
    format (an RFC 3339 time, a `cursor` this API gave out), a bad query string or path \
    segment, a broken multipart upload or a plain request to a WebSocket endpoint. \
    **422** `validation_failed`: the request was read, but a value breaks a rule: a range or \
    length, a phone number, a time zone, a combination of fields, or another domain rule; \
    `details.fields` names the fields when they are known.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    PayloadTooLarge,
    ValidationFailed,
    RateLimited,
    /// A service Parley called on the user's behalf (Google Sheets) failed or is down.
    Upstream,
    Internal,
    /// The node is at a capacity limit; try again shortly.
    ServiceUnavailable,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Upstream => StatusCode::BAD_GATEWAY,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<serde_json::Value>,
    /// Seconds, for 429 answers.
    pub retry_after: Option<u64>,
}

/// The error body, as documented in the OpenAPI document.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorContent,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorContent {
    pub code: ErrorCode,
    pub message: String,
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    /// The request's id, as in the `X-Request-Id` header and the server's log lines.
    pub request_id: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            ErrorCode::Unauthorized,
            "sign in or send an API key as `Authorization: Bearer <key>`",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn validation(errors: FieldErrors) -> Self {
        Self::new(
            ErrorCode::ValidationFailed,
            format!("some fields are not valid: {errors}"),
        )
        .with_details(serde_json::json!({ "fields": errors }))
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut e = FieldErrors::new();
        e.add(field, message);
        Self::validation(e)
    }

    /// Logs the real cause and returns a message that reveals nothing internal.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            ErrorCode::Internal,
            "something went wrong on our side; it has been logged",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let body = ErrorBody {
            error: ErrorContent {
                code: self.code,
                message: self.message,
                details: self.details,
                request_id: crate::request_id::current(),
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::new(ErrorCode::NotFound, "not found"),
            StoreError::Conflict(msg) => ApiError::new(ErrorCode::Conflict, msg),
            StoreError::IllegalTransition(t) => ApiError::new(ErrorCode::Conflict, t.to_string())
                .with_details(serde_json::json!({ "current_state": t.from })),
            StoreError::CampaignState { state, .. } => {
                ApiError::new(ErrorCode::Conflict, e.to_string())
                    .with_details(serde_json::json!({ "current_state": state }))
            }
            StoreError::Invalid(errors) => ApiError::validation(errors),
            other => ApiError::internal(other),
        }
    }
}

/// Every JSON rejection means the body could not be read (400: not JSON, malformed, a wrong
/// type, a missing or unknown field), except a body that is too large (413).
impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        extract::unreadable_body(r.status(), r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

pub mod extract;

/// Names what was not found, for store results.
pub trait OrNotFound<T> {
    fn or_not_found(self, what: &str) -> ApiResult<T>;
}

impl<T> OrNotFound<T> for Result<T, StoreError> {
    fn or_not_found(self, what: &str) -> ApiResult<T> {
        self.map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found(what),
            other => other.into(),
        })
    }
}
