//! Test calls ("Call me" on a campaign's page): one call with the campaign's agent, first
//! message, prompt, variable mapping and answering-machine policy, to a number the
//! operator types. It is placed the way every single call is ([`Engine::place_call`]:
//! the call row and its audit in one transaction, Twilio asked after the commit) and
//! marked `is_test`, so that the campaign's progress, analytics, results, exports and
//! compliance report leave it out and its settlement touches no contact's attempts.
use super::place::{PlaceCall, PlaceError};
use super::CallOptions;
use crate::Engine;
use parley_domain::call::Call;
use parley_domain::campaign::Campaign;
use parley_domain::contact::Contact;
use parley_domain::Phone;
use serde_json::{Map, Value};

/// Who to call for a test, and as whom.
#[derive(Debug, Clone)]
pub struct TestCall {
    /// The operator's number (already checked against the do-not-call list).
    pub to: Phone,
    /// A contact whose fields fill the campaign's dynamic-variable mapping, as if the
    /// campaign were calling them.
    pub contact: Option<Contact>,
    /// Typed variables, over the contact's.
    pub variables: Map<String, Value>,
    /// Who asked, for the audit log.
    pub actor: String,
}

/// The single call a test of `campaign` is: the campaign's settings, with the first
/// caller id (the dialler rotates them by contact; a test has no turn).
pub fn test_call_request(campaign: &Campaign, test: TestCall) -> PlaceCall {
    let s = &campaign.settings;
    let mut variables = test
        .contact
        .as_ref()
        .map(|c| crate::dialer::dynamic_variables(s, c))
        .unwrap_or_default();
    variables.extend(test.variables);
    // With a contact, the agent that contact would get (its variant, its overriding
    // fields); without, the campaign's own.
    let choice = test
        .contact
        .as_ref()
        .map(|c| crate::dialer::agent_choice(s, campaign.id, c));
    let (agent_id, first_message, prompt, language, voice_id, from_contact) = match choice {
        Some(c) => (
            c.agent_id,
            c.first_message,
            c.prompt,
            c.language,
            c.voice_id,
            c.from_contact,
        ),
        None => (
            s.agent_id.clone(),
            s.first_message.clone(),
            s.prompt.clone(),
            None,
            None,
            Vec::new(),
        ),
    };
    PlaceCall {
        to: Some(test.to),
        contact_id: test.contact.map(|c| c.id),
        campaign_id: Some(campaign.id),
        attempt: 1,
        agent_id,
        from: s.caller_ids.first().map(|p| p.to_string()),
        dynamic_variables: variables,
        options: CallOptions {
            first_message,
            prompt,
            answering_machine: s.answering_machine.clone(),
            short_call_seconds: s.retry.short_call_seconds,
            max_duration_seconds: None, // set by `place_call` from the campaign's limit
            recording_withheld_by: None, // decided where the call is placed
            language,
            voice_id,
            from_contact,
        },
        record: s.record_calls,
        max_duration_seconds: s.max_call_duration_seconds,
        actor: test.actor,
        test: true,
        disclosures: s.disclosures.clone(),
        hidden_variables: s.hidden_variables.clone(),
    }
}

impl Engine {
    /// Places a test call of `campaign`, whatever the campaign's state.
    pub async fn test_call(&self, campaign: &Campaign, test: TestCall) -> Result<Call, PlaceError> {
        self.place_call(test_call_request(campaign, test)).await
    }
}
