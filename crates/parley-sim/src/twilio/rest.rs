//! The Calls REST API (reference A, B.6): Basic auth, form bodies, Twilio's JSON errors,
//! create / fetch / update / list calls, and recording downloads.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use parley_twilio::callbacks::format_timestamp;
use parley_twilio::rest::Call;
use parley_twilio::CallStatus;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::callbacks::CallFacts;
use super::lifecycle::{self, CallContext};
use super::params::{parse_create, ApiError, Form};
use super::store::{new_sid, CallEntry, Control, SimCall, TwimlSource};
use super::Shared;

const API: &str = "/2010-04-01";
const CONTROL_QUEUE: usize = 4;
/// How long an update waits for the call to apply it before answering anyway.
const UPDATE_ACK_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 1000;
/// Per started minute, as Twilio prices US outbound calls (illustrative).
const PRICE_PER_MINUTE: f64 = 0.014;

type AppState = Arc<Shared>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status,
        });
        (status, Json(body)).into_response()
    }
}

pub(crate) fn router(shared: AppState) -> Router {
    Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Calls.json",
            get(list_calls).post(create_call),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Calls/{file}",
            get(fetch_call).post(update_call),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Recordings/{file}",
            get(fetch_recording),
        )
        .route(
            "/2010-04-01/Accounts/{file}",
            get(super::numbers::fetch_account),
        )
        .route(
            "/2010-04-01/Accounts/{account}/IncomingPhoneNumbers.json",
            get(super::numbers::list_numbers),
        )
        .route(
            "/2010-04-01/Accounts/{account}/OutgoingCallerIds.json",
            get(super::numbers::list_numbers),
        )
        .fallback(not_found)
        .with_state(shared)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(uri.path())
}

/// Basic auth with the account SID and token (401 / 20003), then the path's account must
/// be that account (404 / 20404).
pub(super) fn authorize(
    shared: &Shared,
    headers: &HeaderMap,
    account: &str,
    path: &str,
) -> Result<(), ApiError> {
    let denied = || ApiError::new(401, 20003, "Authenticate");
    let encoded = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .ok_or_else(denied)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| denied())?;
    let decoded = String::from_utf8(decoded).map_err(|_| denied())?;
    let (user, password) = decoded.split_once(':').ok_or_else(denied)?;
    let config = &shared.config;
    if user != config.account_sid || password != config.auth_token {
        return Err(denied());
    }
    if account != config.account_sid {
        return Err(ApiError::not_found(path));
    }
    Ok(())
}

/// Where this simulator is reachable, for absolute URLs it hands out.
pub(super) fn api_base(shared: &Shared, headers: &HeaderMap) -> String {
    if let Some(base) = shared.base_url.get() {
        return base.clone();
    }
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(
            || "https://api.twilio.com".to_owned(),
            |h| format!("http://{h}"),
        )
}

pub(super) fn formatted(number: &str) -> String {
    match number.strip_prefix("+1") {
        Some(national) if national.len() == 10 && national.bytes().all(|b| b.is_ascii_digit()) => {
            format!(
                "({}) {}-{}",
                &national[..3],
                &national[3..6],
                &national[6..]
            )
        }
        _ => number.to_owned(),
    }
}

fn rfc2822(time: Option<DateTime<Utc>>) -> Option<String> {
    time.as_ref().map(format_timestamp)
}

/// The Call resource (A.3) for a stored call.
fn resource(account_sid: &str, entry: &CallEntry) -> Call {
    let call = &entry.summary;
    let uri = format!("{API}/Accounts/{account_sid}/Calls/{}", call.sid);
    let subresources = [
        "notifications",
        "recordings",
        "payments",
        "events",
        "siprec",
        "streams",
        "transcriptions",
        "user_defined_message_subscriptions",
        "user_defined_messages",
    ]
    .iter()
    .map(|name| {
        let file = match *name {
            "user_defined_message_subscriptions" => "UserDefinedMessageSubscriptions".to_owned(),
            "user_defined_messages" => "UserDefinedMessages".to_owned(),
            "siprec" => "Siprec".to_owned(),
            other => {
                let mut chars = other.chars();
                chars
                    .next()
                    .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
            }
        };
        ((*name).to_owned(), format!("{uri}/{file}.json"))
    })
    .collect();
    let answered_secs = call.answered.and(call.duration_secs);
    let price = answered_secs
        .map(|secs| format!("{:.5}", -(f64::from(secs.div_ceil(60)) * PRICE_PER_MINUTE)));
    let updated = call
        .ended
        .or(call.answered)
        .or(call.started)
        .unwrap_or(call.created);
    Call {
        sid: call.sid.clone(),
        account_sid: account_sid.to_owned(),
        date_created: rfc2822(Some(call.created)),
        date_updated: rfc2822(Some(updated)),
        parent_call_sid: None,
        to: call.to.clone(),
        to_formatted: Some(formatted(&call.to)),
        from: call.from.clone(),
        from_formatted: Some(formatted(&call.from)),
        phone_number_sid: Some(format!("PN{}", &account_sid[2.min(account_sid.len())..])),
        status: call.status,
        start_time: rfc2822(call.started),
        end_time: rfc2822(call.ended),
        duration: call.ended.map(|_| answered_secs.unwrap_or(0).to_string()),
        price,
        price_unit: Some("USD".into()),
        direction: Some("outbound-api".into()),
        answered_by: call.answered_by.map(|a| a.as_str().to_owned()),
        api_version: Some("2010-04-01".into()),
        forwarded_from: None,
        caller_name: None,
        group_sid: None,
        trunk_sid: None,
        queue_time: Some(entry.queue_time_ms.to_string()),
        uri: Some(format!("{uri}.json")),
        subresource_uris: Some(subresources),
    }
}

fn call_json(shared: &Shared, sid: &str, path: &str) -> Result<Json<Call>, ApiError> {
    let store = shared.store.lock().expect("store lock");
    let entry = store.get(sid).ok_or_else(|| ApiError::not_found(path))?;
    Ok(Json(resource(&shared.config.account_sid, entry)))
}

async fn create_call(
    State(shared): State<AppState>,
    Path(account): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Call>), ApiError> {
    authorize(&shared, &headers, &account, uri.path())?;
    let request = parse_create(&Form::parse(&body))?;
    let config = &shared.config;
    let owned = |n: &String| *n == request.from;
    if !request.from.starts_with("client:")
        && !config.numbers.iter().any(owned)
        && !config.verified_caller_ids.iter().any(owned)
    {
        return Err(ApiError::bad_request(
            21210,
            format!("The source phone number provided, {}, is not yet verified for your account. You may only make calls from phone numbers that you've verified or purchased from Twilio.", request.from),
        ));
    }

    let now = tokio::time::Instant::now();
    let dial_at = {
        let mut pacer = shared.pacer.lock().expect("pacer lock");
        pacer.reserve(now, shared.config.dial_interval())
    };
    let queue_time_ms = dial_at.saturating_duration_since(now).as_millis() as u64;
    let sid = new_sid("CA");
    let summary = SimCall {
        sid: sid.clone(),
        to: request.to.clone(),
        from: request.from.clone(),
        status: CallStatus::Queued,
        answered_by: None,
        created: Utc::now(),
        started: None,
        answered: None,
        ended: None,
        duration_secs: None,
        twiml_requested: None,
        stream_connected: false,
        stream_started: None,
        first_app_audio: None,
        stream_close_code: None,
        recording_sid: None,
        end_reason: None,
        callee_lines_spoken: 0,
        dialed: Vec::new(),
        whispers: Vec::new(),
        dial_results: Vec::new(),
    };
    let facts = CallFacts {
        sid: sid.clone(),
        account_sid: shared.config.account_sid.clone(),
        to: request.to.clone(),
        from: request.from.clone(),
        api_base: api_base(&shared, &headers),
    };
    let (control_tx, control_rx) = mpsc::channel(CONTROL_QUEUE);
    let call = {
        let mut store = shared.store.lock().expect("store lock");
        store.insert(summary, queue_time_ms, control_tx);
        let entry = store.get(&sid).expect("just inserted");
        resource(&shared.config.account_sid, entry)
    };
    // Each call gets its own deterministic chaos stream.
    let index = shared.call_counter.fetch_add(1, Ordering::Relaxed);
    let chaos_seed = shared
        .config
        .chaos_seed
        .map(|seed| seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let ctx = CallContext::new(shared.clone(), facts, request, control_rx, chaos_seed);
    tokio::spawn(lifecycle::run(ctx, dial_at));
    Ok((StatusCode::CREATED, Json(call)))
}

/// `CA….json` -> `CA…`.
fn sid_from_file<'a>(file: &'a str, path: &str) -> Result<&'a str, ApiError> {
    file.strip_suffix(".json")
        .ok_or_else(|| ApiError::not_found(path))
}

async fn fetch_call(
    State(shared): State<AppState>,
    Path((account, file)): Path<(String, String)>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Json<Call>, ApiError> {
    authorize(&shared, &headers, &account, uri.path())?;
    let sid = sid_from_file(&file, uri.path())?;
    call_json(&shared, sid, uri.path())
}

async fn update_call(
    State(shared): State<AppState>,
    Path((account, file)): Path<(String, String)>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Call>, ApiError> {
    let path = uri.path();
    authorize(&shared, &headers, &account, path)?;
    let sid = sid_from_file(&file, path)?;
    let form = Form::parse(&body);

    let (ack_tx, ack_rx) = oneshot::channel();
    let redirect = match (form.get("Url"), form.get("Twiml")) {
        (Some(url), _) => {
            if !url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
                return Err(ApiError::bad_request(
                    21205,
                    format!("Url is not a valid URL: {url}"),
                ));
            }
            Some(TwimlSource::Url {
                url: url.to_owned(),
                method_get: form
                    .get("Method")
                    .is_some_and(|m| m.eq_ignore_ascii_case("GET")),
            })
        }
        (None, Some(twiml)) => Some(TwimlSource::Inline(twiml.to_owned())),
        (None, None) => None,
    };
    let control = match (form.get("Status"), redirect) {
        (Some("completed"), _) => Some(Control::HangUp(ack_tx)),
        (Some("canceled"), _) => Some(Control::Cancel(ack_tx)),
        (Some(other), _) => {
            return Err(ApiError::bad_request(
                20001,
                format!("Status must be canceled or completed, got {other}"),
            ))
        }
        (None, Some(source)) => Some(Control::Redirect(source, ack_tx)),
        (None, None) => None,
    };

    let sender = {
        let store = shared.store.lock().expect("store lock");
        let entry = store.get(sid).ok_or_else(|| ApiError::not_found(path))?;
        entry.control.clone()
    };
    match (control, sender) {
        (Some(control @ Control::Redirect(..)), None) => {
            drop(control);
            Err(ApiError::bad_request(
                21220,
                "Unable to update record: Call is not in-progress. Cannot redirect.",
            ))
        }
        (Some(control), Some(sender)) => {
            // The call may end meanwhile; then its current state is the answer.
            if sender.send(control).await.is_ok() {
                let _ = tokio::time::timeout(UPDATE_ACK_TIMEOUT, ack_rx).await;
            }
            call_json(&shared, sid, path)
        }
        // Hanging up an ended call, or changing nothing: the resource as it is.
        _ => call_json(&shared, sid, path),
    }
}

/// A `StartTime` filter bound.
#[derive(Clone, Copy)]
enum Bound {
    From(DateTime<Utc>),
    To(DateTime<Utc>),
}

/// Parses `2025-11-24` or `2025-11-24T10:00:00Z`; a bare date as an upper bound includes
/// the whole day.
fn parse_time(value: &str, upper: bool) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Some(time.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    let time = if upper {
        date.and_hms_opt(23, 59, 59)?
    } else {
        date.and_hms_opt(0, 0, 0)?
    };
    Some(time.and_utc())
}

fn start_time_bounds(form: &Form) -> Result<Vec<Bound>, ApiError> {
    let mut bounds = Vec::new();
    for (key, value) in &form.0 {
        let invalid = || ApiError::bad_request(20001, format!("Invalid {key}: {value}"));
        // `StartTime>=x` arrives as the key `StartTime>` unless the `=` was encoded.
        match key.as_str() {
            "StartTime>" | "StartTime>=" => {
                bounds.push(Bound::From(parse_time(value, false).ok_or_else(invalid)?));
            }
            "StartTime<" | "StartTime<=" => {
                bounds.push(Bound::To(parse_time(value, true).ok_or_else(invalid)?));
            }
            "StartTime" => {
                bounds.push(Bound::From(parse_time(value, false).ok_or_else(invalid)?));
                bounds.push(Bound::To(parse_time(value, true).ok_or_else(invalid)?));
            }
            _ => {}
        }
    }
    Ok(bounds)
}

async fn list_calls(
    State(shared): State<AppState>,
    Path(account): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    let path = uri.path();
    authorize(&shared, &headers, &account, path)?;
    let form = Form::parse(query.as_deref().unwrap_or("").as_bytes());
    let bounds = start_time_bounds(&form)?;
    let to = form.get("To");
    let from = form.get("From");
    let status = form.get("Status");
    let page_size = form
        .get("PageSize")
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE);
    let page: u32 = form.get("Page").and_then(|s| s.parse().ok()).unwrap_or(0);
    // `PA<seq>`: continue after the call with this creation number.
    let after: Option<u64> = form
        .get("PageToken")
        .and_then(|t| t.strip_prefix("PA"))
        .and_then(|n| n.parse().ok());

    let matches = |call: &SimCall| {
        to.is_none_or(|to| call.to == to)
            && from.is_none_or(|from| call.from == from)
            && status.is_none_or(|status| call.status.as_str() == status)
            && bounds.iter().all(|bound| match (bound, call.started) {
                (Bound::From(t), Some(started)) => started >= *t,
                (Bound::To(t), Some(started)) => started <= *t,
                (_, None) => false,
            })
    };
    let (calls, last_seq, more) = {
        let store = shared.store.lock().expect("store lock");
        let mut selected = store
            .newest_first()
            .filter(|entry| after.is_none_or(|seq| entry.seq < seq))
            .filter(|entry| matches(&entry.summary));
        let page_entries: Vec<&CallEntry> = selected.by_ref().take(page_size).collect();
        let more = selected.next().is_some();
        let last_seq = page_entries.last().map(|e| e.seq);
        let calls: Vec<Call> = page_entries
            .into_iter()
            .map(|entry| resource(&shared.config.account_sid, entry))
            .collect();
        (calls, last_seq, more)
    };

    let filters: Vec<(&str, &str)> = form
        .0
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "PageSize" | "Page" | "PageToken"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let page_uri = |page: u32, token: Option<u64>| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(&filters);
        query.append_pair("PageSize", &page_size.to_string());
        query.append_pair("Page", &page.to_string());
        if let Some(seq) = token {
            query.append_pair("PageToken", &format!("PA{seq}"));
        }
        format!("{path}?{}", query.finish())
    };
    let start = page as usize * page_size;
    let end = (start + calls.len()).saturating_sub(1);
    let next_page_uri = match (more, last_seq) {
        (true, Some(seq)) => Some(page_uri(page + 1, Some(seq))),
        _ => None,
    };
    Ok(Json(json!({
        "calls": calls,
        "start": start,
        "end": end,
        "page": page,
        "page_size": page_size,
        "first_page_uri": page_uri(0, None),
        "previous_page_uri": serde_json::Value::Null,
        "next_page_uri": next_page_uri,
        "uri": format!("{path}?{}", query.unwrap_or_default()),
    })))
}

async fn fetch_recording(
    State(shared): State<AppState>,
    Path((account, file)): Path<(String, String)>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let path = uri.path();
    authorize(&shared, &headers, &account, path)?;
    let (sid, extension) = file.split_once('.').unwrap_or((file.as_str(), ""));
    let recording = shared
        .store
        .lock()
        .expect("store lock")
        .recording(sid)
        .ok_or_else(|| ApiError::not_found(path))?;
    match extension {
        "" | "wav" => {
            let wav = recording.to_wav().map_err(|error| {
                tracing::warn!(%error, "twilio sim: recording not encodable");
                ApiError::new(500, 20500, "Internal Server Error")
            })?;
            Ok(([(header::CONTENT_TYPE, "audio/x-wav")], wav).into_response())
        }
        "json" => {
            let base = api_base(&shared, &headers);
            let account_sid = &shared.config.account_sid;
            let started = format_timestamp(&recording.started);
            Ok(Json(json!({
                "account_sid": account_sid,
                "api_version": "2010-04-01",
                "call_sid": recording.call_sid,
                "conference_sid": null,
                "channels": recording.channels(),
                "date_created": started,
                "date_updated": started,
                "start_time": started,
                "duration": recording.duration_secs().to_string(),
                "price": null,
                "price_unit": "USD",
                "sid": recording.sid,
                "source": "OutboundAPI",
                "status": "completed",
                "error_code": null,
                "encryption_details": null,
                "track": "both",
                "uri": format!("{API}/Accounts/{account_sid}/Recordings/{}.json", recording.sid),
                "media_url": format!("{base}{API}/Accounts/{account_sid}/Recordings/{}", recording.sid),
            }))
            .into_response())
        }
        _ => Err(ApiError::not_found(path)),
    }
}
