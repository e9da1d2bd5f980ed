//! Calls that remember: what earlier calls to a contact learned, given to the agent as
//! dynamic variables its prompt can use (`{{previous_call_summary}}`), and the copy of the
//! variables a call sent that its record shows (secrets and hidden names left out).
use crate::call::CallOutcome;
use crate::call_result::ValueType;
use crate::validation::FieldErrors;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A previous summary is cut to this many characters before it is sent.
pub const MAX_SUMMARY_CHARS: usize = 1_000;
/// At most this many data-collection results are remembered (`previous_<name>`).
pub const MAX_REMEMBERED_RESULTS: usize = 20;
/// Variables named with this prefix are secrets: sent, never shown on the call record.
pub const SECRET_PREFIX: &str = "secret__";
/// The call record shows at most this many variables ...
pub const MAX_SHOWN_VARIABLES: usize = 64;
/// ... each text cut to this many characters.
pub const MAX_SHOWN_CHARS: usize = 500;
/// At most this many names may be hidden from call records.
pub const MAX_HIDDEN_VARIABLES: usize = 100;

/// A campaign's memory of earlier calls: off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RememberPreviousCalls {
    /// Give the agent what earlier calls to the contact learned.
    pub enabled: bool,
    /// Which variables to send; empty sends all of them.
    pub variables: Vec<MemoryVariable>,
}

/// A variable learned from earlier calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemoryVariable {
    /// `previous_call_summary`: the agent's summary of the previous conversation.
    PreviousCallSummary,
    /// `previous_outcome`: that call's outcome (`success`, `unsuccessful`, ...).
    PreviousOutcome,
    /// `previous_call_at`: when it was, in the contact's zone, as spoken
    /// ("Tuesday, December 1 at 3:05 PM").
    PreviousCallAt,
    /// `attempt_number`: 1 for the first attempt in the campaign, 2 for the next, ...
    AttemptNumber,
    /// `callback_reason`: why the callee asked to be called back, when this call is
    /// that callback.
    CallbackReason,
    /// `previous_<name>`: each data-collection result earlier calls gathered (the latest
    /// value of each).
    PreviousResults,
}

impl MemoryVariable {
    pub const ALL: [MemoryVariable; 6] = [
        MemoryVariable::PreviousCallSummary,
        MemoryVariable::PreviousOutcome,
        MemoryVariable::PreviousCallAt,
        MemoryVariable::AttemptNumber,
        MemoryVariable::CallbackReason,
        MemoryVariable::PreviousResults,
    ];
}

impl RememberPreviousCalls {
    /// Whether `variable` is to be sent.
    pub fn wants(&self, variable: MemoryVariable) -> bool {
        self.enabled && (self.variables.is_empty() || self.variables.contains(&variable))
    }

    /// The variables to send for a call that is attempt `attempt`, from what earlier
    /// calls learned, with times in the contact's `zone`. Absent facts are left out (the
    /// agent takes no nulls).
    pub fn variables(&self, facts: &Remembered, attempt: i64, zone: Tz) -> Map<String, Value> {
        let mut vars = Map::new();
        if !self.enabled {
            return vars;
        }
        if let Some(previous) = &facts.previous {
            if self.wants(MemoryVariable::PreviousCallSummary) {
                if let Some(summary) = previous.summary.as_deref().filter(|s| !s.trim().is_empty())
                {
                    vars.insert(
                        "previous_call_summary".into(),
                        Value::String(cut(summary.trim(), MAX_SUMMARY_CHARS)),
                    );
                }
            }
            if self.wants(MemoryVariable::PreviousOutcome) {
                if let Some(outcome) = previous.outcome {
                    vars.insert("previous_outcome".into(), outcome.as_str().into());
                }
            }
            if self.wants(MemoryVariable::PreviousCallAt) {
                vars.insert(
                    "previous_call_at".into(),
                    Value::String(spoken_time(previous.at, zone)),
                );
            }
        }
        if self.wants(MemoryVariable::AttemptNumber) {
            vars.insert("attempt_number".into(), attempt.max(1).into());
        }
        if self.wants(MemoryVariable::CallbackReason) {
            if let Some(reason) = &facts.callback_reason {
                vars.insert(
                    "callback_reason".into(),
                    Value::String(cut(reason, MAX_SHOWN_CHARS)),
                );
            }
        }
        if self.wants(MemoryVariable::PreviousResults) {
            for result in facts.results.iter().take(MAX_REMEMBERED_RESULTS) {
                let Some(value) = result.value() else {
                    continue;
                };
                // The fixed variables keep their meaning whatever a result is called.
                vars.entry(format!("previous_{}", result.name))
                    .or_insert(value);
            }
        }
        vars
    }
}

/// The previous conversation with the contact.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousCall {
    pub call_id: crate::Id,
    /// When it ended (or began, if no end is on record).
    pub at: DateTime<Utc>,
    pub outcome: Option<CallOutcome>,
    pub summary: Option<String>,
}

/// A data-collection result an earlier call gathered, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RememberedResult {
    pub name: String,
    pub value_type: ValueType,
    pub value: String,
}

impl RememberedResult {
    /// The value as the agent takes it: text, a number or a boolean; lists, objects and
    /// names that cannot be a placeholder are left out.
    fn value(&self) -> Option<Value> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return None;
        }
        match self.value_type {
            ValueType::String => Some(Value::String(cut(&self.value, MAX_SHOWN_CHARS))),
            ValueType::Boolean => self.value.parse::<bool>().ok().map(Value::Bool),
            ValueType::Number => match self.value.parse::<i64>() {
                Ok(n) => Some(n.into()),
                Err(_) => self
                    .value
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number),
            },
            ValueType::Null | ValueType::Json => None,
        }
    }
}

/// What earlier calls to a contact learned, read when the next one is dialled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Remembered {
    /// The latest earlier call that reached a conversation.
    pub previous: Option<PreviousCall>,
    /// Why the callee asked to be called back, when this call is that callback.
    pub callback_reason: Option<String>,
    /// The latest value of each data-collection field, newest first.
    pub results: Vec<RememberedResult>,
}

/// `at` in `zone` as a person would say it: "Tuesday, December 1 at 3:05 PM".
pub fn spoken_time(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%A, %B %-d at %-I:%M %p")
        .to_string()
}

/// The variables a call sent as its record shows them: no secrets (`secret__...`), none
/// of the `hidden` names, at most [`MAX_SHOWN_VARIABLES`] of them, texts cut to
/// [`MAX_SHOWN_CHARS`].
pub fn shown_variables(sent: &Map<String, Value>, hidden: &[String]) -> Map<String, Value> {
    sent.iter()
        .filter(|(name, value)| {
            !name.starts_with(SECRET_PREFIX) && !hidden.contains(name) && !value.is_null()
        })
        .take(MAX_SHOWN_VARIABLES)
        .map(|(name, value)| {
            let value = match value {
                Value::String(s) => Value::String(cut(s, MAX_SHOWN_CHARS)),
                other => other.clone(),
            };
            (name.clone(), value)
        })
        .collect()
}

/// Checks the names hidden from call records.
pub fn validate_hidden(hidden: &[String], e: &mut FieldErrors) {
    if hidden.len() > MAX_HIDDEN_VARIABLES {
        e.add(
            "hidden_variables",
            format!("at most {MAX_HIDDEN_VARIABLES} names"),
        );
    }
    if hidden.iter().any(|n| n.trim().is_empty()) {
        e.add("hidden_variables", "names must not be blank");
    }
}

/// `text` cut to `max` characters, marked with an ellipsis when cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

#[cfg(test)]
mod tests;
