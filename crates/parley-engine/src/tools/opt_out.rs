//! `opt_out`: the callee wants no more calls. The number goes on the global do-not-call
//! list and every waiting attempt for it, in every campaign, is cancelled.
use super::params::optional_str;
use super::{Tool, ToolContext, ToolResult};
use crate::calls::AfterCommit;
use crate::events::LiveEvent;
use crate::Engine;
use futures::future::BoxFuture;
use parley_domain::vocabulary::OPTED_OUT_REASON;
use parley_domain::Phone;
use serde_json::{json, Value};

/// Call event recording the opt-out (the outcome becomes `opted_out`).
pub const OPT_OUT_EVENT: &str = "opt_out";

/// What the agent is told once the number is on the list.
const ANSWER: &str = "Done: this number is on the do-not-call list and will not be called again.";

pub struct OptOut(pub(crate) std::sync::Weak<crate::Shared>);

impl Engine {
    /// Honours a "do not call me" from the person on `call_id`'s line, in one
    /// transaction: the number on the global do-not-call list (with `contact.opted_out`
    /// queued), every waiting attempt for it cancelled, and the opt-out recorded on the
    /// call. Saying it twice changes nothing more.
    pub async fn opt_out(&self, call_id: i64, reason: &str) -> Result<u64, String> {
        self.apply_opt_out(call_id, reason, &ToolContext::default())
            .await
            .map_err(|e| e.to_string())
    }

    /// The opt-out, with the log row of the tool call in `ctx` if it came from one.
    async fn apply_opt_out(
        &self,
        call_id: i64,
        reason: &str,
        ctx: &ToolContext,
    ) -> Result<u64, OptOutError> {
        let mut tx = self.store.begin().await?;
        let call = tx.get_call(call_id).await?;
        let phone = Phone::from_e164(&call.to)?;
        // A test call rehearses the opt-out: it is recorded on the call (its outcome is
        // `opted_out`), but the operator's number is not listed and no contact's
        // attempts are touched.
        let cancelled = if call.is_test {
            0
        } else {
            tx.add_dnc(&phone, None, Some(reason), parley_store::OPT_OUT_SOURCE)
                .await?;
            tx.cancel_waiting_for_phone(&phone, OPTED_OUT_REASON)
                .await?
        };
        tx.add_call_event(
            call_id,
            OPT_OUT_EVENT,
            Some(OPT_OUT_EVENT),
            &json!({ "reason": reason }),
        )
        .await?;
        let mut after = AfterCommit::default();
        after.publish(LiveEvent::ContactOptedOut { call_id });
        self.commit_tool(tx, after, ctx, &json!(ANSWER)).await?;
        tracing::info!(call_id, phone = %phone.masked(), cancelled, "opted out");
        Ok(cancelled)
    }
}

#[derive(Debug, thiserror::Error)]
enum OptOutError {
    #[error("the call's number is not valid: {0}")]
    Phone(#[from] parley_domain::phone::PhoneError),
    #[error(transparent)]
    Store(#[from] parley_store::StoreError),
}

impl Tool for OptOut {
    fn name(&self) -> &'static str {
        "opt_out"
    }

    fn description(&self) -> &'static str {
        "Put the callee's number on the do-not-call list. Use as soon as the callee asks not \
         to be called again."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "reason": {"type": "string", "description": "What the callee said, in a few words"}
            },
            "required": []
        })
    }

    fn call(&self, ctx: ToolContext, parameters: Value) -> BoxFuture<'static, ToolResult> {
        let shared = self.0.clone();
        Box::pin(async move {
            let engine = Engine(shared.upgrade().ok_or("Parley is shutting down")?);
            let call_id = ctx.require_call()?;
            let reason = optional_str(&parameters, "reason")?
                .unwrap_or("the callee asked not to be called again")
                .to_string();
            engine
                .apply_opt_out(call_id, &reason, &ctx)
                .await
                .map_err(|e| e.to_string())?;
            Ok(json!(ANSWER))
        })
    }
}
