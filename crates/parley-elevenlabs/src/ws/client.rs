//! Messages the client (our bridge) sends to the agent (reference F.4).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Any client -> server message. Audio chunks have no `type` field, so this is untagged:
/// a bare `{"user_audio_chunk": ...}` or a `type`-tagged [`ClientEvent`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClientMessage {
    UserAudioChunk { user_audio_chunk: String },
    Event(ClientEvent),
}

impl ClientMessage {
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("client messages always serialize")
    }
}

/// `type`-tagged client messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientEvent {
    /// Must be the first message on the socket. Boxed: it is far larger than the rest.
    ConversationInitiationClientData(Box<InitiationClientData>),
    /// Answer to a `ping`, with the same `event_id` (which may be 0).
    Pong { event_id: u64 },
    ClientToolResult {
        tool_call_id: String,
        /// A string; serialize structured results to JSON text.
        result: String,
        is_error: bool,
    },
    /// Background information that does not interrupt the agent.
    ContextualUpdate { text: String },
    /// Text treated as if the user had said it.
    UserMessage { text: String },
    /// Resets the agent's turn timeout.
    UserActivity,
    Feedback {
        event_id: u64,
        score: Option<FeedbackScore>,
    },
    /// A client message type this crate does not know.
    #[serde(other)]
    Unknown,
}

impl ClientEvent {
    pub fn initiation(data: InitiationClientData) -> Self {
        Self::ConversationInitiationClientData(Box::new(data))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("client messages always serialize")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackScore {
    Like,
    Dislike,
}

/// Body of `conversation_initiation_client_data` (F.4.1). Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InitiationClientData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_config_override: Option<ConfigOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_llm_extra_body: Option<Map<String, Value>>,
    /// Fill `{{name}}` placeholders in the prompt, first message and tools.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dynamic_variables: BTreeMap<String, DynamicValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_info: Option<SourceInfo>,
}

impl InitiationClientData {
    pub fn dynamic_variable(
        mut self,
        name: impl Into<String>,
        value: impl Into<DynamicValue>,
    ) -> Self {
        self.dynamic_variables.insert(name.into(), value.into());
        self
    }
}

/// A dynamic variable value: string, integer, number or boolean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DynamicValue {
    Bool(bool),
    Integer(i64),
    Number(f64),
    String(String),
}

/// A JSON value ElevenLabs cannot take as a dynamic variable (an array or an object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a dynamic variable must be a string, a number or a boolean")]
pub struct NotAScalar;

impl DynamicValue {
    /// A JSON value as a dynamic variable: `Ok(None)` for null, which is left out rather
    /// than sent as the text "null"; arrays and objects are refused (the platform takes
    /// strings, numbers and booleans only).
    pub fn from_json(value: serde_json::Value) -> Result<Option<DynamicValue>, NotAScalar> {
        use serde_json::Value;
        Ok(Some(match value {
            Value::Null => return Ok(None),
            Value::Bool(b) => DynamicValue::Bool(b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => DynamicValue::Integer(i),
                // u64 beyond i64 and fractions: as a number (f64 holds any JSON number).
                None => DynamicValue::Number(n.as_f64().ok_or(NotAScalar)?),
            },
            Value::String(s) => DynamicValue::String(s),
            Value::Array(_) | Value::Object(_) => return Err(NotAScalar),
        }))
    }

    /// Whether `value` can be sent as a dynamic variable (null counts: it is left out).
    pub fn accepts(value: &serde_json::Value) -> bool {
        !(value.is_array() || value.is_object())
    }
}

impl From<&str> for DynamicValue {
    fn from(value: &str) -> Self {
        Self::String(value.to_owned())
    }
}

impl From<String> for DynamicValue {
    fn from(value: String) -> Self {
        Self::String(value)
    }
}

impl From<i64> for DynamicValue {
    fn from(value: i64) -> Self {
        Self::Integer(value)
    }
}

impl From<f64> for DynamicValue {
    fn from(value: f64) -> Self {
        Self::Number(value)
    }
}

impl From<bool> for DynamicValue {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

/// Per-conversation overrides; each only applies if the agent's security settings allow it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tts: Option<TtsOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationOverride>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptOverride>,
    /// Empty: the agent waits for the user to speak first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PromptOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TtsOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity_boost: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_only: Option<bool>,
    /// Restricts which server event types are sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_events: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_become_dynamic_variables_or_are_left_out_or_refused() {
        use serde_json::json;
        assert_eq!(DynamicValue::from_json(json!(null)), Ok(None));
        assert_eq!(
            DynamicValue::from_json(json!("Ann")),
            Ok(Some(DynamicValue::from("Ann")))
        );
        assert_eq!(
            DynamicValue::from_json(json!(3)),
            Ok(Some(DynamicValue::Integer(3)))
        );
        assert_eq!(
            DynamicValue::from_json(json!(2.5)),
            Ok(Some(DynamicValue::Number(2.5)))
        );
        assert_eq!(
            DynamicValue::from_json(json!(true)),
            Ok(Some(DynamicValue::Bool(true)))
        );
        assert_eq!(DynamicValue::from_json(json!(["a"])), Err(NotAScalar));
        assert_eq!(DynamicValue::from_json(json!({"a": 1})), Err(NotAScalar));
        assert!(DynamicValue::accepts(&json!(null)) && !DynamicValue::accepts(&json!([])));
    }
    use serde_json::json;

    const REFERENCE_INIT: &str = r#"{
      "type": "conversation_initiation_client_data",
      "conversation_config_override": {
        "agent": {
          "prompt": {"prompt": "You are Maya calling from Acme…", "llm": "gpt-4o-mini"},
          "first_message": "Hi {{customer_name}}, this is Maya from Acme.",
          "language": "en"
        },
        "tts": {"voice_id": "21m00Tcm4TlvDq8ikWAM", "stability": 0.5, "speed": 1.0, "similarity_boost": 0.8},
        "conversation": {"text_only": false, "client_events": ["audio", "agent_response", "user_transcript", "interruption", "ping"]}
      },
      "custom_llm_extra_body": {"temperature": 0.7, "max_tokens": 150},
      "dynamic_variables": {"customer_name": "John", "account_tier": "premium", "balance": 42.5, "vip": true},
      "user_id": "crm-contact-981"
    }"#;

    #[test]
    fn parses_and_reproduces_the_reference_initiation() {
        let ClientMessage::Event(ClientEvent::ConversationInitiationClientData(data)) =
            ClientMessage::parse(REFERENCE_INIT).unwrap()
        else {
            panic!("not an initiation message");
        };
        let agent = data
            .conversation_config_override
            .as_ref()
            .unwrap()
            .agent
            .as_ref()
            .unwrap();
        assert_eq!(agent.language.as_deref(), Some("en"));
        assert_eq!(
            agent.first_message.as_deref(),
            Some("Hi {{customer_name}}, this is Maya from Acme.")
        );
        assert_eq!(
            agent.prompt.as_ref().unwrap().llm.as_deref(),
            Some("gpt-4o-mini")
        );
        let tts = data
            .conversation_config_override
            .as_ref()
            .unwrap()
            .tts
            .as_ref()
            .unwrap();
        assert_eq!(tts.voice_id.as_deref(), Some("21m00Tcm4TlvDq8ikWAM"));
        assert_eq!(
            data.dynamic_variables["customer_name"],
            DynamicValue::from("John")
        );
        assert_eq!(
            data.dynamic_variables["balance"],
            DynamicValue::Number(42.5)
        );
        assert_eq!(data.dynamic_variables["vip"], DynamicValue::Bool(true));
        assert_eq!(data.user_id.as_deref(), Some("crm-contact-981"));

        let written: Value =
            serde_json::from_str(&ClientEvent::ConversationInitiationClientData(data).to_json())
                .unwrap();
        let original: Value = serde_json::from_str(REFERENCE_INIT).unwrap();
        assert_eq!(written, original);
    }

    #[test]
    fn builds_a_minimal_initiation_with_variables() {
        let data = InitiationClientData {
            conversation_config_override: Some(ConfigOverride {
                agent: Some(AgentOverride {
                    first_message: Some("Hi {{name}}".into()),
                    ..AgentOverride::default()
                }),
                tts: Some(TtsOverride {
                    voice_id: Some("voice1".into()),
                    ..TtsOverride::default()
                }),
                conversation: None,
            }),
            ..InitiationClientData::default()
        }
        .dynamic_variable("name", "Ann")
        .dynamic_variable("attempt", 2i64)
        .dynamic_variable("call_id", String::from("c_1"));
        let value: Value = serde_json::from_str(&ClientEvent::initiation(data).to_json()).unwrap();
        assert_eq!(
            value,
            json!({
                "type": "conversation_initiation_client_data",
                "conversation_config_override": {
                    "agent": {"first_message": "Hi {{name}}"},
                    "tts": {"voice_id": "voice1"}
                },
                "dynamic_variables": {"attempt": 2, "call_id": "c_1", "name": "Ann"}
            })
        );
        let empty = ClientEvent::initiation(InitiationClientData::default());
        assert_eq!(
            empty.to_json(),
            r#"{"type":"conversation_initiation_client_data"}"#
        );
    }

    #[test]
    fn small_client_messages_match_the_reference() {
        let cases = [
            (
                ClientEvent::Pong { event_id: 12345 },
                json!({"type":"pong","event_id":12345}),
            ),
            (
                ClientEvent::Pong { event_id: 0 },
                json!({"type":"pong","event_id":0}),
            ),
            (
                ClientEvent::ClientToolResult {
                    tool_call_id: "toolu_01".into(),
                    result: r#"{"status":"shipped"}"#.into(),
                    is_error: false,
                },
                json!({"type":"client_tool_result","tool_call_id":"toolu_01","result":"{\"status\":\"shipped\"}","is_error":false}),
            ),
            (
                ClientEvent::ContextualUpdate {
                    text: "caller is driving".into(),
                },
                json!({"type":"contextual_update","text":"caller is driving"}),
            ),
            (
                ClientEvent::UserMessage { text: "hi".into() },
                json!({"type":"user_message","text":"hi"}),
            ),
            (ClientEvent::UserActivity, json!({"type":"user_activity"})),
            (
                ClientEvent::Feedback {
                    event_id: 4,
                    score: Some(FeedbackScore::Like),
                },
                json!({"type":"feedback","event_id":4,"score":"like"}),
            ),
        ];
        for (event, expected) in cases {
            let text = event.to_json();
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), expected);
            assert_eq!(
                ClientMessage::parse(&text).unwrap(),
                ClientMessage::Event(event)
            );
        }
    }

    #[test]
    fn audio_chunk_has_no_type_field() {
        let chunk = ClientMessage::UserAudioChunk {
            user_audio_chunk: "//7+".into(),
        };
        assert_eq!(chunk.to_json(), r#"{"user_audio_chunk":"//7+"}"#);
        assert_eq!(
            ClientMessage::parse(r#"{"user_audio_chunk":"//7+"}"#).unwrap(),
            chunk
        );
    }

    #[test]
    fn unknown_client_types_are_tolerated() {
        assert_eq!(
            ClientMessage::parse(
                r#"{"type":"mcp_tool_approval_result","tool_call_id":"x","is_approved":true}"#
            )
            .unwrap(),
            ClientMessage::Event(ClientEvent::Unknown)
        );
        assert!(ClientMessage::parse(r#"{"nothing":1}"#).is_err());
    }
}
