//! Repairs after a node stopped mid-way: attempts written but maybe never dialled are
//! reconciled against the carrier's own call list before anything is dialled again, and
//! attempts whose settlement was lost are settled.
use super::{Dialer, DialerError};
use crate::calls::AfterCommit;
use parley_domain::call::{CallStatus, TerminationSource};
use parley_store::StatusChange;
use parley_twilio::rest::CallFilter;

/// A queued attempt older than this was not dialled by a live node (the create request
/// times out long before).
const STALLED_AFTER_MS: i64 = 60_000;
/// Extra grace after the post-call wait before an unanalysed call is settled anyway.
const SETTLE_GRACE_MS: i64 = 30_000;

impl Dialer {
    pub(super) async fn sweep(&self, now: i64) -> Result<(), DialerError> {
        let store = &self.engine.store;
        for (campaign_id, contact_id, call_id) in
            store.stalled_attempts(now - STALLED_AFTER_MS, 20).await?
        {
            if let Err(e) = self.reconcile(campaign_id, contact_id, call_id).await {
                tracing::warn!(call_id, error = %e, "reconciling a stalled attempt failed; will retry");
            }
        }
        let wait = self.engine.settings.calls.post_call_wait_secs as i64 * 1000 + SETTLE_GRACE_MS;
        for (_, _, call_id) in store.unsettled_attempts(now - wait, 50).await? {
            self.engine.settle_finished_call(call_id, true).await?;
        }
        Ok(())
    }

    /// Did the carrier get this call? Look it up by number and time: found, it goes on
    /// as a normal call; not found, the attempt never happened and is undone.
    async fn reconcile(
        &self,
        campaign_id: i64,
        contact_id: i64,
        call_id: i64,
    ) -> Result<(), String> {
        let store = &self.engine.store;
        let call = store.get_call(call_id).await.map_err(|e| e.to_string())?;
        if let Some(sid) = call.twilio_call_sid.as_deref() {
            // Dialled, but its news was lost (the node stopped): ask where it stands.
            return match self.engine.telephony.twilio.fetch_call(sid).await {
                Ok(placed) => self.adopt(call_id, &placed).await,
                Err(e) if e.status() == Some(404) => {
                    self.end_unknown(call_id, "the carrier has no record of the call")
                        .await
                }
                Err(e) => Err(e.to_string()),
            };
        }
        // Ours: to this number, from our caller id, created after the attempt was
        // written, and not already the call of another attempt.
        let since = call.created_at - chrono::TimeDelta::minutes(1);
        let filter = CallFilter {
            to: Some(call.to.clone()),
            page_size: Some(50),
            ..CallFilter::default()
        };
        let page = self
            .engine
            .telephony
            .twilio
            .list_calls(&filter)
            .await
            .map_err(|e| e.to_string())?;
        let mut found = None;
        for placed in page.calls {
            let created = placed
                .date_created
                .as_deref()
                .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
                .map(|d| d.with_timezone(&chrono::Utc));
            let recent = created.is_some_and(|c| c >= since);
            if placed.from == call.from
                && recent
                && store
                    .call_by_sid(&placed.sid)
                    .await
                    .map_err(|e| e.to_string())?
                    .is_none()
            {
                found = Some(placed);
                break;
            }
        }
        match found {
            Some(placed) => {
                store
                    .set_call_sid(call_id, &placed.sid)
                    .await
                    .map_err(|e| e.to_string())?;
                self.adopt(call_id, &placed).await
            }
            None => {
                let voided = store
                    .void_attempt(
                        campaign_id,
                        contact_id,
                        call_id,
                        "never dialled: the node stopped first",
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                if voided {
                    tracing::warn!(
                        call_id,
                        "attempt was never dialled; the contact goes back in line"
                    );
                }
                Ok(())
            }
        }
    }

    /// Brings a stored call up to the carrier's account of it; settles it when over.
    async fn adopt(&self, call_id: i64, placed: &parley_twilio::rest::Call) -> Result<(), String> {
        let Some(status) = CallStatus::parse(placed.status.as_str()) else {
            return Ok(());
        };
        let change = StatusChange {
            status,
            duration_seconds: placed.duration.as_deref().and_then(|d| d.parse().ok()),
            error_code: None,
            error_message: None,
        };
        self.finish_reconciling(call_id, change).await
    }

    /// Ends a call the carrier does not know.
    async fn end_unknown(&self, call_id: i64, reason: &str) -> Result<(), String> {
        let change = StatusChange {
            status: CallStatus::Failed,
            duration_seconds: Some(0),
            error_code: None,
            error_message: Some(reason.into()),
        };
        self.finish_reconciling(call_id, change).await
    }

    /// Applies the carrier's account of a call in one transaction: its status, who ended
    /// it, its outcome and the attempt's settlement.
    async fn finish_reconciling(&self, call_id: i64, change: StatusChange) -> Result<(), String> {
        self.apply_reconciled(call_id, change)
            .await
            .map_err(|e| e.to_string())
    }

    async fn apply_reconciled(
        &self,
        call_id: i64,
        change: StatusChange,
    ) -> Result<(), DialerError> {
        let engine = &self.engine;
        let mut tx = engine.store.begin().await?;
        let mut after = AfterCommit::default();
        if tx.advance_call_status(call_id, &change).await?.is_none() {
            // Heard from the carrier, nothing new: not stalled for another while.
            tx.touch_call(call_id).await?;
        }
        if change.status.is_final() {
            let source = if change.status == CallStatus::Completed {
                TerminationSource::Callee
            } else {
                TerminationSource::Carrier
            };
            tx.set_termination(call_id, source, Some("reconciled with the carrier"))
                .await?;
            engine
                .settle_campaign_call(&mut tx, &mut after, call_id, true)
                .await?;
        }
        Ok(engine.commit(tx, after).await?)
    }
}
