//! One bridged call: authenticate the Twilio stream, open the agent conversation, relay
//! until either side ends, then end the other side and record why.
use super::audio::Transcoding;
use super::hold::Held;
use super::socket::{close_code, CloseFrame, MediaSocket, Outgoing, Received, SocketError, Text};
use super::{SOCKET_READ_BUFFER, SOCKET_WRITE_BUFFER};
use crate::events::LiveEvent;
use crate::tools::{ToolContext, ToolResult, CALL_ID_VARIABLE};
use crate::Engine;
use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use parley_domain::call::{Call, TerminationSource, TurnRole};
use parley_domain::tool::ToolVia;
use parley_elevenlabs::ws::{
    parse_server, write_pong, write_user_audio_chunk, AgentOverride, ClientEvent, ConfigOverride,
    DynamicValue, InitiationClientData, PromptOverride, Server, ServerMessage,
};
use parley_twilio::media::{
    parse_inbound, write_clear, write_media, Inbound, InboundMessage, StartInfo,
};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as AgentMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type AgentSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Twilio sends `connected` then `start`; a stream that sends more before its `start`
/// is not Twilio. (How long it may take is `http.media_start_timeout_secs`.)
const MESSAGES_BEFORE_START: usize = 4;
const AGENT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Room for one relayed 20 ms frame's JSON (~350 bytes); larger messages grow it.
const OUT_CAPACITY: usize = 512;
/// Transcript turns waiting for the database before the relay waits too.
const TURN_QUEUE: usize = 64;

/// Why the relay stopped.
#[derive(Debug)]
enum Ending {
    /// The agent ended the conversation (normal close).
    AgentEnded,
    /// The agent connection broke.
    AgentLost(String),
    /// Twilio said the stream is over (hang-up, redirect) or closed the socket.
    TwilioEnded,
    /// This node is shutting down.
    NodeShutdown,
}

#[derive(Debug, thiserror::Error)]
enum SetupError {
    #[error("no start message: {0}")]
    NoStart(&'static str),
    #[error("the stream did not present a valid call id and token")]
    Unauthenticated,
    #[error("socket error before the start message: {0}")]
    Socket(SocketError),
    #[error(transparent)]
    Store(#[from] parley_store::StoreError),
}

impl SetupError {
    /// The close frame that tells the other side why (nothing to say to a broken socket
    /// or about our own database).
    fn close_frame(&self) -> Option<CloseFrame> {
        let (code, reason) = match self {
            SetupError::NoStart("stopped" | "socket closed") => return None,
            SetupError::NoStart(why) => (close_code::POLICY, *why),
            SetupError::Unauthenticated => (close_code::POLICY, "invalid stream credentials"),
            SetupError::Socket(e) if e.too_big => (close_code::SIZE, "message too big"),
            SetupError::Socket(_) => return None,
            SetupError::Store(_) => (close_code::ERROR, "internal error"),
        };
        Some(CloseFrame { code, reason })
    }
}

impl Engine {
    /// Serves one Twilio media stream until the call ends, then announces that it ended.
    /// `unauthenticated` is the stream's place among those not yet authenticated: it is
    /// given up as soon as the `start` message has been checked.
    pub async fn run_media_stream(
        &self,
        twilio: impl MediaSocket,
        unauthenticated: OwnedSemaphorePermit,
    ) {
        // Boxed, here and around the relay: a future awaited inline is laid out again in
        // every enclosing one (the server's upgrade task included), which doubled the memory
        // each call holds for its whole length.
        if let Some(call_id) = Box::pin(self.bridge(twilio, unauthenticated)).await {
            self.publish(LiveEvent::StreamEnded { call_id });
        }
    }

    /// Bridges one stream; returns the call id once both sides are closed (`None` when
    /// the stream never authenticated).
    async fn bridge(
        &self,
        mut twilio: impl MediaSocket,
        unauthenticated: OwnedSemaphorePermit,
    ) -> Option<i64> {
        let Some((_registration, mut going_away)) = self.bridges.register() else {
            let close = Outgoing::Close(Some(CloseFrame::SHUTTING_DOWN));
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, twilio.send(close)).await;
            return None;
        };
        // Setup and teardown futures are boxed: held inline, the largest of them would
        // size this task for the whole call (memory per call is a target).
        let authenticated = Box::pin(self.authenticate_stream(&mut twilio, unauthenticated)).await;
        let (mut start, call) = match authenticated {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "media stream refused");
                let close = Outgoing::Close(e.close_frame());
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, twilio.send(close)).await;
                return None;
            }
        };
        let call_id = call.id;
        // The parameters (call id, token) have done their work; not kept for the call.
        start.custom_parameters.clear();
        tracing::info!(call_id, "media stream started");

        // Connect to the agent, but give up the moment the caller's side goes away: no
        // agent session may outlive its call.
        // Caller audio that comes meanwhile is held for the agent (see `hold`).
        let mut held = Held::default();
        let connected = tokio::select! {
            agent = Box::pin(self.connect_agent(&call)) => agent,
            () = wait_until_gone(&mut twilio, &mut held) => {
                tracing::info!(call_id, "call ended while the agent was connecting");
                let _ = Box::pin(self.store.set_termination(call_id, TerminationSource::Callee, Some("hung up before the agent joined"))).await;
                drain_twilio(&mut twilio).await;
                return Some(call_id);
            }
            _ = &mut going_away => {
                let _ = Box::pin(self.store.set_termination(call_id, TerminationSource::System, Some(SHUTDOWN_REASON))).await;
                close_twilio(&mut twilio, CloseFrame::SHUTTING_DOWN).await;
                return Some(call_id);
            }
        };
        let agent = match connected {
            Ok(agent) => agent,
            Err(reason) => {
                tracing::warn!(call_id, %reason, "agent unreachable");
                Box::pin(self.end_call(
                    &call,
                    &start,
                    TerminationSource::System,
                    Some(&format!("agent unreachable: {reason}")),
                ))
                .await;
                close_twilio(&mut twilio, AGENT_FAILED).await;
                return Some(call_id);
            }
        };

        let mut relay = Relay::new(self.clone(), &call, start.stream_sid.clone(), held);
        let (ending, agent) = Box::pin(relay.run(&mut twilio, agent, &mut going_away)).await;
        tracing::info!(call_id, ending = ?ending, "media stream ended");
        // The agent side first: its close is answered (or sent) and the handshake seen
        // through, so neither side records an abnormal 1006.
        if let Some(agent) = agent {
            let frame = match ending {
                Ending::AgentEnded => None,
                Ending::NodeShutdown => Some(CloseFrame::SHUTTING_DOWN),
                _ => Some(CloseFrame::CALL_ENDED),
            };
            Box::pin(close_agent(agent, frame)).await;
        }
        match ending {
            Ending::AgentEnded => {
                // The stream is closed before the hang-up so Twilio hears why (1000),
                // rather than ending the stream itself for the REST hang-up.
                self.record_termination(call_id, TerminationSource::Agent, None)
                    .await;
                close_twilio(&mut twilio, CloseFrame::CALL_ENDED).await;
                Box::pin(self.hang_up_stream(call_id, &start)).await;
            }
            Ending::AgentLost(reason) => {
                let reason = format!("agent connection lost: {reason}");
                self.record_termination(call_id, TerminationSource::System, Some(&reason))
                    .await;
                close_twilio(&mut twilio, AGENT_FAILED).await;
                Box::pin(self.hang_up_stream(call_id, &start)).await;
            }
            Ending::NodeShutdown => {
                // Twilio ends the call when the stream closes (nothing follows it in the
                // TwiML); the status callback completes the record.
                self.record_termination(call_id, TerminationSource::System, Some(SHUTDOWN_REASON))
                    .await;
                close_twilio(&mut twilio, CloseFrame::SHUTTING_DOWN).await;
            }
            Ending::TwilioEnded => {
                // Why Twilio ended the stream (hang-up, time limit, redirect) is for its
                // status callback to say. Twilio sends its close frame right after `stop`;
                // reading it answers it (the library echoes its code) and lets the socket
                // close cleanly, where dropping it unread resets it.
                drain_twilio(&mut twilio).await;
            }
        }
        Some(call_id)
    }

    /// Reads up to Twilio's `start` and checks the call id and one-time token it carries.
    async fn authenticate_stream(
        &self,
        twilio: &mut impl MediaSocket,
        unauthenticated: OwnedSemaphorePermit,
    ) -> Result<(StartInfo, Call), SetupError> {
        let _unauthenticated = unauthenticated;
        let deadline = self.settings.http.media_start_timeout();
        let start = tokio::time::timeout(deadline, async {
            for _ in 0..MESSAGES_BEFORE_START {
                let msg = match twilio.recv().await {
                    Some(Ok(msg)) => msg,
                    Some(Err(e)) => return Err(SetupError::Socket(e)),
                    None => return Err(SetupError::NoStart("socket closed")),
                };
                let Received::Text(text) = msg else { continue };
                match InboundMessage::parse(&text) {
                    Ok(InboundMessage::Start { start, .. }) => return Ok(start),
                    Ok(InboundMessage::Stop { .. }) => return Err(SetupError::NoStart("stopped")),
                    _ => continue,
                }
            }
            Err(SetupError::NoStart("too many messages before start"))
        })
        .await
        .map_err(|_| SetupError::NoStart("no start message in time"))??;
        let params = &start.custom_parameters;
        let call_id: i64 = params
            .get("call_id")
            .and_then(|c| c.parse().ok())
            .ok_or(SetupError::Unauthenticated)?;
        let token = params.get("token").ok_or(SetupError::Unauthenticated)?;
        if !self
            .store
            .take_stream_token(call_id, &crate::secrets::sha256_hex(token))
            .await?
        {
            return Err(SetupError::Unauthenticated);
        }
        let call = self.store.get_call(call_id).await?;
        Ok((start, call))
    }

    /// Opens the agent conversation with a fresh signed URL and sends the initiation data.
    async fn connect_agent(&self, call: &Call) -> Result<AgentSocket, String> {
        let agent_id = call
            .agent_id
            .clone()
            .or_else(|| self.telephony.default_agent_id.clone())
            .ok_or("no agent id")?;
        let signed = tokio::time::timeout(
            AGENT_CONNECT_TIMEOUT,
            self.telephony.elevenlabs.get_signed_url(&agent_id),
        )
        .await
        .map_err(|_| "signed URL request timed out".to_string())?
        .map_err(|e| format!("signed URL request failed: {e}"))?;
        let config = WebSocketConfig::default()
            .read_buffer_size(SOCKET_READ_BUFFER)
            .write_buffer_size(SOCKET_WRITE_BUFFER);
        let (mut agent, _) = tokio::time::timeout(
            AGENT_CONNECT_TIMEOUT,
            tokio_tungstenite::connect_async_with_config(signed.as_str(), Some(config), true),
        )
        .await
        .map_err(|_| "agent connection timed out".to_string())?
        .map_err(|e| format!("agent connection failed: {e}"))?;
        let init = self
            .initiation_data(call.id)
            .await
            .map_err(|e| e.to_string())?;
        agent
            .send(AgentMessage::text(ClientEvent::initiation(init).to_json()))
            .await
            .map_err(|e| format!("sending the conversation data failed: {e}"))?;
        Ok(agent)
    }

    /// Dynamic variables and overrides stored with the call when it was placed.
    async fn initiation_data(
        &self,
        call_id: i64,
    ) -> Result<InitiationClientData, parley_store::StoreError> {
        let (vars, _) = self.store.call_agent_inputs(call_id).await?;
        let options = self.call_options(call_id).await.unwrap_or_default();
        let mut data = InitiationClientData::default();
        if let serde_json::Value::Object(map) = vars {
            for (name, value) in map {
                // Nulls are left out; arrays and objects are refused where calls are
                // placed, so one here was stored before that check: left out too.
                match DynamicValue::from_json(value) {
                    Ok(Some(value)) => {
                        data.dynamic_variables.insert(name, value);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(call_id, variable = %name, error = %e, "dynamic variable left out");
                    }
                }
            }
        }
        // Server tools send it back to say which call they act on.
        data.dynamic_variables.insert(
            CALL_ID_VARIABLE.to_owned(),
            DynamicValue::String(call_id.to_string()),
        );
        if options.first_message.is_some() || options.prompt.is_some() {
            data.conversation_config_override = Some(ConfigOverride {
                agent: Some(AgentOverride {
                    first_message: options.first_message,
                    prompt: options.prompt.map(|p| PromptOverride {
                        prompt: Some(p),
                        llm: None,
                    }),
                    language: None,
                }),
                ..Default::default()
            });
        }
        Ok(data)
    }

    /// Hangs the call up through Twilio after recording why. Failures are logged: the
    /// call may already be over.
    async fn end_call(
        &self,
        call: &Call,
        start: &StartInfo,
        source: TerminationSource,
        reason: Option<&str>,
    ) {
        self.record_termination(call.id, source, reason).await;
        self.hang_up_stream(call.id, start).await;
    }

    async fn record_termination(
        &self,
        call_id: i64,
        source: TerminationSource,
        reason: Option<&str>,
    ) {
        if let Err(e) = self.store.set_termination(call_id, source, reason).await {
            tracing::warn!(call_id, error = %e, "recording the termination failed");
        }
    }

    async fn hang_up_stream(&self, call_id: i64, start: &StartInfo) {
        if let Err(e) = self.telephony.twilio.hang_up(&start.call_sid).await {
            tracing::warn!(call_id, error = %e, "hang-up failed");
        }
    }
}

/// Why a call was cut short by its node going away.
const SHUTDOWN_REASON: &str = "Parley shut down during the call";

/// The agent could not be reached or its connection broke.
const AGENT_FAILED: CloseFrame = CloseFrame {
    code: close_code::ERROR,
    reason: "agent connection failed",
};

/// Closes the Twilio stream with `frame` and waits (bounded) for Twilio's answer, so the
/// close handshake completes before the socket goes.
async fn close_twilio(twilio: &mut impl MediaSocket, frame: CloseFrame) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        if twilio.send(Outgoing::Close(Some(frame))).await.is_ok() {
            while let Some(Ok(_)) = twilio.recv().await {}
        }
    })
    .await;
}

/// Reads the Twilio socket to its end (bounded): reading a close frame sends the
/// library's echo of it, so Twilio's close is answered rather than met with a reset.
async fn drain_twilio(twilio: &mut impl MediaSocket) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        while let Some(Ok(_)) = twilio.recv().await {}
    })
    .await;
}

/// Closes the agent socket and reads until the agent drops the connection (bounded).
/// `frame` is sent when Parley ends the conversation; `None` when the agent closed first,
/// whose close frame the library has queued an echo of (RFC 6455, 5.5.1): flushing sends
/// it, with the agent's own code.
async fn close_agent(mut agent: AgentSocket, frame: Option<CloseFrame>) {
    use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame as Frame};
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        let sent = match frame {
            Some(frame) => {
                let frame = Frame {
                    code: CloseCode::from(frame.code),
                    reason: frame.reason.into(),
                };
                agent.close(Some(frame)).await
            }
            None => agent.flush().await,
        };
        if sent.is_ok() {
            while let Some(Ok(_)) = agent.next().await {}
        }
    })
    .await;
}

/// Reads the Twilio socket until it closes or says `stop` (used while the agent
/// connects), holding the caller's audio for the agent.
async fn wait_until_gone(twilio: &mut impl MediaSocket, held: &mut Held) {
    loop {
        match twilio.recv().await {
            Some(Ok(Received::Close)) | None => return,
            Some(Ok(Received::Text(text))) => match parse_inbound(&text) {
                Ok(Inbound::Media(frame)) => held.push(&frame.payload),
                Ok(Inbound::Other(InboundMessage::Stop { .. })) => return,
                _ => {}
            },
            Some(Ok(_)) => {}
            Some(Err(e)) => return close_if_too_big(twilio, &e).await,
        }
    }
}

/// After `start` as before it, a message over the size limit is answered with close
/// 1009, so the sender learns why; other socket errors leave nobody to tell.
async fn close_if_too_big(twilio: &mut impl MediaSocket, e: &SocketError) {
    if e.too_big {
        let close = twilio.send(Outgoing::Close(Some(CloseFrame {
            code: close_code::SIZE,
            reason: "message too big",
        })));
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, close).await;
    }
}

/// A transcript turn on its way to the database and the live events.
struct Turn {
    role: TurnRole,
    text: String,
    secs: f64,
    event_id: Option<u64>,
    /// For an `agent_response_correction`: the text of the turn it replaces.
    corrects: Option<String>,
}

/// The state of one call's relay; dropped (with everything in it) when the call ends.
struct Relay {
    engine: Engine,
    call_id: i64,
    ctx: ToolContext,
    stream_sid: String,
    transcoding: Transcoding,
    /// Whether `conversation_initiation_metadata` has said which formats the agent
    /// speaks; until then caller audio waits in `held`.
    format_known: bool,
    held: Held,
    /// Agent audio at or below this event id was interrupted and is dropped.
    interrupted_up_to: Option<u64>,
    out: String,
    /// The bytes of every outgoing message, taken from this buffer; the socket drops a
    /// message once it has framed it, and the space is reused for the next one, so a
    /// relayed frame allocates nothing.
    wire: BytesMut,
    /// Transcoded payload of the frame being relayed (transcoding only), reused.
    converted: String,
    started: Instant,
    /// The transcript writer, started with the first turn (many calls never get one
    /// before they end, and an idle task and channel cost memory for the whole call).
    turns: Option<mpsc::Sender<Turn>>,
    /// Client tools running for the agent, each yielding its call id and result.
    tools: tokio::task::JoinSet<(String, ToolResult)>,
}

impl Relay {
    fn new(engine: Engine, call: &Call, stream_sid: String, held: Held) -> Relay {
        Relay {
            engine,
            call_id: call.id,
            ctx: ToolContext::of_call(call),
            stream_sid,
            transcoding: Transcoding::default(),
            format_known: false,
            held,
            interrupted_up_to: None,
            out: String::with_capacity(OUT_CAPACITY),
            wire: BytesMut::with_capacity(OUT_CAPACITY),
            converted: String::new(),
            started: Instant::now(),
            turns: None,
            tools: tokio::task::JoinSet::new(),
        }
    }

    /// The message written in `out`, in bytes shared with `wire`.
    fn out_bytes(&mut self) -> Bytes {
        self.wire.reserve(self.out.len());
        self.wire.extend_from_slice(self.out.as_bytes());
        self.wire.split().freeze()
    }

    fn agent_text(&mut self) -> tokio_tungstenite::tungstenite::Utf8Bytes {
        self.out_bytes()
            .try_into()
            .expect("`out` is a String: valid UTF-8")
    }

    fn twilio_text(&mut self) -> Text {
        Text::from_utf8_bytes(self.out_bytes())
    }

    /// Relays until one side ends; returns why, and the agent socket if still open.
    async fn run(
        &mut self,
        twilio: &mut impl MediaSocket,
        mut agent: AgentSocket,
        going_away: &mut oneshot::Receiver<()>,
    ) -> (Ending, Option<AgentSocket>) {
        let ending = loop {
            // Biased: a fixed order saves a random draw per wake-up; at 50 frames a
            // second per side, neither socket can keep the other waiting.
            tokio::select! {
                biased;
                msg = twilio.recv() => match msg {
                    Some(Ok(Received::Text(text))) => {
                        if let Some(ending) = self.on_twilio_message(&text, &mut agent).await {
                            break ending;
                        }
                    }
                    Some(Ok(Received::Close)) | None => break Ending::TwilioEnded,
                    Some(Err(e)) => {
                        close_if_too_big(twilio, &e).await;
                        break Ending::TwilioEnded;
                    }
                    Some(Ok(_)) => {}
                },
                msg = agent.next() => match msg {
                    Some(Ok(AgentMessage::Text(text))) => {
                        if let Some(ending) = self.on_agent_message(text.as_str(), twilio, &mut agent).await {
                            break ending;
                        }
                    }
                    Some(Ok(AgentMessage::Close(_))) => break Ending::AgentEnded,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break Ending::AgentLost(e.to_string()),
                    None => break Ending::AgentLost("connection closed without a close frame".into()),
                },
                Some(joined) = self.tools.join_next(), if !self.tools.is_empty() => {
                    // A tool task that panicked has no result to send.
                    let Ok((id, result)) = joined else { continue };
                    let (text, is_error) = match result {
                        Ok(value) => (value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string()), false),
                        Err(e) => (e.to_string(), true),
                    };
                    let reply = ClientEvent::ClientToolResult { tool_call_id: id, result: text, is_error };
                    if let Err(e) = agent.send(AgentMessage::text(reply.to_json())).await {
                        break Ending::AgentLost(e.to_string());
                    }
                }
                // Last: polled only when nothing else is ready (its own one-shot, no
                // lock shared with other calls).
                _ = &mut *going_away => break Ending::NodeShutdown,
            }
        };
        self.tools.abort_all();
        let agent = match ending {
            Ending::AgentLost(_) => None,
            _ => Some(agent),
        };
        (ending, agent)
    }

    /// Handles one Twilio message; returns an ending when the stream is over.
    async fn on_twilio_message(&mut self, text: &str, agent: &mut AgentSocket) -> Option<Ending> {
        match parse_inbound(text) {
            Ok(Inbound::Media(frame)) if self.format_known => {
                self.send_caller_audio(&frame.payload, agent).await
            }
            Ok(Inbound::Media(frame)) => {
                self.held.push(&frame.payload);
                None
            }
            Ok(Inbound::Other(InboundMessage::Stop { .. })) => Some(Ending::TwilioEnded),
            Ok(Inbound::Other(_)) => None,
            Err(e) => {
                tracing::debug!(call_id = self.call_id, error = %e, "unreadable media message ignored");
                None
            }
        }
    }

    /// Sends one frame of caller audio to the agent, in the format it asked for.
    async fn send_caller_audio(
        &mut self,
        payload: &str,
        agent: &mut AgentSocket,
    ) -> Option<Ending> {
        self.out.clear();
        match self.transcoding.to_agent.as_mut() {
            None => write_user_audio_chunk(&mut self.out, payload),
            Some(direction) => {
                self.converted.clear();
                if let Err(e) = direction.mulaw_to_pcm(payload, &mut self.converted) {
                    tracing::debug!(call_id = self.call_id, error = %e, "bad caller audio frame dropped");
                    return None;
                }
                write_user_audio_chunk(&mut self.out, &self.converted);
            }
        }
        if let Err(e) = agent.send(AgentMessage::Text(self.agent_text())).await {
            return Some(Ending::AgentLost(e.to_string()));
        }
        None
    }

    /// The agent's formats are known: the caller audio held so far goes out, converted,
    /// oldest first, and the buffer goes.
    async fn release_held(&mut self, agent: &mut AgentSocket) -> Option<Ending> {
        self.format_known = true;
        let (frames, dropped) = self.held.release();
        if dropped > 0 {
            self.engine.bridges.count_held_frames_dropped(dropped);
            tracing::info!(
                call_id = self.call_id,
                dropped,
                "caller audio held too long before the agent's formats were known was dropped"
            );
        }
        for payload in frames {
            if let Some(ending) = self.send_caller_audio(&payload, agent).await {
                return Some(ending);
            }
        }
        None
    }

    /// Handles one agent message; returns an ending when the relay must stop.
    async fn on_agent_message(
        &mut self,
        text: &str,
        twilio: &mut impl MediaSocket,
        agent: &mut AgentSocket,
    ) -> Option<Ending> {
        let message = match parse_server(text) {
            Ok(Server::Audio(frame)) => {
                if let (Some(id), Some(cut)) = (frame.event_id, self.interrupted_up_to) {
                    if id <= cut {
                        return None;
                    }
                }
                self.out.clear();
                match self.transcoding.from_agent.as_mut() {
                    None => write_media(&mut self.out, &self.stream_sid, &frame.payload),
                    Some(direction) => {
                        self.converted.clear();
                        if let Err(e) = direction.pcm_to_mulaw(&frame.payload, &mut self.converted)
                        {
                            tracing::debug!(call_id = self.call_id, error = %e, "bad agent audio dropped");
                            return None;
                        }
                        write_media(&mut self.out, &self.stream_sid, &self.converted);
                    }
                }
                // The Twilio side failing ends the call from Twilio's end.
                if twilio
                    .send(Outgoing::Text(self.twilio_text()))
                    .await
                    .is_err()
                {
                    return Some(Ending::TwilioEnded);
                }
                return None;
            }
            Ok(Server::Other(message)) => message,
            Err(e) => {
                tracing::debug!(call_id = self.call_id, error = %e, "unreadable agent message ignored");
                return None;
            }
        };
        match message {
            ServerMessage::Ping { ping_event } => {
                self.out.clear();
                write_pong(&mut self.out, ping_event.event_id);
                if let Err(e) = agent.send(AgentMessage::Text(self.agent_text())).await {
                    return Some(Ending::AgentLost(e.to_string()));
                }
            }
            ServerMessage::Interruption { interruption_event } => {
                self.interrupted_up_to = Some(interruption_event.event_id);
                self.out.clear();
                write_clear(&mut self.out, &self.stream_sid);
                if twilio
                    .send(Outgoing::Text(self.twilio_text()))
                    .await
                    .is_err()
                {
                    return Some(Ending::TwilioEnded);
                }
            }
            ServerMessage::ConversationInitiationMetadata {
                conversation_initiation_metadata_event: meta,
            } => {
                match Transcoding::for_formats(
                    &meta.user_input_audio_format,
                    &meta.agent_output_audio_format,
                ) {
                    Ok(t) => self.transcoding = t,
                    Err(e) => {
                        return Some(Ending::AgentLost(format!(
                            "unusable agent audio format: {e}"
                        )))
                    }
                }
                // A repeated metadata message changes the conversion, not what was sent.
                if !self.format_known {
                    if let Some(ending) = Box::pin(self.release_held(agent)).await {
                        return Some(ending);
                    }
                }
                let stored = self
                    .engine
                    .store
                    .set_conversation_id(self.call_id, &meta.conversation_id);
                // Boxed so the relay's state is not sized for a database query.
                if let Err(e) = Box::pin(stored).await {
                    tracing::warn!(call_id = self.call_id, error = %e, "storing the conversation id failed");
                }
            }
            ServerMessage::UserTranscript {
                user_transcription_event: e,
            } => {
                self.turn(TurnRole::User, e.user_transcript, e.event_id, None)
                    .await;
            }
            ServerMessage::AgentResponse {
                agent_response_event: e,
            } => {
                self.turn(TurnRole::Agent, e.agent_response, e.event_id, None)
                    .await;
            }
            ServerMessage::AgentResponseCorrection {
                agent_response_correction_event: e,
            } => {
                // What the caller heard before cutting in replaces the reply as sent.
                self.turn(
                    TurnRole::Agent,
                    e.corrected_agent_response,
                    e.event_id,
                    Some(e.original_agent_response),
                )
                .await;
            }
            ServerMessage::ClientToolCall {
                client_tool_call: call,
            } => self.run_tool(call),
            ServerMessage::Error { error_event } => {
                let message = error_event
                    .message
                    .as_deref()
                    .map(parley_domain::mask_phone_numbers);
                tracing::warn!(call_id = self.call_id, message = ?message, "agent reported an error");
            }
            _ => {}
        }
        None
    }

    async fn turn(
        &mut self,
        role: TurnRole,
        text: String,
        event_id: Option<u64>,
        corrects: Option<String>,
    ) {
        let secs = self.started.elapsed().as_secs_f64();
        let turns = self.turns.get_or_insert_with(|| {
            let (turns, rx) = mpsc::channel(TURN_QUEUE);
            tokio::spawn(write_turns(self.engine.clone(), self.call_id, rx));
            turns
        });
        // Bounded: if the database falls behind, the relay waits rather than piling up.
        let _ = turns
            .send(Turn {
                role,
                text,
                secs,
                event_id,
                corrects,
            })
            .await;
    }

    fn run_tool(&mut self, call: parley_elevenlabs::ws::ClientToolCall) {
        let engine = self.engine.clone();
        let ctx = self.ctx.clone();
        self.tools.spawn(async move {
            let result = engine
                .run_tool(&call.tool_name, ctx, call.parameters, ToolVia::Client)
                .await;
            (call.tool_call_id, result)
        });
    }
}

/// The opt-out phrase a callee's words contain, if any.
pub fn opt_out_phrase<'a>(text: &str, phrases: &'a [String]) -> Option<&'a str> {
    let text = text.to_lowercase().replace('\u{2019}', "'");
    phrases
        .iter()
        .find(|p| !p.is_empty() && text.contains(&p.to_lowercase()))
        .map(String::as_str)
}

/// Writes transcript turns in order, off the audio path, and announces each. A callee
/// turn with an opt-out phrase puts the number on the do-not-call list (once per call).
async fn write_turns(engine: Engine, call_id: i64, mut rx: mpsc::Receiver<Turn>) {
    let mut opted_out = false;
    while let Some(turn) = rx.recv().await {
        if turn.role == TurnRole::User && !opted_out {
            if let Some(phrase) =
                opt_out_phrase(&turn.text, &engine.settings.dialer.opt_out_phrases)
            {
                opted_out = true;
                let reason = format!("the callee said \"{phrase}\"");
                if let Err(e) = engine.opt_out(call_id, &reason).await {
                    tracing::warn!(call_id, error = %e, "recording an opt-out failed");
                }
            }
        }
        let event_id = turn.event_id.map(|e| e as i64);
        if let Some(original) = turn.corrects {
            let corrected = engine
                .store
                .correct_transcript_turn(
                    call_id,
                    turn.role,
                    &original,
                    &turn.text,
                    Some(turn.secs),
                    event_id,
                )
                .await;
            if let Err(e) = corrected {
                tracing::warn!(call_id, error = %e, "storing a transcript correction failed");
            }
            engine.events.publish(LiveEvent::TranscriptCorrected {
                call_id,
                role: turn.role,
                original_text: original,
                text: turn.text,
            });
            continue;
        }
        if let Err(e) = engine
            .store
            .add_transcript_turn(call_id, turn.role, &turn.text, Some(turn.secs), event_id)
            .await
        {
            tracing::warn!(call_id, error = %e, "storing a transcript turn failed");
        }
        engine.events.publish(LiveEvent::Transcript {
            call_id,
            role: turn.role,
            text: turn.text,
            time_in_call_secs: turn.secs,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::opt_out_phrase;

    #[test]
    fn opt_out_phrases_match_whatever_the_case_and_apostrophe() {
        let phrases = vec!["stop calling".to_string(), "don't call me".to_string()];
        assert_eq!(
            opt_out_phrase("Please STOP calling me!", &phrases),
            Some("stop calling")
        );
        assert_eq!(
            opt_out_phrase("Don\u{2019}t call me again", &phrases),
            Some("don't call me")
        );
        assert_eq!(opt_out_phrase("Sure, call me tomorrow", &phrases), None);
        assert_eq!(opt_out_phrase("anything", &[String::new()]), None);
    }
}
