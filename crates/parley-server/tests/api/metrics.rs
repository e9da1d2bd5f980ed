//! Prometheus metrics: what a scrape shows after real work, and who may scrape it.
use crate::calls_e2e::sandbox;
use crate::campaign_dialer::{campaign_with, wait_until_completed};
use crate::harness::{error_code, read, Db, TestApp};
use axum::http::StatusCode;
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

const PHONE: &str = "+15550100001";

/// A CRM endpoint that answers 200 and signals each request.
async fn receiver() -> (String, Arc<Notify>) {
    let arrived = Arc::new(Notify::new());
    let signal = arrived.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let signal = signal.clone();
            async move {
                signal.notify_one();
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), arrived)
}

/// The metric families a scrape holds: histogram series are named by their family.
fn families(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap())
        .map(|name| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .filter(|family| family.ends_with("_seconds"))
                .unwrap_or(name)
                .to_owned()
        })
        .collect()
}

/// The value of the one series whose line starts with `name`, if it is there.
pub fn series(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn value(text: &str, name: &str) -> f64 {
    series(text, name).unwrap_or_else(|| panic!("no series {name} in:\n{text}"))
}

/// The value of the series `name` in a scrape of `app` now; fails when it is absent.
pub async fn scraped(app: &TestApp, name: &str) -> f64 {
    value(&scrape(app).await, name)
}

pub async fn scrape(app: &TestApp) -> String {
    let resp = reqwest::get(app.metrics_url()).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    resp.text().await.unwrap()
}

#[tokio::test]
async fn a_scrape_after_a_campaign_shows_every_documented_metric_and_no_phone_number() {
    let app = sandbox().await;
    let (url, delivered) = receiver().await;
    let subscribe = app
        .req(Method::POST, "/api/v1/webhooks", &app.admin_key)
        .json(&json!({"url": url, "event_types": ["call.completed"]}));
    let (status, body) = read(subscribe.send().await.unwrap()).await;
    assert_eq!(status, 201, "{body}");
    let id = campaign_with(&app, &[PHONE], 1).await;
    let before = scrape(&app).await;
    let placed = r#"parley_calls_placed_total{kind="campaign"}"#;
    let placed_before = series(&before, placed).unwrap_or(0.0);
    let (status, _) = app
        .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    assert_eq!(status, 200);
    wait_until_completed(&app, id).await;
    tokio::time::timeout(Duration::from_secs(60), delivered.notified())
        .await
        .expect("call.completed is delivered");

    let text = scrape(&app).await;
    let found = families(&text);
    let documented: BTreeSet<String> = parley_engine::telemetry::documented_names()
        .map(str::to_owned)
        .collect();
    let missing: Vec<_> = documented.difference(&found).collect();
    assert!(
        missing.is_empty(),
        "documented but not exported: {missing:?}"
    );
    let undocumented: Vec<_> = found
        .iter()
        .filter(|f| f.starts_with("parley_") && !documented.contains(*f))
        .collect();
    assert!(
        undocumented.is_empty(),
        "exported but not documented: {undocumented:?}"
    );
    // Other tests share the process's recorder: at least this campaign's work shows.
    assert!(
        value(&text, placed) >= placed_before + 1.0,
        "the counter moved with the call"
    );
    assert!(value(&text, "parley_dialer_claims_total") >= 1.0);
    assert!(value(&text, "parley_bridge_frames_total{direction=\"to_caller\"}") >= 1.0);
    assert!(value(&text, "parley_agent_first_audio_seconds_count") >= 1.0);
    assert!(
        value(
            &text,
            "parley_webhook_deliveries_total{result=\"delivered\"}"
        ) >= 1.0
    );
    let start = r#"parley_http_requests_total{method="POST",route="/api/v1/campaigns/{id}/start",status="200"}"#;
    assert!(value(&text, start) >= 1.0, "route templates label requests");
    let digits = PHONE.trim_start_matches('+');
    assert!(!text.contains(digits), "a phone number in the metrics");
    app.stop().await;
}

#[tokio::test]
async fn the_main_listener_serves_metrics_only_to_the_bearer_of_the_token() {
    let app = TestApp::start_on(Db::Sqlite, |s| {
        s.dialer.enabled = false;
        s.metrics.token = Some("a-long-metrics-token".to_owned().into());
    })
    .await;
    let get = |token: Option<&str>| {
        let mut req = app.http.get(app.url("/metrics"));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send()
    };
    for token in [None, Some("wrong-token"), Some(app.admin_key.as_str())] {
        let (status, body) = read(get(token).await.unwrap()).await;
        assert_eq!(status, 401, "{token:?}: {body}");
        assert_eq!(error_code(&body), "unauthorized");
    }
    let resp = get(Some("a-long-metrics-token")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("parley_build_info"));
    app.stop().await;

    let app = TestApp::start().await;
    let (status, body) = read(app.http.get(app.url("/metrics")).send().await.unwrap()).await;
    assert_eq!(
        status, 404,
        "no token, no metrics on the main listener: {body}"
    );
    assert_eq!(error_code(&body), "not_found");
    assert!(scrape(&app).await.contains("parley_build_info"));
    app.stop().await;
}
