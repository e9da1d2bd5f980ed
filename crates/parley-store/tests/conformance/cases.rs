//! The conformance cases, one file per store module; each takes a freshly migrated,
//! empty store. Here: what they share.
use parley_domain::campaign::CampaignSettings;
use parley_domain::consent::ConsentType;
use parley_domain::contact::{ContactFields, NewContact};
use parley_domain::phone::Region;
use parley_domain::Phone;
use parley_store::{ContactSelector, NewCall, NewCampaign, Store};

pub use super::call_cases::*;
pub use super::campaign_cases::*;
pub use super::compliance_cases::*;
pub use super::consent_cases::*;
pub use super::contact_cases::*;
pub use super::credential_cases::*;
pub use super::dialing_cases::*;
pub use super::dnc_cases::*;
pub use super::export_cases::*;
pub use super::frequency_cases::*;
pub use super::history_cases::*;
pub use super::import_bulk_cases::*;
pub use super::import_cases::*;
pub use super::import_turn_cases::*;
pub use super::quality_cases::*;
pub use super::result_cases::*;
pub use super::retention_cases::*;
pub use super::sheet_write_cases::*;
pub use super::test_call_cases::*;
pub use super::transfer_cases::*;
pub use super::user_cases::*;
pub use super::variant_cases::*;
pub use super::webhook_cases::*;

pub fn phone(s: &str) -> Phone {
    Phone::parse(s, Region::default()).unwrap()
}

pub fn contact(p: &str, first: &str, tags: &[&str]) -> NewContact {
    NewContact {
        phone: phone(p),
        fields: ContactFields {
            first_name: Some(first.to_string()),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        },
    }
}

/// A new draft campaign that requires no consent (the cases that test consent say so).
pub async fn campaign(store: &Store, name: &str) -> i64 {
    store
        .create_campaign(
            &NewCampaign {
                name: name.into(),
                description: None,
                settings: CampaignSettings {
                    required_consent: ConsentType::None,
                    ..Default::default()
                },
            },
            "test",
        )
        .await
        .unwrap()
        .id
}

/// What one claim by node `n1` of up to `limit` contacts takes from the campaign at `now`.
pub async fn claim(
    store: &Store,
    campaign_id: i64,
    now: i64,
    limit: i64,
) -> Vec<parley_store::ClaimedContact> {
    store
        .claim_due_contacts(
            campaign_id,
            "n1",
            now,
            now + 60_000,
            limit,
            parley_store::ClaimLimits::campaign(100),
        )
        .await
        .unwrap()
}

/// A new campaign with `contacts` enrolled, started.
pub async fn running_campaign(store: &Store, name: &str, contacts: &[i64]) -> i64 {
    let id = campaign(store, name).await;
    store
        .add_campaign_contacts(id, &ContactSelector::Ids(contacts.to_vec()))
        .await
        .unwrap();
    store
        .transition_campaign(
            id,
            parley_domain::campaign::CampaignAction::Start,
            "test",
            None,
        )
        .await
        .unwrap();
    id
}

/// A campaign with one contact enrolled, so that it may be started.
pub async fn campaign_with_contact(store: &Store, name: &str, phone: &str) -> i64 {
    let id = campaign(store, name).await;
    let c = store
        .create_contact(&contact(phone, "Ada", &[]))
        .await
        .unwrap();
    store
        .add_campaign_contacts(id, &ContactSelector::Ids(vec![c.id]))
        .await
        .unwrap();
    id
}

/// A queued call (of `campaign_id`, if given) to a fixed number; returns its id.
pub async fn new_call(store: &Store, campaign_id: Option<i64>) -> i64 {
    store
        .create_call(&NewCall {
            campaign_id,
            attempt: 1,
            to: "+15550100001".into(),
            from: "+15005550006".into(),
            dynamic_variables: serde_json::json!({}),
            overrides: serde_json::json!({}),
            ..Default::default()
        })
        .await
        .unwrap()
        .id
}
