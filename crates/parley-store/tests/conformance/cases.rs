//! The conformance cases. Each takes a freshly migrated, empty store.
use parley_domain::call::{CallStatus, TurnRole};
use parley_domain::campaign::{CampaignAction, CampaignSettings, CampaignState, ProgressState};
use parley_domain::contact::{ContactFields, NewContact};
use parley_domain::phone::Region;
use parley_domain::{Phone, Role};
use parley_store::{
    CallFilter, CampaignUpdate, ContactFilter, ContactSelector, ContactUpdate, ImportError,
    ImportRow, NewCall, NewCampaign, PageRequest, Store, StoreError,
};

pub use super::credential_cases::*;
pub use super::retention_cases::*;
pub use super::webhook_cases::*;

fn phone(s: &str) -> Phone {
    Phone::parse(s, Region::default()).unwrap()
}

fn contact(p: &str, first: &str, tags: &[&str]) -> NewContact {
    NewContact {
        phone: phone(p),
        fields: ContactFields {
            first_name: Some(first.to_string()),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        },
    }
}

pub async fn campaign(store: &Store, name: &str) -> i64 {
    store
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
        .id
}

pub async fn users_sessions_and_api_keys(store: Store) {
    let user = store
        .create_user("Ann@Example.com", "hash", Role::Operator)
        .await
        .unwrap();
    assert_eq!(user.email, "ann@example.com");
    assert_eq!(store.count_users().await.unwrap(), 1);
    let dup = store
        .create_user("ann@example.com", "h2", Role::Admin)
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let found = store
        .user_by_email("ANN@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, found.role), (user.id, Role::Operator));

    let far = parley_domain::time::now_millis() + 3_600_000;
    store
        .create_session("live", user.id, "csrf", far)
        .await
        .unwrap();
    store
        .create_session("stale", user.id, "csrf2", 1)
        .await
        .unwrap();
    let s = store.session("live").await.unwrap().unwrap();
    assert_eq!((s.user.id, s.csrf_token.as_str()), (user.id, "csrf"));
    assert!(
        store.session("stale").await.unwrap().is_none(),
        "expired sessions are dead"
    );
    assert_eq!(store.purge_expired_sessions().await.unwrap(), 1);
    store.delete_session("live").await.unwrap();
    assert!(store.session("live").await.unwrap().is_none());

    let key = store
        .create_api_key("ci", "pk_abc", "keyhash", Role::Viewer, Some(user.id), None)
        .await
        .unwrap();
    let now = parley_domain::time::now_millis();
    let by_hash = store.api_key_by_hash("keyhash").await.unwrap().unwrap();
    assert!(by_hash.is_usable_at(now));
    assert_eq!(by_hash.role, Role::Viewer);
    let revoked = store.revoke_api_key(key.id).await.unwrap();
    assert!(!revoked.is_usable_at(now));
    assert!(matches!(
        store.revoke_api_key(9999).await,
        Err(StoreError::NotFound)
    ));
    let expired = store
        .create_api_key("old", "pk_old", "oldhash", Role::Admin, None, Some(now - 1))
        .await
        .unwrap();
    assert!(!expired.is_usable_at(now));
    assert_eq!(store.list_api_keys().await.unwrap().len(), 2);
}

pub async fn contacts_crud_tags_and_conflicts(store: Store) {
    let c = store
        .create_contact(&contact("+14155550100", "Ann", &["vip", "q4"]))
        .await
        .unwrap();
    assert_eq!(c.phone, "+14155550100");
    assert_eq!(c.tags, vec!["q4", "vip"]);
    assert!(!c.do_not_call);
    let dup = store
        .create_contact(&contact("+14155550100", "Bob", &[]))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))));

    let updated = store
        .update_contact(
            c.id,
            ContactUpdate {
                last_name: Some(Some("Lee".into())),
                first_name: Some(None),
                tags: Some(vec!["gold".into()]),
                custom_fields: Some([("plan".to_string(), "pro".to_string())].into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.first_name, None);
    assert_eq!(updated.last_name.as_deref(), Some("Lee"));
    assert_eq!(updated.tags, vec!["gold"]);
    assert_eq!(
        updated.custom_fields.get("plan").map(String::as_str),
        Some("pro")
    );

    let other = store
        .create_contact(&contact("+14155550101", "Cy", &[]))
        .await
        .unwrap();
    let clash = store
        .update_contact(
            other.id,
            ContactUpdate {
                phone: Some(phone("+14155550100")),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))));
    assert_eq!(
        store.get_contact(other.id).await.unwrap().phone,
        "+14155550101"
    );

    store.delete_contact(c.id).await.unwrap();
    assert!(matches!(
        store.get_contact(c.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_contact(c.id).await,
        Err(StoreError::NotFound)
    ));
    let tags = store.list_tags().await.unwrap();
    assert!(tags.iter().all(|(_, n)| *n == 0), "{tags:?}");
}

pub async fn contacts_filters_and_pagination(store: Store) {
    for i in 0..25 {
        let tags: &[&str] = if i % 5 == 0 { &["gold"] } else { &[] };
        let mut c = contact(
            &format!("+1415555{:04}", 1000 + i),
            &format!("Name{i}"),
            tags,
        );
        c.fields.email = Some(format!("p{i}@example.com"));
        store.create_contact(&c).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut req = PageRequest::first(10);
    loop {
        let page = store
            .list_contacts(&ContactFilter::default(), req)
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|c| c.id));
        match page.next_before_id {
            Some(id) => req.before_id = Some(id),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );

    let gold = store
        .list_contacts(
            &ContactFilter {
                tag: Some("GOLD".into()),
                ..Default::default()
            },
            PageRequest::first(100),
        )
        .await
        .unwrap();
    assert_eq!(gold.items.len(), 5);
    let by_text = store
        .list_contacts(
            &ContactFilter {
                q: Some("P13@EXAMPLE".into()),
                ..Default::default()
            },
            PageRequest::first(100),
        )
        .await
        .unwrap();
    assert_eq!(by_text.items.len(), 1);
    assert_eq!(by_text.items[0].first_name.as_deref(), Some("Name13"));
    let literal = store
        .list_contacts(
            &ContactFilter {
                q: Some("%".into()),
                ..Default::default()
            },
            PageRequest::first(100),
        )
        .await
        .unwrap();
    assert!(
        literal.items.is_empty(),
        "LIKE wildcards in search text match literally"
    );
    let future = store
        .list_contacts(
            &ContactFilter {
                created_from: Some(parley_domain::time::now_millis() + 60_000),
                ..Default::default()
            },
            PageRequest::first(100),
        )
        .await
        .unwrap();
    assert!(future.items.is_empty());
}

pub async fn import_batches_merge_duplicates_and_count(store: Store) {
    let before = store
        .create_contact(&contact("+14155550999", "Old", &["keep"]))
        .await
        .unwrap();
    let campaign_id = campaign(&store, "import target").await;
    let import = store
        .start_import("csv", Some("people.csv"), Some(campaign_id), "test")
        .await
        .unwrap();
    let row = |line: i64, p: &str, name: &str, tags: &[&str]| ImportRow {
        line,
        contact: contact(p, name, tags),
    };
    let first = store
        .import_batch(
            &import,
            vec![
                row(2, "+14155550001", "A", &["new"]),
                row(3, "+14155550002", "B", &[]),
                row(4, "+14155550001", "A2", &["other"]), // duplicate inside the batch
                row(5, "+14155550999", "Updated", &["new"]), // existed before the import
            ],
            vec![ImportError {
                line: 6,
                reason: "invalid_phone".into(),
                message: "bad".into(),
            }],
        )
        .await
        .unwrap();
    assert_eq!((first.created, first.updated, first.duplicates), (2, 1, 1));
    // A later batch repeats line 3's phone: recognised through the database.
    let second = store
        .import_batch(
            &import,
            vec![row(7, "+14155550002", "B2", &["late"])],
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        (second.created, second.updated, second.duplicates),
        (0, 0, 1)
    );
    let done = store.finish_import(import.id, None).await.unwrap();
    assert_eq!(done.state, "completed");
    assert_eq!(
        (
            done.rows_total,
            done.created,
            done.updated,
            done.duplicates,
            done.rejected
        ),
        (6, 2, 1, 2, 1)
    );
    let errors = store.import_errors(import.id, 0, 100).await.unwrap();
    let lines: Vec<(i64, &str)> = errors.iter().map(|e| (e.line, e.reason.as_str())).collect();
    assert_eq!(
        lines,
        vec![(4, "duplicate"), (6, "invalid_phone"), (7, "duplicate")]
    );
    assert!(
        errors[0].message.contains("line 2"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[2].message.contains("line 3"),
        "{}",
        errors[2].message
    );

    let a = store
        .contact_by_phone(&phone("+14155550001"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        a.first_name.as_deref(),
        Some("A2"),
        "later non-empty values win"
    );
    assert_eq!(a.tags, vec!["new", "other"]);
    let b = store
        .contact_by_phone(&phone("+14155550002"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.tags, vec!["late"]);
    let old = store.get_contact(before.id).await.unwrap();
    assert_eq!(old.first_name.as_deref(), Some("Updated"));
    assert_eq!(old.tags, vec!["keep", "new"], "existing tags stay");

    let c = store.get_campaign(campaign_id).await.unwrap();
    assert_eq!((c.progress.total, c.progress.pending), (3, 3));
}

pub async fn campaign_state_machine_and_audit(store: Store) {
    let id = campaign(&store, "spring").await;
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
        .list_audit("campaign", Some(&id.to_string()), PageRequest::first(50))
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

pub async fn dnc_lists_are_idempotent_and_scoped(store: Store) {
    let c = store
        .create_contact(&contact("+14155550300", "D", &[]))
        .await
        .unwrap();
    let id = campaign(&store, "dnc").await;
    let p = phone("+14155550300");
    let first = store.add_dnc(&p, None, Some("asked"), "api").await.unwrap();
    let second = store.add_dnc(&p, None, Some("again"), "api").await.unwrap();
    assert_eq!(first.id, second.id, "adding twice keeps one entry");
    assert_eq!(second.reason.as_deref(), Some("asked"));
    let other = phone("+14155550301");
    store.add_dnc(&other, Some(id), None, "api").await.unwrap();
    assert!(matches!(
        store.add_dnc(&other, Some(424242), None, "api").await,
        Err(StoreError::NotFound)
    ));

    let check = store.check_dnc(&p, Some(id)).await.unwrap();
    assert!(check.global && !check.campaign && check.blocked());
    let check = store.check_dnc(&other, Some(id)).await.unwrap();
    assert!(!check.global && check.campaign);
    assert!(!store.check_dnc(&other, None).await.unwrap().blocked());
    assert!(store.get_contact(c.id).await.unwrap().do_not_call);

    assert_eq!(
        store
            .list_dnc(None, PageRequest::first(10))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        store
            .list_dnc(Some(id), PageRequest::first(10))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert!(store.remove_dnc(&p, None).await.unwrap());
    assert!(!store.remove_dnc(&p, None).await.unwrap());
    assert!(!store.get_contact(c.id).await.unwrap().do_not_call);
}

pub async fn calls_events_dedupe_and_filters(store: Store) {
    let id = campaign(&store, "calls").await;
    let mut made = Vec::new();
    for i in 0..3 {
        let call = store
            .create_call(&NewCall {
                campaign_id: (i < 2).then_some(id),
                attempt: 1,
                to: format!("+1415555{:04}", 3000 + i),
                from: "+15005550006".into(),
                dynamic_variables: serde_json::json!({"name": "x"}),
                overrides: serde_json::json!({}),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(call.status, CallStatus::Queued);
        made.push(call.id);
    }
    let in_campaign = store
        .list_calls(
            &CallFilter {
                campaign_id: Some(id),
                ..Default::default()
            },
            PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(in_campaign.items.len(), 2);
    let queued = store
        .list_calls(
            &CallFilter {
                status: Some(CallStatus::Queued),
                ..Default::default()
            },
            PageRequest::first(2),
        )
        .await
        .unwrap();
    assert_eq!(queued.items.len(), 2);
    assert!(queued.next_before_id.is_some());

    let data = serde_json::json!({"CallStatus": "ringing"});
    assert!(store
        .add_call_event(made[0], "status", Some("CA1:1"), &data)
        .await
        .unwrap());
    assert!(!store
        .add_call_event(made[0], "status", Some("CA1:1"), &data)
        .await
        .unwrap());
    assert!(store
        .add_call_event(made[0], "note", None, &data)
        .await
        .unwrap());
    assert!(store
        .add_call_event(made[0], "note", None, &data)
        .await
        .unwrap());
    let events = store.call_events(made[0]).await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].data["CallStatus"], "ringing");

    store
        .add_transcript_turn(made[0], TurnRole::Agent, "Hello!", Some(0.5), Some(1))
        .await
        .unwrap();
    store
        .add_transcript_turn(made[0], TurnRole::User, "Hi", Some(1.7), None)
        .await
        .unwrap();
    let turns = store.transcript(made[0]).await.unwrap();
    assert_eq!(turns.len(), 2);
    assert_eq!(
        (turns[1].role, turns[1].text.as_str()),
        (TurnRole::User, "Hi")
    );
    assert!(store.recordings(made[0]).await.unwrap().is_empty());
    assert!(matches!(
        store.get_call(987654).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn call_lifecycle_never_moves_backwards(store: Store) {
    use parley_domain::call::{CallOutcome, TerminationSource};
    use parley_store::{PostCall, RecordingUpdate, StatusChange};
    let call = store
        .create_call(&NewCall {
            attempt: 1,
            to: "+15550100001".into(),
            from: "+15005550006".into(),
            dynamic_variables: serde_json::json!({"first_name": "Ann"}),
            overrides: serde_json::json!({"first_message": "Hi"}),
            ..Default::default()
        })
        .await
        .unwrap();
    store.set_call_sid(call.id, "CA0001").await.unwrap();
    assert_eq!(
        store.call_by_sid("CA0001").await.unwrap().unwrap().id,
        call.id
    );
    let change = |status| StatusChange {
        status,
        duration_seconds: None,
        error_code: None,
        error_message: None,
    };
    let ringing = store
        .advance_call_status(call.id, &change(CallStatus::Ringing))
        .await
        .unwrap();
    assert_eq!(ringing.unwrap().status, CallStatus::Ringing);
    let answered = store
        .advance_call_status(call.id, &change(CallStatus::InProgress))
        .await
        .unwrap()
        .unwrap();
    assert!(answered.answered_at.is_some());
    assert!(
        store
            .advance_call_status(call.id, &change(CallStatus::Ringing))
            .await
            .unwrap()
            .is_none(),
        "late ringing is ignored"
    );
    let done = store
        .advance_call_status(
            call.id,
            &StatusChange {
                duration_seconds: Some(42),
                ..change(CallStatus::Completed)
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (done.status, done.duration_seconds),
        (CallStatus::Completed, Some(42))
    );
    assert!(done.ended_at.is_some());
    assert!(
        store
            .advance_call_status(call.id, &change(CallStatus::Failed))
            .await
            .unwrap()
            .is_none(),
        "final is final"
    );

    assert!(store
        .set_termination(call.id, TerminationSource::Agent, None)
        .await
        .unwrap());
    assert!(!store
        .set_termination(call.id, TerminationSource::Callee, Some("late"))
        .await
        .unwrap());
    assert_eq!(
        store.get_call(call.id).await.unwrap().termination_source,
        Some(TerminationSource::Agent)
    );

    store.set_stream_token(call.id, "tokenhash").await.unwrap();
    assert!(!store.take_stream_token(call.id, "wrong").await.unwrap());
    assert!(store.take_stream_token(call.id, "tokenhash").await.unwrap());
    assert!(
        !store.take_stream_token(call.id, "tokenhash").await.unwrap(),
        "one use only"
    );

    store.set_conversation_id(call.id, "conv_1").await.unwrap();
    store
        .add_transcript_turn(call.id, TurnRole::Agent, "live", Some(0.1), Some(1))
        .await
        .unwrap();
    let far_future = parley_domain::time::now_millis() + 60_000;
    assert_eq!(
        store
            .calls_awaiting_analysis(far_future, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    store
        .record_post_call(
            call.id,
            &PostCall {
                summary: Some("Talked about plans.".into()),
                analysis: serde_json::json!({"call_successful": "success"}),
                cost: Some(512.0),
                turns: vec![
                    (TurnRole::Agent, "Hello".into(), Some(0.0)),
                    (TurnRole::User, "Hi".into(), Some(1.5)),
                ],
            },
        )
        .await
        .unwrap();
    store
        .set_outcome(call.id, CallOutcome::Success)
        .await
        .unwrap();
    let c = store.call_by_conversation("conv_1").await.unwrap().unwrap();
    assert_eq!(
        (c.summary.as_deref(), c.outcome),
        (Some("Talked about plans."), Some(CallOutcome::Success))
    );
    assert_eq!(c.analysis.unwrap()["call_successful"], "success");
    let turns = store.transcript(call.id).await.unwrap();
    assert_eq!(
        turns.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(),
        vec!["Hello", "Hi"]
    );
    assert!(store
        .calls_awaiting_analysis(far_future, 10)
        .await
        .unwrap()
        .is_empty());
    let (vars, overrides) = store.call_agent_inputs(call.id).await.unwrap();
    assert_eq!(
        (
            vars["first_name"].as_str(),
            overrides["first_message"].as_str()
        ),
        (Some("Ann"), Some("Hi"))
    );

    let rec = |status: &str, path: Option<&str>| RecordingUpdate {
        recording_sid: "RE0001".into(),
        status: status.into(),
        path: path.map(str::to_string),
        content_type: path.map(|_| "audio/wav".to_string()),
        channels: Some(2),
        duration_seconds: Some(42),
        size_bytes: None,
    };
    store
        .upsert_recording(call.id, &rec("in-progress", None))
        .await
        .unwrap();
    assert!(matches!(
        store.recording_file(call.id).await,
        Err(StoreError::NotFound)
    ));
    store
        .upsert_recording(call.id, &rec("completed", Some("/data/r.wav")))
        .await
        .unwrap();
    assert_eq!(
        store.recording_file(call.id).await.unwrap(),
        ("RE0001".to_string(), Some("/data/r.wav".to_string()))
    );
    assert_eq!(
        store.recordings(call.id).await.unwrap().len(),
        1,
        "callbacks update one row"
    );
    let old = store
        .recordings_created_before(far_future, 10)
        .await
        .unwrap();
    assert_eq!(old.len(), 1);
    store.mark_recording_deleted(old[0].0).await.unwrap();
    assert!(store
        .recordings_created_before(far_future, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        store.recording_file(call.id).await,
        Err(StoreError::NotFound)
    ));
}

async fn running_campaign_with(
    store: &Store,
    name: &str,
    phones: std::ops::Range<u32>,
) -> (i64, Vec<i64>) {
    let id = campaign(store, name).await;
    let mut contacts = Vec::new();
    for i in phones {
        let p = format!("+1415556{i:04}");
        let c = match store.contact_by_phone(&phone(&p)).await.unwrap() {
            Some(c) => c,
            None => store.create_contact(&contact(&p, "D", &[])).await.unwrap(),
        };
        contacts.push(c.id);
    }
    store
        .add_campaign_contacts(id, &ContactSelector::Ids(contacts.clone()))
        .await
        .unwrap();
    store
        .transition_campaign(id, CampaignAction::Start, "test", None)
        .await
        .unwrap();
    (id, contacts)
}

fn attempt_call(to: &str) -> NewCall {
    NewCall {
        to: to.into(),
        from: "+15005550006".into(),
        dynamic_variables: serde_json::json!({}),
        overrides: serde_json::json!({}),
        ..Default::default()
    }
}

pub async fn claims_are_exclusive_and_attempts_start_once(store: Store) {
    use parley_store::{AttemptRefused, Settle};
    let now = parley_domain::time::now_millis();
    let (id, _) = running_campaign_with(&store, "claims", 0..10).await;
    let a = store
        .claim_due_contacts(id, "node-a", now, now + 60_000, 4, 1_000)
        .await
        .unwrap();
    let b = store
        .claim_due_contacts(id, "node-b", now, now + 60_000, 10, 1_000)
        .await
        .unwrap();
    assert_eq!((a.len(), b.len()), (4, 6));
    assert!(
        a.iter()
            .all(|c| b.iter().all(|d| d.contact_id != c.contact_id)),
        "no contact claimed twice"
    );
    assert!(store
        .claim_due_contacts(id, "node-c", now, now + 60_000, 10, 1_000)
        .await
        .unwrap()
        .is_empty());
    let p = store.get_campaign(id).await.unwrap().progress;
    assert_eq!((p.pending, p.in_progress), (0, 10));

    let claim = &a[0];
    let call = store
        .start_attempt(claim, "node-a", "2026-11-24", &attempt_call(&claim.phone))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((call.attempt, call.campaign_id), (1, Some(id)));
    let again = store
        .start_attempt(claim, "node-a", "2026-11-24", &attempt_call(&claim.phone))
        .await
        .unwrap();
    assert_eq!(
        again.unwrap_err(),
        AttemptRefused::ClaimLost,
        "one attempt per claim"
    );
    let stolen = store
        .start_attempt(&a[1], "node-b", "2026-11-24", &attempt_call(&a[1].phone))
        .await
        .unwrap();
    assert_eq!(
        stolen.unwrap_err(),
        AttemptRefused::ClaimLost,
        "only the claim's owner may dial"
    );
    assert_eq!(store.get_campaign(id).await.unwrap().progress.attempts, 1);

    // A pause between claim and dial: nothing is dialled, the claim goes back.
    store
        .transition_campaign(id, CampaignAction::Pause, "test", None)
        .await
        .unwrap();
    let refused = store
        .start_attempt(&a[1], "node-a", "2026-11-24", &attempt_call(&a[1].phone))
        .await
        .unwrap();
    assert_eq!(refused.unwrap_err(), AttemptRefused::CampaignNotRunning);
    assert!(store
        .release_claim(id, a[1].contact_id, "node-a", None, None)
        .await
        .unwrap());
    assert!(
        !store
            .release_claim(id, claim.contact_id, "node-a", None, None)
            .await
            .unwrap(),
        "a claim with an attempt settles instead"
    );
    let calls = store
        .list_calls(
            &CallFilter {
                campaign_id: Some(id),
                ..Default::default()
            },
            PageRequest::first(50),
        )
        .await
        .unwrap();
    assert_eq!(
        calls.items.len(),
        1,
        "the refused attempt left no call behind"
    );

    // Settling is once; a retry waits for its time and comes before fresh contacts.
    let retry_at = now + 3_600_000;
    let settle = Settle::RetryAt {
        at: retry_at,
        priority: 1,
    };
    assert!(store
        .settle_attempt(id, claim.contact_id, call.id, "no_answer", &settle)
        .await
        .unwrap());
    assert!(!store
        .settle_attempt(
            id,
            claim.contact_id,
            call.id,
            "no_answer",
            &Settle::Completed
        )
        .await
        .unwrap());
    store
        .transition_campaign(id, CampaignAction::Resume, "test", None)
        .await
        .unwrap();
    let later = store
        .claim_due_contacts(id, "node-a", now + 10, now + 60_000, 1, 1_000)
        .await
        .unwrap();
    assert_eq!(
        later[0].contact_id, a[1].contact_id,
        "the retry is not due yet"
    );
    store
        .release_claim(id, a[1].contact_id, "node-a", None, None)
        .await
        .unwrap();
    let due = store
        .claim_due_contacts(id, "node-a", retry_at, retry_at + 60_000, 1, 1_000)
        .await
        .unwrap();
    assert_eq!(
        (due[0].contact_id, due[0].attempts, due[0].priority),
        (claim.contact_id, 1, 1),
        "due retries first"
    );
    let second = store
        .start_attempt(
            &due[0],
            "node-a",
            "2026-11-24",
            &attempt_call(&due[0].phone),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.attempt, 2);
    let cc = store
        .list_campaign_contacts(id, Some(ProgressState::InProgress), PageRequest::first(50))
        .await
        .unwrap();
    let row = cc
        .items
        .iter()
        .find(|c| c.contact_id == claim.contact_id)
        .unwrap();
    assert_eq!((row.attempts, row.last_call_id), (2, Some(second.id)));
    assert!(store
        .settle_attempt(
            id,
            claim.contact_id,
            second.id,
            "success",
            &Settle::Completed
        )
        .await
        .unwrap());
    let p = store.get_campaign(id).await.unwrap().progress;
    assert_eq!((p.completed, p.attempts, p.total), (1, 2, 10));
    assert_eq!(
        p.pending + p.scheduled + p.in_progress + p.completed + p.failed + p.cancelled,
        p.total
    );
}

pub async fn concurrent_claimers_never_share_a_contact(store: Store) {
    let now = parley_domain::time::now_millis();
    let (id, contacts) = running_campaign_with(&store, "race", 100..160).await;
    let mut tasks = Vec::new();
    for node in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let owner = format!("node-{node}");
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_due_contacts(id, &owner, now, now + 60_000, 3, 1_000)
                    .await
                    .unwrap();
                if got.is_empty() {
                    break mine;
                }
                mine.extend(got.into_iter().map(|c| c.contact_id));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!(before, all.len(), "a contact was claimed twice");
    let mut expected = contacts.clone();
    expected.sort();
    assert_eq!(all, expected, "every contact was claimed");
    assert_eq!(
        store.get_campaign(id).await.unwrap().progress.in_progress,
        60
    );
}

pub async fn lost_claims_come_back_and_opt_outs_cancel_everywhere(store: Store) {
    let now = parley_domain::time::now_millis();
    let (first, contacts) = running_campaign_with(&store, "one", 200..204).await;
    let (second, _) = running_campaign_with(&store, "two", 200..202).await;
    let claims = store
        .claim_due_contacts(first, "gone-node", now, now + 1_000, 4, 1_000)
        .await
        .unwrap();
    store
        .start_attempt(
            &claims[0],
            "gone-node",
            "2026-11-24",
            &attempt_call(&claims[0].phone),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.recover_expired_claims(now + 500).await.unwrap(),
        0,
        "leases still valid"
    );
    assert_eq!(
        store.recover_expired_claims(now + 2_000).await.unwrap(),
        3,
        "the dialled one waits for reconciling"
    );
    let p = store.get_campaign(first).await.unwrap().progress;
    assert_eq!((p.pending, p.in_progress), (3, 1));

    // Waiting elsewhere: scheduled for later.
    store
        .release_claim(
            first,
            claims[0].contact_id,
            "gone-node",
            Some(now + 60_000),
            Some("window closed"),
        )
        .await
        .unwrap();
    let opted = store.get_contact(contacts[1]).await.unwrap();
    let cancelled = store
        .cancel_waiting_for_phone(&phone(&opted.phone), "opted out")
        .await
        .unwrap();
    assert_eq!(cancelled, 2, "pending in both campaigns");
    for campaign_id in [first, second] {
        let p = store.get_campaign(campaign_id).await.unwrap().progress;
        assert_eq!(p.cancelled, 1, "campaign {campaign_id}");
        assert_eq!(
            p.pending + p.scheduled + p.in_progress + p.completed + p.failed + p.cancelled,
            p.total
        );
    }
}

pub async fn rate_buckets_limit_calls_per_second_for_everyone(store: Store) {
    use parley_store::Bucket;
    let account = Bucket {
        key: "account".into(),
        rate: 1.0,
        burst: 1.0,
    };
    let fast = Bucket {
        key: "campaign:1".into(),
        rate: 10.0,
        burst: 10.0,
    };
    let t0 = 1_000_000;
    assert_eq!(
        store
            .take_tokens(std::slice::from_ref(&fast), 20, t0)
            .await
            .unwrap(),
        10,
        "a full bucket bursts to its size"
    );
    assert_eq!(
        store
            .take_tokens(std::slice::from_ref(&fast), 20, t0)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .take_tokens(std::slice::from_ref(&fast), 20, t0 + 500)
            .await
            .unwrap(),
        5,
        "refills at its rate"
    );
    // Both limits at once: the account's 1/s caps a 10/s campaign.
    let both = [
        account.clone(),
        Bucket {
            key: "campaign:2".into(),
            rate: 10.0,
            burst: 10.0,
        },
    ];
    assert_eq!(store.take_tokens(&both, 5, t0).await.unwrap(), 1);
    assert_eq!(store.take_tokens(&both, 5, t0 + 999).await.unwrap(), 0);
    assert_eq!(store.take_tokens(&both, 5, t0 + 2_000).await.unwrap(), 1);
    // Concurrent takers never get more than the bucket holds in total.
    let shared = Bucket {
        key: "campaign:3".into(),
        rate: 0.001,
        burst: 20.0,
    };
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (store, shared) = (store.clone(), shared.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = 0;
            for _ in 0..10 {
                got += store
                    .take_tokens(std::slice::from_ref(&shared), 2, t0)
                    .await
                    .unwrap();
            }
            got
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 20);
}

pub async fn claims_never_exceed_the_concurrency_limit(store: Store) {
    let now = parley_domain::time::now_millis();
    let (id, _) = running_campaign_with(&store, "capped", 300..320).await;
    let mut tasks = Vec::new();
    for node in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .claim_due_contacts(id, &format!("node-{node}"), now, now + 60_000, 10, 5)
                .await
                .unwrap()
                .len()
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(
        total, 5,
        "four claimers together stay within the limit of 5"
    );
    assert_eq!(
        store.get_campaign(id).await.unwrap().progress.in_progress,
        5
    );
    let more = store
        .claim_due_contacts(id, "node-9", now, now + 60_000, 10, 5)
        .await
        .unwrap();
    assert!(more.is_empty());
}

pub async fn failed_contacts_can_be_requeued(store: Store) {
    use parley_store::Settle;
    let now = parley_domain::time::now_millis();
    let (id, _) = running_campaign_with(&store, "requeue", 400..403).await;
    let claims = store
        .claim_due_contacts(id, "n", now, now + 60_000, 3, 10)
        .await
        .unwrap();
    for c in &claims {
        let call = store
            .start_attempt(c, "n", "2026-11-24", &attempt_call(&c.phone))
            .await
            .unwrap()
            .unwrap();
        let reason = "no answer after 1 attempt".to_string();
        store
            .settle_attempt(
                id,
                c.contact_id,
                call.id,
                "no_answer",
                &Settle::Failed { reason },
            )
            .await
            .unwrap();
    }
    assert_eq!(store.get_campaign(id).await.unwrap().progress.failed, 3);
    assert_eq!(
        store
            .requeue_contacts(id, ProgressState::InProgress)
            .await
            .unwrap(),
        0,
        "in-progress is never requeued"
    );
    assert_eq!(
        store
            .requeue_contacts(id, ProgressState::Failed)
            .await
            .unwrap(),
        3
    );
    let p = store.get_campaign(id).await.unwrap().progress;
    assert_eq!((p.failed, p.pending), (0, 3));
    let again = store
        .claim_due_contacts(id, "n", now, now + 60_000, 3, 10)
        .await
        .unwrap();
    assert!(again.iter().all(|c| c.attempts == 0), "a fresh round");
    assert_eq!(
        store.recover_expired_claims(i64::MAX).await.unwrap(),
        3,
        "release every claim without an attempt"
    );
}

pub async fn tool_calls_are_logged_per_call(store: Store) {
    use parley_domain::tool::ToolVia;
    use parley_store::NewToolCall;
    let call = store
        .create_call(&NewCall {
            attempt: 1,
            to: "+14155550199".into(),
            from: "+15005550006".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let parameters = serde_json::json!({"email": "ada@example.com", "nested": {"n": 1.5}});
    let answer = serde_json::json!("Sent.");
    let logged = |call_id, tool, via, is_error| NewToolCall {
        call_id,
        tool,
        via,
        parameters: &parameters,
        result: &answer,
        is_error,
        duration_ms: 12,
    };
    store
        .add_tool_call(&logged(Some(call.id), "send_email", ToolVia::Client, false))
        .await
        .unwrap();
    // A server tool called without a call id is still logged, against no call.
    store
        .add_tool_call(&logged(None, "get_current_time", ToolVia::Server, false))
        .await
        .unwrap();
    store
        .add_tool_call(&logged(Some(call.id), "opt_out", ToolVia::Server, true))
        .await
        .unwrap();
    let listed = store.tool_calls(call.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].tool, "send_email");
    assert_eq!(listed[0].via, ToolVia::Client);
    assert_eq!(listed[0].parameters, parameters);
    assert_eq!(listed[0].result, answer);
    assert_eq!(listed[0].duration_ms, 12);
    assert!(!listed[0].is_error);
    assert_eq!(
        (listed[1].tool.as_str(), listed[1].is_error),
        ("opt_out", true)
    );
    assert_eq!(listed[1].via, ToolVia::Server);
    assert!(store.tool_calls(call.id + 1).await.unwrap().is_empty());
}

pub async fn the_last_enabled_admin_stays(store: Store) {
    let ann = store
        .create_user("ann@example.com", "h", Role::Admin)
        .await
        .unwrap();
    let bob = store
        .create_user("bob@example.com", "h", Role::Operator)
        .await
        .unwrap();
    let refused = store.update_user(ann.id, Some(Role::Viewer), None).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let refused = store.update_user(ann.id, None, Some(true)).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );

    let bob = store
        .update_user(bob.id, Some(Role::Admin), None)
        .await
        .unwrap();
    assert_eq!(bob.role, Role::Admin);
    let ann = store.update_user(ann.id, None, Some(true)).await.unwrap();
    assert!(ann.disabled && ann.role == Role::Admin);
    // Bob is now the only enabled admin.
    let refused = store.update_user(bob.id, Some(Role::Operator), None).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let missing = store.update_user(9_999, Some(Role::Viewer), None).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");

    // Two admins demoting each other at the same moment: one of them stays.
    let ann = store.update_user(ann.id, None, Some(false)).await.unwrap();
    for round in 0..20 {
        let (a, b) = tokio::join!(
            store.update_user(ann.id, Some(Role::Operator), None),
            store.update_user(bob.id, Some(Role::Operator), None),
        );
        assert!(a.is_ok() != b.is_ok(), "round {round}: {a:?} {b:?}");
        let (stayed, demoted) = if a.is_ok() {
            (bob.id, ann.id)
        } else {
            (ann.id, bob.id)
        };
        let admins: Vec<i64> = store
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .filter(|u| u.role == Role::Admin && !u.disabled)
            .map(|u| u.id)
            .collect();
        assert_eq!(admins, vec![stayed], "round {round}");
        store
            .update_user(demoted, Some(Role::Admin), None)
            .await
            .unwrap();
    }
}
pub use crate::analytics::{analytics_count_each_call_once, past_calls_are_counted_like_live_ones};

pub async fn imports_left_running_are_failed_once_abandoned(store: Store) {
    let running = store
        .start_import("csv", Some("cut.csv"), None, "test")
        .await
        .unwrap();
    let done = store
        .start_import("csv", Some("done.csv"), None, "test")
        .await
        .unwrap();
    store.finish_import(done.id, None).await.unwrap();
    let hour_ago = parley_domain::time::now_millis() - 3_600_000;
    assert_eq!(store.fail_abandoned_imports(hour_ago).await.unwrap(), 0);
    let later = parley_domain::time::now_millis() + 1;
    assert_eq!(store.fail_abandoned_imports(later).await.unwrap(), 1);
    let failed = store.get_import(running.id).await.unwrap();
    assert_eq!(failed.state, "failed");
    assert!(failed.error.unwrap().starts_with("abandoned"));
    assert!(failed.finished_at.is_some());
    assert_eq!(store.get_import(done.id).await.unwrap().state, "completed");
}
