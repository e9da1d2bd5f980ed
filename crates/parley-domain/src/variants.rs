//! A/B variants (issue 15 item 7): a campaign may try several agents, first messages or
//! prompts side by side. Each contact is given one variant by a stable hash of the
//! campaign's and the contact's ids, so every attempt at a contact (retries, callbacks)
//! uses the same one, and the shares follow the weights.
use crate::FieldErrors;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const MAX_VARIANTS: usize = 10;
pub const MAX_WEIGHT: u32 = 1000;
pub const MAX_NAME: usize = 40;
/// Bounds on a variant's texts (the request body is bounded too; these keep one setting
/// from taking all of it).
pub const MAX_FIRST_MESSAGE: usize = 2000;
pub const MAX_PROMPT: usize = 50_000;

/// One arm of an A/B test. What it leaves out is the campaign's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Shown in analytics and on calls; unique within the campaign.
    pub name: String,
    /// Relative share of contacts (1-1000): weights 1 and 3 give a quarter and three
    /// quarters.
    pub weight: u32,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub first_message: Option<String>,
    #[serde(default)]
    pub prompt: Option<String>,
}

/// Checks a campaign's variants; errors name `variants[i].field`.
pub fn validate(variants: &[Variant], e: &mut FieldErrors) {
    if variants.len() > MAX_VARIANTS {
        e.add("variants", format!("at most {MAX_VARIANTS} variants"));
        return;
    }
    let mut seen: Vec<String> = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let at = |f: &str| format!("variants[{i}].{f}");
        let name = v.name.trim();
        if name.is_empty() {
            e.add(at("name"), "must not be blank");
        } else if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
            e.add(
                at("name"),
                format!("must be at most {MAX_NAME} printable characters"),
            );
        } else if seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            e.add(at("name"), format!("`{name}` names another variant too"));
        } else if name != v.name {
            e.add(at("name"), "must not start or end with spaces");
        }
        seen.push(name.to_owned());
        if !(1..=MAX_WEIGHT).contains(&v.weight) {
            e.add(at("weight"), format!("must be between 1 and {MAX_WEIGHT}"));
        }
        if v.agent_id.as_ref().is_some_and(|a| a.trim().is_empty()) {
            e.add(
                at("agent_id"),
                "must not be blank (leave it out for the campaign's)",
            );
        }
        for (field, text, max) in [
            ("first_message", &v.first_message, MAX_FIRST_MESSAGE),
            ("prompt", &v.prompt, MAX_PROMPT),
        ] {
            if text.as_ref().is_some_and(|t| t.chars().count() > max) {
                e.add(at(field), format!("must be at most {max} characters"));
            }
        }
    }
}

/// SplitMix64's finaliser: a fixed, well-mixing function of 64 bits. Written out here
/// (not `std`'s hasher, whose output may change between Rust releases) so assignments
/// stay the same across versions and nodes.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Where a contact falls in `[0, 2^64)` for a campaign.
fn point(campaign_id: i64, contact_id: i64) -> u64 {
    mix(mix(campaign_id as u64) ^ contact_id as u64)
}

/// The variant a contact gets in a campaign; `None` without variants. The same inputs
/// always give the same variant (weights of 0 are refused by [`validate`], and get none).
pub fn assign(variants: &[Variant], campaign_id: i64, contact_id: i64) -> Option<&Variant> {
    let total: u64 = variants.iter().map(|v| u64::from(v.weight)).sum();
    if total == 0 {
        return None;
    }
    // The bias of the modulo is below total / 2^64: nothing at 10 x 1000 weights.
    let mut at = point(campaign_id, contact_id) % total;
    for v in variants {
        let w = u64::from(v.weight);
        if at < w {
            return Some(v);
        }
        at -= w;
    }
    None
}

/// The first messages a campaign's calls may open with, each with the settings field
/// it comes from: the campaign's alone without variants, else each variant's own (or the
/// campaign's where the variant has none).
pub fn first_messages(s: &crate::campaign::CampaignSettings) -> Vec<(String, Option<&str>)> {
    if s.variants.is_empty() {
        return vec![("first_message".into(), s.first_message.as_deref())];
    }
    s.variants
        .iter()
        .enumerate()
        .map(|(i, v)| match &v.first_message {
            Some(m) => (format!("variants[{i}].first_message"), Some(m.as_str())),
            None => ("first_message".into(), s.first_message.as_deref()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(name: &str, weight: u32) -> Variant {
        Variant {
            name: name.into(),
            weight,
            agent_id: None,
            first_message: None,
            prompt: None,
        }
    }

    fn errors(variants: &[Variant]) -> Vec<String> {
        let mut e = FieldErrors::new();
        validate(variants, &mut e);
        e.0.into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn assignment_is_deterministic_and_depends_on_the_campaign() {
        let vs = [variant("a", 1), variant("b", 1)];
        for contact in 1..200 {
            let first = assign(&vs, 7, contact).unwrap();
            assert_eq!(assign(&vs, 7, contact).unwrap(), first);
        }
        // Pinned (computed independently): a change of the hash would move the contacts
        // of every running test to other variants.
        assert_eq!(point(1, 1), 0xE9FD_6049_D65A_F21E);
        let names: String = (1..=16)
            .map(|c| assign(&vs, 1, c).unwrap().name.as_str())
            .collect();
        assert_eq!(names, "abbbbaababbaabba");
        // Another campaign splits the same contacts differently.
        let other: Vec<&str> = (1..=64)
            .map(|c| assign(&vs, 2, c).unwrap().name.as_str())
            .collect();
        let here: Vec<&str> = (1..=64)
            .map(|c| assign(&vs, 1, c).unwrap().name.as_str())
            .collect();
        assert_ne!(other, here);
    }

    #[test]
    fn the_mixer_matches_splitmix64() {
        // SplitMix64 seeded with 0 yields 0xE220A8397B1DCDAF first (its reference output).
        assert_eq!(mix(0), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn shares_follow_the_weights_over_ten_thousand_contacts() {
        let vs = [variant("a", 1), variant("b", 3), variant("c", 6)];
        let mut counts = [0u32; 3];
        for contact in 1..=10_000 {
            let v = assign(&vs, 42, contact).unwrap();
            counts[vs.iter().position(|x| x == v).unwrap()] += 1;
        }
        // Expected 1000 / 3000 / 6000; a binomial's standard deviation here is at most
        // 49, so 200 is over four of them.
        for (got, want) in counts.iter().zip([1000, 3000, 6000]) {
            assert!(got.abs_diff(want) < 200, "{counts:?}");
        }
        let even = [variant("a", 5), variant("b", 5)];
        let a = (1..=10_000)
            .filter(|c| assign(&even, 3, *c).unwrap().name == "a")
            .count();
        assert!(a.abs_diff(5000) < 200, "{a}");
    }

    #[test]
    fn each_variant_says_its_own_first_message_or_the_campaigns() {
        let mut s = crate::campaign::CampaignSettings {
            first_message: Some("campaign".into()),
            ..Default::default()
        };
        assert_eq!(
            first_messages(&s),
            [("first_message".to_owned(), Some("campaign"))]
        );
        let mut own = variant("a", 1);
        own.first_message = Some("mine".into());
        s.variants = vec![variant("control", 1), own];
        assert_eq!(
            first_messages(&s),
            [
                ("first_message".to_owned(), Some("campaign")),
                ("variants[1].first_message".to_owned(), Some("mine")),
            ]
        );
    }

    #[test]
    fn no_variants_assign_none() {
        assert_eq!(assign(&[], 1, 1), None);
    }

    #[test]
    fn variants_are_checked() {
        assert!(errors(&[variant("control", 1), variant("short", 2)]).is_empty());
        assert_eq!(
            errors(&[variant("a", 1), variant("A", 1)]),
            ["variants[1].name"]
        );
        assert_eq!(
            errors(&[
                variant("", 1),
                variant("b", 0),
                variant(" c", MAX_WEIGHT + 1)
            ]),
            [
                "variants[0].name",
                "variants[1].weight",
                "variants[2].name",
                "variants[2].weight"
            ]
        );
        let mut blank_agent = variant("a", 1);
        blank_agent.agent_id = Some(" ".into());
        blank_agent.first_message = Some("x".repeat(MAX_FIRST_MESSAGE + 1));
        assert_eq!(
            errors(&[blank_agent]),
            ["variants[0].agent_id", "variants[0].first_message"]
        );
        let many: Vec<Variant> = (0..=MAX_VARIANTS)
            .map(|i| variant(&format!("v{i}"), 1))
            .collect();
        assert_eq!(errors(&many), ["variants"]);
    }
}
