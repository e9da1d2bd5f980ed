//! What one campaign call says and with which agent: the contact's overriding fields
//! (language, voice, first message) over its A/B variant, over the campaign's settings.
use parley_domain::campaign::CampaignSettings;
use parley_domain::contact::Contact;

/// The agent inputs chosen for one contact's call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentChoice {
    /// The variant's name, when the campaign has variants.
    pub variant: Option<String>,
    pub agent_id: Option<String>,
    pub first_message: Option<String>,
    pub prompt: Option<String>,
    pub language: Option<String>,
    pub voice_id: Option<String>,
    /// Which of `language`, `voice_id`, `first_message` came from the contact's fields.
    pub from_contact: Vec<String>,
}

pub fn agent_choice(s: &CampaignSettings, campaign_id: i64, contact: &Contact) -> AgentChoice {
    let variant = parley_domain::variants::assign(&s.variants, campaign_id, contact.id);
    let pick = |own: Option<&Option<String>>, campaign: &Option<String>| {
        own.and_then(Option::clone).or_else(|| campaign.clone())
    };
    let mut choice = AgentChoice {
        variant: variant.map(|v| v.name.clone()),
        agent_id: pick(variant.map(|v| &v.agent_id), &s.agent_id),
        first_message: pick(variant.map(|v| &v.first_message), &s.first_message),
        prompt: pick(variant.map(|v| &v.prompt), &s.prompt),
        ..Default::default()
    };
    let values = s.contact_overrides.values(contact);
    if let Some(language) = values.language {
        choice.language = Some(language);
        choice.from_contact.push("language".into());
    }
    if let Some(voice) = values.voice_id {
        choice.voice_id = Some(voice);
        choice.from_contact.push("voice_id".into());
    }
    // A contact's message must carry the campaign's required disclosures, as the
    // campaign's own had to before it started; one that does not is not said.
    if let Some(first) = values
        .first_message
        .filter(|m| s.disclosures.check_start(Some(m), s.record_calls).is_ok())
    {
        choice.first_message = Some(first);
        choice.from_contact.push("first_message".into());
    }
    choice
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_domain::overrides::ContactOverrides;
    use parley_domain::variants::Variant;

    fn contact(id: i64, fields: &[(&str, &str)]) -> Contact {
        serde_json::from_value(serde_json::json!({
            "id": id, "phone": "+15005550006", "first_name": "Ana", "last_name": null,
            "email": null, "company": null, "timezone": null,
            "custom_fields": fields.iter().map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<std::collections::BTreeMap<_, _>>(),
            "tags": [], "do_not_call": false,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
        }))
        .unwrap()
    }

    fn settings() -> CampaignSettings {
        CampaignSettings {
            agent_id: Some("agent_campaign".into()),
            first_message: Some("Hello from the campaign".into()),
            prompt: Some("Campaign prompt".into()),
            ..Default::default()
        }
    }

    #[test]
    fn without_variants_or_overrides_the_campaign_speaks() {
        let c = agent_choice(&settings(), 1, &contact(5, &[]));
        assert_eq!(c.variant, None);
        assert_eq!(c.agent_id.as_deref(), Some("agent_campaign"));
        assert_eq!(c.first_message.as_deref(), Some("Hello from the campaign"));
        assert!(c.from_contact.is_empty());
    }

    #[test]
    fn a_variant_replaces_what_it_sets_and_keeps_the_rest() {
        let mut s = settings();
        s.variants = vec![Variant {
            name: "only".into(),
            weight: 1,
            agent_id: Some("agent_b".into()),
            first_message: None,
            prompt: Some("B prompt".into()),
        }];
        let c = agent_choice(&s, 1, &contact(5, &[]));
        assert_eq!(c.variant.as_deref(), Some("only"));
        assert_eq!(c.agent_id.as_deref(), Some("agent_b"));
        assert_eq!(c.first_message.as_deref(), Some("Hello from the campaign"));
        assert_eq!(c.prompt.as_deref(), Some("B prompt"));
    }

    #[test]
    fn contact_fields_override_when_usable() {
        let mut s = settings();
        s.contact_overrides = ContactOverrides {
            language_field: Some("lang".into()),
            voice_field: Some("voice".into()),
            first_message_field: Some("opening".into()),
        };
        let c = agent_choice(
            &s,
            1,
            &contact(
                5,
                &[
                    ("lang", "ES"),
                    ("voice", "v0ice"),
                    ("opening", "Hola {{name}}"),
                ],
            ),
        );
        assert_eq!(c.language.as_deref(), Some("es"));
        assert_eq!(c.voice_id.as_deref(), Some("v0ice"));
        assert_eq!(c.first_message.as_deref(), Some("Hola {{name}}"));
        assert_eq!(c.from_contact, ["language", "voice_id", "first_message"]);
        // Disclosures the contact's message lacks keep the campaign's.
        s.disclosures = serde_json::from_value(serde_json::json!({
            "required": true, "identification": "Acme", "ai_voice": "an AI assistant"
        }))
        .unwrap();
        let c = agent_choice(&s, 1, &contact(5, &[("opening", "Hola")]));
        assert_eq!(c.first_message.as_deref(), Some("Hello from the campaign"));
        assert!(c.from_contact.is_empty());
    }
}
