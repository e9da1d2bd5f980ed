//! Connection hygiene over raw sockets: slow and idle HTTP clients are cut off, the
//! connection cap refuses what is over it, and media streams are bounded before they
//! authenticate (message size, how many, how long) without touching live calls.
use crate::calls_e2e::{place, wait_for};
use crate::harness::{Db, TestApp};
use futures::{SinkExt, StreamExt};
use parley_engine::events::LiveEvent;
use parley_engine::settings::Settings;
use reqwest::Method;
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Upper bound for anything that should happen "at once" or "after a short timeout".
const WAIT: Duration = Duration::from_secs(20);

async fn app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    TestApp::start_on(Db::Sqlite, |s| {
        s.dialer.enabled = false;
        tweak(s);
    })
    .await
}

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Reads until the peer closes (EOF or reset); returns what arrived.
async fn read_until_closed(tcp: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(WAIT, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server closes the connection in time");
    seen
}

/// Sends one `GET /healthz` on a kept-alive connection and reads its whole response.
pub async fn healthz(tcp: &mut TcpStream) -> bool {
    if tcp
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: parley\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(WAIT, tcp.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
            _ => return false,
        }
        let text = String::from_utf8_lossy(&seen);
        if text.starts_with("HTTP/1.1 200") && text.ends_with("\r\n\r\nok") {
            return true;
        }
    }
}

#[tokio::test]
async fn a_slow_header_client_is_disconnected_within_the_header_timeout() {
    let app = app_with(|s| {
        s.http.header_read_timeout_secs = 0.5;
        s.http.keep_alive_timeout_secs = 60.0;
    })
    .await;
    let mut tcp = TcpStream::connect(addr(&app)).await.unwrap();
    let started = Instant::now();
    let (mut reader, mut writer) = tcp.split();
    // A head that never ends, one byte at a time: each byte must not buy more time.
    let trickle = async {
        let head = b"GET /healthz HTTP/1.1\r\nHost: parley\r\nX-Slow: ";
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        for byte in head.iter().chain(std::iter::repeat(&b'a')) {
            tick.tick().await;
            if writer.write_all(&[*byte]).await.is_err() {
                return std::future::pending().await;
            }
        }
    };
    let mut buf = [0u8; 256];
    let read = tokio::select! {
        read = reader.read(&mut buf) => read,
        () = trickle => unreachable!(),
        () = tokio::time::sleep(WAIT) => panic!("still connected after {WAIT:?}"),
    };
    let elapsed = started.elapsed();
    assert!(matches!(read, Ok(0) | Err(_)), "no response, just a close");
    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(10),
        "closed after {elapsed:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn idle_connections_last_the_keep_alive_limit_and_a_new_head_the_header_limit() {
    let app = app_with(|s| {
        s.http.header_read_timeout_secs = 0.3;
        s.http.keep_alive_timeout_secs = 3.0;
    })
    .await;
    // Idle after a response: kept for the keep-alive limit, far beyond the header limit.
    let mut idle = TcpStream::connect(addr(&app)).await.unwrap();
    assert!(healthz(&mut idle).await);
    let idle_since = Instant::now();
    // Another: the first bytes of a next request restart the short header clock.
    let mut partial = TcpStream::connect(addr(&app)).await.unwrap();
    assert!(healthz(&mut partial).await);
    let partial_since = Instant::now();
    partial.write_all(b"GET /hea").await.unwrap();

    assert!(read_until_closed(&mut partial).await.is_empty());
    let partial_lasted = partial_since.elapsed();
    assert!(
        partial_lasted < Duration::from_millis(2500),
        "a started head got the idle limit: {partial_lasted:?}"
    );
    assert!(read_until_closed(&mut idle).await.is_empty());
    let idle_lasted = idle_since.elapsed();
    assert!(
        idle_lasted >= Duration::from_millis(2900),
        "an idle connection was cut early: {idle_lasted:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_connection_over_the_cap_is_not_served_until_a_slot_frees() {
    let app = app_with(|s| {
        s.http.max_connections = 2;
        s.http.keep_alive_timeout_secs = 60.0;
    })
    .await;
    let mut first = TcpStream::connect(addr(&app)).await.unwrap();
    let mut second = TcpStream::connect(addr(&app)).await.unwrap();
    assert!(healthz(&mut first).await);
    assert!(healthz(&mut second).await);

    let mut over = TcpStream::connect(addr(&app)).await.unwrap();
    assert!(!healthz(&mut over).await, "a third connection was served");
    // The two held connections are still served.
    assert!(healthz(&mut first).await);

    drop(first);
    // The server frees the slot once it sees the close; new connections then get in.
    tokio::time::timeout(WAIT, async {
        loop {
            let mut next = TcpStream::connect(addr(&app)).await.unwrap();
            if healthz(&mut next).await {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("served again once a slot is free");
    drop(second);
    app.stop().await;
}

#[tokio::test]
async fn a_stalled_request_body_times_out() {
    let app = app_with(|s| s.http.request_body_timeout_secs = 0.5).await;
    let mut tcp = TcpStream::connect(addr(&app)).await.unwrap();
    let started = Instant::now();
    tcp.write_all(
        b"POST /api/v1/auth/sign-in HTTP/1.1\r\nHost: parley\r\n\
          Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
    )
    .await
    .unwrap();
    let answer = String::from_utf8_lossy(&read_until_closed(&mut tcp).await).into_owned();
    let elapsed = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"code\":\"bad_request\""), "{answer}");
    assert!(elapsed >= Duration::from_millis(450), "{elapsed:?}");
    app.stop().await;
}

/// Opens `/twilio/media` over a raw socket, so the test can write frames by hand.
async fn raw_media_socket(app: &TestApp) -> TcpStream {
    let mut tcp = TcpStream::connect(addr(app)).await.unwrap();
    tcp.write_all(
        b"GET /twilio/media HTTP/1.1\r\nHost: parley\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    tcp
}

#[tokio::test]
async fn an_oversized_frame_before_authentication_closes_the_socket_unread() {
    let app = app_with(|_| {}).await;
    let mut tcp = raw_media_socket(&app).await;
    // A masked text frame declaring 64 MiB (the library's old limit), of which only
    // 16 KiB is sent: the server must refuse on the header, not buffer the payload.
    let declared: u64 = 64 * 1024 * 1024;
    let mut frame = vec![0x81, 0x80 | 127];
    frame.extend_from_slice(&declared.to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]);
    frame.extend(std::iter::repeat_n(b'a', 16 * 1024));
    // The server may close before all of it is written; that is the point.
    let _ = tcp.write_all(&frame).await;
    let answer = read_until_closed(&mut tcp).await;
    assert!(answer.len() >= 4, "a close frame, got {answer:?}");
    assert_eq!(answer[0], 0x88, "a close frame first: {answer:?}");
    let code = u16::from_be_bytes([answer[2], answer[3]]);
    assert_eq!(code, 1009, "closed as too big");
    app.stop().await;
}

fn media_url(app: &TestApp) -> String {
    format!("{}/twilio/media", app.base.replacen("http", "ws", 1))
}

#[tokio::test]
async fn a_stream_without_a_start_message_is_closed_as_a_policy_violation() {
    let app = app_with(|s| s.http.media_start_timeout_secs = 0.3).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(media_url(&app))
        .await
        .unwrap();
    socket
        .send(Message::text(
            r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#,
        ))
        .await
        .unwrap();
    let close = tokio::time::timeout(WAIT, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => {}
                other => panic!("no close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("closed in time")
    .expect("with a code");
    assert_eq!(close.code, CloseCode::Policy);
    assert!(close.reason.contains("start"), "{}", close.reason);
    app.stop().await;
}

#[tokio::test]
async fn unauthenticated_streams_over_the_cap_are_refused_while_a_live_call_completes() {
    let app = TestApp::start_on(Db::Sqlite, |s| {
        s.sandbox.speed = 5.0;
        s.calls.post_call_wait_secs = 30;
        s.http.media_max_unauthenticated = 3;
        s.http.media_start_timeout_secs = 60.0;
    })
    .await;
    let mut events = app.engine.events.subscribe();
    let id = place(&app, serde_json::json!({"to": "+15550100001"})).await;
    // The call's own stream has authenticated once its conversation is transcribed.
    wait_for(&mut events, id, |e| {
        matches!(e, LiveEvent::Transcript { .. })
    })
    .await;

    let mut waiting = Vec::new();
    for _ in 0..3 {
        let (socket, _) = tokio_tungstenite::connect_async(media_url(&app))
            .await
            .expect("under the cap, the handshake succeeds");
        waiting.push(socket);
    }
    match tokio_tungstenite::connect_async(media_url(&app)).await {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status().as_u16(), 503);
            let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
            assert_eq!(body["error"]["code"], "service_unavailable", "{body}");
        }
        other => panic!("the stream over the cap was not refused: {other:?}"),
    }

    let ended = wait_for(&mut events, id, |e| {
        matches!(e, LiveEvent::CallEnded { .. })
    })
    .await;
    let LiveEvent::CallEnded { status, .. } = ended else {
        unreachable!()
    };
    assert_eq!(status, parley_domain::call::CallStatus::Completed);
    let (_, call) = app
        .call(Method::GET, &format!("/api/v1/calls/{id}"), None)
        .await;
    assert!(
        crate::calls_e2e::user_lines(&call).len() >= 2,
        "the callee was heard: {call}"
    );

    // Streams that give up their place make room again.
    drop(waiting);
    tokio::time::timeout(WAIT, async {
        loop {
            if tokio_tungstenite::connect_async(media_url(&app))
                .await
                .is_ok()
            {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("a place frees up once the waiting streams close");
    app.stop().await;
}

#[tokio::test]
async fn an_oversized_frame_after_authentication_is_refused_with_1009_too() {
    use crate::calls_failures::{open_stream, stored_call, stream_token};
    let app = crate::calls_e2e::sandbox().await;
    let call_id = stored_call(&app, "CA0123456789abcdef0123456789abcdea").await;
    let token = stream_token(&app, call_id).await;
    let mut stream = open_stream(&app, call_id, &token).await;
    // The agent's greeting reaching the caller: authenticated and bridged.
    let first = tokio::time::timeout(WAIT, stream.next()).await.unwrap();
    assert!(matches!(first, Some(Ok(Message::Text(_)))), "{first:?}");
    let _ = stream.send(Message::text("a".repeat(8 * 1024))).await;
    let close = tokio::time::timeout(WAIT, async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => {}
                other => panic!("no close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("closed in time")
    .expect("with a code");
    assert_eq!(close.code, CloseCode::Size, "{close:?}");
    app.stop().await;
}
