//! The live events WebSocket: authentication, origin check, a sandbox call's events in
//! order, filters.
use crate::calls_e2e::{place, sandbox};
use crate::harness::{error_code, read, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use futures::StreamExt;
use parley_engine::events::LiveEvent;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(60);

fn ws_url(app: &TestApp, query: &str) -> String {
    format!(
        "{}/api/v1/events{query}",
        app.base.replacen("http", "ws", 1)
    )
}

/// Opens the socket with `headers`; `Err(status)` when the handshake is refused.
async fn open(app: &TestApp, query: &str, headers: &[(&str, &str)]) -> Result<Socket, u16> {
    let mut request = ws_url(app, query).into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    match connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(WsError::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("handshake failed: {e}"),
    }
}

async fn open_with_key(app: &TestApp, query: &str) -> Socket {
    let auth = format!("Bearer {}", app.viewer_key);
    open(app, query, &[("authorization", &auth)]).await.unwrap()
}

/// A plain GET, without a handshake, gets the API's JSON error rather than axum's text.
#[tokio::test]
async fn a_request_without_a_handshake_gets_a_json_400() {
    let app = TestApp::start().await;
    let (status, body) = read(
        app.req(reqwest::Method::GET, "/api/v1/events", &app.viewer_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, error_code(&body)), (400, "bad_request"), "{body}");
    app.stop().await;
}

/// The next JSON message (pings and pongs skipped).
async fn next(socket: &mut Socket) -> Value {
    tokio::time::timeout(WAIT, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("a message in time")
}

/// Messages until one `stop` accepts (included).
async fn until(socket: &mut Socket, stop: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let message = next(socket).await;
        let done = stop(&message);
        seen.push(message);
        if done {
            return seen;
        }
    }
}

async fn session_cookie(app: &TestApp) -> String {
    let resp = app
        .http
        .post(app.url("/api/v1/auth/sign-in"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap();
    set_cookie.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn the_socket_needs_credentials_and_a_cookie_needs_our_origin() {
    let app = TestApp::start().await;
    assert_eq!(open(&app, "", &[]).await.err(), Some(401));
    assert_eq!(
        open(&app, "", &[("authorization", "Bearer pk_nope")])
            .await
            .err(),
        Some(401)
    );
    let cookie = session_cookie(&app).await;
    assert_eq!(
        open(
            &app,
            "",
            &[("cookie", &cookie), ("origin", "https://evil.example")]
        )
        .await
        .err(),
        Some(403),
        "another site cannot ride the dashboard's cookie"
    );
    let mut own = open(&app, "", &[("cookie", &cookie), ("origin", &app.base)])
        .await
        .expect("the dashboard's own origin is accepted");
    let hello = next(&mut own).await;
    assert_eq!(hello["type"], "hello");
    assert!(hello["server_time"].is_string(), "{hello}");
    let metrics = next(&mut own).await;
    assert_eq!(metrics["type"], "metrics", "{metrics}");
    assert_eq!(metrics["calls_in_progress"], 0);
    assert_eq!(metrics["today"]["dialed"], 0);
    app.stop().await;
}

#[tokio::test]
async fn a_sandbox_call_streams_from_start_to_end_and_filters_apply() {
    let app = sandbox().await;
    let mut everything = open_with_key(&app, "").await;
    let mut other_call = open_with_key(&app, "?call_id=999999").await;
    for socket in [&mut everything, &mut other_call] {
        assert_eq!(next(socket).await["type"], "hello");
    }

    let id = place(&app, json!({"to": "+15550100001"})).await;
    let seen = until(&mut everything, |m| {
        m["type"] == "call_ended" && m["call_id"] == id
    })
    .await;
    let kinds: Vec<&str> = seen
        .iter()
        .filter(|m| m["call_id"] == id)
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"call_started"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"call_ended"), "{kinds:?}");
    assert!(kinds.contains(&"call_updated"), "{kinds:?}");
    assert!(kinds.contains(&"transcript"), "{kinds:?}");

    // The filtered socket gets only its call's events: a marker for its call arrives
    // with none of the other call's events before it (the bus keeps order).
    app.engine
        .events
        .publish(LiveEvent::RecordingReady { call_id: 999999 });
    let filtered = until(&mut other_call, |m| m["type"] == "recording_ready").await;
    assert!(filtered.iter().all(|m| m["call_id"] != id), "{filtered:?}");
    app.stop().await;
}

/// An app whose live-events sockets re-check their credential every 100 ms.
async fn quick_recheck(db: crate::harness::Db) -> TestApp {
    TestApp::start_on(db, |s| {
        s.dialer.enabled = false;
        s.http.events_recheck_secs = 0.1;
    })
    .await
}

/// Reads until the server's close frame; returns its code and reason.
async fn closed(socket: &mut Socket) -> (u16, String) {
    tokio::time::timeout(WAIT, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (u16::from(frame.code), frame.reason.to_string())
                }
                Some(Ok(Message::Close(None))) | None => panic!("closed without a reason"),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("socket failed: {e}"),
            }
        }
    })
    .await
    .expect("the socket is closed in time")
}

/// Signs in as a new user of `role`; returns the user id, cookie and CSRF token.
async fn signed_in_user(app: &TestApp, email: &str) -> (i64, String, String) {
    let (status, user) = crate::harness::read(
        app.req(reqwest::Method::POST, "/api/v1/users", &app.admin_key)
            .json(&json!({"email": email, "password": "a long enough password", "role": "viewer"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    let resp = app
        .http
        .post(app.url("/api/v1/auth/sign-in"))
        .json(&json!({"email": email, "password": "a long enough password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let me: Value = resp.json().await.unwrap();
    let csrf = me["csrf_token"].as_str().unwrap().to_string();
    (user["id"].as_i64().unwrap(), cookie, csrf)
}

async fn open_with_cookie(app: &TestApp, cookie: &str) -> Socket {
    let mut socket = open(app, "", &[("cookie", cookie), ("origin", &app.base)])
        .await
        .unwrap();
    assert_eq!(next(&mut socket).await["type"], "hello");
    socket
}

async fn revocation_closes_the_socket(db: crate::harness::Db) {
    let app = quick_recheck(db).await;
    // A socket whose credential holds, open through every check below.
    let mut kept = open_with_key(&app, "").await;
    assert_eq!(next(&mut kept).await["type"], "hello");

    // A revoked API key.
    let (status, created) = crate::harness::read(
        app.req(reqwest::Method::POST, "/api/v1/api-keys", &app.admin_key)
            .json(&json!({"name": "dashboard tv", "role": "viewer"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap();
    let auth = format!("Bearer {key}");
    let mut by_key = open(&app, "", &[("authorization", &auth)]).await.unwrap();
    assert_eq!(next(&mut by_key).await["type"], "hello");
    let revoke = app
        .req(
            reqwest::Method::DELETE,
            &format!("/api/v1/api-keys/{}", created["id"]),
            &app.admin_key,
        )
        .send()
        .await
        .unwrap();
    assert!(revoke.status().is_success(), "{}", revoke.status());
    let (code, reason) = closed(&mut by_key).await;
    assert_eq!(code, 1008);
    assert!(reason.contains("revoked"), "{reason}");

    // A user who is disabled.
    let (user_id, cookie, _) = signed_in_user(&app, "disabled@example.com").await;
    let mut by_disabled = open_with_cookie(&app, &cookie).await;
    let (status, body) = crate::harness::read(
        app.req(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{user_id}"),
            &app.admin_key,
        )
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (code, reason) = closed(&mut by_disabled).await;
    assert_eq!(code, 1008);
    assert!(reason.contains("session has ended"), "{reason}");

    // A session that signs out (in another tab).
    let (_, cookie, csrf) = signed_in_user(&app, "leaving@example.com").await;
    let mut by_session = open_with_cookie(&app, &cookie).await;
    let out = app
        .http
        .post(app.url("/api/v1/auth/sign-out"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let (code, reason) = closed(&mut by_session).await;
    assert_eq!(code, 1008);
    assert!(reason.contains("session has ended"), "{reason}");

    // The kept socket still answers.
    use futures::SinkExt;
    kept.send(Message::Ping(b"still there?".to_vec().into()))
        .await
        .unwrap();
    tokio::time::timeout(WAIT, async {
        loop {
            match kept.next().await {
                Some(Ok(Message::Pong(_))) => return,
                Some(Ok(Message::Text(_) | Message::Ping(_))) => {}
                other => panic!("the valid socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("a pong");
    app.stop().await;
}

#[tokio::test]
async fn revoked_keys_disabled_users_and_signed_out_sessions_lose_the_socket_sqlite() {
    revocation_closes_the_socket(crate::harness::Db::Sqlite).await;
}

#[tokio::test]
async fn revoked_keys_disabled_users_and_signed_out_sessions_lose_the_socket_postgres() {
    revocation_closes_the_socket(crate::harness::Db::Postgres).await;
}

#[tokio::test]
async fn sockets_are_capped_per_credential_and_in_total() {
    let app = TestApp::start_on(crate::harness::Db::Sqlite, |s| {
        s.dialer.enabled = false;
        s.http.events_max_sockets = 3;
        s.http.events_max_sockets_per_credential = 2;
    })
    .await;
    let viewer = format!("Bearer {}", app.viewer_key);
    let operator = format!("Bearer {}", app.operator_key);
    let admin = format!("Bearer {}", app.admin_key);
    let mut first = open(&app, "", &[("authorization", &viewer)]).await.unwrap();
    let _second = open(&app, "", &[("authorization", &viewer)]).await.unwrap();
    assert_eq!(
        open(&app, "", &[("authorization", &viewer)]).await.err(),
        Some(429),
        "a third socket for the same key"
    );
    let _third = open(&app, "", &[("authorization", &operator)])
        .await
        .unwrap();
    assert_eq!(
        open(&app, "", &[("authorization", &admin)]).await.err(),
        Some(503),
        "a fourth socket on the node"
    );
    // Closing one gives its place back (once the server has seen the close).
    first.close(None).await.unwrap();
    tokio::time::timeout(WAIT, async {
        loop {
            if open(&app, "", &[("authorization", &admin)]).await.is_ok() {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("a place frees up");
    app.stop().await;
}

#[tokio::test]
async fn a_message_over_the_limit_closes_the_socket_with_1009() {
    use futures::SinkExt;
    let app = TestApp::start().await;
    let mut socket = open_with_key(&app, "").await;
    assert_eq!(next(&mut socket).await["type"], "hello");
    socket.send(Message::text("x".repeat(4096))).await.unwrap();
    let (code, reason) = closed(&mut socket).await;
    assert_eq!((code, reason.as_str()), (1009, "message too big"));
    app.stop().await;
}
