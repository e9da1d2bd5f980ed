//! Axum's extractors with their rejections answered in the API's error format (axum's own
//! answer with plain text). What each rejection becomes follows the rule in the OpenAPI
//! description: 400 when the request cannot be read, 413 when it is too large.
use super::ApiError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// The raw body (for bodies that may be empty).
pub struct Bytes(pub bytes::Bytes);

impl<S: Send + Sync> FromRequest<S> for Bytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        bytes::Bytes::from_request(req, state)
            .await
            .map(Bytes)
            .map_err(|r| unreadable_body(r.status(), r.body_text()))
    }
}

/// A `multipart/form-data` upload; a missing or bad boundary is 400.
pub struct Multipart(pub axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for Multipart {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Multipart::from_request(req, state)
            .await
            .map(Multipart)
            .map_err(|r| {
                ApiError::bad_request(format!(
                    "send a multipart/form-data upload with its boundary ({})",
                    r.body_text()
                ))
            })
    }
}

/// A WebSocket handshake; any other request (a plain GET) is 400.
pub struct WebSocketUpgrade(pub axum::extract::ws::WebSocketUpgrade);

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::ws::WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map(WebSocketUpgrade)
            .map_err(|r| {
                ApiError::bad_request(format!(
                    "this endpoint is a WebSocket; open it with a WebSocket handshake ({})",
                    r.body_text()
                ))
            })
    }
}

/// A body that could not be read: too large (413) or broken off (400).
pub(super) fn unreadable_body(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            super::ErrorCode::PayloadTooLarge,
            "the request body is too large",
        )
    } else {
        ApiError::bad_request(text)
    }
}
