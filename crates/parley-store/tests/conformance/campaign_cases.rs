//! Campaign state machine, audit and enrolment counters.
use parley_domain::campaign::{CampaignAction, CampaignState, ProgressState};
use parley_store::{CampaignUpdate, ContactSelector, PageRequest, Store, StoreError};

use super::cases::{campaign, campaign_with_contact, contact};

pub async fn campaign_state_machine_and_audit(store: Store) {
    let empty = campaign(&store, "empty").await;
    let refused = store
        .transition_campaign(empty, CampaignAction::Start, "ann", None)
        .await;
    assert!(
        matches!(&refused, Err(StoreError::Conflict(m)) if m.contains("no contacts")),
        "{refused:?}"
    );
    let unchanged = store.get_campaign(empty).await.unwrap();
    assert_eq!(unchanged.state, CampaignState::Draft);
    assert!(unchanged.started_at.is_none());
    let empty_audit = store
        .list_audit(
            &parley_store::AuditFilter::target("campaign", Some(empty.to_string().as_str())),
            PageRequest::first(50),
        )
        .await
        .unwrap();
    assert!(
        empty_audit
            .items
            .iter()
            .all(|a| a.action != "campaign.state_changed"),
        "a refused start leaves no audit"
    );
    let id = campaign_with_contact(&store, "spring", "+14155550100").await;
    let started = store
        .transition_campaign(id, CampaignAction::Start, "ann", None)
        .await
        .unwrap();
    assert_eq!(started.state, CampaignState::Running);
    assert!(started.started_at.is_some());
    let again = store
        .transition_campaign(id, CampaignAction::Start, "ann", None)
        .await;
    match again {
        Err(StoreError::IllegalTransition(e)) => assert_eq!(e.from, CampaignState::Running),
        other => panic!("expected an illegal transition, got {other:?}"),
    }
    let edit = store
        .update_campaign(
            id,
            &CampaignUpdate {
                name: Some("renamed".into()),
                ..Default::default()
            },
            "ann",
        )
        .await;
    assert!(matches!(
        edit,
        Err(StoreError::CampaignState {
            state: CampaignState::Running,
            ..
        })
    ));
    assert!(matches!(
        store.delete_campaign(id, "ann").await,
        Err(StoreError::CampaignState { .. })
    ));
    let paused = store
        .transition_campaign(id, CampaignAction::Pause, "bob", Some("lunch"))
        .await
        .unwrap();
    assert_eq!(paused.state, CampaignState::Paused);
    assert_eq!(paused.state_reason.as_deref(), Some("lunch"));
    let mut settings = paused.settings.clone();
    settings.max_concurrent_calls = 9;
    let edited = store
        .update_campaign(
            id,
            &CampaignUpdate {
                settings: Some(settings),
                ..Default::default()
            },
            "bob",
        )
        .await
        .unwrap();
    assert_eq!(edited.settings.max_concurrent_calls, 9);
    store
        .transition_campaign(id, CampaignAction::Resume, "bob", None)
        .await
        .unwrap();
    let stopped = store
        .transition_campaign(id, CampaignAction::Stop, "bob", None)
        .await
        .unwrap();
    assert_eq!(stopped.state, CampaignState::Stopped);
    assert!(stopped.finished_at.is_some());
    assert!(store
        .transition_campaign(id, CampaignAction::Resume, "bob", None)
        .await
        .is_err());

    let audit = store
        .list_audit(
            &parley_store::AuditFilter::target("campaign", Some(id.to_string().as_str())),
            PageRequest::first(50),
        )
        .await
        .unwrap();
    let actions: Vec<&str> = audit.items.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "campaign.state_changed")
            .count(),
        4,
        "{actions:?}"
    );
    let pause = audit
        .items
        .iter()
        .find(|a| a.details.contains("\"pause\""))
        .expect("pause audited");
    assert_eq!(pause.actor, "bob");
    assert!(pause.details.contains("lunch"));

    let missing = store
        .transition_campaign(4242, CampaignAction::Start, "x", None)
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
    store.delete_campaign(id, "bob").await.unwrap();
    assert!(matches!(
        store.get_campaign(id).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn campaign_enrolment_keeps_counters_exact(store: Store) {
    let mut ids = Vec::new();
    for i in 0..6 {
        let tags: &[&str] = if i < 4 { &["wave1"] } else { &[] };
        let c = store
            .create_contact(&contact(&format!("+1415555{:04}", 2000 + i), "X", tags))
            .await
            .unwrap();
        ids.push(c.id);
    }
    let id = campaign(&store, "counters").await;
    assert_eq!(
        store
            .add_campaign_contacts(id, &ContactSelector::Tag("wave1".into()))
            .await
            .unwrap(),
        4
    );
    // Re-adding is a no-op; unknown ids are skipped.
    let again = store
        .add_campaign_contacts(
            id,
            &ContactSelector::Ids(vec![ids[0], ids[4], ids[5], 999_999]),
        )
        .await
        .unwrap();
    assert_eq!(again, 2);
    let c = store.get_campaign(id).await.unwrap();
    assert_eq!((c.progress.total, c.progress.pending), (6, 6));

    let removed = store
        .remove_campaign_contacts(id, &ContactSelector::Ids(vec![ids[0], ids[1]]))
        .await
        .unwrap();
    assert_eq!(removed, 2);
    store.delete_contact(ids[2]).await.unwrap();
    let c = store.get_campaign(id).await.unwrap();
    assert_eq!((c.progress.total, c.progress.pending), (3, 3));
    let listed = store
        .list_campaign_contacts(id, Some(ProgressState::Pending), PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 3);
    assert!(listed.items.iter().all(|cc| cc.attempts == 0));
    let removed = store
        .remove_campaign_contacts(id, &ContactSelector::Tag("wave1".into()))
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(store.get_campaign(id).await.unwrap().progress.total, 2);
}
