//! Blocked dials kept as evidence: written by the transaction that holds a due contact
//! back (the claim's consent and frequency-cap holds here in the store, the window and
//! do-not-call holds by the dialer), once per episode; read by the compliance report and
//! its export; deleted past their retention.
use crate::tx::{execute, on_conn, own_tx};
use crate::{on_reader, Result, Store, StoreError, Tx};
use parley_domain::compliance::{consent_rule, BlockReason, BlockedDial};
use parley_domain::consent::ConsentType;
use parley_domain::contact::CustomFields;
use parley_domain::jurisdiction::{contact_jurisdiction, RuleBook};
use parley_domain::time::from_millis;
use parley_domain::Phone;
use sqlx::QueryBuilder;

/// A due contact held back, as the holding transaction records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBlockedDial<'a> {
    pub campaign_id: i64,
    pub contact_id: i64,
    pub phone: &'a str,
    /// `US-FL`-style code, if in a US state.
    pub jurisdiction: Option<String>,
    pub reason: BlockReason,
    /// The citation, list or window that held it.
    pub rule: &'a str,
    /// Epoch ms, the dialer's clock.
    pub blocked_at: i64,
    /// Epoch ms it may be called again.
    pub held_until: Option<i64>,
}

const BLOCKED_COLUMNS: &str = "id, campaign_id, contact_id, phone, jurisdiction, reason, rule, \
     rules_version, blocked_at, held_until";

type BlockedRow = (
    i64,
    i64,
    i64,
    String,
    Option<String>,
    String,
    String,
    String,
    i64,
    Option<i64>,
);

fn blocked(r: BlockedRow) -> Result<BlockedDial> {
    let (id, campaign_id, contact_id, phone, jurisdiction, reason, rule, rules_version, at, until) =
        r;
    Ok(BlockedDial {
        id,
        campaign_id,
        contact_id,
        phone,
        jurisdiction,
        reason: BlockReason::parse(&reason)
            .ok_or_else(|| StoreError::Corrupt(format!("block reason `{reason}`")))?,
        rule,
        rules_version,
        blocked_at: from_millis(at),
        held_until: until.map(from_millis),
    })
}

impl Tx {
    /// Keeps a blocked dial as evidence, unless it continues the episode on record: the
    /// contact's latest blocked dial in the campaign has the same reason and no attempt
    /// was made since (its attempts count is unchanged). Returns whether a row was written.
    pub async fn record_blocked_dial(&mut self, b: &NewBlockedDial<'_>) -> Result<bool> {
        self.point("record_blocked_dial")?;
        let version = &RuleBook::shipped().version;
        let written = execute!(
            self,
            sqlx::query(
                "INSERT INTO blocked_dials (campaign_id, contact_id, phone, jurisdiction, reason, \
                 rule, rules_version, attempts, blocked_at, held_until) \
                 SELECT cc.campaign_id, cc.contact_id, $3, $4, $5, $6, $7, cc.attempts, $8, $9 \
                 FROM campaign_contacts cc WHERE cc.campaign_id = $1 AND cc.contact_id = $2 \
                 AND NOT EXISTS (SELECT 1 FROM blocked_dials b \
                   WHERE b.campaign_id = $1 AND b.contact_id = $2 AND b.reason = $5 \
                   AND b.attempts = cc.attempts AND b.id = (SELECT MAX(l.id) FROM blocked_dials l \
                     WHERE l.campaign_id = $1 AND l.contact_id = $2))",
            )
            .bind(b.campaign_id)
            .bind(b.contact_id)
            .bind(b.phone)
            .bind(b.jurisdiction.as_deref())
            .bind(b.reason.as_str())
            .bind(b.rule)
            .bind(version.as_str())
            .bind(b.blocked_at)
            .bind(b.held_until)
        )?;
        Ok(written == 1)
    }

    /// Keeps the evidence of contacts a claim held for want of consent (`required`).
    pub(crate) async fn record_consent_holds(
        &mut self,
        campaign_id: i64,
        contact_ids: &[i64],
        required: ConsentType,
        now: i64,
    ) -> Result<()> {
        if contact_ids.is_empty() {
            return Ok(());
        }
        let contacts: Vec<(i64, String, String)> = on_conn!(self, c => {
            let mut qb = QueryBuilder::new("SELECT id, phone, custom_fields FROM contacts WHERE id IN (");
            let mut sep = qb.separated(", ");
            for id in contact_ids {
                sep.push_bind(*id);
            }
            sep.push_unseparated(")");
            qb.build_query_as().fetch_all(&mut *c).await?
        });
        let rule = consent_rule(required);
        for (contact_id, phone, fields) in contacts {
            let jurisdiction = stored_jurisdiction(&phone, &fields);
            self.record_blocked_dial(&NewBlockedDial {
                campaign_id,
                contact_id,
                phone: &phone,
                jurisdiction,
                reason: BlockReason::NoConsent,
                rule: &rule,
                blocked_at: now,
                held_until: None,
            })
            .await?;
        }
        Ok(())
    }

    /// Deletes up to `limit` blocked dials recorded before `before` (epoch ms).
    pub async fn delete_blocked_dials_before(&mut self, before: i64, limit: i64) -> Result<u64> {
        self.point("delete_blocked_dials_before")?;
        Ok(execute!(
            self,
            sqlx::query(
                "DELETE FROM blocked_dials WHERE id IN (SELECT id FROM blocked_dials \
                 WHERE blocked_at < $1 ORDER BY id LIMIT $2)"
            )
            .bind(before)
            .bind(limit)
        )?)
    }
}

own_tx! {
    fn record_blocked_dial(b: &NewBlockedDial<'_>) -> bool;
    fn delete_blocked_dials_before(before: i64, limit: i64) -> u64;
}

/// The jurisdiction code of a stored contact (phone and custom fields as stored).
pub(crate) fn stored_jurisdiction(phone: &str, custom_fields: &str) -> Option<String> {
    let phone = Phone::from_e164(phone).ok()?;
    let fields: CustomFields = serde_json::from_str(custom_fields).unwrap_or_default();
    contact_jurisdiction(&fields, &phone).state_code()
}

impl Store {
    /// A campaign's blocked dials recorded in `[from, to)` (epoch ms), newest first, below
    /// `before_id` when given.
    pub async fn blocked_dials_page(
        &self,
        campaign_id: i64,
        (from, to): (i64, i64),
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<BlockedDial>> {
        let rows: Vec<BlockedRow> = on_reader!(self, pool => sqlx::query_as(&format!(
            "SELECT {BLOCKED_COLUMNS} FROM blocked_dials WHERE campaign_id = $1 \
             AND blocked_at >= $2 AND blocked_at < $3 AND id < $4 ORDER BY id DESC LIMIT $5"
        ))
        .bind(campaign_id)
        .bind(from)
        .bind(to)
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(blocked).collect()
    }
}
