//! A test client that plays Parley's bridge against the ElevenLabs simulator, over real
//! HTTP and WebSockets: it answers pings, streams 20 ms mu-law frames in real time
//! (silence unless told to speak) and hands every server message to the test.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use futures::{SinkExt, StreamExt};
use parley_audio::{mulaw, pcm};
use parley_elevenlabs::ws::{self, ClientEvent, InitiationClientData, ServerMessage};
use parley_elevenlabs::{AudioFormat, ElevenLabsClient};
use parley_sim::elevenlabs::{ElevenLabsSim, ElevenLabsSimConfig, RunningElevenLabsSim};
use parley_sim::voice;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::{self, Message};

/// Generous: the simulator speaks in real time, and a loaded 2-core machine runs it slowly.
pub const WAIT: Duration = Duration::from_secs(30);
pub const AGENT: &str = "agent_sandbox";

pub async fn start(config: ElevenLabsSimConfig) -> RunningElevenLabsSim {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    ElevenLabsSim::spawn(config, addr).await.unwrap()
}

pub fn fast_config() -> ElevenLabsSimConfig {
    ElevenLabsSimConfig::default().with_speed(5.0)
}

pub fn api(sim: &RunningElevenLabsSim) -> ElevenLabsClient {
    ElevenLabsClient::new(sim.sim.config().api_key.clone().into())
        .with_base_url(&sim.base_url)
        .unwrap()
}

/// What arrived from the simulator.
#[derive(Debug)]
pub enum Event {
    Message(ServerMessage),
    /// The server closed with a close frame (code).
    Closed(Option<u16>),
    /// The connection ended without a close frame.
    Dropped,
}

/// One end of a conversation, as a bridge would hold it.
pub struct BridgeClient {
    pub events: mpsc::UnboundedReceiver<Event>,
    outgoing: mpsc::UnboundedSender<Message>,
    /// Audio queued to be spoken (encoded in the input format), drained 20 ms a tick.
    speech: Arc<Mutex<VecDeque<i16>>>,
    input: AudioFormat,
    tasks: Vec<JoinHandle<()>>,
    pump: Option<JoinHandle<()>>,
}

impl BridgeClient {
    /// Connects to `signed_url`; `answer_pings` decides whether pongs are sent.
    pub async fn connect(signed_url: &str, answer_pings: bool) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(signed_url).await.unwrap();
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut to_send) = mpsc::unbounded_channel::<Message>();
        let (event_tx, events) = mpsc::unbounded_channel();
        let writer = tokio::spawn(async move {
            while let Some(message) = to_send.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
        });
        let pong_tx = outgoing.clone();
        let reader = tokio::spawn(async move {
            let mut buf = String::new();
            while let Some(frame) = stream.next().await {
                match frame {
                    Ok(Message::Text(text)) => {
                        let message = ServerMessage::parse(text.as_str()).unwrap();
                        if let (true, ServerMessage::Ping { ping_event }) = (answer_pings, &message)
                        {
                            ws::write_pong(&mut buf, ping_event.event_id);
                            let _ = pong_tx.send(Message::text(buf.clone()));
                        }
                        let _ = event_tx.send(Event::Message(message));
                    }
                    Ok(Message::Close(frame)) => {
                        let _ = event_tx.send(Event::Closed(frame.map(|f| f.code.into())));
                        // Keep reading so the library completes the close handshake.
                        while stream.next().await.is_some() {}
                        return;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            let _ = event_tx.send(Event::Dropped);
        });
        Self {
            events,
            outgoing,
            speech: Arc::default(),
            input: AudioFormat::Ulaw8000,
            tasks: vec![writer, reader],
            pump: None,
        }
    }

    pub fn send_event(&self, event: ClientEvent) {
        self.outgoing.send(Message::text(event.to_json())).unwrap();
    }

    pub fn initiate(&self, data: InitiationClientData) {
        self.send_event(ClientEvent::initiation(data));
    }

    /// Starts streaming audio in `input` format: one 20 ms frame every 20 ms, silence
    /// unless something was queued with [`Self::say`].
    pub fn start_audio(&mut self, input: AudioFormat) {
        self.input = input.clone();
        let rate = input.sample_rate().unwrap();
        let frame = (rate / 50) as usize;
        let speech = Arc::clone(&self.speech);
        let outgoing = self.outgoing.clone();
        self.pump = Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let (mut samples, mut bytes, mut json) = (Vec::new(), Vec::new(), String::new());
            loop {
                tick.tick().await;
                samples.clear();
                {
                    let mut queued = speech.lock().unwrap();
                    let take = frame.min(queued.len());
                    samples.extend(queued.drain(..take));
                }
                samples.resize(frame, 0);
                bytes.clear();
                match input {
                    AudioFormat::Ulaw8000 => mulaw::encode_into(&samples, &mut bytes),
                    _ => pcm::samples_to_le_bytes(&samples, &mut bytes),
                }
                let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
                ws::write_user_audio_chunk(&mut json, &b64);
                if outgoing.send(Message::text(json.clone())).is_err() {
                    return;
                }
            }
        }));
    }

    /// Queues `ms` of tone at `hz` to be streamed (in real time) by the audio pump.
    pub fn say(&self, hz: u32, ms: u64) {
        let rate = self.input.sample_rate().unwrap();
        self.speech
            .lock()
            .unwrap()
            .extend(voice::tone(hz, ms, rate));
    }

    /// Waits for the next message satisfying `pick`, skipping others (pings answered).
    pub async fn expect<T>(&mut self, mut pick: impl FnMut(&ServerMessage) -> Option<T>) -> T {
        let events = &mut self.events;
        tokio::time::timeout(WAIT, async {
            loop {
                match events.recv().await {
                    Some(Event::Message(message)) => {
                        if let Some(found) = pick(&message) {
                            return found;
                        }
                    }
                    other => panic!("connection ended while waiting: {other:?}"),
                }
            }
        })
        .await
        .expect("timed out waiting for a server message")
    }

    /// Waits for the connection to end; returns how, and the messages seen before.
    pub async fn until_end(&mut self) -> (Event, Vec<ServerMessage>) {
        let events = &mut self.events;
        tokio::time::timeout(WAIT, async {
            let mut seen = Vec::new();
            loop {
                match events.recv().await {
                    Some(Event::Message(message)) => seen.push(message),
                    Some(end) => return (end, seen),
                    None => return (Event::Dropped, seen),
                }
            }
        })
        .await
        .expect("timed out waiting for the connection to end")
    }

    /// Closes the socket from the client side (normal closure).
    pub fn close(&self) {
        let frame = tungstenite::protocol::CloseFrame {
            code: tungstenite::protocol::frame::coding::CloseCode::Normal,
            reason: "".into(),
        };
        let _ = self.outgoing.send(Message::Close(Some(frame)));
    }
}

impl Drop for BridgeClient {
    fn drop(&mut self) {
        for task in self.tasks.iter().chain(&self.pump) {
            task.abort();
        }
    }
}

pub fn transcript_text(message: &ServerMessage) -> Option<String> {
    match message {
        ServerMessage::UserTranscript {
            user_transcription_event,
        } => Some(user_transcription_event.user_transcript.clone()),
        _ => None,
    }
}

pub fn agent_text(message: &ServerMessage) -> Option<String> {
    match message {
        ServerMessage::AgentResponse {
            agent_response_event,
        } => Some(agent_response_event.agent_response.clone()),
        _ => None,
    }
}

/// Decoded agent audio of an `audio` message, as PCM16 at its rate.
pub fn agent_audio(message: &ServerMessage, format: &AudioFormat) -> Option<(Vec<i16>, u64)> {
    let (b64, event_id) = message.audio()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let mut samples = Vec::new();
    match format {
        AudioFormat::Ulaw8000 => mulaw::decode_into(&bytes, &mut samples),
        _ => pcm::le_bytes_to_samples(&bytes, &mut samples),
    }
    Some((samples, event_id.unwrap()))
}

impl BridgeClient {
    /// Sends arbitrary text, for messages the typed API cannot produce.
    pub fn send_raw(&self, text: &str) {
        self.outgoing.send(Message::text(text.to_owned())).unwrap();
    }
}
