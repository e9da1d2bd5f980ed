//! `transfer_to_human`: redirects the live call to `<Dial>` the configured number. The
//! redirect ends the media stream (and with it the agent's conversation); the transfer is
//! recorded as a call event and as what ended the agent's part of the call.
use super::params::optional_str;
use super::{Tool, ToolContext, ToolResult};
use crate::Engine;
use futures::future::BoxFuture;
use parley_domain::call::TerminationSource;
use parley_domain::MaskedPhone;
use parley_twilio::rest::{CallInstructions, CallUpdate};
use parley_twilio::twiml::{Dial, Response};
use serde_json::{json, Value};

/// Call event recording a transfer to a person.
pub const TRANSFER_EVENT: &str = "transferred";

pub struct TransferToHuman(pub(crate) std::sync::Weak<crate::Shared>);

impl Engine {
    /// Redirects `call_id` to the configured transfer number.
    pub async fn transfer_to_human(&self, call_id: i64, reason: &str) -> Result<(), String> {
        let number =
            self.settings.tools.transfer.number.as_deref().ok_or(
                "No one is available to take the call right now; offer a call back instead.",
            )?;
        let call = self
            .store
            .get_call(call_id)
            .await
            .map_err(|e| e.to_string())?;
        let sid = call
            .twilio_call_sid
            .as_deref()
            .ok_or("this call is not connected, so it cannot be transferred")?;
        let twiml = Response::new()
            .dial(Dial::number(number).caller_id(call.from.clone()))
            .to_xml();
        // Recorded first, in one change: the redirect ends the stream, and the bridge must
        // not count that as the callee hanging up.
        self.record_transfer(call_id, number, reason)
            .await
            .map_err(|e| e.to_string())?;
        self.telephony
            .twilio
            .update_call(sid, &CallUpdate::Redirect(CallInstructions::Twiml(twiml)))
            .await
            .map_err(|e| {
                tracing::warn!(call_id, error = %e, "transfer redirect failed");
                "The transfer did not go through; offer a call back instead.".to_string()
            })?;
        tracing::info!(call_id, to = %MaskedPhone(number), "call transferred to a person");
        Ok(())
    }
}

impl Engine {
    async fn record_transfer(
        &self,
        call_id: i64,
        number: &str,
        reason: &str,
    ) -> Result<(), parley_store::StoreError> {
        let mut tx = self.store.begin().await?;
        tx.set_termination(
            call_id,
            TerminationSource::Agent,
            Some("transferred to a person"),
        )
        .await?;
        tx.add_call_event(
            call_id,
            TRANSFER_EVENT,
            Some(TRANSFER_EVENT),
            &json!({ "to": number, "reason": reason }),
        )
        .await?;
        tx.commit().await
    }
}

impl Tool for TransferToHuman {
    fn name(&self) -> &'static str {
        "transfer_to_human"
    }

    fn description(&self) -> &'static str {
        "Connect the callee to a person. Tell them you are transferring them first; the \
         conversation ends when the transfer starts."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "reason": {"type": "string", "description": "Why the callee wants a person, in a few words"}
            },
            "required": []
        })
    }

    fn call(&self, ctx: ToolContext, parameters: Value) -> BoxFuture<'static, ToolResult> {
        let shared = self.0.clone();
        Box::pin(async move {
            let engine = Engine(shared.upgrade().ok_or("Parley is shutting down")?);
            let call_id = ctx.require_call()?;
            let reason =
                optional_str(&parameters, "reason")?.unwrap_or("the callee asked for a person");
            // Its log row is written after Twilio answers the redirect, on its own: the
            // transfer must be on record before the redirect, and the row says whether
            // the redirect went through.
            engine.transfer_to_human(call_id, reason).await?;
            Ok(json!("Transferring the call to a person now."))
        })
    }
}
