//! Contact imports: a record per import with running counters, its per-row errors, and
//! the batch writer that merges rows into contacts.
//!
//! Duplicates are found without holding the file in memory: each contact remembers the
//! import and line that last wrote it, so a later row of the same import with the same
//! phone is recognised from the database.
use crate::contacts::{custom_fields_json, search_text};
use crate::error::OptionalExt;
use crate::import_merge::{merge_batch, one_per_line, ExistingRow, Found, Merged, Write};
use crate::import_turns::BatchTurn;
use crate::tx::{execute, on_conn};
use crate::{on_reader, on_writer, Result, SheetOrigin, Store, StoreError};
use parley_domain::consent::NewConsent;
use parley_domain::contact::NewContact;
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
    /// Stable code: `missing_phone`, `invalid_phone`, `duplicate`, `field_left_out`, ...
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
    /// Why cells of the row were left out (bad optional fields): the contact is imported
    /// without them and the row reported.
    pub left_out: Vec<String>,
}

/// The reason of a row imported without the consent its cells gave (not a rejection).
pub const INVALID_CONSENT: &str = "invalid_consent";
/// The reason of a row imported without some optional cells it had (not a rejection).
pub const FIELD_LEFT_OUT: &str = "field_left_out";

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

    /// Rows an import writes per transaction. SQLite's batch binds every value of its
    /// rows (500 rows stay far below its bind limit); PostgreSQL's goes in by COPY, where a
    /// larger batch saves round trips and commits (a 5,000-row batch holds a few MB).
    pub fn import_batch_rows(&self) -> usize {
        match self.backend() {
            crate::Backend::Sqlite => 500,
            crate::Backend::Postgres => 5_000,
        }
    }

    /// Batches of one import worth writing at the same time (see [`BatchTurns`]). SQLite
    /// has one writer, so one; on PostgreSQL a batch's copy and merge overlap the tag
    /// links and commit of the batch before, on a second connection.
    pub fn import_batches_in_flight(&self) -> usize {
        match self.backend() {
            crate::Backend::Sqlite => 1,
            crate::Backend::Postgres => 2,
        }
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
        self.import_batch_from(import, rows, rejected, None, BatchTurn::alone())
            .await
    }

    /// [`Store::import_batch`] in its `turn` among batches of the import written at the
    /// same time; rows read from a Google Sheet name its `origin`: each contact written
    /// also remembers the sheet and the row its line is, for writing results back.
    pub async fn import_batch_from(
        &self,
        import: &ImportRecord,
        rows: Vec<ImportRow>,
        rejected: Vec<ImportError>,
        origin: Option<&SheetOrigin>,
        mut turn: BatchTurn,
    ) -> Result<ImportBatchOutcome> {
        let mut outcome = ImportBatchOutcome::default();
        let rejected_rows = rejected.len() as i64;
        let mut errors = rejected;
        let rows_in_batch = (rows.len() + errors.len()) as i64;
        let merged = merge_batch(rows, &mut outcome, &mut errors);

        // Before taking a connection: a batch waiting holds none that the batch before
        // may need (SQLite's one writer, or the last of a busy pool).
        turn.may_write().await?;
        let now = now_millis();
        let mut tx = self.begin().await?;
        tx.point("import_batch")?;
        let (writes, ids) = {
            let mut found = Found {
                import_id: import.id,
                outcome: &mut outcome,
                errors: &mut errors,
            };
            match tx.pg() {
                Some(c) => crate::imports_pg::write_contacts(c, &merged, now, &mut found).await?,
                None => tx.write_contacts(&merged, now, &mut found).await?,
            }
        };
        let tag_ids = tx.ensure_tags(&tag_names(&merged)).await?;
        turn.written();

        if let (Some(origin), false) = (origin, ids.is_empty()) {
            tx.remember_sheet(import.id, origin, &ids).await?;
        }
        tx.tag_written(&writes, &ids, &tag_ids).await?;
        tx.import_consents(import.id, &writes, &ids).await?;

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

        // The campaign's counters and the import's are every batch's rows.
        turn.may_commit().await?;
        if let (Some(campaign_id), false) = (import.campaign_id, ids.is_empty()) {
            let contact_ids: Vec<i64> = ids.values().copied().collect();
            tx.enroll_contacts(campaign_id, &contact_ids, now).await?;
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
        turn.committed();
        Ok(outcome)
    }
}

/// The tags a batch's rows name, each once.
fn tag_names(merged: &[Merged]) -> Vec<String> {
    let mut names: Vec<String> = merged
        .iter()
        .flat_map(|m| m.fields.tags.iter().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

impl crate::Tx {
    /// Looks up the contacts of a batch, merges into those that exist and writes them
    /// all in one upsert of bound values (SQLite; PostgreSQL copies them, see
    /// `imports_pg`). Returns the writes and each phone's contact id.
    async fn write_contacts<'m>(
        &mut self,
        merged: &'m [Merged],
        now: i64,
        found: &mut Found<'_>,
    ) -> Result<(Vec<Write<'m>>, HashMap<String, i64>)> {
        let mut existing: HashMap<String, ExistingRow> = HashMap::new();
        if !merged.is_empty() {
            let rows: Vec<ExistingRow> = on_conn!(self, c => {
                let mut qb = QueryBuilder::new(
                    "SELECT phone, first_name, last_name, email, company, timezone, custom_fields, \
                     import_id, import_line FROM contacts WHERE phone IN (",
                );
                let mut sep = qb.separated(", ");
                for m in merged {
                    sep.push_bind(m.phone.clone());
                }
                sep.push_unseparated(")");
                qb.build_query_as().fetch_all(&mut *c).await
            })?;
            existing.extend(rows.into_iter().map(|r| (r.phone.clone(), r)));
        }
        let mut writes: Vec<Write<'m>> = Vec::with_capacity(merged.len());
        for m in merged {
            writes.push(match existing.remove(&m.phone) {
                None => found.created(m),
                Some(old) => found.existing(m, old)?,
            });
        }

        let mut ids: HashMap<String, i64> = HashMap::with_capacity(writes.len());
        if !writes.is_empty() {
            let import_id = found.import_id;
            let rows: Vec<(i64, String)> = on_conn!(self, c => {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO contacts (phone, first_name, last_name, email, company, timezone, \
                     custom_fields, search_text, import_id, import_line, created_at, updated_at) ",
                );
                qb.push_values(&writes, |mut b, w| {
                    let f = w.fields();
                    b.push_bind(w.m.phone.clone())
                        .push_bind(f.first_name.clone())
                        .push_bind(f.last_name.clone())
                        .push_bind(f.email.clone())
                        .push_bind(f.company.clone())
                        .push_bind(f.timezone.clone())
                        .push_bind(custom_fields_json(f))
                        .push_bind(search_text(&w.m.phone, f))
                        .push_bind(import_id)
                        .push_bind(w.line)
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
        Ok((writes, ids))
    }

    /// Keeps the sheet and the row each contact written came from (the line it keeps for
    /// this import is its row in the sheet).
    async fn remember_sheet(
        &mut self,
        import_id: i64,
        origin: &SheetOrigin,
        ids: &HashMap<String, i64>,
    ) -> Result<()> {
        on_conn!(self, c => {
            let mut qb = QueryBuilder::new("UPDATE contacts SET sheet_spreadsheet_id = ");
            qb.push_bind(&origin.spreadsheet_id)
                .push(", sheet_name = ")
                .push_bind(&origin.sheet_name)
                .push(", sheet_header_row = ")
                .push_bind(origin.header_row)
                .push(", sheet_row = import_line WHERE import_id = ")
                .push_bind(import_id)
                .push(" AND id IN (");
            let mut sep = qb.separated(", ");
            for id in ids.values() {
                sep.push_bind(*id);
            }
            sep.push_unseparated(")");
            qb.build().execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Links the written contacts to their rows' tags (`tag_ids`: name -> id; the tags
    /// they had stay). On PostgreSQL the links of contacts this batch created are copied
    /// in: none can exist.
    async fn tag_written(
        &mut self,
        writes: &[Write<'_>],
        ids: &HashMap<String, i64>,
        tag_ids: &HashMap<String, i64>,
    ) -> Result<()> {
        let (mut fresh, mut others) = (Vec::new(), Vec::new());
        for w in writes {
            let Some(&contact) = ids.get(&w.m.phone) else {
                continue;
            };
            let pairs = if w.is_new() { &mut fresh } else { &mut others };
            let start = pairs.len();
            for tag in &w.m.fields.tags {
                if let Some(&tag) = tag_ids.get(tag) {
                    // A row's tags are distinct; a pair made twice would break the copy.
                    if !pairs[start..].contains(&(contact, tag)) {
                        pairs.push((contact, tag));
                    }
                }
            }
        }
        if self.pg().is_none() {
            fresh.extend(others);
            return self.link_tags(&fresh).await;
        }
        if fresh.is_empty() && others.is_empty() {
            return Ok(());
        }
        self.point("link_tags")?;
        if let Some(c) = self.pg() {
            crate::imports_pg::insert_links(c, &others).await?;
            crate::imports_pg::copy_links(c, &fresh).await?;
        }
        Ok(())
    }

    /// Appends the consents of an import batch's rows to their contacts' histories,
    /// skipping one that repeats the contact's consent in force (the same file imported
    /// again adds nothing; a contact the batch created has none).
    async fn import_consents(
        &mut self,
        import_id: i64,
        writes: &[Write<'_>],
        ids: &HashMap<String, i64>,
    ) -> Result<()> {
        let given: Vec<(i64, bool, &NewConsent)> = writes
            .iter()
            .filter_map(|w| Some((*ids.get(&w.m.phone)?, w.is_new(), &w.m.consents)))
            .flat_map(|(id, new, consents)| consents.iter().map(move |c| (id, new, c)))
            .collect();
        if given.is_empty() {
            return Ok(());
        }
        let mut contacts: Vec<i64> = given
            .iter()
            .filter(|(_, new, _)| !new)
            .map(|(id, _, _)| *id)
            .collect();
        contacts.dedup();
        let current = self.current_consents(&contacts).await?;
        let new: Vec<(i64, &NewConsent)> = given
            .into_iter()
            .map(|(id, _, c)| (id, c))
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
