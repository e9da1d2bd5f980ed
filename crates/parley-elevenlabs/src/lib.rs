//! ElevenLabs Agents (Conversational AI) protocol support for Parley: conversation WebSocket
//! messages ([`ws`]), the REST client ([`rest`]), conversation records ([`conversation`]) and
//! post-call webhooks ([`webhook`]).
#![forbid(unsafe_code)]

pub mod audio_format;
pub mod conversation;
mod json;
pub mod rest;
pub mod webhook;
pub mod ws;

pub use audio_format::AudioFormat;
pub use rest::{ElevenLabsClient, ElevenLabsError};
