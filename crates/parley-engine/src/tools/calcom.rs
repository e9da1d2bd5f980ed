//! Cal.com API v2 client: free slots of one event type, and booking one.
use crate::settings::CalcomSettings;
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use chrono_tz::Tz;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

const SLOTS_API_VERSION: &str = "2024-09-04";
const BOOKINGS_API_VERSION: &str = "2024-08-13";
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum CalcomError {
    #[error("Cal.com is not configured (tools.calcom.api_key and event_type_id)")]
    NotConfigured,
    #[error("Cal.com could not be reached: {0}")]
    Unreachable(#[from] reqwest::Error),
    /// Cal.com refused the booking: the slot is taken or not offered.
    #[error("Cal.com refused: {0}")]
    Refused(String),
    #[error("Cal.com answered {status}: {message}")]
    Failed { status: u16, message: String },
}

pub struct Calcom {
    http: reqwest::Client,
    base: String,
    api_key: Option<SecretString>,
    event_type_id: Option<i64>,
}

/// A booking Cal.com confirmed.
#[derive(Debug, Clone, Deserialize)]
pub struct Booking {
    pub uid: String,
    pub start: DateTime<FixedOffset>,
}

pub struct Attendee<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub zone: Tz,
    pub notes: Option<&'a str>,
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct Slot {
    start: DateTime<FixedOffset>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    message: String,
}

impl Calcom {
    pub fn new(settings: &CalcomSettings) -> Calcom {
        Calcom {
            http: reqwest::Client::builder()
                .timeout(TIMEOUT)
                .build()
                .unwrap_or_default(),
            base: settings
                .api_base_url
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
            api_key: settings.api_key.clone(),
            event_type_id: settings.event_type_id,
        }
    }

    fn credentials(&self) -> Result<(&SecretString, i64), CalcomError> {
        match (&self.api_key, self.event_type_id) {
            (Some(key), Some(id)) => Ok((key, id)),
            _ => Err(CalcomError::NotConfigured),
        }
    }

    /// Free start times from `from` through `to` (local dates of `zone`), in order.
    pub async fn free_slots(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        zone: Tz,
    ) -> Result<Vec<DateTime<Utc>>, CalcomError> {
        let (key, event_type_id) = self.credentials()?;
        let response = self
            .http
            .get(format!("{}/v2/slots", self.base))
            .bearer_auth(key.expose_secret())
            .header("cal-api-version", SLOTS_API_VERSION)
            .query(&[
                ("eventTypeId", event_type_id.to_string()),
                ("start", from.to_string()),
                ("end", to.to_string()),
                ("timeZone", zone.name().to_owned()),
            ])
            .send()
            .await?;
        let days: Envelope<BTreeMap<String, Vec<Slot>>> = read(response).await?.json().await?;
        let mut slots: Vec<DateTime<Utc>> = days
            .data
            .into_values()
            .flatten()
            .map(|s| s.start.with_timezone(&Utc))
            .collect();
        slots.sort();
        Ok(slots)
    }

    pub async fn book(
        &self,
        start: DateTime<Utc>,
        attendee: &Attendee<'_>,
    ) -> Result<Booking, CalcomError> {
        let (key, event_type_id) = self.credentials()?;
        let mut body = serde_json::json!({
            "start": start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "eventTypeId": event_type_id,
            "attendee": {
                "name": attendee.name,
                "email": attendee.email,
                "timeZone": attendee.zone.name(),
            },
        });
        if let Some(notes) = attendee.notes {
            body["bookingFieldsResponses"] = serde_json::json!({ "notes": notes });
        }
        let response = self
            .http
            .post(format!("{}/v2/bookings", self.base))
            .bearer_auth(key.expose_secret())
            .header("cal-api-version", BOOKINGS_API_VERSION)
            .json(&body)
            .send()
            .await?;
        let booking: Envelope<Booking> = read(response).await?.json().await?;
        Ok(booking.data)
    }
}

/// The response if it succeeded; else Cal.com's error message, a 400 meaning refused.
async fn read(response: reqwest::Response) -> Result<reqwest::Response, CalcomError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<ErrorEnvelope>(&text)
        .map(|e| e.error.message)
        .unwrap_or(text);
    match status.as_u16() {
        400 | 409 => Err(CalcomError::Refused(message)),
        code => Err(CalcomError::Failed {
            status: code,
            message,
        }),
    }
}
