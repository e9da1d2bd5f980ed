//! What the simulator remembers about a conversation: the public summary tests read
//! ([`SimConversation`]) and the internal record behind the REST views (reference H.1).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use parley_elevenlabs::conversation::{
    Analysis, Conversation, ConversationMetadata, ConversationStatus, DataCollectionResult,
    EvaluationResult, MetadataError, Role, ToolCall, ToolResult, TranscriptTurn, Verdict,
};
use parley_elevenlabs::ws::InitiationClientData;
use serde_json::Value;

use crate::personas::Persona;

/// Snapshot of one simulated conversation, for tests.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConversation {
    pub conversation_id: String,
    pub agent_id: String,
    /// `in-progress` while the socket is open, `processing` briefly after, then `done`.
    pub status: ConversationStatus,
    pub start_time_unix_secs: i64,
    /// The `conversation_initiation_client_data` received: dynamic variables, overrides.
    pub initiation: InitiationClientData,
    pub transcript: Vec<TranscriptTurn>,
    pub tool_calls: Vec<SimToolCall>,
    pub pings_sent: u64,
    /// Pongs that echoed an outstanding ping's `event_id`.
    pub pongs_ok: u64,
    /// Pings left unanswered for two ping intervals.
    pub pongs_missed: u64,
    /// Pongs whose `event_id` matched no outstanding ping.
    pub pongs_unexpected: u64,
    pub interruptions: u32,
    /// `user_audio_chunk`s received, counted by the format each was in (see
    /// `speech::chunk_format`): a test can check that none came in a format the agent
    /// did not announce.
    pub audio_chunk_formats: BTreeMap<String, u64>,
    pub socket_open: bool,
    /// From the initiation data's arrival to the first audio chunk sent: the agent's own
    /// time to speak, which no client can save. `None` until it speaks.
    pub first_audio_ms: Option<f64>,
    /// The close code the client sent, whether it closed first or answered the agent's
    /// close frame: 1005 for a close frame without a code, 1006 when the connection
    /// ended without one. `None` while open, and when the agent dropped the connection.
    pub client_close_code: Option<u16>,
    /// How the conversation ended; `None` while it runs.
    pub ended_by: Option<EndedBy>,
    /// Set once the conversation is `done`.
    pub analysis: Option<Analysis>,
    pub webhook: WebhookDelivery,
}

/// How a conversation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndedBy {
    /// The agent finished its script: `end_call`, then a normal close (1000).
    Agent,
    /// Magic agent `agent_drops`: TCP dropped without a close frame.
    AgentDropped,
    /// Maximum duration reached: `error` event, then close 1011.
    MaxDuration,
    /// The simulator shut down (close 1001).
    SimulatorStopped,
    /// The client sent a close frame, with its code if any.
    Client { code: Option<u16> },
    /// The client's connection ended without a close frame.
    ClientVanished,
}

impl EndedBy {
    fn termination_reason(&self) -> String {
        match self {
            Self::Agent => "end_call tool was called.".into(),
            Self::AgentDropped => "Connection dropped by the server (simulated failure).".into(),
            Self::MaxDuration => "Conversation has exceeded maximum duration".into(),
            Self::SimulatorStopped => "Server shutting down.".into(),
            Self::Client { code } => {
                format!("Client disconnected: {}", code.unwrap_or(1005))
            }
            Self::ClientVanished => "Client disconnected: 1006".into(),
        }
    }

    fn error(&self) -> Option<MetadataError> {
        let (code, reason) = match self {
            Self::AgentDropped => (1006, "connection dropped"),
            Self::MaxDuration => (1011, "max_duration_exceeded"),
            _ => return None,
        };
        Some(MetadataError {
            code: Some(code),
            reason: Some(reason.into()),
        })
    }

    fn describe(&self) -> &'static str {
        match self {
            Self::Agent => "the agent ended the call",
            Self::AgentDropped => "the connection dropped",
            Self::MaxDuration => "the call hit the maximum duration",
            Self::SimulatorStopped => "the simulator stopped",
            Self::Client { .. } | Self::ClientVanished => "the caller side hung up",
        }
    }
}

/// A `client_tool_call` the agent made and what came back.
#[derive(Debug, Clone, PartialEq)]
pub struct SimToolCall {
    pub tool_call_id: String,
    pub tool_name: String,
    pub parameters: Value,
    pub result: Option<SimToolResult>,
    /// No result arrived within the wait; the agent went on without it.
    pub timed_out: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimToolResult {
    pub result: String,
    pub is_error: bool,
    pub latency: Duration,
}

/// State of the post-call webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookDelivery {
    /// No `webhook_url` configured.
    NotConfigured,
    /// Not sent yet (conversation still running or processing).
    Pending,
    Delivered {
        attempts: u32,
    },
    Failed {
        attempts: u32,
        error: String,
    },
}

/// Who produced a stretch of audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Speaker {
    User,
    Agent,
}

/// A stretch of tone, enough to re-synthesise the recording on demand instead of
/// holding audio in memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Segment {
    pub speaker: Speaker,
    /// Offset from the start of the conversation.
    pub start: Duration,
    pub length: Duration,
    pub hz: u32,
}

/// Bounds the segments kept per conversation (a runaway call cannot grow memory).
const MAX_SEGMENTS: usize = 4096;

/// Everything kept about one conversation.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub summary: SimConversation,
    pub started: Instant,
    pub ended: Option<Instant>,
    pub segments: Vec<Segment>,
    /// The callee recognised first, and how many of its lines were heard.
    pub persona: Option<(&'static Persona, usize)>,
    pub language: Option<String>,
}

impl Record {
    pub(crate) fn new(
        conversation_id: String,
        agent_id: String,
        initiation: InitiationClientData,
        webhook_configured: bool,
    ) -> Self {
        let language = initiation
            .conversation_config_override
            .as_ref()
            .and_then(|o| o.agent.as_ref())
            .and_then(|a| a.language.clone());
        Self {
            summary: SimConversation {
                conversation_id,
                agent_id,
                status: ConversationStatus::InProgress,
                start_time_unix_secs: chrono::Utc::now().timestamp(),
                initiation,
                transcript: Vec::new(),
                tool_calls: Vec::new(),
                pings_sent: 0,
                pongs_ok: 0,
                pongs_missed: 0,
                pongs_unexpected: 0,
                interruptions: 0,
                audio_chunk_formats: BTreeMap::new(),
                socket_open: true,
                first_audio_ms: None,
                client_close_code: None,
                ended_by: None,
                analysis: None,
                webhook: if webhook_configured {
                    WebhookDelivery::Pending
                } else {
                    WebhookDelivery::NotConfigured
                },
            },
            started: Instant::now(),
            ended: None,
            segments: Vec::new(),
            persona: None,
            language,
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.ended.unwrap_or_else(Instant::now) - self.started
    }

    /// Appends a turn; returns its index (for later edits such as an interruption).
    pub(crate) fn push_turn(&mut self, role: Role, message: Option<String>) -> usize {
        let secs = (Instant::now() - self.started).as_secs();
        self.summary.transcript.push(TranscriptTurn {
            role,
            message,
            time_in_call_secs: secs,
            tool_calls: None,
            tool_results: None,
            interrupted: None,
            original_message: None,
        });
        self.summary.transcript.len() - 1
    }

    pub(crate) fn push_segment(&mut self, segment: Segment) {
        if self.segments.len() < MAX_SEGMENTS {
            self.segments.push(segment);
        }
    }

    /// Marks the socket closed; the conversation is `processing` until [`Self::complete`].
    pub(crate) fn close(&mut self, how: EndedBy) {
        self.ended = Some(Instant::now());
        self.summary.socket_open = false;
        self.summary.ended_by = Some(how);
        self.summary.status = ConversationStatus::Processing;
    }

    /// Runs the post-call analysis and marks the conversation `done`.
    pub(crate) fn complete(&mut self) {
        self.summary.analysis = Some(self.analyse());
        self.summary.status = ConversationStatus::Done;
    }

    /// The H.1 view (also the `data` of the post-call webhook).
    pub(crate) fn to_conversation(&self) -> Conversation {
        let summary = &self.summary;
        let duration = self.elapsed().as_secs();
        let has_user_audio = self.segments.iter().any(|s| s.speaker == Speaker::User);
        let has_response_audio = self.segments.iter().any(|s| s.speaker == Speaker::Agent);
        Conversation {
            agent_id: summary.agent_id.clone(),
            conversation_id: summary.conversation_id.clone(),
            status: summary.status.clone(),
            user_id: summary.initiation.user_id.clone(),
            transcript: summary.transcript.clone(),
            metadata: ConversationMetadata {
                start_time_unix_secs: Some(summary.start_time_unix_secs),
                accepted_time_unix_secs: Some(summary.start_time_unix_secs),
                call_duration_secs: Some(duration),
                cost: Some(cost_credits(self.elapsed())),
                cost_fiat: None,
                termination_reason: Some(
                    summary
                        .ended_by
                        .as_ref()
                        .map(EndedBy::termination_reason)
                        .unwrap_or_default(),
                ),
                error: summary.ended_by.as_ref().and_then(EndedBy::error),
                main_language: Some(self.language.clone().unwrap_or_else(|| "en".into())),
                phone_call: None,
                batch_call: None,
                authorization_method: Some("signed_url".into()),
            },
            analysis: summary.analysis.clone(),
            conversation_initiation_client_data: serde_json::to_value(&summary.initiation).ok(),
            has_audio: Some(has_user_audio || has_response_audio),
            has_user_audio: Some(has_user_audio),
            has_response_audio: Some(has_response_audio),
        }
    }

    fn analyse(&self) -> Analysis {
        let summary = &self.summary;
        let count = |role| summary.transcript.iter().filter(|t| t.role == role).count();
        let (user_turns, agent_turns) = (count(Role::User), count(Role::Agent));
        let ending = summary.ended_by.as_ref().map_or("", EndedBy::describe);
        let who = match self.persona {
            Some((persona, _)) => format!("the '{}' callee", persona.name),
            None => "an unrecognised callee".into(),
        };
        let transcript_summary = format!(
            "Sandbox call with {who}: {user_turns} user turns, {agent_turns} agent turns, {} tool calls; {ending}.",
            summary.tool_calls.len()
        );
        let (verdict, script) = match self.persona {
            None => (Verdict::Unknown, Verdict::Unknown),
            Some((persona, heard)) => (
                verdict(persona.call_successful),
                if heard >= persona.lines.len() {
                    Verdict::Success
                } else {
                    Verdict::Failure
                },
            ),
        };
        let evaluation = EvaluationResult {
            criteria_id: "script_completed".into(),
            result: script,
            rationale: Some("Whether every scripted callee line was heard.".into()),
            score: None,
            max_score: None,
        };
        let persona_name = self
            .persona
            .map_or(Value::Null, |(p, _)| Value::String(p.name.into()));
        let tools: Vec<Value> = summary
            .tool_calls
            .iter()
            .map(|c| Value::String(c.tool_name.clone()))
            .collect();
        let data = [
            (
                "callee_persona",
                persona_name,
                "Recognised from the callee's voice.",
            ),
            (
                "tools_called",
                Value::Array(tools),
                "Client tools the agent called.",
            ),
        ]
        .into_iter()
        .map(|(id, value, rationale)| {
            let result = DataCollectionResult {
                data_collection_id: id.into(),
                value,
                json_schema: None,
                rationale: Some(rationale.into()),
            };
            (id.to_owned(), result)
        })
        .collect();
        Analysis {
            call_successful: verdict,
            transcript_summary: Some(transcript_summary),
            call_summary_title: Some(format!("Sandbox call ({who})")),
            evaluation_criteria_results: BTreeMap::from([(
                evaluation.criteria_id.clone(),
                evaluation,
            )]),
            data_collection_results: data,
        }
    }
}

/// A tool call as it appears in the transcript.
pub(crate) fn transcript_tool_call(call: &SimToolCall) -> ToolCall {
    ToolCall {
        request_id: Some(call.tool_call_id.clone()),
        tool_name: call.tool_name.clone(),
        params_as_json: Some(call.parameters.to_string()),
        tool_has_been_called: Some(true),
        tool_type: Some("client".into()),
    }
}

pub(crate) fn transcript_tool_result(call: &SimToolCall) -> Option<ToolResult> {
    let result = call.result.as_ref();
    if result.is_none() && !call.timed_out {
        return None;
    }
    Some(ToolResult {
        request_id: Some(call.tool_call_id.clone()),
        tool_name: call.tool_name.clone(),
        result_value: Some(
            result.map_or_else(|| "Tool call timed out".to_owned(), |r| r.result.clone()),
        ),
        is_error: Some(result.is_none_or(|r| r.is_error)),
        tool_latency_secs: result.map(|r| r.latency.as_secs_f64()),
    })
}

fn verdict(name: &str) -> Verdict {
    match name {
        "success" => Verdict::Success,
        "failure" => Verdict::Failure,
        _ => Verdict::Unknown,
    }
}

/// Credits, roughly what the real service charges per second of conversation.
fn cost_credits(length: Duration) -> i64 {
    const CREDITS_PER_SEC: f64 = 13.0;
    (length.as_secs_f64() * CREDITS_PER_SEC).ceil().max(1.0) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personas;

    #[test]
    fn done_record_has_analysis_and_metadata() {
        let init = InitiationClientData::default().dynamic_variable("customer_name", "Ann");
        let mut record = Record::new("conv_1".into(), "agent_1".into(), init, false);
        record.push_turn(Role::Agent, Some("Hello".into()));
        record.push_turn(Role::User, Some(personas::CONVERSES.lines[0].into()));
        record.persona = Some((&personas::CONVERSES, 3));
        assert_eq!(
            record.to_conversation().status,
            ConversationStatus::InProgress
        );
        record.close(EndedBy::Agent);
        assert_eq!(
            record.to_conversation().status,
            ConversationStatus::Processing
        );
        record.complete();
        let conversation = record.to_conversation();
        assert!(conversation.is_final());
        let analysis = conversation.analysis.clone().unwrap();
        assert_eq!(analysis.call_successful, Verdict::Success);
        assert_eq!(
            analysis.evaluation_criteria_results["script_completed"].result,
            Verdict::Success
        );
        assert_eq!(
            analysis.data_collection_results["callee_persona"].value,
            "converses"
        );
        assert_eq!(conversation.metadata.cost, Some(1));
        assert_eq!(
            conversation.metadata.termination_reason.as_deref(),
            Some("end_call tool was called.")
        );
        assert_eq!(
            conversation
                .initiation_client_data()
                .unwrap()
                .dynamic_variables["customer_name"],
            "Ann".into()
        );
    }
}
