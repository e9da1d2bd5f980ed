//! Creating users and API keys: one implementation for the CLI, the API and the bench.
//! A creation made on someone's behalf is audited in the same transaction as the row.
use crate::credentials;
use parley_domain::contact::is_plausible_email;
use parley_domain::Role;
use parley_store::{ApiKey, Store, StoreError, User};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
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

/// Creates a user. With `actor` (who asked, as the audit log names them) the row and its
/// `user.created` audit row are written together; without (the CLI, the bootstrap admin)
/// nothing is audited.
pub async fn create_user(
    store: &Store,
    email: &str,
    password: &str,
    role: Role,
    actor: Option<&str>,
) -> Result<User, AccountError> {
    let email = email.trim().to_lowercase();
    if !is_plausible_email(&email) {
        return Err(AccountError::InvalidEmail(email));
    }
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AccountError::WeakPassword);
    }
    // argon2 takes tens of milliseconds of CPU: off the async workers, in the shared slots.
    let hash = credentials::PasswordHashing::shared()
        .hash(password.to_string())
        .await
        .map_err(|e| AccountError::Hashing(e.to_string()))?;
    let mut tx = store.begin().await?;
    let user = tx.create_user(&email, &hash, role).await?;
    if let Some(actor) = actor {
        let details = serde_json::json!({ "role": user.role });
        let id = user.id.to_string();
        tx.audit(actor, "user.created", "user", Some(&id), &details)
            .await?;
    }
    tx.commit().await?;
    Ok(user)
}

/// What an API key is for.
pub struct ApiKeySpec<'a> {
    pub name: &'a str,
    pub role: Role,
    pub expires_at_millis: Option<i64>,
    /// The user who made it, if a user did.
    pub created_by: Option<i64>,
}

/// Creates a key and returns it with the plaintext key, which is shown this once only.
/// With `actor`, its `api_key.created` audit row is written in the same transaction.
pub async fn create_api_key(
    store: &Store,
    key: ApiKeySpec<'_>,
    actor: Option<&str>,
) -> Result<(ApiKey, String), AccountError> {
    let name = key.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AccountError::InvalidName);
    }
    let (plaintext, prefix, hash) = credentials::new_api_key();
    let mut tx = store.begin().await?;
    let record = tx
        .create_api_key(
            name,
            &prefix,
            &hash,
            key.role,
            key.created_by,
            key.expires_at_millis,
        )
        .await?;
    if let Some(actor) = actor {
        let details = serde_json::json!({ "role": record.role });
        let id = record.id.to_string();
        tx.audit(actor, "api_key.created", "api_key", Some(&id), &details)
            .await?;
    }
    tx.commit().await?;
    Ok((record, plaintext))
}

/// Creates the first admin from settings when there are no users yet.
pub async fn bootstrap_admin(
    store: &Store,
    email: Option<&str>,
    password: Option<&str>,
) -> Result<Option<User>, AccountError> {
    let (Some(email), Some(password)) = (email, password) else {
        return Ok(None);
    };
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    create_user(store, email, password, Role::Admin, None)
        .await
        .map(Some)
}
