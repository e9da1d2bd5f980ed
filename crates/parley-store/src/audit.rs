//! The audit log: who changed what, and why. Rows are written with the change they
//! record, by [`crate::Tx::audit`].
use crate::{on_reader, Page, PageRequest, Result, Store};
use sqlx::QueryBuilder;

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

/// Which audit entries to list; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Who: a user's email, `api-key:<name>`, `system`, `cli`...
    pub actor: Option<String>,
    /// What: an action (`campaign.updated`) or, ending in `.`, a family (`campaign.`).
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// From this time (UTC millis, inclusive) ...
    pub from: Option<i64>,
    /// ... to this one (exclusive).
    pub to: Option<i64>,
}

impl AuditFilter {
    /// The entries about one object (or every object of a type).
    pub fn target(target_type: &str, target_id: Option<&str>) -> AuditFilter {
        AuditFilter {
            target_type: Some(target_type.to_owned()),
            target_id: target_id.map(str::to_owned),
            ..Default::default()
        }
    }
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

    /// Audit entries matching `filter`, newest first.
    pub async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEntry>> {
        let rows: Vec<AuditEntry> = on_reader!(self, pool => {
            let mut qb = QueryBuilder::new(
                "SELECT id, actor, action, target_type, target_id, details, created_at \
                 FROM audit_log WHERE id < ",
            );
            qb.push_bind(page.cursor_id());
            if let Some(actor) = &filter.actor {
                qb.push(" AND actor = ").push_bind(actor.clone());
            }
            match filter.action.as_deref() {
                // `campaign.` matches every campaign action.
                Some(prefix) if prefix.ends_with('.') => {
                    qb.push(" AND substr(action, 1, ")
                        .push_bind(prefix.len() as i64)
                        .push(") = ")
                        .push_bind(prefix.to_owned());
                }
                Some(action) => {
                    qb.push(" AND action = ").push_bind(action.to_owned());
                }
                None => {}
            }
            if let Some(t) = &filter.target_type {
                qb.push(" AND target_type = ").push_bind(t.clone());
            }
            if let Some(id) = &filter.target_id {
                qb.push(" AND target_id = ").push_bind(id.clone());
            }
            if let Some(from) = filter.from {
                qb.push(" AND created_at >= ").push_bind(from);
            }
            if let Some(to) = filter.to {
                qb.push(" AND created_at < ").push_bind(to);
            }
            qb.push(" ORDER BY id DESC LIMIT ").push_bind(page.fetch_limit());
            qb.build_query_as().fetch_all(pool).await
        })?;
        Ok(Page::from_rows(rows, &page, |e| e.id))
    }
}
