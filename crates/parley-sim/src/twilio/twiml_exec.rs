//! An answered call: fetches and executes TwiML, runs the media stream and the simulated
//! callee on one 20 ms timer, applies REST updates, and ends the call in Twilio's order:
//! `stop` on the stream, close it, the `completed` callback, then the recording callback.

use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use futures::StreamExt;
use parley_audio::mulaw;
use parley_twilio::callbacks::{AmdCallback, RecordingCallback, RecordingStatus};
use parley_twilio::media::{parse_outbound, Outbound, OutboundMessage};
use parley_twilio::{AnsweredBy, CallStatus};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use super::callbacks::{self, Outgoing, Webhook, WebhookError};
use super::callee::{Callee, Frame, Playback};
use super::lifecycle::{describe, CallContext};
use super::media_client::{self, MediaStream, WsReader};
use super::recording::Recorder;
use super::store::{new_sid, Control, EndReason, TwimlSource};
use super::twiml::{self, StreamSpec, TwimlParseError, Verb};
use crate::personas::Pickup;
use crate::voice::{self, FRAME_SAMPLES};

mod dial;

const FRAME: Duration = Duration::from_millis(20);
/// Scripted times at speed 1, in ms.
const HUMAN_AMD_MS: u64 = 1_800;
const AMD_SPEECH_THRESHOLD_MS: u64 = 2_400;
const AMD_SPEECH_END_MS: u64 = 1_200;
const AMD_AFTER_BEEP_MS: u64 = 100;
/// `<Play>` of a URL is not fetched: it plays this much silence per loop.
const PLAY_MS: u64 = 1_000;

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    #[error("twiml url answered http {0} (11200)")]
    Status(u16),
    #[error("twiml response has content type {0:?} (12300)")]
    ContentType(String),
    #[error(transparent)]
    Parse(#[from] TwimlParseError),
    #[error("cannot resolve relative url {0:?}")]
    Relative(String),
}

/// What the TwiML is waiting on.
enum Wait {
    /// Nothing: run the next verb.
    Ready,
    /// Synchronous AMD: the TwiML fetch waits for the verdict.
    Amd,
    /// A `<Connect><Stream>` is open.
    Stream { action: Option<String> },
    /// `<Say>` audio playing out.
    Drain,
    /// `<Pause>`, `<Play>` until this tick.
    Until(u64),
    /// A `<Dial>`ed leg ringing or bridged.
    Dial(Box<dial::DialLeg>),
}

struct AmdPlan {
    verdict: AnsweredBy,
    /// Reported `MachineDetectionDuration` (scripted ms).
    duration_ms: u32,
    at_tick: u64,
    async_callback: Option<Webhook>,
    done: bool,
}

pub(crate) struct LiveCall {
    ctx: CallContext,
    callee: Callee,
    playback: Playback,
    recorder: Option<Recorder>,
    stream: Option<MediaStream>,
    reader: Option<WsReader>,
    forks: Vec<mpsc::Sender<Frame>>,
    verbs: Vec<Verb>,
    next_verb: usize,
    /// URL the current TwiML came from, for relative URLs.
    document_url: Option<String>,
    wait: Wait,
    tick: u64,
    answered_at: Instant,
    callee_hangs_up_at: Option<u64>,
    time_limit_at: u64,
    amd: Option<AmdPlan>,
    answered_by: Option<AnsweredBy>,
    /// The last thing that happened was the app closing the stream.
    closed_by_app: bool,
    /// Audio from the app has reached the callee (its first frame is on record).
    heard_app: bool,
    /// A REST hang-up waiting to be acknowledged once the call has ended.
    pending_ack: Option<oneshot::Sender<()>>,
    /// Callee lines last written to the store (written only on change).
    lines_reported: u32,
    inbound: Frame,
    outbound: Frame,
}

impl LiveCall {
    pub fn new(ctx: CallContext) -> Self {
        let speed = ctx.shared.config.speed_factor();
        let persona = ctx.persona;
        let mut call = Self {
            callee: Callee::new(persona, speed),
            playback: Playback::default(),
            recorder: None,
            stream: None,
            reader: None,
            forks: Vec::new(),
            verbs: Vec::new(),
            next_verb: 0,
            document_url: None,
            wait: Wait::Ready,
            tick: 0,
            answered_at: Instant::now(),
            callee_hangs_up_at: None,
            time_limit_at: 0,
            amd: None,
            answered_by: None,
            closed_by_app: false,
            heard_app: false,
            pending_ack: None,
            lines_reported: 0,
            inbound: [mulaw::SILENCE; FRAME_SAMPLES],
            outbound: [mulaw::SILENCE; FRAME_SAMPLES],
            ctx,
        };
        call.callee_hangs_up_at = persona.hangs_up_after_ms.map(|ms| call.ticks(ms));
        call.time_limit_at = call.ticks(u64::from(call.ctx.request.time_limit_secs) * 1000);
        call.amd = call.plan_amd();
        call
    }

    /// Ticks (20 ms, real time) that a scripted duration takes.
    fn ticks(&self, ms: u64) -> u64 {
        (self.ctx.scaled(ms).as_secs_f64() / FRAME.as_secs_f64()).ceil() as u64
    }

    fn plan_amd(&self) -> Option<AmdPlan> {
        let request = self.ctx.request.amd.as_ref()?;
        let (verdict, ms) = match self.ctx.persona.pickup {
            Pickup::Machine => {
                let greeting = Callee::machine_greeting_ms(self.ctx.persona);
                if request.detect_message_end {
                    (AnsweredBy::MachineEndBeep, greeting + AMD_AFTER_BEEP_MS)
                } else {
                    let speech = greeting - super::callee::BEEP_MS;
                    let ms = if speech > AMD_SPEECH_THRESHOLD_MS {
                        AMD_SPEECH_THRESHOLD_MS
                    } else {
                        speech + AMD_SPEECH_END_MS
                    };
                    (AnsweredBy::MachineStart, ms)
                }
            }
            _ => (AnsweredBy::Human, HUMAN_AMD_MS),
        };
        let timeout_ms = u64::from(request.timeout_secs) * 1000;
        let (verdict, ms) = if ms > timeout_ms {
            (AnsweredBy::Unknown, timeout_ms)
        } else {
            (verdict, ms)
        };
        Some(AmdPlan {
            verdict,
            duration_ms: ms as u32,
            at_tick: self.ticks(ms),
            async_callback: request.async_callback.clone(),
            done: false,
        })
    }

    pub async fn run(mut self) {
        let reason = self.answer().await;
        let reason = match reason {
            Some(reason) => reason,
            None => self.event_loop().await,
        };
        self.finish(reason).await;
    }

    /// Marks the call answered, reports it, and starts the TwiML (unless sync AMD holds it).
    async fn answer(&mut self) -> Option<EndReason> {
        self.answered_at = Instant::now();
        let recording_sid = self.ctx.request.record.as_ref().map(|record| {
            let sid = new_sid("RE");
            self.recorder = Some(Recorder::new(sid.clone(), record.dual));
            sid
        });
        {
            let mut store = self.ctx.shared.store.lock().expect("store lock");
            store.update(&self.ctx.facts.sid, |call| {
                call.status = CallStatus::InProgress;
                call.answered = Some(Utc::now());
                call.recording_sid = recording_sid.clone();
            });
        }
        self.ctx.report(CallStatus::InProgress, |_| {}).await;
        if let (Some(record), Some(sid)) = (&self.ctx.request.record, &recording_sid) {
            if record.in_progress {
                if let Some(hook) = record.callback.clone() {
                    let params = self.recording_params(sid, RecordingStatus::InProgress, None);
                    self.ctx.callbacks.send(Outgoing { hook, params }).await;
                }
            }
        }
        if self
            .amd
            .as_ref()
            .is_some_and(|plan| plan.async_callback.is_none())
        {
            self.wait = Wait::Amd;
            return None;
        }
        let source = self.ctx.request.instructions.clone();
        self.load(&source, true, None).await
    }

    async fn event_loop(&mut self) -> EndReason {
        let mut interval = tokio::time::interval(FRAME);
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            let ended = tokio::select! {
                _ = interval.tick() => self.on_tick().await,
                message = next_message(&mut self.reader) => self.on_stream_message(message).await,
                Some(control) = self.ctx.control.recv() => self.on_control(control).await,
            };
            if let Some(reason) = ended {
                return reason;
            }
        }
    }

    async fn on_tick(&mut self) -> Option<EndReason> {
        self.tick += 1;
        let audible = self.playback.next_frame(&mut self.outbound);
        for name in self.playback.reached_marks() {
            self.send_mark(name).await;
        }
        self.callee
            .hear(&self.outbound, audible, self.playback.is_empty());
        self.callee.speak(&mut self.inbound);
        if let Some(recorder) = self.recorder.as_mut() {
            recorder.push(&self.inbound, &self.outbound);
        }
        self.forks.retain(|fork| !fork.is_closed());
        for fork in &self.forks {
            // A lagging fork loses frames rather than holding up the call.
            let _ = fork.try_send(self.inbound);
        }
        if let Some(stream) = self.stream.as_mut() {
            if stream.send_media(&self.inbound).await.is_err() {
                return self.stream_closed_by_app().await;
            }
        }
        self.update_lines_spoken();

        if self.callee_hangs_up_at.is_some_and(|at| self.tick >= at) {
            return Some(EndReason::CalleeHungUp);
        }
        if self.tick >= self.time_limit_at {
            return Some(EndReason::TimeLimit);
        }
        if let Some(reason) = self.check_amd().await {
            return Some(reason);
        }
        if matches!(self.wait, Wait::Dial(_)) {
            return self.on_dial_tick().await;
        }
        let verb_done = match self.wait {
            Wait::Drain => self.playback.is_empty(),
            Wait::Until(tick) => self.tick >= tick,
            _ => false,
        };
        if verb_done {
            self.wait = Wait::Ready;
            return self.advance().await;
        }
        None
    }

    fn update_lines_spoken(&mut self) {
        let spoken = self.callee.lines_spoken();
        if spoken == self.lines_reported {
            return;
        }
        self.lines_reported = spoken;
        let mut store = self.ctx.shared.store.lock().expect("store lock");
        store.update(&self.ctx.facts.sid, |call| {
            call.callee_lines_spoken = spoken
        });
    }

    async fn check_amd(&mut self) -> Option<EndReason> {
        let plan = self.amd.as_mut()?;
        if plan.done || self.tick < plan.at_tick {
            return None;
        }
        plan.done = true;
        let (verdict, duration_ms) = (plan.verdict, plan.duration_ms);
        let async_callback = plan.async_callback.clone();
        self.answered_by = Some(verdict);
        {
            let mut store = self.ctx.shared.store.lock().expect("store lock");
            store.update(&self.ctx.facts.sid, |call| call.answered_by = Some(verdict));
        }
        match async_callback {
            Some(hook) => {
                let params = AmdCallback {
                    account_sid: self.ctx.facts.account_sid.clone(),
                    call_sid: self.ctx.facts.sid.clone(),
                    answered_by: verdict,
                    detection_duration_ms: Some(duration_ms),
                }
                .to_params();
                self.ctx.callbacks.send(Outgoing { hook, params }).await;
                None
            }
            None => {
                // Synchronous AMD: the TwiML request now carries the verdict.
                let source = self.ctx.request.instructions.clone();
                self.wait = Wait::Ready;
                self.load(&source, true, Some((verdict, duration_ms))).await
            }
        }
    }

    async fn on_stream_message(
        &mut self,
        message: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Option<EndReason> {
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                self.record_stream_close(media_client::close_code(frame.as_ref()));
                if let Some(stream) = self.stream.take() {
                    stream.answer_close().await;
                }
                return self.stream_closed_by_app().await;
            }
            Some(Err(_)) | None => {
                self.record_stream_close(media_client::ABNORMAL_CLOSE);
                return self.stream_closed_by_app().await;
            }
            // Pings are answered by tungstenite; binary frames mean nothing here.
            Some(Ok(_)) => return None,
        };
        let own_sid = self.stream.as_ref().map(|s| s.stream_sid.as_str());
        match parse_outbound(text.as_str()) {
            Ok(Outbound::Media(media)) => {
                if Some(media.stream_sid.as_ref()) != own_sid {
                    tracing::debug!("twilio sim: media for another stream ignored");
                    return None;
                }
                let mut audio = Vec::with_capacity(media.payload.len() * 3 / 4);
                if base64::engine::general_purpose::STANDARD
                    .decode_vec(media.payload.as_bytes(), &mut audio)
                    .is_ok()
                {
                    if !self.heard_app {
                        self.heard_app = true;
                        let mut store = self.ctx.shared.store.lock().expect("store lock");
                        store.update(&self.ctx.facts.sid, |call| {
                            call.first_app_audio = Some(Utc::now());
                        });
                    }
                    self.playback.push_audio(&audio);
                }
            }
            Ok(Outbound::Other(OutboundMessage::Mark { mark, .. })) => {
                if let Some(name) = self.playback.push_mark(mark.name) {
                    self.send_mark(name).await;
                }
            }
            Ok(Outbound::Other(OutboundMessage::Clear { .. })) => {
                for name in self.playback.clear() {
                    self.send_mark(name).await;
                }
            }
            Ok(Outbound::Other(OutboundMessage::Media { .. })) => {}
            Err(error) => tracing::debug!(%error, "twilio sim: malformed stream message ignored"),
        }
        None
    }

    async fn send_mark(&mut self, name: String) {
        if let Some(stream) = self.stream.as_mut() {
            let _ = stream.send_mark(name).await;
        }
    }

    /// The app closed the socket: `<Connect>` ends and TwiML continues (or its `action`).
    async fn stream_closed_by_app(&mut self) -> Option<EndReason> {
        self.stream = None;
        self.reader = None;
        self.playback.clear();
        let action = match std::mem::replace(&mut self.wait, Wait::Ready) {
            Wait::Stream { action } => action,
            _ => None,
        };
        self.closed_by_app = true;
        if let Some(action) = action {
            let source = match self.resolve(&action) {
                Ok(url) => TwimlSource::Url {
                    url,
                    method_get: false,
                },
                Err(error) => {
                    tracing::warn!(%error, "twilio sim: connect action unusable");
                    return Some(EndReason::ApplicationError);
                }
            };
            return self.load(&source, false, None).await;
        }
        self.advance().await
    }

    async fn on_control(&mut self, control: Control) -> Option<EndReason> {
        match control {
            Control::HangUp(ack) => {
                self.pending_ack = Some(ack);
                Some(EndReason::ApiHangUp)
            }
            // Canceling affects only calls not yet answered.
            Control::Cancel(ack) => {
                let _ = ack.send(());
                None
            }
            Control::Redirect(source, ack) => {
                self.stop_stream().await;
                self.playback.clear();
                self.wait = Wait::Ready;
                let _ = ack.send(());
                self.load(&source, false, None).await
            }
        }
    }

    async fn stop_stream(&mut self) {
        let reader = self.reader.take();
        if let Some(stream) = self.stream.take() {
            let code = stream.stop(reader).await;
            self.record_stream_close(code);
        }
    }

    /// Keeps the first close code seen on the stream socket.
    fn record_stream_close(&self, code: u16) {
        let mut store = self.ctx.shared.store.lock().expect("store lock");
        store.update(&self.ctx.facts.sid, |call| {
            call.stream_close_code.get_or_insert(code);
        });
    }

    /// Fetches (or parses inline) TwiML, replaces the program and runs it.
    async fn load(
        &mut self,
        source: &TwimlSource,
        initial: bool,
        amd: Option<(AnsweredBy, u32)>,
    ) -> Option<EndReason> {
        let mut result = self.fetch(source, amd).await;
        if result.is_err() && initial {
            if let Some(fallback) = self.ctx.request.fallback.clone() {
                let source = TwimlSource::Url {
                    url: fallback.url,
                    method_get: fallback.method_get,
                };
                result = self.fetch(&source, amd).await;
            }
        }
        match result {
            Ok((verbs, url)) => self.run_document(verbs, url).await,
            Err(error) => {
                tracing::warn!(%error, twiml = describe(source), "twilio sim: application error");
                Some(EndReason::ApplicationError)
            }
        }
    }

    /// Replaces the program with `verbs` (from `url`, when fetched) and runs it.
    async fn run_document(&mut self, verbs: Vec<Verb>, url: Option<String>) -> Option<EndReason> {
        self.verbs = verbs;
        self.next_verb = 0;
        if url.is_some() {
            self.document_url = url;
        }
        self.advance().await
    }

    async fn fetch(
        &self,
        source: &TwimlSource,
        amd: Option<(AnsweredBy, u32)>,
    ) -> Result<(Vec<Verb>, Option<String>), FetchError> {
        let (url, method_get) = match source {
            TwimlSource::Inline(xml) => return Ok((twiml::parse(xml)?, None)),
            TwimlSource::Url { url, method_get } => (url, *method_get),
        };
        let hook = Webhook {
            url: url.clone(),
            method_get,
        };
        let params = callbacks::twiml_request_params(&self.ctx.facts, amd);
        let shared = &self.ctx.shared;
        {
            let mut store = shared.store.lock().expect("store lock");
            store.update(&self.ctx.facts.sid, |call| {
                call.twiml_requested.get_or_insert_with(Utc::now);
            });
        }
        Ok((self.request_twiml(&hook, &params).await?, Some(url.clone())))
    }

    /// Requests TwiML from `hook` (signed) and parses it, refusing what Twilio refuses.
    async fn request_twiml(
        &self,
        hook: &Webhook,
        params: &[(String, String)],
    ) -> Result<Vec<Verb>, FetchError> {
        let shared = &self.ctx.shared;
        let http = (&shared.http, shared.config.network_delay);
        let response = callbacks::request(http, &shared.config.auth_token, hook, params).await?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !(content_type.contains("xml") || content_type.starts_with("text/html")) {
            return Err(FetchError::ContentType(content_type));
        }
        let body = response.bytes().await.map_err(WebhookError::from)?;
        if body.len() > twiml::MAX_DOCUMENT_BYTES {
            return Err(TwimlParseError::TooLarge.into());
        }
        Ok(twiml::parse(&String::from_utf8_lossy(&body))?)
    }

    fn resolve(&self, target: &str) -> Result<String, FetchError> {
        if url::Url::parse(target).is_ok() {
            return Ok(target.to_owned());
        }
        self.document_url
            .as_deref()
            .and_then(|base| url::Url::parse(base).ok())
            .and_then(|base| base.join(target).ok())
            .map(String::from)
            .ok_or_else(|| FetchError::Relative(target.to_owned()))
    }

    /// Runs verbs until one has to wait; `Some` when the TwiML ends the call.
    async fn advance(&mut self) -> Option<EndReason> {
        loop {
            let Some(verb) = self.verbs.get(self.next_verb).cloned() else {
                return Some(if self.closed_by_app {
                    EndReason::StreamClosedByApp
                } else {
                    EndReason::TwimlEnded
                });
            };
            self.next_verb += 1;
            self.closed_by_app = false;
            match verb {
                Verb::Connect { stream, action } => {
                    let Some(spec) = stream else { continue };
                    if self.open_stream(&spec).await {
                        self.wait = Wait::Stream { action };
                        return None;
                    }
                }
                Verb::Start(Some(spec)) => {
                    let spec = self.stream_spec(spec);
                    let shared = &self.ctx.shared;
                    self.forks.push(media_client::spawn_fork(
                        spec,
                        self.ctx.facts.clone(),
                        (
                            shared.config.auth_token.clone(),
                            shared.config.network_delay,
                        ),
                    ));
                }
                Verb::Start(None) => {}
                Verb::Say { text, loops } => {
                    let ms = self.ctx.scaled(voice::speaking_ms(&text)).as_millis() as u64;
                    let speech = voice::tone_mulaw(voice::AGENT_VOICE_HZ, ms.max(20));
                    for _ in 0..loops.min(10) {
                        self.playback.push_audio(&speech);
                    }
                    self.wait = Wait::Drain;
                    return None;
                }
                Verb::Play { loops, .. } => {
                    let ms = PLAY_MS * u64::from(loops.min(10));
                    self.wait = Wait::Until(self.tick + self.ticks(ms));
                    return None;
                }
                Verb::Pause { secs } => {
                    self.wait = Wait::Until(self.tick + self.ticks(u64::from(secs) * 1000));
                    return None;
                }
                Verb::Dial(spec) => {
                    self.start_dial(spec);
                    return None;
                }
                Verb::Hangup | Verb::Reject => return Some(EndReason::TwimlHangUp),
                Verb::Redirect { url, method_get } => {
                    let source = match self.resolve(&url) {
                        Ok(url) => TwimlSource::Url { url, method_get },
                        Err(error) => {
                            tracing::warn!(%error, "twilio sim: redirect unusable");
                            return Some(EndReason::ApplicationError);
                        }
                    };
                    return Box::pin(self.load(&source, false, None)).await;
                }
            }
        }
    }

    /// A relative stream URL resolves against the TwiML URL, with a WebSocket scheme.
    fn stream_spec(&self, mut spec: StreamSpec) -> StreamSpec {
        if url::Url::parse(&spec.url).is_err() {
            if let Ok(resolved) = self.resolve(&spec.url) {
                spec.url = resolved
                    .replacen("https://", "wss://", 1)
                    .replacen("http://", "ws://", 1);
            }
        }
        spec
    }

    /// Opens a bidirectional stream; false (error 31920) lets the TwiML fall through.
    async fn open_stream(&mut self, spec: &StreamSpec) -> bool {
        let spec = self.stream_spec(spec.clone());
        let config = &self.ctx.shared.config;
        let opened = media_client::open(
            &spec,
            &self.ctx.facts,
            &config.auth_token,
            config.network_delay,
        );
        match opened.await {
            Ok((stream, reader)) => {
                self.stream = Some(stream);
                self.reader = Some(reader);
                let mut store = self.ctx.shared.store.lock().expect("store lock");
                store.update(&self.ctx.facts.sid, |call| {
                    call.stream_connected = true;
                    call.stream_started.get_or_insert_with(Utc::now);
                });
                true
            }
            Err(error) => {
                tracing::warn!(%error, url = %spec.url, "twilio sim: stream failed");
                false
            }
        }
    }

    fn recording_params(
        &self,
        recording_sid: &str,
        status: RecordingStatus,
        duration_secs: Option<u32>,
    ) -> Vec<(String, String)> {
        let record = self.ctx.request.record.as_ref();
        let started = self
            .recorder
            .as_ref()
            .map(|r| r.started)
            .unwrap_or_else(Utc::now);
        RecordingCallback {
            account_sid: self.ctx.facts.account_sid.clone(),
            call_sid: self.ctx.facts.sid.clone(),
            recording_sid: recording_sid.to_owned(),
            recording_url: Some(callbacks::recording_url(&self.ctx.facts, recording_sid)),
            recording_status: status,
            recording_duration_secs: duration_secs,
            recording_channels: Some(if record.is_some_and(|r| r.dual) { 2 } else { 1 }),
            recording_start_time: Some(parley_twilio::callbacks::format_timestamp(&started)),
            recording_source: Some("OutboundAPI".into()),
            recording_track: Some("both".into()),
            error_code: None,
        }
        .to_params()
    }

    /// Ends the call: stream `stop` and close, store, `completed` callback, recording.
    async fn finish(mut self, reason: EndReason) {
        self.stop_stream().await;
        self.forks.clear();
        // Reported in simulated time, like the scaled `Timeout` and `TimeLimit`: a call
        // cut off by a 10 s limit reports 10 s at any speed.
        let elapsed =
            self.answered_at.elapsed().as_secs_f64() * self.ctx.shared.config.speed_factor();
        let duration_secs = elapsed.ceil().max(1.0) as u32;
        let recording = self
            .recorder
            .take()
            .map(|recorder| recorder.finish(self.ctx.facts.sid.clone()));
        let recording_info = recording
            .as_ref()
            .map(|r| (r.sid.clone(), r.duration_secs()));
        {
            let mut store = self.ctx.shared.store.lock().expect("store lock");
            if let Some(recording) = recording {
                store.add_recording(recording);
            }
            store.end(&self.ctx.facts.sid, |call| {
                call.status = CallStatus::Completed;
                call.ended = Some(Utc::now());
                call.duration_secs = Some(duration_secs);
                call.end_reason = Some(reason);
                call.callee_lines_spoken = self.callee.lines_spoken();
            });
        }
        if let Some(ack) = self.pending_ack.take() {
            let _ = ack.send(());
        }
        let answered_by = self.answered_by;
        let facts = self.ctx.facts.clone();
        let recording_fields = recording_info.clone();
        self.ctx
            .report(CallStatus::Completed, |cb| {
                cb.call_duration_secs = Some(duration_secs);
                cb.billed_minutes = Some(duration_secs.div_ceil(60));
                cb.sip_response_code = Some(200);
                cb.answered_by = answered_by;
                if let Some((sid, secs)) = recording_fields {
                    cb.recording_url = Some(callbacks::recording_url(&facts, &sid));
                    cb.recording_sid = Some(sid);
                    cb.recording_duration_secs = Some(secs);
                }
            })
            .await;
        let record = self.ctx.request.record.clone();
        if let (Some(record), Some((sid, secs))) = (record, recording_info) {
            if let (true, Some(hook)) = (record.completed, record.callback) {
                let params = self.recording_params(&sid, RecordingStatus::Completed, Some(secs));
                self.ctx.callbacks.send(Outgoing { hook, params }).await;
            }
        }
    }
}

/// The next message of the open stream, or never when there is none.
async fn next_message(
    reader: &mut Option<WsReader>,
) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
    match reader.as_mut() {
        Some(reader) => reader.next().await,
        None => std::future::pending().await,
    }
}
