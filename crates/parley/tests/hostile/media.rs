//! WebSockets (README, "Connections"): oversized frames on `/twilio/media` before and
//! after the stream authenticates, and on `/api/v1/events` after its handshake
//! authenticated; a burst of media streams that never authenticate; live-events
//! handshakes without credentials.
use crate::node::{Node, MEDIA_MAX_UNAUTHENTICATED, MEDIA_START_TIMEOUT, TWILIO_AUTH_TOKEN};
use crate::Tally;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

const WAIT: Duration = Duration::from_secs(20);
/// Streams in the burst beyond `http.media_max_unauthenticated`.
const OVER_THE_CAP: usize = 16;
const UNAUTHENTICATED_EVENTS: usize = 32;

/// Opens `path` as a WebSocket over a raw socket, so frames can be written by hand.
async fn raw_socket(node: &Node, path: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(node.addr()).await.unwrap();
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: parley\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
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

/// A masked (client) text frame.
fn text_frame(text: &str) -> Vec<u8> {
    let payload = text.as_bytes();
    let mut frame = vec![0x81];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// A text frame declaring 64 MiB (the library's old limit), of which 16 KiB follows: the
/// server must refuse it from its header, not buffer the payload.
fn oversized_frame() -> Vec<u8> {
    let mut frame = vec![0x81, 0x80 | 127];
    frame.extend_from_slice(&(64u64 * 1024 * 1024).to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]);
    frame.extend(std::iter::repeat_n(b'a', 16 * 1024));
    frame
}

/// What the server sends on a raw socket: frames, up to its close frame.
struct Frames {
    buf: Vec<u8>,
}

impl Frames {
    /// The next whole frame's opcode and payload; `None` once the socket ends.
    async fn next(&mut self, tcp: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
        loop {
            if let Some((frame, used)) = parse(&self.buf) {
                self.buf.drain(..used);
                return Some(frame);
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout(WAIT, tcp.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.buf.extend_from_slice(&chunk[..n]),
                Ok(_) => return None,
                Err(_) => panic!("the server neither sent nor closed within {WAIT:?}"),
            }
        }
    }

    /// Reads until the close frame; its code (`None`: the socket ended without one).
    async fn close_code(&mut self, tcp: &mut TcpStream) -> Option<u16> {
        while let Some((opcode, payload)) = self.next(tcp).await {
            if opcode == 0x8 {
                return payload
                    .get(..2)
                    .map(|code| u16::from_be_bytes([code[0], code[1]]));
            }
        }
        None
    }
}

/// One unmasked server frame at the start of `buf`, and the bytes it took.
fn parse(buf: &[u8]) -> Option<((u8, Vec<u8>), usize)> {
    let (b0, b1) = (*buf.first()?, *buf.get(1)?);
    let (len, mut at) = match b1 & 0x7f {
        126 => (
            u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    if b1 & 0x80 != 0 {
        at += 4;
    }
    let payload = buf.get(at..at + len)?.to_vec();
    Some(((b0 & 0x0f, payload), at + len))
}

/// Before authentication: the oversized frame is the stream's first message.
async fn oversized_before_start(node: &Node) -> u16 {
    let mut tcp = raw_socket(node, "/twilio/media").await;
    // The server may close before all of it is written; that is the point.
    let _ = tcp.write_all(&oversized_frame()).await;
    let code = Frames { buf: Vec::new() }.close_code(&mut tcp).await;
    code.expect("a close frame")
}

/// The one-time stream token Parley's TwiML for `call_id` carries, fetched as Twilio
/// (signed with the sandbox token).
async fn stream_token(node: &Node, call_id: i64, sid: &str) -> String {
    let path = format!("/twilio/twiml/{call_id}");
    let params = vec![("CallSid".to_string(), sid.to_string())];
    let sig = parley_twilio::signature::sign(TWILIO_AUTH_TOKEN, &node.url(&path), &params);
    let resp = node
        .http
        .post(node.url(&path))
        .header("x-twilio-signature", sig)
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "TwiML for the decoy call");
    let xml = resp.text().await.unwrap();
    let marker = r#"name="token" value=""#;
    let start = xml
        .find(marker)
        .unwrap_or_else(|| panic!("no stream token in {xml}"))
        + marker.len();
    xml[start..start + xml[start..].find('"').unwrap()].to_string()
}

/// After authentication: a stream that presented a valid `start` (a decoy call that
/// rings unanswered, whose stream the suite opens as Twilio would) and is bridged to the
/// agent sends the oversized frame once the agent's audio flows.
async fn oversized_after_start(node: &Node) -> u16 {
    let placed = node.place_call("+15550100003").await;
    let decoy = placed["id"].as_i64().unwrap();
    let sid = placed["twilio_call_sid"]
        .as_str()
        .unwrap_or_else(|| panic!("the decoy call has no Twilio SID: {placed}"))
        .to_string();
    let token = stream_token(node, decoy, &sid).await;
    let mut tcp = raw_socket(node, "/twilio/media").await;
    let stream_sid = "MZ0123456789abcdef0123456789abcdef";
    let connected = json!({"event": "connected", "protocol": "Call", "version": "1.0.0"});
    let start = json!({"event": "start", "sequenceNumber": "1", "streamSid": stream_sid,
        "start": {"accountSid": crate::node::TWILIO_ACCOUNT_SID, "streamSid": stream_sid,
                  "callSid": sid, "tracks": ["inbound"],
                  "customParameters": {"call_id": decoy.to_string(), "token": token},
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}});
    for message in [connected, start] {
        tcp.write_all(&text_frame(&message.to_string()))
            .await
            .unwrap();
    }
    let mut frames = Frames { buf: Vec::new() };
    // The agent's greeting reaching the caller: the stream is authenticated and bridged.
    let (opcode, payload) = frames
        .next(&mut tcp)
        .await
        .expect("the authenticated stream is bridged");
    assert_eq!(
        opcode,
        0x1,
        "a media message, not {:?}",
        String::from_utf8_lossy(&payload)
    );
    let _ = tcp.write_all(&oversized_frame()).await;
    frames
        .close_code(&mut tcp)
        .await
        .expect("a close frame after authentication too")
}

/// `/api/v1/events` authenticates at the handshake; then a message over its 1 KiB limit.
async fn oversized_live_events(node: &Node) -> u16 {
    let mut request = node.ws_url("/api/v1/events").into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", node.admin).parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(Message::text("x".repeat(4096))).await.unwrap();
    tokio::time::timeout(WAIT, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                Some(Ok(Message::Close(None))) | None => panic!("closed without a code"),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("the live events socket failed: {e}"),
            }
        }
    })
    .await
    .expect("the oversized message is answered in time")
}

/// The handshake's refusal: status and JSON body (panics when it is accepted).
fn refusal(result: Result<impl Sized, WsError>) -> (u16, Value) {
    match result {
        Err(WsError::Http(response)) => {
            let body = response.body().as_deref().unwrap_or_default();
            let body = serde_json::from_slice(body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
            (response.status().as_u16(), body)
        }
        Err(e) => panic!("the handshake failed without an answer: {e}"),
        Ok(_) => panic!("the handshake was accepted"),
    }
}

/// Streams that connect and never send `start`: up to the cap they are accepted and
/// closed with 1008 at the start timeout; the rest are refused with 503.
async fn unauthenticated_burst(node: &Node, tally: &mut Tally) {
    let url = node.ws_url("/twilio/media");
    let attempts = futures::future::join_all(
        (0..MEDIA_MAX_UNAUTHENTICATED + OVER_THE_CAP)
            .map(|_| tokio_tungstenite::connect_async(url.clone())),
    )
    .await;
    let (accepted, refused): (Vec<_>, Vec<_>) = attempts.into_iter().partition(Result::is_ok);
    assert_eq!(
        (accepted.len(), refused.len()),
        (MEDIA_MAX_UNAUTHENTICATED, OVER_THE_CAP),
        "the cap admits exactly http.media_max_unauthenticated"
    );
    for attempt in refused {
        let (status, body) = refusal(attempt);
        crate::node::assert_error(
            "media over the cap",
            status,
            &body,
            (503, "service_unavailable"),
        );
        tally.add("media stream over the cap: 503 service_unavailable");
    }
    let closes = futures::future::join_all(accepted.into_iter().map(|a| async move {
        let (mut socket, _) = a.unwrap();
        let started = std::time::Instant::now();
        let frame = tokio::time::timeout(WAIT, async {
            loop {
                match socket.next().await {
                    Some(Ok(Message::Close(frame))) => return frame,
                    Some(Ok(_)) => {}
                    other => panic!("no close frame: {other:?}"),
                }
            }
        })
        .await
        .expect("an unauthenticated stream is closed in time");
        (frame, started.elapsed())
    }))
    .await;
    for (frame, waited) in closes {
        let frame = frame.expect("a close code");
        assert_eq!(u16::from(frame.code), 1008, "{frame:?}");
        assert!(frame.reason.contains("start"), "{}", frame.reason);
        assert!(
            waited >= MEDIA_START_TIMEOUT - Duration::from_millis(500),
            "closed before the start timeout: {waited:?}"
        );
        tally.add("media stream without start: close 1008 at the start timeout");
    }
    // Their places are free again.
    let again = tokio_tungstenite::connect_async(url).await;
    assert!(again.is_ok(), "a place frees up: {:?}", again.err());
}

async fn unauthenticated_live_events(node: &Node, tally: &mut Tally) {
    let url = node.ws_url("/api/v1/events");
    let attempts = futures::future::join_all(
        (0..UNAUTHENTICATED_EVENTS).map(|_| tokio_tungstenite::connect_async(url.clone())),
    )
    .await;
    for attempt in attempts {
        let (status, body) = refusal(attempt);
        crate::node::assert_error(
            "live events without a key",
            status,
            &body,
            (401, "unauthorized"),
        );
        tally.add("live events without credentials: 401 unauthorized");
    }
}

pub async fn attack(node: &Node) -> Tally {
    let mut tally = Tally::default();
    // In order: the burst fills every unauthenticated place, which the two oversized
    // media frames each need for a moment.
    assert_eq!(oversized_before_start(node).await, 1009, "before start");
    tally.add("media frame over 4 KiB before start: close 1009");
    assert_eq!(oversized_after_start(node).await, 1009, "after start");
    tally.add("media frame over 4 KiB after start: close 1009");
    assert_eq!(oversized_live_events(node).await, 1009, "live events");
    tally.add("live-events message over 1 KiB: close 1009");
    let mut events = Tally::default();
    futures::join!(
        unauthenticated_burst(node, &mut tally),
        unauthenticated_live_events(node, &mut events),
    );
    tally.merge(events);
    tally
}
