//! The simulated ElevenLabs agent: signed URLs over HTTP and the conversation WebSocket
//! on one listener, as elevenlabs.md F.1-F.5 describe them.
//!
//! Per conversation: `conversation_initiation_metadata` (`ulaw_8000` both ways) and a
//! short greeting once the client data arrives; an `audio` echo of every
//! `user_audio_chunk`, with the time it was held stamped in; a `ping` every 2 s (the
//! event loop's clock asks for them) whose `pong` is checked; and one `interruption`,
//! sent right after echo number [`INTERRUPT_AFTER_ECHOES`] with that echo's event id.
//! Audio event ids only grow, so every later echo has a higher id than the interruption
//! and a bridge that drops interrupted audio (ids <= the interruption's) drops none of
//! the measured frames.
use super::conn::Conn;
use super::frame::{self, Stamp};
use super::http::{self, Head, MAX_HEAD};
use super::ws::{self, Frames, Side};
use super::{Ctx, MAX_MESSAGE};
use std::io;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Greeting audio frames sent after the metadata (60 ms).
const GREETING_FRAMES: u64 = 3;
/// The interruption follows this many echoes (half a second into streaming).
pub const INTERRUPT_AFTER_ECHOES: u64 = 25;
const CONVERSATION_PATH: &str = "/v1/convai/conversation";
const SIGNED_URL_PATHS: [&str; 2] = [
    "/v1/convai/conversation/get-signed-url",
    "/v1/convai/conversation/get_signed_url",
];

/// Why an agent connection is closed.
#[derive(Debug, thiserror::Error)]
pub enum AgentEnd {
    #[error("closed")]
    Closed,
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("WebSocket: {0}")]
    Frame(#[from] ws::FrameError),
    #[error("bad request")]
    BadRequest,
}

/// What a connection became after a read.
#[derive(Debug, PartialEq, Eq)]
pub enum Became {
    Same,
    /// It upgraded to a conversation, which now needs pinging.
    Conversation,
}

pub struct AgentConn {
    pub conn: Conn,
    conversation: Option<Conversation>,
}

struct Conversation {
    id: u64,
    /// Audio and interruption ids share this counter, as the real service's do.
    next_event: u64,
    echoes: u64,
    next_ping: u64,
    awaiting_pong: Option<u64>,
}

impl AgentConn {
    pub fn new(conn: Conn) -> AgentConn {
        AgentConn {
            conn,
            conversation: None,
        }
    }

    /// Handles what arrived at the start of `buf`; returns how much of it was used.
    /// `conversations` counts signed URLs handed out, which number the conversations.
    pub fn on_data(
        &mut self,
        buf: &mut [u8],
        ctx: &mut Ctx,
        conversations: &mut u64,
    ) -> Result<(usize, Became), AgentEnd> {
        let mut used = 0;
        let mut became = Became::Same;
        while self.conversation.is_none() {
            let Some(head_len) = http::head_len(&buf[used..]) else {
                if buf.len() - used > MAX_HEAD {
                    return Err(AgentEnd::BadRequest);
                }
                return Ok((used, became));
            };
            let head_bytes = &buf[used..used + head_len];
            used += head_len;
            let head = std::str::from_utf8(head_bytes)
                .ok()
                .and_then(Head::parse)
                .ok_or(AgentEnd::BadRequest)?;
            self.on_request(&head, conversations)?;
            if self.conversation.is_some() {
                became = Became::Conversation;
            }
        }
        let mut frames = Frames::new(&mut buf[used..], MAX_MESSAGE);
        while let Some(frame) = frames.next() {
            let frame = frame?;
            match frame.opcode {
                ws::OP_TEXT => {
                    let received_ns = ctx.clock.now_ns();
                    if let Ok(text) = std::str::from_utf8(frame.payload) {
                        self.on_text(text, received_ns, ctx)?;
                    }
                }
                ws::OP_PING => {
                    ws::begin(ctx.out);
                    ctx.out.extend_from_slice(frame.payload);
                    self.conn.send_frame(ctx.out, ws::OP_PONG, Side::Server)?;
                }
                ws::OP_CLOSE => {
                    ws::begin(ctx.out);
                    ctx.out
                        .extend_from_slice(frame.payload.get(..2).unwrap_or_default());
                    let _ = self.conn.send_frame(ctx.out, ws::OP_CLOSE, Side::Server);
                    return Err(AgentEnd::Closed);
                }
                _ => {}
            }
        }
        Ok((used + frames.consumed(), became))
    }

    /// Answers one HTTP request: a signed URL, or the conversation upgrade.
    fn on_request(&mut self, head: &Head, conversations: &mut u64) -> Result<(), AgentEnd> {
        if head.method == "GET" && SIGNED_URL_PATHS.contains(&head.path) {
            let (Some(_), Some(agent_id)) = (head.api_key, head.query_param("agent_id")) else {
                let denied = http::response("401 Unauthorized", "text/plain", "", true);
                self.conn.send_raw(denied.as_bytes())?;
                return Err(AgentEnd::BadRequest);
            };
            *conversations += 1;
            let n = *conversations;
            let host = head.host.unwrap_or("127.0.0.1");
            let body = format!(
                r#"{{"signed_url":"ws://{host}{CONVERSATION_PATH}?agent_id={agent_id}&conversation_signature=bench{n}"}}"#
            );
            let answer = http::response("200 OK", "application/json", &body, false);
            self.conn.send_raw(answer.as_bytes())?;
            return Ok(());
        }
        if head.method == "GET" && head.path == CONVERSATION_PATH {
            let Some(key) = head.websocket_key else {
                return Err(AgentEnd::BadRequest);
            };
            let accept = derive_accept_key(key.as_bytes());
            let upgrade = format!(
                "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n"
            );
            self.conn.send_raw(upgrade.as_bytes())?;
            let id = head
                .query_param("conversation_signature")
                .and_then(|s| s.strip_prefix("bench")?.parse().ok())
                .unwrap_or(0);
            self.conversation = Some(Conversation {
                id,
                next_event: 1,
                echoes: 0,
                next_ping: 1,
                awaiting_pong: None,
            });
            return Ok(());
        }
        // Anything else, such as a hang-up for the Twilio REST API: nothing here needs it.
        let missing = http::response("404 Not Found", "text/plain", "", true);
        self.conn.send_raw(missing.as_bytes())?;
        Err(AgentEnd::BadRequest)
    }

    fn on_text(&mut self, text: &str, received_ns: u64, ctx: &mut Ctx) -> Result<(), AgentEnd> {
        let Some(c) = self.conversation.as_mut() else {
            return Ok(());
        };
        if let Some(chunk) = frame::str_field(text, "user_audio_chunk") {
            // Not a frame of this run: nothing to measure, nothing to echo.
            let Some(stamp) = Stamp::decode(chunk) else {
                return Ok(());
            };
            let event_id = c.next_event;
            c.next_event += 1;
            ws::begin(ctx.out);
            let hold_ns = ctx.clock.now_ns() - received_ns;
            frame::agent_echo(ctx.out, chunk, stamp, hold_ns, event_id);
            self.conn.send_frame(ctx.out, ws::OP_TEXT, Side::Server)?;
            c.echoes += 1;
            if c.echoes == INTERRUPT_AFTER_ECHOES {
                ws::begin(ctx.out);
                frame::agent_interruption(ctx.out, event_id);
                self.conn.send_frame(ctx.out, ws::OP_TEXT, Side::Server)?;
                ctx.stats.interruptions_sent += 1;
            }
            return Ok(());
        }
        match frame::str_field(text, "type") {
            Some("conversation_initiation_client_data") => {
                ws::begin(ctx.out);
                frame::agent_metadata(ctx.out, c.id);
                self.conn.send_frame(ctx.out, ws::OP_TEXT, Side::Server)?;
                for _ in 0..GREETING_FRAMES {
                    let event_id = c.next_event;
                    c.next_event += 1;
                    ws::begin(ctx.out);
                    frame::agent_greeting(ctx.out, event_id);
                    self.conn.send_frame(ctx.out, ws::OP_TEXT, Side::Server)?;
                }
            }
            Some("pong")
                if c.awaiting_pong.is_some()
                    && frame::u64_field(text, "event_id") == c.awaiting_pong =>
            {
                c.awaiting_pong = None;
                ctx.stats.pongs_ok += 1;
            }
            _ => {}
        }
        Ok(())
    }

    /// Sends the next ping of a conversation.
    pub fn ping(&mut self, ctx: &mut Ctx) -> Result<(), AgentEnd> {
        let Some(c) = self.conversation.as_mut() else {
            return Ok(());
        };
        let id = c.next_ping;
        c.next_ping += 1;
        // A ping still unanswered when the next is due had its 2 s; one still open when
        // the conversation closes did not, and is not counted.
        let missed = c.awaiting_pong.replace(id).is_some();
        ctx.stats.pings_sent += 1;
        ctx.stats.pongs_missed += u64::from(missed);
        ws::begin(ctx.out);
        frame::agent_ping(ctx.out, id);
        self.conn.send_frame(ctx.out, ws::OP_TEXT, Side::Server)?;
        Ok(())
    }
}
