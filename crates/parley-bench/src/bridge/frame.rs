//! The wire messages of both sides, written into reused buffers, and the timing stamp
//! carried in every audio payload.
//!
//! A payload is 160 bytes of mu-law (20 ms): bytes 0..8 the call's frame sequence number
//! (0 for greeting audio), 8..16 the send time in nanoseconds since the run began, 16..24
//! the simulated agent's hold time in nanoseconds, the rest silence (0xFF). The stamp is
//! the first 24 bytes, a whole number of base64 groups, so it is always the first 32
//! characters of the base64 text and the constant silence after it is encoded once.
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::io::Write as _;
use std::sync::LazyLock;

/// Bytes of mu-law in one 20 ms frame.
pub const FRAME_BYTES: usize = 160;
const STAMP_BYTES: usize = 24;
const STAMP_CHARS: usize = 32;

/// The base64 of the silence after the stamp (bytes 24..160).
static SILENCE_TAIL: LazyLock<String> =
    LazyLock::new(|| STANDARD.encode([0xFF_u8; FRAME_BYTES - STAMP_BYTES]));

/// What a payload carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The call's frame number, from 1; 0 marks the agent's greeting.
    pub seq: u64,
    /// When the Twilio side sent it, in nanoseconds since the run began.
    pub sent_ns: u64,
    /// How long the simulated agent held it between receiving and echoing it.
    pub hold_ns: u64,
}

impl Stamp {
    fn encode(self) -> [u8; STAMP_CHARS] {
        let mut raw = [0u8; STAMP_BYTES];
        raw[0..8].copy_from_slice(&self.seq.to_le_bytes());
        raw[8..16].copy_from_slice(&self.sent_ns.to_le_bytes());
        raw[16..24].copy_from_slice(&self.hold_ns.to_le_bytes());
        let mut out = [0u8; STAMP_CHARS];
        let written = STANDARD
            .encode_slice(raw, &mut out)
            .expect("24 bytes fit in 32 base64 characters");
        debug_assert_eq!(written, STAMP_CHARS);
        out
    }

    /// Reads the stamp from the start of a base64 payload.
    pub fn decode(payload: &str) -> Option<Stamp> {
        let head = payload.as_bytes().get(..STAMP_CHARS)?;
        let mut raw = [0u8; STAMP_BYTES];
        let read = STANDARD.decode_slice(head, &mut raw).ok()?;
        if read != STAMP_BYTES {
            return None;
        }
        let word = |i: usize| u64::from_le_bytes(raw[i..i + 8].try_into().expect("8 bytes"));
        Some(Stamp {
            seq: word(0),
            sent_ns: word(8),
            hold_ns: word(16),
        })
    }
}

/// Writes the base64 payload for `stamp`.
fn write_payload(out: &mut Vec<u8>, stamp: Stamp) {
    out.extend_from_slice(&stamp.encode());
    out.extend_from_slice(SILENCE_TAIL.as_bytes());
}

/// Writes `payload` (which carries `stamp`, as read by [`Stamp::decode`]) with the hold
/// time set; the rest of the payload is copied as the bridge delivered it.
fn write_restamped(out: &mut Vec<u8>, payload: &str, stamp: Stamp, hold_ns: u64) {
    out.extend_from_slice(&Stamp { hold_ns, ..stamp }.encode());
    out.extend_from_slice(&payload.as_bytes()[STAMP_CHARS..]);
}

/// Identifies one simulated call on the Twilio side.
#[derive(Debug, Clone)]
pub struct StreamIds {
    pub account_sid: String,
    pub stream_sid: String,
    pub call_sid: String,
}

impl StreamIds {
    /// Ids in Twilio's shapes (`MZ`/`CA` + 32 hex digits), distinct per call.
    pub fn for_call(index: usize) -> StreamIds {
        StreamIds {
            account_sid: format!("AC{:032x}", 0xbe_u128 << 64),
            stream_sid: format!("MZ{index:032x}"),
            call_sid: format!("CA{index:032x}"),
        }
    }
}

// io::Write on a Vec cannot fail; the results below are ignored for that reason.

pub fn twilio_connected(out: &mut Vec<u8>) {
    out.extend_from_slice(br#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#);
}

pub fn twilio_start(out: &mut Vec<u8>, ids: &StreamIds, call_id: &str, token: &str) {
    let _ = write!(
        out,
        r#"{{"event":"start","sequenceNumber":"1","start":{{"accountSid":"{}","streamSid":"{}","callSid":"{}","tracks":["inbound"],"customParameters":{{"call_id":"{call_id}","token":"{token}"}},"mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}},"streamSid":"{}"}}"#,
        ids.account_sid, ids.stream_sid, ids.call_sid, ids.stream_sid
    );
}

/// The `frame`-th media message (from 1); Twilio's sequence number counts `start` as 1.
pub fn twilio_media(out: &mut Vec<u8>, stream_sid: &str, frame: u64, sent_ns: u64) {
    let _ = write!(
        out,
        r#"{{"event":"media","sequenceNumber":"{}","media":{{"track":"inbound","chunk":"{frame}","timestamp":"{}","payload":""#,
        frame + 1,
        (frame - 1) * 20
    );
    write_payload(
        out,
        Stamp {
            seq: frame,
            sent_ns,
            hold_ns: 0,
        },
    );
    let _ = write!(out, r#""}},"streamSid":"{stream_sid}"}}"#);
}

pub fn twilio_stop(out: &mut Vec<u8>, ids: &StreamIds, sequence_number: u64) {
    let _ = write!(
        out,
        r#"{{"event":"stop","sequenceNumber":"{sequence_number}","stop":{{"accountSid":"{}","callSid":"{}"}},"streamSid":"{}"}}"#,
        ids.account_sid, ids.call_sid, ids.stream_sid
    );
}

pub fn agent_metadata(out: &mut Vec<u8>, conversation: u64) {
    let _ = write!(
        out,
        r#"{{"type":"conversation_initiation_metadata","conversation_initiation_metadata_event":{{"conversation_id":"conv_bench{conversation:08}","agent_output_audio_format":"ulaw_8000","user_input_audio_format":"ulaw_8000"}}}}"#
    );
}

/// Agent audio that is not an echo: sequence number 0.
pub fn agent_greeting(out: &mut Vec<u8>, event_id: u64) {
    out.extend_from_slice(br#"{"type":"audio","audio_event":{"audio_base_64":""#);
    write_payload(
        out,
        Stamp {
            seq: 0,
            sent_ns: 0,
            hold_ns: 0,
        },
    );
    let _ = write!(out, r#"","event_id":{event_id}}}}}"#);
}

/// An echo of the caller's `payload`, whose stamp is `stamp`, with the agent's hold time
/// stamped in.
pub fn agent_echo(out: &mut Vec<u8>, payload: &str, stamp: Stamp, hold_ns: u64, event_id: u64) {
    out.extend_from_slice(br#"{"type":"audio","audio_event":{"audio_base_64":""#);
    write_restamped(out, payload, stamp, hold_ns);
    let _ = write!(out, r#"","event_id":{event_id}}}}}"#);
}

pub fn agent_ping(out: &mut Vec<u8>, event_id: u64) {
    let _ = write!(
        out,
        r#"{{"type":"ping","ping_event":{{"event_id":{event_id},"ping_ms":null}}}}"#
    );
}

pub fn agent_interruption(out: &mut Vec<u8>, event_id: u64) {
    let _ = write!(
        out,
        r#"{{"type":"interruption","interruption_event":{{"event_id":{event_id}}}}}"#
    );
}

/// The string value of the first `"key"` in `json`, without unescaping. Enough for the
/// fields read here (event names, base64), and it neither allocates nor parses the whole
/// message, which keeps the load generator's cost per frame below any bridge's.
pub fn str_field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let rest = after_key(json, key)?.strip_prefix('"')?;
    rest.find('"').map(|end| &rest[..end])
}

/// The unsigned integer value of the first `"key"` in `json`.
pub fn u64_field(json: &str, key: &str) -> Option<u64> {
    let rest = after_key(json, key)?;
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// What follows `"key"`, the colon and any spaces.
fn after_key<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let mut from = 0;
    loop {
        let at = from + json[from..].find(key)?;
        let end = at + key.len();
        from = end;
        let quoted =
            at > 0 && json.as_bytes()[at - 1] == b'"' && json.as_bytes().get(end) == Some(&b'"');
        if !quoted {
            continue;
        }
        let rest = json[end + 1..].trim_start();
        if let Some(value) = rest.strip_prefix(':') {
            return Some(value.trim_start());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(buf: &[u8]) -> &str {
        std::str::from_utf8(buf).unwrap()
    }

    #[test]
    fn a_stamp_survives_the_round_trip_and_fills_a_frame() {
        let mut out = Vec::new();
        let stamp = Stamp {
            seq: 7,
            sent_ns: 123_456_789,
            hold_ns: 0,
        };
        write_payload(&mut out, stamp);
        let payload = text(&out);
        assert_eq!(payload.len(), 216, "160 bytes in base64");
        let raw = STANDARD.decode(payload).unwrap();
        assert_eq!(raw.len(), FRAME_BYTES);
        assert!(raw[STAMP_BYTES..].iter().all(|b| *b == 0xFF));
        assert_eq!(Stamp::decode(payload), Some(stamp));
    }

    #[test]
    fn restamping_sets_only_the_hold_time() {
        let mut first = Vec::new();
        write_payload(
            &mut first,
            Stamp {
                seq: 3,
                sent_ns: 99,
                hold_ns: 0,
            },
        );
        let mut second = Vec::new();
        let stamp = Stamp::decode(text(&first)).unwrap();
        write_restamped(&mut second, text(&first), stamp, 4_000);
        assert_eq!(
            Stamp::decode(text(&second)),
            Some(Stamp {
                seq: 3,
                sent_ns: 99,
                hold_ns: 4_000
            })
        );
        assert_eq!(text(&first)[STAMP_CHARS..], text(&second)[STAMP_CHARS..]);
        assert_eq!(Stamp::decode("short"), None);
    }

    #[test]
    fn messages_are_json_in_the_documented_shapes() {
        let ids = StreamIds::for_call(5);
        let mut out = Vec::new();
        twilio_media(&mut out, &ids.stream_sid, 2, 10);
        let media: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(media["event"], "media");
        assert_eq!(media["sequenceNumber"], "3");
        assert_eq!(media["media"]["chunk"], "2");
        assert_eq!(media["media"]["timestamp"], "20");
        assert_eq!(media["streamSid"], ids.stream_sid.as_str());

        out.clear();
        twilio_start(&mut out, &ids, "42", "tok");
        let start: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(start["start"]["customParameters"]["call_id"], "42");
        assert_eq!(start["start"]["callSid"], ids.call_sid.as_str());

        out.clear();
        let payload = media["media"]["payload"].as_str().unwrap();
        agent_echo(&mut out, payload, Stamp::decode(payload).unwrap(), 5, 9);
        let echo: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(echo["audio_event"]["event_id"], 9);

        for write in [
            agent_ping,
            agent_interruption,
            agent_greeting,
            agent_metadata,
        ] {
            out.clear();
            write(&mut out, 3);
            serde_json::from_slice::<serde_json::Value>(&out).unwrap();
        }
        out.clear();
        twilio_stop(&mut out, &ids, 9);
        serde_json::from_slice::<serde_json::Value>(&out).unwrap();
    }

    #[test]
    fn fields_are_found_with_or_without_spaces() {
        let json =
            r#"{"streamSid":"MZ1","event" : "media","media":{"payload":"abc"},"event_id": 42}"#;
        assert_eq!(str_field(json, "event"), Some("media"));
        assert_eq!(str_field(json, "payload"), Some("abc"));
        assert_eq!(u64_field(json, "event_id"), Some(42));
        assert_eq!(str_field(json, "missing"), None);
        // A key inside another string is not the key.
        assert_eq!(
            str_field(r#"{"a":"type","type":"pong"}"#, "type"),
            Some("pong")
        );
    }
}
