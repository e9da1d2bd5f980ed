//! Twilio protocol support for Parley: REST client ([`rest`]), TwiML builder ([`twiml`]),
//! webhook signatures ([`signature`]), typed voice callbacks ([`callbacks`]) and Media
//! Streams WebSocket messages ([`media`]). No server and no storage: both the engine and the
//! simulator build on these types.
#![forbid(unsafe_code)]

pub mod callbacks;
pub mod dial;
mod json;
pub mod media;
pub mod rest;
pub mod signature;
pub mod twiml;

pub use callbacks::{AnsweredBy, CallStatus};
pub use rest::{TwilioClient, TwilioError};
