//! The end of a bridged call is one transaction: who ended it, its quality figures and,
//! when they take the campaign's abandonment rate over its limit, the campaign's pause
//! (reason `abandonment_rate`, audit row, `campaign.state_changed` event). Failing it at
//! each of its write points in turn leaves nothing of it; delivered again, it ends as a
//! clean run does. On SQLite and PostgreSQL.
use parley_domain::call::TerminationSource;
use parley_domain::campaign::{CampaignAction, CampaignSettings, CampaignState};
use parley_domain::contact::{ContactFields, NewContact};
use parley_domain::quality::CallQuality;
use parley_domain::webhook::EventType;
use parley_domain::Phone;
use parley_engine::settings::Settings;
use parley_engine::telephony::{SimulatorUrls, Telephony};
use parley_engine::Engine;
use parley_store::testing::TestDatabase;
use parley_store::{ContactSelector, NewCall, NewCampaign, PageRequest, Store};
use std::sync::Arc;

struct World {
    store: Store,
    engine: Engine,
    campaign: i64,
    subscription: i64,
    _dir: tempfile::TempDir,
    _pg: Option<TestDatabase>,
}

async fn world(postgres: bool) -> World {
    let dir = tempfile::tempdir().unwrap();
    let pg = if postgres {
        Some(TestDatabase::create("parley_quality").await)
    } else {
        None
    };
    let url = match &pg {
        None => format!("sqlite://{}", dir.path().join("q.db").display()),
        Some(pg) => pg.url.clone(),
    };
    let store = Store::open(&url).await.unwrap();
    let settings = Settings::default();
    let engine = Engine::new(
        Arc::new(settings.clone()),
        store.clone(),
        Telephony::sandbox(&settings, &SimulatorUrls::unreachable()).unwrap(),
    );
    let subscription =
        parley_store::testing::subscribe(&store, vec![EventType::CampaignStateChanged]).await;
    let campaign = store
        .create_campaign(
            &NewCampaign {
                name: "Slow agent".into(),
                description: None,
                settings: CampaignSettings::default(),
            },
            "test",
        )
        .await
        .unwrap()
        .id;
    let contact = store
        .create_contact(&NewContact {
            phone: Phone::from_e164("+14155550123").unwrap(),
            fields: ContactFields::default(),
        })
        .await
        .unwrap();
    store
        .add_campaign_contacts(campaign, &ContactSelector::Ids(vec![contact.id]))
        .await
        .unwrap();
    store
        .transition_campaign(campaign, CampaignAction::Start, "test", None)
        .await
        .unwrap();
    World {
        store,
        engine,
        campaign,
        subscription,
        _dir: dir,
        _pg: pg,
    }
}

async fn campaign_call(w: &World) -> i64 {
    w.store
        .create_call(&NewCall {
            campaign_id: Some(w.campaign),
            attempt: 1,
            to: "+14155550123".into(),
            from: "+15005550006".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .id
}

/// A call whose agent took 3 s to say anything.
fn slow(live: bool) -> CallQuality {
    CallQuality {
        frames_from_caller: 200,
        frames_to_agent: 200,
        frames_from_agent: 100,
        frames_to_caller: 100,
        first_audio_ms: Some(3_000),
        live_answered: live,
        abandoned: parley_domain::quality::is_abandoned(live, Some(3_000), 4_000),
        ..Default::default()
    }
}

async fn end(w: &World, call: i64) -> Result<(), parley_store::StoreError> {
    let why = Some((TerminationSource::Agent, None));
    w.engine
        .end_bridged_call(call, why, parley_domain::time::now_millis(), slow)
        .await
}

async fn state_changes(w: &World) -> usize {
    w.store
        .list_deliveries(w.subscription, PageRequest::first(50))
        .await
        .unwrap()
        .items
        .len()
}

/// The points an event passes, learnt on a fresh world (the event changes it).
async fn points_of_the_tipping_call(postgres: bool) -> Vec<&'static str> {
    let w = world(postgres).await;
    for _ in 0..19 {
        let call = campaign_call(&w).await;
        end(&w, call).await.unwrap();
    }
    let call = campaign_call(&w).await;
    w.store.faults().record();
    end(&w, call).await.unwrap();
    let points = w.store.faults().passed();
    w.store.faults().reset();
    points
}

async fn each_failure_leaves_nothing(postgres: bool) {
    let points = points_of_the_tipping_call(postgres).await;
    assert!(points.contains(&"record_call_quality"), "{points:?}");
    assert!(points.contains(&"transition_campaign"), "{points:?}");
    // Up to its commit: a failure after it (the point `after commit`) has changed things.
    let commit = points
        .iter()
        .position(|p| *p == "commit")
        .expect("a commit");
    for nth in 1..=commit + 1 {
        let w = world(postgres).await;
        for _ in 0..19 {
            let call = campaign_call(&w).await;
            end(&w, call).await.unwrap();
        }
        let call = campaign_call(&w).await;
        w.store.faults().fail_at(nth as u64);
        assert!(end(&w, call).await.is_err(), "point {}", points[nth - 1]);
        w.store.faults().reset();
        let at = points[nth - 1];
        assert_eq!(w.store.call_quality(call).await.unwrap(), None, "{at}");
        assert_eq!(
            w.store.get_call(call).await.unwrap().termination_source,
            None,
            "{at}"
        );
        let campaign = w.store.get_campaign(w.campaign).await.unwrap();
        assert_eq!(campaign.state, CampaignState::Running, "{at}");
        assert_eq!(state_changes(&w).await, 1, "{at}");
        // Delivered again: as a clean run.
        end(&w, call).await.unwrap();
        let campaign = w.store.get_campaign(w.campaign).await.unwrap();
        assert_eq!(campaign.state, CampaignState::Paused, "{at}");
        let reason = campaign.state_reason.unwrap_or_default();
        assert!(
            reason.starts_with("abandonment_rate: 20 of 20 live-answered calls"),
            "{reason}"
        );
        assert_eq!(state_changes(&w).await, 2, "started, paused: {at}");
        assert!(w.store.call_quality(call).await.unwrap().is_some());
    }
}

#[tokio::test]
async fn enough_abandoned_calls_pause_the_campaign_in_the_tipping_calls_transaction_sqlite() {
    each_failure_leaves_nothing(false).await;
}

#[tokio::test]
async fn enough_abandoned_calls_pause_the_campaign_in_the_tipping_calls_transaction_postgres() {
    each_failure_leaves_nothing(true).await;
}

#[tokio::test]
async fn machines_do_not_count_toward_the_rate() {
    let w = world(false).await;
    for _ in 0..25 {
        let call = campaign_call(&w).await;
        w.store
            .set_answered_by(call, "machine_end_beep")
            .await
            .unwrap();
        end(&w, call).await.unwrap();
        let q = w.store.call_quality(call).await.unwrap().unwrap();
        assert!(!q.live_answered && !q.abandoned, "{q:?}");
    }
    let campaign = w.store.get_campaign(w.campaign).await.unwrap();
    assert_eq!(campaign.state, CampaignState::Running);
}
