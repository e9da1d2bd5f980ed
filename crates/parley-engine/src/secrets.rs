//! Random tokens and their stored form. Tokens carry 192 bits of entropy, so a fast
//! SHA-256 is the right hash for them (slow hashes are for passwords).
use rand::RngCore;
use sha2::{Digest, Sha256};

/// 24 random bytes as hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
