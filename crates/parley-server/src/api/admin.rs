//! Users and API keys (admin only).
use crate::auth::Principal;
use crate::error::extract::{Json, Path};
use crate::error::{ApiError, ApiResult, OrNotFound};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Extension;
use parley_domain::time::from_millis;
use parley_domain::Role;
use parley_engine::accounts::{self, AccountError, ApiKeySpec};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<parley_store::User> for UserView {
    fn from(u: parley_store::User) -> Self {
        UserView {
            id: u.id,
            email: u.email,
            role: u.role,
            disabled: u.disabled,
            created_at: from_millis(u.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: String,
    /// At least 10 characters.
    pub password: String,
    pub role: Role,
}

/// Fields left out stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub role: Option<Role>,
    /// A disabled user cannot sign in, and their sessions stop working at once.
    pub disabled: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: i64,
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    pub role: Role,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<parley_store::ApiKey> for ApiKeyView {
    fn from(k: parley_store::ApiKey) -> Self {
        ApiKeyView {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            role: k.role,
            created_at: from_millis(k.created_at),
            expires_at: k.expires_at.map(from_millis),
            revoked_at: k.revoked_at.map(from_millis),
            last_used_at: k.last_used_at.map(from_millis),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    pub role: Role,
    /// Expiry as an RFC 3339 time; never when absent.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct NewApiKey {
    #[serde(flatten)]
    pub api_key: ApiKeyView,
    /// The key itself. Shown this once only; store it safely.
    pub key: String,
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::InvalidEmail(_) => ApiError::field("email", e.to_string()),
            AccountError::WeakPassword => ApiError::field("password", e.to_string()),
            AccountError::InvalidName => ApiError::field("name", e.to_string()),
            AccountError::Store(s) => s.into(),
            AccountError::Hashing(_) => ApiError::internal(e),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/users", tag = "admin", responses((status = 200, body = Vec<UserView>)))]
pub async fn list_users(State(state): State<AppState>) -> ApiResult<Json<Vec<UserView>>> {
    let users = state.store.list_users().await?;
    Ok(Json(users.into_iter().map(UserView::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "admin", request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 409, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_user(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let actor = Some(principal.actor.as_str());
    let user =
        accounts::create_user(&state.store, &body.email, &body.password, body.role, actor).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Changes a user's role or access. Refused (409) when it would leave no enabled admin.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "admin", params(("id" = i64, Path)),
    request_body = UpdateUser,
    responses((status = 200, body = UserView), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn update_user(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
    Json(body): Json<UpdateUser>,
) -> ApiResult<Json<UserView>> {
    let user = state
        .store
        .update_user(id, body.role, body.disabled)
        .await
        .or_not_found("user")?;
    state
        .store
        .record_audit(
            &principal.actor,
            "user.updated",
            "user",
            Some(&id.to_string()),
            &serde_json::json!({ "role": body.role, "disabled": body.disabled }),
        )
        .await?;
    Ok(Json(user.into()))
}

#[utoipa::path(get, path = "/api/v1/api-keys", tag = "admin", responses((status = 200, body = Vec<ApiKeyView>)))]
pub async fn list_api_keys(State(state): State<AppState>) -> ApiResult<Json<Vec<ApiKeyView>>> {
    let keys = state.store.list_api_keys().await?;
    Ok(Json(keys.into_iter().map(ApiKeyView::from).collect()))
}

/// Creates an API key; the answer holds the key itself, shown only this once.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "admin", request_body = CreateApiKey,
    responses((status = 201, body = NewApiKey), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_api_key(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<CreateApiKey>,
) -> ApiResult<(StatusCode, Json<NewApiKey>)> {
    let expires = body.expires_at.map(|t| t.timestamp_millis());
    let spec = ApiKeySpec {
        name: &body.name,
        role: body.role,
        expires_at_millis: expires,
        created_by: principal.user_id,
    };
    let actor = Some(principal.actor.as_str());
    let (record, key) = accounts::create_api_key(&state.store, spec, actor).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewApiKey {
            api_key: record.into(),
            key,
        }),
    ))
}

/// Revokes an API key at once.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "admin", params(("id" = i64, Path)),
    responses((status = 200, body = ApiKeyView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
) -> ApiResult<Json<ApiKeyView>> {
    let key = state
        .store
        .revoke_api_key(id)
        .await
        .or_not_found("API key")?;
    state
        .store
        .record_audit(
            &principal.actor,
            "api_key.revoked",
            "api_key",
            Some(&id.to_string()),
            &serde_json::json!({}),
        )
        .await?;
    Ok(Json(key.into()))
}
