//! The live audio bridge between a Twilio media stream and an ElevenLabs agent.
//!
//! Per-frame path when both sides speak `ulaw_8000` (the usual case): the Twilio text
//! frame is parsed borrowed (no copy of the payload, no base64 decoding), and the
//! outgoing JSON is written around the same base64 payload into a buffer reused for every
//! frame; one receive and one send per frame. Other formats go through [`audio`].
pub mod audio;
mod session;

/// Per-socket read buffer: 20 ms frames are ~350 bytes, so 2 KiB holds several (the
/// library default of 128 KiB per socket would dominate memory per call; larger messages
/// still arrive whole, in more reads). 1 KiB on Twilio's side measured no smaller.
pub const SOCKET_READ_BUFFER: usize = 2 * 1024;
pub const SOCKET_WRITE_BUFFER: usize = 4 * 1024;
