//! Parsing and validating a create-call request (reference A.2, A.5, A.7) into what the
//! call task needs. Array parameters may repeat or be space-separated.

use parley_twilio::twiml::MAX_INLINE_TWIML_LEN;

use super::callbacks::Webhook;
use super::store::TwimlSource;
use crate::personas::{persona_for, Pickup};

const DEFAULT_TIMEOUT_SECS: u32 = 60;
const MAX_TIMEOUT_SECS: u32 = 600;
/// Commonly cited default (4 h); unconfirmed.
const DEFAULT_TIME_LIMIT_SECS: u32 = 14_400;
const DEFAULT_AMD_TIMEOUT_SECS: u32 = 30;

/// A REST error as Twilio reports it (A.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (code {code}, http {status})")]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: u32,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: u32, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    pub fn not_found(path: &str) -> Self {
        Self::new(
            404,
            20404,
            format!("The requested resource {path} was not found"),
        )
    }
}

/// Decoded form or query parameters, in order, names possibly repeated.
pub(crate) struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// First non-empty value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every value of an array parameter, repeated or space-separated.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split_whitespace())
            .collect()
    }

    fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    fn method_get(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("GET"))
    }

    fn webhook(&self, url: &str, method: &str) -> Option<Webhook> {
        self.get(url).map(|u| Webhook {
            url: u.to_owned(),
            method_get: self.method_get(method),
        })
    }
}

/// Which call-progress events to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct StatusEvents {
    pub initiated: bool,
    pub ringing: bool,
    pub answered: bool,
    pub completed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AmdRequest {
    pub detect_message_end: bool,
    /// `Some` with `AsyncAmd=true`: TwiML is fetched at once and the verdict posted here.
    pub async_callback: Option<Webhook>,
    pub timeout_secs: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordRequest {
    pub dual: bool,
    pub callback: Option<Webhook>,
    pub in_progress: bool,
    pub completed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallRequest {
    pub to: String,
    pub from: String,
    pub instructions: TwimlSource,
    pub fallback: Option<Webhook>,
    pub status_callback: Option<Webhook>,
    pub status_events: StatusEvents,
    pub amd: Option<AmdRequest>,
    pub record: Option<RecordRequest>,
    pub timeout_secs: u32,
    pub time_limit_secs: u32,
}

fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

fn is_http_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

/// Validates a create request the way the Calls API does.
pub(crate) fn parse_create(form: &Form) -> Result<CallRequest, ApiError> {
    let to = form
        .get("To")
        .ok_or_else(|| ApiError::bad_request(21201, "No 'To' number is specified"))?;
    let from = form
        .get("From")
        .ok_or_else(|| ApiError::bad_request(21213, "No 'From' number is specified"))?;
    let instructions = match (
        form.get("Url"),
        form.get("Twiml"),
        form.get("ApplicationSid"),
    ) {
        // The spec says Twiml is ignored when Url is present.
        (Some(url), _, _) => {
            if !is_http_url(url) {
                return Err(ApiError::bad_request(
                    21205,
                    format!("Url is not a valid URL: {url}"),
                ));
            }
            TwimlSource::Url {
                url: url.to_owned(),
                method_get: form.method_get("Method"),
            }
        }
        (None, Some(twiml), _) => {
            if twiml.chars().count() > MAX_INLINE_TWIML_LEN {
                return Err(ApiError::bad_request(
                    20001,
                    format!("Twiml must be at most {MAX_INLINE_TWIML_LEN} characters"),
                ));
            }
            TwimlSource::Inline(twiml.to_owned())
        }
        (None, None, Some(sid)) => {
            return Err(ApiError::bad_request(
                21218,
                format!("ApplicationSid {sid} not found: the simulator has no applications"),
            ))
        }
        (None, None, None) => {
            return Err(ApiError::bad_request(21205, "Url parameter is required."))
        }
    };
    let remote = to.starts_with("sip:") || to.starts_with("client:");
    if !remote && !is_e164(to) || persona_for(to).pickup == Pickup::InvalidNumber {
        return Err(ApiError::bad_request(
            21211,
            format!("The 'To' number {to} is not a valid phone number."),
        ));
    }
    if !is_e164(from) && !from.starts_with("client:") {
        return Err(ApiError::bad_request(
            21210,
            format!("The source phone number provided, {from}, is not yet verified for your account. You may only make calls from phone numbers that you've verified or purchased from Twilio."),
        ));
    }

    let events = form.all("StatusCallbackEvent");
    let status_events = if events.is_empty() {
        StatusEvents {
            completed: true,
            ..StatusEvents::default()
        }
    } else {
        StatusEvents {
            initiated: events.contains(&"initiated"),
            ringing: events.contains(&"ringing"),
            answered: events.contains(&"answered"),
            completed: events.contains(&"completed"),
        }
    };

    // `SendDigits` disables machine detection.
    let amd = match form.get("MachineDetection") {
        Some(mode) if form.get("SendDigits").is_none() => {
            let detect_message_end = mode.eq_ignore_ascii_case("DetectMessageEnd");
            if !detect_message_end && !mode.eq_ignore_ascii_case("Enable") {
                return Err(ApiError::bad_request(
                    21626,
                    format!("MachineDetection must be Enable or DetectMessageEnd, got {mode}"),
                ));
            }
            let async_callback = if form.flag("AsyncAmd") {
                form.webhook("AsyncAmdStatusCallback", "AsyncAmdStatusCallbackMethod")
            } else {
                None
            };
            Some(AmdRequest {
                detect_message_end,
                async_callback,
                timeout_secs: number(form, "MachineDetectionTimeout")
                    .unwrap_or(DEFAULT_AMD_TIMEOUT_SECS)
                    .clamp(3, 59),
            })
        }
        _ => None,
    };

    let record = form.flag("Record").then(|| {
        let events = form.all("RecordingStatusCallbackEvent");
        RecordRequest {
            dual: form
                .get("RecordingChannels")
                .is_some_and(|c| c.eq_ignore_ascii_case("dual")),
            callback: form.webhook("RecordingStatusCallback", "RecordingStatusCallbackMethod"),
            in_progress: events.contains(&"in-progress"),
            completed: events.is_empty() || events.contains(&"completed"),
        }
    });

    Ok(CallRequest {
        to: to.to_owned(),
        from: from.to_owned(),
        instructions,
        fallback: form.webhook("FallbackUrl", "FallbackMethod"),
        status_callback: form.webhook("StatusCallback", "StatusCallbackMethod"),
        status_events,
        amd,
        record,
        timeout_secs: number(form, "Timeout")
            .unwrap_or(DEFAULT_TIMEOUT_SECS)
            .clamp(1, MAX_TIMEOUT_SECS),
        time_limit_secs: number(form, "TimeLimit")
            .unwrap_or(DEFAULT_TIME_LIMIT_SECS)
            .max(1),
    })
}

fn number(form: &Form, name: &str) -> Option<u32> {
    form.get(name)?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str) -> Form {
        Form::parse(body.as_bytes())
    }

    #[test]
    fn parses_the_reference_example() {
        let request = parse_create(&form(
            "To=%2B15558675310&From=%2B15017122661&Url=https%3A%2F%2Fapp.example.com%2Ftwiml%2Fcall%2F123\
             &StatusCallback=https%3A%2F%2Fapp.example.com%2Ftwilio%2Fstatus&StatusCallbackMethod=POST\
             &StatusCallbackEvent=initiated&StatusCallbackEvent=ringing&StatusCallbackEvent=answered&StatusCallbackEvent=completed\
             &MachineDetection=Enable&AsyncAmd=true&AsyncAmdStatusCallback=https%3A%2F%2Fapp.example.com%2Ftwilio%2Famd\
             &Record=true&RecordingChannels=dual&RecordingStatusCallback=https%3A%2F%2Fapp.example.com%2Ftwilio%2Frecording\
             &Timeout=30&TimeLimit=900",
        ))
        .unwrap();
        assert_eq!(request.to, "+15558675310");
        assert!(request.status_events.initiated && request.status_events.completed);
        let amd = request.amd.unwrap();
        assert!(!amd.detect_message_end);
        assert_eq!(
            amd.async_callback.unwrap().url,
            "https://app.example.com/twilio/amd"
        );
        let record = request.record.unwrap();
        assert!(record.dual && record.completed && !record.in_progress);
        assert_eq!((request.timeout_secs, request.time_limit_secs), (30, 900));
    }

    #[test]
    fn space_separated_events_and_defaults() {
        let request = parse_create(&form(
            "To=%2B15550100001&From=%2B15017122661&Twiml=%3CResponse%2F%3E\
             &StatusCallback=http%3A%2F%2Fa.example%2Fs&StatusCallbackEvent=ringing%20answered\
             &Record=true&RecordingStatusCallbackEvent=in-progress+completed",
        ))
        .unwrap();
        assert_eq!(
            request.status_events,
            StatusEvents {
                initiated: false,
                ringing: true,
                answered: true,
                completed: false
            }
        );
        assert!(request.record.as_ref().unwrap().in_progress);
        assert_eq!(request.timeout_secs, 60);
        let only_completed = parse_create(&form(
            "To=%2B15550100001&From=%2B15017122661&Twiml=%3CResponse%2F%3E",
        ))
        .unwrap();
        assert_eq!(
            only_completed.status_events,
            StatusEvents {
                completed: true,
                ..StatusEvents::default()
            }
        );
    }

    #[test]
    fn validation_errors_carry_twilio_codes() {
        let code = |body: &str| parse_create(&form(body)).unwrap_err().code;
        assert_eq!(
            code("From=%2B15017122661&Url=http%3A%2F%2Fa.example"),
            21201
        );
        assert_eq!(code("To=%2B15550100001&Url=http%3A%2F%2Fa.example"), 21213);
        assert_eq!(code("To=%2B15550100001&From=%2B15017122661"), 21205);
        assert_eq!(
            code("To=%2B15550100001&From=%2B15017122661&Url=notaurl"),
            21205
        );
        assert_eq!(
            code("To=5551234567&From=%2B15017122661&Url=http%3A%2F%2Fa.example"),
            21211
        );
        assert_eq!(
            code("To=%2B15550100008&From=%2B15017122661&Url=http%3A%2F%2Fa.example"),
            21211
        );
        assert_eq!(
            code("To=%2B15550100001&From=abc&Url=http%3A%2F%2Fa.example"),
            21210
        );
        let long = format!(
            "To=%2B15550100001&From=%2B15017122661&Twiml={}",
            "x".repeat(4001)
        );
        assert_eq!(code(&long), 20001);
    }
}
