//! `schedule_callback`: the callee asked to be called at another time. The time is read
//! in the contact's zone and placed inside the campaign's calling window; the dialer
//! makes it the contact's next attempt.
use super::params::{optional_str, required_str};
use super::{Tool, ToolContext, ToolResult};
use crate::calls::AfterCommit;
use crate::dialer::settle::CALLBACK_EVENT;
use crate::Engine;
use futures::future::BoxFuture;
use parley_domain::callback::{parse_callback_time, schedule_callback};
use parley_domain::campaign::CampaignSettings;
use parley_domain::window::CallingRules;
use serde_json::{json, Value};

pub struct ScheduleCallback(pub(crate) std::sync::Weak<crate::Shared>);

/// What the agent is told once the callback is on record.
fn answer(at: chrono::DateTime<chrono::Utc>) -> Value {
    json!(format!("Callback scheduled for {}.", at.to_rfc3339()))
}

impl Engine {
    /// Records a callback for the contact on `call_id`, with the log row of the tool call
    /// in `ctx`; returns when it will be.
    async fn schedule_callback(
        &self,
        ctx: &ToolContext,
        call_id: i64,
        when: &str,
        reason: Option<&str>,
    ) -> Result<chrono::DateTime<chrono::Utc>, String> {
        let call = self
            .store
            .get_call(call_id)
            .await
            .map_err(|e| e.to_string())?;
        let mut db = self.store.reader().await.map_err(|e| e.to_string())?;
        let zone = crate::calls::call_zone(&mut db, &call)
            .await
            .map_err(|e| e.to_string())?;
        let settings = match call.campaign_id {
            Some(id) => {
                self.store
                    .get_campaign(id)
                    .await
                    .map_err(|e| e.to_string())?
                    .settings
            }
            None => CampaignSettings::default(),
        };
        let requested =
            parse_callback_time(when, chrono::Utc::now(), zone).map_err(|e| e.to_string())?;
        let at = schedule_callback(requested, &CallingRules::from_settings(&settings), zone)
            .ok_or("no calling time is left in the campaign for that")?;
        // Asked again for the same time (the agent retrying its tool call), it is the same
        // callback; a different time is a new request, and the latest one counts.
        let dedupe = format!("callback:{}", at.timestamp_millis());
        let mut tx = self.store.begin().await.map_err(|e| e.to_string())?;
        tx.add_call_event(
            call_id,
            CALLBACK_EVENT,
            Some(&dedupe),
            &json!({ "requested": when, "reason": reason, "at_ms": at.timestamp_millis(), "at": at.to_rfc3339() }),
        )
        .await
        .map_err(|e| e.to_string())?;
        self.commit_tool(tx, AfterCommit::default(), ctx, &answer(at))
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(call_id, at = %at, "callback scheduled");
        Ok(at)
    }
}

impl Tool for ScheduleCallback {
    fn name(&self) -> &'static str {
        "schedule_callback"
    }

    fn description(&self) -> &'static str {
        "Schedule a call back to the callee at the time they ask for (read in their time \
         zone, moved into the campaign's calling hours)."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "when": {"type": "string", "description": "When to call back, e.g. 'tomorrow 15:00' or '2026-12-01 10:30'"},
                "reason": {"type": "string", "description": "Why the callee wants a call back"}
            },
            "required": ["when"]
        })
    }

    fn call(&self, ctx: ToolContext, parameters: Value) -> BoxFuture<'static, ToolResult> {
        let shared = self.0.clone();
        Box::pin(async move {
            let engine = Engine(shared.upgrade().ok_or("Parley is shutting down")?);
            let call_id = ctx.require_call()?;
            let when = required_str(
                &parameters,
                "when",
                "say when to call back, e.g. 'tomorrow 15:00'",
            )?;
            let reason = optional_str(&parameters, "reason")?;
            let at = engine
                .schedule_callback(&ctx, call_id, when, reason)
                .await?;
            Ok(answer(at))
        })
    }
}
