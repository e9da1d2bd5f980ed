//! Twilio's reports about a call: progress, the answering-machine verdict, recordings.
//! Each may arrive twice or out of order; none may move a call backwards. The server
//! has verified the signature before any of these run.
//!
//! Each callback is one transaction: its dedupe key, the changes it makes, the outcome
//! and the campaign attempt's settlement commit together or not at all, so a callback
//! that failed half-way is applied whole when Twilio sends it again. Requests to Twilio
//! and downloads happen after the commit, decided from what was committed.
use super::{call_options, AfterCommit, CallError, CallOptions};
use crate::events::LiveEvent;
use crate::Engine;
use parley_domain::call::{is_machine, Call, CallStatus, TerminationSource};
use parley_domain::campaign::MachinePolicy;
use parley_store::{StatusChange, StoreError, Tx};
use parley_twilio::callbacks::{AmdCallback, RecordingCallback, StatusCallback};
use parley_twilio::rest::{CallInstructions, CallUpdate};

pub type Form = [(String, String)];

/// Why a callback was not applied.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// The form lacks a field or a field does not parse.
    #[error("malformed callback: {0}")]
    Malformed(String),
    /// The call id in the URL is unknown.
    #[error("no such call")]
    UnknownCall,
    /// The callback carries another call's SID.
    #[error("the callback is for another call")]
    WrongCall,
    /// The database could not apply it now; nothing was changed and a redelivery will be.
    #[error("the callback could not be stored: {0}")]
    Unavailable(StoreError),
    /// Applied, but the request to Twilio that follows it failed.
    #[error("the carrier refused: {0}")]
    Carrier(parley_twilio::TwilioError),
}

impl From<StoreError> for CallbackError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => CallbackError::UnknownCall,
            e => CallbackError::Unavailable(e),
        }
    }
}

impl From<super::CallError> for CallbackError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Store(e) => e.into(),
            CallError::Carrier(e) => CallbackError::Carrier(e),
            CallError::NotPlaced(_) => CallbackError::WrongCall,
        }
    }
}

fn form_json(form: &Form) -> serde_json::Value {
    serde_json::Value::Object(
        form.iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect(),
    )
}

impl Engine {
    /// Checks, inside the callback's transaction, that it names the call it was addressed
    /// to; a callback that beat the create response makes the call adopt its SID.
    async fn callback_call(
        &self,
        tx: &mut Tx,
        call_id: i64,
        call_sid: &str,
    ) -> Result<Call, CallbackError> {
        let mut call = tx.get_call(call_id).await?;
        match call.twilio_call_sid.as_deref() {
            Some(sid) if sid != call_sid => return Err(CallbackError::WrongCall),
            None => {
                tx.set_call_sid(call_id, call_sid).await?;
                call.twilio_call_sid = Some(call_sid.to_string());
            }
            Some(_) => {}
        }
        Ok(call)
    }

    pub async fn on_status_callback(&self, call_id: i64, form: &Form) -> Result<(), CallbackError> {
        let cb = StatusCallback::from_params(form)
            .map_err(|e| CallbackError::Malformed(e.to_string()))?;
        let status = CallStatus::parse(cb.call_status.as_str()).ok_or_else(|| {
            CallbackError::Malformed(format!("status {}", cb.call_status.as_str()))
        })?;
        let dedupe = format!(
            "status:{}:{}",
            status.as_str(),
            cb.sequence_number.unwrap_or(0)
        );
        let mut tx = self.store.begin().await?;
        let mut after = AfterCommit::default();
        self.callback_call(&mut tx, call_id, &cb.call_sid).await?;
        if !tx
            .add_call_event(call_id, "status", Some(&dedupe), &form_json(form))
            .await?
        {
            return Ok(()); // applied before; the transaction rolls back unused
        }
        let change = StatusChange {
            status,
            duration_seconds: cb.call_duration_secs.map(i64::from),
            error_code: cb
                .sip_response_code
                .filter(|_| status == CallStatus::Failed)
                .map(|c| format!("sip:{c}")),
            error_message: None,
        };
        let Some(call) = tx.advance_call_status(call_id, &change).await? else {
            tracing::debug!(
                call_id,
                status = status.as_str(),
                "stale status callback ignored"
            );
            // Its dedupe row is kept: the same stale callback is not weighed again.
            return Ok(self.commit(tx, after).await?);
        };
        if let Some(answered_by) = &cb.answered_by {
            tx.set_answered_by(call_id, answered_by.as_str()).await?;
        }
        if !status.is_final() {
            after.publish(LiveEvent::CallUpdated {
                call_id,
                status,
                answered_by: cb
                    .answered_by
                    .map(|a| a.as_str().to_string())
                    .or(call.answered_by),
            });
            return Ok(self.commit(tx, after).await?);
        }
        // Nothing else claimed the ending: the line did (no answer, busy, failure) or the
        // callee hung up.
        let limit = call_options(&mut tx, call_id).await?.max_duration_seconds;
        let timed_out = limit
            .zip(cb.call_duration_secs)
            .is_some_and(|(max, d)| d >= max);
        let source = match status {
            CallStatus::Completed if timed_out => TerminationSource::Timeout,
            CallStatus::Completed => TerminationSource::Callee,
            _ => TerminationSource::Carrier,
        };
        tx.set_termination(call_id, source, None).await?;
        let call = self.settle_outcome(&mut tx, call_id).await?;
        self.settle_unfinished_transfer(&mut tx, &call).await?;
        after.publish(LiveEvent::CallEnded {
            call_id,
            status: call.status,
            outcome: call.outcome,
            termination_source: call.termination_source.or(Some(source)),
            duration_seconds: call.duration_seconds,
        });
        self.settle_campaign_call(&mut tx, &mut after, call_id, false)
            .await?;
        self.commit(tx, after).await?;
        // A stream that never came will not: its agent connection goes.
        self.bridges.early.release(call_id);
        tracing::info!(call_id, status = status.as_str(), outcome = ?call.outcome, "call ended");
        Ok(())
    }

    /// The answering-machine verdict: record it, then apply the call's machine policy.
    /// A redelivered verdict applies the policy again if the call is still up (the first
    /// request to Twilio may have failed after the verdict committed).
    pub async fn on_amd_callback(&self, call_id: i64, form: &Form) -> Result<(), CallbackError> {
        let cb =
            AmdCallback::from_params(form).map_err(|e| CallbackError::Malformed(e.to_string()))?;
        let verdict = cb.answered_by.as_str();
        let mut tx = self.store.begin().await?;
        let mut after = AfterCommit::default();
        let call = self.callback_call(&mut tx, call_id, &cb.call_sid).await?;
        let options = call_options(&mut tx, call_id).await?;
        if tx
            .add_call_event(call_id, "amd", Some("amd"), &form_json(form))
            .await?
        {
            tx.set_answered_by(call_id, verdict).await?;
            let ends = match options.answering_machine.policy {
                MachinePolicy::HangUp => Some("answering machine"),
                MachinePolicy::LeaveVoicemail => Some("left a voicemail"),
                MachinePolicy::AgentTalks | MachinePolicy::Off => None,
            };
            if let Some(reason) = ends.filter(|_| is_machine(verdict) && !call.status.is_final()) {
                tx.set_termination(call_id, TerminationSource::Amd, Some(reason))
                    .await?;
            }
            after.publish(LiveEvent::CallUpdated {
                call_id,
                status: call.status,
                answered_by: Some(verdict.to_string()),
            });
            self.commit(tx, after).await?;
        } else {
            drop(tx);
        }
        // From the committed state: what is left to ask of Twilio.
        let call = self.store.get_call(call_id).await?;
        self.apply_machine_policy(&call, &options).await
    }

    /// Hangs up on, or leaves the voicemail for, a call that reached a machine, when its
    /// verdict committed the policy's termination and the call is still up. Repeating it
    /// is harmless: Twilio ends a call once.
    async fn apply_machine_policy(
        &self,
        call: &Call,
        options: &CallOptions,
    ) -> Result<(), CallbackError> {
        let machine = call.answered_by.as_deref().is_some_and(is_machine);
        if !machine
            || call.status.is_final()
            || call.termination_source != Some(TerminationSource::Amd)
        {
            return Ok(());
        }
        let sid = call
            .twilio_call_sid
            .as_deref()
            .ok_or(CallError::NotPlaced(call.id))?;
        let update = match options.answering_machine.policy {
            MachinePolicy::HangUp => CallUpdate::Hangup,
            MachinePolicy::LeaveVoicemail => {
                use parley_twilio::twiml::{Response, Say};
                let message = options
                    .answering_machine
                    .voicemail_message
                    .clone()
                    .unwrap_or_default();
                let twiml = Response::new().say(Say::new(message)).hangup().to_xml();
                CallUpdate::Redirect(CallInstructions::Twiml(twiml))
            }
            MachinePolicy::AgentTalks | MachinePolicy::Off => return Ok(()),
        };
        // The agent will not talk on this call.
        self.bridges.early.release(call.id);
        self.telephony
            .twilio
            .update_call(sid, &update)
            .await
            .map_err(CallbackError::Carrier)?;
        Ok(())
    }

    /// A recording finished (or failed): stored in the callback's transaction; the file
    /// is fetched in the background after the commit.
    pub async fn on_recording_callback(
        &self,
        call_id: i64,
        form: &Form,
    ) -> Result<(), CallbackError> {
        let cb = RecordingCallback::from_params(form)
            .map_err(|e| CallbackError::Malformed(e.to_string()))?;
        let status = cb.recording_status.as_str().to_string();
        let dedupe = format!("recording:{}:{}", cb.recording_sid, status);
        let mut tx = self.store.begin().await?;
        self.callback_call(&mut tx, call_id, &cb.call_sid).await?;
        if !tx
            .add_call_event(call_id, "recording", Some(&dedupe), &form_json(form))
            .await?
        {
            return Ok(());
        }
        let update = parley_store::RecordingUpdate {
            recording_sid: cb.recording_sid.clone(),
            status: status.clone(),
            path: None,
            content_type: None,
            channels: cb.recording_channels.map(i64::from),
            duration_seconds: cb.recording_duration_secs.map(i64::from),
            size_bytes: None,
        };
        tx.upsert_recording(call_id, &update).await?;
        self.commit(tx, AfterCommit::default()).await?;
        if status == "completed" {
            // Answer Twilio now; the download can take a while. One lost to a crash is
            // fetched again by the post-call fallback (a completed recording without file).
            let engine = self.clone();
            tokio::spawn(async move {
                if let Err(e) = engine.download_recording(call_id, update).await {
                    tracing::warn!(call_id, error = %e, "recording download failed");
                }
            });
        }
        Ok(())
    }
}
