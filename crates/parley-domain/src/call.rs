//! Calls: their lifecycle states and how they ended.
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A call's progress. Ordered: a call never moves to a lower rank (callbacks may arrive
/// twice or out of order, and must not move a call backwards).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    /// Written by Parley; Twilio not yet asked.
    Queued,
    /// Twilio accepted the create request.
    Initiated,
    Ringing,
    InProgress,
    Completed,
    Busy,
    NoAnswer,
    Failed,
    Canceled,
}

crate::named_enum!(CallStatus {
    Queued => "queued",
    Initiated => "initiated",
    Ringing => "ringing",
    InProgress => "in-progress",
    Completed => "completed",
    Busy => "busy",
    NoAnswer => "no-answer",
    Failed => "failed",
    Canceled => "canceled",
});

impl CallStatus {
    pub fn rank(self) -> u8 {
        match self {
            CallStatus::Queued => 0,
            CallStatus::Initiated => 1,
            CallStatus::Ringing => 2,
            CallStatus::InProgress => 3,
            _ => 4,
        }
    }

    pub fn is_final(self) -> bool {
        self.rank() == 4
    }

    /// Whether moving from `self` to `next` is progress. Final states never change.
    pub fn may_become(self, next: CallStatus) -> bool {
        !self.is_final() && next.rank() > self.rank()
    }
}

/// Who or what ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TerminationSource {
    Agent,
    Callee,
    Carrier,
    Api,
    Amd,
    System,
    Timeout,
}

crate::named_enum!(TerminationSource {
    Agent => "agent",
    Callee => "callee",
    Carrier => "carrier",
    Api => "api",
    Amd => "amd",
    System => "system",
    Timeout => "timeout",
});

/// What a finished call amounted to, for reporting and for the retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// A conversation the agent judged successful.
    Success,
    /// A conversation the agent judged unsuccessful.
    Unsuccessful,
    /// A conversation with no verdict from the agent.
    Conversation,
    /// Connected, but shorter than the campaign's short-call threshold.
    ShortCall,
    Voicemail,
    NoAnswer,
    Busy,
    Failed,
    Canceled,
    /// The callee asked not to be called again.
    OptedOut,
}

crate::named_enum!(CallOutcome {
    Success => "success",
    Unsuccessful => "unsuccessful",
    Conversation => "conversation",
    ShortCall => "short_call",
    Voicemail => "voicemail",
    NoAnswer => "no_answer",
    Busy => "busy",
    Failed => "failed",
    Canceled => "canceled",
    OptedOut => "opted_out",
});

/// Speaker of a transcript turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TurnRole {
    User,
    Agent,
}

crate::named_enum!(TurnRole {
    User => "user",
    Agent => "agent",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_never_moves_backwards_or_out_of_a_final_state() {
        use CallStatus::*;
        assert!(Queued.may_become(Ringing));
        assert!(Ringing.may_become(InProgress));
        assert!(InProgress.may_become(Completed));
        assert!(!InProgress.may_become(Ringing));
        assert!(!Ringing.may_become(Ringing));
        assert!(!Completed.may_become(Failed));
        assert!(!NoAnswer.may_become(InProgress));
    }

    #[test]
    fn names_round_trip() {
        for &s in CallStatus::ALL {
            assert_eq!(CallStatus::parse(s.as_str()), Some(s));
        }
        for &o in CallOutcome::ALL {
            assert_eq!(CallOutcome::parse(o.as_str()), Some(o));
        }
        for &t in TerminationSource::ALL {
            assert_eq!(TerminationSource::parse(t.as_str()), Some(t));
        }
        assert_eq!(
            serde_json::to_string(&CallStatus::NoAnswer).unwrap(),
            "\"no-answer\""
        );
    }
}

/// A call as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Call {
    pub id: crate::Id,
    pub campaign_id: Option<crate::Id>,
    pub contact_id: Option<crate::Id>,
    /// 1 for a contact's first attempt in a campaign, 2 for the first retry, ...
    pub attempt: i64,
    pub to: String,
    pub from: String,
    pub agent_id: Option<String>,
    pub status: CallStatus,
    pub twilio_call_sid: Option<String>,
    pub conversation_id: Option<String>,
    /// Twilio's answering-machine verdict (`human`, `machine_end_beep`, ...).
    pub answered_by: Option<String>,
    pub termination_source: Option<TerminationSource>,
    pub outcome: Option<CallOutcome>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub duration_seconds: Option<i64>,
    pub summary: Option<String>,
    /// The agent's post-call analysis as ElevenLabs reported it.
    #[schema(value_type = Option<Object>)]
    pub analysis: Option<serde_json::Value>,
    pub cost: Option<f64>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub answered_at: Option<chrono::DateTime<chrono::Utc>>,
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Something that happened to a call (a status callback, an AMD verdict, ...).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CallEvent {
    pub id: crate::Id,
    pub kind: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TranscriptTurn {
    pub role: TurnRole,
    pub text: String,
    pub time_in_call_secs: Option<f64>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Recording {
    pub id: crate::Id,
    pub recording_sid: String,
    /// `in-progress`, `completed`, `absent`, `failed` or `deleted`.
    pub status: String,
    pub content_type: Option<String>,
    pub channels: Option<i64>,
    pub duration_seconds: Option<i64>,
    pub size_bytes: Option<i64>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}
