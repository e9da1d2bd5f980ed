//! Conversation records (reference H.1), also the `data` of `post_call_transcription`
//! webhooks (G.2). Parsers tolerate unknown and missing fields: ElevenLabs adds fields
//! without notice.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::ws::InitiationClientData;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub agent_id: String,
    pub conversation_id: String,
    pub status: ConversationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub transcript: Vec<TranscriptTurn>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: ConversationMetadata,
    /// `None` when analysis failed (or has not run yet).
    #[serde(default)]
    pub analysis: Option<Analysis>,
    /// Kept as JSON: echoed values may contain shapes (nulls) the typed form rejects;
    /// see [`Conversation::initiation_client_data`].
    #[serde(default)]
    pub conversation_initiation_client_data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_audio: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_user_audio: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_response_audio: Option<bool>,
}

impl Conversation {
    /// The initiation data typed, if it parses.
    pub fn initiation_client_data(&self) -> Option<InitiationClientData> {
        serde_json::from_value(self.conversation_initiation_client_data.clone()?).ok()
    }

    /// Analysis is complete only once the conversation is `done`.
    pub fn is_final(&self) -> bool {
        matches!(
            self.status,
            ConversationStatus::Done | ConversationStatus::Failed
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConversationStatus {
    Initiated,
    InProgress,
    Processing,
    Done,
    Failed,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptTurn {
    pub role: Role,
    /// `None` for tool-only turns.
    #[serde(default)]
    pub message: Option<String>,
    /// Documented as an integer; a float is accepted and truncated.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub time_in_call_secs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_results: Option<Vec<ToolResult>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Agent,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    #[serde(default)]
    pub request_id: Option<String>,
    pub tool_name: String,
    /// The parameters as a JSON string.
    #[serde(default)]
    pub params_as_json: Option<String>,
    #[serde(default)]
    pub tool_has_been_called: Option<bool>,
    #[serde(default, rename = "type")]
    pub tool_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResult {
    #[serde(default)]
    pub request_id: Option<String>,
    pub tool_name: String,
    #[serde(default)]
    pub result_value: Option<String>,
    #[serde(default)]
    pub is_error: Option<bool>,
    #[serde(default)]
    pub tool_latency_secs: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationMetadata {
    #[serde(default)]
    pub start_time_unix_secs: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_time_unix_secs: Option<i64>,
    #[serde(default)]
    pub call_duration_secs: Option<u64>,
    /// Credits.
    #[serde(default)]
    pub cost: Option<i64>,
    /// USD (newer field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_fiat: Option<f64>,
    #[serde(default)]
    pub termination_reason: Option<String>,
    #[serde(default)]
    pub error: Option<MetadataError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_language: Option<String>,
    /// Only for ElevenLabs-managed telephony; expected `null` for our own bridge.
    #[serde(default)]
    pub phone_call: Option<Value>,
    #[serde(default)]
    pub batch_call: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_method: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataError {
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub call_successful: Verdict,
    #[serde(default)]
    pub transcript_summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_summary_title: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub evaluation_criteria_results: BTreeMap<String, EvaluationResult>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub data_collection_results: BTreeMap<String, DataCollectionResult>,
}

/// `success` / `failure` / `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Success,
    Failure,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationResult {
    pub criteria_id: String,
    pub result: Verdict,
    #[serde(default)]
    pub rationale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_score: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataCollectionResult {
    pub data_collection_id: String,
    /// Any JSON value (string, number, object...).
    #[serde(default)]
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<Value>,
    #[serde(default)]
    pub rationale: Option<String>,
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

fn lenient_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let value = Option::<f64>::deserialize(deserializer)?.unwrap_or(0.0);
    Ok(if value.is_finite() && value > 0.0 {
        value as u64
    } else {
        0
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The `data` object of the reference `post_call_transcription` example (G.2).
    pub(crate) const REFERENCE_DATA: &str = r#"{
        "agent_id": "agent_01jx",
        "conversation_id": "conv_01jx",
        "status": "done",
        "user_id": "crm-contact-981",
        "transcript": [
          {"role": "agent", "message": "Hi John, this is Maya from Acme.", "tool_calls": null, "tool_results": null, "feedback": null, "time_in_call_secs": 0, "conversation_turn_metrics": null},
          {"role": "user", "message": "Hi, who is this?", "tool_calls": null, "tool_results": null, "feedback": null, "time_in_call_secs": 3, "conversation_turn_metrics": null}
        ],
        "metadata": {
          "start_time_unix_secs": 1739537297,
          "call_duration_secs": 22,
          "cost": 296,
          "termination_reason": "",
          "phone_call": null,
          "batch_call": null,
          "error": null
        },
        "analysis": {
          "evaluation_criteria_results": {"goal_met": {"criteria_id": "goal_met", "result": "success", "rationale": "…"}},
          "data_collection_results": {"callback_time": {"data_collection_id": "callback_time", "value": "tomorrow 10am", "rationale": "…"}},
          "call_successful": "success",
          "transcript_summary": "Maya called John about …"
        },
        "conversation_initiation_client_data": {
          "conversation_config_override": {"agent": {"prompt": null, "first_message": null, "language": "en"}, "tts": {"voice_id": null}},
          "custom_llm_extra_body": {},
          "dynamic_variables": {"customer_name": "John"}
        },
        "has_audio": true,
        "has_user_audio": true,
        "has_response_audio": true
    }"#;

    #[test]
    fn parses_the_reference_conversation() {
        let conversation: Conversation = serde_json::from_str(REFERENCE_DATA).unwrap();
        assert_eq!(conversation.conversation_id, "conv_01jx");
        assert_eq!(conversation.status, ConversationStatus::Done);
        assert!(conversation.is_final());
        assert_eq!(conversation.transcript.len(), 2);
        assert_eq!(conversation.transcript[0].role, Role::Agent);
        assert_eq!(conversation.transcript[1].role, Role::User);
        assert_eq!(
            conversation.transcript[1].message.as_deref(),
            Some("Hi, who is this?")
        );
        assert_eq!(conversation.transcript[1].time_in_call_secs, 3);
        assert_eq!(conversation.metadata.call_duration_secs, Some(22));
        assert_eq!(conversation.metadata.cost, Some(296));
        assert_eq!(
            conversation.metadata.start_time_unix_secs,
            Some(1_739_537_297)
        );
        assert_eq!(conversation.metadata.phone_call, None);
        let analysis = conversation.analysis.as_ref().unwrap();
        assert_eq!(analysis.call_successful, Verdict::Success);
        assert_eq!(
            analysis.transcript_summary.as_deref(),
            Some("Maya called John about …")
        );
        assert_eq!(
            analysis.evaluation_criteria_results["goal_met"].result,
            Verdict::Success
        );
        assert_eq!(
            analysis.data_collection_results["callback_time"].value,
            "tomorrow 10am"
        );
        let init = conversation.initiation_client_data().unwrap();
        assert_eq!(init.dynamic_variables["customer_name"], "John".into());
        assert_eq!(conversation.has_audio, Some(true));
    }

    #[test]
    fn tolerates_nulls_unknown_values_and_new_fields() {
        let json = r#"{
            "agent_id": "a", "conversation_id": "c", "status": "archived",
            "transcript": [{"role": "tool", "message": null, "time_in_call_secs": 4.7,
                            "tool_calls": [{"request_id": "r1", "tool_name": "lookup", "params_as_json": "{}", "tool_has_been_called": true, "type": "webhook"}],
                            "tool_results": [{"request_id": "r1", "tool_name": "lookup", "result_value": "ok", "is_error": false, "tool_latency_secs": 0.2}],
                            "rag_retrieval_info": {"x": 1}}],
            "metadata": {"call_duration_secs": 5, "cost_fiat": 0.02, "brand_new": {}},
            "analysis": {"call_successful": "maybe", "evaluation_criteria_results": null, "data_collection_results": {}},
            "something_added_later": [1, 2]
        }"#;
        let conversation: Conversation = serde_json::from_str(json).unwrap();
        assert_eq!(conversation.status, ConversationStatus::Unknown);
        assert!(!conversation.is_final());
        let turn = &conversation.transcript[0];
        assert_eq!(
            (turn.role, turn.time_in_call_secs, turn.message.as_deref()),
            (Role::Unknown, 4, None)
        );
        assert_eq!(turn.tool_calls.as_ref().unwrap()[0].tool_name, "lookup");
        assert_eq!(
            turn.tool_results.as_ref().unwrap()[0]
                .result_value
                .as_deref(),
            Some("ok")
        );
        assert_eq!(conversation.metadata.cost_fiat, Some(0.02));
        let analysis = conversation.analysis.unwrap();
        assert_eq!(analysis.call_successful, Verdict::Unknown);
        assert!(analysis.evaluation_criteria_results.is_empty());
        assert_eq!(conversation.conversation_initiation_client_data, None);
    }

    #[test]
    fn processing_conversation_without_analysis() {
        let conversation: Conversation = serde_json::from_str(
            r#"{"agent_id":"a","conversation_id":"c","status":"processing","transcript":[],"metadata":{},"analysis":null}"#,
        )
        .unwrap();
        assert_eq!(conversation.status, ConversationStatus::Processing);
        assert!(conversation.analysis.is_none());
    }
}
