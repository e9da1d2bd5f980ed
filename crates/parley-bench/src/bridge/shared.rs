//! State shared by every task of the load generator. They all run on one thread (a
//! current-thread runtime with a `LocalSet`), so plain `Rc`/`RefCell` suffice.
use super::stats::Stats;
use super::ticks::Ticks;
use bytes::BytesMut;
use futures::{Sink, SinkExt};
use std::cell::RefCell;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Per-socket buffers: 20 ms frames are ~300 bytes; tungstenite's 128 KiB default would
/// make the generator's own memory and cache footprint grow with every call.
const SOCKET_BUFFER: usize = 4 * 1024;
/// Frame clock groups: a tick every millisecond, each waking a twentieth of the calls.
const FRAME_GROUPS: usize = 20;
const FRAME_PERIOD: Duration = Duration::from_millis(20);
/// The agent pings every call every 2 s, one group per 20 ms.
const PING_PERIOD: Duration = Duration::from_secs(2);
const PING_GROUPS: usize = 100;
/// Room the scratch buffer keeps for one message; any message here is smaller.
const MESSAGE_ROOM: usize = 1024;
const SCRATCH_BYTES: usize = 64 * 1024;

/// Where the run is; every call follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Calls connect; no caller audio yet.
    Connecting,
    /// Every established call sends a frame every 20 ms: what is measured.
    Streaming,
    /// No new frames; echoes still in flight are counted.
    Draining,
    /// Calls send `stop` and close.
    Stopping,
}

pub struct Shared {
    /// Time zero of every timestamp in a payload.
    epoch: Instant,
    pub stats: RefCell<Stats>,
    pub frame_ticks: Ticks,
    pub ping_ticks: Ticks,
    pub phase: watch::Sender<Phase>,
    /// Woken when a call is established or fails, and for every echo while draining.
    pub progress: Notify,
    /// Every outgoing message is written here and split off: once tungstenite has framed
    /// a message it drops it, and the space is reused, so sending allocates nothing.
    scratch: RefCell<BytesMut>,
}

impl Shared {
    pub fn new(calls: usize) -> Shared {
        Shared {
            epoch: Instant::now(),
            stats: RefCell::new(Stats::new(calls)),
            frame_ticks: Ticks::new(FRAME_PERIOD, FRAME_GROUPS),
            ping_ticks: Ticks::new(PING_PERIOD, PING_GROUPS),
            phase: watch::Sender::new(Phase::Connecting),
            progress: Notify::new(),
            scratch: RefCell::new(BytesMut::with_capacity(SCRATCH_BYTES)),
        }
    }

    /// Nanoseconds since the run began.
    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Writes one message with `write` and sends it on `socket`.
    pub async fn send<S>(
        &self,
        socket: &mut S,
        write: impl FnOnce(&mut BytesMut),
    ) -> Result<(), S::Error>
    where
        S: Sink<Message> + Unpin,
    {
        let message = {
            let mut scratch = self.scratch.borrow_mut();
            scratch.reserve(MESSAGE_ROOM);
            write(&mut scratch);
            let bytes = scratch.split().freeze();
            Message::Text(Utf8Bytes::try_from(bytes).expect("messages are written as UTF-8"))
        };
        socket.send(message).await
    }
}

pub fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
}
