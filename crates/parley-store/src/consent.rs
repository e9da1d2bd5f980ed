//! Consent history (append-only) and each contact's current consent. Every record is
//! appended here and nowhere else: the row, the contact's current consent
//! (`contacts.consent_id`, `contacts.consent_type`, which the dialer's claim reads) and the
//! release of the contact's campaign rows held for want of consent are one change, in the
//! caller's transaction. Rows are never updated or deleted (the database refuses updates;
//! they go only with their contact).
use crate::tx::{execute, on_conn, own_reader, own_tx};
use crate::{Db, Page, PageRequest, Result, StoreError, Tx};
use parley_domain::activity::NO_CONSENT_REASON;
use parley_domain::consent::{
    ConsentKind, ConsentRecord, ConsentSource, ConsentSourceKind, ConsentType, NewConsent,
};
use parley_domain::time::{from_millis, now_millis, to_millis};
use sqlx::QueryBuilder;
use std::collections::HashMap;

/// Rows per multi-row statement (11 binds a row: well under both backends' limits).
const CHUNK: usize = 500;

#[derive(sqlx::FromRow)]
pub(crate) struct ConsentRow {
    id: i64,
    contact_id: i64,
    kind: String,
    consent_type: Option<String>,
    source_kind: String,
    source_detail: String,
    captured_at: i64,
    consent_text: Option<String>,
    consent_url: Option<String>,
    recorded_at: i64,
    recorded_by: String,
}

pub(crate) const CONSENT_COLUMNS: &str = "r.id, r.contact_id, r.kind, r.consent_type, \
     r.source_kind, r.source_detail, r.captured_at, r.consent_text, r.consent_url, \
     r.recorded_at, r.recorded_by";

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("consent {what} `{value}`"))
}

impl TryFrom<ConsentRow> for ConsentRecord {
    type Error = StoreError;
    fn try_from(r: ConsentRow) -> Result<ConsentRecord> {
        let consent_type = r
            .consent_type
            .map(|t| ConsentType::parse(&t).ok_or_else(|| corrupt("type", &t)))
            .transpose()?;
        Ok(ConsentRecord {
            id: r.id,
            contact_id: r.contact_id,
            kind: ConsentKind::parse(&r.kind).ok_or_else(|| corrupt("kind", &r.kind))?,
            consent_type,
            source: ConsentSource {
                kind: ConsentSourceKind::parse(&r.source_kind)
                    .ok_or_else(|| corrupt("source", &r.source_kind))?,
                detail: r.source_detail,
            },
            captured_at: from_millis(r.captured_at),
            text: r.consent_text,
            url: r.consent_url,
            recorded_at: from_millis(r.recorded_at),
            recorded_by: r.recorded_by,
        })
    }
}

/// The SQL condition a contact (`contacts c`) must meet to be dialled by a campaign that
/// requires `required`: its current consent is one of those that satisfy it
/// ([`ConsentType::satisfying`]); `None` when every contact does. The literals are the
/// enum's own names (no quotes in them).
pub(crate) fn consent_guard_sql(required: ConsentType) -> Option<String> {
    if required == ConsentType::None {
        return None;
    }
    let accepted: Vec<String> = ConsentType::satisfying(required)
        .map(|t| format!("'{}'", t.as_str()))
        .collect();
    // A contact without consent has a NULL type: the condition is false, never NULL.
    Some(format!(
        "(c.consent_type IS NOT NULL AND c.consent_type IN ({}))",
        accepted.join(", ")
    ))
}

impl Tx {
    /// Appends one record to a contact's history, recorded by `actor`, and brings the
    /// contact's current consent up to date. Returns the record.
    pub async fn append_consent(
        &mut self,
        contact_id: i64,
        new: &NewConsent,
        actor: &str,
    ) -> Result<ConsentRecord> {
        let mut ids = self.append_consents(&[(contact_id, new)], actor).await?;
        let id = ids.pop().ok_or(StoreError::NotFound)?;
        let sql = format!("SELECT {CONSENT_COLUMNS} FROM consent_records r WHERE r.id = $1");
        let row: ConsentRow =
            on_conn!(self, c => sqlx::query_as(&sql).bind(id).fetch_one(c).await)?;
        row.try_into()
    }

    /// Appends records (contact id, record) in as few statements as the rows allow, then
    /// refreshes those contacts' current consent. Returns the new ids in order. A contact
    /// that does not exist is `NotFound`.
    pub(crate) async fn append_consents(
        &mut self,
        records: &[(i64, &NewConsent)],
        actor: &str,
    ) -> Result<Vec<i64>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        self.point("append_consents")?;
        let now = now_millis();
        let mut ids = Vec::with_capacity(records.len());
        for chunk in records.chunks(CHUNK) {
            let rows: Vec<(i64,)> = on_conn!(self, c => {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO consent_records (contact_id, kind, consent_type, source_kind, \
                     source_detail, captured_at, consent_text, consent_url, recorded_at, recorded_by) ",
                );
                qb.push_values(chunk, |mut b, (contact_id, n)| {
                    b.push_bind(*contact_id)
                        .push_bind(n.kind.as_str())
                        .push_bind(n.consent_type.map(ConsentType::as_str))
                        .push_bind(n.source.kind.as_str())
                        .push_bind(n.source.detail.clone())
                        .push_bind(n.captured_at.map_or(now, to_millis))
                        .push_bind(n.text.clone())
                        .push_bind(n.url.clone())
                        .push_bind(now)
                        .push_bind(actor.to_string());
                });
                qb.push(" RETURNING id");
                qb.build_query_as().fetch_all(&mut *c).await.map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
                    _ => StoreError::Database(e),
                })
            })?;
            ids.extend(rows.into_iter().map(|(id,)| id));
        }
        let mut contacts: Vec<i64> = records.iter().map(|(id, _)| *id).collect();
        contacts.sort_unstable();
        contacts.dedup();
        self.refresh_current_consent(&contacts).await?;
        Ok(ids)
    }

    /// Sets each contact's current consent from its history: the latest record by
    /// capture time (then id), unless it is a revocation. Then the contacts that now have
    /// a consent are released from every campaign that held them for want of one: due
    /// again, judged anew by the next claim.
    async fn refresh_current_consent(&mut self, contacts: &[i64]) -> Result<()> {
        const LATEST: &str = "FROM consent_records r WHERE r.contact_id = contacts.id \
             ORDER BY r.captured_at DESC, r.id DESC LIMIT 1";
        self.point("refresh_current_consent")?;
        let now = now_millis();
        for chunk in contacts.chunks(CHUNK) {
            on_conn!(self, c => {
                let mut qb = QueryBuilder::new(format!(
                    "UPDATE contacts SET \
                     consent_id = (SELECT CASE WHEN r.kind = 'grant' THEN r.id END {LATEST}), \
                     consent_type = (SELECT r.consent_type {LATEST}) WHERE id IN ("
                ));
                let mut sep = qb.separated(", ");
                for id in chunk {
                    sep.push_bind(*id);
                }
                sep.push_unseparated(")");
                qb.build().execute(&mut *c).await?;
                let mut qb = QueryBuilder::new(
                    "UPDATE campaign_contacts SET next_attempt_at = NULL, reason = NULL, updated_at = ",
                );
                qb.push_bind(now)
                    .push(" WHERE state = 'scheduled' AND reason = ")
                    .push_bind(NO_CONSENT_REASON)
                    .push(" AND contact_id IN (SELECT id FROM contacts WHERE consent_type <> 'none' AND id IN (");
                let mut sep = qb.separated(", ");
                for id in chunk {
                    sep.push_bind(*id);
                }
                sep.push_unseparated("))");
                qb.build().execute(&mut *c).await.map(|r| r.rows_affected())
            })?;
        }
        Ok(())
    }

    /// Revokes the consent of the contact with this number, if it has one in force (an
    /// opt-out, or the number put on the global do-not-call list), in the caller's
    /// transaction. Returns the revocation's contact, if one was appended.
    pub(crate) async fn revoke_consent_of_phone(
        &mut self,
        phone: &str,
        source: ConsentSource,
        said: Option<&str>,
    ) -> Result<Option<i64>> {
        let contact: Option<(i64,)> = on_conn!(self, c => sqlx::query_as(
            "SELECT id FROM contacts WHERE phone = $1 AND consent_id IS NOT NULL",
        )
        .bind(phone)
        .fetch_optional(c)
        .await)?;
        let Some((contact_id,)) = contact else {
            return Ok(None);
        };
        let revocation = NewConsent::revocation(source, said);
        self.append_consents(&[(contact_id, &revocation)], "system")
            .await?;
        Ok(Some(contact_id))
    }

    /// Makes the contacts of a campaign held for want of consent due again (its required
    /// consent may have changed): the next claim judges them anew.
    pub(crate) async fn release_consent_holds(&mut self, campaign_id: i64) -> Result<u64> {
        self.point("release_consent_holds")?;
        Ok(execute!(
            self,
            sqlx::query(
                "UPDATE campaign_contacts SET next_attempt_at = NULL, reason = NULL, updated_at = $3 \
                 WHERE campaign_id = $1 AND state = 'scheduled' AND reason = $2",
            )
            .bind(campaign_id)
            .bind(NO_CONSENT_REASON)
            .bind(now_millis())
        )?)
    }
}

own_tx! {
    fn append_consent(contact_id: i64, new: &NewConsent, actor: &str) -> ConsentRecord;
}

impl Db {
    /// A contact's consent history, most recently recorded first (`NotFound` for an
    /// unknown contact).
    pub async fn consent_history(
        &mut self,
        contact_id: i64,
        page: PageRequest,
    ) -> Result<Page<ConsentRecord>> {
        self.require_contact(contact_id).await?;
        let sql = format!(
            "SELECT {CONSENT_COLUMNS} FROM consent_records r WHERE r.contact_id = $1 AND r.id < $2 \
             ORDER BY r.id DESC LIMIT $3"
        );
        let rows: Vec<ConsentRow> = on_conn!(self, c => sqlx::query_as(&sql)
            .bind(contact_id)
            .bind(page.cursor_id())
            .bind(page.fetch_limit())
            .fetch_all(c)
            .await)?;
        Page::from_rows(rows, &page, |r| r.id).try_map(ConsentRecord::try_from)
    }

    /// The consent in force of each of these contacts (those without one are absent).
    pub(crate) async fn current_consents(
        &mut self,
        contacts: &[i64],
    ) -> Result<HashMap<i64, ConsentRecord>> {
        let mut out = HashMap::new();
        for chunk in contacts.chunks(CHUNK) {
            let rows: Vec<ConsentRow> = on_conn!(self, c => {
                let mut qb = QueryBuilder::new(format!(
                    "SELECT {CONSENT_COLUMNS} FROM contacts c JOIN consent_records r ON r.id = c.consent_id \
                     WHERE c.id IN ("
                ));
                let mut sep = qb.separated(", ");
                for id in chunk {
                    sep.push_bind(*id);
                }
                sep.push_unseparated(")");
                qb.build_query_as().fetch_all(&mut *c).await
            })?;
            for row in rows {
                let record = ConsentRecord::try_from(row)?;
                out.insert(record.contact_id, record);
            }
        }
        Ok(out)
    }

    /// Consent records with their contact's number, newest first, below `before_id`,
    /// `limit` at a time; one contact's when `contact_id` is given (the history export).
    pub async fn export_consent_page(
        &mut self,
        contact_id: Option<i64>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(ConsentRecord, String)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            record: ConsentRow,
            phone: String,
        }
        let sql = format!(
            "SELECT {CONSENT_COLUMNS}, c.phone FROM consent_records r \
             JOIN contacts c ON c.id = r.contact_id \
             WHERE ($1 IS NULL OR r.contact_id = $1) AND r.id < $2 ORDER BY r.id DESC LIMIT $3"
        );
        let rows: Vec<Row> = on_conn!(self, c => sqlx::query_as(&sql)
            .bind(contact_id)
            .bind(before_id.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(c)
            .await)?;
        rows.into_iter()
            .map(|r| Ok((ConsentRecord::try_from(r.record)?, r.phone)))
            .collect()
    }
}

own_reader! {
    fn consent_history(contact_id: i64, page: PageRequest) -> Page<ConsentRecord>;
    fn export_consent_page(contact_id: Option<i64>, before_id: Option<i64>, limit: u32) -> Vec<(ConsentRecord, String)>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_campaign_requiring_express_consent_accepts_express_and_written_only() {
        assert_eq!(consent_guard_sql(ConsentType::None), None);
        assert_eq!(
            consent_guard_sql(ConsentType::Express).as_deref(),
            Some(
                "(c.consent_type IS NOT NULL AND c.consent_type IN ('express_written', 'express'))"
            )
        );
    }
}
