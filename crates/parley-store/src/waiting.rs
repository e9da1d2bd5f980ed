//! What a campaign's waiting contacts wait for: read from their progress rows, to explain
//! to an operator why nothing is being dialled and when something will be.
use crate::{on_reader, Result, Store, StoreError};
use parley_domain::activity::{
    WaitReason, WaitingGroup, FREQUENCY_CAP_REASON, NO_CONSENT_REASON, OUTSIDE_WINDOW_REASON,
    STATE_HOURS_REASON,
};
use parley_domain::time::from_millis;

/// Classifies a waiting `campaign_contacts` row (alias `cc`) as a [`WaitReason`], with the
/// current time (UTC millis) bound as the placeholder `now` (e.g. `$2`). The one place the
/// rule is written: due when its time has come; otherwise put back by the closed window,
/// its state's closed hours, a frequency cap, the want of consent, a callback (priority
/// 0), or a retry.
pub(crate) fn wait_reason_sql(now: &str) -> String {
    format!(
        "CASE WHEN cc.state NOT IN ('pending', 'scheduled') THEN NULL \
              WHEN cc.next_attempt_at IS NULL OR cc.next_attempt_at <= {now} THEN 'due' \
              WHEN cc.reason = '{OUTSIDE_WINDOW_REASON}' THEN 'outside_calling_window' \
              WHEN cc.reason = '{STATE_HOURS_REASON}' THEN 'state_calling_hours' \
              WHEN cc.reason = '{FREQUENCY_CAP_REASON}' THEN 'frequency_cap' \
              WHEN cc.reason = '{NO_CONSENT_REASON}' THEN 'no_consent' \
              WHEN cc.priority = 0 THEN 'callback' ELSE 'retry' END"
    )
}

pub(crate) fn parse_wait_reason(s: Option<String>) -> Result<Option<WaitReason>> {
    s.map(|s| {
        WaitReason::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("wait reason `{s}`")))
    })
    .transpose()
}

/// contact id, phone, time zone, custom fields (JSON), due at (millis), wait reason
type FirstRow = (i64, String, Option<String>, String, i64, Option<String>);

/// The waiting contact due first (after now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstWaiting {
    pub contact_id: i64,
    pub phone: String,
    pub timezone: Option<String>,
    /// Its custom fields (its `state` decides its jurisdiction).
    pub custom_fields: parley_domain::contact::CustomFields,
    pub next_at: chrono::DateTime<chrono::Utc>,
    pub reason: WaitReason,
}

/// A campaign's waiting contacts, grouped by what they wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub groups: Vec<WaitingGroup>,
    pub first: Option<FirstWaiting>,
}

impl Store {
    /// The campaign's waiting (pending or scheduled) contacts by what they wait for, and
    /// the one due first after `now` (UTC millis) among those waiting for a time (not
    /// those held for consent).
    pub async fn waiting_contacts(&self, campaign_id: i64, now: i64) -> Result<Waiting> {
        let reason = wait_reason_sql("$2");
        let grouped: Vec<(Option<String>, i64, Option<i64>)> = on_reader!(self, pool => sqlx::query_as(&format!(
                "SELECT {reason} AS wait, COUNT(*), MIN(cc.next_attempt_at) \
                 FROM campaign_contacts cc \
                 WHERE cc.campaign_id = $1 AND cc.state IN ('pending', 'scheduled') \
                 GROUP BY wait ORDER BY wait"
            ))
            .bind(campaign_id)
            .bind(now)
            .fetch_all(pool)
            .await)?;
        let mut groups = Vec::with_capacity(grouped.len());
        for (wait, count, next) in grouped {
            let Some(reason) = parse_wait_reason(wait)? else {
                continue;
            };
            // Contacts held for consent wait for no time in particular.
            let timed = !matches!(reason, WaitReason::Due | WaitReason::NoConsent);
            let next_at = timed.then(|| next.map(from_millis)).flatten();
            groups.push(WaitingGroup {
                reason,
                count,
                next_at,
            });
        }
        let first: Option<FirstRow> = on_reader!(self, pool => sqlx::query_as(&format!(
                "SELECT cc.contact_id, c.phone, c.timezone, c.custom_fields, cc.next_attempt_at, {reason} \
                 FROM campaign_contacts cc JOIN contacts c ON c.id = cc.contact_id \
                 WHERE cc.campaign_id = $1 AND cc.state IN ('pending', 'scheduled') \
                   AND cc.next_attempt_at > $2 AND cc.next_attempt_at < $3 \
                 ORDER BY cc.next_attempt_at, cc.contact_id LIMIT 1"
            ))
            .bind(campaign_id)
            .bind(now)
            .bind(crate::dialing::HELD_FOR_CONSENT)
            .fetch_optional(pool)
            .await)?;
        let first = match first {
            Some((contact_id, phone, timezone, fields, next_at, wait)) => {
                let custom_fields = serde_json::from_str(&fields)
                    .map_err(|e| StoreError::Corrupt(format!("custom fields: {e}")))?;
                parse_wait_reason(wait)?.map(|reason| FirstWaiting {
                    contact_id,
                    phone,
                    timezone,
                    custom_fields,
                    next_at: from_millis(next_at),
                    reason,
                })
            }
            None => None,
        };
        Ok(Waiting { groups, first })
    }
}
