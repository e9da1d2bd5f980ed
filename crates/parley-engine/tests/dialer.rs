//! The last do-not-call check, right before a written attempt is dialled.
use parley_domain::campaign::{CampaignAction, CampaignSettings};
use parley_domain::contact::{ContactFields, NewContact};
use parley_domain::Phone;
use parley_engine::calls::place::DialOptions;
use parley_engine::settings::Settings;
use parley_engine::telephony::{SimulatorUrls, Telephony};
use parley_engine::Engine;
use parley_store::ClaimLimits;
use parley_store::{ContactSelector, NewCall, NewCampaign, Store};
use std::sync::Arc;

async fn enrolled(store: &Store, campaign_id: i64, phone: &str) -> (i64, Phone) {
    let phone = Phone::from_e164(phone).unwrap();
    let contact = store
        .create_contact(&NewContact {
            phone: phone.clone(),
            fields: ContactFields::default(),
        })
        .await
        .unwrap();
    store
        .add_campaign_contacts(campaign_id, &ContactSelector::Ids(vec![contact.id]))
        .await
        .unwrap();
    (contact.id, phone)
}

/// Claims the campaign's one due contact and writes its attempt.
async fn written_attempt(
    store: &Store,
    campaign_id: i64,
    (contact_id, phone): (i64, Phone),
) -> (parley_domain::call::Call, Phone) {
    let now = parley_domain::time::now_millis();
    let claim = store
        .claim_due_contacts(
            campaign_id,
            "node",
            now,
            now + 60_000,
            1,
            ClaimLimits::campaign(10),
        )
        .await
        .unwrap()
        .remove(0);
    let call = NewCall {
        campaign_id: Some(campaign_id),
        contact_id: Some(contact_id),
        to: phone.to_string(),
        from: "+15005550006".into(),
        dynamic_variables: serde_json::json!({}),
        overrides: serde_json::json!({}),
        ..Default::default()
    };
    (
        store
            .start_attempt(&claim, "node", "2026-11-24", &call)
            .await
            .unwrap()
            .unwrap(),
        phone,
    )
}

#[tokio::test]
async fn a_number_blocked_after_its_claim_is_never_dialled() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("p.db").display()))
        .await
        .unwrap();
    let settings = Settings::default();
    // A carrier that is not there: any dial attempt fails to connect.
    let nowhere = SimulatorUrls::unreachable();
    let engine = Engine::new(
        Arc::new(settings.clone()),
        store.clone(),
        Telephony::sandbox(&settings, &nowhere).unwrap(),
    );
    let campaign = store
        .create_campaign(
            &NewCampaign {
                name: "c".into(),
                description: None,
                settings: CampaignSettings {
                    // Consent is not what this tests.
                    required_consent: parley_domain::consent::ConsentType::None,
                    ..Default::default()
                },
            },
            "t",
        )
        .await
        .unwrap();
    let first = enrolled(&store, campaign.id, "+14155550171").await;
    store
        .transition_campaign(campaign.id, CampaignAction::Start, "t", None)
        .await
        .unwrap();

    let (blocked, blocked_phone) = written_attempt(&store, campaign.id, first).await;
    store
        .add_dnc(&blocked_phone, None, Some("asked by email"), "api")
        .await
        .unwrap();
    engine
        .dial_attempt(blocked.clone(), &blocked_phone, &DialOptions::default())
        .await
        .unwrap();
    let call = store.get_call(blocked.id).await.unwrap();
    assert_eq!(call.status.as_str(), "canceled");
    assert_eq!(call.twilio_call_sid, None, "the carrier was never asked");
    assert_eq!(
        call.error_message.as_deref(),
        Some("put on a do-not-call list before it was dialled")
    );

    // A clean number is dialled: here the carrier cannot be reached, so the attempt stays
    // queued for reconciling (it may have been placed) instead of being retried blindly.
    let (clean, clean_phone) = written_attempt(
        &store,
        campaign.id,
        enrolled(&store, campaign.id, "+14155550172").await,
    )
    .await;
    engine
        .dial_attempt(clean.clone(), &clean_phone, &DialOptions::default())
        .await
        .unwrap();
    assert_eq!(
        store.get_call(clean.id).await.unwrap().status.as_str(),
        "queued"
    );

    let p = store.get_campaign(campaign.id).await.unwrap().progress;
    assert_eq!((p.cancelled, p.in_progress), (1, 1), "{p:?}");
    let rows = store
        .list_campaign_contacts(campaign.id, None, parley_store::PageRequest::first(10))
        .await
        .unwrap();
    let cancelled = rows
        .items
        .iter()
        .find(|r| r.phone == "+14155550171")
        .unwrap();
    assert_eq!(cancelled.reason.as_deref(), Some("on a do-not-call list"));
}
