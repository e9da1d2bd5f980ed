//! Structured results of a call: the agent's data-collection values and evaluation
//! verdicts as typed fields, with the bounds that keep one call's share small, and the
//! `name:value` filter that selects calls by them.
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// At most this many fields of each kind are kept per call (the first in name order).
pub const MAX_FIELDS_PER_KIND: usize = 100;
/// A field whose name is longer than this (in characters) is dropped, not truncated:
/// two long names cut to the same prefix would be one field.
pub const MAX_NAME_CHARS: usize = 100;
/// Values longer than this (in characters) are cut to it.
pub const MAX_VALUE_CHARS: usize = 1_000;
/// Rationales longer than this (in characters) are cut to it.
pub const MAX_RATIONALE_CHARS: usize = 2_000;
/// At most this many `result` filters in one query.
pub const MAX_FILTERS: usize = 10;
/// A campaign's result counts name at most this many values per field (the most
/// frequent); the rest are summed as `other`.
pub const MAX_SUMMARY_VALUES: usize = 10;
/// A campaign's result counts cover at most this many fields (the first by kind, name).
pub const MAX_SUMMARY_FIELDS: usize = 200;

/// Where a field comes from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ResultKind {
    /// An item of the agent's data collection (`data_collection_results`).
    DataCollection,
    /// An evaluation criterion (`evaluation_criteria_results`): success, failure or unknown.
    Evaluation,
}

impl ResultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultKind::DataCollection => "data_collection",
            ResultKind::Evaluation => "evaluation",
        }
    }

    pub fn parse(s: &str) -> Option<ResultKind> {
        match s {
            "data_collection" => Some(ResultKind::DataCollection),
            "evaluation" => Some(ResultKind::Evaluation),
            _ => None,
        }
    }
}

/// The JSON type the agent gave a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    String,
    Number,
    Boolean,
    Null,
    /// A list or an object, stored as compact JSON text.
    Json,
}

impl ValueType {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::Number => "number",
            ValueType::Boolean => "boolean",
            ValueType::Null => "null",
            ValueType::Json => "json",
        }
    }

    pub fn parse(s: &str) -> Option<ValueType> {
        match s {
            "string" => Some(ValueType::String),
            "number" => Some(ValueType::Number),
            "boolean" => Some(ValueType::Boolean),
            "null" => Some(ValueType::Null),
            "json" => Some(ValueType::Json),
            _ => None,
        }
    }
}

/// One typed field of one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CallResult {
    pub kind: ResultKind,
    pub name: String,
    pub value_type: ValueType,
    /// The value as text (`true`, `42`, `yes`, compact JSON); none for a null.
    pub value: Option<String>,
    pub rationale: Option<String>,
}

/// How often one value of a field occurs across a campaign's calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ValueCount {
    /// The value as text; none for a null.
    pub value: Option<String>,
    pub count: i64,
}

/// The values of a field beyond the most frequent ones, together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OtherValues {
    /// How many distinct values.
    pub values: i64,
    /// How many calls have one of them.
    pub count: i64,
}

/// One field across a campaign's calls: how many have it, and with which values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ResultSummary {
    pub kind: ResultKind,
    pub name: String,
    /// Calls that have this field.
    pub calls: i64,
    /// The most frequent values, most frequent first (ties by value).
    pub values: Vec<ValueCount>,
    /// The rest, when there are more distinct values than are listed.
    pub other: Option<OtherValues>,
}

/// `s` cut to at most `max` characters.
fn cap(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => s[..end].to_string(),
        None => s.to_string(),
    }
}

impl CallResult {
    /// A bounded field from what the agent reported; `None` when the name is empty or
    /// too long. Values and rationales over their caps are cut to them.
    pub fn bounded(
        kind: ResultKind,
        name: &str,
        value: &Value,
        rationale: Option<&str>,
    ) -> Option<CallResult> {
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return None;
        }
        let (value_type, text) = match value {
            Value::Null => (ValueType::Null, None),
            Value::String(s) => (ValueType::String, Some(s.clone())),
            Value::Number(n) => (ValueType::Number, Some(n.to_string())),
            Value::Bool(b) => (ValueType::Boolean, Some(b.to_string())),
            other => (ValueType::Json, Some(other.to_string())),
        };
        Some(CallResult {
            kind,
            name: name.to_string(),
            value_type,
            value: text.map(|t| cap(&t, MAX_VALUE_CHARS)),
            rationale: rationale
                .filter(|r| !r.is_empty())
                .map(|r| cap(r, MAX_RATIONALE_CHARS)),
        })
    }

    /// The fields of one kind, in name order, bounded: at most [`MAX_FIELDS_PER_KIND`].
    pub fn bounded_all<'a>(
        kind: ResultKind,
        fields: impl IntoIterator<Item = (&'a str, &'a Value, Option<&'a str>)>,
    ) -> Vec<CallResult> {
        let mut out: Vec<CallResult> = fields
            .into_iter()
            .filter_map(|(name, value, rationale)| {
                CallResult::bounded(kind, name, value, rationale)
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out.dedup_by(|a, b| a.name == b.name);
        out.truncate(MAX_FIELDS_PER_KIND);
        out
    }
}

/// One `result` filter: calls whose field `name` (of `kind`, or of either kind) has the
/// text value `value` exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultFilter {
    pub kind: Option<ResultKind>,
    pub name: String,
    pub value: String,
}

/// Why a `result` filter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultFilterError {
    /// Not `NAME:VALUE` (a request that cannot be read: 400).
    #[error("must be NAME:VALUE, such as interested:yes")]
    NoColon,
    #[error("must name a field before the `:`")]
    NoName,
    /// Longer than anything stored (a value breaking a rule: 422).
    #[error("the field name is longer than {MAX_NAME_CHARS} characters")]
    NameTooLong,
    #[error("the value is longer than {MAX_VALUE_CHARS} characters")]
    ValueTooLong,
}

impl ResultFilterError {
    /// Whether the filter could not be read at all, rather than breaking a length rule.
    pub fn is_malformed(&self) -> bool {
        matches!(self, ResultFilterError::NoColon | ResultFilterError::NoName)
    }
}

impl ResultFilter {
    /// Parses `NAME:VALUE`, `data_collection.NAME:VALUE` or `evaluation.NAME:VALUE`: the
    /// name is what comes before the first `:`, the value everything after it.
    pub fn parse(s: &str) -> Result<ResultFilter, ResultFilterError> {
        let Some((name, value)) = s.split_once(':') else {
            return Err(ResultFilterError::NoColon);
        };
        let (kind, name) = match name.split_once('.') {
            Some((k, rest)) if ResultKind::parse(k).is_some() => (ResultKind::parse(k), rest),
            _ => (None, name),
        };
        if name.is_empty() {
            return Err(ResultFilterError::NoName);
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(ResultFilterError::NameTooLong);
        }
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(ResultFilterError::ValueTooLong);
        }
        Ok(ResultFilter {
            kind,
            name: name.to_string(),
            value: value.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_keep_their_type_and_long_text_is_cut() {
        let kind = ResultKind::DataCollection;
        let typed = |v: Value| CallResult::bounded(kind, "f", &v, None).unwrap();
        assert_eq!(typed(json!(12)).value_type, ValueType::Number);
        assert_eq!(typed(json!(12)).value.as_deref(), Some("12"));
        assert_eq!(typed(json!(true)).value.as_deref(), Some("true"));
        assert_eq!(typed(json!(null)).value, None);
        assert_eq!(
            typed(json!({"a": [1]})).value.as_deref(),
            Some(r#"{"a":[1]}"#)
        );
        let long = "é".repeat(MAX_VALUE_CHARS + 5);
        let cut = typed(json!(long)).value.unwrap();
        assert_eq!(cut.chars().count(), MAX_VALUE_CHARS);
        let rationale = "r".repeat(MAX_RATIONALE_CHARS * 2);
        let r = CallResult::bounded(kind, "f", &json!(1), Some(&rationale)).unwrap();
        assert_eq!(r.rationale.unwrap().len(), MAX_RATIONALE_CHARS);
    }

    #[test]
    fn too_many_fields_or_too_long_names_are_dropped() {
        let names: Vec<String> = (0..MAX_FIELDS_PER_KIND + 20)
            .map(|i| format!("f{i:04}"))
            .chain([String::new(), "n".repeat(MAX_NAME_CHARS + 1)])
            .collect();
        let v = json!("x");
        let kept = CallResult::bounded_all(
            ResultKind::Evaluation,
            names.iter().map(|n| (n.as_str(), &v, None)),
        );
        assert_eq!(kept.len(), MAX_FIELDS_PER_KIND);
        assert_eq!(kept[0].name, "f0000");
        assert!(kept.iter().all(|r| !r.name.is_empty() && r.name.len() <= 5));
    }

    #[test]
    fn filters_split_at_the_first_colon_and_may_name_a_kind() {
        let f = ResultFilter::parse("interested:yes").unwrap();
        assert_eq!(
            (f.kind, f.name.as_str(), f.value.as_str()),
            (None, "interested", "yes")
        );
        let f = ResultFilter::parse("evaluation.goal_met:success").unwrap();
        assert_eq!(f.kind, Some(ResultKind::Evaluation));
        assert_eq!(f.name, "goal_met");
        let f = ResultFilter::parse("callback_time:10:30").unwrap();
        assert_eq!(f.value, "10:30");
        let f = ResultFilter::parse("seats:").unwrap();
        assert_eq!(f.value, "");
        let f = ResultFilter::parse("a.b:c").unwrap();
        assert_eq!((f.kind, f.name.as_str()), (None, "a.b"));
        assert_eq!(
            ResultFilter::parse("interested"),
            Err(ResultFilterError::NoColon)
        );
        assert_eq!(ResultFilter::parse(":yes"), Err(ResultFilterError::NoName));
        let long = format!("{}:x", "n".repeat(101));
        assert_eq!(
            ResultFilter::parse(&long),
            Err(ResultFilterError::NameTooLong)
        );
        assert!(!ResultFilterError::NameTooLong.is_malformed());
    }
}
