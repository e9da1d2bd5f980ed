//! The live events WebSocket: authentication, origin check, a sandbox call's events in
//! order, filters.
use crate::calls_e2e::{place, sandbox};
use crate::harness::{TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
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
