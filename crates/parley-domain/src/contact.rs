//! Contacts: the people a campaign calls.
use crate::{FieldErrors, Phone};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Free-form extra columns from an import, kept as text.
pub type CustomFields = BTreeMap<String, String>;

/// The editable fields of a contact, already normalised and validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactFields {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub timezone: Option<String>,
    pub custom_fields: CustomFields,
    pub tags: Vec<String>,
}

/// A contact ready to be written: its phone plus fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContact {
    pub phone: Phone,
    pub fields: ContactFields,
}

impl ContactFields {
    /// Merges `other` into `self` the way duplicate rows of an import merge: a non-empty
    /// value from `other` wins, custom fields are combined, tags are unioned.
    pub fn merge_from(&mut self, other: ContactFields) {
        fn take(dst: &mut Option<String>, src: Option<String>) {
            if src.is_some() {
                *dst = src;
            }
        }
        take(&mut self.first_name, other.first_name);
        take(&mut self.last_name, other.last_name);
        take(&mut self.email, other.email);
        take(&mut self.company, other.company);
        take(&mut self.timezone, other.timezone);
        self.custom_fields.extend(other.custom_fields);
        for t in other.tags {
            if !self.tags.contains(&t) {
                self.tags.push(t);
            }
        }
    }
}

/// Trims text and turns blank into `None`.
pub fn clean(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A tag is trimmed, lowercase, 1-64 characters of letters, digits, `-`, `_`, `.`, `:`.
pub fn normalize_tag(raw: &str) -> Result<String, String> {
    let tag = raw.trim().to_lowercase();
    if tag.is_empty() || tag.chars().count() > 64 {
        return Err(format!("tag `{raw}` must be 1-64 characters"));
    }
    if !tag
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | ' '))
    {
        return Err(format!(
            "tag `{raw}` has characters other than letters, digits, - _ . :"
        ));
    }
    Ok(tag)
}

/// Tags as written in a CSV cell: separated by `,`, `;` or `|`.
pub fn split_tags(cell: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in cell.split([',', ';', '|']).filter(|p| !p.trim().is_empty()) {
        let t = normalize_tag(part)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// A deliberately loose check: something@something.something, no spaces.
pub fn is_plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
        && s.len() <= 254
}

pub fn is_known_timezone(tz: &str) -> bool {
    tz.parse::<chrono_tz::Tz>().is_ok()
}

/// Checks fields that have rules; `prefix` is prepended to field names in errors.
pub fn validate_fields(fields: &ContactFields, errors: &mut FieldErrors) {
    if let Some(email) = &fields.email {
        if !is_plausible_email(email) {
            errors.add("email", format!("`{email}` is not an email address"));
        }
    }
    if let Some(tz) = &fields.timezone {
        if !is_known_timezone(tz) {
            errors.add(
                "timezone",
                format!("`{tz}` is not an IANA time zone (e.g. America/New_York)"),
            );
        }
    }
    for (name, value) in [
        ("first_name", &fields.first_name),
        ("last_name", &fields.last_name),
        ("company", &fields.company),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > 200) {
            errors.add(name, "must be at most 200 characters");
        }
    }
}

/// What the API returns for a contact.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    pub id: crate::Id,
    pub phone: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub timezone: Option<String>,
    pub custom_fields: CustomFields,
    pub tags: Vec<String>,
    /// Whether the number is on the global do-not-call list.
    pub do_not_call: bool,
    /// The consent in force: the latest record of its history unless revoked since;
    /// absent when it has none (see `GET /api/v1/contacts/{id}/consent`).
    pub consent: Option<crate::consent::ConsentRecord>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_prefers_new_non_empty_values_and_unions_tags() {
        let mut a = ContactFields {
            first_name: Some("Ann".into()),
            email: Some("ann@old.example".into()),
            tags: vec!["vip".into()],
            custom_fields: [("plan".to_string(), "basic".to_string())].into(),
            ..Default::default()
        };
        a.merge_from(ContactFields {
            email: Some("ann@new.example".into()),
            company: Some("Acme".into()),
            tags: vec!["vip".into(), "q4".into()],
            custom_fields: [("seats".to_string(), "4".to_string())].into(),
            ..Default::default()
        });
        assert_eq!(a.first_name.as_deref(), Some("Ann"));
        assert_eq!(a.email.as_deref(), Some("ann@new.example"));
        assert_eq!(a.company.as_deref(), Some("Acme"));
        assert_eq!(a.tags, vec!["vip", "q4"]);
        assert_eq!(a.custom_fields.len(), 2);
    }

    #[test]
    fn tags_are_normalised_and_split() {
        assert_eq!(split_tags(" VIP, q4 ;vip|").unwrap(), vec!["vip", "q4"]);
        assert!(split_tags("ok,<script>").is_err());
        assert!(normalize_tag("").is_err());
    }

    #[test]
    fn field_rules() {
        let mut errors = FieldErrors::new();
        validate_fields(
            &ContactFields {
                email: Some("not-an-email".into()),
                timezone: Some("Mars/Olympus".into()),
                ..Default::default()
            },
            &mut errors,
        );
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["email", "timezone"]);
        assert!(is_plausible_email("a.b@example.co.uk"));
        assert!(is_known_timezone("Europe/Berlin"));
    }
}
