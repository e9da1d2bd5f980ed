//! A running campaign says why it is not dialling and when it next will.
use crate::calls_e2e::sandbox;
use chrono::{Datelike, TimeDelta, Utc};
use parley_engine::events::LiveEvent;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const ZONE: &str = "Pacific/Auckland";
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

#[tokio::test]
async fn a_campaign_started_outside_its_contacts_hours_says_when_it_will_call_them() {
    let app = sandbox().await;
    let zone: chrono_tz::Tz = ZONE.parse().unwrap();
    // Every day but the contacts' today: closed now, open from midnight their time.
    let local = Utc::now().with_timezone(&zone);
    let today = local.weekday().num_days_from_monday() as usize;
    let days: Vec<&str> = (0..7).filter(|d| *d != today).map(|d| DAYS[d]).collect();
    let (status, campaign) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "evening", "settings": {
                "caller_ids": ["+15005550006"],
                "calling_window": {"start": "00:00", "end": "23:59", "days": days},
                "allow_outside_legal_hours": true, "required_consent": "none"}})),
        )
        .await;
    assert_eq!(status, 201, "{campaign}");
    let id = campaign["id"].as_i64().unwrap();
    let url = format!("/api/v1/campaigns/{id}/activity");
    let (_, draft) = app.call(Method::GET, &url, None).await;
    assert_eq!(draft["next_action"], "not_started", "{draft}");

    for (i, phone) in ["+14155550181", "+14155550182"].iter().enumerate() {
        let (status, c) = app
            .call(
                Method::POST,
                "/api/v1/contacts",
                Some(json!({"phone": phone, "first_name": format!("P{i}"), "timezone": ZONE})),
            )
            .await;
        assert_eq!(status, 201, "{c}");
        app.call(
            Method::POST,
            &format!("/api/v1/campaigns/{id}/contacts"),
            Some(json!({"contact_ids": [c["id"]]})),
        )
        .await;
    }
    let mut events = app.engine.events.subscribe();
    let (status, _) = app
        .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    assert_eq!(status, 200);
    // The dialer puts each contact back until its window opens, and says so.
    let activity = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(LiveEvent::ProgressChanged { campaign_id }) = events.recv().await {
                let (_, a) = app.call(Method::GET, &url, None).await;
                if campaign_id == id && a["next_action"] == "waiting" {
                    return a;
                }
            }
        }
    })
    .await
    .expect("the campaign waits for its contacts' window");
    let opens = (local + TimeDelta::days(1)).format("00:00 %a").to_string();
    let next = &activity["next_contact"];
    assert_eq!(next["reason"], "outside_calling_window", "{activity}");
    assert_eq!(next["timezone"], ZONE);
    assert_eq!(next["local_next_at"], opens.as_str());
    let message = activity["message"].as_str().unwrap();
    assert!(
        message.starts_with("Outside calling hours: it is ")
            && message.contains(&format!("the next call is at {opens} their time")),
        "{message}"
    );
    let (_, campaign) = app
        .call(Method::GET, &format!("/api/v1/campaigns/{id}"), None)
        .await;
    assert_eq!(campaign["progress"]["attempts"], 0, "nobody was called");

    let (_, contacts) = app
        .call(
            Method::GET,
            &format!("/api/v1/campaigns/{id}/contacts"),
            None,
        )
        .await;
    let waiting: Vec<&Value> = contacts["items"].as_array().unwrap().iter().collect();
    assert_eq!(waiting.len(), 2);
    for c in waiting {
        if c["state"] == "scheduled" {
            assert_eq!(c["waiting_for"], "outside_calling_window", "{c}");
            assert_eq!(c["timezone"], ZONE);
        } else {
            // Not yet put back by the dialer (it takes them in turn): due.
            assert_eq!(c["waiting_for"], "due", "{c}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_campaign_with_no_contacts_cannot_be_started() {
    let app = sandbox().await;
    let (_, campaign) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "empty"})),
        )
        .await;
    let id = campaign["id"].as_i64().unwrap();
    let (status, body) = app
        .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body["error"]["message"],
        "the campaign has no contacts; add contacts before starting it"
    );
    let (_, after) = app
        .call(Method::GET, &format!("/api/v1/campaigns/{id}"), None)
        .await;
    assert_eq!(after["state"], "draft", "it stays a draft, to be filled");
    app.stop().await;
}
