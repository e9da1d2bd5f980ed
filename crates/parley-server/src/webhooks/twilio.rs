//! Twilio's requests: the TwiML fetch, status / AMD / recording callbacks, and the media
//! stream WebSocket.
use crate::error::{ApiError, ErrorCode};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_engine::bridge::{MEDIA_MAX_MESSAGE, SOCKET_READ_BUFFER, SOCKET_WRITE_BUFFER};
use parley_engine::calls::callbacks::CallbackError;
use parley_engine::calls::CallError;
use parley_twilio::signature;

const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// A form body whose signature checked out.
struct Verified(Vec<(String, String)>);

/// Checks `X-Twilio-Signature` over the URL Twilio called (our public URL for this
/// path and query) and the form parameters.
fn verify(
    state: &AppState,
    uri: &OriginalUri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Verified, ApiError> {
    let forbidden = || ApiError::new(ErrorCode::Forbidden, "invalid Twilio signature");
    let sig = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(forbidden)?;
    let path = uri.0.path_and_query().map_or(uri.0.path(), |p| p.as_str());
    let url = state.engine.telephony.public_url(path);
    let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    if !signature::validate_form(state.engine.telephony.twilio_token(), &url, &params, sig) {
        tracing::warn!(
            route = uri.0.path(),
            "twilio request with a bad signature refused"
        );
        return Err(forbidden());
    }
    Ok(Verified(params))
}

fn callback_error(e: CallbackError) -> ApiError {
    match e {
        CallbackError::Malformed(m) => ApiError::bad_request(m),
        CallbackError::WrongCall => {
            ApiError::new(ErrorCode::Forbidden, "callback for another call")
        }
        CallbackError::Call(CallError::Store(parley_store::StoreError::NotFound)) => {
            ApiError::not_found("call")
        }
        // 5xx makes Twilio retry, which is what we want for our own failures.
        other => ApiError::internal(other),
    }
}

pub async fn twiml(
    State(state): State<AppState>,
    Path(call_id): Path<i64>,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    verify(&state, &uri, &headers, &body)?;
    let xml = state.engine.twiml_for(call_id).await.map_err(|e| match e {
        CallError::Store(parley_store::StoreError::NotFound) => ApiError::not_found("call"),
        other => ApiError::internal(other),
    })?;
    Ok(([(header::CONTENT_TYPE, "text/xml")], xml).into_response())
}

/// Which Twilio callback a request is.
#[derive(Debug, Clone, Copy)]
pub enum Callback {
    Status,
    Amd,
    Recording,
}

async fn callback(
    state: AppState,
    kind: Callback,
    call_id: i64,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let Verified(form) = verify(&state, &uri, &headers, &body)?;
    let engine = &state.engine;
    let handled = match kind {
        Callback::Status => engine.on_status_callback(call_id, &form).await,
        Callback::Amd => engine.on_amd_callback(call_id, &form).await,
        Callback::Recording => engine.on_recording_callback(call_id, &form).await,
    };
    handled.map_err(callback_error)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn status(
    State(state): State<AppState>,
    Path(call_id): Path<i64>,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    callback(state, Callback::Status, call_id, uri, headers, body).await
}

pub async fn amd(
    State(state): State<AppState>,
    Path(call_id): Path<i64>,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    callback(state, Callback::Amd, call_id, uri, headers, body).await
}

pub async fn recording(
    State(state): State<AppState>,
    Path(call_id): Path<i64>,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    callback(state, Callback::Recording, call_id, uri, headers, body).await
}

/// The media stream. The stream authenticates itself with the one-time token in its
/// `start` message; a handshake signature, when Twilio sends one, must also be valid.
/// Streams not yet authenticated are capped (`http.media_max_unauthenticated`): beyond
/// it the handshake gets 503, while streams already bridging go on.
pub async fn media(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Some(sig) = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) {
        let url = state.engine.telephony.media_url();
        if !signature::validate_websocket(state.engine.telephony.twilio_token(), &url, sig) {
            tracing::warn!("media stream with a bad handshake signature refused");
            return ApiError::new(ErrorCode::Forbidden, "invalid Twilio signature").into_response();
        }
    }
    let Ok(unauthenticated) = state.media_unauthenticated.clone().try_acquire_owned() else {
        if state.media_refusals.ready() {
            tracing::warn!(
                limit = state.settings.http.media_max_unauthenticated,
                "too many media streams waiting to authenticate: refusing new ones"
            );
        }
        return ApiError::new(
            ErrorCode::ServiceUnavailable,
            "too many media streams are connecting; try again shortly",
        )
        .into_response();
    };
    let engine = state.engine.clone();
    upgrade
        .read_buffer_size(SOCKET_READ_BUFFER)
        .write_buffer_size(SOCKET_WRITE_BUFFER)
        .max_message_size(MEDIA_MAX_MESSAGE)
        .max_frame_size(MEDIA_MAX_MESSAGE)
        .on_upgrade(
            move |socket| async move { engine.run_media_stream(socket, unauthenticated).await },
        )
}
