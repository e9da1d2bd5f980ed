//! Conversation WebSocket messages (reference F).
//!
//! Owned serde types for every message ([`ClientMessage`], [`ServerMessage`]) plus a
//! borrowed fast path for audio, which is nearly all the traffic: [`parse_server`] yields an
//! [`AudioFrame`] whose base64 payload borrows from the received text, and the `write_*`
//! functions build outgoing frames around an existing payload in a reused `String`.

mod client;
mod server;

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Deserialize;

use crate::json::{push_string, CowStr};

pub use client::{
    AgentOverride, ClientEvent, ClientMessage, ConfigOverride, ConversationOverride, DynamicValue,
    FeedbackScore, InitiationClientData, NotAScalar, PromptOverride, SourceInfo, TtsOverride,
};
pub use server::{
    AgentResponseCorrectionEvent, AgentResponseEvent, AgentToolRequest, AgentToolResponse,
    Alignment, AudioEvent, ClientToolCall, ErrorEvent, InitiationMetadata, InterruptionEvent,
    LegacyAudio, PingEvent, ServerMessage, TentativeAgentResponseEvent, TextResponsePart,
    UserTranscriptionEvent, VadScoreEvent,
};

/// A message that is not valid conversation JSON.
#[derive(Debug, thiserror::Error)]
#[error("invalid conversation message: {0}")]
pub struct WsError(#[from] serde_json::Error);

/// Agent audio borrowed from the received text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFrame<'a> {
    /// Base64 audio in the agent's output format.
    pub payload: Cow<'a, str>,
    /// Absent only in the legacy `audio.chunk` shape.
    pub event_id: Option<u64>,
}

/// Result of [`parse_server`].
#[derive(Debug, Clone, PartialEq)]
pub enum Server<'a> {
    Audio(AudioFrame<'a>),
    Other(ServerMessage),
}

#[derive(Deserialize)]
struct ServerEnvelope<'a> {
    #[serde(borrow, rename = "type")]
    message_type: Cow<'a, str>,
    #[serde(borrow, default)]
    audio_event: Option<AudioEventRef<'a>>,
    #[serde(borrow, default)]
    audio: Option<LegacyAudioRef<'a>>,
}

#[derive(Deserialize)]
struct AudioEventRef<'a> {
    #[serde(borrow)]
    audio_base_64: Cow<'a, str>,
    event_id: Option<u64>,
}

#[derive(Deserialize)]
struct LegacyAudioRef<'a> {
    #[serde(borrow)]
    chunk: Cow<'a, str>,
}

/// Parses a server message, borrowing `audio` payloads from `text`.
pub fn parse_server(text: &str) -> Result<Server<'_>, WsError> {
    let envelope: ServerEnvelope<'_> = serde_json::from_str(text)?;
    if envelope.message_type == "audio" {
        if let Some(event) = envelope.audio_event {
            return Ok(Server::Audio(AudioFrame {
                payload: event.audio_base_64,
                event_id: event.event_id,
            }));
        }
        if let Some(legacy) = envelope.audio {
            return Ok(Server::Audio(AudioFrame {
                payload: legacy.chunk,
                event_id: None,
            }));
        }
    }
    Ok(Server::Other(ServerMessage::parse(text)?))
}

/// Result of [`parse_client`] (simulator side).
#[derive(Debug, Clone, PartialEq)]
pub enum Client<'a> {
    /// A `user_audio_chunk` payload, borrowed.
    UserAudio(Cow<'a, str>),
    Other(ClientMessage),
}

#[derive(Deserialize)]
struct ClientEnvelope<'a> {
    #[serde(borrow, default, rename = "type")]
    message_type: Option<CowStr<'a>>,
    #[serde(borrow, default)]
    user_audio_chunk: Option<CowStr<'a>>,
}

/// Parses a client message, borrowing `user_audio_chunk` payloads from `text`.
pub fn parse_client(text: &str) -> Result<Client<'_>, WsError> {
    let envelope: ClientEnvelope<'_> = serde_json::from_str(text)?;
    if let (None, Some(chunk)) = (envelope.message_type, envelope.user_audio_chunk) {
        return Ok(Client::UserAudio(chunk.0));
    }
    Ok(Client::Other(ClientMessage::parse(text)?))
}

/// Replaces the contents of `buf` with `{"user_audio_chunk":"<payload>"}`, the payload
/// copied unchanged (e.g. a Twilio media payload when the agent takes `ulaw_8000`).
pub fn write_user_audio_chunk(buf: &mut String, payload: &str) {
    buf.clear();
    buf.push_str(r#"{"user_audio_chunk":"#);
    push_string(buf, payload);
    buf.push('}');
}

/// Replaces the contents of `buf` with a `pong` for `event_id`.
pub fn write_pong(buf: &mut String, event_id: u64) {
    buf.clear();
    // Writing an integer into a String cannot fail.
    let _ = write!(buf, r#"{{"type":"pong","event_id":{event_id}}}"#);
}

/// Replaces the contents of `buf` with an `audio` event (simulator side).
pub fn write_audio_event(buf: &mut String, payload: &str, event_id: u64) {
    buf.clear();
    buf.push_str(r#"{"type":"audio","audio_event":{"audio_base_64":"#);
    push_string(buf, payload);
    let _ = write!(buf, r#","event_id":{event_id}}}}}"#);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_borrows_agent_audio() {
        let text = r#"{"type":"audio","audio_event":{"audio_base_64":"//7+/f","event_id":4}}"#;
        let Server::Audio(frame) = parse_server(text).unwrap() else {
            panic!("not audio");
        };
        assert!(matches!(frame.payload, Cow::Borrowed("//7+/f")));
        assert_eq!(frame.event_id, Some(4));
    }

    #[test]
    fn fast_path_accepts_legacy_and_escaped_audio() {
        let Server::Audio(frame) =
            parse_server(r#"{"type":"audio","audio":{"chunk":"AAEC"}}"#).unwrap()
        else {
            panic!("not audio");
        };
        assert_eq!(
            frame,
            AudioFrame {
                payload: "AAEC".into(),
                event_id: None
            }
        );
        let escaped = r#"{"type":"audio","audio_event":{"audio_base_64":"\/\/7+","event_id":0}}"#;
        let Server::Audio(frame) = parse_server(escaped).unwrap() else {
            panic!("not audio");
        };
        assert_eq!(frame.payload, "//7+");
        assert_eq!(frame.event_id, Some(0));
    }

    #[test]
    fn fast_path_passes_other_messages_through() {
        let ping =
            parse_server(r#"{"type":"ping","ping_event":{"event_id":0,"ping_ms":null}}"#).unwrap();
        assert_eq!(
            ping,
            Server::Other(ServerMessage::Ping {
                ping_event: PingEvent {
                    event_id: 0,
                    ping_ms: None
                }
            })
        );
        assert_eq!(
            parse_server(r#"{"type":"brand_new","x":{}}"#).unwrap(),
            Server::Other(ServerMessage::Unknown)
        );
        assert!(parse_server("not json").is_err());
    }

    #[test]
    fn writers_produce_what_the_owned_types_parse() {
        let mut buf = String::new();
        write_user_audio_chunk(&mut buf, "//7+/f7+");
        assert_eq!(buf, r#"{"user_audio_chunk":"//7+/f7+"}"#);
        assert_eq!(
            ClientMessage::parse(&buf).unwrap(),
            ClientMessage::UserAudioChunk {
                user_audio_chunk: "//7+/f7+".into()
            }
        );
        write_pong(&mut buf, 0);
        assert_eq!(buf, r#"{"type":"pong","event_id":0}"#);
        assert_eq!(
            ClientMessage::parse(&buf).unwrap(),
            ClientMessage::Event(ClientEvent::Pong { event_id: 0 })
        );
        write_audio_event(&mut buf, "AAEC", 17);
        assert_eq!(
            ServerMessage::parse(&buf).unwrap().audio(),
            Some(("AAEC", Some(17)))
        );
    }

    #[test]
    fn writer_reuses_its_buffer() {
        let payload = "A".repeat(216);
        let mut buf = String::new();
        write_user_audio_chunk(&mut buf, &payload);
        let (capacity, pointer) = (buf.capacity(), buf.as_ptr());
        for _ in 0..100 {
            write_user_audio_chunk(&mut buf, &payload);
        }
        assert_eq!((buf.capacity(), buf.as_ptr()), (capacity, pointer));
    }

    #[test]
    fn simulator_parses_client_audio_borrowed() {
        let mut buf = String::new();
        write_user_audio_chunk(&mut buf, "//7+");
        let Client::UserAudio(payload) = parse_client(&buf).unwrap() else {
            panic!("not audio");
        };
        assert!(matches!(payload, Cow::Borrowed("//7+")));
        assert_eq!(
            parse_client(r#"{"type":"user_activity"}"#).unwrap(),
            Client::Other(ClientMessage::Event(ClientEvent::UserActivity))
        );
    }
}
