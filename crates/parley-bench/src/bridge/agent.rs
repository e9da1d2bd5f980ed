//! The simulated ElevenLabs agent: signed URLs over HTTP and the conversation WebSocket
//! on one listener, as elevenlabs.md F.1-F.5 describe them.
//!
//! Per conversation: `conversation_initiation_metadata` (`ulaw_8000` both ways) and a
//! short greeting once the client data arrives; an `audio` echo of every
//! `user_audio_chunk`, with the time it was held stamped in; a `ping` every 2 s whose
//! `pong` is checked; and one `interruption`, sent right after echo number
//! [`INTERRUPT_AFTER_ECHOES`] with that echo's event id. Audio event ids only grow, so
//! every later echo has a higher id than the interruption and a bridge that drops
//! interrupted audio (ids <= the interruption's) drops none of the measured frames.
use super::frame::{self, Stamp};
use super::shared::{socket_config, Shared};
use bytes::BytesMut;
use futures::StreamExt;
use std::cell::Cell;
use std::rc::Rc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Greeting audio frames sent after the metadata (60 ms).
const GREETING_FRAMES: u64 = 3;
/// The interruption follows this many echoes (half a second into streaming).
pub const INTERRUPT_AFTER_ECHOES: u64 = 25;
/// A request head larger than this is not one of ours.
const MAX_HEAD: usize = 16 * 1024;
const CONVERSATION_PATH: &str = "/v1/convai/conversation";
const SIGNED_URL_PATHS: [&str; 2] = [
    "/v1/convai/conversation/get-signed-url",
    "/v1/convai/conversation/get_signed_url",
];

/// Accepts connections until the run ends (the task is dropped with the runtime).
pub async fn serve(listener: TcpListener, shared: Rc<Shared>) {
    let conversations = Rc::new(Cell::new(0u64));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (shared, conversations) = (shared.clone(), conversations.clone());
        tokio::task::spawn_local(async move {
            if let Err(e) = connection(stream, &shared, &conversations).await {
                eprintln!("bench bridge: simulated agent connection failed: {e}");
            }
        });
    }
}

/// The parts of an HTTP request head the simulator looks at.
#[derive(Debug, Default, PartialEq, Eq)]
struct Head<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    host: Option<&'a str>,
    websocket_key: Option<&'a str>,
    api_key: Option<&'a str>,
}

impl<'a> Head<'a> {
    fn parse(head: &'a str) -> Option<Head<'a>> {
        let mut lines = head.split("\r\n");
        let mut request = lines.next()?.split(' ');
        let method = request.next()?;
        let target = request.next()?;
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut parsed = Head {
            method,
            path,
            query,
            ..Head::default()
        };
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("host") {
                parsed.host = Some(value);
            } else if name.eq_ignore_ascii_case("sec-websocket-key") {
                parsed.websocket_key = Some(value);
            } else if name.eq_ignore_ascii_case("xi-api-key") {
                parsed.api_key = Some(value);
            }
        }
        Some(parsed)
    }

    fn query_param(&self, name: &str) -> Option<&'a str> {
        self.query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    }
}

/// Serves HTTP requests on one connection until it becomes a conversation or closes.
async fn connection(
    mut stream: TcpStream,
    shared: &Rc<Shared>,
    conversations: &Cell<u64>,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let local = stream.local_addr()?;
    let mut buf = BytesMut::with_capacity(2048);
    loop {
        let head_len = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if buf.len() > MAX_HEAD || stream.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        };
        let head_bytes = buf.split_to(head_len);
        let Some(head) = std::str::from_utf8(&head_bytes).ok().and_then(Head::parse) else {
            return respond(&mut stream, "400 Bad Request", "").await;
        };
        if head.method == "GET" && SIGNED_URL_PATHS.contains(&head.path) {
            let (Some(_), Some(agent_id)) = (head.api_key, head.query_param("agent_id")) else {
                return respond(&mut stream, "401 Unauthorized", "").await;
            };
            let n = conversations.get() + 1;
            conversations.set(n);
            let host = head.host.map_or_else(|| local.to_string(), str::to_owned);
            let body = format!(
                r#"{{"signed_url":"ws://{host}{CONVERSATION_PATH}?agent_id={agent_id}&conversation_signature=bench{n}"}}"#
            );
            stream
                .write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                )
                .await?;
            continue;
        }
        if head.method == "GET" && head.path == CONVERSATION_PATH {
            let Some(key) = head.websocket_key else {
                return respond(&mut stream, "400 Bad Request", "").await;
            };
            let accept = derive_accept_key(key.as_bytes());
            stream
                .write_all(
                    format!(
                        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n"
                    )
                    .as_bytes(),
                )
                .await?;
            let conversation = head
                .query_param("conversation_signature")
                .and_then(|s| s.strip_prefix("bench")?.parse().ok())
                .unwrap_or(0);
            let ws = WebSocketStream::from_partially_read(
                stream,
                buf.to_vec(),
                Role::Server,
                Some(socket_config()),
            )
            .await;
            Conversation::new(shared, conversation).run(ws).await;
            return Ok(());
        }
        // Anything else, such as a hang-up for the Twilio REST API: nothing here needs it.
        return respond(&mut stream, "404 Not Found", "").await;
    }
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await
}

struct Conversation<'a> {
    shared: &'a Shared,
    id: u64,
    /// Audio and interruption ids share this counter, as the real service's do.
    next_event: u64,
    echoes: u64,
    next_ping: u64,
    awaiting_pong: Option<u64>,
}

impl<'a> Conversation<'a> {
    fn new(shared: &'a Shared, id: u64) -> Conversation<'a> {
        Conversation {
            shared,
            id,
            next_event: 1,
            echoes: 0,
            next_ping: 1,
            awaiting_pong: None,
        }
    }

    async fn run(mut self, mut ws: WebSocketStream<TcpStream>) {
        let mut pings = self.shared.ping_ticks.subscribe();
        loop {
            let sent = tokio::select! {
                message = ws.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        let received_ns = self.shared.now_ns();
                        self.on_message(&mut ws, text.as_str(), received_ns).await
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => Ok(()),
                },
                ticked = pings.changed() => match ticked {
                    Ok(()) => self.ping(&mut ws).await,
                    Err(_) => break,
                },
            };
            if sent.is_err() {
                break;
            }
        }
    }

    async fn on_message(
        &mut self,
        ws: &mut WebSocketStream<TcpStream>,
        text: &str,
        received_ns: u64,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        let shared = self.shared;
        if let Some(chunk) = frame::str_field(text, "user_audio_chunk") {
            // Not a frame of this run: nothing to measure, nothing to echo.
            let Some(stamp) = Stamp::decode(chunk) else {
                return Ok(());
            };
            let event_id = self.next_event;
            self.next_event += 1;
            shared
                .send(ws, |out| {
                    let hold_ns = shared.now_ns() - received_ns;
                    frame::agent_echo(out, chunk, stamp, hold_ns, event_id);
                })
                .await?;
            self.echoes += 1;
            if self.echoes == INTERRUPT_AFTER_ECHOES {
                shared
                    .send(ws, |out| frame::agent_interruption(out, event_id))
                    .await?;
                shared.stats.borrow_mut().interruptions_sent += 1;
            }
            return Ok(());
        }
        match frame::str_field(text, "type") {
            Some("conversation_initiation_client_data") => {
                shared
                    .send(ws, |out| frame::agent_metadata(out, self.id))
                    .await?;
                for _ in 0..GREETING_FRAMES {
                    let event_id = self.next_event;
                    self.next_event += 1;
                    shared
                        .send(ws, |out| frame::agent_greeting(out, event_id))
                        .await?;
                }
            }
            Some("pong")
                if self.awaiting_pong.is_some()
                    && frame::u64_field(text, "event_id") == self.awaiting_pong =>
            {
                self.awaiting_pong = None;
                shared.stats.borrow_mut().pongs_ok += 1;
            }
            _ => {}
        }
        Ok(())
    }

    async fn ping(
        &mut self,
        ws: &mut WebSocketStream<TcpStream>,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        let id = self.next_ping;
        self.next_ping += 1;
        // A ping still unanswered when the next is due had its 2 s; one still open when
        // the conversation closes did not, and is not counted.
        let missed = self.awaiting_pong.replace(id).is_some();
        {
            let mut stats = self.shared.stats.borrow_mut();
            stats.pings_sent += 1;
            stats.pongs_missed += u64::from(missed);
        }
        self.shared.send(ws, |out| frame::agent_ping(out, id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heads_are_read() {
        let head = Head::parse(
            "GET /v1/convai/conversation/get-signed-url?agent_id=a1&x=2 HTTP/1.1\r\nHost: 127.0.0.1:9\r\nXI-API-KEY: k\r\n\r\n",
        )
        .unwrap();
        assert_eq!(head.method, "GET");
        assert_eq!(head.path, SIGNED_URL_PATHS[0]);
        assert_eq!(head.query_param("agent_id"), Some("a1"));
        assert_eq!(head.query_param("x"), Some("2"));
        assert_eq!(head.query_param("agent"), None);
        assert_eq!(head.host, Some("127.0.0.1:9"));
        assert_eq!(head.api_key, Some("k"));
        assert_eq!(head.websocket_key, None);
    }
}
