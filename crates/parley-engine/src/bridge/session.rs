//! One bridged call: authenticate the Twilio stream, open the agent conversation, relay
//! until either side ends, then end the other side and record why.
use super::early::Initiation;
use super::hold::Held;
use super::quality::Quality;
use super::relay::{AgentSocket, Ending, Relay};
use super::socket::{close_code, CloseFrame, MediaSocket, Outgoing, Received, SocketError};
use super::{SOCKET_READ_BUFFER, SOCKET_WRITE_BUFFER};
use crate::events::LiveEvent;
use crate::tools::CALL_ID_VARIABLE;
use crate::Engine;
use futures::{SinkExt, StreamExt};
use parley_domain::call::{Call, TerminationSource};
use parley_elevenlabs::ws::{
    AgentOverride, ClientEvent, ConfigOverride, DynamicValue, InitiationClientData, PromptOverride,
    TtsOverride,
};
use parley_twilio::media::{parse_inbound, Inbound, InboundMessage, StartInfo};
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message as AgentMessage, Utf8Bytes};
use tracing::Instrument;

/// Twilio sends `connected` then `start`; a stream that sends more before its `start`
/// is not Twilio. (How long it may take is `http.media_start_timeout_secs`.)
const MESSAGES_BEFORE_START: usize = 4;
pub(super) const AGENT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the agent conversation could not be opened.
#[derive(Debug, thiserror::Error)]
pub(super) enum AgentConnectError {
    #[error("no agent id")]
    NoAgent,
    #[error("signed URL request timed out")]
    SignedUrlTimeout,
    #[error("signed URL request failed: {0}")]
    SignedUrl(parley_elevenlabs::ElevenLabsError),
    #[error("agent connection timed out")]
    ConnectTimeout,
    #[error("agent connection failed: {0}")]
    Connect(tokio_tungstenite::tungstenite::Error),
    #[error(transparent)]
    Store(#[from] parley_store::StoreError),
    #[error("sending the conversation data failed: {0}")]
    Initiation(tokio_tungstenite::tungstenite::Error),
}

#[derive(Debug, thiserror::Error)]
enum SetupError {
    /// Twilio said `stop` first: the call ended before its stream started.
    #[error("no start message: stopped")]
    StoppedBeforeStart,
    /// The socket closed first (the call ended, or the socket broke).
    #[error("no start message: socket closed")]
    ClosedBeforeStart,
    /// Not Twilio's stream: the peer broke the protocol before any `start`.
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
    /// The `reason` label of `parley_bridge_streams_unbridged_total`.
    fn reason(&self) -> &'static str {
        match self {
            SetupError::StoppedBeforeStart => "stopped_before_start",
            SetupError::ClosedBeforeStart => "closed_before_start",
            SetupError::NoStart(_) => "no_start",
            SetupError::Unauthenticated => "unauthenticated",
            SetupError::Socket(e) if e.too_big => "too_big",
            SetupError::Socket(_) => "socket_error",
            SetupError::Store(_) => "internal",
        }
    }

    /// The close frame that tells the other side why (nothing to say to a broken socket
    /// or about our own database).
    fn close_frame(&self) -> Option<CloseFrame> {
        let (code, reason) = match self {
            SetupError::StoppedBeforeStart => return Some(CloseFrame::CALL_ENDED),
            SetupError::ClosedBeforeStart => return None,
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
    /// `primed`: the call whose conversation this stream's signed handshake started (see
    /// `early`), to be closed if the stream does not authenticate as that call.
    pub async fn run_media_stream(
        &self,
        twilio: impl MediaSocket,
        unauthenticated: OwnedSemaphorePermit,
        primed: Option<i64>,
    ) {
        // Boxed, here and around the relay: a future awaited inline is laid out again in
        // every enclosing one (the server's upgrade task included), which doubled the memory
        // each call holds for its whole length.
        if let Some(call_id) = Box::pin(self.bridge(twilio, unauthenticated, primed)).await {
            self.publish(LiveEvent::StreamEnded { call_id });
        }
    }

    /// Bridges one stream; returns the call id once both sides are closed (`None` when
    /// the stream never authenticated).
    async fn bridge(
        &self,
        mut twilio: impl MediaSocket,
        unauthenticated: OwnedSemaphorePermit,
        primed: Option<i64>,
    ) -> Option<i64> {
        let Some((_registration, mut going_away)) = self.bridges.register() else {
            close_twilio(&mut twilio, CloseFrame::SHUTTING_DOWN).await;
            return None;
        };
        // Setup and teardown futures are boxed: held inline, the largest of them would
        // size this task for the whole call (memory per call is a target).
        let authenticated = Box::pin(self.authenticate_stream(&mut twilio, unauthenticated)).await;
        let authenticated = match (authenticated, primed) {
            (Ok(found), Some(named)) if found.1.id != named => Err(SetupError::Unauthenticated),
            (authenticated, _) => authenticated,
        };
        let (mut start, call, mut quality) = match authenticated {
            Ok(found) => found,
            Err(e) => {
                if let Some(named) = primed {
                    // The conversation its handshake started has no stream to hear it.
                    self.bridges.early.release(named);
                }
                metrics::counter!("parley_bridge_streams_unbridged_total", "reason" => e.reason())
                    .increment(1);
                if self.bridges.refusals.ready() {
                    tracing::warn!(error = %e, "media stream refused");
                }
                match e.close_frame() {
                    Some(frame) => close_twilio(&mut twilio, frame).await,
                    // Twilio closed (or the socket broke): its close is answered.
                    None => drain_twilio(&mut twilio).await,
                }
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
        let setup_started = std::time::Instant::now();
        let setup = tracing::info_span!("agent_setup", call_id, campaign_id = call.campaign_id, node = %self.node);
        let connected = tokio::select! {
            agent = Box::pin(self.connect_agent(&call).instrument(setup)) => agent,
            () = wait_until_gone(&mut twilio, &mut held, &mut quality) => {
                tracing::info!(call_id, "call ended while the agent was connecting");
                let why = (TerminationSource::Callee, Some("hung up before the agent joined"));
                self.record_bridge_end(call_id, Some(why), &quality).await;
                drain_twilio(&mut twilio).await;
                return Some(call_id);
            }
            _ = &mut going_away => {
                let why = (TerminationSource::System, Some(SHUTDOWN_REASON));
                self.record_bridge_end(call_id, Some(why), &quality).await;
                close_twilio(&mut twilio, CloseFrame::SHUTTING_DOWN).await;
                return Some(call_id);
            }
        };
        let agent = match connected {
            Ok(agent) => {
                metrics::histogram!("parley_bridge_agent_setup_seconds")
                    .record(setup_started.elapsed().as_secs_f64());
                agent
            }
            Err(reason) => {
                tracing::warn!(call_id, %reason, "agent unreachable");
                let reason = format!("agent unreachable: {reason}");
                let why = (TerminationSource::System, Some(reason.as_str()));
                let ended = self.end_call(
                    &mut twilio,
                    (call_id, &start),
                    why,
                    (AGENT_FAILED, &quality),
                );
                Box::pin(ended).await;
                return Some(call_id);
            }
        };

        let (agent, said) = agent;
        let mut relay = Relay::new(
            self.clone(),
            &call,
            start.stream_sid.clone(),
            (held, quality),
        );
        // The call row (numbers, ids, analysis...) is not needed while the call lasts.
        drop(call);
        let relayed = relay.run(&mut twilio, (agent, said), &mut going_away);
        let (ending, agent) = Box::pin(relayed).await;
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
        let quality = &relay.quality;
        match ending {
            Ending::AgentEnded => {
                let why = (TerminationSource::Agent, None);
                let close = (CloseFrame::CALL_ENDED, &**quality);
                let ended = self.end_call(&mut twilio, (call_id, &start), why, close);
                Box::pin(ended).await;
            }
            Ending::AgentLost(reason) => {
                let reason = format!("agent connection lost: {reason}");
                let why = (TerminationSource::System, Some(reason.as_str()));
                let close = (AGENT_FAILED, &**quality);
                Box::pin(self.end_call(&mut twilio, (call_id, &start), why, close)).await;
            }
            Ending::NodeShutdown => {
                // Twilio ends the call when the stream closes (nothing follows it in the
                // TwiML); the status callback completes the record.
                let why = (TerminationSource::System, Some(SHUTDOWN_REASON));
                self.record_bridge_end(call_id, Some(why), quality).await;
                close_twilio(&mut twilio, CloseFrame::SHUTTING_DOWN).await;
            }
            Ending::TwilioEnded => {
                // Why Twilio ended the stream (hang-up, time limit, redirect) is for its
                // status callback to say. Twilio sends its close frame right after `stop`;
                // reading it answers it (the library echoes its code) and lets the socket
                // close cleanly, where dropping it unread resets it. The figures are
                // stored after: nothing else is written, and Twilio need not wait for it.
                drain_twilio(&mut twilio).await;
                self.record_bridge_end(call_id, None, quality).await;
            }
        }
        Some(call_id)
    }

    /// Reads up to Twilio's `start` and checks the call id and one-time token it carries.
    async fn authenticate_stream(
        &self,
        twilio: &mut impl MediaSocket,
        unauthenticated: OwnedSemaphorePermit,
    ) -> Result<(StartInfo, Call, Box<Quality>), SetupError> {
        let _unauthenticated = unauthenticated;
        let deadline = self.settings.http.media_start_timeout();
        let start = tokio::time::timeout(deadline, async {
            for _ in 0..MESSAGES_BEFORE_START {
                let msg = match twilio.recv().await {
                    Some(Ok(msg)) => msg,
                    Some(Err(e)) => return Err(SetupError::Socket(e)),
                    None => return Err(SetupError::ClosedBeforeStart),
                };
                let Received::Text(text) = msg else { continue };
                match InboundMessage::parse(&text) {
                    Ok(InboundMessage::Start { start, .. }) => {
                        return Ok((start, Quality::answered()))
                    }
                    Ok(InboundMessage::Stop { .. }) => return Err(SetupError::StoppedBeforeStart),
                    _ => continue,
                }
            }
            Err(SetupError::NoStart("too many messages before start"))
        })
        .await
        .map_err(|_| SetupError::NoStart("no start message in time"))??;
        let (start, quality) = start;
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
        Ok((start, call, quality))
    }

    /// Opens the agent conversation, on the connection opened when the TwiML was fetched
    /// if there is one (see `early`), else on a new one, and sends the initiation data
    /// unless the stream's handshake had it sent. Returns the socket with what the agent
    /// has said on it already, for the relay to take first.
    async fn connect_agent(
        &self,
        call: &Call,
    ) -> Result<(AgentSocket, Vec<Utf8Bytes>), AgentConnectError> {
        let (mut agent, initiation) = match self.bridges.early.claim(call.id).await {
            Some(ready) => (ready.socket, ready.initiation),
            None => {
                let agent_id = self.agent_of(call).ok_or(AgentConnectError::NoAgent)?;
                let socket = self.open_agent_socket(&agent_id, None).await?;
                (socket, Initiation::Unread)
            }
        };
        let initiation = match initiation {
            Initiation::Sent(said) => return Ok((agent, said)),
            Initiation::Prepared(json) => json,
            Initiation::Unread => {
                ClientEvent::initiation(self.initiation_data(call.id).await?).to_json()
            }
        };
        agent
            .send(AgentMessage::text(initiation))
            .await
            .map_err(AgentConnectError::Initiation)?;
        Ok((agent, Vec::new()))
    }

    /// Opens an agent WebSocket with `signed_url`, or a fresh one when `None`.
    pub(super) async fn open_agent_socket(
        &self,
        agent_id: &str,
        signed_url: Option<String>,
    ) -> Result<AgentSocket, AgentConnectError> {
        let signed = match signed_url {
            Some(url) => url,
            None => self.signed_url(agent_id).await?,
        };
        connect_to_agent(&signed).await
    }

    /// Dynamic variables and overrides stored with the call when it was placed.
    pub(super) async fn initiation_data(
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
        if options.first_message.is_some()
            || options.prompt.is_some()
            || options.language.is_some()
            || options.voice_id.is_some()
        {
            data.conversation_config_override = Some(ConfigOverride {
                agent: Some(AgentOverride {
                    first_message: options.first_message,
                    prompt: options.prompt.map(|p| PromptOverride {
                        prompt: Some(p),
                        llm: None,
                    }),
                    language: options.language,
                }),
                // Only a voice the contact's field names; the agent's own otherwise.
                tts: options.voice_id.map(|voice_id| TtsOverride {
                    voice_id: Some(voice_id),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        Ok(data)
    }

    /// Ends the call from Parley's side: records why (with the call's figures), closes
    /// the stream with `frame`, then hangs up through Twilio. The stream goes first so
    /// Twilio hears the code, rather than ending the stream itself for the hang-up.
    /// Failures are logged: the call may already be over.
    async fn end_call(
        &self,
        twilio: &mut impl MediaSocket,
        (call_id, start): (i64, &StartInfo),
        why: (TerminationSource, Option<&str>),
        (frame, quality): (CloseFrame, &Quality),
    ) {
        self.record_bridge_end(call_id, Some(why), quality).await;
        close_twilio(twilio, frame).await;
        self.hang_up_stream(call_id, start).await;
    }

    async fn hang_up_stream(&self, call_id: i64, start: &StartInfo) {
        if let Err(e) = self.telephony.twilio.hang_up(&start.call_sid).await {
            tracing::warn!(call_id, error = %e, "hang-up failed");
        }
    }
}

/// Opens the agent WebSocket at a signed URL: `wss://` (TLS, as ElevenLabs serves it) or
/// `ws://` (the simulator).
async fn connect_to_agent(url: &str) -> Result<AgentSocket, AgentConnectError> {
    let config = WebSocketConfig::default()
        .read_buffer_size(SOCKET_READ_BUFFER)
        .write_buffer_size(SOCKET_WRITE_BUFFER);
    let (agent, _) = tokio::time::timeout(
        AGENT_CONNECT_TIMEOUT,
        tokio_tungstenite::connect_async_with_config(url, Some(config), true),
    )
    .await
    .map_err(|_| AgentConnectError::ConnectTimeout)?
    .map_err(AgentConnectError::Connect)?;
    Ok(Box::new(agent))
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
pub(super) async fn close_agent(mut agent: AgentSocket, frame: Option<CloseFrame>) {
    use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame as Frame};
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        let sent = match frame {
            Some(frame) => {
                let frame = Frame {
                    code: CloseCode::from(frame.code),
                    reason: frame.reason.into(),
                };
                // The stream's own close (with a frame), not `SinkExt::close` on the box.
                (*agent).close(Some(frame)).await
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
async fn wait_until_gone(twilio: &mut impl MediaSocket, held: &mut Held, quality: &mut Quality) {
    loop {
        match twilio.recv().await {
            Some(Ok(Received::Close)) | None => return,
            Some(Ok(Received::Text(text))) => match parse_inbound(&text) {
                Ok(Inbound::Media(frame)) => {
                    quality.caller_frame(std::time::Instant::now(), frame.timestamp_ms());
                    held.push(&frame.payload);
                }
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
pub(super) async fn close_if_too_big(twilio: &mut impl MediaSocket, e: &SocketError) {
    if e.too_big {
        let close = twilio.send(Outgoing::Close(Some(CloseFrame {
            code: close_code::SIZE,
            reason: "message too big",
        })));
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, close).await;
    }
}

#[cfg(test)]
mod tests {
    use super::connect_to_agent;
    use std::time::Duration;
    use tokio::io::AsyncReadExt;

    /// ElevenLabs' signed URLs are `wss://`: a build without TLS for the agent socket
    /// would fail every real call before a byte is sent.
    #[tokio::test]
    async fn an_agent_url_with_wss_is_opened_over_tls() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("wss://127.0.0.1:{port}/v1/convai/conversation?agent_id=a");
        let client = tokio::spawn(async move { connect_to_agent(&url).await.map(drop) });
        let accepted = tokio::time::timeout(Duration::from_secs(10), listener.accept()).await;
        let (mut peer, _) = accepted
            .unwrap_or_else(|_| panic!("no connection was made: {:?}", client.is_finished()))
            .unwrap();
        let mut record = [0u8; 3];
        peer.read_exact(&mut record).await.unwrap();
        assert_eq!(
            record[0], 0x16,
            "a TLS handshake record (the ClientHello) comes first"
        );
        assert_eq!(record[1], 3, "TLS record version 3.x");
        drop(peer);
        assert!(client.await.unwrap().is_err(), "the handshake went nowhere");
    }
}
