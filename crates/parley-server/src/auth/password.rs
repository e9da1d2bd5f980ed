//! Changing one's own password.
use super::client_address::limiter_key;
use super::routes::hashing_error;
use super::{secrets, Credential, Principal};
use crate::error::extract::Json;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Extension;
use parley_engine::accounts::MIN_PASSWORD_LEN;
use serde::Deserialize;
use std::net::SocketAddr;
use utoipa::ToSchema;

/// Longest password accepted: argon2 reads all of it, so it is bounded like any input.
pub const MAX_PASSWORD_CHARS: usize = 1024;

#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    pub current_password: String,
    /// At least 10 characters.
    pub new_password: String,
}

/// Changes the signed-in user's password and signs out their other sessions (this one
/// stays signed in). Wrong current passwords count against the sign-in limit.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", request_body = PasswordChange,
    responses((status = 204, description = "Changed; every other session of this user ended"),
              (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub async fn change_password(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(change): Json<PasswordChange>,
) -> ApiResult<StatusCode> {
    let (Some(user_id), Credential::Session { token_hash, .. }) =
        (principal.user_id, &principal.credential)
    else {
        return Err(ApiError::forbidden(
            "API keys have no password; sign in as the user to change theirs",
        ));
    };
    let new_length = change.new_password.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_CHARS).contains(&new_length) {
        return Err(ApiError::field(
            "new_password",
            format!("must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    if change.current_password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(wrong_current_password());
    }
    let Some(session) = state.store.session(token_hash).await? else {
        return Err(ApiError::unauthorized());
    };
    // A stolen session must not become a way to guess the password faster than sign-in.
    let limiter = &state.sign_in_limiter;
    let client = limiter_key(limiter.clients.client_ip(peer.ip(), &headers));
    limiter.check(&client, &session.user.email)?;
    let valid = secrets::verify_sign_in(change.current_password, session.user.password_hash)
        .await
        .map_err(hashing_error)?;
    if !valid {
        return Err(wrong_current_password());
    }
    let hash = secrets::PasswordHashing::shared()
        .hash(change.new_password)
        .await
        .map_err(hashing_error)?;
    let ended = state
        .store
        .set_password(user_id, &hash, Some(token_hash))
        .await?;
    tracing::info!(user_id, sessions_ended = ended, "password changed");
    Ok(StatusCode::NO_CONTENT)
}

fn wrong_current_password() -> ApiError {
    ApiError::field("current_password", "is not your current password")
}
