//! Analytics over HTTP: exact counts after real (signed) status callbacks, repeated and out
//! of order; filters; bad parameters.
use crate::calls_failures::{status_callback, stored_call};
use crate::harness::{error_code, read, Db, TestApp};
use chrono::{Timelike, Utc};
use reqwest::Method;
use serde_json::{json, Value};

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    read(
        app.req(Method::GET, path, &app.viewer_key)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn counts_settled_calls_once(db: Db) {
    let app = TestApp::start_on(db, |s| s.dialer.enabled = false).await;
    let (status, campaign) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "Spring"})),
        )
        .await;
    assert_eq!(status, 201, "{campaign}");
    let campaign_id = campaign["id"].as_i64().unwrap();

    let sid = "CA00000000000000000000000000000001";
    let done = stored_call(&app, sid).await;
    // Late, repeated and out-of-order callbacks: the call is counted once.
    for (status, seq) in [
        ("in-progress", 2),
        ("ringing", 1),
        ("completed", 3),
        ("completed", 3),
        ("in-progress", 2),
    ] {
        assert_eq!(
            status_callback(&app, done, sid, status, seq, false).await,
            204
        );
    }
    // Another call not over yet (its callbacks would carry a duration: the helper's do).
    stored_call(&app, "CA00000000000000000000000000000002").await;

    let (status, summary) = get(&app, "/api/v1/analytics/summary").await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["calls_in_progress"], 1);
    let totals = &summary["totals"];
    assert_eq!(totals["dialed"], 2, "{summary}");
    assert_eq!(totals["answered"], 1, "{summary}");
    assert_eq!(totals["total_duration_seconds"], 12);
    assert_eq!(totals["average_duration_seconds"], 12.0);
    assert_eq!(totals["answer_rate"], 0.5);
    // A 12-second call with no verdict from the agent is a conversation, not a success.
    let (_, call) = get(&app, &format!("/api/v1/calls/{done}")).await;
    assert_eq!(call["outcome"], "conversation", "{call}");
    assert_eq!(totals["conversations"], 1, "{summary}");
    assert_eq!(totals["successful"], 0, "{summary}");
    assert_eq!(totals["success_rate"], 0.0);
    assert_eq!(totals["human_rate"], 0.0, "no answering-machine verdict");
    assert_eq!(totals["billed_minutes"], 1);
    assert_eq!(
        totals["cost_usd"], 0.014,
        "one billed minute at the default rate"
    );
    let stages: Vec<&str> = summary["funnel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        ["dialed", "answered", "human", "conversation", "successful"]
    );
    assert_eq!(summary["funnel"][1]["count"], 1);

    let (status, timeline) = get(&app, "/api/v1/analytics/timeline").await;
    assert_eq!(status, 200, "{timeline}");
    let items = timeline["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{timeline}");
    assert_eq!(
        (items[0]["dialed"].as_i64(), items[0]["answered"].as_i64()),
        (Some(2), Some(1))
    );
    let hour = chrono::DateTime::parse_from_rfc3339(items[0]["hour"].as_str().unwrap()).unwrap();
    assert_eq!((hour.minute(), hour.second()), (0, 0));

    let (status, by_hour) = get(&app, "/api/v1/analytics/hour-of-day?tz=America/New_York").await;
    assert_eq!(status, 200, "{by_hour}");
    let items = by_hour["items"].as_array().unwrap();
    assert_eq!(items.len(), 24);
    let local_hour = Utc::now()
        .with_timezone(&chrono_tz::America::New_York)
        .hour() as usize;
    assert_eq!(items[local_hour]["hour"], local_hour);
    assert_eq!(items[local_hour]["dialed"], 2, "{by_hour}");
    let dialed: i64 = items.iter().map(|i| i["dialed"].as_i64().unwrap()).sum();
    assert_eq!(dialed, 2);

    // These calls belong to no campaign: the campaign's figures are empty.
    let (status, of_campaign) = get(
        &app,
        &format!("/api/v1/analytics/summary?campaign_id={campaign_id}"),
    )
    .await;
    assert_eq!(status, 200, "{of_campaign}");
    assert_eq!(of_campaign["totals"]["dialed"], 0);
    assert_eq!(of_campaign["totals"]["answer_rate"], Value::Null);
    assert_eq!(of_campaign["calls_in_progress"], 0);
    let (status, campaigns) = get(&app, "/api/v1/analytics/campaigns").await;
    assert_eq!(status, 200, "{campaigns}");
    assert_eq!(campaigns["items"][0]["campaign_id"], campaign_id);
    assert_eq!(campaigns["items"][0]["name"], "Spring");
    assert_eq!(campaigns["items"][0]["state"], "draft");
    assert_eq!(campaigns["items"][0]["totals"]["dialed"], 0);

    let (status, past) = get(
        &app,
        "/api/v1/analytics/summary?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(past["totals"]["dialed"], 0);
    assert_eq!(past["from"], "2020-01-01T00:00:00Z");
    app.stop().await;
}

#[tokio::test]
async fn counts_settled_calls_once_on_sqlite() {
    counts_settled_calls_once(Db::Sqlite).await;
}

#[tokio::test]
async fn counts_settled_calls_once_on_postgres() {
    counts_settled_calls_once(Db::Postgres).await;
}

#[tokio::test]
async fn bad_parameters_are_rejected() {
    let app = TestApp::start().await;
    // Unreadable values are 400; readable ones that break a rule are 422.
    for (path, want) in [
        (
            "/api/v1/analytics/summary?from=yesterday",
            (400, "bad_request"),
        ),
        (
            "/api/v1/analytics/timeline?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
            (422, "validation_failed"),
        ),
        (
            "/api/v1/analytics/summary?campaign_id=abc",
            (400, "bad_request"),
        ),
        (
            "/api/v1/analytics/summary?campaign_id=0",
            (422, "validation_failed"),
        ),
        (
            "/api/v1/analytics/summary?campaign_id=999",
            (404, "not_found"),
        ),
        (
            "/api/v1/analytics/hour-of-day?tz=Mars/Olympus",
            (422, "validation_failed"),
        ),
        ("/api/v1/analytics/campaigns?to=soon", (400, "bad_request")),
    ] {
        let (status, body) = get(&app, path).await;
        assert_eq!((status, error_code(&body)), want, "{path}: {body}");
    }
    let unauthenticated = app
        .http
        .get(app.url("/api/v1/analytics/summary"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);

    let (_, doc) = get(&app, "/api/v1/openapi.json").await;
    for path in [
        "/api/v1/analytics/summary",
        "/api/v1/analytics/timeline",
        "/api/v1/analytics/hour-of-day",
        "/api/v1/analytics/campaigns",
        "/api/v1/events",
    ] {
        assert!(doc["paths"][path]["get"].is_object(), "missing {path}");
    }
    for schema in ["Totals", "Summary", "LiveMessage", "LiveEvent"] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "missing schema {schema}"
        );
    }
    app.stop().await;
}
