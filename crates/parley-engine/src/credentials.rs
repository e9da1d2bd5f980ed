//! Passwords (argon2id) and API keys (random tokens, stored as SHA-256 hashes): what
//! user and key creation (`accounts`) and the server's sign-in share.
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::Semaphore;

use crate::secrets::{random_token, sha256_hex};

pub const API_KEY_PREFIX: &str = "pk_";

pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Verifies against a stored PHC string; any malformed hash verifies as false.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so that a wrong email takes as
/// long as a wrong password and does not reveal which accounts exist.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default())
}

/// How long a sign-in waits for a hashing slot before it is told to come back.
const SIGN_IN_HASHING_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    #[error("too many passwords are being checked right now")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// Runs argon2 (tens of milliseconds of CPU, and memory) on the blocking pool, at most
/// as many at once as there are cores: a flood of sign-ins then waits here instead of
/// taking every blocking thread the node needs for other work (files, imports).
pub struct PasswordHashing {
    slots: Semaphore,
}

impl PasswordHashing {
    pub fn new(slots: usize) -> Self {
        PasswordHashing {
            slots: Semaphore::new(slots.max(1)),
        }
    }

    /// The process-wide instance, sized to the number of cores.
    pub fn shared() -> &'static PasswordHashing {
        static SHARED: OnceLock<PasswordHashing> = OnceLock::new();
        SHARED.get_or_init(|| {
            PasswordHashing::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
        })
    }

    /// Verifies `password` against `stored`, waiting at most `wait` for a slot.
    pub async fn verify(
        &self,
        password: String,
        stored: String,
        wait: Duration,
    ) -> Result<bool, HashingError> {
        self.run(wait, move || Ok(verify_password(&password, &stored)))
            .await
    }

    /// A new PHC hash of `password`, waiting as long as it takes for a slot.
    pub async fn hash(&self, password: String) -> Result<String, HashingError> {
        self.run(Duration::MAX, move || {
            hash_password(&password).map_err(|e| HashingError::Failed(e.to_string()))
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        wait: Duration,
        work: impl FnOnce() -> Result<T, HashingError> + Send + 'static,
    ) -> Result<T, HashingError> {
        let _slot = match tokio::time::timeout(wait, self.slots.acquire()).await {
            Ok(Ok(slot)) => slot,
            // Never closed; a timeout means every slot stayed busy for `wait`.
            Ok(Err(_)) | Err(_) => return Err(HashingError::Busy),
        };
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| HashingError::Failed(e.to_string()))?
    }
}

/// Verifies a sign-in's password through the shared slots.
pub async fn verify_sign_in(password: String, stored: String) -> Result<bool, HashingError> {
    PasswordHashing::shared()
        .verify(password, stored, SIGN_IN_HASHING_WAIT)
        .await
}

/// A new API key: (the key as shown once, the prefix kept for display, its hash).
pub fn new_api_key() -> (String, String, String) {
    let key = format!("{API_KEY_PREFIX}{}", random_token());
    let prefix = key[..API_KEY_PREFIX.len() + 6].to_string();
    let hash = sha256_hex(&key);
    (key, prefix, hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("correct horse", "garbage"));
    }

    #[tokio::test]
    async fn hashing_waits_for_a_free_slot_and_gives_up_when_none_frees() {
        let hashing = PasswordHashing::new(1);
        let stored = hash_password("correct horse").unwrap();
        let wait = Duration::from_millis(50);
        let held = hashing.slots.acquire().await.unwrap();
        let refused = hashing
            .verify("correct horse".into(), stored.clone(), wait)
            .await;
        assert!(matches!(refused, Err(HashingError::Busy)), "{refused:?}");
        drop(held);
        let verified = hashing.verify("correct horse".into(), stored, wait).await;
        assert!(verified.unwrap());
        assert_eq!(
            hashing.slots.available_permits(),
            1,
            "the slot is given back"
        );
        let hashed = hashing.hash("another one".into()).await.unwrap();
        assert!(verify_password("another one", &hashed));
    }

    #[test]
    fn api_keys_are_unique_and_hashed() {
        let (k1, p1, h1) = new_api_key();
        let (k2, _, h2) = new_api_key();
        assert_ne!(k1, k2);
        assert!(k1.starts_with(&p1) && p1.starts_with("pk_"));
        assert_eq!(h1, sha256_hex(&k1));
        assert_ne!(h1, h2);
        assert!(!h1.contains(&k1[3..]));
    }
}
