//! A campaign's compliance report over a date range: its calls by jurisdiction, the dials
//! held back and why (from the evidence in `blocked_dials`), the consent of its contacts,
//! its rolling abandonment figures and its opt-outs with how fast they took effect.
use crate::{on_reader, Backend, Result, Store, StoreError};
use parley_domain::compliance::{
    jurisdiction_label, rules_cited, BlockReason, BlockedCount, ComplianceReport, ConsentCount,
    ConsentCoverage, JurisdictionCalls, OptOutRecord, OptOuts,
};
use parley_domain::consent::ConsentType;
use parley_domain::jurisdiction::{jurisdiction_of_area_code, states, Jurisdiction, RuleBook};
use parley_domain::time::from_millis;
use std::collections::BTreeMap;

/// The call event an opt-out is recorded as (the engine's `OPT_OUT_EVENT`).
pub const OPT_OUT_EVENT_KIND: &str = "opt_out";
/// Blocked dials listed in the report itself (the export has every one).
const RECENT_BLOCKED: i64 = 50;
/// Opt-outs listed in the report itself.
const OPT_OUT_ITEMS: i64 = 100;
/// (number prefix, state field) groups read at most: area codes times the states named.
const MAX_CALL_GROUPS: i64 = 20_000;

/// What the report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportRange {
    pub campaign_id: i64,
    /// The consent the campaign requires.
    pub required: ConsentType,
    /// `[from, to)`, epoch ms.
    pub from: i64,
    pub to: i64,
    /// Start of the rolling abandonment window, epoch ms.
    pub quality_since: i64,
}

impl Store {
    /// The compliance report of one campaign (see [`ReportRange`]).
    pub async fn compliance_report(&self, r: ReportRange) -> Result<ComplianceReport> {
        let quality = self
            .campaign_quality_counts(r.campaign_id, r.quality_since)
            .await?
            .campaign_quality();
        Ok(ComplianceReport {
            campaign_id: r.campaign_id,
            from: from_millis(r.from),
            to: from_millis(r.to),
            rules_version: RuleBook::shipped().version.clone(),
            rules_versions_recorded: self.recorded_rule_versions(&r).await?,
            calls_by_jurisdiction: self.calls_by_jurisdiction(&r).await?,
            blocked: self.blocked_counts(&r).await?,
            recent_blocked: self
                .blocked_dials_page(r.campaign_id, (r.from, r.to), None, RECENT_BLOCKED)
                .await?,
            consent: self.consent_coverage(&r).await?,
            abandonment: quality,
            opt_outs: self.opt_outs(&r).await?,
        })
    }

    async fn recorded_rule_versions(&self, r: &ReportRange) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = on_reader!(self, pool => sqlx::query_as(
            "SELECT DISTINCT rules_version FROM blocked_dials WHERE campaign_id = $1 \
             AND blocked_at >= $2 AND blocked_at < $3 ORDER BY rules_version LIMIT 100",
        )
        .bind(r.campaign_id)
        .bind(r.from)
        .bind(r.to)
        .fetch_all(pool)
        .await)?;
        Ok(rows.into_iter().map(|(v,)| v).collect())
    }

    /// Calls created in the range, grouped by where the dialler judged the callee to be
    /// when it placed the call (`calls.jurisdiction`); calls from before that was kept
    /// are grouped by the number's country-and-area prefix and the contact's `state`
    /// field as stored now.
    async fn calls_by_jurisdiction(&self, r: &ReportRange) -> Result<Vec<JurisdictionCalls>> {
        // The contact's `state` field in the spellings imports produce; any other is read
        // by its number, as the dialer reads it when the field names no state.
        let state = match self.backend() {
            Backend::Sqlite => {
                "COALESCE(json_extract(c.custom_fields, '$.state'), \
                 json_extract(c.custom_fields, '$.State'), json_extract(c.custom_fields, '$.STATE'))"
            }
            Backend::Postgres => {
                "COALESCE(c.custom_fields::jsonb ->> 'state', c.custom_fields::jsonb ->> 'State', \
                 c.custom_fields::jsonb ->> 'STATE')"
            }
        };
        let sql = format!(
            "SELECT k.jurisdiction, SUBSTR(k.to_number, 1, 5) AS prefix, \
             UPPER(TRIM(CAST({state} AS TEXT))) AS st, COUNT(*) \
             FROM calls k LEFT JOIN contacts c ON c.id = k.contact_id \
             WHERE k.campaign_id = $1 AND NOT k.is_test AND k.created_at >= $2 AND k.created_at < $3 \
             GROUP BY k.jurisdiction, prefix, st ORDER BY k.jurisdiction, prefix, st LIMIT $4"
        );
        let rows: Vec<(Option<String>, String, Option<String>, i64)> = on_reader!(self, pool => sqlx::query_as(&sql)
            .bind(r.campaign_id)
            .bind(r.from)
            .bind(r.to)
            .bind(MAX_CALL_GROUPS)
            .fetch_all(pool)
            .await)?;
        let mut by_place: BTreeMap<Option<String>, (String, i64, Vec<String>)> = BTreeMap::new();
        for (judged, prefix, state, calls) in rows {
            let place = match judged {
                Some(code) => Jurisdiction {
                    state: code.strip_prefix("US-").and_then(states::parse),
                },
                None => state
                    .as_deref()
                    .and_then(states::parse)
                    .map(Jurisdiction::state)
                    .unwrap_or_else(|| prefix_jurisdiction(&prefix)),
            };
            let (code, name) = jurisdiction_label(&place);
            by_place
                .entry(code)
                .or_insert_with(|| (name, 0, rules_cited(&place)))
                .1 += calls;
        }
        Ok(by_place
            .into_iter()
            .map(|(jurisdiction, (name, calls, rules))| JurisdictionCalls {
                jurisdiction,
                name,
                calls,
                rules,
            })
            .collect())
    }

    async fn blocked_counts(&self, r: &ReportRange) -> Result<Vec<BlockedCount>> {
        let rows: Vec<(String, Option<String>, i64, i64)> = on_reader!(self, pool => sqlx::query_as(
            "SELECT reason, jurisdiction, COUNT(*), COUNT(DISTINCT contact_id) FROM blocked_dials \
             WHERE campaign_id = $1 AND blocked_at >= $2 AND blocked_at < $3 \
             GROUP BY reason, jurisdiction ORDER BY reason, jurisdiction",
        )
        .bind(r.campaign_id)
        .bind(r.from)
        .bind(r.to)
        .fetch_all(pool)
        .await)?;
        rows.into_iter()
            .map(|(reason, jurisdiction, blocked, contacts)| {
                Ok(BlockedCount {
                    reason: BlockReason::parse(&reason)
                        .ok_or_else(|| StoreError::Corrupt(format!("block reason `{reason}`")))?,
                    jurisdiction,
                    blocked,
                    contacts,
                })
            })
            .collect()
    }

    async fn consent_coverage(&self, r: &ReportRange) -> Result<ConsentCoverage> {
        let rows: Vec<(Option<String>, i64)> = on_reader!(self, pool => sqlx::query_as(
            "SELECT c.consent_type, COUNT(*) FROM campaign_contacts cc \
             JOIN contacts c ON c.id = cc.contact_id WHERE cc.campaign_id = $1 \
             GROUP BY c.consent_type ORDER BY c.consent_type",
        )
        .bind(r.campaign_id)
        .fetch_all(pool)
        .await)?;
        let mut coverage = ConsentCoverage {
            required: r.required,
            contacts: 0,
            satisfying: 0,
            by_type: Vec::with_capacity(rows.len()),
        };
        for (t, contacts) in rows {
            let consent_type = t
                .map(|t| {
                    ConsentType::parse(&t)
                        .ok_or_else(|| StoreError::Corrupt(format!("consent type `{t}`")))
                })
                .transpose()?;
            coverage.contacts += contacts;
            // Without consent in force, only a campaign that requires none may call.
            if consent_type
                .unwrap_or(ConsentType::None)
                .satisfies(r.required)
            {
                coverage.satisfying += contacts;
            }
            coverage.by_type.push(ConsentCount {
                consent_type,
                contacts,
            });
        }
        Ok(coverage)
    }

    async fn opt_outs(&self, r: &ReportRange) -> Result<OptOuts> {
        let from_calls = "FROM call_events e JOIN calls k ON k.id = e.call_id \
             LEFT JOIN dnc_entries d ON d.phone = k.to_number AND d.campaign_id IS NULL \
             WHERE k.campaign_id = $1 AND NOT k.is_test AND e.kind = $4 AND e.created_at >= $2 \
             AND e.created_at < $3";
        let (count, max_lag): (i64, Option<i64>) = on_reader!(self, pool => sqlx::query_as(&format!(
            "SELECT COUNT(*), CAST(MAX(d.created_at - e.created_at) AS BIGINT) {from_calls}"
        ))
        .bind(r.campaign_id)
        .bind(r.from)
        .bind(r.to)
        .bind(OPT_OUT_EVENT_KIND)
        .fetch_one(pool)
        .await)?;
        type Row = (i64, Option<i64>, String, i64, Option<i64>, i64);
        let rows: Vec<Row> = on_reader!(self, pool => sqlx::query_as(&format!(
            "SELECT e.call_id, k.contact_id, k.to_number, e.created_at, d.created_at, \
             (SELECT COUNT(*) FROM calls a WHERE a.to_number = k.to_number AND a.created_at > e.created_at) \
             {from_calls} ORDER BY e.id LIMIT $5"
        ))
        .bind(r.campaign_id)
        .bind(r.from)
        .bind(r.to)
        .bind(OPT_OUT_EVENT_KIND)
        .bind(OPT_OUT_ITEMS)
        .fetch_all(pool)
        .await)?;
        let items = rows
            .into_iter()
            .map(
                |(call_id, contact_id, phone, at, dnc_at, calls_after)| OptOutRecord {
                    call_id,
                    contact_id,
                    phone,
                    opted_out_at: from_millis(at),
                    dnc_at: dnc_at.map(from_millis),
                    lag_ms: dnc_at.map(|d| d - at),
                    calls_after,
                },
            )
            .collect();
        Ok(OptOuts {
            count,
            max_lag_ms: max_lag,
            items,
        })
    }
}

/// The jurisdiction of a number's first five characters (`+1305`: Florida).
fn prefix_jurisdiction(prefix: &str) -> Jurisdiction {
    prefix
        .strip_prefix("+1")
        .and_then(|code| code.parse().ok())
        .map(jurisdiction_of_area_code)
        .unwrap_or_default()
}
