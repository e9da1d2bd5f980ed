//! Passwords (argon2id) and API keys (random tokens, stored as SHA-256 hashes).
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

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
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default())
}

pub use parley_engine::secrets::{constant_time_eq, random_token, sha256_hex};

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
