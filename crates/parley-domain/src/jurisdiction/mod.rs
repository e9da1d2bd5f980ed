//! Where a contact is, for the law: its jurisdiction, and the rules that bind calls to it
//! (shipped as data in `rules.toml`, see [`RuleBook`]).
//!
//! A contact's jurisdiction comes from its `state` custom field when that names a US
//! state (code or name, any case: `FL`, `florida`), else from its number: a US area code
//! gives the state it is assigned to (Florida law presumes a call to a Florida area code
//! reaches a Florida resident). Contacts carry no address, so the `state` field, mapped
//! from an import column of that name, is the address.
mod book;
mod caps;
pub mod states;
pub mod table;
mod us_area_codes;

pub use book::{
    Cited, FrequencyCap, HoursLaw, JurisdictionRules, RecordingRule, RuleBook, RulesError, FEDERAL,
    SHIPPED_RULES,
};
pub use caps::next_eligible;

use crate::contact::CustomFields;
use crate::Phone;

/// The custom field that names a contact's state.
pub const STATE_FIELD: &str = "state";

/// Where a contact is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Jurisdiction {
    /// USPS code of the US state or territory, when known.
    pub state: Option<&'static str>,
}

impl Jurisdiction {
    pub fn state(code: &'static str) -> Jurisdiction {
        Jurisdiction { state: Some(code) }
    }

    /// The rules-file code of its state, e.g. `US-FL`.
    pub fn state_code(&self) -> Option<String> {
        self.state.map(|s| format!("US-{s}"))
    }

    /// The state's name, e.g. `Florida`.
    pub fn state_name(&self) -> Option<&'static str> {
        self.state.and_then(states::name)
    }
}

/// The jurisdiction of a number alone: its US area code's state.
pub fn jurisdiction_of_phone(phone: &Phone) -> Jurisdiction {
    let state = phone
        .as_str()
        .strip_prefix("+1")
        .and_then(|national| national.get(..3))
        .and_then(|code| code.parse().ok())
        .and_then(us_area_codes::state);
    Jurisdiction { state }
}

/// The jurisdiction of a US area code (`305`: Florida); none for codes of no state.
pub fn jurisdiction_of_area_code(area_code: u16) -> Jurisdiction {
    Jurisdiction {
        state: us_area_codes::state(area_code),
    }
}

/// The jurisdiction of a contact: its `state` field (any case of the key) when it names a
/// US state, else its number's.
pub fn contact_jurisdiction(custom_fields: &CustomFields, phone: &Phone) -> Jurisdiction {
    custom_fields
        .iter()
        .find(|(key, _)| key.trim().eq_ignore_ascii_case(STATE_FIELD))
        .and_then(|(_, value)| states::parse(value))
        .map(Jurisdiction::state)
        .unwrap_or_else(|| jurisdiction_of_phone(phone))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(e164: &str) -> Phone {
        Phone::from_e164(e164).unwrap()
    }

    fn fields(pairs: &[(&str, &str)]) -> CustomFields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn florida_area_codes_are_presumed_to_reach_florida() {
        for number in [
            "+13055550123", // Miami
            "+17865550123",
            "+14075550123", // Orlando
            "+18135550123", // Tampa
            "+19045550123", // Jacksonville
            "+18505550123", // Pensacola, on Central time
            "+14485550123",
            "+16455550123",
        ] {
            assert_eq!(
                jurisdiction_of_phone(&phone(number)).state,
                Some("FL"),
                "{number}"
            );
        }
        assert_eq!(
            jurisdiction_of_phone(&phone("+12125550123")).state,
            Some("NY")
        );
        assert_eq!(
            jurisdiction_of_phone(&phone("+19155550123")).state,
            Some("TX")
        );
        assert_eq!(
            jurisdiction_of_phone(&phone("+17875550123")).state,
            Some("PR")
        );
    }

    #[test]
    fn numbers_outside_the_us_have_no_state() {
        assert_eq!(
            jurisdiction_of_phone(&phone("+14165550123")).state,
            None,
            "Toronto"
        );
        assert_eq!(
            jurisdiction_of_phone(&phone("+15550100001")).state,
            None,
            "sandbox 555"
        );
        assert_eq!(jurisdiction_of_phone(&phone("+442079460958")).state, None);
    }

    #[test]
    fn a_contacts_state_field_wins_over_its_area_code() {
        let miami = phone("+13055550123");
        let moved = fields(&[("State", " new york ")]);
        assert_eq!(contact_jurisdiction(&moved, &miami).state, Some("NY"));
        let code = fields(&[("state", "fl")]);
        assert_eq!(
            contact_jurisdiction(&code, &phone("+12125550123")).state,
            Some("FL")
        );
        // A value that names no state is ignored rather than trusted.
        let junk = fields(&[("state", "Bavaria")]);
        assert_eq!(contact_jurisdiction(&junk, &miami).state, Some("FL"));
        assert_eq!(
            contact_jurisdiction(&CustomFields::new(), &miami).state_name(),
            Some("Florida")
        );
    }

    #[test]
    fn every_state_area_code_is_also_in_the_time_zone_table() {
        for code in 200..1000u16 {
            if let Some(state) = us_area_codes::state(code) {
                assert!(
                    crate::timezones::nanp_zone(code).is_some(),
                    "{code} ({state}) has no time zone"
                );
            }
        }
    }

    #[test]
    fn the_federal_rules_bind_everyone_and_a_states_rules_its_contacts() {
        let book = RuleBook::shipped();
        let codes = |j: Jurisdiction| -> Vec<String> {
            book.applicable(&j).map(|r| r.code.clone()).collect()
        };
        assert_eq!(codes(Jurisdiction::state("FL")), ["US", "US-FL"]);
        assert_eq!(
            codes(Jurisdiction::state("NY")),
            ["US"],
            "no New York rules shipped"
        );
        assert_eq!(codes(Jurisdiction::default()), ["US"]);
        assert_eq!(book.caps_for(&Jurisdiction::state("NY")), vec![]);
        assert_eq!(book.caps_for(&Jurisdiction::state("FL")).len(), 1);
        assert!(book
            .all_party_recording_consent(&Jurisdiction::state("FL"))
            .is_some());
        assert!(book
            .all_party_recording_consent(&Jurisdiction::state("NY"))
            .is_none());
    }
}

#[cfg(test)]
mod hours_tests;
