//! Passwords and API keys (the engine's `credentials`), and the tokens and hashes the
//! sessions use.
pub use parley_engine::credentials::*;
pub use parley_engine::secrets::{constant_time_eq, random_token, sha256_hex};
