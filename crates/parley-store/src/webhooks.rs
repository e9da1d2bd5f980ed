//! Outbound webhooks: subscriptions, the outbox, deliveries and their attempt log.
//!
//! An event is written by [`crate::Tx::outbox`] inside the transaction of the change that caused
//! it, together with one delivery per enabled subscription that wants its type: if the
//! change commits, so do its deliveries; nothing can be lost in between. Workers claim
//! due deliveries with a lease (row locks on PostgreSQL, the single writer on SQLite);
//! a worker that dies mid-send leaves a lease that runs out, and the delivery is tried
//! again (at least once; the event id is the receiver's idempotency key).
use crate::error::OptionalExt;
use crate::tx::{execute, on_conn};
use crate::{on_reader, on_writer, Page, PageRequest, Pools, Result, Store, StoreError};
use parley_domain::time::now_millis;
use parley_domain::webhook::EventType;
use sqlx::QueryBuilder;

#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub url: String,
    pub secret: String,
    pub event_types: Vec<EventType>,
    pub description: Option<String>,
    pub enabled: bool,
}

#[derive(Debug, Clone, Default)]
pub struct SubscriptionUpdate {
    pub url: Option<String>,
    pub event_types: Option<Vec<EventType>>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
    /// A new signing secret.
    pub secret: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: i64,
    pub url: String,
    /// The signing secret; never show it after creation.
    pub secret: String,
    pub event_types: Vec<EventType>,
    pub description: Option<String>,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `named_enum!` lives in parley-domain and is private there; this is the same shape for
/// a store-only enum.
macro_rules! named_state {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
            pub fn parse(s: &str) -> Option<$ty> {
                match s { $($name => Some($ty::$variant),)+ _ => None }
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    /// Failed at least once; will be tried again.
    Failed,
    Delivered,
    /// Every attempt of the schedule failed.
    Dead,
}

named_state!(DeliveryState {
    Pending => "pending",
    Failed => "failed",
    Delivered => "delivered",
    Dead => "dead",
});

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub subscription_id: i64,
    /// The event's public id: the idempotency key.
    pub event_id: String,
    pub event_type: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<i64>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// One attempt to deliver, as logged.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryAttempt {
    pub id: i64,
    pub attempt: i64,
    pub url: String,
    /// JSON object of the headers sent.
    pub request_headers: String,
    pub response_status: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
    pub created_at: i64,
}

/// A delivery claimed for sending, with everything needed to send it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub url: String,
    pub secret: String,
    pub event_id: String,
    pub event_type: String,
    /// JSON object: the event's `data`.
    pub payload: String,
    pub event_created_at: i64,
    /// This attempt's number (1-based).
    pub attempts: i64,
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub url: String,
    pub request_headers: serde_json::Value,
    pub response_status: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptVerdict {
    Delivered,
    RetryAt(i64),
    Dead,
}

/// The LIKE pattern that finds subscriptions wanting `event_type` in their JSON list.
pub(crate) fn wants(event_type: EventType) -> String {
    format!("%\"{}\"%", event_type.as_str())
}

type SubscriptionRow = (i64, String, String, String, Option<String>, bool, i64, i64);
const SUBSCRIPTION_COLUMNS: &str =
    "id, url, secret, event_types, description, enabled, created_at, updated_at";

fn subscription(
    (id, url, secret, types, description, enabled, created_at, updated_at): SubscriptionRow,
) -> Result<Subscription> {
    let event_types: Vec<EventType> = serde_json::from_str(&types)
        .map_err(|e| StoreError::Corrupt(format!("webhook {id} event types: {e}")))?;
    Ok(Subscription {
        id,
        url,
        secret,
        event_types,
        description,
        enabled,
        created_at,
        updated_at,
    })
}

fn types_json(types: &[EventType]) -> String {
    serde_json::to_string(types).unwrap_or_else(|_| "[]".into())
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    subscription_id: i64,
    event_id: String,
    event_type: String,
    state: String,
    attempts: i64,
    next_attempt_at: Option<i64>,
    last_status: Option<i64>,
    last_error: Option<String>,
    last_duration_ms: Option<i64>,
    created_at: i64,
    delivered_at: Option<i64>,
}

const DELIVERY_COLUMNS: &str = "d.id, d.subscription_id, e.event_id, e.event_type, d.state, \
     d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.last_duration_ms, \
     d.created_at, d.delivered_at";

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;
    fn try_from(r: DeliveryRow) -> Result<Delivery> {
        Ok(Delivery {
            state: DeliveryState::parse(&r.state)
                .ok_or_else(|| StoreError::Corrupt(format!("delivery state `{}`", r.state)))?,
            id: r.id,
            subscription_id: r.subscription_id,
            event_id: r.event_id,
            event_type: r.event_type,
            attempts: r.attempts,
            // While delivered or dead nothing is due.
            next_attempt_at: r.next_attempt_at,
            last_status: r.last_status,
            last_error: r.last_error,
            last_duration_ms: r.last_duration_ms,
            created_at: r.created_at,
            delivered_at: r.delivered_at,
        })
    }
}

/// Due: waiting or failed, its time come (or its lease run out), its subscription on.
const DUE: &str = "d.state IN ('pending', 'failed') AND d.next_attempt_at <= $1 \
     AND d.subscription_id IN (SELECT id FROM webhook_subscriptions WHERE enabled)";

const CLAIMED_COLUMNS: &str = "d.id, s.url, s.secret, e.event_id, e.event_type, e.payload, \
     e.created_at AS event_created_at, d.attempts";

impl Store {
    pub async fn create_subscription(
        &self,
        new: &NewSubscription,
        actor: &str,
    ) -> Result<Subscription> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        tx.point("create_subscription")?;
        let row: SubscriptionRow = on_conn!(tx, c => sqlx::query_as(&format!(
            "INSERT INTO webhook_subscriptions (url, secret, event_types, description, enabled, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {SUBSCRIPTION_COLUMNS}"
        ))
        .bind(&new.url)
        .bind(&new.secret)
        .bind(types_json(&new.event_types))
        .bind(&new.description)
        .bind(new.enabled)
        .bind(now)
        .fetch_one(c)
        .await)?;
        let target = row.0.to_string();
        tx.audit(
            actor,
            "webhook.created",
            "webhook",
            Some(&target),
            &serde_json::json!({"event_types": new.event_types}),
        )
        .await?;
        tx.commit().await?;
        subscription(row)
    }

    pub async fn get_subscription(&self, id: i64) -> Result<Subscription> {
        let row: SubscriptionRow = on_reader!(self, pool => sqlx::query_as(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await)?
        .found()?;
        subscription(row)
    }

    pub async fn list_subscriptions(&self, page: PageRequest) -> Result<Page<Subscription>> {
        let rows: Vec<SubscriptionRow> = on_reader!(self, pool => sqlx::query_as(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE id < $1 \
             ORDER BY id DESC LIMIT $2"
        ))
        .bind(page.cursor_id())
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await)?;
        let page = Page::from_rows(rows, &page, |r| r.0);
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(subscription)
                .collect::<Result<_>>()?,
            next_before_id: page.next_before_id,
        })
    }

    pub async fn update_subscription(
        &self,
        id: i64,
        update: &SubscriptionUpdate,
        actor: &str,
    ) -> Result<Subscription> {
        let current = self.get_subscription(id).await?;
        let url = update.url.clone().unwrap_or(current.url);
        let types = update.event_types.clone().unwrap_or(current.event_types);
        let description = update.description.clone().unwrap_or(current.description);
        let enabled = update.enabled.unwrap_or(current.enabled);
        let secret = update.secret.clone().unwrap_or(current.secret);
        let mut tx = self.begin().await?;
        tx.point("update_subscription")?;
        let row: Option<SubscriptionRow> = on_conn!(tx, c => sqlx::query_as(&format!(
            "UPDATE webhook_subscriptions SET url = $2, event_types = $3, description = $4, \
             enabled = $5, secret = $6, updated_at = $7 WHERE id = $1 RETURNING {SUBSCRIPTION_COLUMNS}"
        ))
        .bind(id)
        .bind(&url)
        .bind(types_json(&types))
        .bind(&description)
        .bind(enabled)
        .bind(&secret)
        .bind(now_millis())
        .fetch_optional(c)
        .await)?;
        let target = id.to_string();
        tx.audit(
            actor,
            "webhook.updated",
            "webhook",
            Some(&target),
            &serde_json::json!({"fields": {
                "url": update.url.is_some(),
                "event_types": update.event_types.is_some(),
                "description": update.description.is_some(),
                "enabled": update.enabled.is_some(),
                "secret": update.secret.is_some(),
            }}),
        )
        .await?;
        tx.commit().await?;
        subscription(row.found()?)
    }

    /// Deletes a subscription and its delivery log.
    pub async fn delete_subscription(&self, id: i64, actor: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.point("delete_subscription")?;
        let affected = execute!(
            tx,
            sqlx::query("DELETE FROM webhook_subscriptions WHERE id = $1").bind(id)
        )?;
        if affected == 0 {
            return Err(StoreError::NotFound);
        }
        let target = id.to_string();
        tx.audit(
            actor,
            "webhook.deleted",
            "webhook",
            Some(&target),
            &serde_json::json!({}),
        )
        .await?;
        tx.commit().await
    }

    /// Claims up to `limit` due deliveries for `owner` until `lease_until`, counting the
    /// attempt. The lease is the due time: if the owner never reports back, the delivery
    /// falls due again when the lease runs out.
    pub async fn claim_due_deliveries(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>> {
        let ids: Vec<(i64,)> = match &self.pools {
            Pools::Postgres(pool) => {
                // SKIP LOCKED: other nodes take other deliveries instead of the same ones.
                sqlx::query_as(&format!(
                    "WITH due AS (SELECT d.id FROM webhook_deliveries d WHERE {DUE} \
                       ORDER BY d.next_attempt_at, d.id LIMIT $2 FOR UPDATE SKIP LOCKED) \
                     UPDATE webhook_deliveries w SET next_attempt_at = $3, lease_owner = $4, \
                       attempts = w.attempts + 1, updated_at = $1 \
                     FROM due WHERE w.id = due.id RETURNING w.id"
                ))
                .bind(now)
                .bind(limit)
                .bind(lease_until)
                .bind(owner)
                .fetch_all(pool)
                .await?
            }
            Pools::Sqlite { write, .. } => {
                // The single writer: the select and update cannot interleave with another claim.
                let mut tx = write.begin().await?;
                let ids: Vec<(i64,)> = sqlx::query_as(&format!(
                    "SELECT d.id FROM webhook_deliveries d WHERE {DUE} \
                     ORDER BY d.next_attempt_at, d.id LIMIT $2"
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
                if !ids.is_empty() {
                    let mut qb =
                        QueryBuilder::new("UPDATE webhook_deliveries SET next_attempt_at = ");
                    qb.push_bind(lease_until)
                        .push(", lease_owner = ")
                        .push_bind(owner)
                        .push(", attempts = attempts + 1, updated_at = ")
                        .push_bind(now)
                        .push(" WHERE id IN (");
                    let mut sep = qb.separated(", ");
                    for (id,) in &ids {
                        sep.push_bind(*id);
                    }
                    sep.push_unseparated(")");
                    qb.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                ids
            }
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let claimed: Vec<ClaimedDelivery> = on_writer!(self, pool => {
            let mut qb = QueryBuilder::new(format!(
                "SELECT {CLAIMED_COLUMNS} FROM webhook_deliveries d \
                 JOIN webhook_subscriptions s ON s.id = d.subscription_id \
                 JOIN webhook_events e ON e.id = d.event_id WHERE d.id IN ("
            ));
            let mut sep = qb.separated(", ");
            for (id,) in &ids {
                sep.push_bind(*id);
            }
            sep.push_unseparated(") ORDER BY d.id");
            qb.build_query_as().fetch_all(pool).await
        })?;
        Ok(claimed)
    }

    /// Logs an attempt and, if `owner` still holds the delivery's lease for this attempt,
    /// applies `verdict`. Returns whether the verdict was applied (false when the lease
    /// ran out and another worker took the delivery, or it was replayed meanwhile).
    pub async fn finish_delivery_attempt(
        &self,
        delivery: &ClaimedDelivery,
        owner: &str,
        record: &AttemptRecord,
        verdict: AttemptVerdict,
    ) -> Result<bool> {
        let now = now_millis();
        let (state, next, delivered) = match verdict {
            AttemptVerdict::Delivered => (DeliveryState::Delivered, None, Some(now)),
            AttemptVerdict::RetryAt(at) => (DeliveryState::Failed, Some(at), None),
            AttemptVerdict::Dead => (DeliveryState::Dead, None, None),
        };
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO webhook_attempts (delivery_id, attempt, url, request_headers, \
                 response_status, duration_ms, error, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(delivery.id)
            .bind(delivery.attempts)
            .bind(&record.url)
            .bind(record.request_headers.to_string())
            .bind(record.response_status)
            .bind(record.duration_ms)
            .bind(&record.error)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let applied = sqlx::query(
                "UPDATE webhook_deliveries SET state = $4, next_attempt_at = $5, lease_owner = NULL, \
                 last_status = $6, last_error = $7, last_duration_ms = $8, \
                 delivered_at = COALESCE($9, delivered_at), updated_at = $10 \
                 WHERE id = $1 AND lease_owner = $2 AND attempts = $3",
            )
            .bind(delivery.id)
            .bind(owner)
            .bind(delivery.attempts)
            .bind(state.as_str())
            .bind(next)
            .bind(record.response_status)
            .bind(&record.error)
            .bind(record.duration_ms)
            .bind(delivered)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            Ok::<_, StoreError>(applied == 1)
        })
    }

    /// A subscription's deliveries, newest first.
    pub async fn list_deliveries(
        &self,
        subscription_id: i64,
        page: PageRequest,
    ) -> Result<Page<Delivery>> {
        let rows: Vec<DeliveryRow> = on_reader!(self, pool => sqlx::query_as(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d \
             JOIN webhook_events e ON e.id = d.event_id \
             WHERE d.subscription_id = $1 AND d.id < $2 ORDER BY d.id DESC LIMIT $3"
        ))
        .bind(subscription_id)
        .bind(page.cursor_id())
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await)?;
        let page = Page::from_rows(rows, &page, |r| r.id);
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(Delivery::try_from)
                .collect::<Result<_>>()?,
            next_before_id: page.next_before_id,
        })
    }

    pub async fn get_delivery(&self, id: i64) -> Result<Delivery> {
        let row: DeliveryRow = on_reader!(self, pool => sqlx::query_as(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d \
             JOIN webhook_events e ON e.id = d.event_id WHERE d.id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await)?
        .found()?;
        row.try_into()
    }

    /// The newest `limit` attempts of a delivery, oldest first.
    pub async fn delivery_attempts(
        &self,
        delivery_id: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryAttempt>> {
        let mut rows: Vec<DeliveryAttempt> = on_reader!(self, pool => sqlx::query_as(
            "SELECT id, attempt, url, request_headers, response_status, duration_ms, error, created_at \
             FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(delivery_id)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
        rows.reverse();
        Ok(rows)
    }

    /// Queues a delivery again from scratch (a fresh schedule; the same event id, so the
    /// receiver can tell it is the same event). Its attempt log is kept.
    pub async fn replay_delivery(&self, id: i64, actor: &str) -> Result<Delivery> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        tx.point("replay_delivery")?;
        let affected = execute!(tx, sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $2, \
             lease_owner = NULL, delivered_at = NULL, updated_at = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(now))?;
        if affected == 0 {
            return Err(StoreError::NotFound);
        }
        let target = id.to_string();
        tx.audit(
            actor,
            "webhook.delivery_replayed",
            "webhook_delivery",
            Some(&target),
            &serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        self.get_delivery(id).await
    }

    /// Deletes up to `limit` events created before `before` (epoch ms) whose deliveries
    /// are all finished (delivered or dead; or none left, its subscriptions deleted), with
    /// their deliveries and attempt logs. Events with a delivery still to retry stay.
    /// Returns how many events were deleted.
    pub async fn purge_webhook_events(&self, before: i64, limit: i64) -> Result<u64> {
        on_writer!(self, pool => {
            let deleted = sqlx::query(
                "DELETE FROM webhook_events WHERE id IN (SELECT e.id FROM webhook_events e \
                 WHERE e.created_at < $1 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d \
                   WHERE d.event_id = e.id AND d.state IN ('pending', 'failed')) \
                 ORDER BY e.id LIMIT $2)",
            )
            .bind(before)
            .bind(limit)
            .execute(pool)
            .await?;
            Ok::<_, StoreError>(deleted.rows_affected())
        })
    }

    /// Writes one event to the outbox on its own (for events with no other change to
    /// ride with, and for tests).
    pub async fn enqueue_event(
        &self,
        event_type: EventType,
        data: &serde_json::Value,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.outbox(event_type, data.clone()).await?;
        tx.commit().await
    }
}
