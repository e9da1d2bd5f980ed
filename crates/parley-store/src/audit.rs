//! The audit log: who changed what, and why.
use crate::{on_reader, on_writer, Page, PageRequest, Result, Store};

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

/// Writes one audit row on any executor, so callers can audit inside their transaction.
macro_rules! audit_in {
    ($exec:expr, $actor:expr, $action:expr, $target_type:expr, $target_id:expr, $details:expr) => {
        sqlx::query(
            "INSERT INTO audit_log (actor, action, target_type, target_id, details, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind($actor)
        .bind($action)
        .bind($target_type)
        .bind($target_id)
        .bind($details.to_string())
        .bind(parley_domain::time::now_millis())
        .execute($exec)
        .await
        .map(|_| ())
    };
}
pub(crate) use audit_in;

impl Store {
    pub async fn record_audit(
        &self,
        actor: &str,
        action: &str,
        target_type: &str,
        target_id: Option<&str>,
        details: &serde_json::Value,
    ) -> Result<()> {
        on_writer!(self, pool => audit_in!(pool, actor, action, target_type, target_id, details))?;
        Ok(())
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
