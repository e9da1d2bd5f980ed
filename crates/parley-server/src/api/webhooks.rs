//! Outbound webhook subscriptions, their deliveries and the attempt log (admin only: a
//! subscription sends call data, phone numbers included, wherever its URL points).
use super::{List, PageParams};
use crate::auth::Principal;
use crate::error::extract::{Json, Path, Query};
use crate::error::{ApiError, ApiResult, OrNotFound};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Extension;
use parley_domain::time::from_millis;
use parley_domain::webhook::EventType;
use parley_domain::FieldErrors;
use parley_engine::egress::{EgressPolicy, Refusal, SystemLookup};
use parley_store::{NewSubscription, SubscriptionUpdate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Attempts shown with a delivery, newest kept.
const ATTEMPTS_SHOWN: i64 = 100;

#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub event_types: Vec<EventType>,
    pub description: Option<String>,
    pub enabled: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A subscription with its signing secret: returned only on creation and rotation.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// Verifies `Parley-Signature`; shown this once.
    pub secret: String,
}

impl From<parley_store::Subscription> for Webhook {
    fn from(s: parley_store::Subscription) -> Self {
        Webhook {
            id: s.id,
            url: s.url,
            event_types: s.event_types,
            description: s.description,
            enabled: s.enabled,
            created_at: from_millis(s.created_at),
            updated_at: from_millis(s.updated_at),
        }
    }
}

impl From<parley_store::Subscription> for WebhookWithSecret {
    fn from(s: parley_store::Subscription) -> Self {
        let secret = s.secret.clone();
        WebhookWithSecret {
            webhook: s.into(),
            secret,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// An http:// or https:// URL.
    pub url: String,
    /// `call.completed`, `call.analyzed`, `campaign.state_changed`, `contact.opted_out`,
    /// `call.transferred`.
    pub event_types: Vec<String>,
    pub description: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "super::some")]
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: i64,
    /// The event's id; sent as `Idempotency-Key` on every attempt and replay.
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `failed` (will retry), `delivered` or `dead`.
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<i64>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<parley_store::Delivery> for Delivery {
    fn from(d: parley_store::Delivery) -> Self {
        use parley_store::DeliveryState;
        let waiting = matches!(d.state, DeliveryState::Pending | DeliveryState::Failed);
        Delivery {
            id: d.id,
            webhook_id: d.subscription_id,
            event_id: d.event_id,
            event_type: d.event_type,
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at.filter(|_| waiting).map(from_millis),
            last_status: d.last_status,
            last_error: d.last_error,
            last_duration_ms: d.last_duration_ms,
            created_at: from_millis(d.created_at),
            delivered_at: d.delivered_at.map(from_millis),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAttempt {
    pub attempt: i64,
    pub url: String,
    /// The headers sent (the signature included; the secret is never sent).
    #[schema(value_type = Object)]
    pub request_headers: serde_json::Value,
    /// Null when no answer came (refused, timed out).
    pub response_status: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<parley_store::DeliveryAttempt> for DeliveryAttempt {
    fn from(a: parley_store::DeliveryAttempt) -> Self {
        DeliveryAttempt {
            attempt: a.attempt,
            url: a.url,
            request_headers: serde_json::from_str(&a.request_headers).unwrap_or_default(),
            response_status: a.response_status,
            duration_ms: a.duration_ms,
            error: a.error,
            created_at: from_millis(a.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: Delivery,
    /// Oldest first; the last 100.
    pub attempts_log: Vec<DeliveryAttempt>,
}

/// The URL parses, and the egress policy lets deliveries go there as far as can be told
/// now (each delivery is checked again when it connects).
async fn check_url(state: &AppState, url: &str, errors: &mut FieldErrors) {
    let Ok(parsed) = url::Url::parse(url) else {
        return errors.add("url", "must be an http:// or https:// URL");
    };
    let policy = EgressPolicy::new(&state.settings.egress);
    match policy.check_subscription(&parsed, &SystemLookup).await {
        Ok(()) => {}
        Err(refusal @ (Refusal::Scheme | Refusal::Userinfo)) => {
            errors.add("url", refusal.to_string())
        }
        Err(refusal) => errors.add(
            "url",
            format!(
                "refused by egress policy: {refusal}; a host inside your network must be \
                 listed in the egress.allowed_hosts setting"
            ),
        ),
    }
}

fn check_types(types: &[String], errors: &mut FieldErrors) -> Vec<EventType> {
    if types.is_empty() {
        errors.add("event_types", "name at least one event type");
    }
    let mut parsed = Vec::new();
    for t in types {
        match EventType::parse(t) {
            Some(t) if !parsed.contains(&t) => parsed.push(t),
            Some(_) => {}
            None => errors.add(
                "event_types",
                format!(
                    "unknown event type `{t}`; known: {}",
                    EventType::ALL
                        .iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        }
    }
    parsed
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", params(PageParams),
    responses((status = 200, body = List<Webhook>)))]
pub async fn list(
    State(state): State<AppState>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<List<Webhook>>> {
    let page = state.store.list_subscriptions(page.request()?).await?;
    Ok(Json(page.map(Webhook::from).into()))
}

/// Subscribes a URL to events. The signing secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = CreateWebhook,
    responses((status = 201, body = WebhookWithSecret), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<WebhookWithSecret>)> {
    let mut errors = FieldErrors::new();
    check_url(&state, &body.url, &mut errors).await;
    let event_types = check_types(&body.event_types, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let new = NewSubscription {
        url: body.url,
        secret: parley_engine::webhooks::new_secret(),
        event_types,
        description: body.description,
        enabled: body.enabled.unwrap_or(true),
    };
    let created = state
        .store
        .create_subscription(&new, &principal.actor)
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    responses((status = 200, body = Webhook), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Webhook>> {
    let s = state
        .store
        .get_subscription(id)
        .await
        .or_not_found("webhook")?;
    Ok(Json(s.into()))
}

#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", request_body = UpdateWebhook,
    responses((status = 200, body = Webhook), (status = 404, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
    Json(body): Json<UpdateWebhook>,
) -> ApiResult<Json<Webhook>> {
    let mut errors = FieldErrors::new();
    if let Some(url) = &body.url {
        check_url(&state, url, &mut errors).await;
    }
    let event_types = body
        .event_types
        .as_deref()
        .map(|t| check_types(t, &mut errors));
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let update = SubscriptionUpdate {
        url: body.url,
        event_types,
        description: body.description,
        enabled: body.enabled,
        secret: None,
    };
    let s = state
        .store
        .update_subscription(id, &update, &principal.actor)
        .await
        .or_not_found("webhook")?;
    Ok(Json(s.into()))
}

/// Replaces the signing secret; the new one is in this answer only.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    responses((status = 200, body = WebhookWithSecret), (status = 404, body = crate::error::ErrorBody)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
) -> ApiResult<Json<WebhookWithSecret>> {
    let update = SubscriptionUpdate {
        secret: Some(parley_engine::webhooks::new_secret()),
        ..Default::default()
    };
    let s = state
        .store
        .update_subscription(id, &update, &principal.actor)
        .await
        .or_not_found("webhook")?;
    Ok(Json(s.into()))
}

/// Deletes a subscription with its delivery log.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    state
        .store
        .delete_subscription(id, &principal.actor)
        .await
        .or_not_found("webhook")?;
    Ok(StatusCode::NO_CONTENT)
}

/// A subscription's deliveries, newest first.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", params(PageParams),
    responses((status = 200, body = List<Delivery>), (status = 404, body = crate::error::ErrorBody)))]
pub async fn deliveries(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<List<Delivery>>> {
    let page = page.request()?;
    state
        .store
        .get_subscription(id)
        .await
        .or_not_found("webhook")?;
    let deliveries = state.store.list_deliveries(id, page).await?;
    Ok(Json(deliveries.map(Delivery::from).into()))
}

/// One delivery with its attempts: what was sent, what came back, how long it took.
#[utoipa::path(get, path = "/api/v1/webhook-deliveries/{id}", tag = "webhooks",
    responses((status = 200, body = DeliveryDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn delivery(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<DeliveryDetail>> {
    let delivery = state
        .store
        .get_delivery(id)
        .await
        .or_not_found("delivery")?;
    let attempts = state.store.delivery_attempts(id, ATTEMPTS_SHOWN).await?;
    Ok(Json(DeliveryDetail {
        delivery: delivery.into(),
        attempts_log: attempts.into_iter().map(DeliveryAttempt::from).collect(),
    }))
}

/// Sends a delivery again from scratch (any state), with the same event id.
#[utoipa::path(post, path = "/api/v1/webhook-deliveries/{id}/replay", tag = "webhooks",
    responses((status = 202, body = Delivery), (status = 404, body = crate::error::ErrorBody)))]
pub async fn replay(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    let d = state
        .store
        .replay_delivery(id, &principal.actor)
        .await
        .or_not_found("delivery")?;
    Ok((StatusCode::ACCEPTED, Json(d.into())))
}
