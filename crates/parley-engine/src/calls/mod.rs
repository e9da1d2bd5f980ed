//! Calls from Parley's side: placing them, the TwiML Twilio fetches, what Twilio and
//! ElevenLabs report afterwards, and how each call's outcome is decided.
pub mod callbacks;
pub mod place;
pub mod post_call;
pub mod recordings;
pub mod test_call;
pub mod transfer;

use crate::events::LiveEvent;
use crate::Engine;
use parley_domain::call::{classify_outcome, Call, CallOutcome, OutcomeFacts, TerminationSource};
use parley_domain::campaign::{AnsweringMachine, CampaignSettings};
use parley_store::{Db, StoreError, Tx};
use serde::{Deserialize, Serialize};

/// How a call was placed, stored with it so later callbacks know the rules it runs under.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CallOptions {
    pub first_message: Option<String>,
    pub prompt: Option<String>,
    #[serde(default)]
    pub answering_machine: AnsweringMachine,
    #[serde(default = "default_short_call")]
    pub short_call_seconds: u32,
    /// Twilio's `TimeLimit` for the call; reaching it means the call timed out.
    #[serde(default)]
    pub max_duration_seconds: Option<u32>,
    /// The rule that kept this call from being recorded (every party must consent where
    /// the callee is), e.g. `Fla. Stat. 934.03`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_withheld_by: Option<String>,
    /// `conversation_config_override.agent.language` (from a contact field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// `conversation_config_override.tts.voice_id` (from a contact field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_id: Option<String>,
    /// Which of `language`, `voice_id`, `first_message` came from the contact's fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_contact: Vec<String>,
}

fn default_short_call() -> u32 {
    CampaignSettings::default().retry.short_call_seconds
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Store(#[from] parley_store::StoreError),
    #[error("the carrier refused: {0}")]
    Carrier(#[from] parley_twilio::TwilioError),
    #[error("call {0} has no Twilio call SID yet")]
    NotPlaced(i64),
}

/// What an event's transaction leaves to do once it has committed: the live events that
/// tell dashboards and other nodes about it, and the outcomes it settled for the metrics.
/// Nothing is published or counted for a change that rolls back. (Requests to Twilio are
/// made by the caller after the commit.)
#[derive(Default)]
#[must_use = "the live events are published by Engine::commit"]
pub struct AfterCommit {
    events: Vec<LiveEvent>,
    outcomes: Vec<CallOutcome>,
}

impl AfterCommit {
    pub(crate) fn publish(&mut self, event: LiveEvent) {
        self.events.push(event);
    }

    /// Counts a call's outcome once its settlement commits (each call settles once).
    pub(crate) fn count_outcome(&mut self, outcome: CallOutcome) {
        self.outcomes.push(outcome);
    }
}

/// The rules a call was placed under, read inside the caller's session.
pub async fn call_options(db: &mut Db, call_id: i64) -> Result<CallOptions, StoreError> {
    let (_, overrides) = db.call_agent_inputs(call_id).await?;
    Ok(serde_json::from_value(overrides).unwrap_or_default())
}

/// The time zone of the person on a call: the contact's own zone if set, else the one its
/// number suggests. Read in the caller's session (inside an event's transaction, a second
/// connection from the pool could wait for ever on a busy node).
pub async fn call_zone(db: &mut Db, call: &Call) -> Result<chrono_tz::Tz, StoreError> {
    let Ok(phone) = parley_domain::Phone::from_e164(&call.to) else {
        return Ok(parley_domain::timezones::FALLBACK);
    };
    let timezone = match call.contact_id {
        Some(id) => db.contact_timezone(id).await?,
        None => None,
    };
    Ok(parley_domain::timezones::contact_zone(
        timezone.as_deref(),
        &phone,
    ))
}

impl Engine {
    /// Commits an event's transaction, then publishes what it changed.
    pub async fn commit(&self, tx: Tx, after: AfterCommit) -> Result<(), StoreError> {
        tx.commit().await?;
        for outcome in after.outcomes {
            metrics::counter!("parley_call_outcomes_total", "outcome" => outcome.as_str())
                .increment(1);
        }
        for event in after.events {
            self.publish(event);
        }
        Ok(())
    }

    pub async fn call_options(&self, call_id: i64) -> Result<CallOptions, CallError> {
        Ok(call_options(&mut *self.store.reader().await?, call_id).await?)
    }

    /// Hangs a call up through Twilio, recording `source` as what ended it (unless
    /// something ended it first).
    pub async fn hang_up(
        &self,
        call: &Call,
        source: TerminationSource,
        reason: Option<&str>,
    ) -> Result<(), CallError> {
        self.store.set_termination(call.id, source, reason).await?;
        let sid = call
            .twilio_call_sid
            .as_deref()
            .ok_or(CallError::NotPlaced(call.id))?;
        self.telephony.twilio.hang_up(sid).await?;
        Ok(())
    }

    /// Recomputes and stores a finished call's outcome inside `tx`; queues the live event
    /// when it changed.
    pub(crate) async fn settle_outcome(
        &self,
        tx: &mut Tx,
        call_id: i64,
    ) -> Result<Call, StoreError> {
        let call = tx.get_call(call_id).await?;
        let options = call_options(tx, call_id).await?;
        let verdict = call
            .analysis
            .as_ref()
            .and_then(|a| a.get("call_successful"))
            .and_then(|v| v.as_str());
        let events = tx.call_events(call_id).await?;
        let opted_out = events.iter().any(|e| e.kind == crate::tools::OPT_OUT_EVENT);
        let outcome = classify_outcome(OutcomeFacts {
            status: Some(call.status),
            answered_by: call.answered_by.as_deref(),
            duration_seconds: call.duration_seconds,
            short_call_seconds: options.short_call_seconds,
            agent_verdict: verdict,
            opted_out,
        });
        if let Some(outcome) = outcome {
            if call.outcome != Some(outcome) {
                tx.set_outcome(call_id, outcome).await?;
            }
        }
        Ok(Call {
            outcome,
            outcome_label: outcome.map(parley_domain::vocabulary::Worded::label),
            ..call
        })
    }

    pub(crate) fn publish(&self, event: LiveEvent) {
        // `parley_calls_placed_total` is counted where a call is dialled, which knows
        // whether it is a test call.
        if let LiveEvent::CallEnded { status, .. } = &event {
            metrics::counter!("parley_calls_ended_total", "status" => status.as_str()).increment(1);
        }
        self.events.publish(event);
    }
}
