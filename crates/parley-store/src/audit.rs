//! The audit log: who changed what, and why. Rows are written with the change they
//! record, by [`crate::Tx::audit`].
use crate::{on_reader, Page, PageRequest, Result, Store};

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub details: String,
    pub created_at: i64,
}

impl Store {
    /// Audits an action that changes nothing else in the database (a sign-in, an export).
    pub async fn record_audit(
        &self,
        actor: &str,
        action: &str,
        target_type: &str,
        target_id: Option<&str>,
        details: &serde_json::Value,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.audit(actor, action, target_type, target_id, details)
            .await?;
        tx.commit().await
    }

    pub async fn list_audit(
        &self,
        target_type: &str,
        target_id: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<AuditEntry>> {
        let rows: Vec<AuditEntry> = on_reader!(self, pool => sqlx::query_as(
            "SELECT id, actor, action, target_type, target_id, details, created_at FROM audit_log \
             WHERE target_type = $1 AND ($2 IS NULL OR target_id = $2) AND id < $3 \
             ORDER BY id DESC LIMIT $4",
        )
        .bind(target_type)
        .bind(target_id)
        .bind(page.cursor_id())
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await)?;
        Ok(Page::from_rows(rows, &page, |e| e.id))
    }
}
