//! Request parameters for the Calls API (reference A.2, A.4), built as plain
//! `(name, value)` pairs so they can be inspected and tested without HTTP.

use chrono::{DateTime, Utc};

use crate::callbacks::CallStatus;
use crate::twiml::MAX_INLINE_TWIML_LEN;

use super::error::TwilioError;

const DATETIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// Form parameters in wire order; names repeat for array parameters.
pub type FormParams = Vec<(String, String)>;

fn push(params: &mut FormParams, name: &str, value: impl ToString) {
    params.push((name.to_owned(), value.to_string()));
}

/// What Twilio executes when the call is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallInstructions {
    /// Fetch TwiML from this URL (POST).
    Url(String),
    /// Inline TwiML, at most 4000 characters.
    Twiml(String),
}

impl CallInstructions {
    fn push_params(&self, params: &mut FormParams) {
        match self {
            Self::Url(url) => {
                push(params, "Url", url);
                push(params, "Method", "POST");
            }
            Self::Twiml(twiml) => push(params, "Twiml", twiml),
        }
    }

    fn validate(&self) -> Result<(), TwilioError> {
        match self {
            Self::Twiml(twiml) if twiml.chars().count() > MAX_INLINE_TWIML_LEN => {
                Err(TwilioError::invalid_request(format!(
                    "inline TwiML is {} characters, Twilio accepts at most {MAX_INLINE_TWIML_LEN}",
                    twiml.chars().count()
                )))
            }
            _ => Ok(()),
        }
    }
}

/// Call-progress events to receive on `StatusCallback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCallbackEvent {
    Initiated,
    Ringing,
    Answered,
    Completed,
}

impl StatusCallbackEvent {
    pub const ALL: [Self; 4] = [
        Self::Initiated,
        Self::Ringing,
        Self::Answered,
        Self::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initiated => "initiated",
            Self::Ringing => "ringing",
            Self::Answered => "answered",
            Self::Completed => "completed",
        }
    }
}

/// `MachineDetection` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineDetectionMode {
    /// Verdict as soon as the callee type is known.
    Enable,
    /// For machines, wait for the end of the greeting (to leave a voicemail).
    DetectMessageEnd,
}

/// Answering machine detection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineDetection {
    pub mode: MachineDetectionMode,
    /// With a URL, AMD is asynchronous (`AsyncAmd=true`): TwiML is fetched on answer and the
    /// verdict is posted here. Without one, the TwiML fetch waits for the verdict.
    pub async_status_callback: Option<String>,
    pub timeout_secs: Option<u32>,
    pub speech_threshold_ms: Option<u32>,
    pub speech_end_threshold_ms: Option<u32>,
    pub silence_timeout_ms: Option<u32>,
}

impl MachineDetection {
    /// Asynchronous detection posting its verdict to `callback`.
    pub fn async_with(mode: MachineDetectionMode, callback: impl Into<String>) -> Self {
        Self {
            mode,
            async_status_callback: Some(callback.into()),
            timeout_secs: None,
            speech_threshold_ms: None,
            speech_end_threshold_ms: None,
            silence_timeout_ms: None,
        }
    }

    fn push_params(&self, params: &mut FormParams) {
        let mode = match self.mode {
            MachineDetectionMode::Enable => "Enable",
            MachineDetectionMode::DetectMessageEnd => "DetectMessageEnd",
        };
        push(params, "MachineDetection", mode);
        if let Some(secs) = self.timeout_secs {
            push(params, "MachineDetectionTimeout", secs);
        }
        if let Some(ms) = self.speech_threshold_ms {
            push(params, "MachineDetectionSpeechThreshold", ms);
        }
        if let Some(ms) = self.speech_end_threshold_ms {
            push(params, "MachineDetectionSpeechEndThreshold", ms);
        }
        if let Some(ms) = self.silence_timeout_ms {
            push(params, "MachineDetectionSilenceTimeout", ms);
        }
        if let Some(callback) = &self.async_status_callback {
            push(params, "AsyncAmd", "true");
            push(params, "AsyncAmdStatusCallback", callback);
            push(params, "AsyncAmdStatusCallbackMethod", "POST");
        }
    }
}

/// `RecordingChannels`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingChannels {
    Mono,
    /// Each leg on its own channel.
    Dual,
}

/// Recording status events to receive on `RecordingStatusCallback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingEvent {
    InProgress,
    Completed,
    Absent,
}

impl RecordingEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in-progress",
            Self::Completed => "completed",
            Self::Absent => "absent",
        }
    }
}

/// Whole-call recording (`Record=true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    pub channels: RecordingChannels,
    pub status_callback: Option<String>,
    pub status_callback_events: Vec<RecordingEvent>,
}

impl Recording {
    /// Dual-channel recording reporting `completed` and `absent` to `callback`.
    pub fn dual_with_callback(callback: impl Into<String>) -> Self {
        Self {
            channels: RecordingChannels::Dual,
            status_callback: Some(callback.into()),
            status_callback_events: vec![RecordingEvent::Completed, RecordingEvent::Absent],
        }
    }

    fn push_params(&self, params: &mut FormParams) {
        push(params, "Record", "true");
        let channels = match self.channels {
            RecordingChannels::Mono => "mono",
            RecordingChannels::Dual => "dual",
        };
        push(params, "RecordingChannels", channels);
        if let Some(callback) = &self.status_callback {
            push(params, "RecordingStatusCallback", callback);
            push(params, "RecordingStatusCallbackMethod", "POST");
            for event in &self.status_callback_events {
                push(params, "RecordingStatusCallbackEvent", event.as_str());
            }
        }
    }
}

/// `POST /2010-04-01/Accounts/{AccountSid}/Calls.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateCall {
    /// E.164 destination.
    pub to: String,
    /// Twilio number or verified caller id.
    pub from: String,
    pub instructions: CallInstructions,
    pub status_callback: Option<String>,
    /// Ignored without `status_callback`; Twilio's default is `completed` only.
    pub status_callback_events: Vec<StatusCallbackEvent>,
    pub machine_detection: Option<MachineDetection>,
    pub recording: Option<Recording>,
    /// Ring time before `no-answer` (Twilio default 60, max 600).
    pub timeout_secs: Option<u32>,
    /// Maximum call duration.
    pub time_limit_secs: Option<u32>,
}

impl CreateCall {
    /// A call with no callbacks, AMD or recording; fill in the public fields as needed.
    pub fn new(
        to: impl Into<String>,
        from: impl Into<String>,
        instructions: CallInstructions,
    ) -> Self {
        Self {
            to: to.into(),
            from: from.into(),
            instructions,
            status_callback: None,
            status_callback_events: Vec::new(),
            machine_detection: None,
            recording: None,
            timeout_secs: None,
            time_limit_secs: None,
        }
    }

    /// Receive every call-progress event at `url`.
    pub fn with_status_callback(mut self, url: impl Into<String>) -> Self {
        self.status_callback = Some(url.into());
        self.status_callback_events = StatusCallbackEvent::ALL.to_vec();
        self
    }

    /// Checks what can be checked locally (inline TwiML size, required fields).
    pub fn validate(&self) -> Result<(), TwilioError> {
        if self.to.trim().is_empty() || self.from.trim().is_empty() {
            return Err(TwilioError::invalid_request("To and From are required"));
        }
        self.instructions.validate()
    }

    /// The form body, in the order the reference example uses.
    pub fn form_params(&self) -> FormParams {
        let mut params = FormParams::new();
        push(&mut params, "To", &self.to);
        push(&mut params, "From", &self.from);
        self.instructions.push_params(&mut params);
        if let Some(callback) = &self.status_callback {
            push(&mut params, "StatusCallback", callback);
            push(&mut params, "StatusCallbackMethod", "POST");
            for event in &self.status_callback_events {
                push(&mut params, "StatusCallbackEvent", event.as_str());
            }
        }
        if let Some(amd) = &self.machine_detection {
            amd.push_params(&mut params);
        }
        if let Some(recording) = &self.recording {
            recording.push_params(&mut params);
        }
        if let Some(secs) = self.timeout_secs {
            push(&mut params, "Timeout", secs);
        }
        if let Some(secs) = self.time_limit_secs {
            push(&mut params, "TimeLimit", secs);
        }
        params
    }
}

/// `POST /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallUpdate {
    /// `Status=completed`: hang up an in-progress call.
    Hangup,
    /// `Status=canceled`: cancel a call that is still queued or ringing.
    Cancel,
    /// Redirect the live call to new TwiML (ends a running `<Connect><Stream>`).
    Redirect(CallInstructions),
}

impl CallUpdate {
    pub fn validate(&self) -> Result<(), TwilioError> {
        match self {
            Self::Redirect(instructions) => instructions.validate(),
            _ => Ok(()),
        }
    }

    pub fn form_params(&self) -> FormParams {
        let mut params = FormParams::new();
        match self {
            Self::Hangup => push(&mut params, "Status", "completed"),
            Self::Cancel => push(&mut params, "Status", "canceled"),
            Self::Redirect(instructions) => instructions.push_params(&mut params),
        }
        params
    }
}

/// Filters for `GET .../Calls.json`.
///
/// Start-time bounds are sent as ISO 8601 UTC datetimes (`2025-11-24T10:00:00Z`) under the
/// names `StartTime>` / `StartTime<`, which encode to `StartTime%3E=...` — the
/// `StartTime>=...` of Twilio's docs. This is what the official helper libraries send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilter {
    pub to: Option<String>,
    pub from: Option<String>,
    pub status: Option<CallStatus>,
    /// `StartTime>=`
    pub started_on_or_after: Option<DateTime<Utc>>,
    /// `StartTime<=`
    pub started_on_or_before: Option<DateTime<Utc>>,
    /// Twilio's default is 50, maximum 1000.
    pub page_size: Option<u32>,
}

impl CallFilter {
    pub fn query_params(&self) -> FormParams {
        let mut params = FormParams::new();
        if let Some(to) = &self.to {
            push(&mut params, "To", to);
        }
        if let Some(from) = &self.from {
            push(&mut params, "From", from);
        }
        if let Some(status) = self.status {
            push(&mut params, "Status", status);
        }
        if let Some(time) = self.started_on_or_after {
            push(&mut params, "StartTime>", time.format(DATETIME_FORMAT));
        }
        if let Some(time) = self.started_on_or_before {
            push(&mut params, "StartTime<", time.format(DATETIME_FORMAT));
        }
        if let Some(size) = self.page_size {
            push(&mut params, "PageSize", size);
        }
        params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(params: &FormParams) -> Vec<(&str, &str)> {
        params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn create_call_matches_the_reference_example() {
        let call = CreateCall {
            machine_detection: Some(MachineDetection::async_with(
                MachineDetectionMode::Enable,
                "https://app.example.com/twilio/amd",
            )),
            recording: Some(Recording {
                channels: RecordingChannels::Dual,
                status_callback: Some("https://app.example.com/twilio/recording".into()),
                status_callback_events: vec![RecordingEvent::Completed],
            }),
            timeout_secs: Some(30),
            time_limit_secs: Some(900),
            ..CreateCall::new(
                "+15558675310",
                "+15017122661",
                CallInstructions::Url("https://app.example.com/twiml/call/123".into()),
            )
            .with_status_callback("https://app.example.com/twilio/status")
        };
        assert_eq!(
            pairs(&call.form_params()),
            vec![
                ("To", "+15558675310"),
                ("From", "+15017122661"),
                ("Url", "https://app.example.com/twiml/call/123"),
                ("Method", "POST"),
                ("StatusCallback", "https://app.example.com/twilio/status"),
                ("StatusCallbackMethod", "POST"),
                ("StatusCallbackEvent", "initiated"),
                ("StatusCallbackEvent", "ringing"),
                ("StatusCallbackEvent", "answered"),
                ("StatusCallbackEvent", "completed"),
                ("MachineDetection", "Enable"),
                ("AsyncAmd", "true"),
                (
                    "AsyncAmdStatusCallback",
                    "https://app.example.com/twilio/amd"
                ),
                ("AsyncAmdStatusCallbackMethod", "POST"),
                ("Record", "true"),
                ("RecordingChannels", "dual"),
                (
                    "RecordingStatusCallback",
                    "https://app.example.com/twilio/recording"
                ),
                ("RecordingStatusCallbackMethod", "POST"),
                ("RecordingStatusCallbackEvent", "completed"),
                ("Timeout", "30"),
                ("TimeLimit", "900"),
            ]
        );
        assert_eq!(call.validate(), Ok(()));
    }

    #[test]
    fn minimal_call_sends_only_required_params() {
        let call = CreateCall::new(
            "+15558675310",
            "+15017122661",
            CallInstructions::Twiml("<Response/>".into()),
        );
        assert_eq!(
            pairs(&call.form_params()),
            vec![
                ("To", "+15558675310"),
                ("From", "+15017122661"),
                ("Twiml", "<Response/>")
            ]
        );
    }

    #[test]
    fn synchronous_amd_with_tuning() {
        let amd = MachineDetection {
            mode: MachineDetectionMode::DetectMessageEnd,
            async_status_callback: None,
            timeout_secs: Some(20),
            speech_threshold_ms: Some(2400),
            speech_end_threshold_ms: Some(1200),
            silence_timeout_ms: Some(5000),
        };
        let mut params = FormParams::new();
        amd.push_params(&mut params);
        assert_eq!(
            pairs(&params),
            vec![
                ("MachineDetection", "DetectMessageEnd"),
                ("MachineDetectionTimeout", "20"),
                ("MachineDetectionSpeechThreshold", "2400"),
                ("MachineDetectionSpeechEndThreshold", "1200"),
                ("MachineDetectionSilenceTimeout", "5000"),
            ]
        );
    }

    #[test]
    fn recording_helper_requests_completed_and_absent() {
        let mut params = FormParams::new();
        Recording::dual_with_callback("https://a.example/rec").push_params(&mut params);
        let events: Vec<_> = params
            .iter()
            .filter(|(k, _)| k == "RecordingStatusCallbackEvent")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(events, ["completed", "absent"]);
    }

    #[test]
    fn rejects_oversized_inline_twiml_and_missing_numbers() {
        let long = CreateCall::new("+1555", "+1444", CallInstructions::Twiml("x".repeat(4001)));
        assert!(long.validate().is_err());
        let ok = CreateCall::new("+1555", "+1444", CallInstructions::Twiml("x".repeat(4000)));
        assert_eq!(ok.validate(), Ok(()));
        let no_to = CreateCall::new(" ", "+1444", CallInstructions::Url("https://a".into()));
        assert!(no_to.validate().is_err());
        assert!(
            CallUpdate::Redirect(CallInstructions::Twiml("x".repeat(5000)))
                .validate()
                .is_err()
        );
    }

    #[test]
    fn call_updates() {
        assert_eq!(
            pairs(&CallUpdate::Hangup.form_params()),
            vec![("Status", "completed")]
        );
        assert_eq!(
            pairs(&CallUpdate::Cancel.form_params()),
            vec![("Status", "canceled")]
        );
        assert_eq!(
            pairs(
                &CallUpdate::Redirect(CallInstructions::Url("https://a.example/t".into()))
                    .form_params()
            ),
            vec![("Url", "https://a.example/t"), ("Method", "POST")]
        );
        assert_eq!(
            pairs(
                &CallUpdate::Redirect(CallInstructions::Twiml(
                    "<Response><Hangup/></Response>".into()
                ))
                .form_params()
            ),
            vec![("Twiml", "<Response><Hangup/></Response>")]
        );
    }

    #[test]
    fn list_filter_uses_inequality_param_names() {
        let filter = CallFilter {
            to: Some("+15558675310".into()),
            status: Some(CallStatus::Completed),
            started_on_or_after: Some("2025-11-24T10:00:00Z".parse().unwrap()),
            started_on_or_before: Some("2025-11-24T10:05:30Z".parse().unwrap()),
            page_size: Some(100),
            ..CallFilter::default()
        };
        let params = filter.query_params();
        assert_eq!(
            pairs(&params),
            vec![
                ("To", "+15558675310"),
                ("Status", "completed"),
                ("StartTime>", "2025-11-24T10:00:00Z"),
                ("StartTime<", "2025-11-24T10:05:30Z"),
                ("PageSize", "100"),
            ]
        );
        // Encoded, `StartTime>` + `=` + value reads as `StartTime>=...`.
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        assert_eq!(
            encoded,
            "To=%2B15558675310&Status=completed&StartTime%3E=2025-11-24T10%3A00%3A00Z\
             &StartTime%3C=2025-11-24T10%3A05%3A30Z&PageSize=100"
        );
        assert!(CallFilter::default().query_params().is_empty());
    }
}
