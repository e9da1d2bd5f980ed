//! How an import batch's rows become contact writes: rows of the batch that share a phone
//! are merged into the first (each later one a duplicate), and each contact that existed
//! is merged with what it holds, as a duplicate when an earlier batch of the same import
//! wrote it. The same on both backends; only how the writes reach the database differs.
use crate::imports::{ImportBatchOutcome, ImportError, ImportRow, FIELD_LEFT_OUT, INVALID_CONSENT};
use crate::{Result, StoreError};
use parley_domain::consent::NewConsent;
use parley_domain::contact::{ContactFields, CustomFields, KeptValue};
use std::collections::HashMap;

#[derive(sqlx::FromRow)]
pub(crate) struct ExistingRow {
    pub phone: String,
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
pub(crate) struct Merged {
    pub line: i64,
    pub phone: String,
    pub fields: ContactFields,
    /// The consents its rows gave, in line order.
    pub consents: Vec<NewConsent>,
}

/// Merges the rows of a batch that share a phone (one statement may not touch a row
/// twice), in line order: each later row is a duplicate of the first.
pub(crate) fn merge_batch(
    rows: Vec<ImportRow>,
    outcome: &mut ImportBatchOutcome,
    errors: &mut Vec<ImportError>,
) -> Vec<Merged> {
    let mut merged: Vec<Merged> = Vec::with_capacity(rows.len());
    let mut by_phone: HashMap<String, usize> = HashMap::with_capacity(rows.len());
    for row in rows {
        let phone = row.contact.phone.to_string();
        if !row.left_out.is_empty() {
            errors.push(ImportError {
                line: row.line,
                reason: FIELD_LEFT_OUT.into(),
                message: format!(
                    "{}; the contact was imported without them",
                    row.left_out.join("; ")
                ),
            });
        }
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
            let kept = first.fields.fill_from(row.contact.fields);
            errors.push(duplicate_error(row.line, first.line, &kept));
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
    merged
}

/// What a batch learns about its contacts as it writes them: how many are new, updated
/// or duplicates of earlier rows, and the report lines of the duplicates.
pub(crate) struct Found<'a> {
    pub import_id: i64,
    pub outcome: &'a mut ImportBatchOutcome,
    pub errors: &'a mut Vec<ImportError>,
}

impl Found<'_> {
    /// A contact none of whose rows existed before.
    pub fn created<'m>(&mut self, m: &'m Merged) -> Write<'m> {
        self.outcome.created += 1;
        Write {
            m,
            fields: None,
            line: m.line,
        }
    }

    /// A contact that existed: merged into what it holds, a duplicate when an earlier
    /// batch of this import wrote it, else updated.
    pub fn existing<'m>(&mut self, m: &'m Merged, old: ExistingRow) -> Result<Write<'m>> {
        let first_line = old.import_line.unwrap_or(m.line);
        let same_import = old.import_id == Some(self.import_id);
        let mut fields = old.into_fields()?;
        let line = if same_import {
            let kept = fields.fill_from(m.fields.clone());
            self.errors.push(duplicate_error(m.line, first_line, &kept));
            self.outcome.duplicates += 1;
            first_line
        } else {
            // A new import of a contact updates it: its values win.
            fields.merge_from(m.fields.clone());
            self.outcome.updated += 1;
            m.line
        };
        Ok(Write {
            m,
            fields: Some(fields),
            line,
        })
    }
}

/// One contact as its batch writes it.
pub(crate) struct Write<'m> {
    pub m: &'m Merged,
    /// Its fields merged into those it had, when it existed (else `m.fields`).
    pub fields: Option<ContactFields>,
    /// The line it keeps for this import (the first that wrote it).
    pub line: i64,
}

impl Write<'_> {
    pub fn fields(&self) -> &ContactFields {
        self.fields.as_ref().unwrap_or(&self.m.fields)
    }

    /// Whether the batch created it (an existing contact's fields were merged).
    pub fn is_new(&self) -> bool {
        self.fields.is_none()
    }
}

/// Joins errors of the same line into one (the first reason, every message).
pub(crate) fn one_per_line(mut errors: Vec<ImportError>) -> Vec<ImportError> {
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

/// A row merged into the contact an earlier row of the import wrote, naming the values of
/// its that the contact kept its own over.
fn duplicate_error(line: i64, first_line: i64, kept: &[KeptValue]) -> ImportError {
    let mut message = format!("same phone as line {first_line}; merged into that contact");
    for k in kept {
        message.push_str(&format!(
            "; kept {} `{}`, not this row's `{}`",
            k.field, k.kept, k.ignored
        ));
    }
    ImportError {
        line,
        reason: "duplicate".into(),
        message,
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
