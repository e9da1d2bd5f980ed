//! The Twilio side of the bridge as the engine sees it: a WebSocket that receives and
//! sends messages, whatever HTTP framework accepted it (the server adapts its own). The
//! engine sets no limits here: sizes and buffers are the accepting side's, at upgrade.
use bytes::Bytes;
use std::future::Future;

/// WebSocket close codes the bridge sends (RFC 6455, section 7.4.1).
pub mod close_code {
    /// The call ended normally.
    pub const NORMAL: u16 = 1000;
    /// This node is shutting down.
    pub const AWAY: u16 = 1001;
    /// The peer broke the protocol Parley expects (no `start`, bad credentials).
    pub const POLICY: u16 = 1008;
    /// A message over the size limit.
    pub const SIZE: u16 = 1009;
    /// Parley failed (its database).
    pub const ERROR: u16 = 1011;
}

/// A close frame: its code and a reason for the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseFrame {
    pub code: u16,
    pub reason: &'static str,
}

impl CloseFrame {
    /// The call is over (either side hung up, or the agent ended it).
    pub const CALL_ENDED: CloseFrame = CloseFrame {
        code: close_code::NORMAL,
        reason: "call ended",
    };
    /// The node is going away; the call cannot go on here.
    pub const SHUTTING_DOWN: CloseFrame = CloseFrame {
        code: close_code::AWAY,
        reason: "Parley is shutting down",
    };
}

/// A message received. `T` is the socket's own text type, read without copying.
#[derive(Debug)]
pub enum Received<T> {
    Text(T),
    Close,
    /// Binary, ping or pong: nothing the bridge reads (the socket answers pings).
    Other,
}

/// The text of a message to send: UTF-8 by construction, in shared bytes.
#[derive(Debug, Clone)]
pub struct Text(Bytes);

impl Text {
    /// The bytes of `text` (written into a reused buffer, hence not a `String`).
    pub(crate) fn from_utf8_bytes(bytes: Bytes) -> Text {
        debug_assert!(std::str::from_utf8(&bytes).is_ok());
        Text(bytes)
    }

    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

/// A message to send.
#[derive(Debug, Clone)]
pub enum Outgoing {
    Text(Text),
    Close(Option<CloseFrame>),
}

/// A socket error; `too_big` when a message or frame was over the size limit.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct SocketError {
    pub too_big: bool,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl SocketError {
    pub fn new(too_big: bool, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        SocketError {
            too_big,
            source: source.into(),
        }
    }
}

/// A media-stream WebSocket. `recv` must be cancel-safe: the relay selects on it.
pub trait MediaSocket: Send {
    type Text: std::ops::Deref<Target = str> + Send;

    /// The next message; `None` once the socket is closed.
    fn recv(
        &mut self,
    ) -> impl Future<Output = Option<Result<Received<Self::Text>, SocketError>>> + Send;

    /// Sends one message and flushes it.
    fn send(&mut self, message: Outgoing) -> impl Future<Output = Result<(), SocketError>> + Send;
}
