//! Compliance evidence and the per-campaign report built from it. Every time the dialer
//! holds back a due contact (its calling window, its state's hours, a frequency cap, a
//! do-not-call list, the want of consent) it keeps a [`BlockedDial`]: who, when, which
//! rule, and the version of the rules file in force. One is kept per episode (a contact
//! held for the same reason with no attempt between), not one per dialer tick.
use crate::consent::ConsentType;
use crate::jurisdiction::{HoursLaw, Jurisdiction, RuleBook, FEDERAL};
use crate::quality::CampaignQuality;
use crate::window::CallingRules;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Why a due contact was not dialled.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum BlockReason {
    /// Outside the campaign's calling window or the federal hours (08:00-21:00 local).
    CallingWindow,
    /// Outside the hours its state allows, although the campaign and federal hours would.
    StateHours,
    /// Its number had as many calls as a rolling cap allows.
    FrequencyCap,
    /// Its number is on a do-not-call list (checked at the claim and again before dialling).
    DoNotCall,
    /// Its consent does not satisfy the one the campaign requires.
    NoConsent,
}

crate::named_enum!(BlockReason {
    CallingWindow => "calling_window",
    StateHours => "state_hours",
    FrequencyCap => "frequency_cap",
    DoNotCall => "do_not_call",
    NoConsent => "no_consent",
});

/// The rule named when no law but the campaign's own window keeps a contact waiting.
pub const CAMPAIGN_WINDOW_RULE: &str = "the campaign's calling window";
/// The rule named for a number on the global do-not-call list.
pub const GLOBAL_DNC_RULE: &str = "the global do-not-call list";
/// The rule named for a number on the campaign's own do-not-call list.
pub const CAMPAIGN_DNC_RULE: &str = "the campaign's do-not-call list";
/// The rule named when the second check, just before dialling, finds the number listed.
pub const DNC_BEFORE_DIALLING_RULE: &str =
    "a do-not-call list, found by the check just before dialling";

/// The rule a closed window is down to, for the evidence: the state law (by citation)
/// when only it blocks, else the federal hours when they are closed too (the law before
/// the campaign's own choice), else the campaign's own window.
pub fn window_rule(rules: &CallingRules, zone: Tz, now: DateTime<Utc>) -> (BlockReason, String) {
    if let Some(law) = rules.blocking_state_law(zone, now) {
        return (BlockReason::StateHours, cite(law));
    }
    let local = now.with_timezone(&zone);
    let (date, time) = (local.date_naive(), local.time());
    let federal_closed = rules
        .law
        .iter()
        .filter(|l| l.code == FEDERAL)
        .filter(|l| !(rules.allow_outside_legal_hours && l.lifted_by_permission))
        .find(|l| {
            !l.hours_on(date)
                .is_some_and(|(start, end)| start <= time && time < end)
        });
    match federal_closed {
        Some(law) => (BlockReason::CallingWindow, cite(law)),
        None => (BlockReason::CallingWindow, CAMPAIGN_WINDOW_RULE.to_string()),
    }
}

fn cite(law: &HoursLaw) -> String {
    format!("{} ({})", law.citation, law.name)
}

/// The rule a consent hold is down to.
pub fn consent_rule(required: ConsentType) -> String {
    format!("the campaign requires {} consent", required.as_str())
}

/// One blocked dial, as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BlockedDial {
    pub id: i64,
    pub campaign_id: i64,
    pub contact_id: i64,
    /// The number it would have dialled (E.164).
    pub phone: String,
    /// `US-FL`-style code of the contact's state; null outside the US states.
    pub jurisdiction: Option<String>,
    pub reason: BlockReason,
    /// The rule that held it: a citation, a list, or the campaign's own window.
    pub rule: String,
    /// The version of the rules file in force when it was held.
    pub rules_version: String,
    /// When it was held (the dialer's clock).
    pub blocked_at: DateTime<Utc>,
    /// When it may be called again; null when not until something changes.
    pub held_until: Option<DateTime<Utc>>,
}

/// A jurisdiction's calls in the report's range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct JurisdictionCalls {
    /// `US-FL`-style code; null outside the US states (other countries, Canada, test numbers).
    pub jurisdiction: Option<String>,
    pub name: String,
    pub calls: i64,
    /// Citations of the shipped rules that bound these calls (the federal ones and the state's).
    pub rules: Vec<String>,
}

/// Blocked dials of one reason in one jurisdiction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BlockedCount {
    pub reason: BlockReason,
    pub jurisdiction: Option<String>,
    /// Episodes held back (a contact held again after an attempt counts again).
    pub blocked: i64,
    /// Distinct contacts among them.
    pub contacts: i64,
}

/// The campaign's contacts by their current consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConsentCoverage {
    /// The consent the campaign requires.
    pub required: ConsentType,
    /// Contacts enrolled.
    pub contacts: i64,
    /// Of them, those whose consent satisfies the requirement.
    pub satisfying: i64,
    pub by_type: Vec<ConsentCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConsentCount {
    /// Null: no consent in force (never recorded, or revoked).
    pub consent_type: Option<ConsentType>,
    pub contacts: i64,
}

/// An opt-out said on one of the campaign's calls, and when it took effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OptOutRecord {
    pub call_id: i64,
    pub contact_id: Option<i64>,
    pub phone: String,
    /// When it was asked for (recorded on the call).
    pub opted_out_at: DateTime<Utc>,
    /// When the number went on the global do-not-call list; null if it is not there (taken off since).
    pub dnc_at: Option<DateTime<Utc>>,
    /// `dnc_at - opted_out_at`, milliseconds (negative: it was listed before).
    pub lag_ms: Option<i64>,
    /// Calls placed to the number after the opt-out, from any campaign: 0 unless it was
    /// taken off the list again.
    pub calls_after: i64,
}

/// The campaign's opt-outs in the range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OptOuts {
    pub count: i64,
    /// The slowest opt-out to reach the do-not-call list, milliseconds.
    pub max_lag_ms: Option<i64>,
    /// The first ones (at most 100), oldest first.
    pub items: Vec<OptOutRecord>,
}

/// A campaign's compliance over a date range.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ComplianceReport {
    pub campaign_id: i64,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The version of the rules file this binary ships and enforces.
    pub rules_version: String,
    /// The versions named by the blocked dials of the range (several if the rules changed).
    pub rules_versions_recorded: Vec<String>,
    /// Calls placed in the range, by the jurisdiction of the number called.
    pub calls_by_jurisdiction: Vec<JurisdictionCalls>,
    /// Dials held back in the range, by reason and jurisdiction.
    pub blocked: Vec<BlockedCount>,
    /// The latest blocked dials of the range (at most 50); the export has them all.
    pub recent_blocked: Vec<BlockedDial>,
    /// Consent of the campaign's contacts now.
    pub consent: ConsentCoverage,
    /// The rolling 30-day abandonment figures, as the campaign page shows them.
    pub abandonment: CampaignQuality,
    pub opt_outs: OptOuts,
}

/// The report's jurisdiction of a number whose contact's `state` field is `state` (if any).
pub fn jurisdiction_label(place: &Jurisdiction) -> (Option<String>, String) {
    match (place.state_code(), place.state_name()) {
        (Some(code), Some(name)) => (Some(code), name.to_string()),
        _ => (None, "Outside the US states".to_string()),
    }
}

/// Citations of the rules that bind calls to `place`.
pub fn rules_cited(place: &Jurisdiction) -> Vec<String> {
    let book = RuleBook::shipped();
    let mut cited = Vec::new();
    for j in book.applicable(place) {
        let hours = j.hours.iter().map(|h| h.citation.clone());
        let caps = j.caps.iter().map(|c| c.cited.citation.clone());
        for c in hours.chain(caps) {
            if !cited.contains(&c) {
                cited.push(c);
            }
        }
    }
    cited
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::{CallingWindow, CampaignSettings};
    use chrono::{NaiveTime, Weekday::*};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn settings(start: &str, end: &str) -> CampaignSettings {
        let t = |s| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        CampaignSettings {
            calling_window: CallingWindow {
                start: t(start),
                end: t(end),
                days: vec![Mon, Tue, Wed, Thu, Fri, Sat, Sun],
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_closed_window_names_the_rule_that_closed_it() {
        let ny = chrono_tz::America::New_York;
        let wide = settings("07:00", "23:00");
        // Monday 2026-06-15 20:30 EDT: Florida's 20:00 closes; New York's federal 21:00 does not.
        let at = utc("2026-06-16T00:30:00Z");
        let fl = CallingRules::for_contact(&wide, &Jurisdiction::state("FL"));
        let (reason, rule) = window_rule(&fl, ny, at);
        assert_eq!(reason, BlockReason::StateHours);
        assert_eq!(rule, "Fla. Stat. 501.616(6)(a) (Florida)");
        // 21:30: the federal rule closes first for everyone.
        let later = utc("2026-06-16T01:30:00Z");
        let nyr = CallingRules::for_contact(&wide, &Jurisdiction::state("NY"));
        let (reason, rule) = window_rule(&nyr, ny, later);
        assert_eq!(reason, BlockReason::CallingWindow);
        assert!(rule.starts_with("47 CFR 64.1200(c)(1)"), "{rule}");
        // Closed by the campaign and the law alike: the law is named.
        let (_, rule) = window_rule(
            &CallingRules::for_contact(&wide, &Jurisdiction::default()),
            chrono_tz::Europe::London,
            at,
        );
        assert!(
            rule.starts_with("47 CFR 64.1200(c)(1)"),
            "01:30 in London: {rule}"
        );
        // A narrow campaign window closes before any law does.
        let narrow =
            CallingRules::for_contact(&settings("09:00", "17:00"), &Jurisdiction::state("NY"));
        let (reason, rule) = window_rule(&narrow, ny, at);
        assert_eq!(
            (reason, rule.as_str()),
            (BlockReason::CallingWindow, CAMPAIGN_WINDOW_RULE)
        );
    }

    #[test]
    fn reasons_round_trip_and_places_are_labelled() {
        for r in BlockReason::ALL {
            assert_eq!(BlockReason::parse(r.as_str()), Some(*r));
        }
        assert_eq!(
            jurisdiction_label(&Jurisdiction::state("FL")),
            (Some("US-FL".to_string()), "Florida".to_string())
        );
        assert_eq!(jurisdiction_label(&Jurisdiction::default()).0, None);
        let cited = rules_cited(&Jurisdiction::state("FL"));
        assert_eq!(cited[0], "47 CFR 64.1200(c)(1)");
        assert!(
            cited.contains(&"Fla. Stat. 501.616(6)(b)".to_string()),
            "{cited:?}"
        );
    }
}
