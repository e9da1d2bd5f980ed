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
    /// The outcome in a person's words (see the README's glossary).
    pub outcome_label: Option<&'static str>,
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
    /// The campaign's A/B variant the call was placed with (its name); absent when the
    /// campaign has none.
    pub variant: Option<String>,
    /// A test call ("Call me" on a campaign): placed with the campaign's agent and
    /// settings to a number the operator typed, and kept out of the campaign's results
    /// (progress, analytics, results, exports by default, compliance report).
    #[serde(rename = "test")]
    pub is_test: bool,
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

/// What is known about a finished call, for [`classify_outcome`].
#[derive(Debug, Clone, Copy, Default)]
pub struct OutcomeFacts<'a> {
    pub status: Option<CallStatus>,
    /// Twilio's `AnsweredBy`, when detection ran.
    pub answered_by: Option<&'a str>,
    pub duration_seconds: Option<i64>,
    /// Calls shorter than this count as short calls.
    pub short_call_seconds: u32,
    /// The agent's `call_successful` verdict: `success`, `failure` or `unknown`.
    pub agent_verdict: Option<&'a str>,
    pub opted_out: bool,
}

/// Twilio's `AnsweredBy` values that mean a machine or fax picked up.
pub fn is_machine(answered_by: &str) -> bool {
    answered_by.starts_with("machine") || answered_by == "fax"
}

/// What a call amounted to, or `None` while it is not over.
pub fn classify_outcome(f: OutcomeFacts<'_>) -> Option<CallOutcome> {
    let outcome = match f.status? {
        CallStatus::Busy => CallOutcome::Busy,
        CallStatus::NoAnswer => CallOutcome::NoAnswer,
        CallStatus::Failed => CallOutcome::Failed,
        CallStatus::Canceled => CallOutcome::Canceled,
        CallStatus::Completed if f.opted_out => CallOutcome::OptedOut,
        CallStatus::Completed if f.answered_by.is_some_and(is_machine) => CallOutcome::Voicemail,
        CallStatus::Completed => match f.agent_verdict {
            Some("success") => CallOutcome::Success,
            Some("failure") => CallOutcome::Unsuccessful,
            _ if f
                .duration_seconds
                .is_some_and(|d| d < i64::from(f.short_call_seconds)) =>
            {
                CallOutcome::ShortCall
            }
            _ => CallOutcome::Conversation,
        },
        _ => return None,
    };
    Some(outcome)
}

#[cfg(test)]
mod outcome_tests {
    use super::*;

    fn facts(status: CallStatus) -> OutcomeFacts<'static> {
        OutcomeFacts {
            status: Some(status),
            short_call_seconds: 10,
            ..Default::default()
        }
    }

    #[test]
    fn outcomes_follow_status_machine_verdict_and_length() {
        assert_eq!(
            classify_outcome(facts(CallStatus::Busy)),
            Some(CallOutcome::Busy)
        );
        assert_eq!(classify_outcome(facts(CallStatus::InProgress)), None);
        let done = facts(CallStatus::Completed);
        assert_eq!(
            classify_outcome(OutcomeFacts {
                answered_by: Some("machine_end_beep"),
                ..done
            }),
            Some(CallOutcome::Voicemail)
        );
        assert_eq!(
            classify_outcome(OutcomeFacts {
                agent_verdict: Some("success"),
                duration_seconds: Some(3),
                ..done
            }),
            Some(CallOutcome::Success),
            "the agent's verdict beats length"
        );
        assert_eq!(
            classify_outcome(OutcomeFacts {
                duration_seconds: Some(4),
                ..done
            }),
            Some(CallOutcome::ShortCall)
        );
        assert_eq!(
            classify_outcome(OutcomeFacts {
                duration_seconds: Some(40),
                agent_verdict: Some("unknown"),
                ..done
            }),
            Some(CallOutcome::Conversation)
        );
        assert_eq!(
            classify_outcome(OutcomeFacts {
                opted_out: true,
                answered_by: Some("human"),
                ..done
            }),
            Some(CallOutcome::OptedOut)
        );
    }
}
