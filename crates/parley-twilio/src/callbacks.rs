//! Typed Twilio voice callbacks parsed from form parameters (reference B.3-B.5), plus the
//! inverse (`to_params`) so a simulator can send exactly what Twilio sends.
//!
//! Twilio sends every value as a string; empty values are treated as absent.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a callback could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("missing callback parameter `{0}`")]
    Missing(&'static str),
    #[error("invalid value {value:?} for callback parameter `{field}`")]
    Invalid { field: &'static str, value: String },
}

/// Read access to decoded form parameters, whatever container the server framework uses.
pub trait FormParams {
    /// The first value of `name`, if present.
    fn param(&self, name: &str) -> Option<&str>;
}

impl<S: BuildHasher> FormParams for HashMap<String, String, S> {
    fn param(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl FormParams for [(String, String)] {
    fn param(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

impl FormParams for Vec<(String, String)> {
    fn param(&self, name: &str) -> Option<&str> {
        self.as_slice().param(name)
    }
}

fn optional<'a, P: FormParams + ?Sized>(params: &'a P, name: &str) -> Option<&'a str> {
    params.param(name).filter(|value| !value.is_empty())
}

fn required<'a, P: FormParams + ?Sized>(
    params: &'a P,
    name: &'static str,
) -> Result<&'a str, CallbackError> {
    optional(params, name).ok_or(CallbackError::Missing(name))
}

fn parsed<P: FormParams + ?Sized, T: FromStr>(
    params: &P,
    name: &'static str,
) -> Result<Option<T>, CallbackError> {
    optional(params, name)
        .map(|value| {
            value.parse().map_err(|_| CallbackError::Invalid {
                field: name,
                value: value.to_owned(),
            })
        })
        .transpose()
}

fn timestamp<P: FormParams + ?Sized>(
    params: &P,
    name: &'static str,
) -> Result<Option<DateTime<Utc>>, CallbackError> {
    optional(params, name)
        .map(|value| {
            DateTime::parse_from_rfc2822(value)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| CallbackError::Invalid {
                    field: name,
                    value: value.to_owned(),
                })
        })
        .transpose()
}

/// Builds `(name, value)` pairs, skipping absent values.
#[derive(Default)]
struct ParamsBuilder(Vec<(String, String)>);

impl ParamsBuilder {
    fn add(&mut self, name: &str, value: impl fmt::Display) {
        self.0.push((name.to_owned(), value.to_string()));
    }

    fn add_opt(&mut self, name: &str, value: Option<impl fmt::Display>) {
        if let Some(value) = value {
            self.add(name, value);
        }
    }
}

/// Twilio's RFC 2822 form, e.g. `Mon, 24 Nov 2025 10:00:05 +0000`.
pub fn format_timestamp(time: &DateTime<Utc>) -> String {
    time.to_rfc2822()
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// The exact wire value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(UnknownValue(other.to_owned())),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A string that is not one of an enum's wire values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value {0:?}")]
pub struct UnknownValue(pub String);

string_enum! {
    /// Call status as used by status callbacks and the Call resource (which never says
    /// `initiated`).
    CallStatus {
        Queued = "queued",
        Initiated = "initiated",
        Ringing = "ringing",
        InProgress = "in-progress",
        Completed = "completed",
        Busy = "busy",
        Failed = "failed",
        NoAnswer = "no-answer",
        Canceled = "canceled",
    }
}

impl CallStatus {
    /// Progress order: queued < initiated < ringing < in-progress < every terminal status.
    /// Callbacks arrive out of order; never move a call to a status of lower or equal rank.
    pub fn rank(self) -> u8 {
        match self {
            Self::Queued => 0,
            Self::Initiated => 1,
            Self::Ringing => 2,
            Self::InProgress => 3,
            Self::Completed | Self::Busy | Self::Failed | Self::NoAnswer | Self::Canceled => 4,
        }
    }

    pub fn is_terminal(self) -> bool {
        self.rank() == 4
    }

    /// Whether a call currently in `self` may move to `next`.
    pub fn can_advance_to(self, next: CallStatus) -> bool {
        next.rank() > self.rank()
    }
}

string_enum! {
    /// Answering-machine-detection verdict (`AnsweredBy`).
    AnsweredBy {
        Human = "human",
        MachineStart = "machine_start",
        MachineEndBeep = "machine_end_beep",
        MachineEndSilence = "machine_end_silence",
        MachineEndOther = "machine_end_other",
        Fax = "fax",
        Unknown = "unknown",
    }
}

impl AnsweredBy {
    pub fn is_machine(self) -> bool {
        matches!(
            self,
            Self::MachineStart
                | Self::MachineEndBeep
                | Self::MachineEndSilence
                | Self::MachineEndOther
        )
    }
}

string_enum! {
    /// `RecordingStatus` of a recording status callback.
    RecordingStatus {
        InProgress = "in-progress",
        Completed = "completed",
        Absent = "absent",
        Failed = "failed",
    }
}

/// A call-progress `StatusCallback` request (B.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCallback {
    pub account_sid: String,
    pub call_sid: String,
    pub call_status: CallStatus,
    /// Per-call event counter starting at 0; use it to order callbacks.
    pub sequence_number: Option<u32>,
    pub timestamp: Option<DateTime<Utc>>,
    /// Always `call-progress-events`.
    pub callback_source: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub direction: Option<String>,
    pub api_version: Option<String>,
    pub parent_call_sid: Option<String>,
    /// `CallDuration`: seconds, on the final event.
    pub call_duration_secs: Option<u32>,
    /// `Duration`: billed minutes (rounded up), on the final event.
    pub billed_minutes: Option<u32>,
    pub sip_response_code: Option<u16>,
    pub answered_by: Option<AnsweredBy>,
    pub recording_url: Option<String>,
    pub recording_sid: Option<String>,
    pub recording_duration_secs: Option<u32>,
    pub stir_status: Option<String>,
}

impl StatusCallback {
    pub fn from_params<P: FormParams + ?Sized>(params: &P) -> Result<Self, CallbackError> {
        Ok(Self {
            account_sid: required(params, "AccountSid")?.to_owned(),
            call_sid: required(params, "CallSid")?.to_owned(),
            call_status: parsed(params, "CallStatus")?
                .ok_or(CallbackError::Missing("CallStatus"))?,
            sequence_number: parsed(params, "SequenceNumber")?,
            timestamp: timestamp(params, "Timestamp")?,
            callback_source: optional(params, "CallbackSource").map(str::to_owned),
            from: optional(params, "From").map(str::to_owned),
            to: optional(params, "To").map(str::to_owned),
            direction: optional(params, "Direction").map(str::to_owned),
            api_version: optional(params, "ApiVersion").map(str::to_owned),
            parent_call_sid: optional(params, "ParentCallSid").map(str::to_owned),
            call_duration_secs: parsed(params, "CallDuration")?,
            billed_minutes: parsed(params, "Duration")?,
            sip_response_code: parsed(params, "SipResponseCode")?,
            answered_by: parsed(params, "AnsweredBy")?,
            recording_url: optional(params, "RecordingUrl").map(str::to_owned),
            recording_sid: optional(params, "RecordingSid").map(str::to_owned),
            recording_duration_secs: parsed(params, "RecordingDuration")?,
            stir_status: optional(params, "StirStatus").map(str::to_owned),
        })
    }

    /// The form parameters Twilio would send for this callback.
    pub fn to_params(&self) -> Vec<(String, String)> {
        let mut p = ParamsBuilder::default();
        p.add("AccountSid", &self.account_sid);
        p.add("CallSid", &self.call_sid);
        p.add("CallStatus", self.call_status);
        p.add_opt("SequenceNumber", self.sequence_number);
        p.add_opt("Timestamp", self.timestamp.as_ref().map(format_timestamp));
        p.add_opt("CallbackSource", self.callback_source.as_ref());
        p.add_opt("From", self.from.as_ref());
        p.add_opt("To", self.to.as_ref());
        p.add_opt("Direction", self.direction.as_ref());
        p.add_opt("ApiVersion", self.api_version.as_ref());
        p.add_opt("ParentCallSid", self.parent_call_sid.as_ref());
        p.add_opt("CallDuration", self.call_duration_secs);
        p.add_opt("Duration", self.billed_minutes);
        p.add_opt("SipResponseCode", self.sip_response_code);
        p.add_opt("AnsweredBy", self.answered_by);
        p.add_opt("RecordingUrl", self.recording_url.as_ref());
        p.add_opt("RecordingSid", self.recording_sid.as_ref());
        p.add_opt("RecordingDuration", self.recording_duration_secs);
        p.add_opt("StirStatus", self.stir_status.as_ref());
        p.0
    }
}

/// An asynchronous AMD verdict posted to `AsyncAmdStatusCallback` (B.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmdCallback {
    pub account_sid: String,
    pub call_sid: String,
    pub answered_by: AnsweredBy,
    /// `MachineDetectionDuration`, milliseconds.
    pub detection_duration_ms: Option<u32>,
}

impl AmdCallback {
    pub fn from_params<P: FormParams + ?Sized>(params: &P) -> Result<Self, CallbackError> {
        Ok(Self {
            account_sid: required(params, "AccountSid")?.to_owned(),
            call_sid: required(params, "CallSid")?.to_owned(),
            answered_by: parsed(params, "AnsweredBy")?
                .ok_or(CallbackError::Missing("AnsweredBy"))?,
            detection_duration_ms: parsed(params, "MachineDetectionDuration")?,
        })
    }

    pub fn to_params(&self) -> Vec<(String, String)> {
        let mut p = ParamsBuilder::default();
        p.add("AccountSid", &self.account_sid);
        p.add("CallSid", &self.call_sid);
        p.add("AnsweredBy", self.answered_by);
        p.add_opt("MachineDetectionDuration", self.detection_duration_ms);
        p.0
    }
}

/// A `RecordingStatusCallback` request (B.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingCallback {
    pub account_sid: String,
    pub call_sid: String,
    pub recording_sid: String,
    /// No file extension; append `.wav` / `.mp3` to download.
    pub recording_url: Option<String>,
    pub recording_status: RecordingStatus,
    pub recording_duration_secs: Option<u32>,
    pub recording_channels: Option<u8>,
    /// Kept as sent: the format is not confirmed (RFC 2822 assumed).
    pub recording_start_time: Option<String>,
    pub recording_source: Option<String>,
    pub recording_track: Option<String>,
    pub error_code: Option<String>,
}

impl RecordingCallback {
    pub fn from_params<P: FormParams + ?Sized>(params: &P) -> Result<Self, CallbackError> {
        Ok(Self {
            account_sid: required(params, "AccountSid")?.to_owned(),
            call_sid: required(params, "CallSid")?.to_owned(),
            recording_sid: required(params, "RecordingSid")?.to_owned(),
            recording_url: optional(params, "RecordingUrl").map(str::to_owned),
            recording_status: parsed(params, "RecordingStatus")?
                .ok_or(CallbackError::Missing("RecordingStatus"))?,
            recording_duration_secs: parsed(params, "RecordingDuration")?,
            recording_channels: parsed(params, "RecordingChannels")?,
            recording_start_time: optional(params, "RecordingStartTime").map(str::to_owned),
            recording_source: optional(params, "RecordingSource").map(str::to_owned),
            recording_track: optional(params, "RecordingTrack").map(str::to_owned),
            error_code: optional(params, "ErrorCode").map(str::to_owned),
        })
    }

    pub fn to_params(&self) -> Vec<(String, String)> {
        let mut p = ParamsBuilder::default();
        p.add("AccountSid", &self.account_sid);
        p.add("CallSid", &self.call_sid);
        p.add("RecordingSid", &self.recording_sid);
        p.add_opt("RecordingUrl", self.recording_url.as_ref());
        p.add("RecordingStatus", self.recording_status);
        p.add_opt("RecordingDuration", self.recording_duration_secs);
        p.add_opt("RecordingChannels", self.recording_channels);
        p.add_opt("RecordingStartTime", self.recording_start_time.as_ref());
        p.add_opt("RecordingSource", self.recording_source.as_ref());
        p.add_opt("RecordingTrack", self.recording_track.as_ref());
        p.add_opt("ErrorCode", self.error_code.as_ref());
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(form: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(form.as_bytes())
            .into_owned()
            .collect()
    }

    const COMPLETED: &str = "AccountSid=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&ApiVersion=2010-04-01\
        &CallSid=CAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb&CallStatus=completed&CallDuration=49&Duration=1\
        &CallbackSource=call-progress-events&SequenceNumber=3\
        &Timestamp=Sun%2C%2025%20Mar%202018%2009%3A53%3A19%20%2B0000\
        &Direction=outbound-api&From=%2B16466063895&To=%2B551135892112&Caller=%2B16466063895\
        &Called=%2B551135892112&AnsweredBy=human&SipResponseCode=200&ForwardedFrom=";

    #[test]
    fn parses_a_completed_status_callback() {
        let cb = StatusCallback::from_params(&decode(COMPLETED)).unwrap();
        assert_eq!(cb.account_sid, "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        assert_eq!(cb.call_sid, "CAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
        assert_eq!(cb.call_status, CallStatus::Completed);
        assert_eq!(cb.sequence_number, Some(3));
        assert_eq!(
            cb.timestamp.unwrap().to_rfc3339(),
            "2018-03-25T09:53:19+00:00"
        );
        assert_eq!(cb.call_duration_secs, Some(49));
        assert_eq!(cb.billed_minutes, Some(1));
        assert_eq!(cb.sip_response_code, Some(200));
        assert_eq!(cb.answered_by, Some(AnsweredBy::Human));
        assert_eq!(cb.from.as_deref(), Some("+16466063895"));
        assert_eq!(cb.to.as_deref(), Some("+551135892112"));
        assert_eq!(cb.direction.as_deref(), Some("outbound-api"));
        assert_eq!(cb.callback_source.as_deref(), Some("call-progress-events"));
        assert_eq!(cb.recording_sid, None);
    }

    #[test]
    fn parses_from_a_hash_map_too() {
        let map: HashMap<String, String> = decode(COMPLETED).into_iter().collect();
        assert_eq!(
            StatusCallback::from_params(&map).unwrap(),
            StatusCallback::from_params(&decode(COMPLETED)).unwrap()
        );
    }

    #[test]
    fn status_callback_round_trips_through_params() {
        let cb = StatusCallback::from_params(&decode(COMPLETED)).unwrap();
        assert_eq!(StatusCallback::from_params(&cb.to_params()).unwrap(), cb);
        let params = cb.to_params();
        assert!(params.contains(&("Timestamp".into(), "Sun, 25 Mar 2018 09:53:19 +0000".into())));
        assert!(params.contains(&("SequenceNumber".into(), "3".into())));
    }

    #[test]
    fn early_events_have_no_duration() {
        let params = decode(
            "AccountSid=AC1&CallSid=CA1&CallStatus=ringing&SequenceNumber=1&CallDuration=&StirStatus=B",
        );
        let cb = StatusCallback::from_params(&params).unwrap();
        assert_eq!(cb.call_status, CallStatus::Ringing);
        assert_eq!(cb.call_duration_secs, None);
        assert_eq!(cb.timestamp, None);
        assert_eq!(cb.stir_status.as_deref(), Some("B"));
    }

    #[test]
    fn status_callback_errors_name_the_field() {
        let err =
            StatusCallback::from_params(&decode("AccountSid=AC1&CallStatus=busy")).unwrap_err();
        assert_eq!(err, CallbackError::Missing("CallSid"));
        let err = StatusCallback::from_params(&decode("AccountSid=AC1&CallSid=CA1")).unwrap_err();
        assert_eq!(err, CallbackError::Missing("CallStatus"));
        let err =
            StatusCallback::from_params(&decode("AccountSid=AC1&CallSid=CA1&CallStatus=answered"))
                .unwrap_err();
        assert_eq!(
            err,
            CallbackError::Invalid {
                field: "CallStatus",
                value: "answered".into()
            }
        );
        let err = StatusCallback::from_params(&decode(
            "AccountSid=AC1&CallSid=CA1&CallStatus=busy&SequenceNumber=x",
        ))
        .unwrap_err();
        assert!(matches!(
            err,
            CallbackError::Invalid {
                field: "SequenceNumber",
                ..
            }
        ));
        let err = StatusCallback::from_params(&decode(
            "AccountSid=AC1&CallSid=CA1&CallStatus=busy&Timestamp=yesterday",
        ))
        .unwrap_err();
        assert!(matches!(
            err,
            CallbackError::Invalid {
                field: "Timestamp",
                ..
            }
        ));
    }

    #[test]
    fn call_status_ranks_refuse_moving_backwards() {
        use CallStatus::*;
        let order = [Queued, Initiated, Ringing, InProgress, Completed];
        for pair in order.windows(2) {
            assert!(pair[0].can_advance_to(pair[1]));
            assert!(!pair[1].can_advance_to(pair[0]));
        }
        for terminal in [Completed, Busy, Failed, NoAnswer, Canceled] {
            assert!(terminal.is_terminal());
            assert!(Ringing.can_advance_to(terminal));
            assert!(Queued.can_advance_to(terminal));
            assert!(
                !terminal.can_advance_to(Completed),
                "terminal states are final"
            );
            assert!(!terminal.can_advance_to(InProgress));
        }
        assert!(!InProgress.is_terminal());
        assert!(
            !Ringing.can_advance_to(Ringing),
            "duplicates are not progress"
        );
    }

    #[test]
    fn call_status_wire_values() {
        for (status, text) in [
            (CallStatus::InProgress, "in-progress"),
            (CallStatus::NoAnswer, "no-answer"),
            (CallStatus::Canceled, "canceled"),
        ] {
            assert_eq!(status.as_str(), text);
            assert_eq!(text.parse::<CallStatus>().unwrap(), status);
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{text}\"")
            );
        }
        assert!("cancelled".parse::<CallStatus>().is_err());
    }

    #[test]
    fn parses_async_amd_callback() {
        let cb = AmdCallback::from_params(&decode(
            "AccountSid=AC1&CallSid=CA1&AnsweredBy=machine_end_beep&MachineDetectionDuration=4210",
        ))
        .unwrap();
        assert_eq!(cb.answered_by, AnsweredBy::MachineEndBeep);
        assert_eq!(cb.detection_duration_ms, Some(4210));
        assert_eq!(AmdCallback::from_params(&cb.to_params()).unwrap(), cb);
    }

    #[test]
    fn answered_by_values() {
        for (text, machine) in [
            ("human", false),
            ("machine_start", true),
            ("machine_end_beep", true),
            ("machine_end_silence", true),
            ("machine_end_other", true),
            ("fax", false),
            ("unknown", false),
        ] {
            let value: AnsweredBy = text.parse().unwrap();
            assert_eq!(value.as_str(), text);
            assert_eq!(value.is_machine(), machine, "{text}");
        }
        let err = AmdCallback::from_params(&decode("AccountSid=AC1&CallSid=CA1&AnsweredBy=robot"))
            .unwrap_err();
        assert!(matches!(
            err,
            CallbackError::Invalid {
                field: "AnsweredBy",
                ..
            }
        ));
    }

    #[test]
    fn parses_recording_callback() {
        let cb = RecordingCallback::from_params(&decode(
            "AccountSid=AC1&CallSid=CA1&RecordingSid=RE1\
             &RecordingUrl=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2FAC1%2FRecordings%2FRE1\
             &RecordingStatus=completed&RecordingDuration=48&RecordingChannels=2\
             &RecordingStartTime=Mon%2C%2024%20Nov%202025%2010%3A00%3A05%20%2B0000\
             &RecordingSource=OutboundAPI&RecordingTrack=both",
        ))
        .unwrap();
        assert_eq!(cb.recording_status, RecordingStatus::Completed);
        assert_eq!(
            cb.recording_url.as_deref(),
            Some("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1")
        );
        assert_eq!(cb.recording_duration_secs, Some(48));
        assert_eq!(cb.recording_channels, Some(2));
        assert_eq!(
            cb.recording_start_time.as_deref(),
            Some("Mon, 24 Nov 2025 10:00:05 +0000")
        );
        assert_eq!(cb.recording_source.as_deref(), Some("OutboundAPI"));
        assert_eq!(RecordingCallback::from_params(&cb.to_params()).unwrap(), cb);
    }

    #[test]
    fn recording_callback_requires_sid_and_status() {
        let err = RecordingCallback::from_params(&decode(
            "AccountSid=AC1&CallSid=CA1&RecordingStatus=absent",
        ))
        .unwrap_err();
        assert_eq!(err, CallbackError::Missing("RecordingSid"));
        let ok = RecordingCallback::from_params(&decode(
            "AccountSid=AC1&CallSid=CA1&RecordingSid=RE1&RecordingStatus=absent",
        ))
        .unwrap();
        assert_eq!(ok.recording_status, RecordingStatus::Absent);
    }
}
