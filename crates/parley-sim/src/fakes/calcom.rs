//! A fake of Cal.com API v2 for one event type: `GET /v2/slots` (`cal-api-version:
//! 2024-09-04`) lists free start times, `POST /v2/bookings` (`cal-api-version:
//! 2024-08-13`, `Authorization: Bearer <api key>`) books one. Availability: every day
//! 08:00-18:00 UTC in 30-minute slots; a booked slot is no longer offered and booking it
//! again fails as Cal.com does.
use super::{serve, RunningFake};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub const SLOTS_API_VERSION: &str = "2024-09-04";
pub const BOOKINGS_API_VERSION: &str = "2024-08-13";
const SLOT_MINUTES: i64 = 30;
const OPEN_HOUR: u32 = 8;
const CLOSE_HOUR: u32 = 18;
/// More days than this in one slots request are refused (keeps answers small).
const MAX_RANGE_DAYS: i64 = 62;

#[derive(Debug, Clone)]
pub struct FakeCalcomConfig {
    pub api_key: String,
    pub event_type_id: i64,
}

impl Default for FakeCalcomConfig {
    fn default() -> Self {
        FakeCalcomConfig {
            api_key: "cal_sandbox_key".into(),
            event_type_id: 1001,
        }
    }
}

/// A booking the fake accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeBooking {
    pub id: i64,
    pub uid: String,
    pub start: DateTime<Utc>,
    pub name: String,
    pub email: String,
    pub time_zone: String,
    pub notes: Option<String>,
}

#[derive(Clone)]
pub struct FakeCalcom {
    config: Arc<FakeCalcomConfig>,
    bookings: Arc<Mutex<Vec<FakeBooking>>>,
}

impl FakeCalcom {
    pub fn new(config: FakeCalcomConfig) -> Self {
        FakeCalcom {
            config: Arc::new(config),
            bookings: Arc::default(),
        }
    }

    pub fn config(&self) -> &FakeCalcomConfig {
        &self.config
    }

    pub fn bookings(&self) -> Vec<FakeBooking> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<FakeBooking>> {
        self.bookings.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/v2/slots", get(slots))
            .route("/v2/bookings", post(book))
            .with_state(self.clone())
    }

    pub async fn spawn(
        config: FakeCalcomConfig,
        addr: SocketAddr,
    ) -> std::io::Result<RunningFake<FakeCalcom>> {
        let fake = FakeCalcom::new(config);
        serve("calcom", fake.router(), fake.clone(), addr).await
    }

    fn is_free(&self, start: DateTime<Utc>) -> bool {
        is_slot(start) && !self.lock().iter().any(|b| b.start == start)
    }
}

/// Whether `start` begins one of the offered slots.
fn is_slot(start: DateTime<Utc>) -> bool {
    let time = start.time();
    let open = NaiveTime::from_hms_opt(OPEN_HOUR, 0, 0).expect("valid time");
    let last = NaiveTime::from_hms_opt(CLOSE_HOUR, 0, 0).expect("valid time")
        - Duration::minutes(SLOT_MINUTES);
    time >= open
        && time <= last
        && start.timestamp() % (SLOT_MINUTES * 60) == 0
        && start.timestamp_subsec_nanos() == 0
}

/// Cal.com's error envelope.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"status": "error", "timestamp": Utc::now().to_rfc3339(), "path": "", "error": {"code": code, "message": message}});
    (status, Json(body)).into_response()
}

/// The error answer when the `cal-api-version` header is not `expected`.
fn wrong_version(headers: &HeaderMap, expected: &str) -> Option<Response> {
    match headers.get("cal-api-version").and_then(|v| v.to_str().ok()) {
        Some(v) if v == expected => None,
        _ => Some(error(
            StatusCode::BAD_REQUEST,
            "BadRequestException",
            &format!("cal-api-version header must be {expected}"),
        )),
    }
}

/// The error answer when the bearer API key is missing or wrong.
fn unauthorized(fake: &FakeCalcom, headers: &HeaderMap) -> Option<Response> {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    (given != Some(fake.config.api_key.as_str())).then(|| {
        error(
            StatusCode::UNAUTHORIZED,
            "UnauthorizedException",
            "Invalid Access Token.",
        )
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SlotsQuery {
    event_type_id: Option<i64>,
    start: Option<String>,
    end: Option<String>,
    time_zone: Option<String>,
}

/// `start`/`end` as Cal.com reads them: a date (`2050-09-05`) or an ISO 8601 instant.
fn parse_bound(s: &str, end: bool) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let day = if end { date.succ_opt()? } else { date };
    Some(day.and_time(NaiveTime::MIN).and_utc())
}

async fn slots(
    State(fake): State<FakeCalcom>,
    headers: HeaderMap,
    Query(q): Query<SlotsQuery>,
) -> Response {
    if let Some(r) = wrong_version(&headers, SLOTS_API_VERSION) {
        return r;
    }
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, "BadRequestException", m);
    if q.event_type_id != Some(fake.config.event_type_id) {
        return error(
            StatusCode::NOT_FOUND,
            "NotFoundException",
            "Event type not found",
        );
    }
    let (Some(start), Some(end)) = (
        q.start.as_deref().and_then(|s| parse_bound(s, false)),
        q.end.as_deref().and_then(|s| parse_bound(s, true)),
    ) else {
        return bad("start and end must be dates or ISO 8601 times");
    };
    if end <= start || end - start > Duration::days(MAX_RANGE_DAYS) {
        return bad("the range must be positive and at most 62 days");
    }
    let zone: Tz = match q.time_zone.as_deref().unwrap_or("UTC").parse() {
        Ok(zone) => zone,
        Err(_) => return bad("timeZone must be an IANA time zone"),
    };
    let now = Utc::now();
    let step = Duration::minutes(SLOT_MINUTES);
    let mut at = DateTime::from_timestamp(
        start.timestamp().div_euclid(step.num_seconds()) * step.num_seconds(),
        0,
    )
    .unwrap_or(start);
    let mut days: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    while at < end {
        if at >= start && at > now && fake.is_free(at) {
            let local = at.with_timezone(&zone);
            days.entry(local.date_naive().to_string())
                .or_default()
                .push(json!({"start": local.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()}));
        }
        at += step;
    }
    Json(json!({"status": "success", "data": days})).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BookingRequest {
    start: String,
    event_type_id: i64,
    attendee: Attendee,
    #[serde(default)]
    booking_fields_responses: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Attendee {
    name: String,
    email: String,
    time_zone: String,
}

async fn book(
    State(fake): State<FakeCalcom>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = wrong_version(&headers, BOOKINGS_API_VERSION) {
        return r;
    }
    if let Some(r) = unauthorized(&fake, &headers) {
        return r;
    }
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, "BadRequestException", m);
    let request: BookingRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad(&e.to_string()),
    };
    if request.event_type_id != fake.config.event_type_id {
        return error(
            StatusCode::NOT_FOUND,
            "NotFoundException",
            "Event type not found",
        );
    }
    let Ok(start) = DateTime::parse_from_rfc3339(&request.start) else {
        return bad("start must be an ISO 8601 time");
    };
    let start = start.with_timezone(&Utc);
    if request.attendee.name.trim().is_empty() || !request.attendee.email.contains('@') {
        return bad("attendee name and a valid email are required");
    }
    if request.attendee.time_zone.parse::<Tz>().is_err() {
        return bad("attendee.timeZone must be an IANA time zone");
    }
    let booking = {
        let mut bookings = fake.lock();
        let taken = bookings.iter().any(|b| b.start == start);
        if taken || !is_slot(start) || start <= Utc::now() {
            return bad("User either already has booking at this time or is not available");
        }
        let booking = FakeBooking {
            id: bookings.len() as i64 + 1,
            uid: format!("bk_{}", uuid::Uuid::new_v4().simple()),
            start,
            name: request.attendee.name,
            email: request.attendee.email,
            time_zone: request.attendee.time_zone,
            notes: request
                .booking_fields_responses
                .get("notes")
                .and_then(Value::as_str)
                .map(str::to_owned),
        };
        bookings.push(booking.clone());
        booking
    };
    let end = booking.start + Duration::minutes(SLOT_MINUTES);
    let data = json!({
        "id": booking.id,
        "uid": booking.uid,
        "title": format!("Consultation between Parley and {}", booking.name),
        "status": "accepted",
        "start": booking.start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "end": end.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "duration": SLOT_MINUTES,
        "eventTypeId": fake.config.event_type_id,
        "attendees": [{"name": booking.name, "email": booking.email, "timeZone": booking.time_zone, "absent": false}],
        "createdAt": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    (
        StatusCode::CREATED,
        Json(json!({"status": "success", "data": data})),
    )
        .into_response()
}
