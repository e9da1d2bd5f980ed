//! Parley's domain: the types and rules of contacts, campaigns and calls.
//! Pure: no I/O, no clocks read here (callers pass `now`).
#![forbid(unsafe_code)]

pub mod activity;
pub mod auth;
pub mod breaker;
pub mod call;
pub mod call_result;
pub mod callback;
pub mod campaign;
pub mod capacity;
pub mod compliance;
pub mod consent;
pub mod contact;
pub mod disclosure;
pub mod history;
pub mod import;
pub mod jurisdiction;
pub mod memory;
mod names;
pub mod overrides;
pub mod phone;
pub mod quality;
#[cfg(test)]
mod readme;
pub mod retry;
pub mod significance;
pub mod time;
pub mod timezones;
pub mod tool;
pub mod transfer;
pub mod validation;
pub mod variants;
pub mod vocabulary;
pub mod webhook;
pub mod window;
pub mod write_back;

pub use auth::Role;
pub use phone::{mask_phone_numbers, MaskedPhone, Phone, PhoneError};
pub use validation::{FieldError, FieldErrors};

/// Database identifiers are 64-bit integers on both backends.
pub type Id = i64;
