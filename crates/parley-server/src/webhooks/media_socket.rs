//! axum's WebSocket as the bridge's [`MediaSocket`]. Sizes, buffers and limits are set
//! at the upgrade (`twilio::media`); this only translates messages and errors.
use axum::extract::ws::{self, Message, Utf8Bytes, WebSocket};
use parley_engine::bridge::socket::{MediaSocket, Outgoing, Received, SocketError};

/// The socket is boxed: it is handed from axum's upgrade task to the bridge by value, and
/// each future it passes through (the upgrade callback, the stream, the bridge) would
/// otherwise keep its own copy of its ~370 bytes for the whole call.
pub struct AxumMediaSocket(pub Box<WebSocket>);

impl MediaSocket for AxumMediaSocket {
    type Text = Utf8Bytes;

    async fn recv(&mut self) -> Option<Result<Received<Utf8Bytes>, SocketError>> {
        let message = match self.0.recv().await? {
            Ok(message) => message,
            Err(e) => return Some(Err(socket_error(e))),
        };
        Some(Ok(match message {
            Message::Text(text) => Received::Text(text),
            Message::Close(_) => Received::Close,
            Message::Binary(_) | Message::Ping(_) | Message::Pong(_) => Received::Other,
        }))
    }

    async fn send(&mut self, message: Outgoing) -> Result<(), SocketError> {
        let message = match message {
            Outgoing::Text(text) => Message::Text(
                Utf8Bytes::try_from(text.into_bytes()).map_err(|e| SocketError::new(false, e))?,
            ),
            Outgoing::Close(frame) => Message::Close(frame.map(|f| ws::CloseFrame {
                code: f.code,
                reason: f.reason.into(),
            })),
        };
        self.0.send(message).await.map_err(socket_error)
    }
}

fn socket_error(e: axum::Error) -> SocketError {
    let too_big = is_too_big(&e);
    SocketError::new(too_big, e)
}

/// Whether a socket error is a message or frame over the size limit (media streams
/// and the live-events socket).
pub(crate) fn is_too_big(e: &axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = source {
        if let Some(Error::Capacity(_)) = error.downcast_ref::<Error>() {
            return true;
        }
        source = error.source();
    }
    false
}
