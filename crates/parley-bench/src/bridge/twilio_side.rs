//! One call as Twilio plays it: `connected`, `start` with the call's credentials, a
//! frame every 20 ms while the run streams (the event loop's clock asks for them), then
//! `stop`. It counts what comes back.
use super::conn::Conn;
use super::frame::{self, Stamp, StreamIds};
use super::http;
use super::ws::{self, Frames, Side};
use super::{Ctx, MAX_MESSAGE};
use mio::net::TcpStream;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

/// What one stream presents in `start.customParameters`.
#[derive(Debug, Clone)]
pub struct StreamAuth {
    pub call_id: String,
    pub token: String,
}

/// Where the bridge's media WebSocket is.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// `host:port`, for the `Host` header.
    pub host: String,
    /// Path and query of the upgrade request.
    pub path: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("cannot connect: {0}")]
    Connect(io::Error),
    #[error("socket: {0}")]
    Io(#[from] io::Error),
    #[error("the bridge refused the WebSocket upgrade: {0}")]
    Upgrade(String),
    #[error("WebSocket: {0}")]
    Frame(#[from] ws::FrameError),
    #[error("fragmented messages are not expected from a bridge")]
    Fragmented,
    #[error("the bridge closed the stream before the end of the run")]
    ClosedEarly,
}

/// How a call's connection ended.
#[derive(Debug)]
pub enum CallEnd {
    /// Closed after `stop`, as every call should end.
    Finished,
    Failed(CallError),
}

impl From<CallError> for CallEnd {
    fn from(e: CallError) -> CallEnd {
        CallEnd::Failed(e)
    }
}

impl From<io::Error> for CallEnd {
    fn from(e: io::Error) -> CallEnd {
        CallEnd::Failed(e.into())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Connecting,
    /// The upgrade request is sent; waiting for `101`.
    Upgrading,
    Open,
    /// `stop` and a close frame are sent; waiting for the bridge to close.
    Stopping,
}

pub struct Call {
    pub conn: Conn,
    ids: StreamIds,
    auth: StreamAuth,
    side: Side,
    state: State,
    opened: Instant,
    established: bool,
    frames_sent: u64,
    last_seq: u64,
}

impl Call {
    /// Starts connecting call `index` to the bridge.
    pub fn connect(index: usize, auth: StreamAuth, target: &Target) -> Result<Call, CallError> {
        let stream = TcpStream::connect(target.addr).map_err(CallError::Connect)?;
        stream.set_nodelay(true).map_err(CallError::Connect)?;
        Ok(Call {
            conn: Conn::new(stream),
            ids: StreamIds::for_call(index),
            auth,
            // Any key serves; distinct per call like a real client's.
            side: Side::Client {
                mask: (index as u32 ^ 0x5a5a_a5a5).to_le_bytes(),
            },
            state: State::Connecting,
            opened: Instant::now(),
            established: false,
            frames_sent: 0,
            last_seq: 0,
        })
    }

    /// The socket can take data: the connection is made, or pending output can go.
    pub fn on_writable(&mut self, target: &Target) -> Result<(), CallEnd> {
        if self.state != State::Connecting {
            return Ok(self.conn.flush()?);
        }
        if let Some(e) = self.conn.stream.take_error()? {
            return Err(CallError::Connect(e).into());
        }
        match self.conn.stream.peer_addr() {
            Ok(_) => {}
            // Not connected yet: another writable event will come.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
            Err(e) => return Err(CallError::Connect(e).into()),
        }
        let request = http::upgrade_request(&target.host, &target.path, &self.ids.stream_sid);
        self.conn.send_raw(request.as_bytes())?;
        self.state = State::Upgrading;
        Ok(())
    }

    /// Handles what arrived at the start of `buf`; returns how much of it was used (the
    /// rest is an incomplete message).
    pub fn on_data(&mut self, buf: &mut [u8], ctx: &mut Ctx) -> Result<usize, CallEnd> {
        let mut used = 0;
        if self.state == State::Upgrading {
            let Some(head_len) = http::head_len(buf) else {
                if buf.len() > http::MAX_HEAD {
                    return Err(CallError::Upgrade("an endless response head".into()).into());
                }
                return Ok(0);
            };
            let head = std::str::from_utf8(&buf[..head_len]).unwrap_or_default();
            if !http::is_switching_protocols(head) {
                let status = head.lines().next().unwrap_or_default().to_owned();
                return Err(CallError::Upgrade(status).into());
            }
            used = head_len;
            self.state = State::Open;
            ws::begin(ctx.out);
            frame::twilio_connected(ctx.out);
            self.conn.send_frame(ctx.out, ws::OP_TEXT, self.side)?;
            ws::begin(ctx.out);
            frame::twilio_start(ctx.out, &self.ids, &self.auth.call_id, &self.auth.token);
            self.conn.send_frame(ctx.out, ws::OP_TEXT, self.side)?;
        }
        let mut frames = Frames::new(&mut buf[used..], MAX_MESSAGE);
        while let Some(frame) = frames.next() {
            let frame = frame.map_err(CallError::from)?;
            if !frame.fin || frame.opcode == ws::OP_CONTINUATION {
                return Err(CallError::Fragmented.into());
            }
            match frame.opcode {
                ws::OP_TEXT => {
                    if let Ok(text) = std::str::from_utf8(frame.payload) {
                        on_text(self, text, ctx);
                    }
                }
                ws::OP_PING => {
                    ws::begin(ctx.out);
                    ctx.out.extend_from_slice(frame.payload);
                    self.conn.send_frame(ctx.out, ws::OP_PONG, self.side)?;
                }
                ws::OP_CLOSE => {
                    return match self.state {
                        State::Stopping => Err(CallEnd::Finished),
                        _ => Err(CallError::ClosedEarly.into()),
                    }
                }
                _ => {}
            }
        }
        Ok(used + frames.consumed())
    }

    /// The connection closed (no close frame).
    pub fn on_closed(&self) -> CallEnd {
        match self.state {
            State::Stopping => CallEnd::Finished,
            _ => CallError::ClosedEarly.into(),
        }
    }

    /// Sends the next 20 ms frame, if this call streams.
    pub fn send_frame(&mut self, ctx: &mut Ctx) -> Result<(), CallEnd> {
        if !self.established || self.state != State::Open {
            return Ok(());
        }
        self.frames_sent += 1;
        ws::begin(ctx.out);
        frame::twilio_media(
            ctx.out,
            &self.ids.stream_sid,
            self.frames_sent,
            ctx.clock.now_ns(),
        );
        self.conn.send_frame(ctx.out, ws::OP_TEXT, self.side)?;
        ctx.stats.frames_sent += 1;
        Ok(())
    }

    /// Says `stop` as Twilio does at hang-up, and closes its side; a call that is not
    /// open has nothing to wait for and ends at once.
    pub fn stop(&mut self, ctx: &mut Ctx) -> Result<(), CallEnd> {
        if self.state != State::Open {
            return Err(CallEnd::Finished);
        }
        self.state = State::Stopping;
        ws::begin(ctx.out);
        frame::twilio_stop(ctx.out, &self.ids, self.frames_sent + 2);
        self.conn.send_frame(ctx.out, ws::OP_TEXT, self.side)?;
        ws::begin(ctx.out);
        ctx.out.extend_from_slice(&1000u16.to_be_bytes());
        self.conn.send_frame(ctx.out, ws::OP_CLOSE, self.side)?;
        Ok(())
    }
}

fn on_text(call: &mut Call, text: &str, ctx: &mut Ctx) {
    match frame::str_field(text, "event") {
        Some("media") => {
            let Some(stamp) = frame::str_field(text, "payload").and_then(Stamp::decode) else {
                return;
            };
            let now = ctx.clock.now_ns();
            let stats = &mut *ctx.stats;
            if stamp.seq == 0 {
                stats.greetings_received += 1;
                if !call.established {
                    call.established = true;
                    stats.established += 1;
                    stats.setup.push(call.opened.elapsed());
                }
                return;
            }
            stats.frames_received += 1;
            stats.latency.record(
                now.saturating_sub(stamp.sent_ns)
                    .saturating_sub(stamp.hold_ns),
            );
            if stamp.seq <= call.last_seq {
                stats.frames_out_of_order += 1;
            } else {
                call.last_seq = stamp.seq;
            }
        }
        Some("clear") => ctx.stats.clears_received += 1,
        _ => {}
    }
}
