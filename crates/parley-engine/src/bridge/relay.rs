//! One call's relay: caller audio to the agent, agent audio to the caller, and what the
//! agent says along the way (transcripts, corrections, pings, interruptions, tools).
use super::audio::Transcoding;
use super::hold::Held;
use super::quality::Quality;
use super::session::close_if_too_big;
use super::socket::{MediaSocket, Outgoing, Received, Text};
use crate::events::LiveEvent;
use crate::tools::{ToolContext, ToolResult};
use crate::Engine;
use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use parley_domain::call::{Call, TurnRole};
use parley_domain::tool::ToolVia;
use parley_elevenlabs::ws::{
    parse_server, write_pong, write_user_audio_chunk, ClientEvent, Server, ServerMessage,
};
use parley_twilio::media::{parse_inbound, write_clear, write_media, Inbound, InboundMessage};
use std::time::Instant;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::{Message as AgentMessage, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Boxed: a call's futures and the early-connection map move the socket from place to
/// place, and every future that holds it by value (connecting, the relay, closing) would
/// otherwise lay out its 300-odd bytes again for the whole call.
pub(super) type AgentSocket = Box<WebSocketStream<MaybeTlsStream<TcpStream>>>;

/// Room for one relayed 20 ms frame's JSON (~350 bytes); larger messages grow it.
const OUT_CAPACITY: usize = 512;
/// Transcript turns waiting for the database before the relay waits too.
const TURN_QUEUE: usize = 64;

/// Why the relay stopped.
#[derive(Debug)]
pub(super) enum Ending {
    /// The agent ended the conversation (normal close).
    AgentEnded,
    /// The agent connection broke.
    AgentLost(String),
    /// Twilio said the stream is over (hang-up, redirect) or closed the socket.
    TwilioEnded,
    /// This node is shutting down.
    NodeShutdown,
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
pub(super) struct Relay {
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
    /// What the call's figures come to so far (stored when it ends).
    pub(super) quality: Box<Quality>,
}

impl Relay {
    pub(super) fn new(
        engine: Engine,
        call: &Call,
        stream_sid: String,
        (held, quality): (Held, Box<Quality>),
    ) -> Relay {
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
            quality,
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
    /// `said`: what the agent sent before the stream took its socket, taken first.
    pub(super) async fn run(
        &mut self,
        twilio: &mut impl MediaSocket,
        (mut agent, said): (AgentSocket, Vec<Utf8Bytes>),
        going_away: &mut oneshot::Receiver<()>,
    ) -> (Ending, Option<AgentSocket>) {
        // What the agent said before the relay began goes first (see `early`).
        let mut said = self.take_said(said, twilio, &mut agent).await;
        let ending = loop {
            if let Some(ending) = said.take() {
                break ending;
            }
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

    /// Handles what the agent said before the relay began, in order.
    async fn take_said(
        &mut self,
        said: Vec<Utf8Bytes>,
        twilio: &mut impl MediaSocket,
        agent: &mut AgentSocket,
    ) -> Option<Ending> {
        for text in said {
            if let Some(ending) = self.on_agent_message(text.as_str(), twilio, agent).await {
                return Some(ending);
            }
        }
        None
    }

    /// Handles one Twilio message; returns an ending when the stream is over.
    async fn on_twilio_message(&mut self, text: &str, agent: &mut AgentSocket) -> Option<Ending> {
        let arrived = Instant::now();
        match parse_inbound(text) {
            Ok(Inbound::Media(frame)) => {
                self.quality.caller_frame(arrived, frame.timestamp_ms());
                if self.format_known {
                    return self
                        .send_caller_audio(&frame.payload, Some(arrived), agent)
                        .await;
                }
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

    /// Sends one frame of caller audio to the agent, in the format it asked for; `arrived`
    /// when it is relayed as it came (not from the hold).
    async fn send_caller_audio(
        &mut self,
        payload: &str,
        arrived: Option<Instant>,
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
        self.quality.relayed_to_agent(arrived);
        None
    }

    /// The agent's formats are known: the caller audio held so far goes out, converted,
    /// oldest first, and the buffer goes.
    async fn release_held(&mut self, agent: &mut AgentSocket) -> Option<Ending> {
        self.format_known = true;
        let (mut frames, dropped) = self.held.release();
        if dropped > 0 {
            self.engine.bridges.count_held_frames_dropped(dropped);
            tracing::info!(
                call_id = self.call_id,
                dropped,
                "caller audio held too long before the agent's formats were known was dropped"
            );
        }
        while let Some(payload) = frames.next_payload() {
            if let Some(ending) = self.send_caller_audio(payload, None, agent).await {
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
        let arrived = Instant::now();
        let message = match parse_server(text) {
            Ok(Server::Audio(frame)) => {
                self.quality.agent_frame();
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
                self.quality.relayed_to_caller(arrived);
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
                self.quality.interruption();
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
                self.quality.caller_turn_ended();
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
