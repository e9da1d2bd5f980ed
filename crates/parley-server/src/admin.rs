//! Creating users and API keys: one implementation for the CLI and the API.
use crate::auth::secrets;
use parley_domain::contact::is_plausible_email;
use parley_domain::Role;
use parley_store::{ApiKey, Store, StoreError, User};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("`{0}` is not an email address")]
    InvalidEmail(String),
    #[error("the password must be at least {MIN_PASSWORD_LEN} characters")]
    WeakPassword,
    #[error("the API key name must be 1-100 characters")]
    InvalidName,
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub const MIN_PASSWORD_LEN: usize = 10;

pub async fn create_user(
    store: &Store,
    email: &str,
    password: &str,
    role: Role,
) -> Result<User, AdminError> {
    let email = email.trim().to_lowercase();
    if !is_plausible_email(&email) {
        return Err(AdminError::InvalidEmail(email));
    }
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AdminError::WeakPassword);
    }
    // argon2 takes tens of milliseconds of CPU: off the async workers, in the shared slots.
    let hash = secrets::PasswordHashing::shared()
        .hash(password.to_string())
        .await
        .map_err(|e| AdminError::Hashing(e.to_string()))?;
    Ok(store.create_user(&email, &hash, role).await?)
}

/// Creates a key and returns it with the plaintext key, which is shown this once only.
pub async fn create_api_key(
    store: &Store,
    name: &str,
    role: Role,
    expires_at_millis: Option<i64>,
    created_by: Option<i64>,
) -> Result<(ApiKey, String), AdminError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AdminError::InvalidName);
    }
    let (key, prefix, hash) = secrets::new_api_key();
    let record = store
        .create_api_key(name, &prefix, &hash, role, created_by, expires_at_millis)
        .await?;
    Ok((record, key))
}

/// Creates the first admin from settings when there are no users yet.
pub async fn bootstrap_admin(
    store: &Store,
    email: Option<&str>,
    password: Option<&str>,
) -> Result<Option<User>, AdminError> {
    let (Some(email), Some(password)) = (email, password) else {
        return Ok(None);
    };
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    create_user(store, email, password, Role::Admin)
        .await
        .map(Some)
}
