//! The account (`Accounts/{sid}.json`) and its numbers: `IncomingPhoneNumbers.json`
//! (bought from Twilio) and `OutgoingCallerIds.json` (verified caller IDs), paged with
//! `PageSize` / `Page` and `next_page_uri` as Twilio's list resources are.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use super::params::{ApiError, Form};
use super::rest::{authorize, formatted};
use super::Shared;

const DEFAULT_PAGE_SIZE: usize = 50;

/// `GET /2010-04-01/Accounts/{AccountSid}.json`: the account, active.
pub(super) async fn fetch_account(
    State(shared): State<Arc<Shared>>,
    Path(file): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let account = file.strip_suffix(".json").unwrap_or(&file);
    authorize(&shared, &headers, account, uri.path())?;
    if !file.ends_with(".json") {
        return Err(ApiError::not_found(uri.path()));
    }
    Ok(Json(json!({
        "sid": shared.config.account_sid,
        "friendly_name": "Parley sandbox",
        "status": "active",
        "type": "Full",
        "date_created": "Mon, 24 Nov 2025 10:00:00 +0000",
        "uri": uri.path(),
    })))
}
const MAX_PAGE_SIZE: usize = 1000;

/// Both number lists; which one is the path's last segment.
pub(super) async fn list_numbers(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let path = uri.path();
    authorize(&shared, &headers, &account, path)?;
    let config = &shared.config;
    let query = query.as_deref();
    let page = if path.ends_with("/IncomingPhoneNumbers.json") {
        page_of(
            "incoming_phone_numbers",
            path,
            query,
            &config.numbers,
            |i, n| {
                json!({
                    "sid": format!("PN{i:032x}"),
                    "account_sid": config.account_sid,
                    "phone_number": n,
                    "friendly_name": formatted(n),
                    "capabilities": {"voice": true, "sms": true, "mms": false, "fax": false},
                    "status": "in-use",
                })
            },
        )
    } else {
        page_of(
            "outgoing_caller_ids",
            path,
            query,
            &config.verified_caller_ids,
            |i, n| {
                json!({
                    "sid": format!("PN{:032x}", i + 1_000_000),
                    "account_sid": config.account_sid,
                    "phone_number": n,
                    "friendly_name": formatted(n),
                })
            },
        )
    };
    Ok(Json(page))
}

/// One page of `items` under `key`, with Twilio's paging fields.
fn page_of(
    key: &str,
    path: &str,
    query: Option<&str>,
    items: &[String],
    render: impl Fn(usize, &String) -> Value,
) -> Value {
    let form = Form::parse(query.unwrap_or("").as_bytes());
    let page_size = form
        .get("PageSize")
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE);
    let page: usize = form.get("Page").and_then(|s| s.parse().ok()).unwrap_or(0);
    let start = page.saturating_mul(page_size);
    let rendered: Vec<Value> = items
        .iter()
        .enumerate()
        .skip(start)
        .take(page_size)
        .map(|(i, n)| render(i, n))
        .collect();
    let uri = |page: usize| format!("{path}?PageSize={page_size}&Page={page}");
    let more = start + rendered.len() < items.len();
    json!({
        key: rendered,
        "page": page,
        "page_size": page_size,
        "start": start,
        "uri": uri(page),
        "first_page_uri": uri(0),
        "previous_page_uri": if page > 0 { Value::String(uri(page - 1)) } else { Value::Null },
        "next_page_uri": if more { Value::String(uri(page + 1)) } else { Value::Null },
    })
}
