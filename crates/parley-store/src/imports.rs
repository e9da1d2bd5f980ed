//! Contact imports: a record per import with running counters, its per-row errors, and
//! the batch writer that merges rows into contacts.
//!
//! Duplicates are found without holding the file in memory: each contact remembers the
//! import and line that last wrote it, so a later row of the same import with the same
//! phone is recognised from the database.
use crate::contacts::{custom_fields_json, search_text};
use crate::error::OptionalExt;
use crate::tx::{execute, on_conn};
use crate::{on_reader, on_writer, Result, SheetOrigin, Store, StoreError};
use parley_domain::consent::NewConsent;
use parley_domain::contact::{ContactFields, CustomFields, NewContact};
use parley_domain::time::now_millis;
use serde::Serialize;
use sqlx::QueryBuilder;
use std::collections::HashMap;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ImportRecord {
    pub id: i64,
    pub source: String,
    pub filename: Option<String>,
    /// `running`, `completed` or `failed`.
    pub state: String,
    pub campaign_id: Option<i64>,
    pub rows_total: i64,
    pub created: i64,
    pub updated: i64,
    pub duplicates: i64,
    pub rejected: i64,
    pub error: Option<String>,
    pub started_at: i64,
    pub finished_at: Option<i64>,
}

/// A row of an import that could not be stored as it was, by line number (the header is
/// line 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ImportError {
    pub line: i64,
    /// Stable code: `missing_phone`, `invalid_phone`, `invalid_field`, `duplicate`, ...
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct ImportRow {
    pub line: i64,
    pub contact: NewContact,
    /// The consent its consent columns give (none when they are empty), or why they
    /// cannot be read: then the contact is imported without it and the row reported.
    pub consent: std::result::Result<Option<NewConsent>, String>,
}

/// The reason of a row imported without the consent its cells gave (not a rejection).
pub const INVALID_CONSENT: &str = "invalid_consent";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportBatchOutcome {
    pub created: i64,
    pub updated: i64,
    /// Rows merged into an earlier row of the same import.
    pub duplicates: i64,
}

#[derive(Debug, Clone, Default)]
pub struct ImportTotals {
    pub rows: i64,
    pub rejected: i64,
}

#[derive(sqlx::FromRow)]
struct ExistingRow {
    phone: String,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    company: Option<String>,
    timezone: Option<String>,
    custom_fields: String,
    import_id: Option<i64>,
    import_line: Option<i64>,
}

/// One contact as it will be written, after merging.
struct Merged {
    line: i64,
    phone: String,
    fields: ContactFields,
    /// The consents its rows gave, in line order.
    consents: Vec<NewConsent>,
}

const IMPORT_COLUMNS: &str = "id, source, filename, state, campaign_id, rows_total, created, \
     updated, duplicates, rejected, error, started_at, finished_at";

impl Store {
    pub async fn start_import(
        &self,
        source: &str,
        filename: Option<&str>,
        campaign_id: Option<i64>,
        created_by: &str,
    ) -> Result<ImportRecord> {
        on_writer!(self, pool => sqlx::query_as(&format!(
            "INSERT INTO imports (source, filename, state, campaign_id, created_by, started_at) \
             VALUES ($1, $2, 'running', $3, $4, $5) RETURNING {IMPORT_COLUMNS}"
        ))
        .bind(source)
        .bind(filename)
        .bind(campaign_id)
        .bind(created_by)
        .bind(now_millis())
        .fetch_one(pool)
        .await)
        .map_err(StoreError::from)
    }

    pub async fn get_import(&self, id: i64) -> Result<ImportRecord> {
        on_reader!(self, pool => sqlx::query_as(&format!(
            "SELECT {IMPORT_COLUMNS} FROM imports WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await)?
        .found()
    }

    /// Errors of an import in line order, starting after `after_line`.
    pub async fn import_errors(
        &self,
        id: i64,
        after_line: i64,
        limit: u32,
    ) -> Result<Vec<ImportError>> {
        on_reader!(self, pool => sqlx::query_as(
            "SELECT line, reason, message FROM import_errors WHERE import_id = $1 AND line > $2 \
             ORDER BY line LIMIT $3",
        )
        .bind(id)
        .bind(after_line)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)
        .map_err(StoreError::from)
    }

    pub async fn finish_import(&self, id: i64, error: Option<&str>) -> Result<ImportRecord> {
        let state = if error.is_some() {
            "failed"
        } else {
            "completed"
        };
        on_writer!(self, pool => sqlx::query_as(&format!(
            "UPDATE imports SET state = $2, error = $3, finished_at = $4 WHERE id = $1 \
             RETURNING {IMPORT_COLUMNS}"
        ))
        .bind(id)
        .bind(state)
        .bind(error)
        .bind(now_millis())
        .fetch_optional(pool)
        .await)?
        .found()
    }

    /// Marks imports still `running` that started before `started_before` (epoch ms) as
    /// failed: the process writing them stopped (a request's own cancellation is caught
    /// when it happens). Returns how many.
    pub async fn fail_abandoned_imports(&self, started_before: i64) -> Result<u64> {
        let done = on_writer!(self, pool => sqlx::query(
            "UPDATE imports SET state = 'failed', finished_at = $2, \
             error = 'abandoned: the process importing it stopped before it finished' \
             WHERE state = 'running' AND started_at < $1",
        )
        .bind(started_before)
        .bind(now_millis())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done)
    }

    /// Writes one batch of an import in a single transaction: merges `rows` into contacts
    /// (by phone), tags them, adds them to the import's campaign, records `rejected` rows
    /// and duplicates as errors, and advances the import's counters.
    pub async fn import_batch(
        &self,
        import: &ImportRecord,
        rows: Vec<ImportRow>,
        rejected: Vec<ImportError>,
    ) -> Result<ImportBatchOutcome> {
        self.import_batch_from(import, rows, rejected, None).await
    }

    /// [`Store::import_batch`] of rows read from a Google Sheet: each contact written also
    /// remembers the sheet and the row its line is, for writing results back.
    pub async fn import_batch_from(
        &self,
        import: &ImportRecord,
        rows: Vec<ImportRow>,
        rejected: Vec<ImportError>,
        origin: Option<&SheetOrigin>,
    ) -> Result<ImportBatchOutcome> {
        let mut outcome = ImportBatchOutcome::default();
        let rejected_rows = rejected.len() as i64;
        let mut errors = rejected;
        let rows_in_batch = (rows.len() + errors.len()) as i64;

        // Merge duplicates inside the batch first: one statement may not touch a row twice.
        let mut merged: Vec<Merged> = Vec::with_capacity(rows.len());
        let mut by_phone: HashMap<String, usize> = HashMap::with_capacity(rows.len());
        for row in rows {
            let phone = row.contact.phone.to_string();
            let consent = match row.consent {
                Ok(consent) => consent,
                Err(why) => {
                    errors.push(ImportError {
                        line: row.line,
                        reason: INVALID_CONSENT.into(),
                        message: format!("{why}; the contact was imported without consent"),
                    });
                    None
                }
            };
            if let Some(&i) = by_phone.get(&phone) {
                let first = &mut merged[i];
                errors.push(duplicate_error(row.line, first.line));
                first.fields.merge_from(row.contact.fields);
                first.consents.extend(consent);
                outcome.duplicates += 1;
            } else {
                by_phone.insert(phone.clone(), merged.len());
                merged.push(Merged {
                    line: row.line,
                    phone,
                    fields: row.contact.fields,
                    consents: consent.into_iter().collect(),
                });
            }
        }

        let now = now_millis();
        let mut tx = self.begin().await?;
        tx.point("import_batch")?;
        let mut existing: HashMap<String, ExistingRow> = HashMap::new();
        if !merged.is_empty() {
            let found: Vec<ExistingRow> = on_conn!(tx, c => {
                let mut qb = QueryBuilder::new(
                    "SELECT phone, first_name, last_name, email, company, timezone, custom_fields, \
                     import_id, import_line FROM contacts WHERE phone IN (",
                );
                let mut sep = qb.separated(", ");
                for m in &merged {
                    sep.push_bind(m.phone.clone());
                }
                sep.push_unseparated(")");
                qb.build_query_as().fetch_all(&mut *c).await
            })?;
            existing.extend(found.into_iter().map(|r| (r.phone.clone(), r)));
        }

        // (phone, fields, import_line to keep)
        let mut writes: Vec<(&Merged, ContactFields, i64)> = Vec::with_capacity(merged.len());
        for m in &merged {
            match existing.remove(&m.phone) {
                None => {
                    outcome.created += 1;
                    writes.push((m, m.fields.clone(), m.line));
                }
                Some(old) => {
                    let first_line = old.import_line.unwrap_or(m.line);
                    let same_import = old.import_id == Some(import.id);
                    let mut fields = old.into_fields()?;
                    fields.merge_from(m.fields.clone());
                    if same_import {
                        errors.push(duplicate_error(m.line, first_line));
                        outcome.duplicates += 1;
                        writes.push((m, fields, first_line));
                    } else {
                        outcome.updated += 1;
                        writes.push((m, fields, m.line));
                    }
                }
            }
        }

        let mut ids: HashMap<String, i64> = HashMap::with_capacity(writes.len());
        if !writes.is_empty() {
            let rows: Vec<(i64, String)> = on_conn!(tx, c => {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO contacts (phone, first_name, last_name, email, company, timezone, \
                     custom_fields, search_text, import_id, import_line, created_at, updated_at) ",
                );
                qb.push_values(&writes, |mut b, (m, f, line)| {
                    b.push_bind(m.phone.clone())
                        .push_bind(f.first_name.clone())
                        .push_bind(f.last_name.clone())
                        .push_bind(f.email.clone())
                        .push_bind(f.company.clone())
                        .push_bind(f.timezone.clone())
                        .push_bind(custom_fields_json(f))
                        .push_bind(search_text(&m.phone, f))
                        .push_bind(import.id)
                        .push_bind(*line)
                        .push_bind(now)
                        .push_bind(now);
                });
                qb.push(
                    " ON CONFLICT (phone) DO UPDATE SET first_name = excluded.first_name, \
                     last_name = excluded.last_name, email = excluded.email, \
                     company = excluded.company, timezone = excluded.timezone, \
                     custom_fields = excluded.custom_fields, search_text = excluded.search_text, \
                     import_id = excluded.import_id, import_line = excluded.import_line, \
                     updated_at = excluded.updated_at RETURNING id, phone",
                );
                qb.build_query_as().fetch_all(&mut *c).await
            })?;
            ids.extend(rows.into_iter().map(|(id, phone)| (phone, id)));
        }
        if let (Some(origin), false) = (origin, ids.is_empty()) {
            // The line each contact keeps for this import is its row in the sheet.
            on_conn!(tx, c => {
                let mut qb = QueryBuilder::new("UPDATE contacts SET sheet_spreadsheet_id = ");
                qb.push_bind(&origin.spreadsheet_id)
                    .push(", sheet_name = ")
                    .push_bind(&origin.sheet_name)
                    .push(", sheet_header_row = ")
                    .push_bind(origin.header_row)
                    .push(", sheet_row = import_line WHERE import_id = ")
                    .push_bind(import.id)
                    .push(" AND id IN (");
                let mut sep = qb.separated(", ");
                for id in ids.values() {
                    sep.push_bind(*id);
                }
                sep.push_unseparated(")");
                qb.build().execute(&mut *c).await.map(|r| r.rows_affected())
            })?;
        }

        let mut tag_names: Vec<String> = writes
            .iter()
            .flat_map(|(m, _, _)| m.fields.tags.iter().cloned())
            .collect();
        tag_names.sort();
        tag_names.dedup();
        let tag_ids = tx.ensure_tags(&tag_names).await?;
        let pairs: Vec<(i64, i64)> = writes
            .iter()
            .flat_map(|(m, _, _)| {
                let tag_ids = &tag_ids;
                let contact = ids.get(&m.phone).copied();
                m.fields
                    .tags
                    .iter()
                    .filter_map(move |t| Some((contact?, *tag_ids.get(t)?)))
            })
            .collect();
        tx.link_tags(&pairs).await?;

        tx.import_consents(import.id, &writes, &ids).await?;

        if let (Some(campaign_id), false) = (import.campaign_id, ids.is_empty()) {
            let contact_ids: Vec<i64> = ids.values().copied().collect();
            tx.enroll_contacts(campaign_id, &contact_ids, now).await?;
        }

        // One report line per row: a row both merged and imported without its consent
        // says both.
        let errors = one_per_line(errors);
        if !errors.is_empty() {
            on_conn!(tx, c => {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO import_errors (import_id, line, reason, message) ",
                );
                qb.push_values(&errors, |mut b, e| {
                    b.push_bind(import.id)
                        .push_bind(e.line)
                        .push_bind(e.reason.clone())
                        .push_bind(e.message.clone());
                });
                qb.push(" ON CONFLICT DO NOTHING");
                qb.build().execute(&mut *c).await.map(|r| r.rows_affected())
            })?;
        }

        let rejected = rejected_rows;
        execute!(
            tx,
            sqlx::query(
                "UPDATE imports SET rows_total = rows_total + $2, created = created + $3, \
             updated = updated + $4, duplicates = duplicates + $5, rejected = rejected + $6 \
             WHERE id = $1",
            )
            .bind(import.id)
            .bind(rows_in_batch)
            .bind(outcome.created)
            .bind(outcome.updated)
            .bind(outcome.duplicates)
            .bind(rejected)
        )?;
        tx.commit().await?;
        Ok(outcome)
    }
}

impl crate::Tx {
    /// Appends the consents of an import batch's rows to their contacts' histories,
    /// skipping one that repeats the contact's consent in force (the same file imported
    /// again adds nothing).
    async fn import_consents(
        &mut self,
        import_id: i64,
        writes: &[(&Merged, ContactFields, i64)],
        ids: &HashMap<String, i64>,
    ) -> Result<()> {
        let given: Vec<(i64, &NewConsent)> = writes
            .iter()
            .filter_map(|(m, _, _)| Some((*ids.get(&m.phone)?, &m.consents)))
            .flat_map(|(id, consents)| consents.iter().map(move |c| (id, c)))
            .collect();
        if given.is_empty() {
            return Ok(());
        }
        let contacts: Vec<i64> = given.iter().map(|(id, _)| *id).collect();
        let current = self.current_consents(&contacts).await?;
        let new: Vec<(i64, &NewConsent)> = given
            .into_iter()
            .filter(|(id, c)| {
                !current.get(id).is_some_and(|cur| {
                    cur.consent_type == c.consent_type
                        && c.captured_at == Some(cur.captured_at)
                        && cur.text == c.text
                        && cur.url == c.url
                })
            })
            .collect();
        self.append_consents(&new, &format!("import {import_id}"))
            .await?;
        Ok(())
    }
}

/// Joins errors of the same line into one (the first reason, every message).
fn one_per_line(mut errors: Vec<ImportError>) -> Vec<ImportError> {
    errors.sort_by_key(|e| e.line);
    let mut out: Vec<ImportError> = Vec::with_capacity(errors.len());
    for e in errors {
        match out.last_mut() {
            Some(last) if last.line == e.line => {
                last.message = format!("{}; {}", last.message, e.message);
            }
            _ => out.push(e),
        }
    }
    out
}

fn duplicate_error(line: i64, first_line: i64) -> ImportError {
    ImportError {
        line,
        reason: "duplicate".into(),
        message: format!("same phone as line {first_line}; merged into that contact"),
    }
}

impl ExistingRow {
    fn into_fields(self) -> Result<ContactFields> {
        let custom_fields: CustomFields = serde_json::from_str(&self.custom_fields)
            .map_err(|e| StoreError::Corrupt(format!("custom fields of {}: {e}", self.phone)))?;
        Ok(ContactFields {
            first_name: self.first_name,
            last_name: self.last_name,
            email: self.email,
            company: self.company,
            timezone: self.timezone,
            custom_fields,
            // Existing tags stay linked; only new ones are added.
            tags: Vec::new(),
        })
    }
}
