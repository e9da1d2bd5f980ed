//! Placing a call: the record is written first, then Twilio is asked to dial, with
//! callbacks, answering-machine detection and recording set up for this call.
use super::{AfterCommit, CallError, CallOptions};
use crate::events::LiveEvent;
use crate::Engine;
use parley_domain::call::{Call, CallOutcome, CallStatus, TerminationSource};
use parley_domain::campaign::{AnsweringMachine, MachinePolicy};
use parley_domain::disclosure::Disclosures;
use parley_domain::jurisdiction::{jurisdiction_of_phone, RuleBook};
use parley_domain::memory::shown_variables;
use parley_domain::Phone;
use parley_store::{NewCall, StatusChange};
use parley_twilio::rest::{
    CallInstructions, CreateCall, MachineDetection, MachineDetectionMode, Recording,
};
use serde_json::{Map, Value};
use tracing::Instrument;

/// What to call and how.
#[derive(Debug, Clone, Default)]
pub struct PlaceCall {
    pub to: Option<Phone>,
    pub contact_id: Option<i64>,
    pub campaign_id: Option<i64>,
    pub attempt: i64,
    pub agent_id: Option<String>,
    pub from: Option<String>,
    pub dynamic_variables: Map<String, Value>,
    pub options: CallOptions,
    pub record: bool,
    pub max_duration_seconds: u32,
    /// Who asked for it, for the audit log.
    pub actor: String,
    /// A test call of `campaign_id` ("Call me"): kept out of the campaign's results and
    /// audited as `campaign.test_call` on the campaign.
    pub test: bool,
    /// The recording rules (a campaign's; a call on its own has the defaults).
    pub disclosures: Disclosures,
    /// Variables the call's record does not show (a campaign's `hidden_variables`).
    pub hidden_variables: Vec<String>,
}

/// How Twilio is asked to handle a call.
#[derive(Debug, Clone, Default)]
pub struct DialOptions {
    pub answering_machine: AnsweringMachine,
    pub record: bool,
    pub max_duration_seconds: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    #[error("no caller id: give `from` or set twilio.caller_id")]
    NoCallerId,
    #[error("no agent: give `agent_id` or set elevenlabs.agent_id")]
    NoAgent,
    #[error("no number to call")]
    NoNumber,
    #[error(transparent)]
    Call(#[from] CallError),
}

impl Engine {
    /// Places one call. A carrier refusal is not an error here: the call is stored as
    /// failed with the carrier's code and message, as it happened.
    pub async fn place_call(&self, req: PlaceCall) -> Result<Call, PlaceError> {
        let to = req.to.clone().ok_or(PlaceError::NoNumber)?;
        let from = req
            .from
            .clone()
            .or_else(|| self.telephony.default_caller_id.clone())
            .ok_or(PlaceError::NoCallerId)?;
        let agent_id = req
            .agent_id
            .clone()
            .or_else(|| self.telephony.default_agent_id.clone())
            .ok_or(PlaceError::NoAgent)?;
        // A call on its own has no campaign to choose a recording notice (a test call has
        // its campaign's): where every party must consent (by the number's state), it is
        // not recorded without one.
        let place = jurisdiction_of_phone(&to);
        let recording = req.disclosures.call_recording(
            req.record,
            req.options.first_message.as_deref(),
            RuleBook::shipped().all_party_recording_consent(&place),
        );
        // The call and its audit row are one change; the carrier is asked after it.
        let mut tx = self.store.begin().await.map_err(CallError::from)?;
        let call = tx
            .create_call(&NewCall {
                campaign_id: req.campaign_id,
                contact_id: req.contact_id,
                attempt: req.attempt.max(1),
                to: to.to_string(),
                from: from.clone(),
                agent_id: Some(agent_id),
                dynamic_variables: Value::Object(req.dynamic_variables.clone()),
                agent_variables: Some(Value::Object(shown_variables(
                    &req.dynamic_variables,
                    &req.hidden_variables,
                ))),
                overrides: serde_json::to_value(CallOptions {
                    max_duration_seconds: (req.max_duration_seconds > 0)
                        .then_some(req.max_duration_seconds),
                    recording_withheld_by: recording.withheld_by,
                    first_message: recording.first_message,
                    ..req.options.clone()
                })
                .unwrap_or_default(),
                jurisdiction: Some(place.state_code().unwrap_or_default()),
                variant: None,
                is_test: req.test,
            })
            .await
            .map_err(CallError::from)?;
        let (action, target_type, target_id, details) = match (req.test, req.campaign_id) {
            (true, Some(campaign_id)) => (
                "campaign.test_call",
                "campaign",
                campaign_id.to_string(),
                serde_json::json!({ "call_id": call.id, "to": to.masked().to_string() }),
            ),
            _ => (
                "call.placed",
                "call",
                call.id.to_string(),
                serde_json::json!({}),
            ),
        };
        tx.audit(&req.actor, action, target_type, Some(&target_id), &details)
            .await
            .map_err(CallError::from)?;
        tx.commit().await.map_err(CallError::from)?;
        let options = DialOptions {
            answering_machine: req.options.answering_machine.clone(),
            record: recording.record,
            max_duration_seconds: req.max_duration_seconds,
        };
        Ok(self.dial(call, &options).await?)
    }

    /// Asks Twilio to dial a call already written (`queued`). A refusal is not an error
    /// here: the call is stored as failed with the carrier's code and message.
    pub async fn dial(&self, call: Call, options: &DialOptions) -> Result<Call, CallError> {
        tracing::info!(call_id = call.id, to = %parley_domain::MaskedPhone(&call.to), "placing call");
        let kind = placed_kind(call.is_test, call.campaign_id);
        metrics::counter!("parley_calls_placed_total", "kind" => kind).increment(1);
        self.publish(LiveEvent::CallStarted {
            call_id: call.id,
            campaign_id: call.campaign_id,
        });
        let create = self.create_request(&call, options);
        let span = tracing::info_span!("twilio.create_call", call_id = call.id, campaign_id = call.campaign_id, node = %self.node);
        match self
            .telephony
            .twilio
            .create_call(&create)
            .instrument(span)
            .await
        {
            Ok(placed) => {
                self.prefetch_signed_url(&call);
                self.store.set_call_sid(call.id, &placed.sid).await?;
                Ok(self.store.get_call(call.id).await?)
            }
            // The carrier may have placed the call anyway (timeout, 5xx): a campaign
            // attempt stays `queued` and is reconciled against the carrier's call list
            // before anything dials this contact again.
            Err(e) if e.is_retryable() && call.campaign_id.is_some() && !call.is_test => {
                tracing::warn!(call_id = call.id, error = %e, "carrier did not answer; will reconcile");
                Ok(call)
            }
            Err(e) => {
                tracing::warn!(call_id = call.id, error = %e, "carrier refused the call");
                let failure = e.failure();
                let change = StatusChange {
                    status: CallStatus::Failed,
                    duration_seconds: Some(0),
                    error_code: failure.code.map(|c| c.to_string()),
                    error_message: Some(failure.message.clone()),
                };
                // The refusal, its outcome and (for a campaign call) the attempt's
                // settlement are one change.
                let mut tx = self.store.begin().await?;
                let mut after = AfterCommit::default();
                tx.advance_call_status(call.id, &change).await?;
                tx.set_termination(call.id, TerminationSource::Carrier, None)
                    .await?;
                tx.set_outcome(call.id, CallOutcome::Failed).await?;
                self.settle_campaign_call(&mut tx, &mut after, call.id, true)
                    .await?;
                let call = tx.get_call(call.id).await?;
                after.publish(LiveEvent::CallEnded {
                    call_id: call.id,
                    status: call.status,
                    outcome: call.outcome,
                    termination_source: call.termination_source,
                    duration_seconds: call.duration_seconds,
                });
                self.commit(tx, after).await?;
                Ok(call)
            }
        }
    }

    fn create_request(&self, call: &Call, options: &DialOptions) -> CreateCall {
        let t = &self.telephony;
        let id = call.id;
        let mut create = CreateCall::new(
            call.to.clone(),
            call.from.clone(),
            CallInstructions::Url(t.public_url(&format!("/twilio/twiml/{id}"))),
        )
        .with_status_callback(t.public_url(&format!("/twilio/status/{id}")));
        let amd = &options.answering_machine;
        if amd.policy != MachinePolicy::Off {
            // To leave a message the verdict must wait for the end of the greeting.
            let mode = if amd.policy == MachinePolicy::LeaveVoicemail {
                MachineDetectionMode::DetectMessageEnd
            } else {
                MachineDetectionMode::Enable
            };
            create.machine_detection = Some(MachineDetection::async_with(
                mode,
                t.public_url(&format!("/twilio/amd/{id}")),
            ));
        }
        if options.record {
            create.recording = Some(Recording::dual_with_callback(
                t.public_url(&format!("/twilio/recording/{id}")),
            ));
        }
        create.timeout_secs = Some(self.settings.calls.ring_timeout_secs);
        create.time_limit_secs =
            (options.max_duration_seconds > 0).then_some(options.max_duration_seconds);
        create
    }

    /// The TwiML for an answered call: connect its audio to our media WebSocket with a
    /// fresh one-time token that the stream must present.
    pub async fn twiml_for(&self, call_id: i64) -> Result<String, CallError> {
        use parley_twilio::twiml::{Response, Stream};
        let call = self.store.get_call(call_id).await?;
        if call.status.is_final() {
            return Ok(Response::new().hangup().to_xml());
        }
        let token = crate::secrets::random_token();
        self.store
            .set_stream_token(call_id, &crate::secrets::sha256_hex(&token))
            .await?;
        let url = if self.agent_starts_at_handshake() {
            self.telephony.call_media_url(call_id)
        } else {
            self.telephony.media_url()
        };
        let stream = Stream::new(url)
            .parameter("call_id", call_id.to_string())
            .parameter("token", token);
        self.connect_agent_early(&call);
        Ok(Response::new().connect(stream).to_xml())
    }
}

/// The `kind` of a placed call in `parley_calls_placed_total`: a test call (from a
/// campaign's page) is `test`, not `campaign`, so the campaign figures count only the
/// campaign's own dials.
fn placed_kind(is_test: bool, campaign_id: Option<i64>) -> &'static str {
    match (is_test, campaign_id) {
        (true, _) => "test",
        (false, Some(_)) => "campaign",
        (false, None) => "single",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn test_calls_are_counted_apart_from_the_campaigns_calls() {
        assert_eq!(super::placed_kind(true, Some(7)), "test");
        assert_eq!(super::placed_kind(false, Some(7)), "campaign");
        assert_eq!(super::placed_kind(false, None), "single");
    }
}
