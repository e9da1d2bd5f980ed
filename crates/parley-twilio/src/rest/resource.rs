//! The Call resource JSON (reference A.3) and list pages.
//!
//! Numbers are kept as the strings Twilio sends (`duration`, `price`, `queue_time`) with
//! typed accessors; not-yet-known fields may be `null` or `""`, both read as `None`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::callbacks::{AnsweredBy, CallStatus};

/// A Twilio Call resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub sid: String,
    pub account_sid: String,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub date_created: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub date_updated: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub parent_call_sid: Option<String>,
    pub to: String,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub to_formatted: Option<String>,
    pub from: String,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub from_formatted: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub phone_number_sid: Option<String>,
    /// Never `initiated` on the resource.
    pub status: CallStatus,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub start_time: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub end_time: Option<String>,
    /// Seconds, as a decimal string.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub duration: Option<String>,
    /// e.g. `"-0.03000"`; filled in some time after completion.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub price: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub price_unit: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub direction: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub answered_by: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub api_version: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub forwarded_from: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub caller_name: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub group_sid: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub trunk_sid: Option<String>,
    /// Estimated milliseconds in Twilio's CPS queue, as a decimal string.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub queue_time: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub uri: Option<String>,
    #[serde(default)]
    pub subresource_uris: Option<BTreeMap<String, String>>,
}

impl Call {
    pub fn duration_secs(&self) -> Option<u32> {
        self.duration.as_deref()?.parse().ok()
    }

    pub fn queue_time_ms(&self) -> Option<u64> {
        self.queue_time.as_deref()?.parse().ok()
    }

    /// Price as a number (negative: a charge).
    pub fn price_value(&self) -> Option<f64> {
        self.price.as_deref()?.parse().ok()
    }

    pub fn start_time_utc(&self) -> Option<DateTime<Utc>> {
        parse_rfc2822(self.start_time.as_deref()?)
    }

    pub fn end_time_utc(&self) -> Option<DateTime<Utc>> {
        parse_rfc2822(self.end_time.as_deref()?)
    }

    pub fn date_created_utc(&self) -> Option<DateTime<Utc>> {
        parse_rfc2822(self.date_created.as_deref()?)
    }

    pub fn answered_by_typed(&self) -> Option<AnsweredBy> {
        self.answered_by.as_deref()?.parse().ok()
    }
}

fn parse_rfc2822(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// One page of `GET .../Calls.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallPage {
    pub calls: Vec<Call>,
    /// Relative URI of the next page (`/2010-04-01/...`), `None` on the last page.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub next_page_uri: Option<String>,
    #[serde(default)]
    pub page: Option<u32>,
    #[serde(default)]
    pub page_size: Option<u32>,
}

pub(crate) fn empty_as_none<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(deserializer)?;
    Ok(value.filter(|s| !s.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const NEW_CALL: &str = r#"{
      "account_sid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "answered_by": null,
      "api_version": "2010-04-01",
      "caller_name": null,
      "date_created": "Mon, 24 Nov 2025 10:00:00 +0000",
      "date_updated": "Mon, 24 Nov 2025 10:00:00 +0000",
      "direction": "outbound-api",
      "duration": null,
      "end_time": null,
      "forwarded_from": null,
      "from": "+15017122661",
      "from_formatted": "(501) 712-2661",
      "group_sid": null,
      "parent_call_sid": null,
      "phone_number_sid": "PNaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "price": null,
      "price_unit": "USD",
      "queue_time": "0",
      "sid": "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "start_time": null,
      "status": "queued",
      "subresource_uris": {
        "recordings": "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Calls/CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Recordings.json",
        "streams": "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Calls/CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Streams.json"
      },
      "to": "+15558675310",
      "to_formatted": "(555) 867-5310",
      "trunk_sid": null,
      "uri": "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Calls/CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json"
    }"#;

    #[test]
    fn parses_the_reference_new_call() {
        let call: Call = serde_json::from_str(NEW_CALL).unwrap();
        assert_eq!(call.sid, "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        assert_eq!(call.status, CallStatus::Queued);
        assert_eq!(call.direction.as_deref(), Some("outbound-api"));
        assert_eq!(call.queue_time_ms(), Some(0));
        assert_eq!(call.duration_secs(), None);
        assert_eq!(call.start_time_utc(), None);
        assert_eq!(
            call.date_created_utc().unwrap().to_rfc3339(),
            "2025-11-24T10:00:00+00:00"
        );
        assert_eq!(call.subresource_uris.as_ref().unwrap().len(), 2);
    }

    #[test]
    fn empty_strings_read_as_absent_and_numbers_stay_strings() {
        let json = NEW_CALL
            .replace(r#""duration": null"#, r#""duration": """#)
            .replace(r#""start_time": null"#, r#""start_time": """#);
        let call: Call = serde_json::from_str(&json).unwrap();
        assert_eq!(call.duration, None);
        assert_eq!(call.start_time, None);

        let ended = NEW_CALL
            .replace(r#""status": "queued""#, r#""status": "completed""#)
            .replace(r#""duration": null"#, r#""duration": "49""#)
            .replace(r#""price": null"#, r#""price": "-0.03000""#)
            .replace(
                r#""answered_by": null"#,
                r#""answered_by": "machine_start""#,
            )
            .replace(
                r#""start_time": null"#,
                r#""start_time": "Mon, 24 Nov 2025 10:00:05 +0000""#,
            );
        let call: Call = serde_json::from_str(&ended).unwrap();
        assert_eq!(call.duration.as_deref(), Some("49"));
        assert_eq!(call.duration_secs(), Some(49));
        assert_eq!(call.price_value(), Some(-0.03));
        assert_eq!(call.answered_by_typed(), Some(AnsweredBy::MachineStart));
        assert!(call.status.is_terminal());
        assert_eq!(call.start_time_utc().unwrap().timestamp(), 1_763_978_405);
    }

    #[test]
    fn serializes_back_with_string_numbers() {
        let call: Call = serde_json::from_str(NEW_CALL).unwrap();
        let value = serde_json::to_value(&call).unwrap();
        assert_eq!(value["queue_time"], "0");
        assert_eq!(value["status"], "queued");
        assert_eq!(serde_json::from_value::<Call>(value).unwrap(), call);
    }

    #[test]
    fn parses_a_list_page() {
        let json = format!(
            r#"{{"calls": [{NEW_CALL}], "next_page_uri": "/2010-04-01/Accounts/AC1/Calls.json?PageSize=1&Page=1&PageToken=PA1",
                "page": 0, "page_size": 1, "first_page_uri": "/x", "previous_page_uri": null, "start": 0, "end": 0,
                "uri": "/2010-04-01/Accounts/AC1/Calls.json?PageSize=1"}}"#
        );
        let page: CallPage = serde_json::from_str(&json).unwrap();
        assert_eq!(page.calls.len(), 1);
        assert_eq!(
            page.next_page_uri.as_deref(),
            Some("/2010-04-01/Accounts/AC1/Calls.json?PageSize=1&Page=1&PageToken=PA1")
        );
        let last: CallPage =
            serde_json::from_str(r#"{"calls": [], "next_page_uri": null}"#).unwrap();
        assert_eq!(last.next_page_uri, None);
    }

    #[test]
    fn rejects_an_unknown_status() {
        let json = NEW_CALL.replace(r#""status": "queued""#, r#""status": "initiating""#);
        assert!(serde_json::from_str::<Call>(&json).is_err());
    }
}
