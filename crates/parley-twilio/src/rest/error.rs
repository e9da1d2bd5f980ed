//! Twilio REST errors, classified by what the caller should do about them.

use std::fmt;

use parley_domain::mask_phone_numbers;
use serde::Deserialize;

/// What a failed request means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The request itself is wrong (invalid number, invalid call state...): do not retry it.
    Permanent,
    /// The account cannot place calls (bad credentials, suspended, no balance): stop dialing.
    Account,
    /// Temporary (rate limit, Twilio 5xx, timeout, network): retry with backoff.
    Retryable,
}

/// Twilio codes that mean the account, not the request, is the problem (reference A.5).
const ACCOUNT_CODES: [u32; 3] = [
    20003, // authentication failed
    20005, // account not active
    10001, // account not active (balance / suspended)
];
/// Too many concurrent REST requests; never processed.
const CODE_TOO_MANY_REQUESTS: u32 = 20429;

/// Classifies a failure from its HTTP status (`None` when no response arrived) and Twilio
/// error code. The code wins over the status when both are known.
pub fn classify(http_status: Option<u16>, code: Option<u32>) -> ErrorClass {
    match code {
        Some(CODE_TOO_MANY_REQUESTS) => return ErrorClass::Retryable,
        Some(code) if ACCOUNT_CODES.contains(&code) => return ErrorClass::Account,
        // 21xxx: request validation (numbers, parameters, call state).
        Some(21000..=21999) => return ErrorClass::Permanent,
        _ => {}
    }
    match http_status {
        None | Some(408 | 429 | 500..=599) => ErrorClass::Retryable,
        // 402 Payment Required: balance; 401/403: credentials or account standing.
        Some(401..=403) => ErrorClass::Account,
        Some(_) => ErrorClass::Permanent,
    }
}

/// Details of a failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// HTTP status; `None` if no response was received (timeout, connection error).
    pub status: Option<u16>,
    /// Twilio error code (`21211`...), when Twilio sent one.
    pub code: Option<u32>,
    pub message: String,
    pub more_info: Option<String>,
    /// True when Twilio may have acted on the request even though it failed (a timeout
    /// after sending, a 5xx, an unreadable success body). A retried create could then
    /// place a second call: check with a filtered call list before retrying.
    pub outcome_unknown: bool,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match (self.code, self.status) {
            (Some(code), Some(status)) => write!(f, " (code {code}, http {status})"),
            (Some(code), None) => write!(f, " (code {code})"),
            (None, Some(status)) => write!(f, " (http {status})"),
            (None, None) => Ok(()),
        }
    }
}

/// A failed Twilio REST request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TwilioError {
    #[error("twilio rejected the request: {0}")]
    Permanent(Failure),
    #[error("twilio account problem: {0}")]
    Account(Failure),
    #[error("twilio request failed temporarily: {0}")]
    Retryable(Failure),
}

impl TwilioError {
    /// Wraps `failure` in the variant [`classify`] picks for it.
    pub fn from_failure(failure: Failure) -> Self {
        match classify(failure.status, failure.code) {
            ErrorClass::Permanent => Self::Permanent(failure),
            ErrorClass::Account => Self::Account(failure),
            ErrorClass::Retryable => Self::Retryable(failure),
        }
    }

    /// A request refused locally before sending (invalid input).
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::Permanent(Failure {
            status: None,
            code: None,
            message: message.into(),
            more_info: None,
            outcome_unknown: false,
        })
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Permanent(_) => ErrorClass::Permanent,
            Self::Account(_) => ErrorClass::Account,
            Self::Retryable(_) => ErrorClass::Retryable,
        }
    }

    pub fn failure(&self) -> &Failure {
        match self {
            Self::Permanent(f) | Self::Account(f) | Self::Retryable(f) => f,
        }
    }

    pub fn code(&self) -> Option<u32> {
        self.failure().code
    }

    pub fn status(&self) -> Option<u16> {
        self.failure().status
    }

    pub fn is_retryable(&self) -> bool {
        self.class() == ErrorClass::Retryable
    }
}

/// Error body of every Twilio REST error (reference A.5).
#[derive(Debug, Deserialize)]
struct ErrorBody {
    code: Option<u32>,
    message: Option<String>,
    more_info: Option<String>,
}

/// Longest slice of a non-JSON error body kept in the message.
const MAX_RAW_MESSAGE: usize = 300;

/// Builds the error for a non-success HTTP response. Twilio's messages quote the numbers
/// they refuse (21211: "The 'To' number +1555... is not a valid phone number."), so they
/// are masked here, before the text can reach a log line or a stored call.
pub(crate) fn from_response(status: u16, body: &[u8]) -> TwilioError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let (code, message, more_info) = match parsed {
        Some(body) => (body.code, body.message, body.more_info),
        None => (None, None, None),
    };
    let message = message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            format!("http status {status}")
        } else {
            text.chars().take(MAX_RAW_MESSAGE).collect()
        }
    });
    TwilioError::from_failure(Failure {
        status: Some(status),
        code,
        message: mask_phone_numbers(&message).into_owned(),
        more_info,
        outcome_unknown: status >= 500,
    })
}

/// Builds the error for a request that got no usable response.
pub(crate) fn from_transport(error: &reqwest::Error) -> TwilioError {
    if error.is_builder() {
        let text = format!("invalid request: {error}");
        return TwilioError::invalid_request(mask_phone_numbers(&text));
    }
    TwilioError::Retryable(Failure {
        status: error.status().map(|s| s.as_u16()),
        code: None,
        // The error names the URL, whose query may carry a number (`?To=%2B1...`).
        message: mask_phone_numbers(&format!("transport error: {error}")).into_owned(),
        more_info: None,
        // A refused connection never reached Twilio; anything later might have.
        outcome_unknown: !error.is_connect(),
    })
}

/// Builds the error for a success status whose body could not be decoded.
pub(crate) fn invalid_body(status: u16, error: &serde_json::Error) -> TwilioError {
    TwilioError::Retryable(Failure {
        status: Some(status),
        code: None,
        message: format!("unreadable response body: {error}"),
        more_info: None,
        outcome_unknown: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_validation_codes_as_permanent() {
        for code in [
            21211, 21217, 21210, 21212, 21213, 21214, 21215, 21216, 21220, 21202,
        ] {
            assert_eq!(
                classify(Some(400), Some(code)),
                ErrorClass::Permanent,
                "{code}"
            );
        }
        assert_eq!(classify(Some(404), Some(20404)), ErrorClass::Permanent);
        assert_eq!(classify(Some(400), None), ErrorClass::Permanent);
        assert_eq!(classify(Some(422), None), ErrorClass::Permanent);
    }

    #[test]
    fn classifies_account_problems() {
        assert_eq!(classify(Some(401), Some(20003)), ErrorClass::Account);
        assert_eq!(classify(Some(403), Some(20005)), ErrorClass::Account);
        assert_eq!(classify(Some(403), Some(10001)), ErrorClass::Account);
        assert_eq!(classify(Some(400), Some(10001)), ErrorClass::Account);
        assert_eq!(classify(Some(401), None), ErrorClass::Account);
        assert_eq!(classify(Some(402), None), ErrorClass::Account);
    }

    #[test]
    fn classifies_temporary_failures_as_retryable() {
        assert_eq!(classify(Some(429), Some(20429)), ErrorClass::Retryable);
        assert_eq!(classify(Some(400), Some(20429)), ErrorClass::Retryable);
        assert_eq!(classify(Some(429), None), ErrorClass::Retryable);
        for status in [500, 502, 503, 504] {
            assert_eq!(classify(Some(status), None), ErrorClass::Retryable);
        }
        assert_eq!(
            classify(None, None),
            ErrorClass::Retryable,
            "timeouts, connection errors"
        );
        assert_eq!(classify(Some(408), None), ErrorClass::Retryable);
    }

    #[test]
    fn parses_the_reference_error_body() {
        let body = br#"{"code": 21211, "message": "The 'To' number 5551234567 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        let err = from_response(400, body);
        assert_eq!(err.class(), ErrorClass::Permanent);
        assert_eq!(err.code(), Some(21211));
        assert_eq!(err.status(), Some(400));
        assert_eq!(
            err.failure().more_info.as_deref(),
            Some("https://www.twilio.com/docs/errors/21211")
        );
        assert!(!err.failure().outcome_unknown);
        assert_eq!(
            err.to_string(),
            "twilio rejected the request: The 'To' number 5*******67 is not a valid phone number. (code 21211, http 400)",
            "the number Twilio quotes is masked"
        );
        let e164 = from_response(
            400,
            br#"{"code":21211,"message":"The 'To' number +15550100008 is not a valid phone number.","status":400}"#,
        );
        assert_eq!(
            e164.failure().message,
            "The 'To' number +1********08 is not a valid phone number."
        );
        let raw = from_response(502, b"<html>no route to +15550100008</html>");
        assert!(!raw.to_string().contains("5550100"), "{raw}");
    }

    #[test]
    fn auth_failure_is_an_account_error() {
        let err = from_response(401, br#"{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}"#);
        assert!(matches!(err, TwilioError::Account(_)));
        assert_eq!(err.failure().message, "Authenticate");
    }

    #[test]
    fn non_json_bodies_keep_a_bounded_message() {
        let err = from_response(503, b"<html>Service Unavailable</html>");
        assert!(err.is_retryable());
        assert!(err.failure().outcome_unknown);
        assert_eq!(err.failure().message, "<html>Service Unavailable</html>");
        assert_eq!(err.code(), None);
        let long = vec![b'x'; 10_000];
        assert_eq!(
            from_response(502, &long).failure().message.len(),
            MAX_RAW_MESSAGE
        );
        assert_eq!(from_response(500, b"").failure().message, "http status 500");
    }

    #[test]
    fn invalid_request_is_permanent_and_unsent() {
        let err = TwilioError::invalid_request("inline TwiML too long");
        assert_eq!(err.class(), ErrorClass::Permanent);
        assert_eq!(err.status(), None);
        assert!(!err.failure().outcome_unknown);
    }
}
