//! `transfer_to_human`: redirects the live call to `<Dial>` the campaign's first transfer
//! target (or the configured number), with a whisper for the person who answers; the
//! rest of the transfer (more targets, the fallback) is driven by Twilio's requests in
//! [`crate::calls::transfer`]. The redirect ends the media stream (and with it the
//! agent's conversation); the transfer is recorded as a call event and as what ended the
//! agent's part of the call.
use super::params::optional_str;
use super::{Tool, ToolContext, ToolResult};
use crate::calls::transfer::TransferPlan;
use crate::Engine;
use futures::future::BoxFuture;
use parley_domain::call::{Call, TerminationSource};
use parley_domain::contact::Contact;
use parley_domain::transfer::{
    render, TransferOutcome, TransferSettings, DEFAULT_WHISPER, TRANSFERRED_REASON,
};
use parley_domain::MaskedPhone;
use parley_twilio::rest::{CallInstructions, CallUpdate};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub use crate::calls::transfer::TRANSFER_EVENT;

const ONCE: &str = "This call was transferred once already; offer a call back instead.";
const NO_ONE: &str = "No one is available to take the call right now; offer a call back instead.";

pub struct TransferToHuman(pub(crate) std::sync::Weak<crate::Shared>);

impl Engine {
    /// Redirects `call_id` to its first transfer target.
    pub async fn transfer_to_human(&self, call_id: i64, reason: &str) -> Result<(), String> {
        let call = self
            .store
            .get_call(call_id)
            .await
            .map_err(|e| e.to_string())?;
        let sid = call
            .twilio_call_sid
            .clone()
            .ok_or("this call is not connected, so it cannot be transferred")?;
        let plan = self.transfer_plan(&call, reason).await?;
        let twiml = self.transfer_dial_twiml(&call, &plan, 0);
        // Recorded first, in one change: the redirect ends the stream, and the bridge must
        // not count that as the callee hanging up.
        let recorded = self
            .record_transfer(call_id, &plan)
            .await
            .map_err(|e| e.to_string())?;
        if !recorded {
            return Err(ONCE.into());
        }
        let redirected = self
            .telephony
            .twilio
            .update_call(&sid, &CallUpdate::Redirect(CallInstructions::Twiml(twiml)))
            .await;
        if let Err(e) = redirected {
            tracing::warn!(call_id, error = %e, "transfer redirect failed");
            if let Err(e) = self.mark_transfer_failed(&call).await {
                tracing::warn!(call_id, error = %e, "failed transfer not recorded");
            }
            return Err("The transfer did not go through; offer a call back instead.".into());
        }
        tracing::info!(call_id, to = %MaskedPhone(&plan.targets[0]), targets = plan.targets.len(), "call transferred to a person");
        Ok(())
    }

    /// The campaign's targets, whisper and fallback (the configured number when the
    /// campaign names no target).
    async fn transfer_plan(&self, call: &Call, reason: &str) -> Result<TransferPlan, String> {
        let campaign = match call.campaign_id {
            Some(id) => Some(
                self.store
                    .get_campaign(id)
                    .await
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        let settings = campaign
            .as_ref()
            .map(|c| c.settings.transfer.clone())
            .unwrap_or_default();
        let targets = if settings.targets.is_empty() {
            let number = self.settings.tools.transfer.number.clone().ok_or(NO_ONE)?;
            vec![number]
        } else {
            settings.targets.clone()
        };
        let shown = self
            .store
            .call_shown_inputs(call.id)
            .await
            .map_err(|e| e.to_string())?;
        let contact = match call.contact_id {
            Some(id) => {
                let mut db = self.store.reader().await.map_err(|e| e.to_string())?;
                Some(db.get_contact(id).await.map_err(|e| e.to_string())?)
            }
            None => None,
        };
        let mut values = whisper_values(shown.variables.as_ref(), contact.as_ref());
        values.insert("reason".into(), reason.to_string());
        values.insert(
            "campaign".into(),
            campaign.map(|c| c.name).unwrap_or_default(),
        );
        let TransferSettings {
            whisper,
            ring_seconds,
            fallback,
            ..
        } = settings;
        Ok(TransferPlan {
            targets,
            whisper: render(whisper.as_deref().unwrap_or(DEFAULT_WHISPER), &values),
            reason: reason.to_string(),
            ring_seconds,
            fallback,
        })
    }

    /// Records the transfer's start; `false` (nothing written) when the call was
    /// transferred before: its transfer has settled and is never started again.
    async fn record_transfer(
        &self,
        call_id: i64,
        plan: &TransferPlan,
    ) -> Result<bool, parley_store::StoreError> {
        let mut tx = self.store.begin().await?;
        if !tx
            .set_transfer(call_id, TransferOutcome::InProgress, 0)
            .await?
        {
            return Ok(false);
        }
        tx.set_termination(call_id, TerminationSource::Agent, Some(TRANSFERRED_REASON))
            .await?;
        let mut data = serde_json::to_value(plan).unwrap_or_default();
        data["to"] = json!(plan.targets[0]);
        tx.add_call_event(call_id, TRANSFER_EVENT, Some(TRANSFER_EVENT), &data)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The redirect was refused: the transfer settles as failed like any other (its
    /// outcome and `call.transferred`, in one transaction), and as the agent's
    /// conversation goes on, the call is no longer marked as ended by the transfer.
    async fn mark_transfer_failed(&self, call: &Call) -> Result<(), String> {
        let mut tx = self.store.begin().await.map_err(|e| e.to_string())?;
        self.finish_transfer(&mut tx, call, TransferOutcome::Failed, 0, None, true)
            .await
            .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())
    }
}

/// The call's shown dynamic variables as whisper values, the contact's own fields under
/// their names where no variable has that name, and `contact_name` made from the names.
fn whisper_values(
    variables: Option<&Value>,
    contact: Option<&Contact>,
) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = variables
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.clone(), text))
        })
        .collect();
    if let Some(c) = contact {
        for (field, value) in [
            ("first_name", &c.first_name),
            ("last_name", &c.last_name),
            ("company", &c.company),
        ] {
            if let Some(v) = value {
                values.entry(field.to_string()).or_insert_with(|| v.clone());
            }
        }
    }
    let name = ["first_name", "last_name"]
        .iter()
        .filter_map(|k| values.get(*k).filter(|v| !v.trim().is_empty()).cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let name = if name.is_empty() {
        "a contact".to_string()
    } else {
        name
    };
    values.insert("contact_name".into(), name);
    values
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
