//! The live audio bridge between a Twilio media stream and an ElevenLabs agent.
//!
//! Per-frame path when both sides speak `ulaw_8000` (the usual case): the Twilio text
//! frame is parsed borrowed (no copy of the payload, no base64 decoding), and the
//! outgoing JSON is written around the same base64 payload into a buffer reused for every
//! frame; one receive and one send per frame. Other formats go through [`audio`].
pub mod audio;
pub mod early;
mod hold;
pub mod live;
mod quality;
mod relay;
mod session;
pub mod socket;

/// Per-socket read buffer: 20 ms frames are ~350 bytes, so 2 KiB holds several (the
/// library default of 128 KiB per socket would dominate memory per call; larger messages
/// still arrive whole, in more reads). 1 KiB on Twilio's side measured no smaller.
pub const SOCKET_READ_BUFFER: usize = 2 * 1024;
pub const SOCKET_WRITE_BUFFER: usize = 4 * 1024;
/// Largest message (and frame) a Twilio media stream may send, before authenticating
/// and after: the library keeps one limit for a socket's life. Parley's `start` message
/// (call id and token parameters) measures 476 bytes, and 1,395 with both parameters at
/// Twilio's 500-character maximum; a 20 ms `media` frame measures about 400 bytes, so
/// 4 KiB also carries frames of up to ~270 ms. (The library default is 64 MiB.)
pub const MEDIA_MAX_MESSAGE: usize = 4 * 1024;
