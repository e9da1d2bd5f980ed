//! Attempts: the call row a claim becomes before anyone dials, its settlement (what
//! becomes of the contact once the call is over, with `call.completed` in the outbox),
//! voiding an attempt that never reached the carrier, and the campaign-wide moves that
//! follow (completion, re-queueing, an opt-out cancelling every waiting attempt).
use crate::calls::{CallRow, CALL_COLUMNS};
use crate::dialing::{parse_state, ClaimedContact};
use crate::error::OptionalExt;
use crate::tx::{execute, on_conn, own_reader, own_tx};
use crate::{Db, Result, StoreError, Tx};
use parley_domain::call::{Call, CallOutcome};
use parley_domain::campaign::{CampaignState, ProgressState};
use parley_domain::time::now_millis;
use parley_domain::vocabulary::{ContactStanding, Worded};
use parley_domain::webhook::EventType;
use parley_domain::Phone;

/// The claim priority of a requested callback (retries are 1, first attempts 2).
pub const CALLBACK_PRIORITY: i64 = 0;

/// What becomes of a contact once an attempt is over.
#[derive(Debug, Clone, PartialEq)]
pub enum Settle {
    /// Nothing more to do.
    Completed,
    /// Try again at `at` (UTC millis); `priority` 0 for a callback, 1 for a retry.
    RetryAt {
        at: i64,
        priority: i64,
    },
    Failed {
        reason: String,
    },
    Cancelled {
        reason: String,
    },
}

/// Why an attempt could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptRefused {
    /// The campaign is no longer running (paused or stopped meanwhile).
    CampaignNotRunning,
    /// The claim expired and was taken back, or the attempt was already started.
    ClaimLost,
}

impl Tx {
    /// Writes the attempt (the call row, the contact's attempt counters) for a claim, if
    /// the campaign still dials and the claim is still held. Only then may the number be
    /// dialled. Refused, it writes nothing.
    pub async fn start_attempt(
        &mut self,
        claim: &ClaimedContact,
        owner: &str,
        local_day: &str,
        call: &crate::NewCall,
    ) -> Result<Result<Call, AttemptRefused>> {
        if !self.campaign_state(claim.campaign_id).await?.dials() {
            return Ok(Err(AttemptRefused::CampaignNotRunning));
        }
        self.point("start_attempt")?;
        let now = now_millis();
        let insert = format!(
            "INSERT INTO calls (campaign_id, contact_id, attempt, to_number, from_number, agent_id, \
             status, dynamic_variables, overrides, created_at, updated_at, agent_variables, \
             jurisdiction, variant) \
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $9, $10, $11, $12) \
             RETURNING {CALL_COLUMNS}"
        );
        let row: Option<CallRow> = on_conn!(self, c => {
            // Touching the claim first takes its row lock (PostgreSQL) and proves it is
            // still ours before anything is written.
            let held = sqlx::query(
                "UPDATE campaign_contacts SET updated_at = $4 WHERE campaign_id = $1 \
                 AND contact_id = $2 AND state = 'in_progress' AND lease_owner = $3 \
                 AND attempt_call_id IS NULL",
            )
            .bind(claim.campaign_id)
            .bind(claim.contact_id)
            .bind(owner)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected()
                == 1;
            if held {
                let row: CallRow = sqlx::query_as(&insert)
                    .bind(claim.campaign_id)
                    .bind(claim.contact_id)
                    .bind(claim.attempts + 1)
                    .bind(&call.to)
                    .bind(&call.from)
                    .bind(&call.agent_id)
                    .bind(call.dynamic_variables.to_string())
                    .bind(call.overrides.to_string())
                    .bind(now)
                    .bind(call.agent_variables.as_ref().map(|v| v.to_string()))
                    .bind(&call.jurisdiction)
                    .bind(&call.variant)
                    .fetch_one(&mut *c)
                    .await?;
                sqlx::query(
                    "UPDATE campaign_contacts SET attempt_call_id = $3, last_call_id = $3, \
                     attempts = attempts + 1, \
                     attempts_today = CASE WHEN attempts_day = $4 THEN attempts_today + 1 ELSE 1 END, \
                     attempts_day = $4 WHERE campaign_id = $1 AND contact_id = $2",
                )
                .bind(claim.campaign_id)
                .bind(claim.contact_id)
                .bind(row.id)
                .bind(local_day)
                .execute(&mut *c)
                .await?;
                Some(row)
            } else {
                None
            }
        });
        let Some(row) = row else {
            return Ok(Err(AttemptRefused::ClaimLost));
        };
        execute!(
            self,
            sqlx::query("UPDATE campaigns SET attempts = attempts + 1 WHERE id = $1")
                .bind(claim.campaign_id)
        )?;
        Ok(Ok(Call::try_from(row)?))
    }

    /// Records how an attempt ended and what becomes of the contact, and queues
    /// `call.completed`. Idempotent: only the first settlement of an attempt counts.
    pub async fn settle_attempt(
        &mut self,
        campaign_id: i64,
        contact_id: i64,
        call_id: i64,
        outcome: &str,
        settle: &Settle,
    ) -> Result<bool> {
        self.point("settle_attempt")?;
        let (to, at, priority, reason) = match settle {
            Settle::Completed => (ProgressState::Completed, None, None, None),
            Settle::RetryAt { at, priority } => {
                (ProgressState::Scheduled, Some(*at), Some(*priority), None)
            }
            Settle::Failed { reason } => (ProgressState::Failed, None, None, Some(reason.as_str())),
            Settle::Cancelled { reason } => {
                (ProgressState::Cancelled, None, None, Some(reason.as_str()))
            }
        };
        let now = now_millis();
        let affected = execute!(
            self,
            sqlx::query(
                "UPDATE campaign_contacts SET state = $4, next_attempt_at = $5, \
             priority = COALESCE($6, priority), reason = $7, last_outcome = $8, \
             attempt_call_id = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = $9 \
             WHERE campaign_id = $1 AND contact_id = $2 AND attempt_call_id = $3 \
             AND state = 'in_progress'",
            )
            .bind(campaign_id)
            .bind(contact_id)
            .bind(call_id)
            .bind(to.as_str())
            .bind(at)
            .bind(priority)
            .bind(reason)
            .bind(outcome)
            .bind(now)
        )?;
        if affected != 1 {
            return Ok(false);
        }
        self.move_progress(campaign_id, ProgressState::InProgress, to, 1)
            .await?;
        // The attempt's one settlement: its outcome is final, so CRMs hear of it now.
        let mut data = self.call_data(call_id).await?;
        // The settled outcome wins over the call row's (a call cancelled undialled has
        // none there).
        let parsed = CallOutcome::parse(outcome);
        data["outcome"] = outcome.into();
        data["outcome_label"] = parsed.map(Worded::label).into();
        data["status"] = parsed.map(parley_domain::webhook::call_status).into();
        // Where the contact now stands, in the glossary's words.
        let standing = ContactStanding::of(to, Some(outcome), reason);
        data["contact_standing"] = standing.wire().into();
        data["contact_standing_label"] = standing.label().into();
        self.outbox(EventType::CallCompleted, data).await?;
        Ok(true)
    }

    /// Undoes an attempt that never reached the carrier (its node stopped before Twilio
    /// had the call): the call is marked canceled with `reason`, and the contact goes back
    /// to `pending` with the attempt uncounted, to be dialled afresh.
    pub async fn void_attempt(
        &mut self,
        campaign_id: i64,
        contact_id: i64,
        call_id: i64,
        reason: &str,
    ) -> Result<bool> {
        self.point("void_attempt")?;
        let now = now_millis();
        let affected = execute!(self, sqlx::query(
            "UPDATE campaign_contacts SET state = 'pending', attempts = attempts - 1, \
             attempts_today = CASE WHEN attempts_today > 0 THEN attempts_today - 1 ELSE 0 END, \
             attempt_call_id = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = $4 \
             WHERE campaign_id = $1 AND contact_id = $2 AND attempt_call_id = $3 AND state = 'in_progress'",
        )
        .bind(campaign_id)
        .bind(contact_id)
        .bind(call_id)
        .bind(now))?;
        if affected != 1 {
            return Ok(false);
        }
        on_conn!(self, c => {
            sqlx::query(
                "UPDATE calls SET status = 'canceled', error_message = $2, ended_at = $3, \
                 updated_at = $3, termination_source = 'system', outcome = 'canceled' \
                 WHERE id = $1 AND status = 'queued'",
            )
            .bind(call_id)
            .bind(reason)
            .bind(now)
            .execute(&mut *c)
            .await?;
            sqlx::query("UPDATE campaigns SET attempts = attempts - 1 WHERE id = $1")
                .bind(campaign_id)
                .execute(&mut *c)
                .await?;
        });
        self.move_progress(
            campaign_id,
            ProgressState::InProgress,
            ProgressState::Pending,
            1,
        )
        .await?;
        Ok(true)
    }

    /// Marks a running campaign `completed` when nothing is left to do, with its audit
    /// row and `campaign.state_changed`. Returns whether it changed.
    pub async fn complete_campaign_if_done(&mut self, campaign_id: i64) -> Result<bool> {
        self.point("complete_campaign_if_done")?;
        let now = now_millis();
        let name: Option<(String,)> = on_conn!(self, c => sqlx::query_as(
            "UPDATE campaigns SET state = 'completed', state_reason = 'every contact is done', \
             finished_at = $2, updated_at = $2 WHERE id = $1 AND state = 'running' \
             AND pending = 0 AND scheduled = 0 AND in_progress = 0 RETURNING name",
        )
        .bind(campaign_id)
        .bind(now)
        .fetch_optional(c)
        .await)?;
        let Some((name,)) = name else {
            return Ok(false);
        };
        let reason = "every contact is done";
        let target = campaign_id.to_string();
        self.audit(
            "system",
            "campaign.state_changed",
            "campaign",
            Some(&target),
            &serde_json::json!({"from": "running", "to": "completed", "reason": reason}),
        )
        .await?;
        self.outbox(
            EventType::CampaignStateChanged,
            serde_json::json!({
                "campaign_id": campaign_id,
                "name": name,
                "from": "running",
                "to": "completed",
                "actor": "system",
                "reason": reason,
            }),
        )
        .await?;
        Ok(true)
    }

    /// Puts a campaign's contacts in state `from` back in line as `pending` for a fresh
    /// round (attempt counters reset; their calls stay in the history). Contacts in
    /// progress are not re-queued here: their calls are reconciled with the carrier.
    pub async fn requeue_contacts(&mut self, campaign_id: i64, from: ProgressState) -> Result<u64> {
        if matches!(from, ProgressState::InProgress | ProgressState::Pending) {
            return Ok(0);
        }
        self.point("requeue_contacts")?;
        let now = now_millis();
        let moved = execute!(self, sqlx::query(
            "UPDATE campaign_contacts SET state = 'pending', priority = 2, next_attempt_at = NULL, \
             reason = NULL, attempts = 0, attempts_today = 0, updated_at = $3 \
             WHERE campaign_id = $1 AND state = $2",
        )
        .bind(campaign_id)
        .bind(from.as_str())
        .bind(now))?;
        self.move_progress(campaign_id, from, ProgressState::Pending, moved as i64)
            .await?;
        Ok(moved)
    }

    /// Cancels every waiting attempt for this number in every campaign (an opt-out).
    /// Contacts on a call right now are left to settle; returns how many were cancelled.
    pub async fn cancel_waiting_for_phone(&mut self, phone: &Phone, reason: &str) -> Result<u64> {
        self.point("cancel_waiting_for_phone")?;
        let now = now_millis();
        let (groups, cancelled): (Vec<(i64, String, i64)>, u64) = on_conn!(self, c => {
            let groups: Vec<(i64, String, i64)> = sqlx::query_as(
                "SELECT campaign_id, state, COUNT(*) FROM campaign_contacts \
                 WHERE contact_id IN (SELECT id FROM contacts WHERE phone = $1) \
                 AND state IN ('pending', 'scheduled') GROUP BY campaign_id, state",
            )
            .bind(phone.as_str())
            .fetch_all(&mut *c)
            .await?;
            let cancelled = sqlx::query(
                "UPDATE campaign_contacts SET state = 'cancelled', reason = $2, updated_at = $3 \
                 WHERE contact_id IN (SELECT id FROM contacts WHERE phone = $1) \
                 AND state IN ('pending', 'scheduled')",
            )
            .bind(phone.as_str())
            .bind(reason)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected();
            (groups, cancelled)
        });
        for (campaign_id, state, n) in &groups {
            self.move_progress(
                *campaign_id,
                parse_state(state)?,
                ProgressState::Cancelled,
                *n,
            )
            .await?;
        }
        Ok(cancelled)
    }
}

own_tx! {
    fn start_attempt(claim: &ClaimedContact, owner: &str, local_day: &str, call: &crate::NewCall) -> Result<Call, AttemptRefused>;
    fn settle_attempt(campaign_id: i64, contact_id: i64, call_id: i64, outcome: &str, settle: &Settle) -> bool;
    fn void_attempt(campaign_id: i64, contact_id: i64, call_id: i64, reason: &str) -> bool;
    fn complete_campaign_if_done(campaign_id: i64) -> bool;
    fn requeue_contacts(campaign_id: i64, from: ProgressState) -> u64;
    fn cancel_waiting_for_phone(phone: &Phone, reason: &str) -> u64;
}

impl Db {
    /// A campaign's state, read inside the caller's transaction.
    pub async fn campaign_state(&mut self, campaign_id: i64) -> Result<CampaignState> {
        let (state,): (String,) = on_conn!(self, c => sqlx::query_as(
            "SELECT state FROM campaigns WHERE id = $1",
        )
        .bind(campaign_id)
        .fetch_optional(c)
        .await)?
        .found()?;
        CampaignState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("campaign state `{state}`")))
    }

    /// Attempts so far and attempts on `attempts_day`, for one contact in one campaign.
    pub async fn attempt_counts(
        &mut self,
        campaign_id: i64,
        contact_id: i64,
    ) -> Result<(i64, i64, Option<String>)> {
        on_conn!(self, c => sqlx::query_as(
            "SELECT attempts, attempts_today, attempts_day FROM campaign_contacts \
             WHERE campaign_id = $1 AND contact_id = $2",
        )
        .bind(campaign_id)
        .bind(contact_id)
        .fetch_optional(c)
        .await)?
        .found()
    }

    /// Attempts whose call ended before `before` but were never settled: (campaign,
    /// contact, call). A safety net for settlements lost to a crash.
    pub async fn unsettled_attempts(
        &mut self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<(i64, i64, i64)>> {
        Ok(on_conn!(self, c => sqlx::query_as(
            "SELECT cc.campaign_id, cc.contact_id, cc.attempt_call_id FROM campaign_contacts cc \
             JOIN calls c ON c.id = cc.attempt_call_id \
             WHERE cc.state = 'in_progress' AND c.ended_at < $1 LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(c)
        .await)?)
    }

    /// Attempts whose call is not over but has not been heard of since `before`: never
    /// dialled (still `queued`, perhaps no SID) or its callbacks lost while a node was
    /// down. (campaign, contact, call)
    pub async fn stalled_attempts(
        &mut self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<(i64, i64, i64)>> {
        Ok(on_conn!(self, c => sqlx::query_as(
            "SELECT cc.campaign_id, cc.contact_id, cc.attempt_call_id FROM campaign_contacts cc \
             JOIN calls c ON c.id = cc.attempt_call_id \
             WHERE cc.state = 'in_progress' AND c.ended_at IS NULL AND c.updated_at < $1 LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(c)
        .await)?)
    }

    /// Outcomes of a campaign's most recent finished calls, newest first.
    pub async fn recent_outcomes(&mut self, campaign_id: i64, limit: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = on_conn!(self, c => sqlx::query_as(
            "SELECT outcome FROM calls WHERE campaign_id = $1 AND outcome IS NOT NULL AND NOT is_test \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(campaign_id)
        .bind(limit)
        .fetch_all(c)
        .await)?;
        Ok(rows.into_iter().map(|(o,)| o).collect())
    }
}

own_reader! {
    fn campaign_state(campaign_id: i64) -> CampaignState;
    fn attempt_counts(campaign_id: i64, contact_id: i64) -> (i64, i64, Option<String>);
    fn unsettled_attempts(before: i64, limit: i64) -> Vec<(i64, i64, i64)>;
    fn stalled_attempts(before: i64, limit: i64) -> Vec<(i64, i64, i64)>;
    fn recent_outcomes(campaign_id: i64, limit: i64) -> Vec<String>;
}
