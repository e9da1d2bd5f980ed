//! Messages the agent sends to the client (reference F.5).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audio_format::AudioFormat;

/// Any server -> client message, tagged by `type`. Types this crate does not know parse as
/// [`ServerMessage::Unknown`] (clients must ignore them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    ConversationInitiationMetadata {
        conversation_initiation_metadata_event: InitiationMetadata,
    },
    /// Agent speech. Current shape: `audio_event`; legacy shape: `audio.chunk`.
    Audio {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audio_event: Option<AudioEvent>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audio: Option<LegacyAudio>,
    },
    AgentResponse {
        agent_response_event: AgentResponseEvent,
    },
    AgentResponseCorrection {
        agent_response_correction_event: AgentResponseCorrectionEvent,
    },
    AgentChatResponsePart {
        text_response_part: TextResponsePart,
    },
    UserTranscript {
        user_transcription_event: UserTranscriptionEvent,
    },
    TentativeUserTranscript {
        tentative_user_transcription_event: UserTranscriptionEvent,
    },
    Interruption {
        interruption_event: InterruptionEvent,
    },
    Ping {
        ping_event: PingEvent,
    },
    ClientToolCall {
        client_tool_call: ClientToolCall,
    },
    AgentToolRequest {
        agent_tool_request: AgentToolRequest,
    },
    AgentToolResponse {
        agent_tool_response: AgentToolResponse,
    },
    VadScore {
        vad_score_event: VadScoreEvent,
    },
    InternalTentativeAgentResponse {
        tentative_agent_response_internal_event: TentativeAgentResponseEvent,
    },
    Error {
        error_event: ErrorEvent,
    },
    #[serde(other)]
    Unknown,
}

impl ServerMessage {
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialize")
    }

    /// Base64 audio and event id of an `audio` message, whichever shape it used.
    pub fn audio(&self) -> Option<(&str, Option<u64>)> {
        match self {
            Self::Audio {
                audio_event: Some(event),
                ..
            } => Some((&event.audio_base_64, Some(event.event_id))),
            Self::Audio {
                audio: Some(legacy),
                ..
            } => Some((&legacy.chunk, None)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiationMetadata {
    pub conversation_id: String,
    pub agent_output_audio_format: AudioFormat,
    pub user_input_audio_format: AudioFormat,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioEvent {
    /// In the agent's output format; for `ulaw_8000` forward it to Twilio unchanged.
    pub audio_base_64: String,
    /// Comparable with `interruption_event.event_id`.
    pub event_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alignment: Option<Alignment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alignment {
    pub chars: Vec<String>,
    pub char_start_times_ms: Vec<i64>,
    pub char_durations_ms: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyAudio {
    pub chunk: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentResponseEvent {
    pub agent_response: String,
    #[serde(default)]
    pub event_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentResponseCorrectionEvent {
    pub original_agent_response: String,
    /// What the agent actually said before being interrupted.
    pub corrected_agent_response: String,
    #[serde(default)]
    pub event_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextResponsePart {
    pub text: String,
    /// `start`, `delta` or `stop`.
    #[serde(rename = "type")]
    pub part_type: String,
    #[serde(default)]
    pub event_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTranscriptionEvent {
    pub user_transcript: String,
    #[serde(default)]
    pub event_id: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterruptionEvent {
    /// Drop every `audio` with `event_id <=` this, and clear the caller's playback buffer.
    pub event_id: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingEvent {
    /// May be 0; echo it in the `pong`.
    pub event_id: u64,
    /// Measured latency; null on the first ping.
    #[serde(default)]
    pub ping_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientToolCall {
    pub tool_name: String,
    pub tool_call_id: String,
    #[serde(default)]
    pub parameters: Value,
    #[serde(default)]
    pub event_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentToolRequest {
    pub tool_name: String,
    pub tool_call_id: String,
    #[serde(default)]
    pub tool_type: Option<String>,
    #[serde(default)]
    pub event_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentToolResponse {
    pub tool_name: String,
    pub tool_call_id: String,
    /// `system`, `webhook`, `client`, ...; `end_call` is a `system` tool.
    #[serde(default)]
    pub tool_type: Option<String>,
    #[serde(default)]
    pub is_error: bool,
    #[serde(default)]
    pub is_called: Option<bool>,
    #[serde(default)]
    pub event_id: Option<u64>,
}

impl AgentToolResponse {
    /// The agent decided to hang up; the server closes the socket next.
    pub fn is_end_call(&self) -> bool {
        self.tool_name == "end_call"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VadScoreEvent {
    pub vad_score: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TentativeAgentResponseEvent {
    pub tentative_agent_response: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvent {
    /// WebSocket close code the server will use (1000, 1002, 1008, 1011).
    #[serde(default)]
    pub code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// e.g. `max_duration_exceeded`, `override_error`, `missing_dynamic_variable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses, checks the re-serialization equals the input, returns the message.
    fn round_trip(text: &str) -> ServerMessage {
        let message = ServerMessage::parse(text).unwrap();
        let original: Value = serde_json::from_str(text).unwrap();
        let written: Value = serde_json::from_str(&message.to_json()).unwrap();
        assert_eq!(written, original);
        message
    }

    #[test]
    fn initiation_metadata_carries_formats() {
        let message = round_trip(
            r#"{"type":"conversation_initiation_metadata","conversation_initiation_metadata_event":{"conversation_id":"conv_01jx","agent_output_audio_format":"ulaw_8000","user_input_audio_format":"pcm_16000"}}"#,
        );
        let ServerMessage::ConversationInitiationMetadata {
            conversation_initiation_metadata_event: metadata,
        } = message
        else {
            panic!("wrong variant");
        };
        assert_eq!(metadata.conversation_id, "conv_01jx");
        assert_eq!(metadata.agent_output_audio_format, AudioFormat::Ulaw8000);
        assert_eq!(metadata.user_input_audio_format, AudioFormat::Pcm(16000));
    }

    #[test]
    fn ping_with_null_latency_and_zero_id() {
        let message = round_trip(r#"{"type":"ping","ping_event":{"event_id":3,"ping_ms":null}}"#);
        assert_eq!(
            message,
            ServerMessage::Ping {
                ping_event: PingEvent {
                    event_id: 3,
                    ping_ms: None
                }
            }
        );
        let zero = ServerMessage::parse(r#"{"type":"ping","ping_event":{"event_id":0}}"#).unwrap();
        assert!(matches!(
            zero,
            ServerMessage::Ping {
                ping_event: PingEvent { event_id: 0, .. }
            }
        ));
    }

    #[test]
    fn audio_in_both_shapes() {
        let current =
            round_trip(r#"{"type":"audio","audio_event":{"audio_base_64":"//7+/f","event_id":4}}"#);
        assert_eq!(current.audio(), Some(("//7+/f", Some(4))));
        let legacy = round_trip(r#"{"type":"audio","audio":{"chunk":"//7+"}}"#);
        assert_eq!(legacy.audio(), Some(("//7+", None)));
        let aligned = round_trip(
            r#"{"type":"audio","audio_event":{"audio_base_64":"AA==","event_id":5,"alignment":{"chars":["H","i"],"char_start_times_ms":[0,50],"char_durations_ms":[50,60]}}}"#,
        );
        let ServerMessage::Audio {
            audio_event: Some(event),
            ..
        } = aligned
        else {
            panic!("wrong variant");
        };
        assert_eq!(event.alignment.unwrap().chars, ["H", "i"]);
    }

    #[test]
    fn transcripts_responses_and_interruptions() {
        assert_eq!(
            round_trip(
                r#"{"type":"agent_response","agent_response_event":{"agent_response":"Hi John, this is Maya from Acme.","event_id":4}}"#
            ),
            ServerMessage::AgentResponse {
                agent_response_event: AgentResponseEvent {
                    agent_response: "Hi John, this is Maya from Acme.".into(),
                    event_id: Some(4)
                }
            }
        );
        assert_eq!(
            round_trip(
                r#"{"type":"user_transcript","user_transcription_event":{"user_transcript":"Who is this?","event_id":6}}"#
            ),
            ServerMessage::UserTranscript {
                user_transcription_event: UserTranscriptionEvent {
                    user_transcript: "Who is this?".into(),
                    event_id: Some(6)
                }
            }
        );
        assert_eq!(
            round_trip(r#"{"type":"interruption","interruption_event":{"event_id":7}}"#),
            ServerMessage::Interruption {
                interruption_event: InterruptionEvent { event_id: 7 }
            }
        );
        let correction = round_trip(
            r#"{"type":"agent_response_correction","agent_response_correction_event":{"original_agent_response":"Let me tell you about our full range…","corrected_agent_response":"Let me tell you…","event_id":7}}"#,
        );
        let ServerMessage::AgentResponseCorrection {
            agent_response_correction_event: event,
        } = correction
        else {
            panic!("wrong variant");
        };
        assert_eq!(event.corrected_agent_response, "Let me tell you…");
        round_trip(
            r#"{"type":"tentative_user_transcript","tentative_user_transcription_event":{"user_transcript":"Who is","event_id":6}}"#,
        );
        round_trip(
            r#"{"type":"agent_chat_response_part","text_response_part":{"text":"Hi","type":"delta","event_id":2}}"#,
        );
        round_trip(
            r#"{"type":"internal_tentative_agent_response","tentative_agent_response_internal_event":{"tentative_agent_response":"Sure"}}"#,
        );
        round_trip(r#"{"type":"vad_score","vad_score_event":{"vad_score":0.93}}"#);
    }

    #[test]
    fn tool_calls() {
        let call = round_trip(
            r#"{"type":"client_tool_call","client_tool_call":{"tool_name":"lookup_order","tool_call_id":"toolu_01AB","parameters":{"order_id":"A-1001"},"event_id":9}}"#,
        );
        let ServerMessage::ClientToolCall { client_tool_call } = call else {
            panic!("wrong variant");
        };
        assert_eq!(client_tool_call.tool_name, "lookup_order");
        assert_eq!(client_tool_call.parameters["order_id"], "A-1001");

        let end = round_trip(
            r#"{"type":"agent_tool_response","agent_tool_response":{"tool_name":"end_call","tool_call_id":"t2","tool_type":"system","is_error":false,"is_called":true,"event_id":12}}"#,
        );
        let ServerMessage::AgentToolResponse {
            agent_tool_response,
        } = end
        else {
            panic!("wrong variant");
        };
        assert!(agent_tool_response.is_end_call());
        round_trip(
            r#"{"type":"agent_tool_request","agent_tool_request":{"tool_name":"lookup_order","tool_call_id":"t1","tool_type":"webhook","event_id":10}}"#,
        );
    }

    #[test]
    fn error_event() {
        let message = round_trip(
            r#"{"type":"error","error_event":{"code":1011,"message":"Conversation has exceeded maximum duration","error_type":"max_duration_exceeded"}}"#,
        );
        let ServerMessage::Error { error_event } = message else {
            panic!("wrong variant");
        };
        assert_eq!(error_event.code, Some(1011));
        assert_eq!(
            error_event.error_type.as_deref(),
            Some("max_duration_exceeded")
        );
    }

    #[test]
    fn unknown_types_do_not_fail() {
        for text in [
            r#"{"type":"guardrail_triggered"}"#,
            r#"{"type":"context_usage","context_usage_event":{"event_id":1,"model":"x","context_tokens":5,"context_limit_tokens":9}}"#,
            r#"{"type":"something_new","whatever":[1,2,3]}"#,
        ] {
            assert_eq!(ServerMessage::parse(text).unwrap(), ServerMessage::Unknown);
        }
        assert!(ServerMessage::parse(r#"{"no_type":1}"#).is_err());
    }
}
