//! The dialer's side of campaign progress: claiming due contacts with leases, writing an
//! attempt before anyone is asked to dial, settling it, and recovering claims that a
//! stopped node left behind. Counters move in the same transaction as the rows.
//!
//! A contact can be dialled only from a claim, a claim is exclusive (row locks on
//! PostgreSQL, the single writer on SQLite), and an attempt can be started only once per
//! claim: so no contact is dialled twice for one attempt, whatever runs concurrently.
use crate::calls::{CallRow, CALL_COLUMNS};
use crate::{on_writer, Pools, Result, Store, StoreError};
use parley_domain::call::Call;
use parley_domain::campaign::ProgressState;
use parley_domain::webhook::EventType;
use parley_domain::Phone;
use sqlx::QueryBuilder;

/// A contact claimed for dialling.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClaimedContact {
    pub campaign_id: i64,
    pub contact_id: i64,
    pub phone: String,
    pub timezone: Option<String>,
    /// Attempts made before this one.
    pub attempts: i64,
    pub attempts_today: i64,
    /// The contact-local day `attempts_today` counts (YYYY-MM-DD).
    pub attempts_day: Option<String>,
    pub priority: i64,
}

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

/// Moves `n` contacts of a campaign from one progress counter to another.
macro_rules! move_progress {
    ($tx:expr, $campaign_id:expr, $from:expr, $to:expr, $n:expr) => {{
        let (from, to): (ProgressState, ProgressState) = ($from, $to);
        let n: i64 = $n;
        if n != 0 && from != to {
            sqlx::query(&format!(
                "UPDATE campaigns SET {f} = {f} - $2, {t} = {t} + $2 WHERE id = $1",
                f = from.as_str(),
                t = to.as_str()
            ))
            .bind($campaign_id)
            .bind(n)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

/// How many more contacts may be claimed: `limit`, capped by the campaign's free slots.
macro_rules! free_slots {
    ($tx:expr, $campaign_id:expr, $lock:expr, $limit:expr, $max:expr) => {{
        let row: Option<(i64,)> = sqlx::query_as(&format!(
            "SELECT in_progress FROM campaigns WHERE id = $1{}",
            $lock
        ))
        .bind($campaign_id)
        .fetch_optional(&mut *$tx)
        .await?;
        let in_progress = row.map_or(i64::MAX, |(n,)| n);
        $limit.min(($max - in_progress).max(0))
    }};
}

/// Loads the claimed contacts' details inside the claiming transaction.
macro_rules! claimed_details {
    ($tx:expr, $campaign_id:expr, $claimed:expr) => {{
        let claimed: &[(i64, String)] = $claimed;
        if claimed.is_empty() {
            Vec::new()
        } else {
            let mut qb = QueryBuilder::new(format!(
                "SELECT {CLAIM_COLUMNS} FROM campaign_contacts cc JOIN contacts c ON c.id = cc.contact_id \
                 WHERE cc.campaign_id = "
            ));
            qb.push_bind($campaign_id).push(" AND cc.contact_id IN (");
            let mut sep = qb.separated(", ");
            for (id, _) in claimed {
                sep.push_bind(*id);
            }
            sep.push_unseparated(") ORDER BY cc.priority, COALESCE(cc.next_attempt_at, 0), cc.contact_id");
            qb.build_query_as::<ClaimedContact>().fetch_all(&mut *$tx).await?
        }
    }};
}

/// Moves the claimed contacts' counters from their previous state to `in_progress`.
macro_rules! count_claims {
    ($tx:expr, $campaign_id:expr, $claimed:expr) => {{
        let claimed: &[(i64, String)] = $claimed;
        let pending = claimed.iter().filter(|(_, s)| s == "pending").count() as i64;
        let scheduled = claimed.len() as i64 - pending;
        move_progress!(
            $tx,
            $campaign_id,
            ProgressState::Pending,
            ProgressState::InProgress,
            pending
        );
        move_progress!(
            $tx,
            $campaign_id,
            ProgressState::Scheduled,
            ProgressState::InProgress,
            scheduled
        );
    }};
}

fn parse_state(s: &str) -> Result<ProgressState> {
    ProgressState::parse(s).ok_or_else(|| StoreError::Corrupt(format!("progress state `{s}`")))
}

const CLAIM_COLUMNS: &str = "cc.campaign_id, cc.contact_id, c.phone, c.timezone, cc.attempts, \
     cc.attempts_today, cc.attempts_day, cc.priority";

/// Due first by priority (callbacks, retries, first attempts), then by due time.
const DUE_ORDER: &str = "priority, COALESCE(next_attempt_at, 0), contact_id";

impl Store {
    /// Claims up to `limit` due contacts of a campaign for `owner` until `lease_until`,
    /// never letting the campaign's contacts in progress exceed `max_in_progress` (the
    /// check and the claim are one transaction, so the limit holds across nodes).
    pub async fn claim_due_contacts(
        &self,
        campaign_id: i64,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
        max_in_progress: i64,
    ) -> Result<Vec<ClaimedContact>> {
        let due = "campaign_id = $1 AND state IN ('pending', 'scheduled') \
                   AND (next_attempt_at IS NULL OR next_attempt_at <= $2)";
        // (contact id, state before the claim)
        let claimed: Vec<(i64, String)>;
        let contacts: Vec<ClaimedContact>;
        match &self.pools {
            Pools::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                // Locking the campaign row serializes claims for this campaign, so the
                // in-progress count read here is the one the claim adds to.
                let limit = free_slots!(tx, campaign_id, " FOR UPDATE", limit, max_in_progress);
                // SKIP LOCKED: concurrent dialers (other nodes) take other contacts
                // instead of waiting for, or double-claiming, these.
                claimed = sqlx::query_as(&format!(
                    "WITH due AS (SELECT campaign_id, contact_id, state AS old_state \
                       FROM campaign_contacts WHERE {due} ORDER BY {DUE_ORDER} LIMIT $3 \
                       FOR UPDATE SKIP LOCKED) \
                     UPDATE campaign_contacts cc SET state = 'in_progress', lease_owner = $4, \
                       lease_expires_at = $5, updated_at = $2 \
                     FROM due WHERE cc.campaign_id = due.campaign_id AND cc.contact_id = due.contact_id \
                     RETURNING cc.contact_id, due.old_state"
                ))
                .bind(campaign_id)
                .bind(now)
                .bind(limit)
                .bind(owner)
                .bind(lease_until)
                .fetch_all(&mut *tx)
                .await?;
                contacts = claimed_details!(tx, campaign_id, &claimed);
                count_claims!(tx, campaign_id, &claimed);
                tx.commit().await?;
            }
            Pools::Sqlite { write, .. } => {
                // One writer at a time: the select and update below cannot interleave
                // with another claim.
                let mut tx = write.begin().await?;
                let limit = free_slots!(tx, campaign_id, "", limit, max_in_progress);
                claimed = sqlx::query_as(&format!(
                    "SELECT contact_id, state FROM campaign_contacts WHERE {due} \
                     ORDER BY {DUE_ORDER} LIMIT $3"
                ))
                .bind(campaign_id)
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
                if !claimed.is_empty() {
                    let mut qb = QueryBuilder::new(
                        "UPDATE campaign_contacts SET state = 'in_progress', lease_owner = ",
                    );
                    qb.push_bind(owner)
                        .push(", lease_expires_at = ")
                        .push_bind(lease_until)
                        .push(", updated_at = ")
                        .push_bind(now)
                        .push(" WHERE campaign_id = ")
                        .push_bind(campaign_id)
                        .push(" AND contact_id IN (");
                    let mut sep = qb.separated(", ");
                    for (id, _) in &claimed {
                        sep.push_bind(*id);
                    }
                    sep.push_unseparated(")");
                    qb.build().execute(&mut *tx).await?;
                }
                contacts = claimed_details!(tx, campaign_id, &claimed);
                count_claims!(tx, campaign_id, &claimed);
                tx.commit().await?;
            }
        }
        Ok(contacts)
    }

    /// Gives a claimed contact back without an attempt: `pending` now, or `scheduled` for
    /// `next_attempt_at` (e.g. when its calling window opens).
    pub async fn release_claim(
        &self,
        campaign_id: i64,
        contact_id: i64,
        owner: &str,
        next_attempt_at: Option<i64>,
        reason: Option<&str>,
    ) -> Result<bool> {
        let to = if next_attempt_at.is_some() {
            ProgressState::Scheduled
        } else {
            ProgressState::Pending
        };
        self.end_claim(campaign_id, contact_id, owner, to, next_attempt_at, reason)
            .await
    }

    /// Takes a claimed contact out of the campaign (e.g. it is on a do-not-call list).
    pub async fn cancel_claim(
        &self,
        campaign_id: i64,
        contact_id: i64,
        owner: &str,
        reason: &str,
    ) -> Result<bool> {
        self.end_claim(
            campaign_id,
            contact_id,
            owner,
            ProgressState::Cancelled,
            None,
            Some(reason),
        )
        .await
    }

    async fn end_claim(
        &self,
        campaign_id: i64,
        contact_id: i64,
        owner: &str,
        to: ProgressState,
        next_attempt_at: Option<i64>,
        reason: Option<&str>,
    ) -> Result<bool> {
        let now = parley_domain::time::now_millis();
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let affected = sqlx::query(
                "UPDATE campaign_contacts SET state = $4, next_attempt_at = $5, reason = COALESCE($6, reason), \
                 lease_owner = NULL, lease_expires_at = NULL, updated_at = $7 \
                 WHERE campaign_id = $1 AND contact_id = $2 AND state = 'in_progress' \
                 AND lease_owner = $3 AND attempt_call_id IS NULL",
            )
            .bind(campaign_id)
            .bind(contact_id)
            .bind(owner)
            .bind(to.as_str())
            .bind(next_attempt_at)
            .bind(reason)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            move_progress!(tx, campaign_id, ProgressState::InProgress, to, affected as i64);
            tx.commit().await?;
            Ok::<_, StoreError>(affected == 1)
        })
    }

    /// Writes the attempt (the call row, the contact's attempt counters) for a claim, in
    /// one transaction, if the campaign is still running and the claim still held. Only
    /// then may the number be dialled.
    pub async fn start_attempt(
        &self,
        claim: &ClaimedContact,
        owner: &str,
        local_day: &str,
        call: &crate::NewCall,
    ) -> Result<Result<Call, AttemptRefused>> {
        let now = parley_domain::time::now_millis();
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let state: Option<(String,)> = sqlx::query_as("SELECT state FROM campaigns WHERE id = $1")
                .bind(claim.campaign_id)
                .fetch_optional(&mut *tx)
                .await?;
            if state.as_ref().map(|s| s.0.as_str()) != Some("running") {
                return Ok(Err(AttemptRefused::CampaignNotRunning));
            }
            let row: CallRow = sqlx::query_as(&format!(
                "INSERT INTO calls (campaign_id, contact_id, attempt, to_number, from_number, agent_id, \
                 status, dynamic_variables, overrides, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $9) RETURNING {CALL_COLUMNS}"
            ))
            .bind(claim.campaign_id)
            .bind(claim.contact_id)
            .bind(claim.attempts + 1)
            .bind(&call.to)
            .bind(&call.from)
            .bind(&call.agent_id)
            .bind(call.dynamic_variables.to_string())
            .bind(call.overrides.to_string())
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let affected = sqlx::query(
                "UPDATE campaign_contacts SET attempt_call_id = $4, last_call_id = $4, \
                 attempts = attempts + 1, \
                 attempts_today = CASE WHEN attempts_day = $5 THEN attempts_today + 1 ELSE 1 END, \
                 attempts_day = $5, updated_at = $6 \
                 WHERE campaign_id = $1 AND contact_id = $2 AND state = 'in_progress' \
                 AND lease_owner = $3 AND attempt_call_id IS NULL",
            )
            .bind(claim.campaign_id)
            .bind(claim.contact_id)
            .bind(owner)
            .bind(row.id)
            .bind(local_day)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if affected != 1 {
                // Dropping the transaction rolls the call row back.
                return Ok(Err(AttemptRefused::ClaimLost));
            }
            sqlx::query("UPDATE campaigns SET attempts = attempts + 1 WHERE id = $1")
                .bind(claim.campaign_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(Ok(Call::try_from(row)?))
        })
    }

    /// Records how an attempt ended and what becomes of the contact. Idempotent: only the
    /// first settlement of an attempt counts.
    pub async fn settle_attempt(
        &self,
        campaign_id: i64,
        contact_id: i64,
        call_id: i64,
        outcome: &str,
        settle: &Settle,
    ) -> Result<bool> {
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
        let now = parley_domain::time::now_millis();
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let affected = sqlx::query(
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
            .execute(&mut *tx)
            .await?
            .rows_affected();
            move_progress!(tx, campaign_id, ProgressState::InProgress, to, affected as i64);
            if affected == 1 {
                // The attempt's one settlement: its outcome is final, so CRMs hear of it now.
                let mut data = crate::webhooks::call_data_in!(tx, call_id);
                // The settled outcome wins over the call row's (a call cancelled undialled
                // has none there).
                data["outcome"] = outcome.into();
                data["status"] = parley_domain::call::CallOutcome::parse(outcome)
                    .map(parley_domain::webhook::call_status)
                    .into();
                crate::webhooks::outbox_in!(tx, EventType::CallCompleted, data);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(affected == 1)
        })
    }

    /// Returns to `pending` every claim whose lease ran out before an attempt was written
    /// (its node stopped between claiming and dialling). Claims with an attempt are left
    /// to be reconciled against the carrier: they may have been dialled.
    pub async fn recover_expired_claims(&self, now: i64) -> Result<u64> {
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let freed: Vec<(i64,)> = sqlx::query_as(
                "UPDATE campaign_contacts SET state = 'pending', lease_owner = NULL, \
                 lease_expires_at = NULL, updated_at = $1 \
                 WHERE state = 'in_progress' AND lease_expires_at < $1 AND attempt_call_id IS NULL \
                 RETURNING campaign_id",
            )
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            let mut per_campaign: std::collections::BTreeMap<i64, i64> = Default::default();
            for (campaign_id,) in &freed {
                *per_campaign.entry(*campaign_id).or_default() += 1;
            }
            for (campaign_id, n) in per_campaign {
                move_progress!(tx, campaign_id, ProgressState::InProgress, ProgressState::Pending, n);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(freed.len() as u64)
        })
    }

    /// Attempts so far and attempts on `attempts_day`, for one contact in one campaign.
    pub async fn attempt_counts(
        &self,
        campaign_id: i64,
        contact_id: i64,
    ) -> Result<(i64, i64, Option<String>)> {
        let row: Option<(i64, i64, Option<String>)> = crate::on_reader!(self, pool => sqlx::query_as(
            "SELECT attempts, attempts_today, attempts_day FROM campaign_contacts \
             WHERE campaign_id = $1 AND contact_id = $2",
        )
        .bind(campaign_id)
        .bind(contact_id)
        .fetch_optional(pool)
        .await)?;
        row.ok_or(StoreError::NotFound)
    }

    /// Attempts whose call ended before `before` but were never settled: (campaign,
    /// contact, call). A safety net for settlements lost to a crash.
    pub async fn unsettled_attempts(
        &self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<(i64, i64, i64)>> {
        Ok(crate::on_reader!(self, pool => sqlx::query_as(
            "SELECT cc.campaign_id, cc.contact_id, cc.attempt_call_id FROM campaign_contacts cc \
             JOIN calls c ON c.id = cc.attempt_call_id \
             WHERE cc.state = 'in_progress' AND c.ended_at < $1 LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }

    /// Attempts whose call is not over but has not been heard of since `before`: never
    /// dialled (still `queued`, perhaps no SID) or its callbacks lost while a node was
    /// down. (campaign, contact, call)
    pub async fn stalled_attempts(&self, before: i64, limit: i64) -> Result<Vec<(i64, i64, i64)>> {
        Ok(crate::on_reader!(self, pool => sqlx::query_as(
            "SELECT cc.campaign_id, cc.contact_id, cc.attempt_call_id FROM campaign_contacts cc \
             JOIN calls c ON c.id = cc.attempt_call_id \
             WHERE cc.state = 'in_progress' AND c.ended_at IS NULL AND c.updated_at < $1 LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }

    /// Undoes an attempt that never reached the carrier (its node stopped before Twilio
    /// had the call): the call is marked canceled with `reason`, and the contact goes back
    /// to `pending` with the attempt uncounted, to be dialled afresh.
    pub async fn void_attempt(
        &self,
        campaign_id: i64,
        contact_id: i64,
        call_id: i64,
        reason: &str,
    ) -> Result<bool> {
        let now = parley_domain::time::now_millis();
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let affected = sqlx::query(
                "UPDATE campaign_contacts SET state = 'pending', attempts = attempts - 1, \
                 attempts_today = CASE WHEN attempts_today > 0 THEN attempts_today - 1 ELSE 0 END, \
                 attempt_call_id = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = $4 \
                 WHERE campaign_id = $1 AND contact_id = $2 AND attempt_call_id = $3 AND state = 'in_progress'",
            )
            .bind(campaign_id)
            .bind(contact_id)
            .bind(call_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if affected == 1 {
                sqlx::query(
                    "UPDATE calls SET status = 'canceled', error_message = $2, ended_at = $3, \
                     updated_at = $3, termination_source = 'system', outcome = 'canceled' \
                     WHERE id = $1 AND status = 'queued'",
                )
                .bind(call_id)
                .bind(reason)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE campaigns SET attempts = attempts - 1 WHERE id = $1")
                    .bind(campaign_id)
                    .execute(&mut *tx)
                    .await?;
                move_progress!(tx, campaign_id, ProgressState::InProgress, ProgressState::Pending, 1);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(affected == 1)
        })
    }

    /// Marks a running campaign `completed` when nothing is left to do. Returns it if it
    /// changed.
    pub async fn complete_campaign_if_done(&self, campaign_id: i64) -> Result<bool> {
        let now = parley_domain::time::now_millis();
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let affected = sqlx::query(
                "UPDATE campaigns SET state = 'completed', state_reason = 'every contact is done', \
                 finished_at = $2, updated_at = $2 WHERE id = $1 AND state = 'running' \
                 AND pending = 0 AND scheduled = 0 AND in_progress = 0",
            )
            .bind(campaign_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if affected == 1 {
                let target = campaign_id.to_string();
                crate::audit::audit_in!(&mut *tx, "system", "campaign.state_changed", "campaign", Some(target.as_str()),
                    serde_json::json!({"from": "running", "to": "completed", "reason": "every contact is done"}))?;
                let (name,): (String,) = sqlx::query_as("SELECT name FROM campaigns WHERE id = $1")
                    .bind(campaign_id)
                    .fetch_one(&mut *tx)
                    .await?;
                crate::webhooks::outbox_in!(tx, EventType::CampaignStateChanged, serde_json::json!({
                    "campaign_id": campaign_id,
                    "name": name,
                    "from": "running",
                    "to": "completed",
                    "actor": "system",
                    "reason": "every contact is done",
                }));
            }
            tx.commit().await?;
            Ok::<_, StoreError>(affected == 1)
        })
    }

    /// Outcomes of a campaign's most recent finished calls, newest first.
    pub async fn recent_outcomes(&self, campaign_id: i64, limit: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = crate::on_reader!(self, pool => sqlx::query_as(
            "SELECT outcome FROM calls WHERE campaign_id = $1 AND outcome IS NOT NULL \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(campaign_id)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
        Ok(rows.into_iter().map(|(o,)| o).collect())
    }

    /// Puts a campaign's contacts in state `from` back in line as `pending` for a fresh
    /// round (attempt counters reset; their calls stay in the history). Contacts in
    /// progress are not re-queued here: their calls are reconciled with the carrier.
    pub async fn requeue_contacts(&self, campaign_id: i64, from: ProgressState) -> Result<u64> {
        if matches!(from, ProgressState::InProgress | ProgressState::Pending) {
            return Ok(0);
        }
        let now = parley_domain::time::now_millis();
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let moved = sqlx::query(
                "UPDATE campaign_contacts SET state = 'pending', priority = 2, next_attempt_at = NULL, \
                 reason = NULL, attempts = 0, attempts_today = 0, updated_at = $3 \
                 WHERE campaign_id = $1 AND state = $2",
            )
            .bind(campaign_id)
            .bind(from.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            move_progress!(tx, campaign_id, from, ProgressState::Pending, moved as i64);
            tx.commit().await?;
            Ok::<_, StoreError>(moved)
        })
    }

    /// Cancels every waiting attempt for this number in every campaign (an opt-out).
    /// Contacts on a call right now are left to settle; returns how many were cancelled.
    pub async fn cancel_waiting_for_phone(&self, phone: &Phone, reason: &str) -> Result<u64> {
        let now = parley_domain::time::now_millis();
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let groups: Vec<(i64, String, i64)> = sqlx::query_as(
                "SELECT campaign_id, state, COUNT(*) FROM campaign_contacts \
                 WHERE contact_id IN (SELECT id FROM contacts WHERE phone = $1) \
                 AND state IN ('pending', 'scheduled') GROUP BY campaign_id, state",
            )
            .bind(phone.as_str())
            .fetch_all(&mut *tx)
            .await?;
            let cancelled = sqlx::query(
                "UPDATE campaign_contacts SET state = 'cancelled', reason = $2, updated_at = $3 \
                 WHERE contact_id IN (SELECT id FROM contacts WHERE phone = $1) \
                 AND state IN ('pending', 'scheduled')",
            )
            .bind(phone.as_str())
            .bind(reason)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            for (campaign_id, state, n) in &groups {
                move_progress!(tx, *campaign_id, parse_state(state)?, ProgressState::Cancelled, *n);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(cancelled)
        })
    }
}
