//! Outbound webhooks: the event types a subscription can ask for, the call status CRMs
//! see, and the retry schedule of a delivery.
use crate::call::CallOutcome;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "call.completed")]
    CallCompleted,
    #[serde(rename = "call.analyzed")]
    CallAnalyzed,
    #[serde(rename = "campaign.state_changed")]
    CampaignStateChanged,
    #[serde(rename = "contact.opted_out")]
    ContactOptedOut,
    /// A warm transfer ended: connected to a person, or fell back.
    #[serde(rename = "call.transferred")]
    CallTransferred,
}

crate::named_enum!(EventType {
    CallCompleted => "call.completed",
    CallAnalyzed => "call.analyzed",
    CampaignStateChanged => "campaign.state_changed",
    ContactOptedOut => "contact.opted_out",
    CallTransferred => "call.transferred",
});

/// The coarse status a CRM files a call under, from its outcome: any conversation
/// (whatever the agent's verdict, however short) is `held`.
pub fn call_status(outcome: CallOutcome) -> &'static str {
    match outcome {
        CallOutcome::Success
        | CallOutcome::Unsuccessful
        | CallOutcome::Conversation
        | CallOutcome::ShortCall
        | CallOutcome::OptedOut => "held",
        CallOutcome::Voicemail => "voicemail",
        CallOutcome::NoAnswer => "no_answer",
        CallOutcome::Busy => "busy",
        CallOutcome::Failed => "failed",
        CallOutcome::Canceled => "canceled",
    }
}

/// What follows a failed delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Retry {
    After(Duration),
    /// The schedule is used up: the delivery is dead.
    GiveUp,
}

/// The wait after failed attempt number `attempts` (1-based) under `schedule` (one delay
/// per retry), stretched by `jitter` (a fraction, e.g. 0.1 for up to +10%) times `roll`
/// (a random number in 0..1 the caller draws).
pub fn retry_after(schedule: &[Duration], attempts: u32, jitter: f64, roll: f64) -> Retry {
    match schedule.get(attempts.saturating_sub(1) as usize) {
        Some(delay) => Retry::After(delay.mul_f64(1.0 + jitter.max(0.0) * roll.clamp(0.0, 1.0))),
        None => Retry::GiveUp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip_by_name() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(*t));
            let json = serde_json::to_string(t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
        assert_eq!(EventType::parse("call.started"), None);
    }

    #[test]
    fn conversations_are_held_and_the_rest_keep_their_name() {
        assert_eq!(call_status(CallOutcome::Success), "held");
        assert_eq!(call_status(CallOutcome::ShortCall), "held");
        assert_eq!(call_status(CallOutcome::Voicemail), "voicemail");
        assert_eq!(call_status(CallOutcome::NoAnswer), "no_answer");
        assert_eq!(call_status(CallOutcome::Busy), "busy");
    }

    #[test]
    fn the_schedule_runs_out_into_give_up() {
        let s = [Duration::from_secs(30), Duration::from_secs(120)];
        assert_eq!(
            retry_after(&s, 1, 0.0, 0.5),
            Retry::After(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&s, 2, 0.5, 1.0),
            Retry::After(Duration::from_secs(180))
        );
        assert_eq!(retry_after(&s, 3, 0.0, 0.0), Retry::GiveUp);
    }
}
