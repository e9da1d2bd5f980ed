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

/// A value a duplicate row gave that its contact kept its own over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptValue {
    /// `first_name`, `email`, ... or a custom field's name.
    pub field: String,
    pub kept: String,
    pub ignored: String,
}

impl ContactFields {
    /// Merges a later row with the same phone into the contact an earlier row of the same
    /// import wrote: the earlier values stay (a duplicate never renames a contact), blanks
    /// are filled, custom fields added, tags unioned. Returns the values it did not take.
    pub fn fill_from(&mut self, other: ContactFields) -> Vec<KeptValue> {
        let mut kept = Vec::new();
        let mut fill = |field: &str, dst: &mut Option<String>, src: Option<String>| match (
            dst.as_deref(),
            src,
        ) {
            (None, src) => *dst = src,
            (Some(old), Some(new)) if old != new => kept.push(KeptValue {
                field: field.into(),
                kept: old.into(),
                ignored: new,
            }),
            _ => {}
        };
        fill("first_name", &mut self.first_name, other.first_name);
        fill("last_name", &mut self.last_name, other.last_name);
        fill("email", &mut self.email, other.email);
        fill("company", &mut self.company, other.company);
        fill("timezone", &mut self.timezone, other.timezone);
        for (name, value) in other.custom_fields {
            let mut slot = self.custom_fields.get(&name).cloned();
            fill(&name, &mut slot, Some(value));
            if let Some(v) = slot {
                self.custom_fields.insert(name, v);
            }
        }
        for t in other.tags {
            if !self.tags.contains(&t) {
                self.tags.push(t);
            }
        }
        kept
    }

    /// Clears the optional fields [`validate_fields`] refuses and says which and why: an
    /// import keeps a contact whose phone is good and reports what it left out.
    pub fn drop_invalid(&mut self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        validate_fields(self, &mut errors);
        for e in &errors.0 {
            match e.field.as_str() {
                "email" => self.email = None,
                "timezone" => self.timezone = None,
                "first_name" => self.first_name = None,
                "last_name" => self.last_name = None,
                "company" => self.company = None,
                // `validate_fields` checks only the fields above (`field_rules` says
                // which); an import must not stop on one it learns later.
                _ => {}
            }
        }
        errors
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

/// Tags as written in a CSV cell, separated by `,`, `;` or `|`, normalised: the good
/// tags, and why each bad one is not one.
pub fn split_tags(cell: &str) -> (Vec<String>, Vec<String>) {
    let (mut out, mut refused) = (Vec::new(), Vec::new());
    for part in cell.split([',', ';', '|']).filter(|p| !p.trim().is_empty()) {
        match normalize_tag(part) {
            Ok(t) if !out.contains(&t) => out.push(t),
            Ok(_) => {}
            Err(why) => refused.push(why),
        }
    }
    (out, refused)
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
        assert_eq!(split_tags(" VIP, q4 ;vip|").0, vec!["vip", "q4"]);
        let (tags, refused) = split_tags("ok,<script>");
        assert_eq!((tags, refused.len()), (vec!["ok".to_string()], 1));
        assert!(normalize_tag("").is_err());
    }

    #[test]
    fn a_duplicate_row_fills_blanks_but_never_renames() {
        let mut first = ContactFields {
            first_name: Some("Ann".into()),
            custom_fields: [("plan".to_string(), "gold".to_string())].into(),
            tags: vec!["a".into()],
            ..Default::default()
        };
        let kept = first.fill_from(ContactFields {
            first_name: Some("Anna".into()),
            last_name: Some("Lee".into()),
            custom_fields: [
                ("plan".to_string(), "silver".to_string()),
                ("seats".to_string(), "4".to_string()),
            ]
            .into(),
            tags: vec!["b".into(), "a".into()],
            ..Default::default()
        });
        assert_eq!(first.first_name.as_deref(), Some("Ann"));
        assert_eq!(first.last_name.as_deref(), Some("Lee"));
        assert_eq!(first.custom_fields["plan"], "gold");
        assert_eq!(first.custom_fields["seats"], "4");
        assert_eq!(first.tags, vec!["a", "b"]);
        let said: Vec<_> = kept
            .iter()
            .map(|k| (k.field.as_str(), k.kept.as_str(), k.ignored.as_str()))
            .collect();
        assert_eq!(
            said,
            vec![("first_name", "Ann", "Anna"), ("plan", "gold", "silver")]
        );
    }

    #[test]
    fn invalid_optional_fields_are_dropped_and_named() {
        let mut f = ContactFields {
            first_name: Some("Ann".into()),
            email: Some("nope".into()),
            timezone: Some("Mars/Base".into()),
            ..Default::default()
        };
        let dropped: Vec<_> = f.drop_invalid().0.into_iter().map(|e| e.field).collect();
        assert_eq!(dropped, vec!["email", "timezone"]);
        assert_eq!((f.email, f.timezone), (None, None));
        assert_eq!(f.first_name.as_deref(), Some("Ann"));
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
