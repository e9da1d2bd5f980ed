//! Dialling one claimed contact.
use super::{Dialer, DialerError};
use crate::calls::place::DialOptions;
use crate::calls::{AfterCommit, CallOptions};
use crate::events::LiveEvent;
use crate::Engine;
use parley_domain::activity::{OUTSIDE_WINDOW_REASON, STATE_HOURS_REASON};
use parley_domain::call::{Call, CallStatus};
use parley_domain::campaign::{Campaign, CampaignSettings};
use parley_domain::compliance::{
    window_rule, BlockReason, CAMPAIGN_DNC_RULE, DNC_BEFORE_DIALLING_RULE, GLOBAL_DNC_RULE,
};
use parley_domain::contact::{Contact, CustomFields};
use parley_domain::jurisdiction::{contact_jurisdiction, jurisdiction_of_phone, RuleBook};
use parley_domain::memory::shown_variables;
use parley_domain::overrides::contact_field;
use parley_domain::timezones::contact_zone;
use parley_domain::vocabulary::DO_NOT_CALL_REASON;
use parley_domain::window::CallingRules;
use parley_domain::Phone;
use parley_store::{
    AttemptRefused, ClaimedContact, MemoryRead, NewBlockedDial, NewCall, Settle, StatusChange,
    CALLBACK_PRIORITY,
};
use serde_json::{Map, Value};

/// The agent's dynamic variables from the campaign's mapping (variable -> contact field;
/// custom fields by name).
pub fn dynamic_variables(settings: &CampaignSettings, contact: &Contact) -> Map<String, Value> {
    let mut vars = Map::new();
    for (variable, field) in &settings.dynamic_variables {
        if let Some(v) = contact_field(contact, field) {
            vars.insert(variable.clone(), Value::String(v));
        }
    }
    vars
}

impl Dialer {
    pub(super) async fn dial_claim(
        &self,
        campaign: &Campaign,
        claim: ClaimedContact,
    ) -> Result<(), DialerError> {
        let store = &self.engine.store;
        let (campaign_id, contact_id) = (claim.campaign_id, claim.contact_id);
        let Ok(phone) = Phone::from_e164(&claim.phone) else {
            store
                .cancel_claim(
                    campaign_id,
                    contact_id,
                    &self.node,
                    "the phone number is not valid",
                )
                .await?;
            return Ok(());
        };
        let zone = contact_zone(claim.timezone.as_deref(), &phone);
        let fields: CustomFields = serde_json::from_str(&claim.custom_fields).unwrap_or_default();
        let place = contact_jurisdiction(&fields, &phone);
        // The strictest of the campaign's window, the federal rule and the contact's state.
        let rules = CallingRules::for_contact(&campaign.settings, &place);
        let now = self.now();
        // What is kept as evidence when the contact is held back (with the hold).
        let evidence = |reason, rule: &'static str, held_until: Option<i64>| NewBlockedDial {
            campaign_id,
            contact_id,
            phone: claim.phone.as_str(),
            jurisdiction: place.state_code(),
            reason,
            rule,
            blocked_at: now.timestamp_millis(),
            held_until,
        };
        if !rules.is_callable(zone, now) {
            let (reason, rule) = window_rule(&rules, zone, now);
            let wait = match reason {
                BlockReason::StateHours => STATE_HOURS_REASON,
                _ => OUTSIDE_WINDOW_REASON,
            };
            let opening = rules
                .next_opening(zone, now)
                .map(|at| at.timestamp_millis());
            // Waits for its own window without holding up anyone else; the hold and its
            // evidence are one transaction.
            let mut tx = store.begin().await?;
            let held = match opening {
                Some(at) => {
                    tx.release_claim(campaign_id, contact_id, &self.node, Some(at), Some(wait))
                        .await?
                }
                None => {
                    tx.cancel_claim(
                        campaign_id,
                        contact_id,
                        &self.node,
                        "no calling window is left in the campaign's dates",
                    )
                    .await?
                }
            };
            if held {
                let b = NewBlockedDial {
                    rule: &rule,
                    ..evidence(reason, "", opening)
                };
                tx.record_blocked_dial(&b).await?;
            }
            tx.commit().await?;
            // The campaign page shows who waits, for what, until when.
            self.engine
                .publish(LiveEvent::ProgressChanged { campaign_id });
            return Ok(());
        }
        let dnc = store.check_dnc(&phone, Some(campaign_id)).await?;
        if dnc.blocked() {
            let rule = if dnc.global {
                GLOBAL_DNC_RULE
            } else {
                CAMPAIGN_DNC_RULE
            };
            let mut tx = store.begin().await?;
            if tx
                .cancel_claim(campaign_id, contact_id, &self.node, DO_NOT_CALL_REASON)
                .await?
            {
                tx.record_blocked_dial(&evidence(BlockReason::DoNotCall, rule, None))
                    .await?;
            }
            tx.commit().await?;
            self.engine
                .publish(LiveEvent::ProgressChanged { campaign_id });
            return Ok(());
        }
        let s = &campaign.settings;
        // What earlier calls learned comes in the same read as the contact.
        let read = MemoryRead {
            remember: s.remember_previous_calls.enabled,
            callback_in: (claim.priority == CALLBACK_PRIORITY).then_some(campaign_id),
        };
        let (contact, remembered) = store.contact_for_dial(contact_id, read).await?;
        let from = match s.caller_ids.as_slice() {
            [] => self
                .engine
                .telephony
                .default_caller_id
                .clone()
                .unwrap_or_default(),
            ids => ids[(contact_id as usize) % ids.len()].to_string(),
        };
        // The contact's variant and overriding fields, over the campaign's own.
        let choice = super::choice::agent_choice(s, campaign_id, &contact);
        let recording = s.disclosures.call_recording(
            s.record_calls,
            choice.first_message.as_deref(),
            RuleBook::shipped().all_party_recording_consent(&place),
        );
        let options = CallOptions {
            first_message: recording.first_message,
            recording_withheld_by: recording.withheld_by,
            prompt: choice.prompt,
            answering_machine: s.answering_machine.clone(),
            short_call_seconds: s.retry.short_call_seconds,
            max_duration_seconds: Some(s.max_call_duration_seconds),
            language: choice.language,
            voice_id: choice.voice_id,
            from_contact: choice.from_contact,
        };
        let attempt = claim.attempts + 1;
        let mut variables = dynamic_variables(s, &contact);
        if let Some(facts) = &remembered {
            // A variable the campaign maps to a contact field keeps that field.
            for (name, value) in s.remember_previous_calls.variables(facts, attempt, zone) {
                variables.entry(name).or_insert(value);
            }
        }
        let call = NewCall {
            campaign_id: Some(campaign_id),
            contact_id: Some(contact_id),
            attempt,
            to: phone.to_string(),
            from,
            agent_id: choice
                .agent_id
                .or_else(|| self.engine.telephony.default_agent_id.clone()),
            dynamic_variables: Value::Object(variables.clone()),
            agent_variables: Some(Value::Object(shown_variables(
                &variables,
                &s.hidden_variables,
            ))),
            overrides: serde_json::to_value(&options).unwrap_or_default(),
            jurisdiction: Some(place.state_code().unwrap_or_default()),
            variant: choice.variant,
            is_test: false,
        };
        let local_day = now.with_timezone(&zone).date_naive().to_string();
        let call = match store
            .start_attempt(&claim, &self.node, &local_day, &call)
            .await?
        {
            Ok(call) => call,
            Err(AttemptRefused::CampaignNotRunning) => {
                store
                    .release_claim(campaign_id, contact_id, &self.node, None, None)
                    .await?;
                return Ok(());
            }
            Err(AttemptRefused::ClaimLost) => return Ok(()),
        };
        let dial = DialOptions {
            answering_machine: s.answering_machine.clone(),
            record: recording.record,
            max_duration_seconds: s.max_call_duration_seconds,
        };
        self.engine.dial_attempt(call, &phone, &dial).await
    }
}

impl Engine {
    /// Dials a campaign attempt already on record, unless its number went on a
    /// do-not-call list since it was claimed: then the call is cancelled undialled and
    /// the contact taken out.
    pub async fn dial_attempt(
        &self,
        call: Call,
        phone: &Phone,
        dial: &DialOptions,
    ) -> Result<(), DialerError> {
        let store = &self.store;
        let (Some(campaign_id), Some(contact_id)) = (call.campaign_id, call.contact_id) else {
            return Ok(());
        };
        if store.check_dnc(phone, Some(campaign_id)).await?.blocked() {
            let change = StatusChange {
                status: CallStatus::Canceled,
                duration_seconds: Some(0),
                error_code: None,
                error_message: Some("put on a do-not-call list before it was dialled".into()),
            };
            // The cancellation and the settlement are one change.
            let mut tx = store.begin().await?;
            tx.advance_call_status(call.id, &change).await?;
            let settled = tx
                .settle_attempt(
                    campaign_id,
                    contact_id,
                    call.id,
                    "canceled",
                    &Settle::Cancelled {
                        reason: DO_NOT_CALL_REASON.into(),
                    },
                )
                .await?;
            let mut after = AfterCommit::default();
            if settled {
                // Kept as evidence with the cancellation.
                let place = match store.get_contact(contact_id).await {
                    Ok(c) => contact_jurisdiction(&c.custom_fields, phone),
                    Err(_) => jurisdiction_of_phone(phone),
                };
                tx.record_blocked_dial(&NewBlockedDial {
                    campaign_id,
                    contact_id,
                    phone: phone.as_str(),
                    jurisdiction: place.state_code(),
                    reason: BlockReason::DoNotCall,
                    rule: DNC_BEFORE_DIALLING_RULE,
                    blocked_at: parley_domain::time::now_millis(),
                    held_until: None,
                })
                .await?;
                after.publish(LiveEvent::ProgressChanged { campaign_id });
            }
            self.commit(tx, after).await?;
            return Ok(());
        }
        // A refused call is settled with its refusal, in `dial`.
        match self.dial(call, dial).await {
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(campaign_id, contact_id, error = %e, "dialling failed; the sweep will reconcile it");
                Ok(())
            }
        }
    }
}
