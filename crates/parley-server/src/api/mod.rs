//! The REST API under `/api/v1`. Handlers stay thin: parse, authorize, call the store,
//! map the result.
pub mod account;
pub mod admin;
pub mod analytics;
pub mod audit;
pub mod calls;
pub mod campaigns;
pub mod compliance;
pub mod consent;
pub mod contacts;
pub mod dnc;
pub mod events;
pub mod exports;
pub mod history;
pub mod imports;
pub mod results;
pub mod sheet_writes;
pub mod spreadsheets;
pub mod status;
pub mod test_call;
pub mod variant_analytics;
pub mod webhooks;

use crate::error::{ApiError, ApiResult};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use parley_store::{Page, PageRequest};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// Paging for every list: `limit` (1-500, default 50) and the `cursor` of the previous page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn request(&self) -> ApiResult<PageRequest> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=PageRequest::MAX_LIMIT).contains(&limit) {
            return Err(ApiError::field(
                "limit",
                format!("must be between 1 and {}", PageRequest::MAX_LIMIT),
            ));
        }
        let before_id = self.cursor.as_deref().map(decode_cursor).transpose()?;
        Ok(PageRequest { before_id, limit })
    }
}

/// One page of a list, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T> From<Page<T>> for List<T> {
    fn from(p: Page<T>) -> Self {
        List {
            items: p.items,
            next_cursor: p.next_before_id.map(encode_cursor),
        }
    }
}

fn encode_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

fn decode_cursor(cursor: &str) -> ApiResult<i64> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("id:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| ApiError::bad_request("cursor is not one this API gave out"))
}

/// Parses an RFC 3339 timestamp query parameter into UTC milliseconds.
pub fn parse_time(name: &str, value: Option<&str>) -> ApiResult<Option<i64>> {
    value
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.timestamp_millis())
                .map_err(|_| {
                    ApiError::bad_request(format!(
                        "{name} must be an RFC 3339 time such as 2026-11-24T09:00:00Z"
                    ))
                })
        })
        .transpose()
}

/// For PATCH bodies: distinguishes a field set to null (`Some(None)`) from one left out
/// (`None`, via `#[serde(default)]`).
pub fn some<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        assert_eq!(decode_cursor(&encode_cursor(42)).unwrap(), 42);
        assert!(decode_cursor("42").is_err());
        assert!(decode_cursor("!!!").is_err());
    }
}
