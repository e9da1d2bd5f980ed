//! What rides along with every change, inside its transaction: webhook outbox rows and
//! audit rows, and the call facts that `call.*` events carry.
use crate::tx::{execute, on_conn};
use crate::webhooks::wants;
use crate::{Db, Result, Tx};
use parley_domain::time::now_millis;
use parley_domain::vocabulary::Worded;
use parley_domain::webhook::EventType;

impl Tx {
    /// Writes an event to the outbox with a delivery for each enabled subscription that
    /// wants it. Nothing is written when no one subscribes, so the outbox grows only with
    /// what will be sent.
    pub async fn outbox(&mut self, event_type: EventType, data: serde_json::Value) -> Result<()> {
        self.point("outbox")?;
        let pattern = wants(event_type);
        let now = now_millis();
        on_conn!(self, c => {
            let (wanted,): (bool,) = sqlx::query_as(
                "SELECT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE enabled AND event_types LIKE $1)",
            )
            .bind(&pattern)
            .fetch_one(&mut *c)
            .await?;
            if wanted {
                let (event_row,): (i64,) = sqlx::query_as(
                    "INSERT INTO webhook_events (event_id, event_type, payload, created_at) \
                     VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(format!("evt_{}", uuid::Uuid::now_v7().simple()))
                .bind(event_type.as_str())
                .bind(data.to_string())
                .bind(now)
                .fetch_one(&mut *c)
                .await?;
                sqlx::query(
                    "INSERT INTO webhook_deliveries (subscription_id, event_id, state, attempts, \
                     next_attempt_at, created_at, updated_at) \
                     SELECT id, $1, 'pending', 0, $2, $2, $2 FROM webhook_subscriptions \
                     WHERE enabled AND event_types LIKE $3",
                )
                .bind(event_row)
                .bind(now)
                .bind(&pattern)
                .execute(&mut *c)
                .await?;
            }
        });
        Ok(())
    }

    /// Writes one audit row: who changed what, and how.
    pub async fn audit(
        &mut self,
        actor: &str,
        action: &str,
        target_type: &str,
        target_id: Option<&str>,
        details: &serde_json::Value,
    ) -> Result<()> {
        self.point("audit")?;
        execute!(self, sqlx::query(
            "INSERT INTO audit_log (actor, action, target_type, target_id, details, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(actor)
        .bind(action)
        .bind(target_type)
        .bind(target_id)
        .bind(details.to_string())
        .bind(now_millis()))?;
        Ok(())
    }
}

impl Db {
    /// The facts about a call that every `call.*` event carries: `{call_id, campaign_id,
    /// campaign_name, contact_id, phone, outcome, outcome_label, status, duration_seconds,
    /// summary, test}` (`test`: a test call, see `Call::is_test`). The dashboard link is
    /// added when the event is sent.
    pub async fn call_data(&mut self, call_id: i64) -> Result<serde_json::Value> {
        type Row = (
            i64,
            Option<i64>,
            Option<String>,
            Option<i64>,
            String,
            Option<String>,
            Option<i64>,
            Option<String>,
            bool,
        );
        let sql = "SELECT c.id, c.campaign_id, cp.name, c.contact_id, c.to_number, c.outcome, \
             c.duration_seconds, c.summary, c.is_test FROM calls c \
             LEFT JOIN campaigns cp ON cp.id = c.campaign_id WHERE c.id = $1";
        let row: Row = on_conn!(self, c => sqlx::query_as(sql).bind(call_id).fetch_one(c).await)?;
        let (
            call_id,
            campaign_id,
            campaign_name,
            contact_id,
            phone,
            outcome,
            duration,
            summary,
            test,
        ) = row;
        let parsed = outcome
            .as_deref()
            .and_then(parley_domain::call::CallOutcome::parse);
        let status = parsed.map(parley_domain::webhook::call_status);
        Ok(serde_json::json!({
            "call_id": call_id,
            "campaign_id": campaign_id,
            "campaign_name": campaign_name,
            "contact_id": contact_id,
            "phone": phone,
            "outcome": outcome,
            "outcome_label": parsed.map(Worded::label),
            "status": status,
            "duration_seconds": duration,
            "summary": summary,
            "test": test,
        }))
    }
}
