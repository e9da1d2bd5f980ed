//! Timestamps are stored as UTC milliseconds since the Unix epoch on every backend, so they
//! sort and compare the same way in SQLite and PostgreSQL.
use chrono::{DateTime, TimeZone, Utc};

/// UTC milliseconds since the Unix epoch.
pub type Millis = i64;

pub fn to_millis(t: DateTime<Utc>) -> Millis {
    t.timestamp_millis()
}

/// Converts stored millis back; out-of-range values clamp to the epoch rather than panic.
pub fn from_millis(ms: Millis) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

pub fn now_millis() -> Millis {
    Utc::now().timestamp_millis()
}
