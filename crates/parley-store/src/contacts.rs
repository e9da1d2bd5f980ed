//! Contacts and their tags.
use crate::error::OptionalExt;
use crate::tx::on_conn;
use crate::{
    like_contains, on_reader, on_writer, Db, Page, PageRequest, Result, Store, StoreError,
};
use parley_domain::contact::{Contact, ContactFields, CustomFields, NewContact};
use parley_domain::time::{from_millis, now_millis};
use parley_domain::Phone;
use sqlx::QueryBuilder;
use std::collections::HashMap;

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ContactRow {
    pub id: i64,
    pub phone: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub timezone: Option<String>,
    pub custom_fields: String,
    pub do_not_call: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Columns of a `ContactRow` selected from `contacts c`.
pub(crate) const CONTACT_COLUMNS: &str = "c.id, c.phone, c.first_name, c.last_name, c.email, \
     c.company, c.timezone, c.custom_fields, c.created_at, c.updated_at, \
     EXISTS (SELECT 1 FROM dnc_entries d WHERE d.phone = c.phone AND d.campaign_id IS NULL) \
     AS do_not_call";

impl ContactRow {
    pub(crate) fn into_contact(self, tags: Vec<String>) -> Result<Contact> {
        let custom_fields: CustomFields = serde_json::from_str(&self.custom_fields)
            .map_err(|e| StoreError::Corrupt(format!("contact {} custom fields: {e}", self.id)))?;
        Ok(Contact {
            id: self.id,
            phone: self.phone,
            first_name: self.first_name,
            last_name: self.last_name,
            email: self.email,
            company: self.company,
            timezone: self.timezone,
            custom_fields,
            tags,
            do_not_call: self.do_not_call,
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
        })
    }
}

/// The lowercase text that contact search matches against.
pub(crate) fn search_text(phone: &str, f: &ContactFields) -> String {
    [
        f.first_name.as_deref(),
        f.last_name.as_deref(),
        Some(phone),
        f.email.as_deref(),
        f.company.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ")
    .to_lowercase()
}

pub(crate) fn custom_fields_json(f: &ContactFields) -> String {
    serde_json::to_string(&f.custom_fields).unwrap_or_else(|_| "{}".into())
}

#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    pub tag: Option<String>,
    /// Case-insensitive text contained in name, phone, email or company.
    pub q: Option<String>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
}

/// A partial update: `None` leaves a field as it is; `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ContactUpdate {
    pub phone: Option<Phone>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub company: Option<Option<String>>,
    pub timezone: Option<Option<String>>,
    pub custom_fields: Option<CustomFields>,
    pub tags: Option<Vec<String>>,
}

impl ContactUpdate {
    fn apply_to(self, phone: &mut String, f: &mut ContactFields) {
        if let Some(p) = self.phone {
            *phone = p.to_string();
        }
        for (dst, src) in [
            (&mut f.first_name, self.first_name),
            (&mut f.last_name, self.last_name),
            (&mut f.email, self.email),
            (&mut f.company, self.company),
            (&mut f.timezone, self.timezone),
        ] {
            if let Some(v) = src {
                *dst = v;
            }
        }
        if let Some(c) = self.custom_fields {
            f.custom_fields = c;
        }
        if let Some(t) = self.tags {
            f.tags = t;
        }
    }
}

/// Makes sure every tag name exists and returns name -> id. Runs on a transaction.
macro_rules! ensure_tags {
    ($tx:expr, $names:expr) => {{
        let names: &[String] = $names;
        let mut ids: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
        if !names.is_empty() {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO tags (name) ");
            qb.push_values(names, |mut b, n| {
                b.push_bind(n.clone());
            });
            qb.push(" ON CONFLICT (name) DO NOTHING");
            qb.build().execute(&mut *$tx).await?;
            let mut qb = sqlx::QueryBuilder::new("SELECT id, name FROM tags WHERE name IN (");
            let mut sep = qb.separated(", ");
            for n in names {
                sep.push_bind(n.clone());
            }
            sep.push_unseparated(")");
            let rows: Vec<(i64, String)> = qb.build_query_as().fetch_all(&mut *$tx).await?;
            ids.extend(rows.into_iter().map(|(id, name)| (name, id)));
        }
        ids
    }};
}
pub(crate) use ensure_tags;

/// Links contacts to tags (pairs of contact id, tag id); existing links are kept.
macro_rules! link_tags {
    ($tx:expr, $pairs:expr) => {{
        let pairs: &[(i64, i64)] = $pairs;
        if !pairs.is_empty() {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO contact_tags (contact_id, tag_id) ");
            qb.push_values(pairs, |mut b, (c, t)| {
                b.push_bind(*c).push_bind(*t);
            });
            qb.push(" ON CONFLICT DO NOTHING");
            qb.build().execute(&mut *$tx).await?;
        }
    }};
}
pub(crate) use link_tags;

impl Db {
    /// A contact's own time zone, if it has one (none for an unknown contact).
    pub async fn contact_timezone(&mut self, id: i64) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> = on_conn!(self, c => sqlx::query_as(
            "SELECT timezone FROM contacts WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(c)
        .await)?;
        Ok(row.and_then(|(tz,)| tz))
    }
}

impl Store {
    /// Creates a contact; a contact with the same phone is a conflict.
    pub async fn create_contact(&self, contact: &NewContact) -> Result<Contact> {
        let now = now_millis();
        let id = on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO contacts (phone, first_name, last_name, email, company, timezone, \
                 custom_fields, search_text, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
            )
            .bind(contact.phone.as_str())
            .bind(&contact.fields.first_name)
            .bind(&contact.fields.last_name)
            .bind(&contact.fields.email)
            .bind(&contact.fields.company)
            .bind(&contact.fields.timezone)
            .bind(custom_fields_json(&contact.fields))
            .bind(search_text(contact.phone.as_str(), &contact.fields))
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::unique(e, "a contact with this phone number already exists"))?;
            let tags = ensure_tags!(tx, &contact.fields.tags);
            let pairs: Vec<(i64, i64)> = tags.values().map(|t| (id, *t)).collect();
            link_tags!(tx, &pairs);
            tx.commit().await?;
            Ok::<_, StoreError>(id)
        })?;
        self.get_contact(id).await
    }

    pub async fn get_contact(&self, id: i64) -> Result<Contact> {
        let row: ContactRow = on_reader!(self, pool => sqlx::query_as(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await)?
        .found()?;
        let mut tags = self.tags_of(&[id]).await?;
        row.into_contact(tags.remove(&id).unwrap_or_default())
    }

    pub async fn contact_by_phone(&self, phone: &Phone) -> Result<Option<Contact>> {
        let row: Option<ContactRow> = on_reader!(self, pool => sqlx::query_as(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.phone = $1"
        ))
        .bind(phone.as_str())
        .fetch_optional(pool)
        .await)?;
        match row {
            None => Ok(None),
            Some(row) => {
                let mut tags = self.tags_of(&[row.id]).await?;
                let t = tags.remove(&row.id).unwrap_or_default();
                row.into_contact(t).map(Some)
            }
        }
    }

    /// Tag names of each contact, sorted.
    pub(crate) async fn tags_of(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<String>>> {
        let mut out: HashMap<i64, Vec<String>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let rows: Vec<(i64, String)> = on_reader!(self, pool => {
            let mut qb = QueryBuilder::new(
                "SELECT ct.contact_id, t.name FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id \
                 WHERE ct.contact_id IN (",
            );
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(*id);
            }
            sep.push_unseparated(") ORDER BY t.name");
            qb.build_query_as().fetch_all(pool).await
        })?;
        for (id, name) in rows {
            out.entry(id).or_default().push(name);
        }
        Ok(out)
    }

    pub(crate) async fn rows_to_contacts(&self, rows: Vec<ContactRow>) -> Result<Vec<Contact>> {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut tags = self.tags_of(&ids).await?;
        rows.into_iter()
            .map(|r| {
                let t = tags.remove(&r.id).unwrap_or_default();
                r.into_contact(t)
            })
            .collect()
    }

    /// Applies a partial update; changing the phone to one another contact has conflicts.
    pub async fn update_contact(&self, id: i64, update: ContactUpdate) -> Result<Contact> {
        let current = self.get_contact(id).await?;
        let mut phone = current.phone.clone();
        let mut fields = ContactFields {
            first_name: current.first_name,
            last_name: current.last_name,
            email: current.email,
            company: current.company,
            timezone: current.timezone,
            custom_fields: current.custom_fields,
            tags: current.tags,
        };
        let tags_changed = update.tags.is_some();
        update.apply_to(&mut phone, &mut fields);
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE contacts SET phone = $2, first_name = $3, last_name = $4, email = $5, \
                 company = $6, timezone = $7, custom_fields = $8, search_text = $9, updated_at = $10 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(&phone)
            .bind(&fields.first_name)
            .bind(&fields.last_name)
            .bind(&fields.email)
            .bind(&fields.company)
            .bind(&fields.timezone)
            .bind(custom_fields_json(&fields))
            .bind(search_text(&phone, &fields))
            .bind(now_millis())
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::unique(e, "another contact has this phone number"))?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            if tags_changed {
                sqlx::query("DELETE FROM contact_tags WHERE contact_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let tags = ensure_tags!(tx, &fields.tags);
                let pairs: Vec<(i64, i64)> = tags.values().map(|t| (id, *t)).collect();
                link_tags!(tx, &pairs);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.get_contact(id).await
    }

    /// Deletes a contact and its campaign progress rows (adjusting campaign counters).
    /// Calls keep their history with the contact link cleared.
    pub async fn delete_contact(&self, id: i64) -> Result<()> {
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            // Keep campaign counters exact: the cascade would drop progress rows silently.
            let groups: Vec<(i64, String, i64)> = sqlx::query_as(
                "SELECT campaign_id, state, COUNT(*) FROM campaign_contacts WHERE contact_id = $1 \
                 GROUP BY campaign_id, state",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            crate::campaigns::lower_progress!(tx, &groups);
            sqlx::query("DELETE FROM campaign_contacts WHERE contact_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let done = sqlx::query("DELETE FROM contacts WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    pub async fn list_contacts(
        &self,
        filter: &ContactFilter,
        page: PageRequest,
    ) -> Result<Page<Contact>> {
        let rows: Vec<ContactRow> = on_reader!(self, pool => {
            let mut qb = QueryBuilder::new(format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.id < "
            ));
            qb.push_bind(page.cursor_id());
            if let Some(tag) = &filter.tag {
                qb.push(
                    " AND EXISTS (SELECT 1 FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id \
                     WHERE ct.contact_id = c.id AND t.name = ",
                )
                .push_bind(tag.to_lowercase())
                .push(")");
            }
            if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                qb.push(" AND c.search_text LIKE ")
                    .push_bind(like_contains(&q.to_lowercase()))
                    .push(" ESCAPE '\\'");
            }
            if let Some(from) = filter.created_from {
                qb.push(" AND c.created_at >= ").push_bind(from);
            }
            if let Some(to) = filter.created_to {
                qb.push(" AND c.created_at < ").push_bind(to);
            }
            qb.push(" ORDER BY c.id DESC LIMIT ").push_bind(page.fetch_limit());
            qb.build_query_as().fetch_all(pool).await
        })?;
        let page = Page::from_rows(rows, &page, |r| r.id);
        let items = self.rows_to_contacts(page.items).await?;
        Ok(Page {
            items,
            next_before_id: page.next_before_id,
        })
    }

    /// All tag names with how many contacts carry each.
    pub async fn list_tags(&self) -> Result<Vec<(String, i64)>> {
        let rows: Vec<(String, i64)> = on_reader!(self, pool => sqlx::query_as(
            "SELECT t.name, COUNT(ct.contact_id) FROM tags t \
             LEFT JOIN contact_tags ct ON ct.tag_id = t.id GROUP BY t.id, t.name ORDER BY t.name",
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }
}
