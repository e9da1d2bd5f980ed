//! Twilio Media Streams WebSocket messages (reference E).
//!
//! Two layers:
//! - owned serde types for every message ([`InboundMessage`], [`OutboundMessage`]), used
//!   for the rare control messages and by the simulator;
//! - a borrowed fast path for the ~50 `media` frames per second per call:
//!   [`parse_inbound`] returns a [`MediaFrame`] whose payload borrows from the received text
//!   (no base64 decoding, no copy), and the `write_*` functions build outgoing frames around
//!   an existing payload in a reused `String`.
//!
//! Twilio sends `sequenceNumber`, `chunk` and `timestamp` as JSON strings; they stay strings
//! here, with parsing accessors.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::json::{push_string, CowStr};

/// A message that is not valid Media Streams JSON.
#[derive(Debug, thiserror::Error)]
#[error("invalid media stream message: {0}")]
pub struct MediaError(#[from] serde_json::Error);

/// Any message Twilio sends on the stream socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "event",
    rename_all = "lowercase",
    rename_all_fields = "camelCase"
)]
pub enum InboundMessage {
    /// First message; has no `sequenceNumber` or `streamSid`.
    Connected {
        #[serde(default)]
        protocol: String,
        #[serde(default)]
        version: String,
    },
    Start {
        sequence_number: String,
        start: StartInfo,
        stream_sid: String,
    },
    Media {
        sequence_number: String,
        media: InboundMedia,
        stream_sid: String,
    },
    /// Echo of a mark we sent, once playback reached it (or it was cleared).
    Mark {
        sequence_number: String,
        mark: Mark,
        stream_sid: String,
    },
    Dtmf {
        sequence_number: String,
        dtmf: Dtmf,
        stream_sid: String,
    },
    Stop {
        sequence_number: String,
        stop: StopInfo,
        stream_sid: String,
    },
    /// An event this crate does not know; ignore it.
    #[serde(other)]
    Unknown,
}

impl InboundMessage {
    pub fn parse(text: &str) -> Result<Self, MediaError> {
        Ok(serde_json::from_str(text)?)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("media messages always serialize")
    }

    pub fn stream_sid(&self) -> Option<&str> {
        match self {
            Self::Start { stream_sid, .. }
            | Self::Media { stream_sid, .. }
            | Self::Mark { stream_sid, .. }
            | Self::Dtmf { stream_sid, .. }
            | Self::Stop { stream_sid, .. } => Some(stream_sid),
            Self::Connected { .. } | Self::Unknown => None,
        }
    }
}

/// Body of the `start` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartInfo {
    pub account_sid: String,
    pub stream_sid: String,
    pub call_sid: String,
    /// `["inbound"]` for `<Connect><Stream>`.
    #[serde(default)]
    pub tracks: Vec<String>,
    /// The TwiML `<Parameter>`s; may be absent when there were none.
    #[serde(default)]
    pub custom_parameters: BTreeMap<String, String>,
    pub media_format: MediaFormat,
}

/// Always `audio/x-mulaw`, 8000 Hz, 1 channel in practice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaFormat {
    pub encoding: String,
    pub sample_rate: u32,
    pub channels: u16,
}

/// Body of an inbound `media` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMedia {
    pub track: String,
    pub chunk: String,
    pub timestamp: String,
    /// Base64 of raw 8-bit mu-law at 8 kHz.
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dtmf {
    /// `inbound_track`.
    pub track: String,
    pub digit: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopInfo {
    pub account_sid: String,
    pub call_sid: String,
}

/// Any message we may send to Twilio (bidirectional streams only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "event",
    rename_all = "lowercase",
    rename_all_fields = "camelCase"
)]
pub enum OutboundMessage {
    /// Audio to play to the caller, queued behind earlier audio.
    Media {
        stream_sid: String,
        media: OutboundMedia,
    },
    /// Ask to be told (by an echoed mark) when playback reaches this point.
    Mark { stream_sid: String, mark: Mark },
    /// Drop all buffered audio; pending marks are echoed at once.
    Clear { stream_sid: String },
}

impl OutboundMessage {
    pub fn parse(text: &str) -> Result<Self, MediaError> {
        Ok(serde_json::from_str(text)?)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("media messages always serialize")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMedia {
    pub payload: String,
}

// ---------------------------------------------------------------------------------------
// Borrowed fast path
// ---------------------------------------------------------------------------------------

/// An inbound `media` frame borrowing from the received text. Strings are `Cow` because a
/// JSON string containing escapes (legal, e.g. `\/`) must be unescaped into a copy; Twilio's
/// frames have none, so in practice everything is borrowed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MediaFrame<'a> {
    #[serde(borrow)]
    pub track: Cow<'a, str>,
    #[serde(borrow)]
    pub chunk: Cow<'a, str>,
    #[serde(borrow)]
    pub timestamp: Cow<'a, str>,
    /// Base64 mu-law, ready to forward unchanged.
    #[serde(borrow)]
    pub payload: Cow<'a, str>,
    /// Filled from the enclosing message.
    #[serde(skip)]
    pub stream_sid: Cow<'a, str>,
    #[serde(skip)]
    pub sequence_number: Cow<'a, str>,
}

impl MediaFrame<'_> {
    pub fn chunk_number(&self) -> Option<u64> {
        self.chunk.parse().ok()
    }

    pub fn timestamp_ms(&self) -> Option<u64> {
        self.timestamp.parse().ok()
    }

    pub fn sequence(&self) -> Option<u64> {
        self.sequence_number.parse().ok()
    }

    /// Decodes the payload to raw mu-law bytes, appending to `out` (transcoding path only).
    pub fn decode_payload(&self, out: &mut Vec<u8>) -> Result<(), base64::DecodeError> {
        base64::engine::general_purpose::STANDARD.decode_vec(self.payload.as_bytes(), out)
    }
}

/// Just enough of any inbound message to recognise a `media` frame; other fields are skipped
/// without being materialised.
#[derive(Deserialize)]
struct InboundEnvelope<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow, default, rename = "streamSid")]
    stream_sid: Option<CowStr<'a>>,
    #[serde(borrow, default, rename = "sequenceNumber")]
    sequence_number: Option<CowStr<'a>>,
    #[serde(borrow, default)]
    media: Option<MediaFrame<'a>>,
}

/// Result of [`parse_inbound`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound<'a> {
    /// The hot path: borrowed, nothing decoded.
    Media(MediaFrame<'a>),
    /// Any other message, fully parsed (these are rare).
    Other(InboundMessage),
}

/// Parses a message from Twilio, borrowing `media` frames from `text`.
pub fn parse_inbound(text: &str) -> Result<Inbound<'_>, MediaError> {
    let envelope: InboundEnvelope<'_> = serde_json::from_str(text)?;
    if envelope.event == "media" {
        if let (Some(mut frame), Some(stream_sid)) = (envelope.media, envelope.stream_sid) {
            frame.stream_sid = stream_sid.0;
            frame.sequence_number = envelope.sequence_number.map(|s| s.0).unwrap_or_default();
            return Ok(Inbound::Media(frame));
        }
    }
    Ok(Inbound::Other(InboundMessage::parse(text)?))
}

/// An outbound `media` message borrowing from the received text (simulator side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMediaRef<'a> {
    pub stream_sid: Cow<'a, str>,
    pub payload: Cow<'a, str>,
}

#[derive(Deserialize)]
struct OutboundEnvelope<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow, default, rename = "streamSid")]
    stream_sid: Option<CowStr<'a>>,
    #[serde(borrow, default)]
    media: Option<PayloadOnly<'a>>,
}

#[derive(Deserialize)]
struct PayloadOnly<'a> {
    #[serde(borrow)]
    payload: Cow<'a, str>,
}

/// Result of [`parse_outbound`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound<'a> {
    Media(OutboundMediaRef<'a>),
    Other(OutboundMessage),
}

/// Parses a message sent to Twilio (what a simulator receives), borrowing `media` payloads.
pub fn parse_outbound(text: &str) -> Result<Outbound<'_>, MediaError> {
    let envelope: OutboundEnvelope<'_> = serde_json::from_str(text)?;
    if envelope.event == "media" {
        if let (Some(media), Some(stream_sid)) = (envelope.media, envelope.stream_sid) {
            return Ok(Outbound::Media(OutboundMediaRef {
                stream_sid: stream_sid.0,
                payload: media.payload,
            }));
        }
    }
    Ok(Outbound::Other(OutboundMessage::parse(text)?))
}

/// Replaces the contents of `buf` with an outbound `media` message carrying `payload`
/// (base64 mu-law) unchanged. Reusing `buf` means no allocation once it has grown.
pub fn write_media(buf: &mut String, stream_sid: &str, payload: &str) {
    buf.clear();
    buf.push_str(r#"{"event":"media","streamSid":"#);
    push_string(buf, stream_sid);
    buf.push_str(r#","media":{"payload":"#);
    push_string(buf, payload);
    buf.push_str("}}");
}

/// Replaces the contents of `buf` with an outbound `mark` message.
pub fn write_mark(buf: &mut String, stream_sid: &str, name: &str) {
    buf.clear();
    buf.push_str(r#"{"event":"mark","streamSid":"#);
    push_string(buf, stream_sid);
    buf.push_str(r#","mark":{"name":"#);
    push_string(buf, name);
    buf.push_str("}}");
}

/// Replaces the contents of `buf` with a `clear` message.
pub fn write_clear(buf: &mut String, stream_sid: &str) {
    buf.clear();
    buf.push_str(r#"{"event":"clear","streamSid":"#);
    push_string(buf, stream_sid);
    buf.push('}');
}

/// Position of an inbound frame in its stream (what Twilio's counters say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramePosition {
    pub sequence_number: u64,
    pub chunk: u64,
    pub timestamp_ms: u64,
}

/// Replaces the contents of `buf` with an inbound `media` frame as Twilio sends it
/// (simulator and load generator side), numbers written as strings.
pub fn write_inbound_media(
    buf: &mut String,
    stream_sid: &str,
    position: FramePosition,
    payload: &str,
) {
    buf.clear();
    // Writing integers into a String cannot fail.
    let _ = write!(
        buf,
        r#"{{"event":"media","sequenceNumber":"{}","media":{{"track":"inbound","chunk":"{}","timestamp":"{}","payload":"#,
        position.sequence_number, position.chunk, position.timestamp_ms
    );
    push_string(buf, payload);
    buf.push_str(r#"},"streamSid":"#);
    push_string(buf, stream_sid);
    buf.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "MZxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

    const CONNECTED: &str = r#"{"event": "connected", "protocol": "Call", "version": "1.0.0"}"#;
    const START: &str = r#"{
      "event": "start",
      "sequenceNumber": "1",
      "start": {
        "accountSid": "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "streamSid": "MZxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "callSid": "CAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "tracks": ["inbound"],
        "customParameters": {"call_id": "c_01HXYZ", "token": "f3a9"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
      },
      "streamSid": "MZxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    }"#;
    const MEDIA: &str = r#"{
      "event": "media",
      "sequenceNumber": "2",
      "media": {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": "/v7+/f7+"},
      "streamSid": "MZxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    }"#;
    const DTMF: &str = r#"{"event": "dtmf", "streamSid": "MZ1", "sequenceNumber": "5", "dtmf": {"track": "inbound_track", "digit": "1"}}"#;
    const MARK: &str = r#"{"event": "mark", "sequenceNumber": "4", "streamSid": "MZ1", "mark": {"name": "agent-evt-17"}}"#;
    const STOP: &str = r#"{"event": "stop", "sequenceNumber": "5", "stop": {"accountSid": "AC1", "callSid": "CA1"}, "streamSid": "MZ1"}"#;

    fn round_trip(text: &str) -> InboundMessage {
        let message = InboundMessage::parse(text).unwrap();
        let again = InboundMessage::parse(&message.to_json()).unwrap();
        assert_eq!(again, message);
        let original: serde_json::Value = serde_json::from_str(text).unwrap();
        let written: serde_json::Value = serde_json::from_str(&message.to_json()).unwrap();
        assert_eq!(
            written, original,
            "serialization matches the reference shape"
        );
        message
    }

    #[test]
    fn connected() {
        assert_eq!(
            round_trip(CONNECTED),
            InboundMessage::Connected {
                protocol: "Call".into(),
                version: "1.0.0".into()
            }
        );
    }

    #[test]
    fn start_carries_custom_parameters_and_format() {
        let InboundMessage::Start {
            sequence_number,
            start,
            stream_sid,
        } = round_trip(START)
        else {
            panic!("not a start message");
        };
        assert_eq!(sequence_number, "1");
        assert_eq!(stream_sid, SID);
        assert_eq!(start.call_sid, "CAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        assert_eq!(start.account_sid, "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        assert_eq!(start.tracks, ["inbound"]);
        assert_eq!(start.custom_parameters["call_id"], "c_01HXYZ");
        assert_eq!(start.custom_parameters["token"], "f3a9");
        assert_eq!(
            start.media_format,
            MediaFormat {
                encoding: "audio/x-mulaw".into(),
                sample_rate: 8000,
                channels: 1
            }
        );
    }

    #[test]
    fn start_without_custom_parameters() {
        let text = START.replace(
            r#""customParameters": {"call_id": "c_01HXYZ", "token": "f3a9"},"#,
            "",
        );
        let InboundMessage::Start { start, .. } = InboundMessage::parse(&text).unwrap() else {
            panic!("not a start message");
        };
        assert!(start.custom_parameters.is_empty());
    }

    #[test]
    fn media_dtmf_mark_stop() {
        let InboundMessage::Media { media, .. } = round_trip(MEDIA) else {
            panic!("not media");
        };
        assert_eq!((media.chunk.as_str(), media.timestamp.as_str()), ("1", "0"));
        assert!(matches!(
            round_trip(DTMF),
            InboundMessage::Dtmf { dtmf: Dtmf { ref digit, .. }, .. } if digit == "1"
        ));
        assert!(matches!(
            round_trip(MARK),
            InboundMessage::Mark { mark: Mark { ref name }, .. } if name == "agent-evt-17"
        ));
        let stop = round_trip(STOP);
        assert_eq!(stop.stream_sid(), Some("MZ1"));
        assert!(
            matches!(stop, InboundMessage::Stop { stop: StopInfo { ref call_sid, .. }, .. } if call_sid == "CA1")
        );
    }

    #[test]
    fn unknown_events_are_tolerated_and_malformed_json_is_not() {
        assert_eq!(
            InboundMessage::parse(r#"{"event":"newthing","x":1}"#).unwrap(),
            InboundMessage::Unknown
        );
        assert!(InboundMessage::parse("{").is_err());
        assert!(parse_inbound(r#"{"no_event":true}"#).is_err());
    }

    #[test]
    fn fast_path_borrows_the_payload() {
        let Inbound::Media(frame) = parse_inbound(MEDIA).unwrap() else {
            panic!("not media");
        };
        assert!(matches!(frame.payload, Cow::Borrowed("/v7+/f7+")));
        assert!(matches!(frame.stream_sid, Cow::Borrowed(SID)));
        assert!(matches!(frame.sequence_number, Cow::Borrowed("2")));
        assert_eq!(frame.sequence(), Some(2));
        assert_eq!(frame.chunk_number(), Some(1));
        assert_eq!(frame.timestamp_ms(), Some(0));
        assert_eq!(frame.track, "inbound");
        let mut raw = Vec::new();
        frame.decode_payload(&mut raw).unwrap();
        assert_eq!(raw, [0xFE, 0xFE, 0xFE, 0xFD, 0xFE, 0xFE]);
    }

    #[test]
    fn fast_path_handles_escaped_payloads() {
        let text = MEDIA.replace("/v7+/f7+", r"\/v7+\/f7+");
        let Inbound::Media(frame) = parse_inbound(&text).unwrap() else {
            panic!("not media");
        };
        assert_eq!(frame.payload, "/v7+/f7+");
    }

    #[test]
    fn fast_path_hands_other_events_to_the_full_parser() {
        assert!(matches!(
            parse_inbound(START).unwrap(),
            Inbound::Other(InboundMessage::Start { .. })
        ));
        assert!(matches!(
            parse_inbound(STOP).unwrap(),
            Inbound::Other(InboundMessage::Stop { .. })
        ));
        assert!(matches!(
            parse_inbound(CONNECTED).unwrap(),
            Inbound::Other(InboundMessage::Connected { .. })
        ));
    }

    #[test]
    fn outbound_messages_match_the_reference() {
        let media = OutboundMessage::Media {
            stream_sid: SID.into(),
            media: OutboundMedia {
                payload: "AAEC".into(),
            },
        };
        let mut buf = String::new();
        write_media(&mut buf, SID, "AAEC");
        assert_eq!(
            buf,
            format!(r#"{{"event":"media","streamSid":"{SID}","media":{{"payload":"AAEC"}}}}"#)
        );
        assert_eq!(OutboundMessage::parse(&buf).unwrap(), media);
        assert_eq!(buf, media.to_json());

        write_mark(&mut buf, SID, "agent-evt-17");
        assert_eq!(
            OutboundMessage::parse(&buf).unwrap(),
            OutboundMessage::Mark {
                stream_sid: SID.into(),
                mark: Mark {
                    name: "agent-evt-17".into()
                }
            }
        );
        write_clear(&mut buf, SID);
        assert_eq!(buf, format!(r#"{{"event":"clear","streamSid":"{SID}"}}"#));
        assert_eq!(
            OutboundMessage::parse(&buf).unwrap(),
            OutboundMessage::Clear {
                stream_sid: SID.into()
            }
        );
    }

    #[test]
    fn writer_reuses_its_buffer() {
        let payload = "A".repeat(216);
        let mut buf = String::new();
        write_media(&mut buf, SID, &payload);
        let capacity = buf.capacity();
        let pointer = buf.as_ptr();
        for _ in 0..100 {
            write_media(&mut buf, SID, &payload);
        }
        assert_eq!((buf.capacity(), buf.as_ptr()), (capacity, pointer));
    }

    #[test]
    fn writer_escapes_hostile_strings() {
        let mut buf = String::new();
        write_mark(&mut buf, SID, "a\"b\\c");
        let OutboundMessage::Mark { mark, .. } = OutboundMessage::parse(&buf).unwrap() else {
            panic!("not a mark");
        };
        assert_eq!(mark.name, "a\"b\\c");
    }

    #[test]
    fn simulator_side_round_trip() {
        let mut buf = String::new();
        let position = FramePosition {
            sequence_number: 2,
            chunk: 1,
            timestamp_ms: 0,
        };
        write_inbound_media(&mut buf, SID, position, "/v7+/f7+");
        assert_eq!(
            InboundMessage::parse(&buf).unwrap(),
            InboundMessage::parse(MEDIA).unwrap()
        );

        write_media(&mut buf, SID, "AAEC");
        let Outbound::Media(media) = parse_outbound(&buf).unwrap() else {
            panic!("not media");
        };
        assert!(matches!(media.payload, Cow::Borrowed("AAEC")));
        assert_eq!(media.stream_sid, SID);
        write_clear(&mut buf, SID);
        assert!(matches!(
            parse_outbound(&buf).unwrap(),
            Outbound::Other(OutboundMessage::Clear { .. })
        ));
    }
}
