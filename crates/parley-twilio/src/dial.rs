//! The `<Dial action>` request: what Twilio posts to the action URL when a dialled leg
//! ends (TwiML `<Dial>` docs, "action" attribute), and the inverse for a simulator.
//! Besides the usual voice parameters of the parent call (`CallSid` is the parent's),
//! it carries `DialCallStatus`, and `DialCallSid` / `DialCallDuration` when a child leg
//! was created / answered.

use crate::callbacks::{CallbackError, FormParams};

/// `DialCallStatus`: how the dialled leg ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialCallStatus {
    /// The called party answered and was connected; the leg has since ended.
    Completed,
    /// Like `completed`, when a conference was dialled.
    Answered,
    Busy,
    NoAnswer,
    Failed,
    /// The parent call hung up (or was redirected) while the leg rang.
    Canceled,
}

impl DialCallStatus {
    pub const ALL: [DialCallStatus; 6] = [
        Self::Completed,
        Self::Answered,
        Self::Busy,
        Self::NoAnswer,
        Self::Failed,
        Self::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Answered => "answered",
            Self::Busy => "busy",
            Self::NoAnswer => "no-answer",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// A person picked up and was bridged.
    pub fn connected(self) -> bool {
        matches!(self, Self::Completed | Self::Answered)
    }
}

/// A `<Dial action>` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialAction {
    pub account_sid: String,
    /// The parent call (the one that executed `<Dial>`).
    pub call_sid: String,
    pub dial_call_status: DialCallStatus,
    pub dial_call_sid: Option<String>,
    /// Seconds the bridged legs talked.
    pub dial_call_duration_secs: Option<u32>,
}

fn present<'a, P: FormParams + ?Sized>(params: &'a P, name: &str) -> Option<&'a str> {
    params.param(name).filter(|v| !v.is_empty())
}

impl DialAction {
    pub fn from_params<P: FormParams + ?Sized>(params: &P) -> Result<Self, CallbackError> {
        let required =
            |name: &'static str| present(params, name).ok_or(CallbackError::Missing(name));
        let status = required("DialCallStatus")?;
        let dial_call_status =
            DialCallStatus::parse(status).ok_or_else(|| CallbackError::Invalid {
                field: "DialCallStatus",
                value: status.to_owned(),
            })?;
        let dial_call_duration_secs = present(params, "DialCallDuration")
            .map(|d| {
                d.parse().map_err(|_| CallbackError::Invalid {
                    field: "DialCallDuration",
                    value: d.to_owned(),
                })
            })
            .transpose()?;
        Ok(Self {
            account_sid: required("AccountSid")?.to_owned(),
            call_sid: required("CallSid")?.to_owned(),
            dial_call_status,
            dial_call_sid: present(params, "DialCallSid").map(str::to_owned),
            dial_call_duration_secs,
        })
    }

    /// The Dial-specific parameters (the caller adds the parent's voice parameters).
    pub fn to_params(&self) -> Vec<(String, String)> {
        let mut p = vec![
            ("AccountSid".to_owned(), self.account_sid.clone()),
            ("CallSid".to_owned(), self.call_sid.clone()),
            (
                "DialCallStatus".to_owned(),
                self.dial_call_status.as_str().to_owned(),
            ),
        ];
        if let Some(sid) = &self.dial_call_sid {
            p.push(("DialCallSid".to_owned(), sid.clone()));
        }
        if let Some(secs) = self.dial_call_duration_secs {
            p.push(("DialCallDuration".to_owned(), secs.to_string()));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_unknown_statuses() {
        let action = DialAction {
            account_sid: "AC1".into(),
            call_sid: "CA1".into(),
            dial_call_status: DialCallStatus::NoAnswer,
            dial_call_sid: Some("CA2".into()),
            dial_call_duration_secs: None,
        };
        let params = action.to_params();
        assert!(params.contains(&("DialCallStatus".into(), "no-answer".into())));
        assert_eq!(DialAction::from_params(&params).unwrap(), action);
        let mut bad = params.clone();
        bad[2].1 = "ringing".into();
        assert!(matches!(
            DialAction::from_params(&bad),
            Err(CallbackError::Invalid {
                field: "DialCallStatus",
                ..
            })
        ));
        assert!(matches!(
            DialAction::from_params(&params[..2]),
            Err(CallbackError::Missing("DialCallStatus"))
        ));
        assert!(DialCallStatus::Completed.connected());
        assert!(!DialCallStatus::Busy.connected());
    }
}
