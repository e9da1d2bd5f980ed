//! Consent: what a person agreed to before an AI-voice call may be placed to them (the
//! FCC's 2024 ruling makes AI voices "artificial" voices under the TCPA, so such calls
//! need prior express consent, written for marketing). A contact's consent is a history
//! that only grows: each record is a grant of one [`ConsentType`] from a
//! [`ConsentSource`], or a revocation (an opt-out). The contact's current consent is its
//! latest record by the time it was captured, unless that is a revocation.
use crate::FieldErrors;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The kinds of consent, weakest first: a stronger one satisfies a campaign that asks for
/// a weaker one (`express_written` > `express` > `existing_business_relationship` >
/// `none`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ConsentType {
    /// No consent (a campaign requiring it dials everyone not on a do-not-call list).
    None,
    /// An existing business relationship with the caller.
    ExistingBusinessRelationship,
    /// Prior express consent (for informational calls).
    Express,
    /// Prior express written consent (for marketing calls).
    ExpressWritten,
}

crate::named_enum!(ConsentType {
    None => "none",
    ExistingBusinessRelationship => "existing_business_relationship",
    Express => "express",
    ExpressWritten => "express_written",
});

impl ConsentType {
    /// Whether a contact whose current consent is `self` may be called by a campaign that
    /// requires `required`.
    pub fn satisfies(self, required: ConsentType) -> bool {
        self >= required
    }

    /// Every consent that satisfies `required`, strongest first: the values the dialer's
    /// claim accepts (see the store's consent guard).
    pub fn satisfying(required: ConsentType) -> impl Iterator<Item = ConsentType> {
        ConsentType::ALL
            .iter()
            .rev()
            .copied()
            .filter(move |t| t.satisfies(required))
    }

    /// Reads a cell or a field loosely: case, spaces, `-` and `_` do not matter, and a
    /// few common spellings are understood (`written`, `ebr`, `no`).
    pub fn read(text: &str) -> Option<ConsentType> {
        let canon: String = text
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_'))
            .flat_map(char::to_lowercase)
            .collect();
        Some(match canon.as_str() {
            "expresswritten" | "written" | "pewc" => ConsentType::ExpressWritten,
            "express" => ConsentType::Express,
            "existingbusinessrelationship" | "ebr" => ConsentType::ExistingBusinessRelationship,
            "none" | "no" => ConsentType::None,
            _ => return None,
        })
    }
}

/// What a campaign asks of a contact's consent when its setting is not given.
pub const CAMPAIGN_DEFAULT: ConsentType = ConsentType::ExpressWritten;

/// A grant of consent or a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentKind {
    Grant,
    Revocation,
}

crate::named_enum!(ConsentKind {
    Grant => "grant",
    Revocation => "revocation",
});

/// Where a consent record came from; `detail` says which one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentSourceKind {
    /// A CSV or XLSX import: `detail` is the file and line, `people.csv line 12`.
    Import,
    /// A Google Sheets import: `detail` is the sheet, range and row.
    Sheet,
    /// The REST API or the dashboard: `detail` is the API key or user.
    Api,
    /// A web form: `detail` is its URL.
    Form,
    /// The callee asked on a call not to be called (the `opt_out` tool).
    OptOut,
    /// The number was put on the global do-not-call list.
    DoNotCall,
}

crate::named_enum!(ConsentSourceKind {
    Import => "import",
    Sheet => "sheet",
    Api => "api",
    Form => "form",
    OptOut => "opt_out",
    DoNotCall => "do_not_call",
});

/// Longest source detail, consent text and URL kept (characters).
pub const MAX_DETAIL: usize = 500;
pub const MAX_TEXT: usize = 10_000;
pub const MAX_URL: usize = 2_048;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsentSource {
    pub kind: ConsentSourceKind,
    pub detail: String,
}

impl ConsentSource {
    /// A source, its detail cut to [`MAX_DETAIL`] characters.
    pub fn new(kind: ConsentSourceKind, detail: impl Into<String>) -> ConsentSource {
        let detail: String = detail.into();
        ConsentSource {
            kind,
            detail: detail.chars().take(MAX_DETAIL).collect(),
        }
    }
}

/// A record to append to a contact's history, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConsent {
    pub kind: ConsentKind,
    /// The consent given; `None` on a revocation.
    pub consent_type: Option<ConsentType>,
    pub source: ConsentSource,
    /// When the person gave (or withdrew) it; `None`: when it is recorded.
    pub captured_at: Option<DateTime<Utc>>,
    /// The wording the person agreed to, or what they said when they withdrew.
    pub text: Option<String>,
    /// A link to the wording or the signed form.
    pub url: Option<String>,
}

impl NewConsent {
    /// A revocation now, from `source`, with what was said.
    pub fn revocation(source: ConsentSource, text: Option<&str>) -> NewConsent {
        NewConsent {
            kind: ConsentKind::Revocation,
            consent_type: None,
            source,
            captured_at: None,
            text: text.map(|t| t.chars().take(MAX_TEXT).collect()),
            url: None,
        }
    }

    /// Checks a record given by a person (API, import) against `now`: a grant names its
    /// type and a revocation does not, nothing is captured in the future (a later
    /// revocation must always win over it), text and URL are bounded and the URL is
    /// http(s). Field names are the API's.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        match (self.kind, self.consent_type) {
            (ConsentKind::Grant, None) => e.add("consent_type", "a grant names its consent type"),
            (ConsentKind::Revocation, Some(_)) => {
                e.add("consent_type", "a revocation has no consent type")
            }
            _ => {}
        }
        if self.captured_at.is_some_and(|t| t > now) {
            e.add("captured_at", "must not be in the future");
        }
        if self
            .text
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_TEXT)
        {
            e.add("text", format!("must be at most {MAX_TEXT} characters"));
        }
        if let Some(url) = &self.url {
            if url.len() > MAX_URL {
                e.add("url", format!("must be at most {MAX_URL} characters"));
            } else if !is_web_url(url) {
                e.add("url", "must be an http or https URL");
            }
        }
        e.into_result()
    }
}

/// `http://` or `https://`, a host, and no spaces or control characters.
pub fn is_web_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty()
            && !r.starts_with(['/', '?', '#'])
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
    })
}

/// A record of a contact's consent history, as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsentRecord {
    pub id: crate::Id,
    pub contact_id: crate::Id,
    pub kind: ConsentKind,
    /// The consent given; absent on a revocation.
    pub consent_type: Option<ConsentType>,
    pub source: ConsentSource,
    /// When the person gave (or withdrew) it; when it was recorded if the source did not say.
    pub captured_at: DateTime<Utc>,
    pub text: Option<String>,
    pub url: Option<String>,
    /// When Parley recorded it, and who (an API key, a user, `import`, `system`).
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}

/// The consent a contact has now, from its latest record (or `none` without one).
pub fn current_type(current: Option<&ConsentRecord>) -> ConsentType {
    current
        .and_then(|r| r.consent_type)
        .unwrap_or(ConsentType::None)
}

/// Why a consent cell of an import cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentCellError {
    #[error("`{0}` is not a consent type (express_written, express, existing_business_relationship or none)")]
    Type(String),
    #[error("`{0}` is not a date (YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS] in UTC, or RFC 3339)")]
    Date(String),
    #[error("consent_at {0} is in the future")]
    Future(String),
    #[error("consent_url `{0}` is not an http or https URL")]
    Url(String),
    #[error("consent_text is longer than {MAX_TEXT} characters")]
    TextTooLong,
    #[error("consent_at, consent_text or consent_url is given without a consent_type")]
    NoType,
}

/// Reads a time as written in a spreadsheet: a date (midnight UTC), a date and time (UTC,
/// as XLSX cells read), or RFC 3339 with its offset.
pub fn read_time(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, f) {
            return Some(n.and_utc());
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| n.and_utc())
}

/// The consent cells of an import row, still text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsentCells {
    pub consent_type: Option<String>,
    pub at: Option<String>,
    pub text: Option<String>,
    pub url: Option<String>,
}

impl ConsentCells {
    /// The grant these cells describe (`None` when they are all empty), with `source`,
    /// judged against `now`.
    pub fn grant(
        &self,
        source: ConsentSource,
        now: DateTime<Utc>,
    ) -> Result<Option<NewConsent>, ConsentCellError> {
        let Some(raw) = &self.consent_type else {
            return match (&self.at, &self.text, &self.url) {
                (None, None, None) => Ok(None),
                _ => Err(ConsentCellError::NoType),
            };
        };
        let consent_type =
            ConsentType::read(raw).ok_or_else(|| ConsentCellError::Type(raw.clone()))?;
        let captured_at = match &self.at {
            None => None,
            Some(at) => {
                let t = read_time(at).ok_or_else(|| ConsentCellError::Date(at.clone()))?;
                if t > now {
                    return Err(ConsentCellError::Future(at.clone()));
                }
                Some(t)
            }
        };
        if self
            .text
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_TEXT)
        {
            return Err(ConsentCellError::TextTooLong);
        }
        if let Some(url) = &self.url {
            if url.len() > MAX_URL || !is_web_url(url) {
                return Err(ConsentCellError::Url(url.chars().take(80).collect()));
            }
        }
        Ok(Some(NewConsent {
            kind: ConsentKind::Grant,
            consent_type: Some(consent_type),
            source,
            captured_at,
            text: self.text.clone(),
            url: self.url.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use ConsentType as T;

    #[test]
    fn express_written_beats_express_beats_a_business_relationship_beats_none() {
        assert!(T::ExpressWritten > T::Express);
        assert!(T::Express > T::ExistingBusinessRelationship);
        assert!(T::ExistingBusinessRelationship > T::None);
        let mut all = T::ALL.to_vec();
        all.sort();
        assert_eq!(all, T::ALL, "ALL is listed weakest first");
    }

    #[test]
    fn a_stronger_consent_satisfies_a_weaker_requirement_and_never_the_reverse() {
        assert!(T::ExpressWritten.satisfies(T::Express));
        assert!(T::Express.satisfies(T::Express));
        assert!(!T::Express.satisfies(T::ExpressWritten));
        assert!(!T::None.satisfies(T::ExistingBusinessRelationship));
        for t in T::ALL {
            assert!(
                t.satisfies(T::None),
                "{t} satisfies a campaign requiring none"
            );
        }
    }

    #[test]
    fn the_types_accepted_for_a_requirement_are_it_and_the_stronger_ones() {
        let ok = |r| T::satisfying(r).collect::<Vec<_>>();
        assert_eq!(ok(T::ExpressWritten), vec![T::ExpressWritten]);
        assert_eq!(ok(T::Express), vec![T::ExpressWritten, T::Express]);
        assert_eq!(ok(T::None).len(), 4);
    }

    #[test]
    fn types_read_back_what_they_write_and_common_spellings() {
        for t in T::ALL {
            assert_eq!(T::parse(t.as_str()), Some(*t));
            assert_eq!(T::read(t.as_str()), Some(*t));
        }
        assert_eq!(T::read(" Express Written "), Some(T::ExpressWritten));
        assert_eq!(T::read("EBR"), Some(T::ExistingBusinessRelationship));
        assert_eq!(T::read("maybe"), None);
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap()
    }

    fn cells(t: Option<&str>, at: Option<&str>, url: Option<&str>) -> ConsentCells {
        ConsentCells {
            consent_type: t.map(str::to_string),
            at: at.map(str::to_string),
            text: None,
            url: url.map(str::to_string),
        }
    }

    fn src() -> ConsentSource {
        ConsentSource::new(ConsentSourceKind::Import, "people.csv line 2")
    }

    #[test]
    fn import_cells_become_a_grant_with_the_time_they_give() {
        let g = cells(
            Some("written"),
            Some("2024-05-01"),
            Some("https://example.com/f/1"),
        )
        .grant(src(), now())
        .unwrap()
        .unwrap();
        assert_eq!(g.consent_type, Some(T::ExpressWritten));
        assert_eq!(
            g.captured_at,
            Some(Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap())
        );
        let xlsx = cells(Some("express"), Some("2024-05-01 13:30:00"), None);
        assert_eq!(
            xlsx.grant(src(), now()).unwrap().unwrap().captured_at,
            Some(Utc.with_ymd_and_hms(2024, 5, 1, 13, 30, 0).unwrap())
        );
        assert_eq!(cells(None, None, None).grant(src(), now()), Ok(None));
    }

    #[test]
    fn bad_import_cells_say_what_is_wrong() {
        let err = |c: ConsentCells| c.grant(src(), now()).unwrap_err();
        assert!(matches!(
            err(cells(Some("yes please"), None, None)),
            ConsentCellError::Type(_)
        ));
        assert!(matches!(
            err(cells(Some("express"), Some("May 1st"), None)),
            ConsentCellError::Date(_)
        ));
        assert!(matches!(
            err(cells(Some("express"), Some("2027-01-01"), None)),
            ConsentCellError::Future(_)
        ));
        assert!(matches!(
            err(cells(Some("express"), None, Some("javascript:alert(1)"))),
            ConsentCellError::Url(_)
        ));
        assert_eq!(
            err(cells(None, Some("2024-05-01"), None)),
            ConsentCellError::NoType
        );
    }

    #[test]
    fn a_grant_names_its_type_a_revocation_does_not_and_neither_is_in_the_future() {
        let mut g = NewConsent {
            kind: ConsentKind::Grant,
            consent_type: None,
            source: src(),
            captured_at: Some(now() + chrono::TimeDelta::seconds(1)),
            text: None,
            url: Some("ftp://example.com/x".into()),
        };
        let fields: Vec<String> = g
            .validate(now())
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["consent_type", "captured_at", "url"]);
        g.consent_type = Some(T::Express);
        g.captured_at = Some(now());
        g.url = None;
        assert!(g.validate(now()).is_ok());
        let mut r = NewConsent::revocation(src(), Some("stop calling"));
        assert!(r.validate(now()).is_ok());
        r.consent_type = Some(T::Express);
        assert!(r.validate(now()).is_err());
    }

    #[test]
    fn source_details_are_bounded() {
        let s = ConsentSource::new(ConsentSourceKind::Api, "x".repeat(MAX_DETAIL + 10));
        assert_eq!(s.detail.chars().count(), MAX_DETAIL);
    }
}
