//! Reads for exports: calls and contacts in keyset pages (newest first, the list order)
//! with what a spreadsheet shows beside them, and the JSON keys that become columns.
//! Nothing here holds more than one page; a whole export is many small queries.
use crate::calls::{push_call_filter, CallRow, CALL_COLUMNS};
use crate::contacts::{full_name, push_contact_filter, ContactRow, CONTACT_COLUMNS};
use crate::{on_reader, Backend, CallFilter, ContactFilter, Result, Store};
use parley_domain::call::{Call, TranscriptTurn, TurnRole};
use parley_domain::campaign::ProgressState;
use parley_domain::contact::Contact;
use parley_domain::time::from_millis;
use parley_domain::vocabulary::ContactStanding;
use sqlx::QueryBuilder;
use std::collections::HashMap;

/// At most this many keys of one kind become columns (the first in sorted order); an
/// agent with more data-collection items than this is not a spreadsheet's job.
pub const MAX_KEY_COLUMNS: usize = 200;

/// A call with the names a reader needs instead of ids.
#[derive(Debug, Clone)]
pub struct CallExportRow {
    pub call: Call,
    /// The contact's first and last name, when the call has a contact with a name.
    pub contact_name: Option<String>,
    pub campaign_name: Option<String>,
}

/// A contact with its campaign progress: of one campaign when the filter names one,
/// else summed over its campaigns (attempts) or the latest of them (outcome).
#[derive(Debug, Clone)]
pub struct ContactExportRow {
    pub contact: Contact,
    pub last_outcome: Option<String>,
    /// Where it stands (in the latest campaign it changed in, when the filter names none);
    /// absent when it is in no campaign.
    pub standing: Option<ContactStanding>,
    pub attempts: i64,
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The analysis keys of the calls a filter selects, sorted, each list capped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalysisKeys {
    pub data_collection: Vec<String>,
    pub evaluation_criteria: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct CallExportSqlRow {
    #[sqlx(flatten)]
    call: CallRow,
    contact_first_name: Option<String>,
    contact_last_name: Option<String>,
    campaign_name: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ContactExportSqlRow {
    #[sqlx(flatten)]
    contact: ContactRow,
    attempts: i64,
    next_attempt_at: Option<i64>,
    last_outcome: Option<String>,
    state: Option<String>,
    reason: Option<String>,
}

/// SQL around a subquery `k` with one JSON object column `o` (NULL when not an object)
/// that yields its distinct keys, per backend.
fn distinct_keys_sql(backend: Backend, json: &str) -> (String, String) {
    match backend {
        Backend::Sqlite => (
            format!(
                "SELECT DISTINCT j.key FROM (SELECT CASE WHEN json_type({json}) = 'object' \
                 THEN json_extract({json}) END AS o FROM "
            ),
            ") k, json_each(k.o) j ORDER BY 1 LIMIT ".into(),
        ),
        Backend::Postgres => (
            format!(
                "SELECT DISTINCT j.key FROM (SELECT CASE WHEN jsonb_typeof({json}) = 'object' \
                 THEN {json} END AS o FROM "
            ),
            ") k, jsonb_object_keys(k.o) AS j(key) ORDER BY 1 LIMIT ".into(),
        ),
    }
}

impl Store {
    /// Up to `limit` calls matching `filter` with an id below `before_id`, newest first.
    pub async fn export_calls_page(
        &self,
        filter: &CallFilter,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<CallExportRow>> {
        let rows: Vec<CallExportSqlRow> = on_reader!(self, pool => {
            // The page is chosen on `calls` alone (its indexes), then joined for names.
            let mut qb = QueryBuilder::new(format!(
                "SELECT k.*, ct.first_name AS contact_first_name, \
                 ct.last_name AS contact_last_name, cp.name AS campaign_name FROM \
                 (SELECT {CALL_COLUMNS} FROM calls WHERE id < "
            ));
            qb.push_bind(before_id.unwrap_or(i64::MAX));
            push_call_filter!(qb, filter);
            qb.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit.max(1)));
            qb.push(
                ") k LEFT JOIN contacts ct ON ct.id = k.contact_id \
                 LEFT JOIN campaigns cp ON cp.id = k.campaign_id ORDER BY k.id DESC",
            );
            qb.build_query_as().fetch_all(pool).await
        })?;
        rows.into_iter()
            .map(|r| {
                Ok(CallExportRow {
                    call: Call::try_from(r.call)?,
                    contact_name: full_name(r.contact_first_name, r.contact_last_name),
                    campaign_name: r.campaign_name,
                })
            })
            .collect()
    }

    /// The data-collection and evaluation-criteria keys found in the analyses of the
    /// calls `filter` selects: one pass over them in the database, before any row is
    /// written, so the header can name every column.
    pub async fn call_analysis_keys(&self, filter: &CallFilter) -> Result<AnalysisKeys> {
        let mut keys = AnalysisKeys::default();
        for (field, out) in [
            ("data_collection_results", &mut keys.data_collection),
            ("evaluation_criteria_results", &mut keys.evaluation_criteria),
        ] {
            let json = match self.backend() {
                Backend::Sqlite => format!("analysis, '$.{field}'"),
                Backend::Postgres => format!("(analysis::jsonb -> '{field}')"),
            };
            let (head, tail) = distinct_keys_sql(self.backend(), &json);
            let found: Vec<(String,)> = on_reader!(self, pool => {
                let mut qb = QueryBuilder::new(format!(
                    "{head}calls WHERE analysis IS NOT NULL"
                ));
                push_call_filter!(qb, filter);
                qb.push(&tail).push_bind(MAX_KEY_COLUMNS as i64);
                qb.build_query_as().fetch_all(pool).await
            })?;
            *out = found.into_iter().map(|(k,)| k).collect();
        }
        Ok(keys)
    }

    /// The transcripts of `call_ids`, each oldest turn first.
    pub async fn transcripts_of(
        &self,
        call_ids: &[i64],
    ) -> Result<HashMap<i64, Vec<TranscriptTurn>>> {
        let mut out: HashMap<i64, Vec<TranscriptTurn>> = HashMap::new();
        if call_ids.is_empty() {
            return Ok(out);
        }
        let rows: Vec<(i64, String, String, Option<f64>, i64)> = on_reader!(self, pool => {
            let mut qb = QueryBuilder::new(
                "SELECT call_id, role, text, time_in_call_secs, created_at FROM transcript_turns \
                 WHERE call_id IN (",
            );
            let mut sep = qb.separated(", ");
            for id in call_ids {
                sep.push_bind(*id);
            }
            sep.push_unseparated(") ORDER BY call_id, id");
            qb.build_query_as().fetch_all(pool).await
        })?;
        for (call_id, role, text, time_in_call_secs, created_at) in rows {
            // An unknown role would be a corrupt row; an export shows it rather than fail.
            let role = TurnRole::parse(&role).unwrap_or(TurnRole::Agent);
            out.entry(call_id).or_default().push(TranscriptTurn {
                role,
                text,
                time_in_call_secs,
                created_at: from_millis(created_at),
            });
        }
        Ok(out)
    }

    /// Up to `limit` contacts matching `filter` with an id below `before_id`, newest
    /// first, with their campaign progress.
    pub async fn export_contacts_page(
        &self,
        filter: &ContactFilter,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ContactExportRow>> {
        // One campaign's progress when the filter names one, else over all of them (an
        // id is a number, so it is written into the SQL as is).
        let one = filter
            .campaign_id
            .map(|id| format!(" AND cc.campaign_id = {id}"))
            .unwrap_or_default();
        let rows: Vec<ContactExportSqlRow> = on_reader!(self, pool => {
            let mut qb = QueryBuilder::new(format!("SELECT {CONTACT_COLUMNS}, "));
            qb.push(format!(
                "(SELECT CAST(COALESCE(SUM(cc.attempts), 0) AS BIGINT) FROM campaign_contacts cc \
                 WHERE cc.contact_id = c.id{one}) AS attempts, \
                 (SELECT MIN(cc.next_attempt_at) FROM campaign_contacts cc \
                 WHERE cc.contact_id = c.id AND cc.state IN ('pending', 'scheduled'){one}) \
                 AS next_attempt_at, \
                 (SELECT cc.last_outcome FROM campaign_contacts cc \
                 WHERE cc.contact_id = c.id AND cc.last_outcome IS NOT NULL{one} \
                 ORDER BY cc.updated_at DESC LIMIT 1) AS last_outcome, \
                 (SELECT cc.state FROM campaign_contacts cc WHERE cc.contact_id = c.id{one} \
                 ORDER BY cc.updated_at DESC, cc.campaign_id DESC LIMIT 1) AS state, \
                 (SELECT cc.reason FROM campaign_contacts cc WHERE cc.contact_id = c.id{one} \
                 ORDER BY cc.updated_at DESC, cc.campaign_id DESC LIMIT 1) AS reason"
            ));
            qb.push(" FROM contacts c WHERE c.id < ")
                .push_bind(before_id.unwrap_or(i64::MAX));
            push_contact_filter!(qb, filter);
            qb.push(" ORDER BY c.id DESC LIMIT ").push_bind(i64::from(limit.max(1)));
            qb.build_query_as().fetch_all(pool).await
        })?;
        let mut progress = Vec::with_capacity(rows.len());
        let mut contacts = Vec::with_capacity(rows.len());
        for r in rows {
            let standing =
                r.state.as_deref().and_then(ProgressState::parse).map(|s| {
                    ContactStanding::of(s, r.last_outcome.as_deref(), r.reason.as_deref())
                });
            progress.push((r.attempts, r.next_attempt_at, r.last_outcome, standing));
            contacts.push(r.contact);
        }
        let contacts = self.reader().await?.rows_to_contacts(contacts).await?;
        Ok(contacts
            .into_iter()
            .zip(progress)
            .map(
                |(contact, (attempts, next_attempt_at, last_outcome, standing))| ContactExportRow {
                    contact,
                    last_outcome,
                    standing,
                    attempts,
                    next_attempt_at: next_attempt_at.map(from_millis),
                },
            )
            .collect())
    }

    /// The custom-field names of the contacts `filter` selects, sorted, capped at
    /// [`MAX_KEY_COLUMNS`].
    pub async fn contact_custom_field_keys(&self, filter: &ContactFilter) -> Result<Vec<String>> {
        let json = match self.backend() {
            Backend::Sqlite => "c.custom_fields, '$'",
            Backend::Postgres => "c.custom_fields::jsonb",
        };
        let (head, tail) = distinct_keys_sql(self.backend(), json);
        let found: Vec<(String,)> = on_reader!(self, pool => {
            let mut qb = QueryBuilder::new(format!("{head}contacts c WHERE c.custom_fields <> '{{}}'"));
            push_contact_filter!(qb, filter);
            qb.push(&tail).push_bind(MAX_KEY_COLUMNS as i64);
            qb.build_query_as().fetch_all(pool).await
        })?;
        Ok(found.into_iter().map(|(k,)| k).collect())
    }
}
