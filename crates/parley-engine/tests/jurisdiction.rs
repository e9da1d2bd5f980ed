//! The dialer keeps each contact's state rules: at 20:30 in the Eastern time zone a
//! Florida number waits for 08:00 while a New York number is dialled.
use chrono::{DateTime, NaiveTime, Utc, Weekday::*};
use parley_domain::activity::STATE_HOURS_REASON;
use parley_domain::campaign::{CallingWindow, CampaignAction, CampaignSettings};
use parley_domain::contact::{ContactFields, NewContact};
use parley_domain::Phone;
use parley_engine::dialer::Dialer;
use parley_engine::events::LiveEvent;
use parley_engine::settings::Settings;
use parley_engine::telephony::{SimulatorUrls, Telephony};
use parley_engine::Engine;
use parley_store::{CallFilter, ContactSelector, NewCampaign, PageRequest, Store};
use std::sync::Arc;
use std::time::Duration;

const MIAMI: &str = "+13055550150";
const NEW_YORK: &str = "+12125550150";

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[tokio::test]
async fn at_20_30_eastern_a_florida_number_waits_for_08_00_while_a_new_york_one_is_dialled() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("p.db").display()))
        .await
        .unwrap();
    let mut settings = Settings::default();
    settings.dialer.account_calls_per_second = 10.0;
    // A carrier that is not there: a dialled call stays queued, to be reconciled.
    let nowhere = SimulatorUrls::unreachable();
    let engine = Engine::new(
        Arc::new(settings.clone()),
        store.clone(),
        Telephony::sandbox(&settings, &nowhere).unwrap(),
    );
    let t = |s| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
    let campaign = store
        .create_campaign(
            &NewCampaign {
                name: "evening".into(),
                description: None,
                settings: CampaignSettings {
                    caller_ids: vec![Phone::from_e164("+15005550006").unwrap()],
                    calls_per_second: 10.0,
                    // The campaign would call until 23:00: only the law stops it.
                    calling_window: CallingWindow {
                        start: t("07:00"),
                        end: t("23:00"),
                        days: vec![Mon, Tue, Wed, Thu, Fri, Sat, Sun],
                    },
                    // Consent is not what this tests.
                    required_consent: parley_domain::consent::ConsentType::None,
                    ..Default::default()
                },
            },
            "t",
        )
        .await
        .unwrap();
    let mut ids = Vec::new();
    for phone in [MIAMI, NEW_YORK] {
        let c = store
            .create_contact(&NewContact {
                phone: Phone::from_e164(phone).unwrap(),
                fields: ContactFields::default(),
            })
            .await
            .unwrap();
        ids.push(c.id);
    }
    store
        .add_campaign_contacts(campaign.id, &ContactSelector::Ids(ids.clone()))
        .await
        .unwrap();
    store
        .transition_campaign(campaign.id, CampaignAction::Start, "t", None)
        .await
        .unwrap();

    // Monday 2026-06-15 20:30 EDT in both Miami and New York.
    let at = utc("2026-06-16T00:30:00Z");
    let dialer = Dialer::new(engine.clone()).with_clock(Arc::new(move || at));
    let mut events = engine.events.subscribe();
    dialer.tick().await.unwrap();
    let (mut dialled, mut put_back) = (false, false);
    tokio::time::timeout(Duration::from_secs(30), async {
        while !(dialled && put_back) {
            match events.recv().await.unwrap() {
                LiveEvent::CallStarted { campaign_id, .. } if campaign_id == Some(campaign.id) => {
                    dialled = true
                }
                LiveEvent::ProgressChanged { campaign_id } if campaign_id == campaign.id => {
                    put_back = true
                }
                _ => {}
            }
        }
    })
    .await
    .expect("one contact is dialled and the other put back");

    let calls = store
        .list_calls(
            &CallFilter {
                campaign_id: Some(campaign.id),
                ..Default::default()
            },
            PageRequest::first(10),
        )
        .await
        .unwrap();
    let to: Vec<&str> = calls.items.iter().map(|c| c.to.as_str()).collect();
    assert_eq!(to, vec![NEW_YORK], "only New York is called at 20:30");
    let rows = store
        .list_campaign_contacts(campaign.id, None, PageRequest::first(10))
        .await
        .unwrap();
    let miami = rows.items.iter().find(|r| r.phone == MIAMI).unwrap();
    assert_eq!(miami.state.as_str(), "scheduled");
    assert_eq!(miami.reason.as_deref(), Some(STATE_HOURS_REASON));
    assert_eq!(
        miami.next_attempt_at,
        Some(utc("2026-06-16T12:00:00Z")),
        "08:00 EDT the next morning"
    );
}
