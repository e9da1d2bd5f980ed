//! The account's concurrent-call limit holds across campaigns and nodes.
use crate::campaign_dialer::{campaign_with, peak_concurrency};
use crate::harness::{Db, Node, TestApp};
use parley_domain::campaign::CampaignState;
use parley_engine::events::LiveEvent;
use parley_engine::settings::Settings;
use reqwest::Method;
use std::collections::HashSet;
use std::time::Duration;

const ACCOUNT_LIMIT: u32 = 5;

#[tokio::test]
async fn two_campaigns_on_two_nodes_never_exceed_the_account_limit_and_both_progress() {
    let contacts = 16;
    let tune = |s: &mut Settings| {
        s.sandbox.speed = 20.0;
        s.dialer.account_calls_per_second = 20.0;
        s.dialer.max_concurrent_calls = ACCOUNT_LIMIT;
    };
    let a = TestApp::start_on(Db::Postgres, tune).await;
    let b_dir = tempfile::tempdir().unwrap();
    let mut settings = crate::harness::node_settings(b_dir.path(), a.database_url.clone());
    tune(&mut settings);
    let b_store = parley_store::Store::open(&a.database_url).await.unwrap();
    let b = Node::start(settings, b_store.clone()).await;

    // Each campaign alone may place 4 at once: together they would reach 8.
    let mut ids = Vec::new();
    for c in 0..2 {
        let phones: Vec<String> = (0..contacts).map(|i| format!("+155502{c}{i:04}")).collect();
        let refs: Vec<&str> = phones.iter().map(String::as_str).collect();
        ids.push(campaign_with(&a, &refs, 4).await);
    }
    let mut events = a.engine.events.subscribe();
    for id in &ids {
        let (status, _) = a
            .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
            .await;
        assert_eq!(status, 200);
    }
    // Sampled through the API at every call change, until both campaigns complete.
    let mut completed = HashSet::new();
    let mut peak_sampled = 0;
    tokio::time::timeout(Duration::from_secs(240), async {
        while completed.len() < ids.len() {
            match events.recv().await {
                Ok(LiveEvent::CampaignChanged {
                    campaign_id,
                    state: CampaignState::Completed,
                }) => {
                    completed.insert(campaign_id);
                }
                Ok(LiveEvent::CallStarted { .. } | LiveEvent::CallUpdated { .. }) => {
                    let (_, summary) = a.call(Method::GET, "/api/v1/analytics/summary", None).await;
                    let in_use = summary["capacity"]["in_use"].as_i64().unwrap();
                    assert_eq!(summary["capacity"]["limit"], ACCOUNT_LIMIT);
                    assert!(
                        in_use <= i64::from(ACCOUNT_LIMIT),
                        "{in_use} calls in progress"
                    );
                    peak_sampled = peak_sampled.max(in_use);
                }
                _ => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("both campaigns complete ({} of 2)", completed.len()));

    let mut at_carrier = a.sandbox().twilio.sim.calls();
    at_carrier.extend(b.sandbox.as_ref().unwrap().twilio.sim.calls());
    assert!(at_carrier.len() >= 2 * contacts, "every contact was called");
    let peak = peak_concurrency(&at_carrier);
    assert!(
        peak <= ACCOUNT_LIMIT as i32,
        "{peak} calls up at once across both nodes and campaigns, account limit {ACCOUNT_LIMIT}"
    );
    assert!(peak_sampled > 0, "the samples saw calls in progress");
    for id in &ids {
        let (_, c) = a
            .call(Method::GET, &format!("/api/v1/campaigns/{id}"), None)
            .await;
        assert_eq!(c["state"], "completed", "{c}");
        assert!(c["progress"]["attempts"].as_i64().unwrap() >= contacts as i64);
    }
    b.stop().await;
    b_store.close().await;
    a.stop().await;
}
