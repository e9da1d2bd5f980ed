//! Twilio's requests: the TwiML fetch, status / AMD / recording callbacks, and the media
//! stream WebSocket.
use crate::error::extract::{self, Query};
use crate::error::{ApiError, ErrorCode};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequest, OriginalUri, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_engine::bridge::{MEDIA_MAX_MESSAGE, SOCKET_READ_BUFFER, SOCKET_WRITE_BUFFER};
use parley_engine::calls::callbacks::CallbackError;
use parley_engine::calls::CallError;
use parley_twilio::signature;

const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// A Twilio form body whose `X-Twilio-Signature` checked out over the URL Twilio called
/// (our public URL for this path and query) and the form parameters. Anything else is
/// refused with the standard JSON error before a handler runs.
pub struct VerifiedForm(pub Vec<(String, String)>);

impl FromRequest<AppState> for VerifiedForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let forbidden = || ApiError::new(ErrorCode::Forbidden, "invalid Twilio signature");
        let sig = req
            .headers()
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(forbidden)?;
        // The URI as Twilio called it, before any router nesting stripped a prefix.
        let uri = req
            .extensions()
            .get::<OriginalUri>()
            .map_or_else(|| req.uri().clone(), |o| o.0.clone());
        let route = uri.path().to_owned();
        let path = uri
            .path_and_query()
            .map_or(route.clone(), |p| p.as_str().to_owned());
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        let url = state.engine.telephony.public_url(&path);
        let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        if !signature::validate_form(state.engine.telephony.twilio_token(), &url, &params, &sig) {
            if state.refusal_logs.forged_twilio.ready() {
                tracing::warn!(route, "twilio request with a bad signature refused");
            }
            return Err(forbidden());
        }
        Ok(VerifiedForm(params))
    }
}

fn callback_error(e: CallbackError) -> ApiError {
    match e {
        CallbackError::Malformed(m) => ApiError::bad_request(m),
        CallbackError::UnknownCall => ApiError::not_found("call"),
        CallbackError::WrongCall => {
            ApiError::new(ErrorCode::Forbidden, "callback for another call")
        }
        // Nothing was applied: a 5xx makes Twilio send it again.
        CallbackError::Unavailable(e) => ApiError::internal(e),
        // Applied; the request that follows failed. Twilio's retry repeats the request.
        CallbackError::Carrier(e) => ApiError::new(ErrorCode::Upstream, e.to_string()),
    }
}

pub async fn twiml(
    State(state): State<AppState>,
    Path(call_id): Path<i64>,
    _form: VerifiedForm,
) -> Result<Response, ApiError> {
    tracing::Span::current().record("call_id", call_id);
    let xml = state.engine.twiml_for(call_id).await.map_err(|e| match e {
        CallError::Store(parley_store::StoreError::NotFound) => ApiError::not_found("call"),
        other => ApiError::internal(other),
    })?;
    Ok(([(header::CONTENT_TYPE, "text/xml")], xml).into_response())
}

pub async fn status(
    State(state): State<AppState>,
    Path(call_id): Path<i64>,
    VerifiedForm(form): VerifiedForm,
) -> Result<StatusCode, ApiError> {
    tracing::Span::current().record("call_id", call_id);
    let applied = state.engine.on_status_callback(call_id, &form).await;
    applied.map_err(callback_error)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn amd(
    State(state): State<AppState>,
    Path(call_id): Path<i64>,
    VerifiedForm(form): VerifiedForm,
) -> Result<StatusCode, ApiError> {
    tracing::Span::current().record("call_id", call_id);
    let applied = state.engine.on_amd_callback(call_id, &form).await;
    applied.map_err(callback_error)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn recording(
    State(state): State<AppState>,
    Path(call_id): Path<i64>,
    VerifiedForm(form): VerifiedForm,
) -> Result<StatusCode, ApiError> {
    tracing::Span::current().record("call_id", call_id);
    let applied = state.engine.on_recording_callback(call_id, &form).await;
    applied.map_err(callback_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The media stream, at `/twilio/media` (TwiML from before the URL named its call, or
/// with `calls.agent_starts_at_handshake` off). See [`media_for_call`].
pub async fn media(
    State(state): State<AppState>,
    headers: HeaderMap,
    extract::WebSocketUpgrade(upgrade): extract::WebSocketUpgrade,
) -> Response {
    upgrade_media(state, &headers, upgrade, None)
}

/// The media stream of one call (`/twilio/media/{call_id}`). The stream authenticates
/// itself with the one-time token in its `start` message; a handshake signature, when
/// Twilio sends one, must also be valid. A valid one, over this URL, proves the stream is
/// Twilio's for this call before `start` says so: its agent conversation starts at once.
/// Streams not yet authenticated are capped (`http.media_max_unauthenticated`): beyond
/// it the handshake gets 503, while streams already bridging go on.
pub async fn media_for_call(
    State(state): State<AppState>,
    extract::Path(call_id): extract::Path<i64>,
    headers: HeaderMap,
    extract::WebSocketUpgrade(upgrade): extract::WebSocketUpgrade,
) -> Response {
    upgrade_media(state, &headers, upgrade, Some(call_id))
}

fn upgrade_media(
    state: AppState,
    headers: &HeaderMap,
    upgrade: WebSocketUpgrade,
    named: Option<i64>,
) -> Response {
    let telephony = &state.engine.telephony;
    // A signature that does not match is taken as none, not refused: the `start` token
    // authenticates every stream, and a URL Twilio signs differently from ours (a proxy,
    // a port, `public_url`) must not cost every call its audio, only the early start.
    let signed = match headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) {
        None => false,
        Some(sig) => {
            let url =
                named.map_or_else(|| telephony.media_url(), |id| telephony.call_media_url(id));
            let valid = signature::validate_websocket(telephony.twilio_token(), &url, sig);
            if !valid {
                metrics::counter!("parley_bridge_handshake_signature_mismatches_total")
                    .increment(1);
            }
            if !valid && state.refusal_logs.media_signature_mismatch.ready() {
                tracing::warn!(
                    %url,
                    "a media stream's handshake signature does not match its URL: it must \
                     authenticate with its start message and its agent cannot start early \
                     (is `public_url` the URL Twilio calls?)"
                );
            }
            valid
        }
    };
    let Ok(unauthenticated) = state.media_unauthenticated.clone().try_acquire_owned() else {
        if state.refusal_logs.media_no_place.ready() {
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
    // Before the handshake is answered: the greeting is on its way while Twilio sends
    // `start`.
    let primed = named.filter(|&id| signed && state.engine.on_signed_stream_handshake(id));
    let engine = state.engine.clone();
    upgrade
        .read_buffer_size(SOCKET_READ_BUFFER)
        .write_buffer_size(SOCKET_WRITE_BUFFER)
        .max_message_size(MEDIA_MAX_MESSAGE)
        .max_frame_size(MEDIA_MAX_MESSAGE)
        .on_upgrade(move |socket| {
            // Boxed before the callback's future captures it (see `AxumMediaSocket`).
            let socket = super::media_socket::AxumMediaSocket(Box::new(socket));
            async move {
                engine
                    .run_media_stream(socket, unauthenticated, primed)
                    .await
            }
        })
}

/// Which transfer target a whisper or dial-action request is about (`?target=N`).
#[derive(Debug, serde::Deserialize)]
pub struct TransferTarget {
    pub target: usize,
}

fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

/// The whisper a transfer target hears once they answer (`<Number url>`).
pub async fn transfer_whisper(
    State(state): State<AppState>,
    Path(call_id): Path<i64>,
    Query(q): Query<TransferTarget>,
    VerifiedForm(form): VerifiedForm,
) -> Result<Response, ApiError> {
    tracing::Span::current().record("call_id", call_id);
    let whisper = state
        .engine
        .on_transfer_whisper(call_id, q.target, &form)
        .await;
    Ok(xml(whisper.map_err(callback_error)?))
}

/// How a transfer target's ring ended (`<Dial action>`), answered with what follows.
pub async fn transfer_dial(
    State(state): State<AppState>,
    Path(call_id): Path<i64>,
    Query(q): Query<TransferTarget>,
    VerifiedForm(form): VerifiedForm,
) -> Result<Response, ApiError> {
    tracing::Span::current().record("call_id", call_id);
    let next = state
        .engine
        .on_transfer_dial(call_id, q.target, &form)
        .await;
    Ok(xml(next.map_err(callback_error)?))
}
