//! Do-not-call lists: one global list and one per campaign.
use crate::tx::{execute, on_conn, own_tx};
use crate::{on_reader, Page, PageRequest, Result, Store, StoreError, Tx};
use parley_domain::consent::{ConsentSource, ConsentSourceKind};
use parley_domain::time::{from_millis, now_millis};
use parley_domain::webhook::EventType;
use parley_domain::Phone;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct DncEntry {
    pub id: i64,
    pub phone: String,
    /// `None` for the global list.
    pub campaign_id: Option<i64>,
    pub reason: Option<String>,
    /// Who put the number there: `api`, `import`, `opt_out`, ...
    pub source: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Whether a number may be called, globally and for one campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DncCheck {
    pub global: bool,
    pub campaign: bool,
}

impl DncCheck {
    pub fn blocked(&self) -> bool {
        self.global || self.campaign
    }
}

type DncRow = (i64, String, Option<i64>, Option<String>, String, i64);

fn entry((id, phone, campaign_id, reason, source, created_at): DncRow) -> DncEntry {
    DncEntry {
        id,
        phone,
        campaign_id,
        reason,
        source,
        created_at: from_millis(created_at),
    }
}

const DNC_COLUMNS: &str = "id, phone, campaign_id, reason, source, created_at";

/// The `source` of entries the callee asked for; only these are `contact.opted_out` events.
pub const OPT_OUT_SOURCE: &str = "opt_out";

impl Tx {
    /// Puts a number on a list; adding it again keeps the first entry. Returns the entry.
    /// An opt-out that is new also queues `contact.opted_out`.
    pub async fn add_dnc(
        &mut self,
        phone: &Phone,
        campaign_id: Option<i64>,
        reason: Option<&str>,
        source: &str,
    ) -> Result<DncEntry> {
        self.point("add_dnc")?;
        // `opted_out`: Some(the contact with this number, if any) when this is a new opt-out.
        let (row, opted_out): (DncRow, Option<Option<i64>>) = on_conn!(self, c => {
            let added = sqlx::query(
                "INSERT INTO dnc_entries (phone, campaign_id, reason, source, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(phone.as_str())
            .bind(campaign_id)
            .bind(reason)
            .bind(source)
            .bind(now_millis())
            .execute(&mut *c)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
                _ => StoreError::Database(e),
            })?
            .rows_affected();
            let row: DncRow = sqlx::query_as(&format!(
                "SELECT {DNC_COLUMNS} FROM dnc_entries WHERE phone = $1 \
                 AND (campaign_id = $2 OR ($2 IS NULL AND campaign_id IS NULL))"
            ))
            .bind(phone.as_str())
            .bind(campaign_id)
            .fetch_one(&mut *c)
            .await?;
            let opted_out = if added == 1 && source == OPT_OUT_SOURCE {
                let contact: Option<(i64,)> = sqlx::query_as("SELECT id FROM contacts WHERE phone = $1")
                    .bind(phone.as_str())
                    .fetch_optional(&mut *c)
                    .await?;
                Some(contact.map(|(id,)| id))
            } else {
                None
            };
            (row, opted_out)
        });
        // A number on the global list (an opt-out, or put there by hand or by an import)
        // revokes its contact's consent, in this transaction. A campaign's own list only
        // keeps that campaign from calling.
        if campaign_id.is_none() {
            let source = if source == OPT_OUT_SOURCE {
                ConsentSource::new(
                    ConsentSourceKind::OptOut,
                    "asked on a call not to be called",
                )
            } else {
                ConsentSource::new(
                    ConsentSourceKind::DoNotCall,
                    format!("put on the do-not-call list ({source})"),
                )
            };
            self.revoke_consent_of_phone(phone.as_str(), source, reason)
                .await?;
        }
        if let Some(contact_id) = opted_out {
            self.outbox(
                EventType::ContactOptedOut,
                serde_json::json!({
                    "phone": phone.as_str(),
                    "contact_id": contact_id,
                    "campaign_id": campaign_id,
                    "reason": reason,
                }),
            )
            .await?;
        }
        Ok(entry(row))
    }
}

own_tx! {
    fn add_dnc(phone: &Phone, campaign_id: Option<i64>, reason: Option<&str>, source: &str) -> DncEntry;
}

impl Tx {
    /// Takes a number off a list; returns whether it was there.
    pub async fn remove_dnc(&mut self, phone: &Phone, campaign_id: Option<i64>) -> Result<bool> {
        self.point("remove_dnc")?;
        let affected = execute!(
            self,
            sqlx::query(
                "DELETE FROM dnc_entries WHERE phone = $1 \
             AND (campaign_id = $2 OR ($2 IS NULL AND campaign_id IS NULL))",
            )
            .bind(phone.as_str())
            .bind(campaign_id)
        )?;
        Ok(affected > 0)
    }
}

own_tx! {
    fn remove_dnc(phone: &Phone, campaign_id: Option<i64>) -> bool;
}

impl Store {
    /// Lists one list: the global one (`campaign_id` None) or a campaign's.
    pub async fn list_dnc(
        &self,
        campaign_id: Option<i64>,
        page: PageRequest,
    ) -> Result<Page<DncEntry>> {
        let rows: Vec<DncRow> = on_reader!(self, pool => sqlx::query_as(&format!(
            "SELECT {DNC_COLUMNS} FROM dnc_entries \
             WHERE (campaign_id = $1 OR ($1 IS NULL AND campaign_id IS NULL)) AND id < $2 \
             ORDER BY id DESC LIMIT $3"
        ))
        .bind(campaign_id)
        .bind(page.cursor_id())
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await)?;
        Ok(Page::from_rows(rows, &page, |r| r.0).map(entry))
    }

    pub async fn check_dnc(&self, phone: &Phone, campaign_id: Option<i64>) -> Result<DncCheck> {
        let (global, campaign): (bool, bool) = on_reader!(self, pool => sqlx::query_as(
            "SELECT \
               EXISTS (SELECT 1 FROM dnc_entries WHERE phone = $1 AND campaign_id IS NULL), \
               EXISTS (SELECT 1 FROM dnc_entries WHERE phone = $1 AND campaign_id = $2)",
        )
        .bind(phone.as_str())
        .bind(campaign_id)
        .fetch_one(pool)
        .await)?;
        Ok(DncCheck { global, campaign })
    }
}
