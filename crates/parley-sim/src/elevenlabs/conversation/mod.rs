//! One conversation on the agent WebSocket (reference F.3–F.5, I.2).
//!
//! A single task owns the socket and reacts to whatever comes first: a client message,
//! the next agent audio chunk falling due, a ping, a tool-result timeout, the end of the
//! call. The agent is a small state machine ([`Agent`]); the callee is heard through
//! [`BurstDetector`] and understood through [`personas`].

mod text;
mod tools;

use text::{dynamic_text, greeting, truncate_spoken};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket};
use futures::SinkExt;
use parley_elevenlabs::conversation::Role;
use parley_elevenlabs::ws::{
    self, AgentResponseCorrectionEvent, AgentResponseEvent, AgentToolRequest, AgentToolResponse,
    Client, ClientEvent, ClientMessage, ClientToolCall, DynamicValue, ErrorEvent,
    InitiationClientData, InitiationMetadata, InterruptionEvent, PingEvent, ServerMessage,
    UserTranscriptionEvent,
};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::agent_voice::{chunking, CHUNK};
use super::pings::{Pings, Pong};
use super::record::{
    transcript_tool_call, transcript_tool_result, EndedBy, Record, Segment, SimToolCall,
    SimToolResult, Speaker,
};
use super::speech::{Burst, BurstDetector, InputDecoder, SpeechEvent};
use super::store::UnstartedEnd;
use super::{magic, webhook, Inner};
use crate::personas::{self, Persona, PERSONAS};
use crate::voice;

/// How long the client has to send `conversation_initiation_client_data`.
const INIT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the agent waits for a `client_tool_result` before going on without it.
const TOOL_WAIT: Duration = Duration::from_secs(5);
/// Silence that ends a callee's burst, at speed 1.
const SILENCE_WINDOW: Duration = Duration::from_millis(300);
/// Maximum conversation length at speed 1 (the platform's default limit).
const MAX_DURATION: Duration = Duration::from_secs(600);
/// Post-call processing time at speed 1 (`processing` before `done`).
const PROCESSING: Duration = Duration::from_millis(500);
/// How long to wait for the client's close frame after ours.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(1);
/// Close codes for what a peer sent (RFC 6455, 7.1.5): a close frame without a code, and
/// no close frame at all. Never sent on the wire.
const NO_STATUS: u16 = 1005;
const ABNORMAL: u16 = 1006;
/// What the callee "said" when the voice matches no persona or its script is over.
const GENERIC_LINE: &str = "Mm-hmm.";
/// The agent's answer to a voice it does not recognise.
const GENERIC_REPLY: &str = "I see. Could you tell me a little more?";

/// Serves one WebSocket from handshake to post-call webhook.
pub(crate) async fn run(mut socket: WebSocket, inner: Arc<Inner>, agent_id: String) {
    let socket_id = inner.store.socket_opened(&agent_id);
    let initiation = match receive_initiation(&mut socket).await {
        Ok(initiation) => initiation,
        Err(end) => {
            inner
                .store
                .update_socket(socket_id, |s| s.closed_unstarted = Some(end));
            return;
        }
    };
    let conversation_id = format!("conv_{}", uuid::Uuid::now_v7().simple());
    inner.store.update_socket(socket_id, |s| {
        s.conversation_id = Some(conversation_id.clone());
    });
    let record = Record::new(
        conversation_id.clone(),
        agent_id.clone(),
        initiation.clone(),
        inner.config.webhook_url.is_some(),
    );
    let started = record.started;
    inner.store.insert(record);
    tracing::debug!(
        conversation_id,
        agent_id,
        "elevenlabs sim conversation started"
    );

    let mut session = Session::new(Arc::clone(&inner), socket, conversation_id.clone(), started);
    let ended_by = match session.converse(&agent_id, &initiation).await {
        Ok(()) => EndedBy::SimulatorStopped,
        Err(end) => end,
    };
    // Recorded before the close handshake: from the moment our close frame goes out the
    // conversation is over, whatever the client takes to answer it.
    inner
        .store
        .update(&conversation_id, |r| r.close(ended_by.clone()));
    let client_close_code = session.close(&ended_by).await;
    inner.store.update(&conversation_id, |r| {
        r.summary.client_close_code = client_close_code;
    });
    drop(session);

    tokio::time::sleep(inner.config.scaled(PROCESSING)).await;
    inner.store.update(&conversation_id, Record::complete);
    webhook::deliver(&inner, &conversation_id).await;
}

/// Waits for `conversation_initiation_client_data`. Any other first message counts as an
/// empty initiation (reference F.3); how the socket ended if the client leaves or never
/// speaks.
async fn receive_initiation(socket: &mut WebSocket) -> Result<InitiationClientData, UnstartedEnd> {
    let wait = async {
        loop {
            match socket.recv().await {
                Some(Ok(Message::Text(text))) => {
                    return Ok(match ClientMessage::parse(text.as_str()) {
                        Ok(ClientMessage::Event(
                            ClientEvent::ConversationInitiationClientData(data),
                        )) => *data,
                        _ => InitiationClientData::default(),
                    });
                }
                Some(Ok(Message::Close(frame))) => {
                    // Answered: the library's queued echo goes out with the flush.
                    let _ = socket.flush().await;
                    return Err(match frame {
                        Some(f) => UnstartedEnd::Client {
                            code: f.code,
                            reason: f.reason.to_string(),
                        },
                        None => UnstartedEnd::Client {
                            code: NO_STATUS,
                            reason: String::new(),
                        },
                    });
                }
                Some(Err(_)) | None => return Err(UnstartedEnd::Vanished),
                Some(Ok(_)) => {}
            }
        }
    };
    match tokio::time::timeout(INIT_TIMEOUT, wait).await {
        Ok(initiation) => initiation,
        Err(_) => {
            let frame = CloseFrame {
                code: close_code::POLICY,
                reason: "no conversation_initiation_client_data received".into(),
            };
            let _ = socket.send(Message::Close(Some(frame))).await;
            Err(UnstartedEnd::TimedOut)
        }
    }
}

/// What the agent is doing.
#[derive(Debug)]
enum Agent {
    Listening,
    Speaking(Speech),
    AwaitingTool(PendingTool),
    /// The script is over: end the call at `at`.
    Closing {
        at: Instant,
        finale: Finale,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finale {
    /// `end_call`, then a normal close.
    EndCall,
    /// Magic agent `agent_drops`: drop the connection.
    Drop,
}

/// What follows a piece of agent speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    Listen,
    Finish(Finale),
}

#[derive(Debug)]
struct Speech {
    text: String,
    /// Index of its agent turn in the transcript.
    turn: usize,
    length: Duration,
    chunks: u32,
    sent: u32,
    last_chunk: Duration,
    started: Instant,
    /// `event_id` of the `agent_response`, reused by the first audio chunk.
    first_event_id: u64,
    last_event_id: u64,
    then: After,
}

impl Speech {
    /// Keeps one chunk of lead: chunk `i` goes out when chunk `i - 1` starts playing.
    fn next_due(&self) -> Instant {
        self.started + CHUNK * self.sent.saturating_sub(1)
    }

    fn all_sent(&self) -> bool {
        self.sent >= self.chunks
    }
}

#[derive(Debug)]
struct PendingTool {
    tool_call_id: String,
    sent: Instant,
    deadline: Instant,
    reply: Option<(&'static str, After)>,
}

impl Agent {
    fn deadline(&self) -> Option<Instant> {
        match self {
            Self::Listening => None,
            Self::Speaking(speech) => Some(speech.next_due()),
            Self::AwaitingTool(pending) => Some(pending.deadline),
            Self::Closing { at, .. } => Some(*at),
        }
    }
}

struct Session {
    inner: Arc<Inner>,
    socket: WebSocket,
    id: String,
    started: Instant,
    next_event_id: u64,
    /// Reused for outgoing `audio` frames.
    frame: String,
    decoder: InputDecoder,
    samples: Vec<i16>,
    detector: BurstDetector,
    speech_events: Vec<SpeechEvent>,
    last_audio: Instant,
    /// When the current burst began, as an offset into the call.
    burst_start: Option<Duration>,
    /// Bursts heard per persona (index into [`PERSONAS`]).
    heard: [usize; PERSONAS.len()],
    pings: Pings,
    agent: Agent,
    /// Set for agent `agent_server_tools` when server tools are configured.
    server_tools: Option<super::ServerTools>,
    /// The `call_id` dynamic variable, which server tool calls carry.
    call_id: Option<String>,
    /// Server tool answers: (tool call id, tool name, body, is_error).
    server_results: mpsc::Receiver<ServerToolAnswer>,
    server_results_tx: mpsc::Sender<ServerToolAnswer>,
}

type ServerToolAnswer = (String, String, String, bool);

impl Session {
    fn new(inner: Arc<Inner>, socket: WebSocket, id: String, started: Instant) -> Self {
        let decoder = InputDecoder::new(inner.config.input_format());
        let detector =
            BurstDetector::new(decoder.sample_rate(), inner.config.scaled(SILENCE_WINDOW));
        let pings = Pings::new(inner.config.effective_ping_interval());
        let (server_results_tx, server_results) = mpsc::channel(4);
        Self {
            inner,
            socket,
            id,
            started,
            next_event_id: 1,
            frame: String::new(),
            decoder,
            samples: Vec::new(),
            detector,
            speech_events: Vec::new(),
            last_audio: Instant::now(),
            burst_start: None,
            heard: [0; PERSONAS.len()],
            pings,
            agent: Agent::Listening,
            server_tools: None,
            call_id: None,
            server_results,
            server_results_tx,
        }
    }

    /// Runs the conversation; `Err` says how it ended (`Ok` only when the simulator stops).
    async fn converse(
        &mut self,
        agent_id: &str,
        initiation: &InitiationClientData,
    ) -> Result<(), EndedBy> {
        let inner = Arc::clone(&self.inner);
        let config = &inner.config;
        if !config.metadata_delay.is_zero() {
            tokio::time::sleep(config.metadata_delay).await;
        }
        self.send(&ServerMessage::ConversationInitiationMetadata {
            conversation_initiation_metadata_event: InitiationMetadata {
                conversation_id: self.id.clone(),
                agent_output_audio_format: config.output_format(),
                user_input_audio_format: config.input_format(),
            },
        })
        .await?;
        if agent_id == magic::SERVER_TOOLS {
            self.server_tools = config.server_tools.clone();
        }
        self.call_id = initiation
            .dynamic_variables
            .get("call_id")
            .map(dynamic_text);
        let drops = agent_id == magic::DROPS;
        let greeting_then = if drops {
            After::Finish(Finale::Drop)
        } else {
            After::Listen
        };
        match greeting(initiation, &self.id, agent_id) {
            Some(text) => self.start_speech(text, greeting_then).await?,
            None if drops => {
                self.agent = Agent::Closing {
                    at: Instant::now(),
                    finale: Finale::Drop,
                };
            }
            None => {}
        }

        let interval = config.effective_ping_interval();
        let mut ping_timer = tokio::time::interval_at((Instant::now() + interval).into(), interval);
        ping_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let max_end = Instant::now() + config.scaled(MAX_DURATION);
        let burst_timeout = (config.scaled(SILENCE_WINDOW) * 2).max(Duration::from_millis(100));
        let mut stopping = self.inner.stopping.subscribe();

        loop {
            if *stopping.borrow_and_update() {
                return Ok(());
            }
            let agent_deadline = self.agent.deadline();
            let burst_deadline = self
                .detector
                .in_burst()
                .then(|| self.last_audio + burst_timeout);
            tokio::select! {
                message = self.socket.recv() => match message {
                    Some(Ok(Message::Text(text))) => self.on_text(text.as_str()).await?,
                    Some(Ok(Message::Close(frame))) => {
                        return Err(EndedBy::Client { code: frame.map(|f| f.code) });
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return Err(EndedBy::ClientVanished),
                },
                _ = ping_timer.tick() => self.ping().await?,
                Some((id, name, body, is_error)) = self.server_results.recv() => {
                    self.on_server_tool_answer(id, name, body, is_error).await?;
                }
                () = sleep_until(agent_deadline) => self.on_agent_timer().await?,
                () = sleep_until(burst_deadline) => {
                    if let Some(burst) = self.detector.end_now() {
                        self.on_burst(burst).await?;
                    }
                }
                () = tokio::time::sleep_until(max_end.into()) => {
                    self.send(&ServerMessage::Error {
                        error_event: ErrorEvent {
                            code: Some(1011),
                            message: Some("Conversation has exceeded maximum duration".into()),
                            error_type: Some("max_duration_exceeded".into()),
                            reason: None,
                            debug_message: None,
                            details: None,
                        },
                    })
                    .await?;
                    return Err(EndedBy::MaxDuration);
                }
                _ = stopping.changed() => return Ok(()),
            }
        }
    }

    /// Closes the socket the way `how` says; returns the close code the client sent
    /// (1005: none in its frame; 1006: no close frame at all), `None` when the agent
    /// dropped the connection. A client's own close is answered, as RFC 6455 requires.
    async fn close(&mut self, how: &EndedBy) -> Option<u16> {
        let (code, reason) = match how {
            EndedBy::Agent => (close_code::NORMAL, ""),
            EndedBy::MaxDuration => (
                close_code::ERROR,
                "Conversation has exceeded maximum duration",
            ),
            EndedBy::SimulatorStopped => (close_code::AWAY, "Server shutting down"),
            // Dropping the socket without a close frame is the point.
            EndedBy::AgentDropped => return None,
            EndedBy::Client { code } => {
                // The library has queued the echo of the client's frame: flushing sends it.
                let _ = tokio::time::timeout(CLOSE_HANDSHAKE, self.socket.flush()).await;
                return Some(code.unwrap_or(NO_STATUS));
            }
            EndedBy::ClientVanished => return Some(ABNORMAL),
        };
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        if self.socket.send(Message::Close(Some(frame))).await.is_err() {
            return Some(ABNORMAL);
        }
        let answer = tokio::time::timeout(CLOSE_HANDSHAKE, async {
            while let Some(Ok(message)) = self.socket.recv().await {
                if let Message::Close(frame) = message {
                    return Some(frame.map_or(NO_STATUS, |f| f.code));
                }
            }
            None
        })
        .await;
        Some(answer.ok().flatten().unwrap_or(ABNORMAL))
    }

    async fn on_text(&mut self, text: &str) -> Result<(), EndedBy> {
        match ws::parse_client(text) {
            Ok(Client::UserAudio(payload)) => self.on_audio(&payload).await,
            Ok(Client::Other(ClientMessage::UserAudioChunk { user_audio_chunk })) => {
                self.on_audio(&user_audio_chunk).await
            }
            Ok(Client::Other(ClientMessage::Event(event))) => self.on_event(event).await,
            Err(error) => {
                tracing::debug!(%error, conversation_id = self.id, "ignoring client message");
                Ok(())
            }
        }
    }

    async fn on_event(&mut self, event: ClientEvent) -> Result<(), EndedBy> {
        match event {
            ClientEvent::Pong { event_id } => {
                let pong = self.pings.pong(event_id, Instant::now());
                self.update(|r| match pong {
                    Pong::Matched => r.summary.pongs_ok += 1,
                    Pong::Unexpected => r.summary.pongs_unexpected += 1,
                });
            }
            ClientEvent::ClientToolResult {
                tool_call_id,
                result,
                is_error,
            } => self.on_tool_result(tool_call_id, result, is_error).await?,
            ClientEvent::UserMessage { text } => {
                self.update(|r| r.push_turn(Role::User, Some(text)));
            }
            // user_activity, contextual_update, feedback, a repeated initiation, unknown
            // types: nothing for the script to do.
            _ => {}
        }
        Ok(())
    }

    async fn on_audio(&mut self, payload: &str) -> Result<(), EndedBy> {
        self.last_audio = Instant::now();
        let format = match self.decoder.decode_chunk(payload, &mut self.samples) {
            Ok(format) => format,
            Err(error) => {
                tracing::debug!(%error, conversation_id = self.id, "ignoring audio chunk");
                return Ok(());
            }
        };
        self.update(|r| {
            *r.summary
                .audio_chunk_formats
                .entry(format.to_string())
                .or_default() += 1;
        });
        self.speech_events.clear();
        self.detector.push(&self.samples, &mut self.speech_events);
        let events = std::mem::take(&mut self.speech_events);
        for event in &events {
            match *event {
                SpeechEvent::Started => {
                    // The onset frames arrived just now; close enough for the recording.
                    self.burst_start = Some(self.offset().saturating_sub(CHUNK / 2));
                    self.interrupt().await?;
                }
                SpeechEvent::Ended(burst) => self.on_burst(burst).await?,
            }
        }
        self.speech_events = events;
        Ok(())
    }

    /// The callee talks over the agent: stop the response still being sent (F.5
    /// `interruption`, then `agent_response_correction`).
    async fn interrupt(&mut self) -> Result<(), EndedBy> {
        let Agent::Speaking(speech) = &self.agent else {
            return Ok(());
        };
        if speech.all_sent() {
            return Ok(());
        }
        let Agent::Speaking(speech) = std::mem::replace(&mut self.agent, Agent::Listening) else {
            unreachable!("checked above");
        };
        self.send(&ServerMessage::Interruption {
            interruption_event: InterruptionEvent {
                event_id: speech.last_event_id,
            },
        })
        .await?;
        let spoken = (Instant::now() - speech.started).min(speech.length);
        let corrected = truncate_spoken(&speech.text, spoken, speech.length);
        self.send(&ServerMessage::AgentResponseCorrection {
            agent_response_correction_event: AgentResponseCorrectionEvent {
                original_agent_response: speech.text.clone(),
                corrected_agent_response: corrected.clone(),
                event_id: Some(speech.last_event_id),
            },
        })
        .await?;
        let segment = self.agent_segment(&speech, spoken);
        self.update(|r| {
            r.summary.interruptions += 1;
            r.push_segment(segment);
            if let Some(turn) = r.summary.transcript.get_mut(speech.turn) {
                turn.interrupted = Some(true);
                turn.original_message = Some(speech.text.clone());
                turn.message = Some(corrected);
            }
        });
        self.agent = match speech.then {
            After::Listen => Agent::Listening,
            After::Finish(finale) => Agent::Closing {
                at: Instant::now(),
                finale,
            },
        };
        Ok(())
    }

    /// A burst of callee speech ended: transcribe it, then follow the persona's script.
    async fn on_burst(&mut self, burst: Burst) -> Result<(), EndedBy> {
        let start = self
            .burst_start
            .take()
            .unwrap_or_else(|| self.offset().saturating_sub(burst.duration));
        let segment = Segment {
            speaker: Speaker::User,
            start,
            length: burst.duration,
            hz: burst.hz.round() as u32,
        };
        let turn = self.understand(burst.hz);
        let event_id = self.take_event_id();
        self.send(&ServerMessage::UserTranscript {
            user_transcription_event: UserTranscriptionEvent {
                user_transcript: turn.line.to_owned(),
                event_id: Some(event_id),
            },
        })
        .await?;
        self.update(|r| {
            r.push_segment(segment);
            r.push_turn(Role::User, Some(turn.line.to_owned()));
            if let Some((persona, heard)) = turn.persona {
                match &mut r.persona {
                    None => r.persona = Some((persona, heard)),
                    Some((first, count)) if first.name == persona.name => *count = heard,
                    Some(_) => {}
                }
            }
        });

        match self.agent {
            // Busy with a tool call or already ending: heard, not answered.
            Agent::AwaitingTool(_) | Agent::Closing { .. } => return Ok(()),
            Agent::Speaking(_) => self.interrupt().await?,
            Agent::Listening => {}
        }
        let then = if turn.ends {
            After::Finish(Finale::EndCall)
        } else {
            After::Listen
        };
        if let Some(tool) = turn.tool {
            return self
                .call_tool(tool.tool, tool.parameters, turn.reply.map(|r| (r, then)))
                .await;
        }
        self.reply(turn.reply, then).await
    }

    /// Who spoke (by voice) and what the script makes of it.
    fn understand(&mut self, hz: f32) -> Turn {
        let Some(persona) = personas::persona_by_voice(hz) else {
            return Turn {
                line: GENERIC_LINE,
                reply: Some(GENERIC_REPLY),
                tool: None,
                ends: false,
                persona: None,
            };
        };
        let index = PERSONAS
            .iter()
            .position(|p| p.name == persona.name)
            .expect("persona_by_voice returns a listed persona");
        let k = self.heard[index];
        self.heard[index] += 1;
        let scripted = k < persona.lines.len();
        Turn {
            line: persona.lines.get(k).copied().unwrap_or(GENERIC_LINE),
            reply: persona.agent_replies.get(k).copied().filter(|_| scripted),
            tool: persona.tool.filter(|t| t.after_line == k),
            ends: persona.agent_ends && k + 1 == persona.lines.len(),
            persona: Some((persona, k + 1)),
        }
    }

    async fn reply(&mut self, reply: Option<&'static str>, then: After) -> Result<(), EndedBy> {
        match (reply, then) {
            (Some(text), _) => self.start_speech(text.to_owned(), then).await,
            (None, After::Finish(finale)) => {
                self.agent = Agent::Closing {
                    at: Instant::now(),
                    finale,
                };
                Ok(())
            }
            (None, After::Listen) => {
                self.agent = Agent::Listening;
                Ok(())
            }
        }
    }

    async fn on_agent_timer(&mut self) -> Result<(), EndedBy> {
        match std::mem::replace(&mut self.agent, Agent::Listening) {
            Agent::Listening => Ok(()),
            Agent::Speaking(speech) => self.send_due_chunks(speech).await,
            Agent::AwaitingTool(pending) => {
                tracing::debug!(
                    conversation_id = self.id,
                    tool_call_id = pending.tool_call_id,
                    "no client_tool_result in time"
                );
                self.settle_tool(&pending.tool_call_id, |call| call.timed_out = true);
                self.after_tool(pending).await
            }
            Agent::Closing { finale, .. } => match finale {
                Finale::Drop => Err(EndedBy::AgentDropped),
                Finale::EndCall => {
                    let event_id = self.take_event_id();
                    self.send(&ServerMessage::AgentToolResponse {
                        agent_tool_response: AgentToolResponse {
                            tool_name: "end_call".into(),
                            tool_call_id: format!("toolu_{}", uuid::Uuid::new_v4().simple()),
                            tool_type: Some("system".into()),
                            is_error: false,
                            is_called: Some(true),
                            event_id: Some(event_id),
                        },
                    })
                    .await?;
                    Err(EndedBy::Agent)
                }
            },
        }
    }

    /// Begins a turn of agent speech: `agent_response`, then paced `audio` chunks.
    async fn start_speech(&mut self, text: String, then: After) -> Result<(), EndedBy> {
        let length = self
            .inner
            .config
            .scaled(Duration::from_millis(voice::speaking_ms(&text)));
        let (chunks, last_chunk) = chunking(length);
        let event_id = self.take_event_id();
        self.send(&ServerMessage::AgentResponse {
            agent_response_event: AgentResponseEvent {
                agent_response: text.clone(),
                event_id: Some(event_id),
            },
        })
        .await?;
        let turn = self
            .update(|r| r.push_turn(Role::Agent, Some(text.clone())))
            .unwrap_or_default();
        let speech = Speech {
            text,
            turn,
            length,
            chunks,
            sent: 0,
            last_chunk,
            started: Instant::now(),
            first_event_id: event_id,
            last_event_id: event_id,
            then,
        };
        self.send_due_chunks(speech).await
    }

    async fn send_due_chunks(&mut self, mut speech: Speech) -> Result<(), EndedBy> {
        let now = Instant::now();
        while !speech.all_sent() && speech.next_due() <= now {
            let event_id = if speech.sent == 0 {
                speech.first_event_id
            } else {
                self.take_event_id()
            };
            let length = if speech.sent + 1 == speech.chunks {
                speech.last_chunk
            } else {
                CHUNK
            };
            let voice = Arc::clone(&self.inner);
            ws::write_audio_event(&mut self.frame, &voice.agent_voice.chunk(length), event_id);
            let frame = Message::Text(self.frame.as_str().into());
            self.socket
                .send(frame)
                .await
                .map_err(|_| EndedBy::ClientVanished)?;
            if speech.sent == 0 {
                let after = self.started.elapsed();
                self.update(|r| {
                    r.summary
                        .first_audio_ms
                        .get_or_insert(after.as_secs_f64() * 1000.0);
                });
            }
            speech.sent += 1;
            speech.last_event_id = event_id;
        }
        if !speech.all_sent() {
            self.agent = Agent::Speaking(speech);
            return Ok(());
        }
        let segment = self.agent_segment(&speech, speech.length);
        self.update(|r| r.push_segment(segment));
        self.agent = match speech.then {
            After::Listen => Agent::Listening,
            // Let the caller hear the last words before hanging up.
            After::Finish(finale) => Agent::Closing {
                at: speech.started + speech.length,
                finale,
            },
        };
        Ok(())
    }

    async fn ping(&mut self) -> Result<(), EndedBy> {
        let now = Instant::now();
        let missed = self.pings.expire(now);
        let (event_id, ping_ms) = self.pings.send(now);
        self.send(&ServerMessage::Ping {
            ping_event: PingEvent { event_id, ping_ms },
        })
        .await?;
        self.update(|r| {
            r.summary.pings_sent += 1;
            r.summary.pongs_missed += missed;
        });
        Ok(())
    }

    fn agent_segment(&self, speech: &Speech, spoken: Duration) -> Segment {
        Segment {
            speaker: Speaker::Agent,
            start: speech.started - self.started,
            length: spoken,
            hz: voice::AGENT_VOICE_HZ,
        }
    }

    fn take_event_id(&mut self) -> u64 {
        let id = self.next_event_id;
        self.next_event_id += 1;
        id
    }

    fn offset(&self) -> Duration {
        Instant::now() - self.started
    }

    fn update<T>(&self, change: impl FnOnce(&mut Record) -> T) -> Option<T> {
        self.inner.store.update(&self.id, change)
    }

    async fn send(&mut self, message: &ServerMessage) -> Result<(), EndedBy> {
        self.socket
            .send(Message::Text(message.to_json().into()))
            .await
            .map_err(|_| EndedBy::ClientVanished)
    }
}

/// The script's reading of one burst.
struct Turn {
    line: &'static str,
    reply: Option<&'static str>,
    tool: Option<personas::ToolUse>,
    ends: bool,
    /// The persona recognised, and how many of its bursts have now been heard.
    persona: Option<(&'static Persona, usize)>,
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
