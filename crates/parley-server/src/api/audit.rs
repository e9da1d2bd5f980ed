//! The audit log, for admins: who changed what, when, with cursor paging and filters.
use crate::api::{parse_time, List, PageParams};
use crate::error::extract::{Json, Query};
use crate::error::ApiResult;
use crate::AppState;
use axum::extract::State;
use parley_domain::time::from_millis;
use parley_store::AuditFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Who: a user's email, `api-key:<name>`, `cli`, `system`...
    pub actor: Option<String>,
    /// An action (`campaign.updated`) or, ending in `.`, every action of a kind
    /// (`campaign.`).
    pub action: Option<String>,
    /// `campaign`, `contact`, `user`, `api_key`, `webhook`, `dnc`, `call`, `export`...
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// At or after this RFC 3339 time.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Before this RFC 3339 time.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// 1-500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// One audited change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecord {
    pub id: i64,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    /// What changed, as the action recorded it.
    pub details: serde_json::Value,
    pub at: chrono::DateTime<chrono::Utc>,
}

impl From<parley_store::AuditEntry> for AuditRecord {
    fn from(e: parley_store::AuditEntry) -> Self {
        AuditRecord {
            id: e.id,
            actor: e.actor,
            action: e.action,
            target_type: e.target_type,
            target_id: e.target_id,
            details: serde_json::from_str(&e.details).unwrap_or(serde_json::Value::Null),
            at: from_millis(e.created_at),
        }
    }
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "admin", params(AuditQuery),
    responses((status = 200, body = List<AuditRecord>), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<List<AuditRecord>>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .request()?;
    let non_empty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    let filter = AuditFilter {
        actor: non_empty(q.actor),
        action: non_empty(q.action),
        target_type: non_empty(q.target_type),
        target_id: non_empty(q.target_id),
        from: parse_time("from", q.from.as_deref())?,
        to: parse_time("to", q.to.as_deref())?,
    };
    let found = state.store.list_audit(&filter, page).await?;
    let page = parley_store::Page {
        items: found.items.into_iter().map(AuditRecord::from).collect(),
        next_before_id: found.next_before_id,
    };
    Ok(Json(page.into()))
}
