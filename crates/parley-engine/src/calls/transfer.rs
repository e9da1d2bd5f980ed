//! Warm transfers, after the agent's `transfer_to_human` redirected the call: the
//! whisper TwiML the answering person hears (`<Number url>`), and the `<Dial action>`
//! request that says how each ring ended, answered with the next target's `<Dial>` or
//! the fallback. Both are Twilio webhooks: signature checked by the server, deduplicated
//! by a call event key, and applied in one transaction with the transfer's state, the
//! callback and the `call.transferred` outbox row. A redelivered request changes
//! nothing and gets the same TwiML.
use super::callbacks::{CallbackError, Form};
use super::AfterCommit;
use crate::dialer::settle::CALLBACK_EVENT;
use crate::events::LiveEvent;
use crate::Engine;
use parley_domain::call::{Call, CallEvent};
use parley_domain::callback::schedule_callback;
use parley_domain::transfer::{
    CallTransfer, TransferAttempt, TransferFallback, TransferOutcome, TRANSFERRED_REASON,
};
use parley_domain::vocabulary::Worded;
use parley_domain::webhook::EventType;
use parley_domain::window::CallingRules;
use parley_store::Tx;
use parley_twilio::callbacks::FormParams;
use parley_twilio::dial::{DialAction, DialCallStatus};
use parley_twilio::twiml::{Dial, Response, Say};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Call event recording a transfer to a person, with its [`TransferPlan`].
pub const TRANSFER_EVENT: &str = "transferred";
/// A target answered and its whisper was fetched.
pub const WHISPER_EVENT: &str = "transfer_whisper";
/// A target's ring (or talk) ended, with Twilio's `DialCallStatus`.
pub const DIAL_EVENT: &str = "transfer_dial";

/// What a transfer does, fixed when it starts (kept in its [`TRANSFER_EVENT`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferPlan {
    pub targets: Vec<String>,
    pub whisper: String,
    pub reason: String,
    pub ring_seconds: u32,
    #[serde(default)]
    pub fallback: TransferFallback,
}

/// What follows one ring's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Ring the target at this index.
    Ring(usize),
    /// A person talked with the callee; the call is over.
    Connected,
    /// Nothing more to ring: the fallback, with the callee still on the line or not.
    Fallback {
        outcome: TransferOutcome,
        callee_left: bool,
    },
}

/// What follows target `index`'s ring ending with `status`; `all_alike`: every ring
/// before it ended with the same status (a transfer whose every target was busy, or
/// failed, says so; a mix is not answered).
fn next_step(plan: &TransferPlan, index: usize, status: DialCallStatus, all_alike: bool) -> Next {
    match status {
        s if s.connected() => Next::Connected,
        DialCallStatus::Canceled => Next::Fallback {
            outcome: TransferOutcome::NoAnswer,
            callee_left: true,
        },
        _ if index + 1 < plan.targets.len() => Next::Ring(index + 1),
        _ => Next::Fallback {
            outcome: match status {
                DialCallStatus::Failed if all_alike => TransferOutcome::Failed,
                DialCallStatus::Busy if all_alike => TransferOutcome::Busy,
                _ => TransferOutcome::NoAnswer,
            },
            callee_left: false,
        },
    }
}

fn hangup() -> String {
    Response::new().hangup().to_xml()
}

/// The TwiML for the fallback: the message to the callee (when they are still there),
/// then the end of the call.
fn fallback_twiml(plan: &TransferPlan, callee_left: bool) -> String {
    let mut doc = Response::new();
    if let Some(message) = plan.fallback.voicemail_message.as_deref() {
        if !callee_left {
            doc = doc.say(Say::new(message));
        }
    }
    doc.hangup().to_xml()
}

impl Engine {
    /// `<Dial>` of target `index`: rings it for `ring_seconds`, whispers to whoever
    /// answers, and reports the end to the action URL.
    pub(crate) fn transfer_dial_twiml(
        &self,
        call: &Call,
        plan: &TransferPlan,
        index: usize,
    ) -> String {
        let t = &self.telephony;
        let id = call.id;
        Response::new()
            .dial(
                Dial::number(&plan.targets[index])
                    .caller_id(call.from.clone())
                    .timeout_secs(plan.ring_seconds)
                    .action(t.public_url(&format!("/twilio/dial/{id}?target={index}")))
                    .whisper_url(t.public_url(&format!("/twilio/whisper/{id}?target={index}"))),
            )
            .to_xml()
    }

    /// The call a transfer webhook names, checked against its `CallSid` (never adopted:
    /// a transfer only runs on a call that has one), the call's transfer plan, and its
    /// events (read once, for the plan and the rings so far).
    async fn transfer_call(
        &self,
        tx: &mut Tx,
        call_id: i64,
        call_sid: &str,
        index: usize,
    ) -> Result<(Call, TransferPlan, Vec<CallEvent>), CallbackError> {
        let call = tx.get_call(call_id).await?;
        if call.twilio_call_sid.as_deref() != Some(call_sid) {
            return Err(CallbackError::WrongCall);
        }
        let events = tx.call_events(call_id).await?;
        let plan = events
            .iter()
            .rev()
            .find(|e| e.kind == TRANSFER_EVENT)
            .and_then(|e| serde_json::from_value::<TransferPlan>(e.data.clone()).ok())
            .ok_or_else(|| CallbackError::Malformed("the call was not transferred".into()))?;
        if index >= plan.targets.len() {
            return Err(CallbackError::Malformed(format!(
                "no transfer target {index}"
            )));
        }
        Ok((call, plan, events))
    }

    /// The whisper request of target `index`: records that the person answered and
    /// returns what they hear before being connected.
    pub async fn on_transfer_whisper(
        &self,
        call_id: i64,
        index: usize,
        form: &Form,
    ) -> Result<String, CallbackError> {
        // The request is the answered child leg's: the parent is ours.
        let parent = form
            .param("ParentCallSid")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| CallbackError::Malformed("missing ParentCallSid".into()))?;
        let mut tx = self.store.begin().await?;
        let (call, plan, _) = self.transfer_call(&mut tx, call_id, parent, index).await?;
        let data = json!({
            "target": index,
            "number": plan.targets[index],
            "child_call_sid": form.param("CallSid"),
            "whisper": plan.whisper,
        });
        let key = format!("transfer:whisper:{index}");
        let mut after = AfterCommit::default();
        if tx
            .add_call_event(call_id, WHISPER_EVENT, Some(&key), &data)
            .await?
        {
            after.publish(updated(&call));
            self.commit(tx, after).await?;
            tracing::info!(call_id, target = index, "transfer answered: whisper sent");
        }
        Ok(Response::new().say(Say::new(&plan.whisper)).to_xml())
    }

    /// The `<Dial action>` of target `index`: records how the ring ended, and answers with
    /// the next target, the end of the call, or the fallback.
    pub async fn on_transfer_dial(
        &self,
        call_id: i64,
        index: usize,
        form: &Form,
    ) -> Result<String, CallbackError> {
        let action =
            DialAction::from_params(form).map_err(|e| CallbackError::Malformed(e.to_string()))?;
        let status = action.dial_call_status;
        let mut tx = self.store.begin().await?;
        let (call, plan, events) = self
            .transfer_call(&mut tx, call_id, &action.call_sid, index)
            .await?;
        let all_alike = events
            .iter()
            .filter(|e| e.kind == DIAL_EVENT)
            .all(|e| e.data["status"] == status.as_str());
        let next = next_step(&plan, index, status, all_alike);
        let twiml = match next {
            Next::Ring(i) => self.transfer_dial_twiml(&call, &plan, i),
            Next::Connected => hangup(),
            Next::Fallback { callee_left, .. } => fallback_twiml(&plan, callee_left),
        };
        let data = json!({
            "target": index,
            "number": plan.targets[index],
            "status": status.as_str(),
            "duration_seconds": action.dial_call_duration_secs,
        });
        let key = format!("transfer:dial:{index}");
        if !tx
            .add_call_event(call_id, DIAL_EVENT, Some(&key), &data)
            .await?
        {
            return Ok(twiml); // applied before: the same answer, nothing changed
        }
        let current = tx.call_transfer_state(call_id).await?;
        if current != Some((TransferOutcome::InProgress, index as i64)) {
            // A ring the transfer has moved past: kept on record, weighed no more.
            tracing::debug!(call_id, target = index, "stale dial action ignored");
            self.commit(tx, AfterCommit::default()).await?;
            return Ok(twiml);
        }
        let mut after = AfterCommit::default();
        after.publish(updated(&call));
        match next {
            Next::Ring(i) => {
                // Refused only if another request settled it meanwhile; then it stands.
                tx.set_transfer(call_id, TransferOutcome::InProgress, i as i64)
                    .await?;
            }
            Next::Connected => {
                self.finish_transfer(
                    &mut tx,
                    &call,
                    TransferOutcome::Connected,
                    index,
                    None,
                    false,
                )
                .await?;
            }
            Next::Fallback { outcome, .. } => {
                let callback = self.fallback_callback(&mut tx, &call, &plan).await?;
                let at = callback.map(|(at, _)| at);
                // The callback is only this settlement's: none for a transfer settled
                // meanwhile.
                if self
                    .finish_transfer(&mut tx, &call, outcome, index, at, false)
                    .await?
                {
                    if let Some((at, minutes)) = callback {
                        record_fallback_callback(&mut tx, &call, at, minutes).await?;
                    }
                }
            }
        }
        self.commit(tx, after).await?;
        tracing::info!(
            call_id,
            target = index,
            status = status.as_str(),
            ?next,
            "transfer ring ended"
        );
        Ok(twiml)
    }

    /// A transfer still ringing when the call ended (the callee hung up, or the call was
    /// hung up) settles as not answered, inside the final status callback's transaction.
    pub(crate) async fn settle_unfinished_transfer(
        &self,
        tx: &mut Tx,
        call: &Call,
    ) -> Result<(), CallbackError> {
        if let Some((TransferOutcome::InProgress, target)) = tx.call_transfer_state(call.id).await?
        {
            let target = target as usize;
            self.finish_transfer(tx, call, TransferOutcome::NoAnswer, target, None, false)
                .await?;
        }
        Ok(())
    }

    /// Settles the transfer: its outcome on the call, what the call's termination says
    /// of it, and `call.transferred`. `agent_goes_on`: the transfer never left the
    /// agent's conversation (Twilio refused the redirect), so the agent's claim to have
    /// ended the call is withdrawn. A transfer settled before (by a request that raced
    /// this one) stays as it is, and nothing is sent again; returns whether this settled
    /// it.
    pub(crate) async fn finish_transfer(
        &self,
        tx: &mut Tx,
        call: &Call,
        outcome: TransferOutcome,
        index: usize,
        callback_at: Option<chrono::DateTime<chrono::Utc>>,
        agent_goes_on: bool,
    ) -> Result<bool, CallbackError> {
        if !tx.set_transfer(call.id, outcome, index as i64).await? {
            tracing::debug!(call_id = call.id, "transfer settled before");
            return Ok(false);
        }
        let reason = outcome.termination_reason();
        if agent_goes_on || reason != TRANSFERRED_REASON {
            tx.restate_transfer_termination(call.id, reason, agent_goes_on)
                .await?;
        }
        let mut data = tx.call_data(call.id).await?;
        data["transfer"] = json!({
            "outcome": outcome.as_str(),
            "outcome_label": outcome.label(),
            "target_index": index,
            "callback_at": callback_at.map(|at| at.to_rfc3339()),
        });
        tx.outbox(EventType::CallTransferred, data).await?;
        metrics::counter!("parley_transfers_total", "outcome" => outcome.as_str()).increment(1);
        Ok(true)
    }

    /// The fallback's callback for a campaign contact: the campaign's delay from now
    /// (returned with it), moved into its calling hours.
    async fn fallback_callback(
        &self,
        tx: &mut Tx,
        call: &Call,
        plan: &TransferPlan,
    ) -> Result<Option<(chrono::DateTime<chrono::Utc>, u32)>, CallbackError> {
        let (Some(minutes), Some(campaign_id)) =
            (plan.fallback.schedule_callback_in_minutes, call.campaign_id)
        else {
            return Ok(None);
        };
        let settings = tx.get_campaign(campaign_id).await?.settings;
        let zone = super::call_zone(tx, call).await?;
        let requested = chrono::Utc::now() + chrono::Duration::minutes(i64::from(minutes));
        let Some(at) = schedule_callback(requested, &CallingRules::from_settings(&settings), zone)
        else {
            return Ok(None);
        };
        Ok(Some((at, minutes)))
    }
}

/// Records the fallback's callback as the callback the call's settlement reads.
async fn record_fallback_callback(
    tx: &mut Tx,
    call: &Call,
    at: chrono::DateTime<chrono::Utc>,
    minutes: u32,
) -> Result<(), CallbackError> {
    tx.add_call_event(
        call.id,
        CALLBACK_EVENT,
        Some("callback:transfer"),
        &json!({
            "requested": format!("in {minutes} minutes"),
            "reason": "no one answered the transfer",
            "at_ms": at.timestamp_millis(),
            "at": at.to_rfc3339(),
        }),
    )
    .await?;
    Ok(())
}

/// A call's transfer as its page shows it, from its state and its events; `None` when
/// its plan is missing.
pub fn call_transfer(
    (outcome, target): (TransferOutcome, i64),
    events: &[CallEvent],
) -> Option<CallTransfer> {
    let plan: TransferPlan = events
        .iter()
        .rev()
        .find(|e| e.kind == TRANSFER_EVENT)
        .and_then(|e| serde_json::from_value(e.data.clone()).ok())?;
    let of = |e: &CallEvent| e.data["target"].as_i64();
    let mut attempts: Vec<TransferAttempt> = Vec::new();
    for event in events {
        let Some(index) =
            of(event).filter(|_| event.kind == WHISPER_EVENT || event.kind == DIAL_EVENT)
        else {
            continue;
        };
        let position = match attempts.iter().position(|a| a.index == index) {
            Some(p) => p,
            None => {
                attempts.push(TransferAttempt {
                    index,
                    number: plan
                        .targets
                        .get(index as usize)
                        .cloned()
                        .unwrap_or_default(),
                    whisper_heard: false,
                    dial_status: None,
                });
                attempts.len() - 1
            }
        };
        let attempt = &mut attempts[position];
        if event.kind == WHISPER_EVENT {
            attempt.whisper_heard = true;
        } else {
            attempt.dial_status = event.data["status"].as_str().map(str::to_owned);
        }
    }
    // The target ringing now has no event yet.
    if outcome == TransferOutcome::InProgress && !attempts.iter().any(|a| a.index == target) {
        attempts.push(TransferAttempt {
            index: target,
            number: plan
                .targets
                .get(target as usize)
                .cloned()
                .unwrap_or_default(),
            whisper_heard: false,
            dial_status: None,
        });
    }
    attempts.sort_by_key(|a| a.index);
    Some(CallTransfer {
        outcome,
        outcome_label: outcome.label(),
        target_index: Some(target),
        targets: plan.targets,
        reason: plan.reason,
        whisper: plan.whisper,
        attempts,
    })
}

fn updated(call: &Call) -> LiveEvent {
    LiveEvent::CallUpdated {
        call_id: call.id,
        status: call.status,
        answered_by: call.answered_by.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(targets: usize, message: Option<&str>) -> TransferPlan {
        TransferPlan {
            targets: (0..targets).map(|i| format!("+1555010990{i}")).collect(),
            whisper: "Call from Ada".into(),
            reason: "asked".into(),
            ring_seconds: 20,
            fallback: TransferFallback {
                voicemail_message: message.map(str::to_owned),
                schedule_callback_in_minutes: None,
            },
        }
    }

    #[test]
    fn each_ring_end_leads_to_the_next_target_or_the_fallback() {
        use DialCallStatus as D;
        use TransferOutcome as O;
        let two = plan(2, Some("Sorry"));
        let fallback = |outcome| Next::Fallback {
            outcome,
            callee_left: false,
        };
        let left = Next::Fallback {
            outcome: O::NoAnswer,
            callee_left: true,
        };
        // (target, how its ring ended, every ring before ended alike, what follows)
        for (index, status, all_alike, next) in [
            (0, D::NoAnswer, false, Next::Ring(1)),
            (0, D::Busy, false, Next::Ring(1)),
            (0, D::Completed, false, Next::Connected),
            (1, D::NoAnswer, false, fallback(O::NoAnswer)),
            (1, D::Failed, true, fallback(O::Failed)),
            (1, D::Busy, true, fallback(O::Busy)),
            // One rang out, the other was busy.
            (1, D::Busy, false, fallback(O::NoAnswer)),
            (0, D::Canceled, false, left),
        ] {
            assert_eq!(
                next_step(&two, index, status, all_alike),
                next,
                "{status:?} at {index}"
            );
        }
    }

    #[test]
    fn the_fallback_says_its_message_only_to_a_callee_still_there() {
        let p = plan(1, Some("No one is free & we'll call back."));
        assert!(fallback_twiml(&p, false).ends_with(
            "<Say>No one is free &amp; we&apos;ll call back.</Say><Hangup/></Response>"
        ));
        assert!(fallback_twiml(&p, true).ends_with("<Response><Hangup/></Response>"));
        assert!(fallback_twiml(&plan(1, None), false).ends_with("<Response><Hangup/></Response>"));
    }
}
