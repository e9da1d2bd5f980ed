//! A sandbox campaign mixing Florida, New York and non-US contacts, dialled by the dialer
//! on an injected clock: each is dialled only when its rules allow, and every dial held
//! back is in the compliance report and its export.
use crate::harness::TestApp;
use chrono::{DateTime, Utc};
use parley_engine::dialer::Dialer;
use parley_store::{CallFilter, PageRequest};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const MIAMI: &str = "+13055550170";
const NEW_YORK: &str = "+12125550170";
/// On the campaign's own do-not-call list.
const NEW_YORK_LISTED: &str = "+12125550171";
/// No consent recorded.
const NEW_YORK_UNCONSENTED: &str = "+12125550172";
const LONDON: &str = "+442079460170";

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn post(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, v) = app.call(Method::POST, path, Some(body)).await;
    assert!(status == 200 || status == 201, "{path}: {status} {v}");
    v
}

/// Numbers of the campaign's calls, in the order they were placed.
async fn dialled(app: &TestApp, id: i64) -> Vec<String> {
    let filter = CallFilter {
        campaign_id: Some(id),
        ..Default::default()
    };
    let calls = app
        .store
        .list_calls(&filter, PageRequest::first(50))
        .await
        .unwrap();
    calls.items.iter().rev().map(|c| c.to.clone()).collect()
}

/// One dialer tick at the clock's time, then waits (on the engine's events, with a
/// timeout) until `calls` calls were placed and `blocked` dials held back in all.
async fn tick_until(app: &TestApp, dialer: &Dialer, id: i64, calls: usize, blocked: i64) {
    let mut events = app.engine.events.subscribe();
    dialer.tick().await.unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let held = report(app, id).await["blocked"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["blocked"].as_i64().unwrap())
                .sum::<i64>();
            if dialled(app, id).await.len() == calls && held == blocked {
                return;
            }
            events.recv().await.unwrap();
        }
    })
    .await;
    if waited.is_err() {
        panic!(
            "not {calls} calls and {blocked} held dials: {:?} {} {}",
            dialled(app, id).await,
            app.call(
                Method::GET,
                &format!("/api/v1/campaigns/{id}/contacts"),
                None
            )
            .await
            .1,
            report(app, id).await
        );
    }
}

async fn report(app: &TestApp, id: i64) -> Value {
    let (status, r) = app
        .call(
            Method::GET,
            &format!("/api/v1/campaigns/{id}/compliance?from=2026-06-01T00:00:00Z&to=2027-06-01T00:00:00Z"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{r}");
    r
}

#[tokio::test]
async fn each_contact_is_dialled_only_when_its_rules_allow_and_every_held_dial_is_reported() {
    let app = TestApp::start_on(crate::harness::Db::Sqlite, |s| {
        s.dialer.enabled = false;
        s.dialer.account_calls_per_second = 10.0;
        // One tick claims every contact (the clock stands still between ticks, so no
        // pacing token comes back).
        s.dialer.max_concurrent_calls = 10;
        s.sandbox.speed = 5.0;
    })
    .await;
    // The campaign would call 07:00-23:00 every day; only the law narrows it. Written
    // consent required (the default).
    let campaign = post(
        &app,
        "/api/v1/campaigns",
        json!({"name": "mixed", "settings": {
            "caller_ids": ["+15005550006"], "calls_per_second": 10, "max_concurrent_calls": 10,
            "calling_window": {"start": "07:00", "end": "23:00",
                               "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}}}),
    )
    .await;
    let id = campaign["id"].as_i64().unwrap();
    let mut contact_ids = Vec::new();
    for phone in [
        MIAMI,
        NEW_YORK,
        NEW_YORK_LISTED,
        NEW_YORK_UNCONSENTED,
        LONDON,
    ] {
        let c = post(&app, "/api/v1/contacts", json!({"phone": phone})).await;
        let cid = c["id"].as_i64().unwrap();
        if phone != NEW_YORK_UNCONSENTED {
            post(
                &app,
                &format!("/api/v1/contacts/{cid}/consent"),
                json!({"consent_type": "express_written", "text": "Calls from Acme, by an AI voice, are fine."}),
            )
            .await;
        }
        contact_ids.push(cid);
    }
    post(
        &app,
        &format!("/api/v1/campaigns/{id}/contacts"),
        json!({"contact_ids": contact_ids}),
    )
    .await;
    post(
        &app,
        "/api/v1/dnc",
        json!({"phone": NEW_YORK_LISTED, "campaign_id": id, "reason": "asked by letter"}),
    )
    .await;
    post(&app, &format!("/api/v1/campaigns/{id}/start"), json!({})).await;

    // Monday 2026-06-15, 20:30 EDT in Miami and New York, 01:30 in London.
    let clock = Arc::new(AtomicI64::new(
        utc("2026-06-16T00:30:00Z").timestamp_millis(),
    ));
    let read = clock.clone();
    let dialer = Dialer::new(app.engine.clone()).with_clock(Arc::new(move || {
        DateTime::<Utc>::from_timestamp_millis(read.load(Ordering::SeqCst)).unwrap()
    }));
    tick_until(&app, &dialer, id, 1, 4).await;
    assert_eq!(
        dialled(&app, id).await,
        [NEW_YORK],
        "at 20:30 Eastern only New York may be called: Florida stops at 20:00, and it is 01:30 in London"
    );
    // Ticks later that evening hold no one again and keep no second copy.
    clock.store(
        utc("2026-06-16T00:45:00Z").timestamp_millis(),
        Ordering::SeqCst,
    );
    tick_until(&app, &dialer, id, 1, 4).await;

    // 08:00 EDT, 13:00 in London: both open.
    clock.store(
        utc("2026-06-16T12:00:00Z").timestamp_millis(),
        Ordering::SeqCst,
    );
    tick_until(&app, &dialer, id, 3, 4).await;
    let mut later = dialled(&app, id).await.split_off(1);
    later.sort();
    assert_eq!(later, [MIAMI, LONDON]);

    let r = report(&app, id).await;
    let blocked: Vec<(String, Value, i64)> = r["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["reason"].as_str().unwrap().to_string(),
                b["jurisdiction"].clone(),
                b["blocked"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        blocked,
        [
            ("calling_window".to_string(), Value::Null, 1),
            ("do_not_call".to_string(), json!("US-NY"), 1),
            ("no_consent".to_string(), json!("US-NY"), 1),
            ("state_hours".to_string(), json!("US-FL"), 1),
        ],
        "{r}"
    );
    let florida = r["recent_blocked"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["reason"] == "state_hours")
        .unwrap();
    assert_eq!(florida["phone"], MIAMI);
    assert_eq!(florida["rule"], "Fla. Stat. 501.616(6)(a) (Florida)");
    assert_eq!(florida["blocked_at"], "2026-06-16T00:30:00Z");
    assert_eq!(florida["held_until"], "2026-06-16T12:00:00Z");
    assert_eq!(florida["rules_version"], r["rules_version"]);
    let london = r["recent_blocked"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["reason"] == "calling_window")
        .unwrap();
    assert!(
        london["rule"]
            .as_str()
            .unwrap()
            .starts_with("47 CFR 64.1200(c)(1)"),
        "{london}"
    );
    let places: Vec<(Value, i64)> = r["calls_by_jurisdiction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["jurisdiction"].clone(), j["calls"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        places,
        [(Value::Null, 1), (json!("US-FL"), 1), (json!("US-NY"), 1)]
    );
    assert_eq!(r["consent"]["contacts"], 5);
    assert_eq!(r["consent"]["satisfying"], 4);
    assert_eq!(r["consent"]["required"], "express_written");

    // The export: the figures, then every held dial with its rule and the rules version.
    let resp = app
        .req(
            Method::GET,
            &format!("/api/v1/campaigns/{id}/compliance/export?from=2026-06-01T00:00:00Z&to=2027-06-01T00:00:00Z"),
            &app.viewer_key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = resp.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("section,jurisdiction,reason,rule,rules_version,at,contact_id,phone,count,value")
    );
    let held: Vec<&str> = csv
        .lines()
        .filter(|l| l.starts_with("blocked_dial,"))
        .collect();
    assert_eq!(held.len(), 4, "{csv}");
    let version = r["rules_version"].as_str().unwrap();
    assert!(
        held.iter().any(|l| l.starts_with(&format!(
            "blocked_dial,US-FL,state_hours,Fla. Stat. 501.616(6)(a) (Florida),{version},2026-06-16T00:30:00.000Z,{},'{MIAMI},,2026-06-16T12:00:00.000Z",
            contact_ids[0]
        ))),
        "{csv}"
    );
    assert!(
        csv.lines()
            .any(|l| l == "blocked,US-FL,state_hours,,,,,,1,1"),
        "the figures come first: {csv}"
    );

    // A bad range is refused.
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/v1/campaigns/{id}/compliance?from=2026-06-02T00:00:00Z&to=2026-06-01T00:00:00Z"),
            None,
        )
        .await;
    assert_eq!(
        (status, crate::harness::error_code(&body)),
        (400, "bad_request")
    );
    let (status, _) = app
        .call(Method::GET, "/api/v1/campaigns/999999/compliance", None)
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}
