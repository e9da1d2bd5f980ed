//! Frequency caps across campaigns, held in the database at claim time: a claimed contact
//! whose number has had as many calls as its jurisdiction allows within a rolling period
//! (every campaign's calls and calls placed on their own, plus other campaigns' claims
//! about to be dialled) is put back until the oldest of them leaves the period.
//!
//! The caps come from the rules file ([`RuleBook::shipped`]); the count and the claim are
//! one transaction, serialized across nodes on one advisory lock (PostgreSQL; SQLite has a
//! single writer), so two nodes never both take a number's last call.
use crate::blocked_dials::NewBlockedDial;
use crate::dialing::ClaimedContact;
use crate::tx::{on_conn, Conn};
use crate::{Result, Tx};
use parley_domain::activity::FREQUENCY_CAP_REASON;
use parley_domain::compliance::BlockReason;
use parley_domain::contact::CustomFields;
use parley_domain::jurisdiction::{contact_jurisdiction, next_eligible, FrequencyCap, RuleBook};
use parley_domain::time::{from_millis, to_millis};
use parley_domain::Phone;
use sqlx::QueryBuilder;
use std::collections::HashMap;

/// The advisory lock key capped claims serialize on ("parley freqcap").
const CAP_LOCK: i64 = 0x7061_726c_6663_6170;

impl Tx {
    /// Of the contacts just claimed, puts back (scheduled, with the reason and the time it
    /// may be called) those whose number is at a cap, and returns the others.
    pub(crate) async fn hold_capped_claims(
        &mut self,
        campaign_id: i64,
        owner: &str,
        now: i64,
        claimed: Vec<ClaimedContact>,
    ) -> Result<Vec<ClaimedContact>> {
        let book = RuleBook::shipped();
        let Some(longest) = book.longest_cap() else {
            return Ok(claimed);
        };
        // (index, its caps, its jurisdiction's code)
        let capped: Vec<(usize, Vec<FrequencyCap>, Option<String>)> = claimed
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let phone = Phone::from_e164(&c.phone).ok()?;
                let fields: CustomFields =
                    serde_json::from_str(&c.custom_fields).unwrap_or_default();
                let place = contact_jurisdiction(&fields, &phone);
                let caps = book.caps_for(&place);
                (!caps.is_empty()).then(|| (i, caps, place.state_code()))
            })
            .collect();
        if capped.is_empty() {
            return Ok(claimed);
        }
        self.point("hold_capped_claims")?;
        if let Conn::Postgres(c) = self.conn() {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(CAP_LOCK)
                .execute(&mut *c)
                .await?;
        }
        let since = now - longest.num_milliseconds();
        let mut history: HashMap<String, Vec<chrono::DateTime<chrono::Utc>>> = HashMap::new();
        let phones: Vec<&str> = capped
            .iter()
            .map(|(i, _, _)| claimed[*i].phone.as_str())
            .collect();
        for (to, at) in self.recent_calls_to(&phones, since).await? {
            history.entry(to).or_default().push(from_millis(at));
        }
        let contacts: Vec<i64> = capped
            .iter()
            .map(|(i, _, _)| claimed[*i].contact_id)
            .collect();
        for (contact_id,) in self.claims_elsewhere(campaign_id, &contacts).await? {
            // Claimed by another campaign and about to be dialled: it counts as a call now.
            if let Some(c) = claimed.iter().find(|c| c.contact_id == contact_id) {
                history
                    .entry(c.phone.clone())
                    .or_default()
                    .push(from_millis(now));
            }
        }
        let mut held = Vec::new();
        for (i, caps, place) in capped {
            let c = &claimed[i];
            let calls = history.get(&c.phone).map_or(&[][..], Vec::as_slice);
            if let Some((at, cap)) = next_eligible(&caps, calls, from_millis(now)) {
                let released = self
                    .release_claim(
                        campaign_id,
                        c.contact_id,
                        owner,
                        Some(to_millis(at)),
                        Some(FREQUENCY_CAP_REASON),
                    )
                    .await?;
                if released {
                    // The evidence, in the transaction that holds it back.
                    let rule = format!(
                        "{} ({}: {} calls in {} hours)",
                        cap.cited.citation,
                        cap.name,
                        cap.calls,
                        cap.within.num_hours()
                    );
                    self.record_blocked_dial(&NewBlockedDial {
                        campaign_id,
                        contact_id: c.contact_id,
                        phone: &c.phone,
                        jurisdiction: place,
                        reason: BlockReason::FrequencyCap,
                        rule: &rule,
                        blocked_at: now,
                        held_until: Some(to_millis(at)),
                    })
                    .await?;
                }
                held.push(c.contact_id);
            }
        }
        Ok(claimed
            .into_iter()
            .filter(|c| !held.contains(&c.contact_id))
            .collect())
    }

    /// (number, created at) of every call to `phones` created after `since`.
    async fn recent_calls_to(&mut self, phones: &[&str], since: i64) -> Result<Vec<(String, i64)>> {
        Ok(on_conn!(self, c => {
            let mut qb = QueryBuilder::new(
                "SELECT to_number, created_at FROM calls WHERE created_at > ",
            );
            qb.push_bind(since).push(" AND to_number IN (");
            let mut sep = qb.separated(", ");
            for p in phones {
                sep.push_bind(*p);
            }
            sep.push_unseparated(")");
            qb.build_query_as().fetch_all(c).await?
        }))
    }

    /// Contacts among `contacts` claimed by another campaign and not dialled yet.
    async fn claims_elsewhere(
        &mut self,
        campaign_id: i64,
        contacts: &[i64],
    ) -> Result<Vec<(i64,)>> {
        Ok(on_conn!(self, c => {
            let mut qb = QueryBuilder::new(
                "SELECT contact_id FROM campaign_contacts WHERE state = 'in_progress' \
                 AND attempt_call_id IS NULL AND campaign_id <> ",
            );
            qb.push_bind(campaign_id).push(" AND contact_id IN (");
            let mut sep = qb.separated(", ");
            for id in contacts {
                sep.push_bind(*id);
            }
            sep.push_unseparated(")");
            qb.build_query_as().fetch_all(c).await?
        }))
    }
}
