//! Slow clients on the HTTP server (README, "Connections"): request heads that never end
//! are cut off at the header timeout without an answer, and stalled bodies get a 400.
use crate::node::{Node, HEADER_READ_TIMEOUT, REQUEST_BODY_TIMEOUT};
use crate::Tally;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sockets in the flood: many, and still well under `http.max_connections` (1024), so
/// the simulated carrier's callbacks for the live calls still get in.
const FLOOD: usize = 200;
const STALLED_BODIES: usize = 10;
/// Beyond its timeout, how late a close may come on a loaded CI machine.
const SLACK: Duration = Duration::from_secs(8);

/// One socket trickling a head that never ends, a byte every 200 ms (each byte must not
/// buy more time); returns how long the server kept it, having answered nothing.
async fn slow_head(addr: String) -> Duration {
    let mut tcp = TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    let (mut reader, mut writer) = tcp.split();
    let trickle = async {
        let head = b"GET /healthz HTTP/1.1\r\nHost: parley\r\nX-Slow: ";
        let mut tick = tokio::time::interval(Duration::from_millis(200));
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
        () = tokio::time::sleep(HEADER_READ_TIMEOUT + SLACK) => panic!("a slow head was held past its timeout"),
    };
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "a slow head got an answer: {:?}",
        String::from_utf8_lossy(&buf)
    );
    started.elapsed()
}

/// A request whose body stops after a few bytes: the answer, read until the close.
async fn stalled_body(addr: String) -> String {
    let mut tcp = TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(
        b"POST /api/v1/auth/sign-in HTTP/1.1\r\nHost: parley\r\n\
          Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(REQUEST_BODY_TIMEOUT + SLACK, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("a stalled body is answered and closed in time");
    String::from_utf8_lossy(&seen).into_owned()
}

pub async fn attack(node: &Node) -> Tally {
    let mut tally = Tally::default();
    let (held, answers) = futures::join!(
        futures::future::join_all((0..FLOOD).map(|_| slow_head(node.addr()))),
        futures::future::join_all((0..STALLED_BODIES).map(|_| stalled_body(node.addr()))),
    );
    let shortest = held.iter().min().unwrap();
    let longest = held.iter().max().unwrap();
    assert!(
        *shortest >= HEADER_READ_TIMEOUT - Duration::from_millis(100),
        "a slow head was cut before its timeout: {shortest:?}"
    );
    for _ in &held {
        tally.add("slow head: closed unanswered at the header timeout");
    }
    eprintln!(
        "hostile: {FLOOD} slow heads held {:.2}-{:.2} s (http.header_read_timeout_secs = {})",
        shortest.as_secs_f64(),
        longest.as_secs_f64(),
        HEADER_READ_TIMEOUT.as_secs_f64()
    );
    for answer in answers {
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        let body: serde_json::Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("a stalled body's answer is not JSON ({e}): {answer}"));
        crate::node::assert_error("stalled body", 400, &body, (400, "bad_request"));
        tally.add("stalled body: 400 bad_request");
    }
    tally
}
