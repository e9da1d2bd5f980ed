//! The PostgreSQL side of an import batch, its bulk path. The contacts the batch names
//! that exist are read (and locked) first; the others are copied (`COPY ... FROM STDIN`)
//! straight into `contacts` with ids reserved for them, and the tag links of the contacts
//! the batch creates straight into `contact_tags` (none can exist yet). When another
//! transaction inserted one of those phones meanwhile (the batch before, written at the
//! same time, or a contact created by hand), the copy fails on the phone's unique index
//! and is undone to a savepoint; the batch then takes the staged path: a copy into a
//! staging table merged with `INSERT ... ON CONFLICT DO NOTHING`. The batch stays one
//! transaction with its report lines and counters (see `imports`), and the merge is the
//! same as SQLite's: contacts that existed are read and merged row by row in Rust.
//!
//! `contact_tags` has no per-row foreign keys on PostgreSQL (migration 0018): PostgreSQL
//! checks a foreign key with a trigger per inserted row (a lookup and a row lock on the
//! referenced row each), which took two thirds of a million-row import. The same rules
//! are kept by triggers that run once per statement, over all of its rows.
use crate::contacts::{custom_fields_json, search_text};
use crate::import_merge::{ExistingRow, Found, Merged, Write};
use crate::tx::Conn;
use crate::{Db, Result, StoreError};
use sqlx::{Executor as _, PgConnection};
use std::collections::HashMap;
use std::io::Write as _;

/// Set first in every batch. The batch's commit does not wait for its WAL to reach the
/// disk (a tenth of a batch's time). That can only lose, in a crash of the database
/// server, the last batches committed within a fraction of a second, and only together
/// with the import counters and report lines they advanced (the same transactions); the
/// import then fails as any import cut off does. Nothing that acted on them can outlive
/// them: any later commit that waits for its WAL (the import's finish before its answer
/// is sent, a call placed to an imported contact) first writes out all the WAL before
/// it, theirs included.
const BATCH_SETTINGS: &str =
    "SET LOCAL client_min_messages = warning; SET LOCAL synchronous_commit = off";

/// Ids for the contacts a batch copies in, in file order (a session's `nextval`s rise).
/// The sequence is looked up once (`MATERIALIZED`): looked up per row, it took 13 ms of
/// a 5,000-row batch instead of 2.
const RESERVE_IDS: &str = "WITH s AS MATERIALIZED \
     (SELECT pg_get_serial_sequence('contacts', 'id')::regclass AS seq) \
     SELECT nextval(s.seq) FROM s, generate_series(1, $1)";

const COPY_CONTACTS: &str = "COPY contacts (id, phone, first_name, last_name, email, company, \
     timezone, custom_fields, search_text, import_id, import_line, created_at, updated_at) \
     FROM STDIN";

/// The staging table of the staged path: one per session, emptied by each commit (and
/// by a rollback, as anything the transaction wrote). Made on first use; `IF NOT EXISTS`
/// would otherwise send a notice every time.
const STAGE: &str = "CREATE TEMP TABLE IF NOT EXISTS import_stage (ord INT NOT NULL, \
     phone TEXT NOT NULL, first_name TEXT, last_name TEXT, email TEXT, company TEXT, \
     timezone TEXT, custom_fields TEXT NOT NULL, search_text TEXT NOT NULL, \
     line BIGINT NOT NULL) ON COMMIT DELETE ROWS";

const COPY_STAGE: &str = "COPY import_stage (ord, phone, first_name, last_name, email, company, \
     timezone, custom_fields, search_text, line) FROM STDIN";

/// The staged contacts whose phone is new, in line order (so ids follow the file);
/// those that exist are left to the merge.
const INSERT_NEW: &str = "INSERT INTO contacts (phone, first_name, last_name, email, company, \
     timezone, custom_fields, search_text, import_id, import_line, created_at, updated_at) \
     SELECT phone, first_name, last_name, email, company, timezone, custom_fields, search_text, \
     $1, line, $2, $2 FROM import_stage ORDER BY ord \
     ON CONFLICT (phone) DO NOTHING RETURNING id, phone";

/// [`INSERT_NEW`] for some of the staged phones only.
const INSERT_NEW_OF: &str = "INSERT INTO contacts (phone, first_name, last_name, email, \
     company, timezone, custom_fields, search_text, import_id, import_line, created_at, \
     updated_at) \
     SELECT phone, first_name, last_name, email, company, timezone, custom_fields, search_text, \
     $1, line, $2, $2 FROM import_stage WHERE phone = ANY($3) ORDER BY ord \
     ON CONFLICT (phone) DO NOTHING RETURNING id, phone";

/// The contacts that exist, locked until the batch commits, for the merge.
const EXISTING: &str = "SELECT phone, first_name, last_name, email, company, timezone, \
     custom_fields, import_id, import_line FROM contacts WHERE phone = ANY($1) FOR UPDATE";

/// The merged fields of contacts that existed.
const UPDATE_EXISTING: &str = "UPDATE contacts c SET first_name = u.first_name, \
     last_name = u.last_name, email = u.email, company = u.company, timezone = u.timezone, \
     custom_fields = u.custom_fields, search_text = u.search_text, import_id = $1, \
     import_line = u.line, updated_at = $2 \
     FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], \
     $9::text[], $10::text[], $11::int8[]) \
     AS u(phone, first_name, last_name, email, company, timezone, custom_fields, search_text, line) \
     WHERE c.phone = u.phone RETURNING c.id, c.phone";

impl Db {
    /// The session's PostgreSQL connection (none on SQLite).
    pub(crate) fn pg(&mut self) -> Option<&mut PgConnection> {
        match self.conn() {
            Conn::Postgres(c) => Some(c),
            Conn::Sqlite(_) => None,
        }
    }
}

/// Writes a batch's merged rows into contacts: new phones are copied in, existing
/// contacts are merged. Returns the writes and each phone's contact id.
pub(crate) async fn write_contacts<'m>(
    c: &mut PgConnection,
    merged: &'m [Merged],
    now: i64,
    found: &mut Found<'_>,
) -> Result<(Vec<Write<'m>>, HashMap<String, i64>)> {
    if merged.is_empty() {
        return Ok((Vec::new(), HashMap::new()));
    }
    // Two statements: the simple protocol (an unprepared &str).
    (&mut *c).execute(BATCH_SETTINGS).await?;
    let import_id = found.import_id;
    let phones: Vec<&str> = merged.iter().map(|m| m.phone.as_str()).collect();
    let mut existing = lock_existing(c, &phones).await?;
    let new: Vec<&Merged> = merged
        .iter()
        .filter(|m| !existing.contains_key(&m.phone))
        .collect();
    let mut ids = match copy_new(c, &new, import_id, now).await? {
        Copied::In(ids) => ids,
        Copied::Raced => {
            let (ids, locked) = insert_staged(c, merged, import_id, now).await?;
            existing = locked;
            ids
        }
    };

    let mut writes = Vec::with_capacity(merged.len());
    for m in merged {
        writes.push(match existing.remove(&m.phone) {
            Some(old) => found.existing(m, old)?,
            None => found.created(m),
        });
    }
    update_existing(c, &writes, import_id, now, &mut ids).await?;
    Ok((writes, ids))
}

/// The contacts of these phones that exist, locked until the batch commits.
async fn lock_existing(
    c: &mut PgConnection,
    phones: &[&str],
) -> Result<HashMap<String, ExistingRow>> {
    if phones.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<ExistingRow> = sqlx::query_as(EXISTING)
        .bind(phones)
        .fetch_all(&mut *c)
        .await?;
    Ok(rows.into_iter().map(|r| (r.phone.clone(), r)).collect())
}

/// What became of a batch's copy of its new contacts.
enum Copied {
    /// Every one was copied in; each phone's new contact id.
    In(HashMap<String, i64>),
    /// Another transaction inserted one of their phones since they were looked up: the
    /// copy was undone, and nothing else of the batch with it.
    Raced,
}

/// Copies the batch's new contacts into `contacts` under ids reserved for them.
async fn copy_new(
    c: &mut PgConnection,
    new: &[&Merged],
    import_id: i64,
    now: i64,
) -> Result<Copied> {
    if new.is_empty() {
        return Ok(Copied::In(HashMap::new()));
    }
    let mut reserved: Vec<i64> = sqlx::query_scalar(RESERVE_IDS)
        .bind(new.len() as i64)
        .fetch_all(&mut *c)
        .await?;
    reserved.sort_unstable();
    let mut data = Vec::with_capacity(new.len() * 200);
    for (m, id) in new.iter().zip(&reserved) {
        copy_contact(&mut data, *id, m);
        let _ = writeln!(data, "\t{import_id}\t{}\t{now}\t{now}", m.line);
    }
    (&mut *c).execute("SAVEPOINT import_copy").await?;
    match copy_in(c, COPY_CONTACTS, data).await {
        Ok(_) => {
            (&mut *c).execute("RELEASE SAVEPOINT import_copy").await?;
            let phones = new.iter().map(|m| m.phone.clone());
            Ok(Copied::In(phones.zip(reserved).collect()))
        }
        Err(StoreError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
            (&mut *c)
                .execute("ROLLBACK TO SAVEPOINT import_copy")
                .await?;
            Ok(Copied::Raced)
        }
        Err(e) => Err(e),
    }
}

/// The staged path, for a batch whose new phones another transaction also inserted:
/// the batch's contacts whose phone is new are inserted from a staging table (skipping
/// those that exist by now), and then those that exist are locked. Returns the ids of
/// the contacts inserted and the contacts that exist.
async fn insert_staged(
    c: &mut PgConnection,
    merged: &[Merged],
    import_id: i64,
    now: i64,
) -> Result<(HashMap<String, i64>, HashMap<String, ExistingRow>)> {
    (&mut *c).execute(STAGE).await?;
    let mut data = Vec::with_capacity(merged.len() * 200);
    for (ord, m) in merged.iter().enumerate() {
        copy_contact(&mut data, ord as i64, m);
        let _ = writeln!(data, "\t{}", m.line);
    }
    copy_in(c, COPY_STAGE, data).await?;

    let created: Vec<(i64, String)> = sqlx::query_as(INSERT_NEW)
        .bind(import_id)
        .bind(now)
        .fetch_all(&mut *c)
        .await?;
    let mut ids: HashMap<String, i64> = created.into_iter().map(|(id, p)| (p, id)).collect();
    let left: Vec<&str> = merged
        .iter()
        .map(|m| m.phone.as_str())
        .filter(|p| !ids.contains_key(*p))
        .collect();
    let existing = lock_existing(c, &left).await?;
    // A contact deleted by another transaction between the insert and the lock is new
    // after all.
    let gone: Vec<&str> = left
        .into_iter()
        .filter(|p| !existing.contains_key(*p))
        .collect();
    if !gone.is_empty() {
        let again: Vec<(i64, String)> = sqlx::query_as(INSERT_NEW_OF)
            .bind(import_id)
            .bind(now)
            .bind(&gone)
            .fetch_all(&mut *c)
            .await?;
        if again.len() != gone.len() {
            return Err(StoreError::Conflict(
                "contacts of this batch were changed by another writer while it was written; \
                 import the file again"
                    .into(),
            ));
        }
        ids.extend(again.into_iter().map(|(id, phone)| (phone, id)));
    }
    Ok((ids, existing))
}

/// A contact's copy line up to its stored text: `lead` (its id, or its place in the
/// batch when staged), then its phone, fields, custom fields and search text, each
/// after a tab. The caller ends the line.
fn copy_contact(data: &mut Vec<u8>, lead: i64, m: &Merged) {
    let f = &m.fields;
    let _ = write!(data, "{lead}");
    for value in [
        Some(m.phone.as_str()),
        f.first_name.as_deref(),
        f.last_name.as_deref(),
        f.email.as_deref(),
        f.company.as_deref(),
        f.timezone.as_deref(),
        Some(custom_fields_json(f).as_str()),
        Some(search_text(&m.phone, f).as_str()),
    ] {
        data.push(b'\t');
        copy_field(data, value);
    }
}

/// Writes the merged fields of the contacts that existed, in one statement.
async fn update_existing(
    c: &mut PgConnection,
    writes: &[Write<'_>],
    import_id: i64,
    now: i64,
    ids: &mut HashMap<String, i64>,
) -> Result<()> {
    let Some(columns) = Columns::of_merged(writes) else {
        return Ok(());
    };
    let rows: Vec<(i64, String)> = sqlx::query_as(UPDATE_EXISTING)
        .bind(import_id)
        .bind(now)
        .bind(columns.phone)
        .bind(columns.first_name)
        .bind(columns.last_name)
        .bind(columns.email)
        .bind(columns.company)
        .bind(columns.timezone)
        .bind(columns.custom_fields)
        .bind(columns.search_text)
        .bind(columns.line)
        .fetch_all(&mut *c)
        .await?;
    ids.extend(rows.into_iter().map(|(id, phone)| (phone, id)));
    Ok(())
}

/// The contacts that existed, a column each, to bind as arrays.
#[derive(Default)]
struct Columns {
    phone: Vec<String>,
    first_name: Vec<Option<String>>,
    last_name: Vec<Option<String>>,
    email: Vec<Option<String>>,
    company: Vec<Option<String>>,
    timezone: Vec<Option<String>>,
    custom_fields: Vec<String>,
    search_text: Vec<String>,
    line: Vec<i64>,
}

impl Columns {
    /// None when every contact of the batch is new.
    fn of_merged(writes: &[Write<'_>]) -> Option<Columns> {
        let mut out = Columns::default();
        for w in writes.iter().filter(|w| !w.is_new()) {
            let f = w.fields();
            out.phone.push(w.m.phone.clone());
            out.first_name.push(f.first_name.clone());
            out.last_name.push(f.last_name.clone());
            out.email.push(f.email.clone());
            out.company.push(f.company.clone());
            out.timezone.push(f.timezone.clone());
            out.custom_fields.push(custom_fields_json(f));
            out.search_text.push(search_text(&w.m.phone, f));
            out.line.push(w.line);
        }
        (!out.phone.is_empty()).then_some(out)
    }
}

/// Copies links of contacts this transaction created (so none of them exists yet).
pub(crate) async fn copy_links(c: &mut PgConnection, pairs: &[(i64, i64)]) -> Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let mut data = Vec::with_capacity(pairs.len() * 16);
    for (contact, tag) in pairs {
        let _ = writeln!(data, "{contact}\t{tag}");
    }
    copy_in(c, "COPY contact_tags (contact_id, tag_id) FROM STDIN", data).await?;
    Ok(())
}

/// Links contacts to tags in one statement; links that exist are kept.
pub(crate) async fn insert_links(c: &mut PgConnection, pairs: &[(i64, i64)]) -> Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let (contacts, tags): (Vec<i64>, Vec<i64>) = pairs.iter().copied().unzip();
    sqlx::query(
        "INSERT INTO contact_tags (contact_id, tag_id) \
         SELECT * FROM UNNEST($1::int8[], $2::int8[]) ON CONFLICT DO NOTHING",
    )
    .bind(&contacts)
    .bind(&tags)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Runs a `COPY ... FROM STDIN` with `data` (text format), in one message.
async fn copy_in(c: &mut PgConnection, statement: &str, data: Vec<u8>) -> Result<u64> {
    let mut copy = c.copy_in_raw(statement).await?;
    // Dropped on an error, the copy tells the server it failed.
    copy.send(data).await?;
    Ok(copy.finish().await?)
}

/// A value in COPY's text format: `\N` for none; backslash, tab, newline and carriage
/// return escaped (so no value can end the data or shift a column).
fn copy_field(out: &mut Vec<u8>, value: Option<&str>) {
    let Some(value) = value else {
        out.extend_from_slice(b"\\N");
        return;
    };
    if !value
        .bytes()
        .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
    {
        out.extend_from_slice(value.as_bytes());
        return;
    }
    for b in value.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::copy_field;

    fn field(value: Option<&str>) -> String {
        let mut out = Vec::new();
        copy_field(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn copy_fields_escape_what_would_end_or_shift_them() {
        assert_eq!(field(None), "\\N");
        assert_eq!(field(Some("\\N")), "\\\\N");
        assert_eq!(field(Some("a\tb\nc\rd\\e")), "a\\tb\\nc\\rd\\\\e");
        assert_eq!(field(Some("\\.")), "\\\\.");
        assert_eq!(field(Some("Zoë \"x\", 日本")), "Zoë \"x\", 日本");
    }
}
