//! Reading the agent's parameters, naming the field when one is unusable.
use super::ToolError;
use serde_json::Value;

/// A string parameter, if given (JSON `null` counts as not given).
pub(super) fn optional_str<'a>(
    parameters: &'a Value,
    field: &'static str,
) -> Result<Option<&'a str>, ToolError> {
    match parameters.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim())),
        Some(_) => Err(ToolError::invalid(field, "must be a string")),
    }
}

pub(super) fn required_str<'a>(
    parameters: &'a Value,
    field: &'static str,
    hint: &str,
) -> Result<&'a str, ToolError> {
    optional_str(parameters, field)?.ok_or_else(|| ToolError::invalid(field, hint))
}

/// An IANA time zone parameter such as `Europe/Berlin`.
pub(super) fn optional_zone(
    parameters: &Value,
    field: &'static str,
) -> Result<Option<chrono_tz::Tz>, ToolError> {
    optional_str(parameters, field)?
        .map(|name| {
            name.parse().map_err(|_| {
                ToolError::invalid(field, "must be an IANA time zone such as Europe/Berlin")
            })
        })
        .transpose()
}
