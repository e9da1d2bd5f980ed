//! Twilio's reports about a call: progress, the answering-machine verdict, recordings.
//! Each may arrive twice or out of order; none may move a call backwards. The server
//! has verified the signature before any of these run.
use super::CallError;
use crate::events::LiveEvent;
use crate::Engine;
use parley_domain::call::{is_machine, CallStatus, TerminationSource};
use parley_domain::campaign::MachinePolicy;
use parley_store::StatusChange;
use parley_twilio::callbacks::{AmdCallback, RecordingCallback, StatusCallback};
use parley_twilio::rest::{CallInstructions, CallUpdate};

pub type Form = [(String, String)];

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("malformed callback: {0}")]
    Malformed(String),
    #[error("the callback is for another call")]
    WrongCall,
    #[error(transparent)]
    Call(#[from] CallError),
}

impl From<parley_store::StoreError> for CallbackError {
    fn from(e: parley_store::StoreError) -> Self {
        CallbackError::Call(e.into())
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
    /// Checks that a callback names the call it was addressed to.
    async fn callback_call(&self, call_id: i64, call_sid: &str) -> Result<(), CallbackError> {
        let call = self.store.get_call(call_id).await?;
        match call.twilio_call_sid.as_deref() {
            Some(sid) if sid != call_sid => Err(CallbackError::WrongCall),
            // A callback can beat the create response: adopt the SID it carries.
            None => {
                self.store.set_call_sid(call_id, call_sid).await?;
                Ok(())
            }
            Some(_) => Ok(()),
        }
    }

    pub async fn on_status_callback(&self, call_id: i64, form: &Form) -> Result<(), CallbackError> {
        let cb = StatusCallback::from_params(form)
            .map_err(|e| CallbackError::Malformed(e.to_string()))?;
        self.callback_call(call_id, &cb.call_sid).await?;
        let status = CallStatus::parse(cb.call_status.as_str()).ok_or_else(|| {
            CallbackError::Malformed(format!("status {}", cb.call_status.as_str()))
        })?;
        let dedupe = format!(
            "status:{}:{}",
            status.as_str(),
            cb.sequence_number.unwrap_or(0)
        );
        if !self
            .store
            .add_call_event(call_id, "status", Some(&dedupe), &form_json(form))
            .await?
        {
            return Ok(()); // delivered before
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
        let Some(call) = self.store.advance_call_status(call_id, &change).await? else {
            tracing::debug!(
                call_id,
                status = status.as_str(),
                "stale status callback ignored"
            );
            return Ok(());
        };
        if let Some(answered_by) = cb.answered_by {
            self.store
                .set_answered_by(call_id, answered_by.as_str())
                .await?;
        }
        if !status.is_final() {
            self.publish(LiveEvent::CallUpdated {
                call_id,
                status,
                answered_by: call.answered_by.clone(),
            });
            return Ok(());
        }
        // Nothing else claimed the ending: the line did (no answer, busy, failure) or the
        // callee hung up.
        let limit = self.call_options(call_id).await?.max_duration_seconds;
        let timed_out = limit
            .zip(cb.call_duration_secs)
            .is_some_and(|(max, d)| d >= max);
        let source = match status {
            CallStatus::Completed if timed_out => TerminationSource::Timeout,
            CallStatus::Completed => TerminationSource::Callee,
            _ => TerminationSource::Carrier,
        };
        self.store.set_termination(call_id, source, None).await?;
        let call = self.settle_outcome(call_id).await?;
        tracing::info!(call_id, status = status.as_str(), outcome = ?call.outcome, "call ended");
        self.publish(LiveEvent::CallEnded {
            call_id,
            status: call.status,
            outcome: call.outcome,
            termination_source: call.termination_source,
            duration_seconds: call.duration_seconds,
        });
        if let Err(e) = self.settle_campaign_call(call_id, false).await {
            tracing::warn!(call_id, error = %e, "settling the attempt failed; the sweep will");
        }
        Ok(())
    }

    /// The answering-machine verdict: record it, then apply the call's machine policy.
    pub async fn on_amd_callback(&self, call_id: i64, form: &Form) -> Result<(), CallbackError> {
        let cb =
            AmdCallback::from_params(form).map_err(|e| CallbackError::Malformed(e.to_string()))?;
        self.callback_call(call_id, &cb.call_sid).await?;
        if !self
            .store
            .add_call_event(call_id, "amd", Some("amd"), &form_json(form))
            .await?
        {
            return Ok(());
        }
        let verdict = cb.answered_by.as_str();
        self.store.set_answered_by(call_id, verdict).await?;
        let call = self.store.get_call(call_id).await?;
        self.publish(LiveEvent::CallUpdated {
            call_id,
            status: call.status,
            answered_by: Some(verdict.to_string()),
        });
        if !is_machine(verdict) || call.status.is_final() {
            return Ok(());
        }
        let options = self.call_options(call_id).await?;
        match options.answering_machine.policy {
            MachinePolicy::HangUp => {
                self.hang_up(&call, TerminationSource::Amd, Some("answering machine"))
                    .await?;
            }
            MachinePolicy::LeaveVoicemail => {
                use parley_twilio::twiml::{Response, Say};
                let message = options
                    .answering_machine
                    .voicemail_message
                    .unwrap_or_default();
                let twiml = Response::new().say(Say::new(message)).hangup().to_xml();
                self.store
                    .set_termination(call_id, TerminationSource::Amd, Some("left a voicemail"))
                    .await?;
                let sid = call
                    .twilio_call_sid
                    .as_deref()
                    .ok_or(CallError::NotPlaced(call_id))?;
                self.telephony
                    .twilio
                    .update_call(sid, &CallUpdate::Redirect(CallInstructions::Twiml(twiml)))
                    .await
                    .map_err(CallError::from)?;
            }
            MachinePolicy::AgentTalks | MachinePolicy::Off => {}
        }
        Ok(())
    }

    /// A recording finished (or failed): fetch the file in the background and keep it.
    pub async fn on_recording_callback(
        &self,
        call_id: i64,
        form: &Form,
    ) -> Result<(), CallbackError> {
        let cb = RecordingCallback::from_params(form)
            .map_err(|e| CallbackError::Malformed(e.to_string()))?;
        self.callback_call(call_id, &cb.call_sid).await?;
        let status = cb.recording_status.as_str().to_string();
        let dedupe = format!("recording:{}:{}", cb.recording_sid, status);
        if !self
            .store
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
        self.store.upsert_recording(call_id, &update).await?;
        if status == "completed" {
            // Answer Twilio now; the download can take a while.
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
