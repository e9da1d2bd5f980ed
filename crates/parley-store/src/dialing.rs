//! The dialer's side of campaign progress: claiming due contacts with leases, giving
//! claims back, and recovering claims that a stopped node left behind. Counters move in
//! the same transaction as the rows. Attempts (what a claim becomes once dialled) are in
//! `attempts`.
//!
//! A contact can be dialled only from a claim, a claim is exclusive (row locks on
//! PostgreSQL, the single writer on SQLite), and an attempt can be started only once per
//! claim: so no contact is dialled twice for one attempt, whatever runs concurrently.
use crate::capacity::ClaimLimits;
use crate::consent::consent_guard_sql;
use crate::tx::{execute, on_conn, own_tx, Conn};
use crate::{Result, StoreError, Tx};
use parley_domain::activity::NO_CONSENT_REASON;
use parley_domain::campaign::ProgressState;
use parley_domain::consent::ConsentType;
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

/// The due time of a contact held for want of consent: never, in effect (9999-12-31),
/// until recording a consent makes it due again. Shown as no time at all.
pub(crate) const HELD_FOR_CONSENT: i64 = 253_402_300_799_000;

/// The consent a campaign requires, from its stored settings (written by every version
/// that has the setting; the migration gave existing campaigns `none`).
fn required_consent(settings: &str) -> Result<ConsentType> {
    #[derive(serde::Deserialize)]
    struct Required {
        #[serde(default = "default_required")]
        required_consent: ConsentType,
    }
    fn default_required() -> ConsentType {
        parley_domain::consent::CAMPAIGN_DEFAULT
    }
    serde_json::from_str::<Required>(settings)
        .map(|r| r.required_consent)
        .map_err(|e| StoreError::Corrupt(format!("campaign settings: {e}")))
}

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
        // Locking the campaign row (PostgreSQL; SQLite has one writer) serializes claims
        // for this campaign, so the in-progress count read here is the one the claim adds
        // to, and the required consent is the one in force.
        let lock_campaign = match self.conn() {
            Conn::Postgres(_) => " FOR UPDATE",
            Conn::Sqlite(_) => "",
        };
        let campaign: Option<(i64, String)> = on_conn!(self, c => sqlx::query_as(&format!(
            "SELECT in_progress, settings FROM campaigns WHERE id = $1{lock_campaign}"
        ))
        .bind(campaign_id)
        .fetch_optional(c)
        .await)?;
        let required = campaign
            .as_ref()
            .map_or(Ok(ConsentType::ExpressWritten), |(_, s)| {
                required_consent(s)
            })?;
        let limit = free_slots(campaign.map(|(n, _)| (n,)), limit, max_in_progress);
        // The consent rule as SQL: each due contact says whether its consent satisfies the
        // campaign's (the subquery keeps the claim's index walk as it is).
        let guard = consent_guard_sql(required);
        let ok = guard.as_deref().map_or("TRUE".to_string(), |g| {
            format!("(SELECT {g} FROM contacts c WHERE c.id = campaign_contacts.contact_id)")
        });
        // SKIP LOCKED: concurrent dialers (other nodes) take other contacts instead of
        // waiting for, or double-claiming, these. SQLite: one writer at a time, the select
        // and the updates below cannot interleave with another claim.
        let skip_locked = match self.conn() {
            Conn::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            Conn::Sqlite(_) => "",
        };
        // (contact id, state before the claim, whether its consent suffices)
        let due_rows: Vec<(i64, String, bool)> = on_conn!(self, c => sqlx::query_as(&format!(
            "SELECT contact_id, state, {ok} FROM campaign_contacts WHERE {due} \
             ORDER BY {DUE_ORDER} LIMIT $3{skip_locked}"
        ))
        .bind(campaign_id)
        .bind(now)
        .bind(limit)
        .fetch_all(c)
        .await)?;
        let (allowed, held): (Vec<_>, Vec<_>) = due_rows.into_iter().partition(|r| r.2);
        // (contact id, state before the claim)
        let claimed: Vec<(i64, String)> = if allowed.is_empty() {
            Vec::new()
        } else {
            let taken: Vec<(i64,)> = on_conn!(self, c => {
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
                for (id, _, _) in &allowed {
                    sep.push_bind(*id);
                }
                sep.push_unseparated(")");
                // The guard again, on the rows changed: no contact without the consent
                // the campaign requires is ever claimed.
                // Correlated, so that it reads only the claimed contacts' rows (an IN
                // over every contact with consent cost 45 ms a claim at 100k contacts).
                if let Some(g) = &guard {
                    qb.push(format!(
                        " AND EXISTS (SELECT 1 FROM contacts c \
                         WHERE c.id = campaign_contacts.contact_id AND {g})"
                    ));
                }
                qb.push(" RETURNING contact_id");
                qb.build_query_as().fetch_all(&mut *c).await
            })?;
            allowed
                .into_iter()
                .filter(|(id, _, _)| taken.contains(&(*id,)))
                .map(|(id, state, _)| (id, state))
                .collect()
        };
        self.hold_for_consent(campaign_id, now, &held).await?;
        let held: Vec<i64> = held.iter().map(|(id, _, _)| *id).collect();
        self.record_consent_holds(campaign_id, &held, required, now)
            .await?;
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

    /// Puts back due contacts whose consent does not satisfy the campaign (contact id,
    /// state before, -): scheduled, with the reason, until a consent is recorded for
    /// them ([`HELD_FOR_CONSENT`]; recording one makes them due again).
    async fn hold_for_consent(
        &mut self,
        campaign_id: i64,
        now: i64,
        held: &[(i64, String, bool)],
    ) -> Result<()> {
        if held.is_empty() {
            return Ok(());
        }
        self.point("hold_for_consent")?;
        on_conn!(self, c => {
            let mut qb = QueryBuilder::new("UPDATE campaign_contacts SET state = 'scheduled', next_attempt_at = ");
            qb.push_bind(HELD_FOR_CONSENT)
                .push(", reason = ")
                .push_bind(NO_CONSENT_REASON)
                .push(", updated_at = ")
                .push_bind(now)
                .push(" WHERE campaign_id = ")
                .push_bind(campaign_id)
                .push(" AND contact_id IN (");
            let mut sep = qb.separated(", ");
            for (id, _, _) in held {
                sep.push_bind(*id);
            }
            sep.push_unseparated(")");
            qb.build().execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
        let pending = held.iter().filter(|(_, s, _)| s == "pending").count() as i64;
        self.move_progress(
            campaign_id,
            ProgressState::Pending,
            ProgressState::Scheduled,
            pending,
        )
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
