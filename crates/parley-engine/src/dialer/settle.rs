//! What follows a campaign call: the retry policy applied to its outcome, a callback the
//! callee asked for, or giving up, recorded on the contact's progress.
use super::DialerError;
use crate::calls::{call_zone, AfterCommit};
use crate::events::LiveEvent;
use crate::Engine;
use parley_domain::call::{Call, CallOutcome};
use parley_domain::campaign::CampaignState;
use parley_domain::retry::{next_step, NextStep};
use parley_domain::vocabulary::OPTED_OUT_REASON;
use parley_domain::window::CallingRules;
use parley_store::{Settle, StoreError, Tx};
use parley_twilio::rest::{classify, ErrorClass};

/// Call events that carry a requested callback time (written by the `schedule_callback`
/// tool).
pub const CALLBACK_EVENT: &str = parley_domain::history::CALLBACK_EVENT;

fn carrier_class(call: &Call) -> Option<ErrorClass> {
    let code: u32 = call.error_code.as_deref()?.parse().ok()?;
    Some(classify(None, Some(code)))
}

impl Engine {
    /// Settles a finished campaign call in a transaction of its own (the sweeps' safety
    /// net; events settle inside their own transaction).
    pub async fn settle_finished_call(&self, call_id: i64, force: bool) -> Result<(), DialerError> {
        let mut tx = self.store.begin().await?;
        let mut after = AfterCommit::default();
        self.settle_campaign_call(&mut tx, &mut after, call_id, force)
            .await?;
        Ok(self.commit(tx, after).await?)
    }

    /// Settles a finished call inside `tx`: a campaign call's attempt, with
    /// `call.completed`; a call placed on its own just announces `call.completed`. Waits
    /// (returns) while the agent's analysis may still change the outcome, unless `force`.
    pub(crate) async fn settle_campaign_call(
        &self,
        tx: &mut Tx,
        after: &mut AfterCommit,
        call_id: i64,
        force: bool,
    ) -> Result<(), StoreError> {
        let call = tx.get_call(call_id).await?;
        if !call.status.is_final() {
            return Ok(());
        }
        if call.conversation_id.is_some() && call.analysis.is_none() && !force {
            return Ok(()); // the post-call analysis (or the sweep) settles it
        }
        // Classify from the call as it is now: the status callback and the post-call
        // webhook race, and either may settle first; never assume an outcome.
        let call = self.settle_outcome(tx, call_id).await?;
        let Some(outcome) = call.outcome else {
            return Ok(());
        };
        let (Some(campaign_id), Some(contact_id), false) =
            (call.campaign_id, call.contact_id, call.is_test)
        else {
            // A call placed on its own, or a test call (no attempt of its contact's, so no
            // retry, callback or give-up): nothing to settle, but CRMs hear of it all the
            // same.
            if tx.announce_call_completed(call_id).await? {
                after.count_outcome(outcome);
            }
            return Ok(());
        };
        let campaign = tx.get_campaign(campaign_id).await?;
        let events = tx.call_events(call_id).await?;
        let callback = events
            .iter()
            .rev()
            .find(|e| e.kind == CALLBACK_EVENT)
            .and_then(|e| e.data.get("at_ms").and_then(|v| v.as_i64()));
        let settle = match (callback, carrier_class(&call)) {
            _ if outcome == CallOutcome::OptedOut => Settle::Cancelled {
                reason: OPTED_OUT_REASON.into(),
            },
            (Some(at), _) => Settle::RetryAt {
                at,
                priority: parley_store::CALLBACK_PRIORITY,
            },
            (_, Some(ErrorClass::Permanent)) => Settle::Failed {
                reason: call
                    .error_message
                    .clone()
                    .unwrap_or_else(|| "the carrier refused the number".into()),
            },
            (_, Some(ErrorClass::Account)) => {
                // Nothing is wrong with the contact: pause everything and try it again later.
                let reason = format!(
                    "carrier account problem: {}",
                    call.error_message.as_deref().unwrap_or("refused")
                );
                self.pause_campaign_in(tx, after, campaign_id, &reason)
                    .await?;
                Settle::RetryAt {
                    at: parley_domain::time::now_millis(),
                    priority: 1,
                }
            }
            _ => {
                let (attempts, today, _) = tx.attempt_counts(campaign_id, contact_id).await?;
                let zone = call_zone(tx, &call).await?;
                let rules = CallingRules::from_settings(&campaign.settings);
                match next_step(
                    &campaign.settings.retry,
                    outcome,
                    attempts.max(0) as u32,
                    today.max(0) as u32,
                    chrono::Utc::now(),
                    &rules,
                    zone,
                ) {
                    NextStep::Done => Settle::Completed,
                    NextStep::RetryAt(at) => Settle::RetryAt {
                        at: at.timestamp_millis(),
                        priority: 1,
                    },
                    NextStep::GiveUp { reason } => Settle::Failed { reason },
                }
            }
        };
        if tx
            .settle_attempt(campaign_id, contact_id, call_id, outcome.as_str(), &settle)
            .await?
        {
            tracing::info!(campaign_id, contact_id, call_id, outcome = outcome.as_str(), settle = ?settle, "attempt settled");
            // The contact's sheet row hears of it in the same transaction.
            let write_back = &campaign.settings.sheet_write_back;
            if write_back.enabled {
                tx.queue_sheet_write(
                    campaign_id,
                    contact_id,
                    call_id,
                    write_back,
                    parley_domain::time::now_millis(),
                )
                .await?;
            }
            after.publish(LiveEvent::ProgressChanged { campaign_id });
            after.count_outcome(outcome);
            if outcome == CallOutcome::Failed {
                self.check_circuit_breaker(tx, after, campaign_id).await?;
            }
        }
        Ok(())
    }

    /// Pauses the campaign when most of its recent calls failed at the carrier.
    async fn check_circuit_breaker(
        &self,
        tx: &mut Tx,
        after: &mut AfterCommit,
        campaign_id: i64,
    ) -> Result<(), StoreError> {
        use parley_domain::breaker;
        let recent: Vec<CallOutcome> = tx
            .recent_outcomes(campaign_id, breaker::WINDOW as i64)
            .await?
            .iter()
            .filter_map(|o| CallOutcome::parse(o))
            .collect();
        if let Some(reason) = breaker::trips(&recent) {
            self.pause_campaign_in(tx, after, campaign_id, &reason)
                .await?;
        }
        Ok(())
    }

    /// Pauses a campaign on the system's behalf, saying why, in a transaction of its own.
    pub async fn pause_campaign(&self, campaign_id: i64, reason: &str) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        let mut after = AfterCommit::default();
        self.pause_campaign_in(&mut tx, &mut after, campaign_id, reason)
            .await?;
        self.commit(tx, after).await
    }

    /// Pauses a campaign on the system's behalf inside `tx`. A campaign that is no longer
    /// running (already paused or stopped) is left as it is.
    pub(crate) async fn pause_campaign_in(
        &self,
        tx: &mut Tx,
        after: &mut AfterCommit,
        campaign_id: i64,
        reason: &str,
    ) -> Result<(), StoreError> {
        use parley_domain::campaign::CampaignAction;
        match tx
            .transition_campaign(campaign_id, CampaignAction::Pause, "system", Some(reason))
            .await
        {
            Ok(_) => {
                tracing::warn!(campaign_id, %reason, "campaign paused");
                after.publish(LiveEvent::CampaignChanged {
                    campaign_id,
                    state: CampaignState::Paused,
                });
                Ok(())
            }
            // Decided in Rust before any write: the transaction is intact.
            Err(e @ (StoreError::IllegalTransition(_) | StoreError::Conflict(_))) => {
                tracing::debug!(campaign_id, error = %e, "campaign not paused");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}
