//! The dialer's side of campaign progress: claiming due contacts with leases, giving
//! claims back, and recovering claims that a stopped node left behind. Counters move in
//! the same transaction as the rows. Attempts (what a claim becomes once dialled) are in
//! `attempts`.
//!
//! A contact can be dialled only from a claim, a claim is exclusive (row locks on
//! PostgreSQL, the single writer on SQLite), and an attempt can be started only once per
//! claim: so no contact is dialled twice for one attempt, whatever runs concurrently.
use crate::capacity::ClaimLimits;
use crate::tx::{execute, on_conn, own_tx, Conn};
use crate::{Result, StoreError, Tx};
use parley_domain::campaign::ProgressState;
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
    /// The contact's custom fields as stored (JSON): its `state` decides its jurisdiction.
    pub custom_fields: String,
}

pub(crate) fn parse_state(s: &str) -> Result<ProgressState> {
    ProgressState::parse(s).ok_or_else(|| StoreError::Corrupt(format!("progress state `{s}`")))
}

const CLAIM_COLUMNS: &str = "cc.campaign_id, cc.contact_id, c.phone, c.timezone, cc.attempts, \
     cc.attempts_today, cc.attempts_day, cc.priority, c.custom_fields";

/// Due first by priority (callbacks, retries, first attempts), then by due time.
const DUE_ORDER: &str = "priority, COALESCE(next_attempt_at, 0), contact_id";

impl Tx {
    /// Moves `n` contacts of a campaign from one progress counter to another.
    pub(crate) async fn move_progress(
        &mut self,
        campaign_id: i64,
        from: ProgressState,
        to: ProgressState,
        n: i64,
    ) -> Result<()> {
        if n == 0 || from == to {
            return Ok(());
        }
        self.point("move_progress")?;
        let sql = format!(
            "UPDATE campaigns SET {f} = {f} - $2, {t} = {t} + $2 WHERE id = $1",
            f = from.as_str(),
            t = to.as_str()
        );
        execute!(self, sqlx::query(&sql).bind(campaign_id).bind(n))?;
        Ok(())
    }

    /// Claims up to `limit` due contacts of a campaign for `owner` until `lease_until`,
    /// never letting the campaign's contacts in progress exceed `limits.campaign`, nor the
    /// account's calls `limits.account`, nor a number's calls its frequency caps (the
    /// checks and the claim are one transaction, so the limits hold across nodes). Capped
    /// contacts are put back with their next eligible time and are not returned.
    pub async fn claim_due_contacts(
        &mut self,
        campaign_id: i64,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
        limits: ClaimLimits,
    ) -> Result<Vec<ClaimedContact>> {
        self.point("claim_due_contacts")?;
        // First the account's lock, then the campaign's row (below): always in that order.
        let limit = match limits.account {
            Some(account) => limit.min(self.account_slots(campaign_id, now, account).await?),
            None => limit,
        };
        let max_in_progress = limits.campaign;
        let due = "campaign_id = $1 AND state IN ('pending', 'scheduled') \
                   AND (next_attempt_at IS NULL OR next_attempt_at <= $2)";
        // (contact id, state before the claim)
        let claimed: Vec<(i64, String)> = match self.conn() {
            Conn::Postgres(c) => {
                // Locking the campaign row serializes claims for this campaign, so the
                // in-progress count read here is the one the claim adds to.
                let in_progress: Option<(i64,)> =
                    sqlx::query_as("SELECT in_progress FROM campaigns WHERE id = $1 FOR UPDATE")
                        .bind(campaign_id)
                        .fetch_optional(&mut *c)
                        .await?;
                let limit = free_slots(in_progress, limit, max_in_progress);
                // SKIP LOCKED: concurrent dialers (other nodes) take other contacts
                // instead of waiting for, or double-claiming, these.
                sqlx::query_as(&format!(
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
                .fetch_all(&mut *c)
                .await?
            }
            Conn::Sqlite(c) => {
                // One writer at a time: the select and update below cannot interleave
                // with another claim.
                let in_progress: Option<(i64,)> =
                    sqlx::query_as("SELECT in_progress FROM campaigns WHERE id = $1")
                        .bind(campaign_id)
                        .fetch_optional(&mut *c)
                        .await?;
                let limit = free_slots(in_progress, limit, max_in_progress);
                let claimed: Vec<(i64, String)> = sqlx::query_as(&format!(
                    "SELECT contact_id, state FROM campaign_contacts WHERE {due} \
                     ORDER BY {DUE_ORDER} LIMIT $3"
                ))
                .bind(campaign_id)
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *c)
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
                    qb.build().execute(&mut *c).await?;
                }
                claimed
            }
        };
        let contacts = self.claimed_details(campaign_id, &claimed).await?;
        let pending = claimed.iter().filter(|(_, s)| s == "pending").count() as i64;
        let scheduled = claimed.len() as i64 - pending;
        self.move_progress(
            campaign_id,
            ProgressState::Pending,
            ProgressState::InProgress,
            pending,
        )
        .await?;
        self.move_progress(
            campaign_id,
            ProgressState::Scheduled,
            ProgressState::InProgress,
            scheduled,
        )
        .await?;
        // Numbers at a frequency cap go back to wait (after the counters moved, so that
        // putting them back moves them again like any released claim).
        self.hold_capped_claims(campaign_id, owner, now, contacts)
            .await
    }

    /// Loads the claimed contacts' details inside the claiming transaction.
    async fn claimed_details(
        &mut self,
        campaign_id: i64,
        claimed: &[(i64, String)],
    ) -> Result<Vec<ClaimedContact>> {
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_conn!(self, c => {
            let mut qb = QueryBuilder::new(format!(
                "SELECT {CLAIM_COLUMNS} FROM campaign_contacts cc JOIN contacts c ON c.id = cc.contact_id \
                 WHERE cc.campaign_id = "
            ));
            qb.push_bind(campaign_id).push(" AND cc.contact_id IN (");
            let mut sep = qb.separated(", ");
            for (id, _) in claimed {
                sep.push_bind(*id);
            }
            sep.push_unseparated(") ORDER BY cc.priority, COALESCE(cc.next_attempt_at, 0), cc.contact_id");
            qb.build_query_as::<ClaimedContact>().fetch_all(c).await?
        }))
    }

    /// Gives a claimed contact back without an attempt: `pending` now, or `scheduled` for
    /// `next_attempt_at` (e.g. when its calling window opens).
    pub async fn release_claim(
        &mut self,
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
        &mut self,
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
        &mut self,
        campaign_id: i64,
        contact_id: i64,
        owner: &str,
        to: ProgressState,
        next_attempt_at: Option<i64>,
        reason: Option<&str>,
    ) -> Result<bool> {
        self.point("end_claim")?;
        let now = parley_domain::time::now_millis();
        let affected = execute!(self, sqlx::query(
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
        .bind(now))?;
        self.move_progress(campaign_id, ProgressState::InProgress, to, affected as i64)
            .await?;
        Ok(affected == 1)
    }

    /// Returns to `pending` every claim whose lease ran out before an attempt was written
    /// (its node stopped between claiming and dialling). Claims with an attempt are left
    /// to be reconciled against the carrier: they may have been dialled.
    pub async fn recover_expired_claims(&mut self, now: i64) -> Result<u64> {
        self.point("recover_expired_claims")?;
        let freed: Vec<(i64,)> = on_conn!(self, c => sqlx::query_as(
            "UPDATE campaign_contacts SET state = 'pending', lease_owner = NULL, \
             lease_expires_at = NULL, updated_at = $1 \
             WHERE state = 'in_progress' AND lease_expires_at < $1 AND attempt_call_id IS NULL \
             RETURNING campaign_id",
        )
        .bind(now)
        .fetch_all(c)
        .await)?;
        let mut per_campaign: std::collections::BTreeMap<i64, i64> = Default::default();
        for (campaign_id,) in &freed {
            *per_campaign.entry(*campaign_id).or_default() += 1;
        }
        for (campaign_id, n) in per_campaign {
            self.move_progress(
                campaign_id,
                ProgressState::InProgress,
                ProgressState::Pending,
                n,
            )
            .await?;
        }
        Ok(freed.len() as u64)
    }
}

/// How many more contacts may be claimed: `limit`, capped by the campaign's free slots.
fn free_slots(in_progress: Option<(i64,)>, limit: i64, max_in_progress: i64) -> i64 {
    let in_progress = in_progress.map_or(i64::MAX, |(n,)| n);
    limit.min((max_in_progress - in_progress).max(0))
}

own_tx! {
    fn claim_due_contacts(campaign_id: i64, owner: &str, now: i64, lease_until: i64, limit: i64, limits: ClaimLimits) -> Vec<ClaimedContact>;
    fn release_claim(campaign_id: i64, contact_id: i64, owner: &str, next_attempt_at: Option<i64>, reason: Option<&str>) -> bool;
    fn cancel_claim(campaign_id: i64, contact_id: i64, owner: &str, reason: &str) -> bool;
    fn recover_expired_claims(now: i64) -> u64;
}
