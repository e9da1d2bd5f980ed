//! Contacts and their tags.
use crate::error::OptionalExt;
use crate::tx::{execute, on_conn, own_reader, own_tx};
use crate::{on_reader, Db, Page, PageRequest, Result, Store, StoreError, Tx};
use parley_domain::consent::ConsentRecord;
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
    pub(crate) fn into_contact(
        self,
        tags: Vec<String>,
        consent: Option<ConsentRecord>,
    ) -> Result<Contact> {
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
            consent,
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
    /// Only contacts enrolled in this campaign.
    pub campaign_id: Option<i64>,
}

/// Appends `filter`'s conditions (each starting with ` AND `) to a query on `contacts c`.
/// A macro, as the query builder's type differs per backend.
macro_rules! push_contact_filter {
    ($qb:ident, $filter:expr) => {{
        let filter: &$crate::ContactFilter = $filter;
        if let Some(tag) = &filter.tag {
            $qb.push(
                " AND EXISTS (SELECT 1 FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id \
                 WHERE ct.contact_id = c.id AND t.name = ",
            )
            .push_bind(tag.to_lowercase())
            .push(")");
        }
        if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            $qb.push(" AND c.search_text LIKE ")
                .push_bind($crate::like_contains(&q.to_lowercase()))
                .push(" ESCAPE '\\'");
        }
        if let Some(from) = filter.created_from {
            $qb.push(" AND c.created_at >= ").push_bind(from);
        }
        if let Some(to) = filter.created_to {
            $qb.push(" AND c.created_at < ").push_bind(to);
        }
        if let Some(campaign) = filter.campaign_id {
            $qb.push(
                " AND EXISTS (SELECT 1 FROM campaign_contacts cc \
                 WHERE cc.contact_id = c.id AND cc.campaign_id = ",
            )
            .push_bind(campaign)
            .push(")");
        }
    }};
}
pub(crate) use push_contact_filter;

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
    /// The names of the fields this update sets (for the audit log: names, not values).
    pub fn field_names(&self) -> Vec<&'static str> {
        [
            ("phone", self.phone.is_some()),
            ("first_name", self.first_name.is_some()),
            ("last_name", self.last_name.is_some()),
            ("email", self.email.is_some()),
            ("company", self.company.is_some()),
            ("timezone", self.timezone.is_some()),
            ("custom_fields", self.custom_fields.is_some()),
            ("tags", self.tags.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }

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

impl Tx {
    /// Makes sure every tag name exists and returns name -> id.
    pub(crate) async fn ensure_tags(&mut self, names: &[String]) -> Result<HashMap<String, i64>> {
        let mut ids = HashMap::new();
        if names.is_empty() {
            return Ok(ids);
        }
        self.point("ensure_tags")?;
        let rows: Vec<(i64, String)> = on_conn!(self, c => {
            let mut qb = QueryBuilder::new("INSERT INTO tags (name) ");
            qb.push_values(names, |mut b, n| {
                b.push_bind(n.clone());
            });
            qb.push(" ON CONFLICT (name) DO NOTHING");
            qb.build().execute(&mut *c).await?;
            let mut qb = QueryBuilder::new("SELECT id, name FROM tags WHERE name IN (");
            let mut sep = qb.separated(", ");
            for n in names {
                sep.push_bind(n.clone());
            }
            sep.push_unseparated(")");
            qb.build_query_as().fetch_all(&mut *c).await
        })?;
        ids.extend(rows.into_iter().map(|(id, name)| (name, id)));
        Ok(ids)
    }

    /// Links contacts to tags (pairs of contact id, tag id); existing links are kept.
    pub(crate) async fn link_tags(&mut self, pairs: &[(i64, i64)]) -> Result<()> {
        if pairs.is_empty() {
            return Ok(());
        }
        self.point("link_tags")?;
        on_conn!(self, c => {
            let mut qb = QueryBuilder::new("INSERT INTO contact_tags (contact_id, tag_id) ");
            qb.push_values(pairs, |mut b, (contact, tag)| {
                b.push_bind(*contact).push_bind(*tag);
            });
            qb.push(" ON CONFLICT DO NOTHING");
            qb.build().execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Replaces a contact's tags with `names`.
    async fn set_tags(&mut self, contact_id: i64, names: &[String]) -> Result<()> {
        execute!(
            self,
            sqlx::query("DELETE FROM contact_tags WHERE contact_id = $1").bind(contact_id)
        )?;
        let tags = self.ensure_tags(names).await?;
        let pairs: Vec<(i64, i64)> = tags.values().map(|t| (contact_id, *t)).collect();
        self.link_tags(&pairs).await
    }
}

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

impl Db {
    /// `NotFound` unless the contact exists.
    pub(crate) async fn require_contact(&mut self, id: i64) -> Result<()> {
        let (exists,): (bool,) = on_conn!(self, c => sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM contacts WHERE id = $1)",
        )
        .bind(id)
        .fetch_one(c)
        .await)?;
        exists.then_some(()).ok_or(StoreError::NotFound)
    }

    pub async fn get_contact(&mut self, id: i64) -> Result<Contact> {
        let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.id = $1");
        let row: ContactRow =
            on_conn!(self, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await)?.found()?;
        let mut tags = self.tags_of(&[id]).await?;
        let mut consent = self.current_consents(&[id]).await?;
        row.into_contact(tags.remove(&id).unwrap_or_default(), consent.remove(&id))
    }

    pub async fn contact_by_phone(&mut self, phone: &Phone) -> Result<Option<Contact>> {
        let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.phone = $1");
        let row: Option<ContactRow> = on_conn!(self, c => sqlx::query_as(&sql)
            .bind(phone.as_str())
            .fetch_optional(c)
            .await)?;
        match row {
            None => Ok(None),
            Some(row) => {
                let mut tags = self.tags_of(&[row.id]).await?;
                let t = tags.remove(&row.id).unwrap_or_default();
                let consent = self.current_consents(&[row.id]).await?.remove(&row.id);
                row.into_contact(t, consent).map(Some)
            }
        }
    }

    /// Tag names of each contact, sorted.
    pub(crate) async fn tags_of(&mut self, ids: &[i64]) -> Result<HashMap<i64, Vec<String>>> {
        let mut out: HashMap<i64, Vec<String>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let rows: Vec<(i64, String)> = on_conn!(self, c => {
            let mut qb = QueryBuilder::new(
                "SELECT ct.contact_id, t.name FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id \
                 WHERE ct.contact_id IN (",
            );
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(*id);
            }
            sep.push_unseparated(") ORDER BY t.name");
            qb.build_query_as().fetch_all(c).await
        })?;
        for (id, name) in rows {
            out.entry(id).or_default().push(name);
        }
        Ok(out)
    }

    pub(crate) async fn rows_to_contacts(&mut self, rows: Vec<ContactRow>) -> Result<Vec<Contact>> {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut tags = self.tags_of(&ids).await?;
        let mut consents = self.current_consents(&ids).await?;
        rows.into_iter()
            .map(|r| {
                let t = tags.remove(&r.id).unwrap_or_default();
                let consent = consents.remove(&r.id);
                r.into_contact(t, consent)
            })
            .collect()
    }
}

own_reader! {
    fn get_contact(id: i64) -> Contact;
    fn contact_by_phone(phone: &Phone) -> Option<Contact>;
}

impl Tx {
    /// Creates a contact; a contact with the same phone is a conflict.
    pub async fn create_contact(&mut self, contact: &NewContact) -> Result<Contact> {
        self.point("create_contact")?;
        let (id,): (i64,) = on_conn!(self, c => sqlx::query_as(
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
        .bind(now_millis())
        .fetch_one(c)
        .await)
        .map_err(|e| StoreError::unique(e, "a contact with this phone number already exists"))?;
        let tags = self.ensure_tags(&contact.fields.tags).await?;
        let pairs: Vec<(i64, i64)> = tags.values().map(|t| (id, *t)).collect();
        self.link_tags(&pairs).await?;
        self.get_contact(id).await
    }

    /// Applies a partial update; changing the phone to one another contact has conflicts.
    pub async fn update_contact(&mut self, id: i64, update: ContactUpdate) -> Result<Contact> {
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
        self.point("update_contact")?;
        let updated = on_conn!(self, c => sqlx::query(
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
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
        .map_err(|e| StoreError::unique(e, "another contact has this phone number"))?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        if tags_changed {
            self.set_tags(id, &fields.tags).await?;
        }
        self.get_contact(id).await
    }

    /// Deletes a contact and its campaign progress rows (adjusting campaign counters).
    /// Calls keep their history with the contact link cleared.
    pub async fn delete_contact(&mut self, id: i64) -> Result<()> {
        self.point("delete_contact")?;
        // Keep campaign counters exact: the cascade would drop progress rows silently.
        let groups: Vec<(i64, String, i64)> = on_conn!(self, c => sqlx::query_as(
            "SELECT campaign_id, state, COUNT(*) FROM campaign_contacts WHERE contact_id = $1 \
             GROUP BY campaign_id, state",
        )
        .bind(id)
        .fetch_all(c)
        .await)?;
        self.lower_progress(&groups).await?;
        execute!(
            self,
            sqlx::query("DELETE FROM campaign_contacts WHERE contact_id = $1").bind(id)
        )?;
        if execute!(
            self,
            sqlx::query("DELETE FROM contacts WHERE id = $1").bind(id)
        )? == 0
        {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

own_tx! {
    fn create_contact(contact: &NewContact) -> Contact;
    fn update_contact(id: i64, update: ContactUpdate) -> Contact;
    fn delete_contact(id: i64) -> ();
}

impl Store {
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
            push_contact_filter!(qb, filter);
            qb.push(" ORDER BY c.id DESC LIMIT ").push_bind(page.fetch_limit());
            qb.build_query_as().fetch_all(pool).await
        })?;
        let page = Page::from_rows(rows, &page, |r| r.id);
        let items = self.reader().await?.rows_to_contacts(page.items).await?;
        Ok(Page {
            items,
            next_before_id: page.next_before_id,
        })
    }

    /// The names (first and last) of the contacts among `ids` that have one, for lists
    /// that show calls by whom they were to.
    pub async fn contact_names(&self, ids: &[i64]) -> Result<HashMap<i64, String>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(i64, Option<String>, Option<String>)> = on_reader!(self, pool => {
            let mut qb =
                QueryBuilder::new("SELECT id, first_name, last_name FROM contacts WHERE id IN (");
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(*id);
            }
            sep.push_unseparated(")");
            qb.build_query_as().fetch_all(pool).await
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, first, last)| Some((id, full_name(first, last)?)))
            .collect())
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

/// A contact's first and last name as one, or none when it has neither.
pub(crate) fn full_name(first: Option<String>, last: Option<String>) -> Option<String> {
    let name = [first, last].into_iter().flatten().collect::<Vec<_>>();
    (!name.is_empty()).then(|| name.join(" "))
}
