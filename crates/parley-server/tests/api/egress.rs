//! The egress policy on webhook subscriptions: internal targets are refused when the
//! subscription is made (422 on `url`), and a name that resolves inside the network at
//! delivery time is refused when the worker connects, logged as a refusal by policy
//! whether or not anything listens there.
use crate::harness::{error_code, next_webhook_attempt, read, Db, TestApp};
use parley_domain::webhook::EventType;
use parley_store::NewSubscription;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

async fn admin(app: &TestApp, method: Method, path: &str, body: Value) -> (u16, Value) {
    let r = app.req(method, path, &app.admin_key).json(&body);
    read(r.send().await.unwrap()).await
}

/// The message the 422 gives for `url`.
fn url_error(body: &Value) -> String {
    body["error"]["details"]["fields"]
        .as_array()
        .and_then(|fields| fields.iter().find(|f| f["field"] == "url"))
        .and_then(|f| f["message"].as_str())
        .unwrap_or_else(|| panic!("no url error in {body}"))
        .to_owned()
}

#[tokio::test]
async fn a_subscription_to_an_internal_address_is_refused_with_422() {
    let app = TestApp::start().await;
    let refused = [
        (
            "http://169.254.169.254/latest/meta-data/",
            "is a link-local address",
        ),
        // 127.0.0.2: the harness allows 127.0.0.1 by name (in every spelling).
        ("http://2130706434/hook", "is a loopback address"),
        ("http://0x7f.2/hook", "is a loopback address"),
        ("http://017700000002/hook", "is a loopback address"),
        ("http://[::1]:8080/hook", "is a loopback address"),
        ("http://[::ffff:10.0.0.1]/hook", "is a private address"),
        ("http://0.0.0.0:8080/hook", "is an unspecified address"),
        ("http://192.168.0.10/hook", "is a private address"),
        ("http://100.64.1.1/hook", "is a carrier-grade NAT address"),
        ("http://[fd00::5]/hook", "is a unique-local address"),
        (
            "http://localhost:8080/hook",
            "resolves to a loopback address",
        ),
        (
            "https://user:secret@crm.example.com/hook",
            "must not contain a user name or password",
        ),
        (
            "gopher://crm.example.com/",
            "must be an http:// or https:// URL",
        ),
    ];
    for (url, reason) in refused {
        let (status, body) = admin(
            &app,
            Method::POST,
            "/api/v1/webhooks",
            json!({"url": url, "event_types": ["call.completed"]}),
        )
        .await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(error_code(&body), "validation_failed");
        let message = url_error(&body);
        assert!(message.contains(reason), "{url}: {message}");
    }
    let (_, list) = admin(&app, Method::GET, "/api/v1/webhooks", json!({})).await;
    assert_eq!(list["items"], json!([]), "nothing refused was saved");

    // 127.0.0.1 is in the harness's egress.allowed_hosts; a public name passes.
    let (status, created) = admin(
        &app,
        Method::POST,
        "/api/v1/webhooks",
        json!({"url": "http://127.0.0.1:9/hook", "event_types": ["call.completed"]}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    let (status, body) = admin(
        &app,
        Method::PATCH,
        &format!("/api/v1/webhooks/{id}"),
        json!({"url": "http://10.1.2.3/hook"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(url_error(&body).contains("private address"), "{body}");
    let (_, got) = admin(
        &app,
        Method::GET,
        &format!("/api/v1/webhooks/{id}"),
        json!({}),
    )
    .await;
    assert_eq!(
        got["url"], "http://127.0.0.1:9/hook",
        "the refused change was not applied"
    );
    app.stop().await;
}

/// A TCP listener that counts connections and answers 200.
async fn counting_receiver() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
    tokio::spawn(async move {
        let listener = CountingListener { listener, counter };
        axum::serve(listener, app).await
    });
    (port, accepted)
}

struct CountingListener {
    listener: tokio::net::TcpListener,
    counter: Arc<AtomicUsize>,
}

impl axum::serve::Listener for CountingListener {
    type Io = tokio::net::TcpStream;
    type Addr = std::net::SocketAddr;
    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let accepted = axum::serve::Listener::accept(&mut self.listener).await;
        self.counter.fetch_add(1, Ordering::SeqCst);
        accepted
    }
    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

async fn delivery_to_a_rebinding_name_is_refused_at_connect_time(db: Db) {
    let app = TestApp::start_on(db, |s| {
        s.dialer.enabled = false;
        s.webhooks.poll_interval_ms = 50;
    })
    .await;
    let (open, accepted) = counting_receiver().await;
    // A port nothing listens on: the log must not tell it from the open one.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // Written past the API's check, as a name that resolved publicly when subscribed
    // and to loopback now would be; `localhost` is not allowed by name.
    let mut hooks = Vec::new();
    for port in [open, closed] {
        let sub = app
            .engine
            .store
            .create_subscription(
                &NewSubscription {
                    url: format!("http://localhost:{port}/hook"),
                    secret: "whsec_test".into(),
                    event_types: vec![EventType::CampaignStateChanged],
                    description: None,
                    enabled: true,
                },
                "test",
            )
            .await
            .unwrap();
        hooks.push(sub.id);
    }
    // The worker announces every attempt it records.
    let mut attempts = app.engine.events.subscribe();
    let id = app.campaign_with_contact("rebind").await;
    let (status, body) = app
        .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    assert_eq!(status, 200, "{body}");

    let mut errors = Vec::new();
    for hook in hooks {
        let delivery = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let (_, page) = admin(
                    &app,
                    Method::GET,
                    &format!("/api/v1/webhooks/{hook}/deliveries"),
                    json!({}),
                )
                .await;
                if let Some(d) = page["items"]
                    .as_array()
                    .and_then(|items| items.iter().find(|d| d["last_error"].is_string()))
                {
                    return d.clone();
                }
                next_webhook_attempt(&mut attempts).await;
            }
        })
        .await
        .expect("the delivery is attempted");
        assert_eq!(
            delivery["state"], "failed",
            "a refusal is a failed attempt: {delivery}"
        );
        assert!(
            delivery["next_attempt_at"].is_string(),
            "and it is retried: {delivery}"
        );
        let (_, detail) = admin(
            &app,
            Method::GET,
            &format!("/api/v1/webhook-deliveries/{}", delivery["id"]),
            json!({}),
        )
        .await;
        let attempt = &detail["attempts_log"][0];
        assert_eq!(attempt["response_status"], Value::Null, "{attempt}");
        errors.push(attempt["error"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        errors[0],
        "refused by egress policy: the host resolves to a loopback address"
    );
    assert_eq!(errors[0], errors[1], "open and closed ports look the same");
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "nothing connected");
    app.stop().await;
}

#[tokio::test]
async fn delivery_to_a_rebinding_name_is_refused_at_connect_time_sqlite() {
    delivery_to_a_rebinding_name_is_refused_at_connect_time(Db::Sqlite).await;
}

#[tokio::test]
async fn delivery_to_a_rebinding_name_is_refused_at_connect_time_postgres() {
    delivery_to_a_rebinding_name_is_refused_at_connect_time(Db::Postgres).await;
}
