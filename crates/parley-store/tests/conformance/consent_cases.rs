//! Consent: the history, the consent in force, the dialer's guard and revocation.
use chrono::{TimeDelta, Utc};
use parley_domain::activity::WaitReason;
use parley_domain::campaign::{CampaignAction, CampaignSettings, ProgressState};
use parley_domain::consent::{
    ConsentKind, ConsentSource, ConsentSourceKind, ConsentType, NewConsent,
};
use parley_store::{
    ContactSelector, ImportRow, NewCampaign, PageRequest, Store, INVALID_CONSENT, OPT_OUT_SOURCE,
};

use super::cases::{contact, phone};

pub(crate) fn grant(t: ConsentType, days_ago: i64) -> NewConsent {
    NewConsent {
        kind: ConsentKind::Grant,
        consent_type: Some(t),
        source: ConsentSource::new(ConsentSourceKind::Form, "https://example.com/signup"),
        captured_at: Some(Utc::now() - TimeDelta::days(days_ago)),
        text: Some("I agree to receive calls from Acme, including by an AI voice.".into()),
        url: None,
    }
}

/// A campaign with the default settings (written consent required), `contacts`
/// enrolled, started.
pub(crate) async fn started_campaign(store: &Store, name: &str, contacts: Vec<i64>) -> i64 {
    let id = store
        .create_campaign(
            &NewCampaign {
                name: name.into(),
                description: None,
                settings: CampaignSettings::default(),
            },
            "test",
        )
        .await
        .unwrap()
        .id;
    store
        .add_campaign_contacts(id, &ContactSelector::Ids(contacts))
        .await
        .unwrap();
    store
        .transition_campaign(id, CampaignAction::Start, "test", None)
        .await
        .unwrap();
    id
}

/// The contacts one claim of up to ten takes from the campaign at `now`.
async fn claimed(store: &Store, campaign_id: i64, now: i64) -> Vec<i64> {
    let claims = super::cases::claim(store, campaign_id, now, 10).await;
    claims.iter().map(|c| c.contact_id).collect()
}

pub(crate) async fn new_contact(store: &Store, p: &str) -> i64 {
    store
        .create_contact(&contact(p, "C", &[]))
        .await
        .unwrap()
        .id
}

async fn current(store: &Store, id: i64) -> Option<ConsentType> {
    let c = store.get_contact(id).await.unwrap();
    c.consent.and_then(|r| r.consent_type)
}

async fn history(store: &Store, id: i64) -> Vec<(ConsentKind, Option<ConsentType>)> {
    let page = store
        .consent_history(id, PageRequest::first(50))
        .await
        .unwrap();
    page.items
        .into_iter()
        .map(|r| (r.kind, r.consent_type))
        .collect()
}

pub async fn a_contact_without_the_required_consent_is_never_dialled_and_waits_for_consent(
    store: Store,
) {
    let written = new_contact(&store, "+14155550401").await;
    let express = new_contact(&store, "+14155550402").await;
    let none = new_contact(&store, "+14155550403").await;
    store
        .append_consent(written, &grant(ConsentType::ExpressWritten, 30), "test")
        .await
        .unwrap();
    store
        .append_consent(express, &grant(ConsentType::Express, 30), "test")
        .await
        .unwrap();
    let id = started_campaign(&store, "marketing", vec![written, express, none]).await;
    assert_eq!(
        store
            .get_campaign(id)
            .await
            .unwrap()
            .settings
            .required_consent,
        ConsentType::ExpressWritten,
        "a new campaign requires express written consent unless told otherwise"
    );

    let now = parley_domain::time::now_millis();
    let claims = claimed(&store, id, now).await;
    assert_eq!(
        claims,
        vec![written],
        "only the contact with written consent"
    );
    // The others are held, not dialled, on every later claim too.
    let again = claimed(&store, id, now + 1).await;
    assert!(again.is_empty(), "{again:?}");

    let waiting = store.waiting_contacts(id, now + 1).await.unwrap();
    let groups: Vec<(WaitReason, i64, bool)> = waiting
        .groups
        .iter()
        .map(|g| (g.reason, g.count, g.next_at.is_some()))
        .collect();
    assert_eq!(groups, vec![(WaitReason::NoConsent, 2, false)]);
    assert!(waiting.first.is_none(), "held contacts are due at no time");
    let campaign = store.get_campaign(id).await.unwrap();
    assert_eq!(
        (
            campaign.progress.pending,
            campaign.progress.scheduled,
            campaign.progress.in_progress
        ),
        (0, 2, 1)
    );
    let rows = store
        .list_campaign_contacts(id, Some(ProgressState::Scheduled), PageRequest::first(10))
        .await
        .unwrap();
    for row in &rows.items {
        assert_eq!(row.waiting_for, Some(WaitReason::NoConsent));
        assert_eq!(row.next_attempt_at, None);
        assert_eq!(row.reason.as_deref(), Some("no consent"));
    }

    // Written consent recorded for the contact that had none: due again, and dialled.
    store
        .append_consent(none, &grant(ConsentType::ExpressWritten, 1), "test")
        .await
        .unwrap();
    let later = claimed(&store, id, now + 2).await;
    assert_eq!(later, vec![none]);
    // Express consent is not enough for this campaign, still.
    let waiting = store.waiting_contacts(id, now + 3).await.unwrap();
    assert_eq!(waiting.groups.len(), 1);
    assert_eq!(waiting.groups[0].reason, WaitReason::NoConsent);
    assert_eq!(waiting.groups[0].count, 1);
}

pub async fn lowering_a_campaigns_required_consent_releases_the_contacts_it_held(store: Store) {
    let express = new_contact(&store, "+14155550411").await;
    store
        .append_consent(express, &grant(ConsentType::Express, 3), "test")
        .await
        .unwrap();
    let id = started_campaign(&store, "reminders", vec![express]).await;
    let now = parley_domain::time::now_millis();
    let claims = claimed(&store, id, now).await;
    assert!(claims.is_empty());
    store
        .transition_campaign(id, CampaignAction::Pause, "test", None)
        .await
        .unwrap();
    let mut settings = store.get_campaign(id).await.unwrap().settings;
    settings.required_consent = ConsentType::Express;
    store
        .update_campaign(
            id,
            &parley_store::CampaignUpdate {
                settings: Some(settings),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    store
        .transition_campaign(id, CampaignAction::Resume, "test", None)
        .await
        .unwrap();
    let claims = claimed(&store, id, now + 1).await;
    assert_eq!(claims.len(), 1, "express consent is enough now");
}

pub async fn an_opt_out_revokes_consent_in_the_same_transaction_or_not_at_all(store: Store) {
    let id = new_contact(&store, "+14155550421").await;
    let p = phone("+14155550421");
    store
        .append_consent(id, &grant(ConsentType::ExpressWritten, 10), "test")
        .await
        .unwrap();

    // The opt-out's transaction fails (it is never committed): no revocation either.
    let mut tx = store.begin().await.unwrap();
    tx.add_dnc(&p, None, Some("stop calling me"), OPT_OUT_SOURCE)
        .await
        .unwrap();
    drop(tx);
    assert_eq!(current(&store, id).await, Some(ConsentType::ExpressWritten));
    assert_eq!(history(&store, id).await.len(), 1);
    // Failed at its commit by an injected fault: the same. (A first opt-out, undone,
    // shows where its commit is; a consent given since then is in force again.)
    store.faults().record();
    store.add_dnc(&p, None, None, OPT_OUT_SOURCE).await.unwrap();
    let points = store.faults().passed();
    store.remove_dnc(&p, None).await.unwrap();
    store
        .append_consent(id, &grant(ConsentType::ExpressWritten, 0), "test")
        .await
        .unwrap();
    let records = history(&store, id).await.len();
    let commit = points.iter().position(|p| *p == "commit").unwrap() as u64 + 1;
    store.faults().fail_at(commit);
    assert!(store.add_dnc(&p, None, None, OPT_OUT_SOURCE).await.is_err());
    store.faults().reset();
    assert_eq!(history(&store, id).await.len(), records, "no revocation");
    assert_eq!(current(&store, id).await, Some(ConsentType::ExpressWritten));

    // Committed: the number is on the list and the consent revoked, by the opt-out.
    let mut tx = store.begin().await.unwrap();
    tx.add_dnc(&p, None, Some("stop calling me"), OPT_OUT_SOURCE)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(current(&store, id).await, None);
    let latest = store
        .consent_history(id, PageRequest::first(1))
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(latest.kind, ConsentKind::Revocation);
    assert_eq!(latest.source.kind, ConsentSourceKind::OptOut);
    assert_eq!(latest.text.as_deref(), Some("stop calling me"));

    // A consent captured before the revocation (an old file imported again) does not
    // bring it back; one given after it does.
    store
        .append_consent(id, &grant(ConsentType::ExpressWritten, 20), "test")
        .await
        .unwrap();
    assert_eq!(current(&store, id).await, None);
    store
        .append_consent(id, &grant(ConsentType::Express, 0), "test")
        .await
        .unwrap();
    assert_eq!(current(&store, id).await, Some(ConsentType::Express));
}

pub async fn the_global_do_not_call_list_revokes_and_a_campaigns_list_does_not(store: Store) {
    let id = new_contact(&store, "+14155550431").await;
    let p = phone("+14155550431");
    store
        .append_consent(id, &grant(ConsentType::Express, 2), "test")
        .await
        .unwrap();
    let campaign = super::cases::campaign(&store, "own list").await;
    store
        .add_dnc(&p, Some(campaign), None, "api")
        .await
        .unwrap();
    assert_eq!(current(&store, id).await, Some(ConsentType::Express));
    store.add_dnc(&p, None, None, "api").await.unwrap();
    assert_eq!(current(&store, id).await, None);
    // Adding it again revokes nothing more: there is nothing in force to revoke.
    store.add_dnc(&p, None, None, "api").await.unwrap();
    let kinds = history(&store, id).await;
    assert_eq!(
        kinds,
        vec![
            (ConsentKind::Revocation, None),
            (ConsentKind::Grant, Some(ConsentType::Express))
        ]
    );
}

pub async fn imported_consent_is_recorded_once_and_a_bad_one_keeps_the_contact(store: Store) {
    let import = store
        .start_import("csv", Some("leads.csv"), None, "test")
        .await
        .unwrap();
    let given = |line: i64| NewConsent {
        source: ConsentSource::new(ConsentSourceKind::Import, format!("leads.csv line {line}")),
        ..grant(ConsentType::ExpressWritten, 100)
    };
    let rows = |given: NewConsent| {
        vec![
            ImportRow {
                line: 2,
                contact: contact("+14155550441", "Given", &[]),
                consent: Ok(Some(given)),
                left_out: vec![],
            },
            ImportRow {
                line: 3,
                contact: contact("+14155550442", "Bad", &[]),
                consent: Err("`maybe` is not a consent type".into()),
                left_out: vec![],
            },
        ]
    };
    let outcome = store
        .import_batch(&import, rows(given(2)), vec![])
        .await
        .unwrap();
    assert_eq!(
        outcome.created, 2,
        "the row with a bad consent is imported too"
    );
    let record = store.get_import(import.id).await.unwrap();
    assert_eq!(record.rejected, 0);
    let errors = store.import_errors(import.id, 0, 10).await.unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].line, errors[0].reason.as_str()),
        (3, INVALID_CONSENT)
    );
    assert!(
        errors[0].message.contains("imported without consent"),
        "{}",
        errors[0].message
    );

    let with = store
        .contact_by_phone(&phone("+14155550441"))
        .await
        .unwrap()
        .unwrap();
    let consent = with.consent.expect("consent in force");
    assert_eq!(consent.source.kind, ConsentSourceKind::Import);
    assert_eq!(consent.source.detail, "leads.csv line 2");
    assert_eq!(consent.recorded_by, format!("import {}", import.id));
    let without = store
        .contact_by_phone(&phone("+14155550442"))
        .await
        .unwrap()
        .unwrap();
    assert!(without.consent.is_none());

    // The same file imported again adds nothing to the history.
    let again = store
        .start_import("csv", Some("leads.csv"), None, "test")
        .await
        .unwrap();
    let mut same = given(2);
    same.captured_at = consent.captured_at.into();
    store
        .import_batch(&again, rows(same), vec![])
        .await
        .unwrap();
    assert_eq!(history(&store, with.id).await.len(), 1);
}
