//! Per-contact overrides: a campaign may take the agent's language, voice and first
//! message for each call from a field of the contact it calls (issue 15 item 8). The
//! contact's value wins when it is usable; otherwise the campaign's (or its variant's)
//! stands, so a bad cell in a spreadsheet never stops a call.
use crate::contact::Contact;
use crate::FieldErrors;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The language codes ElevenLabs agents accept as `conversation_config_override.agent.
/// language` (the Flash v2.5 / Turbo v2.5 languages, ISO 639-1 plus `pt-br` and `fil`).
pub const LANGUAGES: &[&str] = &[
    "ar", "bg", "cs", "da", "de", "el", "en", "es", "fi", "fil", "fr", "hi", "hr", "hu", "id",
    "it", "ja", "ko", "ms", "nl", "no", "pl", "pt", "pt-br", "ro", "ru", "sk", "sv", "ta", "tr",
    "uk", "vi", "zh",
];

/// A field name in a mapping is at most this long (as are custom field names in practice).
pub const MAX_FIELD_NAME: usize = 100;
/// A contact's first message longer than this is not used (the campaign's is).
pub const MAX_FIRST_MESSAGE: usize = 2000;
/// ElevenLabs voice ids are 20 letters and digits; anything longer is not one.
const MAX_VOICE_ID: usize = 64;

/// Contact fields never used as overrides: the number and the address are not a
/// language, a voice or something to say to the callee.
const REFUSED_FIELDS: [&str; 2] = ["phone", "email"];

/// Which contact field (a custom field's name, or `first_name`, `company`, ...) each
/// override is read from; none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ContactOverrides {
    /// Field holding the call's language code (`es`, `pt-br`, ...).
    pub language_field: Option<String>,
    /// Field holding an ElevenLabs voice id.
    pub voice_field: Option<String>,
    /// Field holding the first message; it may use `{{variables}}` like the campaign's.
    pub first_message_field: Option<String>,
}

/// What one contact's fields override, after their values were checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactValues {
    pub language: Option<String>,
    pub voice_id: Option<String>,
    pub first_message: Option<String>,
}

/// A contact's field by name: the standard ones, else a custom field.
pub fn contact_field(contact: &Contact, name: &str) -> Option<String> {
    match name {
        "first_name" => contact.first_name.clone(),
        "last_name" => contact.last_name.clone(),
        "email" => contact.email.clone(),
        "company" => contact.company.clone(),
        "timezone" => contact.timezone.clone(),
        "phone" => Some(contact.phone.clone()),
        other => contact.custom_fields.get(other).cloned(),
    }
}

/// The ElevenLabs code for `raw` (`ES`, ` pt_BR ` and `pt-BR` are read as `es`, `pt-br`).
pub fn language_code(raw: &str) -> Option<&'static str> {
    let key = raw.trim().to_ascii_lowercase().replace('_', "-");
    LANGUAGES.iter().copied().find(|code| *code == key)
}

/// Whether `raw` has the shape of an ElevenLabs voice id (letters and digits).
pub fn is_voice_id(raw: &str) -> bool {
    (1..=MAX_VOICE_ID).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl ContactOverrides {
    pub fn is_empty(&self) -> bool {
        self.language_field.is_none()
            && self.voice_field.is_none()
            && self.first_message_field.is_none()
    }

    fn fields(&self) -> [(&'static str, Option<&str>); 3] {
        [
            ("language_field", self.language_field.as_deref()),
            ("voice_field", self.voice_field.as_deref()),
            ("first_message_field", self.first_message_field.as_deref()),
        ]
    }

    /// Refuses blank, overlong or unusable field names.
    pub fn validate(&self, e: &mut FieldErrors) {
        for (name, field) in self.fields() {
            let Some(field) = field else { continue };
            let path = format!("contact_overrides.{name}");
            if field.trim().is_empty() {
                e.add(path, "must not be blank (leave it out for none)");
            } else if field.chars().count() > MAX_FIELD_NAME {
                e.add(path, format!("must be at most {MAX_FIELD_NAME} characters"));
            } else if REFUSED_FIELDS.contains(&field) {
                e.add(path, format!("cannot be the contact's {field}"));
            }
        }
    }

    /// The contact's usable values. A language ElevenLabs does not know, a value that is
    /// no voice id, or a blank or overlong first message is left out (the campaign's
    /// stands).
    pub fn values(&self, contact: &Contact) -> ContactValues {
        let read = |field: &Option<String>| {
            field
                .as_deref()
                .and_then(|f| contact_field(contact, f))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        ContactValues {
            language: read(&self.language_field)
                .and_then(|v| language_code(&v))
                .map(str::to_owned),
            voice_id: read(&self.voice_field).filter(|v| is_voice_id(v)),
            first_message: read(&self.first_message_field)
                .filter(|v| v.chars().count() <= MAX_FIRST_MESSAGE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(custom: &[(&str, &str)]) -> Contact {
        serde_json::from_value(serde_json::json!({
            "id": 1, "phone": "+15005550006", "first_name": "Ana", "last_name": null,
            "email": "ana@example.com", "company": null, "timezone": null,
            "custom_fields": custom.iter().map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<std::collections::BTreeMap<_, _>>(),
            "tags": [], "do_not_call": false,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
        }))
        .expect("a contact")
    }

    fn all(language: &str, voice: &str, first: &str) -> ContactOverrides {
        ContactOverrides {
            language_field: Some(language.into()),
            voice_field: Some(voice.into()),
            first_message_field: Some(first.into()),
        }
    }

    #[test]
    fn language_codes_are_read_loosely_and_checked_against_elevenlabs_list() {
        assert_eq!(language_code("es"), Some("es"));
        assert_eq!(language_code(" ES "), Some("es"));
        assert_eq!(language_code("pt_BR"), Some("pt-br"));
        assert_eq!(language_code("pt-BR"), Some("pt-br"));
        assert_eq!(language_code("fil"), Some("fil"));
        assert_eq!(language_code("Spanish"), None);
        assert_eq!(language_code("xx"), None);
        assert_eq!(language_code(""), None);
    }

    #[test]
    fn usable_values_override_and_unusable_ones_are_left_out() {
        let o = all("Lang", "Voice", "Opening");
        let good = contact(&[
            ("Lang", "es"),
            ("Voice", "21m00Tcm4TlvDq8ikWAM"),
            ("Opening", " Hola {{first_name}} "),
        ]);
        assert_eq!(
            o.values(&good),
            ContactValues {
                language: Some("es".into()),
                voice_id: Some("21m00Tcm4TlvDq8ikWAM".into()),
                first_message: Some("Hola {{first_name}}".into()),
            }
        );
        let bad = contact(&[
            ("Lang", "Klingon"),
            ("Voice", "not a voice!"),
            ("Opening", "   "),
        ]);
        assert_eq!(o.values(&bad), ContactValues::default());
        let long = "a".repeat(MAX_FIRST_MESSAGE + 1);
        assert_eq!(
            o.values(&contact(&[("Opening", &long)])).first_message,
            None
        );
        // A missing field overrides nothing.
        assert_eq!(o.values(&contact(&[])), ContactValues::default());
    }

    #[test]
    fn standard_fields_may_be_mapped() {
        let o = ContactOverrides {
            first_message_field: Some("first_name".into()),
            ..Default::default()
        };
        assert_eq!(
            o.values(&contact(&[])).first_message.as_deref(),
            Some("Ana")
        );
    }

    #[test]
    fn blank_overlong_and_personal_field_names_are_refused() {
        let mut e = FieldErrors::new();
        all("language", "voice", "opening").validate(&mut e);
        assert!(e.is_empty(), "{e}");
        let mut e = FieldErrors::new();
        all(" ", &"v".repeat(MAX_FIELD_NAME + 1), "phone").validate(&mut e);
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "contact_overrides.language_field",
                "contact_overrides.voice_field",
                "contact_overrides.first_message_field"
            ]
        );
        let mut e = FieldErrors::new();
        all("email", "x", "y").validate(&mut e);
        assert_eq!(e.0.len(), 1);
    }
}
