//! One call as Twilio plays it: `connected`, `start` with the call's credentials, a
//! 20 ms frame clock while the run streams, then `stop`. It counts what comes back.
use super::frame::{self, Stamp, StreamIds};
use super::shared::{socket_config, Phase, Shared};
use futures::StreamExt;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

/// How long a closing call waits for the bridge to close its side.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// What one stream presents in `start.customParameters`.
#[derive(Debug, Clone)]
pub struct StreamAuth {
    pub call_id: String,
    pub token: String,
}

/// Where the bridge's media WebSocket is.
#[derive(Debug, Clone)]
pub struct Target {
    /// `ws://host:port/path`.
    pub url: String,
    /// `host:port`, for the TCP connection.
    pub addr: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("cannot connect: {0}")]
    Connect(#[from] std::io::Error),
    #[error("WebSocket: {0}")]
    WebSocket(#[from] tungstenite::Error),
    #[error("the bridge closed the stream before the end of the run")]
    ClosedEarly,
}

/// Runs one call to the end of the run; a failure is counted, and the first is shown.
pub async fn run_call(shared: Rc<Shared>, target: Rc<Target>, index: usize, auth: StreamAuth) {
    let mut call = Call {
        shared: &shared,
        ids: StreamIds::for_call(index),
        opened: Instant::now(),
        established: false,
        frames_sent: 0,
        last_seq: 0,
    };
    if let Err(e) = call.run(&target, &auth).await {
        let mut stats = shared.stats.borrow_mut();
        if stats.failed == 0 {
            eprintln!("bench bridge: call {index} failed: {e}");
        }
        stats.failed += 1;
        shared.progress.notify_one();
    }
}

struct Call<'a> {
    shared: &'a Shared,
    ids: StreamIds,
    opened: Instant,
    established: bool,
    frames_sent: u64,
    last_seq: u64,
}

impl Call<'_> {
    async fn run(&mut self, target: &Target, auth: &StreamAuth) -> Result<(), CallError> {
        let shared = self.shared;
        self.opened = Instant::now();
        let tcp = TcpStream::connect(&target.addr).await?;
        tcp.set_nodelay(true)?;
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(
            target.url.as_str(),
            tcp,
            Some(socket_config()),
        )
        .await?;
        shared.send(&mut ws, frame::twilio_connected).await?;
        shared
            .send(&mut ws, |out| {
                frame::twilio_start(out, &self.ids, &auth.call_id, &auth.token)
            })
            .await?;

        let mut ticks = shared.frame_ticks.subscribe();
        let mut phase = shared.phase.subscribe();
        loop {
            tokio::select! {
                message = ws.next() => match message {
                    Some(Ok(Message::Text(text))) => self.on_message(text.as_str()),
                    Some(Ok(Message::Close(_))) | None => return Err(CallError::ClosedEarly),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                },
                _ = ticks.changed() => {
                    if self.established && *phase.borrow() == Phase::Streaming {
                        self.frames_sent += 1;
                        let (n, sent_ns) = (self.frames_sent, shared.now_ns());
                        shared.send(&mut ws, |out| frame::twilio_media(out, &self.ids.stream_sid, n, sent_ns)).await?;
                        shared.stats.borrow_mut().frames_sent += 1;
                    }
                },
                changed = phase.changed() => {
                    if changed.is_err() || *phase.borrow() == Phase::Stopping {
                        break;
                    }
                }
            }
        }
        self.stop(&mut ws).await
    }

    /// Says `stop` as Twilio does at hang-up, closes, and waits for the bridge to close.
    async fn stop(&mut self, ws: &mut WebSocketStream<TcpStream>) -> Result<(), CallError> {
        let sequence_number = self.frames_sent + 2;
        self.shared
            .send(ws, |out| {
                frame::twilio_stop(out, &self.ids, sequence_number)
            })
            .await?;
        let _ = ws.close(None).await;
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            while let Some(Ok(message)) = ws.next().await {
                if let Message::Text(text) = message {
                    self.on_message(text.as_str());
                }
            }
        })
        .await;
        Ok(())
    }

    fn on_message(&mut self, text: &str) {
        let shared = self.shared;
        match frame::str_field(text, "event") {
            Some("media") => {
                let Some(stamp) = frame::str_field(text, "payload").and_then(Stamp::decode) else {
                    return;
                };
                let now = shared.now_ns();
                let mut stats = shared.stats.borrow_mut();
                if stamp.seq == 0 {
                    stats.greetings_received += 1;
                    if !self.established {
                        self.established = true;
                        stats.established += 1;
                        stats.setup.push(self.opened.elapsed());
                        shared.progress.notify_one();
                    }
                    return;
                }
                stats.frames_received += 1;
                stats.latency.record(
                    now.saturating_sub(stamp.sent_ns)
                        .saturating_sub(stamp.hold_ns),
                );
                if stamp.seq <= self.last_seq {
                    stats.frames_out_of_order += 1;
                } else {
                    self.last_seq = stamp.seq;
                }
                if *shared.phase.borrow() == Phase::Draining {
                    shared.progress.notify_one();
                }
            }
            Some("clear") => shared.stats.borrow_mut().clears_received += 1,
            _ => {}
        }
    }
}
