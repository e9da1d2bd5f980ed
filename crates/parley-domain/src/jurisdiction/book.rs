//! The calling rules by jurisdiction (`rules.toml`, shipped inside the binary): parsed and
//! checked once, then asked which hours, caps and recording rules bind a contact.
use super::Jurisdiction;
use crate::window::hm;
use chrono::{Datelike, NaiveDate, NaiveTime, TimeDelta, Weekday};
use serde::Deserialize;
use std::sync::LazyLock;

/// The rules file shipped in the binary.
pub const SHIPPED_RULES: &str = include_str!("rules.toml");

/// The code of the federal rules, which bind every contact.
pub const FEDERAL: &str = "US";

/// Why a rules file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("the rules file is not valid TOML: {0}")]
    Syntax(String),
    #[error("jurisdiction code `{0}` is neither `US` nor `US-` and a state's USPS code")]
    BadCode(String),
    #[error("jurisdiction `{0}` is listed twice")]
    DuplicateCode(String),
    #[error("the rules file has no federal (`US`) jurisdiction")]
    NoFederalRules,
    #[error("{code}: `{value}` is not a time of day (HH:MM)")]
    BadTime { code: String, value: String },
    #[error("{code}: {day} has hours in two entries")]
    DuplicateDay { code: String, day: String },
    #[error("{code}: the hours {start}-{end} are empty")]
    EmptyHours {
        code: String,
        start: String,
        end: String,
    },
    #[error("{code}: a cap needs 1 or more calls within 1 to 168 hours")]
    BadCap { code: String },
    #[error("{code}: `{value}` is not a date (YYYY-MM-DD)")]
    BadDate { code: String, value: String },
    #[error("{code}: a rule has no citation")]
    NoCitation { code: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRepr {
    version: String,
    jurisdiction: Vec<JurisdictionRepr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JurisdictionRepr {
    code: String,
    name: String,
    #[serde(default)]
    hours: Vec<HoursRepr>,
    #[serde(default)]
    holidays: Vec<HolidayRepr>,
    #[serde(default)]
    caps: Vec<CapRepr>,
    recording: Option<RecordingRepr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoursRepr {
    #[serde(with = "crate::campaign::weekdays")]
    days: Vec<Weekday>,
    start: String,
    end: String,
    lifted_by_permission: bool,
    #[serde(flatten)]
    cited: Cited,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayRepr {
    date: String,
    #[serde(flatten)]
    cited: Cited,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CapRepr {
    calls: u32,
    within_hours: u32,
    #[serde(flatten)]
    cited: Cited,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordingRepr {
    all_party_consent: bool,
    #[serde(flatten)]
    cited: Cited,
}

/// Where a rule comes from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Cited {
    /// The statute or regulation, e.g. `Fla. Stat. 501.616(6)(a)`.
    pub citation: String,
    /// Where it was read.
    pub source: String,
    /// When it was last checked against that source.
    pub checked: NaiveDate,
}

/// The hours one jurisdiction allows, by local weekday and date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoursLaw {
    /// `US` or `US-XX`.
    pub code: String,
    pub name: String,
    /// Monday first: the allowed `[start, end)` local hours, `None` when closed all day.
    pub days: [Option<(NaiveTime, NaiveTime)>; 7],
    /// Local dates with no calls at all.
    pub holidays: Vec<NaiveDate>,
    /// A campaign's `allow_outside_legal_hours` lifts this law (it does not apply to calls
    /// the person invited or permitted).
    pub lifted_by_permission: bool,
    pub citation: String,
}

impl HoursLaw {
    /// The hours allowed on one local date; `None` if none.
    pub fn hours_on(&self, date: NaiveDate) -> Option<(NaiveTime, NaiveTime)> {
        if self.holidays.contains(&date) {
            return None;
        }
        self.days[date.weekday().num_days_from_monday() as usize]
    }
}

/// At most `calls` calls to one number within a rolling `within`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrequencyCap {
    pub code: String,
    pub name: String,
    pub calls: u32,
    pub within: TimeDelta,
    pub cited: Cited,
}

/// Whether recording a call needs the consent of every party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRule {
    pub all_party_consent: bool,
    pub cited: Cited,
}

/// One jurisdiction's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JurisdictionRules {
    pub code: String,
    pub name: String,
    pub hours: Option<HoursLaw>,
    pub caps: Vec<FrequencyCap>,
    pub recording: Option<RecordingRule>,
    /// Each hours entry and holiday as written, for the README's table and reports.
    pub hour_citations: Vec<Cited>,
}

/// Every jurisdiction's rules, as one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleBook {
    pub version: String,
    pub jurisdictions: Vec<JurisdictionRules>,
}

static SHIPPED: LazyLock<RuleBook> = LazyLock::new(|| {
    // A test parses the same text: this cannot fail in a build whose tests passed.
    RuleBook::parse(SHIPPED_RULES).unwrap_or_else(|e| panic!("the shipped rules.toml: {e}"))
});

impl RuleBook {
    /// The rules shipped in this binary.
    pub fn shipped() -> &'static RuleBook {
        &SHIPPED
    }

    /// Parses and checks a rules file.
    pub fn parse(text: &str) -> Result<RuleBook, RulesError> {
        let file: FileRepr = toml::from_str(text).map_err(|e| RulesError::Syntax(e.to_string()))?;
        let mut jurisdictions: Vec<JurisdictionRules> = Vec::new();
        for j in file.jurisdiction {
            if jurisdictions.iter().any(|k| k.code == j.code) {
                return Err(RulesError::DuplicateCode(j.code));
            }
            jurisdictions.push(jurisdiction(j)?);
        }
        if !jurisdictions.iter().any(|j| j.code == FEDERAL) {
            return Err(RulesError::NoFederalRules);
        }
        Ok(RuleBook {
            version: file.version,
            jurisdictions,
        })
    }

    pub fn get(&self, code: &str) -> Option<&JurisdictionRules> {
        self.jurisdictions.iter().find(|j| j.code == code)
    }

    /// The rules that bind a contact in `place`: the federal ones (applied to every
    /// contact, as Parley's guard), then its state's if the book has them.
    pub fn applicable(&self, place: &Jurisdiction) -> impl Iterator<Item = &JurisdictionRules> {
        let state = place.state_code();
        self.jurisdictions
            .iter()
            .filter(move |j| j.code == FEDERAL || state.as_deref() == Some(j.code.as_str()))
    }

    /// The hours laws that bind a contact in `place`.
    pub fn hours_for(&self, place: &Jurisdiction) -> Vec<HoursLaw> {
        self.applicable(place)
            .filter_map(|j| j.hours.clone())
            .collect()
    }

    /// The frequency caps that bind a contact in `place`.
    pub fn caps_for(&self, place: &Jurisdiction) -> Vec<FrequencyCap> {
        self.applicable(place)
            .flat_map(|j| j.caps.iter().cloned())
            .collect()
    }

    /// Whether recording a call to `place` needs every party's consent, and which rule says so.
    pub fn all_party_recording_consent(&self, place: &Jurisdiction) -> Option<&RecordingRule> {
        self.applicable(place)
            .filter_map(|j| j.recording.as_ref())
            .find(|r| r.all_party_consent)
    }

    /// The longest rolling period any cap counts over (how much call history to read).
    pub fn longest_cap(&self) -> Option<TimeDelta> {
        self.jurisdictions
            .iter()
            .flat_map(|j| &j.caps)
            .map(|c| c.within)
            .max()
    }
}

fn jurisdiction(j: JurisdictionRepr) -> Result<JurisdictionRules, RulesError> {
    let code = j.code;
    let valid = code == FEDERAL
        || code
            .strip_prefix("US-")
            .is_some_and(|s| super::states::name(s).is_some());
    if !valid {
        return Err(RulesError::BadCode(code));
    }
    let cited = |c: &Cited| {
        if c.citation.trim().is_empty() {
            Err(RulesError::NoCitation { code: code.clone() })
        } else {
            Ok(())
        }
    };
    let time = |value: &str| {
        NaiveTime::parse_from_str(value, "%H:%M").map_err(|_| RulesError::BadTime {
            code: code.clone(),
            value: value.to_string(),
        })
    };
    let mut days: [Option<(NaiveTime, NaiveTime)>; 7] = [None; 7];
    let mut hour_citations = Vec::new();
    let mut lifted = true;
    let mut citations = Vec::new();
    for h in &j.hours {
        cited(&h.cited)?;
        let (start, end) = (time(&h.start)?, time(&h.end)?);
        if start >= end {
            return Err(RulesError::EmptyHours {
                code: code.clone(),
                start: h.start.clone(),
                end: h.end.clone(),
            });
        }
        for day in &h.days {
            let slot = &mut days[day.num_days_from_monday() as usize];
            if slot.is_some() {
                return Err(RulesError::DuplicateDay {
                    code: code.clone(),
                    day: day.to_string(),
                });
            }
            *slot = Some((start, end));
        }
        lifted &= h.lifted_by_permission;
        if !citations.contains(&h.cited.citation) {
            citations.push(h.cited.citation.clone());
        }
        hour_citations.push(h.cited.clone());
    }
    let mut holidays = Vec::new();
    for h in &j.holidays {
        cited(&h.cited)?;
        holidays.push(h.date.parse().map_err(|_| RulesError::BadDate {
            code: code.clone(),
            value: h.date.clone(),
        })?);
        hour_citations.push(h.cited.clone());
    }
    let has_hours = !j.hours.is_empty() || !holidays.is_empty();
    if has_hours && j.hours.is_empty() {
        // Holidays alone: other days are unrestricted by this jurisdiction.
        let last = NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999).unwrap_or_default();
        days = [Some((hm(0, 0), last)); 7];
    }
    let mut caps = Vec::new();
    for c in j.caps {
        cited(&c.cited)?;
        if c.calls == 0 || !(1..=168).contains(&c.within_hours) {
            return Err(RulesError::BadCap { code: code.clone() });
        }
        caps.push(FrequencyCap {
            code: code.clone(),
            name: j.name.clone(),
            calls: c.calls,
            within: TimeDelta::hours(c.within_hours.into()),
            cited: c.cited,
        });
    }
    let recording = match j.recording {
        Some(r) => {
            cited(&r.cited)?;
            Some(RecordingRule {
                all_party_consent: r.all_party_consent,
                cited: r.cited,
            })
        }
        None => None,
    };
    let hours = has_hours.then(|| HoursLaw {
        code: code.clone(),
        name: j.name.clone(),
        days,
        holidays,
        lifted_by_permission: lifted,
        citation: citations.join("; "),
    });
    Ok(JurisdictionRules {
        code,
        name: j.name,
        hours,
        caps,
        recording,
        hour_citations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_rules_parse_and_name_their_version() {
        let book = RuleBook::parse(SHIPPED_RULES).expect("rules.toml parses");
        assert!(!book.version.is_empty());
        assert_eq!(RuleBook::shipped(), &book);
        for j in &book.jurisdictions {
            for c in j
                .hour_citations
                .iter()
                .chain(j.caps.iter().map(|c| &c.cited))
                .chain(j.recording.iter().map(|r| &r.cited))
            {
                assert!(
                    !c.citation.is_empty() && c.source.starts_with("https://"),
                    "{c:?}"
                );
            }
        }
    }

    #[test]
    fn the_shipped_federal_and_florida_rules_say_what_the_law_says() {
        let book = RuleBook::shipped();
        let us = book.get("US").unwrap().hours.clone().unwrap();
        assert_eq!(us.days, [Some((hm(8, 0), hm(21, 0))); 7]);
        assert!(us.lifted_by_permission);
        assert_eq!(us.citation, "47 CFR 64.1200(c)(1)");
        let fl = book.get("US-FL").unwrap();
        let hours = fl.hours.clone().unwrap();
        assert_eq!(hours.days, [Some((hm(8, 0), hm(20, 0))); 7]);
        assert!(!hours.lifted_by_permission, "a campaign cannot lift it");
        assert_eq!(fl.caps.len(), 1);
        assert_eq!(
            (fl.caps[0].calls, fl.caps[0].within),
            (3, TimeDelta::hours(24))
        );
        assert!(fl.recording.as_ref().unwrap().all_party_consent);
        assert!(
            !book
                .get("US")
                .unwrap()
                .recording
                .as_ref()
                .unwrap()
                .all_party_consent
        );
        assert_eq!(book.longest_cap(), Some(TimeDelta::hours(24)));
    }

    #[test]
    fn the_shipped_maryland_and_oklahoma_rules_say_what_the_law_says() {
        let book = RuleBook::shipped();
        for (code, all_party) in [("US-MD", Some(true)), ("US-OK", None)] {
            let state = book.get(code).unwrap();
            let hours = state.hours.clone().unwrap();
            assert_eq!(hours.days, [Some((hm(8, 0), hm(20, 0))); 7], "{code}");
            assert!(
                !hours.lifted_by_permission,
                "{code}: a campaign cannot lift it"
            );
            let caps: Vec<_> = state.caps.iter().map(|c| (c.calls, c.within)).collect();
            assert_eq!(caps, [(3, TimeDelta::hours(24))], "{code}");
            assert_eq!(
                state.recording.as_ref().map(|r| r.all_party_consent),
                all_party,
                "{code}"
            );
        }
        let md = Jurisdiction::state("MD");
        assert_eq!(
            book.caps_for(&md).len(),
            1,
            "Maryland's cap applies to its contacts"
        );
    }

    const HEADER: &str = "version = \"t\"\n[[jurisdiction]]\ncode = \"US\"\nname = \"US\"\n";
    const CITED: &str = "citation = \"c\"\nsource = \"https://x\"\nchecked = \"2026-01-01\"\n";

    fn refused(extra: &str) -> RulesError {
        RuleBook::parse(&format!("{HEADER}{extra}")).unwrap_err()
    }

    #[test]
    fn a_broken_rules_file_is_refused_with_what_is_wrong() {
        assert!(matches!(
            RuleBook::parse("version = 1").unwrap_err(),
            RulesError::Syntax(_)
        ));
        assert_eq!(
            RuleBook::parse("version = \"t\"\n[[jurisdiction]]\ncode = \"US-FL\"\nname = \"F\"\n")
                .unwrap_err(),
            RulesError::NoFederalRules
        );
        assert_eq!(
            refused("[[jurisdiction]]\ncode = \"US-ZZ\"\nname = \"Z\"\n"),
            RulesError::BadCode("US-ZZ".into())
        );
        assert_eq!(
            refused("[[jurisdiction]]\ncode = \"US\"\nname = \"again\"\n"),
            RulesError::DuplicateCode("US".into())
        );
        let hours = |days: &str, start: &str, end: &str| {
            format!(
                "[[jurisdiction.hours]]\ndays = [{days}]\nstart = \"{start}\"\nend = \"{end}\"\n\
                 lifted_by_permission = false\n{CITED}"
            )
        };
        assert!(matches!(
            refused(&hours("\"funday\"", "08:00", "20:00")),
            RulesError::Syntax(e) if e.contains("not a weekday")
        ));
        assert!(matches!(
            refused(&hours("\"mon\"", "8am", "20:00")),
            RulesError::BadTime { .. }
        ));
        assert!(matches!(
            refused(&hours("\"mon\"", "20:00", "08:00")),
            RulesError::EmptyHours { .. }
        ));
        let twice = format!(
            "{}{}",
            hours("\"mon\"", "08:00", "20:00"),
            hours("\"mon\"", "09:00", "17:00")
        );
        assert!(matches!(refused(&twice), RulesError::DuplicateDay { .. }));
        assert!(matches!(
            refused(&format!(
                "[[jurisdiction.caps]]\ncalls = 3\nwithin_hours = 200\n{CITED}"
            )),
            RulesError::BadCap { .. }
        ));
        assert!(matches!(
            refused(
                "[[jurisdiction.caps]]\ncalls = 3\nwithin_hours = 24\ncitation = \"\"\n\
                 source = \"https://x\"\nchecked = \"2026-01-01\"\n"
            ),
            RulesError::NoCitation { .. }
        ));
        assert!(matches!(
            refused("[[jurisdiction.caps]]\ncalls = 3\nwithin_hours = 24\n"),
            RulesError::Syntax(_)
        ));
    }

    #[test]
    fn weekday_hours_sunday_closing_and_holidays_are_read_as_written() {
        let text = format!(
            "{HEADER}[[jurisdiction]]\ncode = \"US-OK\"\nname = \"Test state\"\n\
             [[jurisdiction.hours]]\ndays = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]\n\
             start = \"08:00\"\nend = \"21:00\"\nlifted_by_permission = false\n{CITED}\
             [[jurisdiction.hours]]\ndays = [\"sat\"]\nstart = \"09:00\"\nend = \"17:00\"\n\
             lifted_by_permission = false\n{CITED}\
             [[jurisdiction.holidays]]\ndate = \"2026-12-25\"\n{CITED}"
        );
        let book = RuleBook::parse(&text).unwrap();
        let law = book.get("US-OK").unwrap().hours.clone().unwrap();
        let on = |d: &str| law.hours_on(d.parse().unwrap());
        assert_eq!(on("2026-12-21"), Some((hm(8, 0), hm(21, 0))), "Monday");
        assert_eq!(on("2026-12-19"), Some((hm(9, 0), hm(17, 0))), "Saturday");
        assert_eq!(on("2026-12-20"), None, "Sunday is closed");
        assert_eq!(on("2026-12-25"), None, "a holiday (a Friday)");
        assert_eq!(law.citation, "c");
    }
}
