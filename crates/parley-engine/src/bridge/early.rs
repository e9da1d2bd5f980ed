//! Agent connections opened before the media stream starts, so the callee does not wait
//! through them after picking up.
//!
//! A signed URL is fetched when the call is placed. When Twilio fetches the call's TwiML
//! (the callee has answered), a task opens the agent WebSocket with it and waits for the
//! call's media stream, which claims the socket on `start` and only has the initiation
//! data left to send. The initiation is not sent at the TwiML fetch: it would start the
//! agent's conversation (and its greeting, and its clock) before anyone listens, and for
//! calls whose stream never comes (a machine, a hang-up) start conversations nobody hears.
//!
//! It is sent sooner when the stream's handshake reaches this node signed by Twilio and
//! naming the call (`/twilio/media/{call_id}`, see [`EarlyAgents::prime`]): the stream is
//! then here and about to start, and the agent's greeting travels back while Twilio's
//! `start` is on its way, one round trip to Twilio that the callee no longer waits
//! through. The agent's messages are kept (bounded) until the stream claims the socket.
//! A primed conversation whose stream does not start within the media-start timeout is
//! closed; so is one whose stream fails to authenticate.
//!
//! Each call has at most one waiting connection, held by its task, never longer than
//! `calls.agent_early_connect_secs`. It is closed (1000, with a reason) when the call
//! reaches a final status, when an answering machine ends it, when the node shuts down
//! and when the wait runs out; a later TwiML fetch for the same call replaces it.
//! Where the stream reaches another node than the TwiML fetch, that node connects on its
//! own and this connection runs out.
use super::relay::AgentSocket;
use super::session::{close_agent, AgentConnectError};
use super::socket::CloseFrame;
use crate::Engine;
use futures::{SinkExt, StreamExt};
use parley_domain::call::Call;
use parley_elevenlabs::ws::ClientEvent;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::{Message as AgentMessage, Utf8Bytes};

/// How long a prefetched signed URL is used (ElevenLabs honours one for 15 minutes).
const SIGNED_URL_FRESH: Duration = Duration::from_secs(10 * 60);

/// The waiting connection ran out of time.
const NO_STREAM: CloseFrame = CloseFrame {
    code: super::socket::close_code::NORMAL,
    reason: "no media stream came for the call",
};

/// A claim on a waiting connection: the socket comes back on it once open.
type Claim = oneshot::Sender<Ready>;

/// Agent messages kept for a primed stream are at most this many bytes; beyond it the
/// socket is not read, and the agent waits (TCP holds the rest).
const PRIMED_KEPT_BYTES: usize = 256 * 1024;

/// An open agent socket and where its conversation stands.
pub(super) struct Ready {
    pub socket: AgentSocket,
    pub initiation: Initiation,
}

/// The call's initiation data (its variables and overrides are set when it is placed).
pub(super) enum Initiation {
    /// Written while the socket waited, for the stream to send.
    Prepared(String),
    /// Sent at the stream's handshake; what the agent said since, oldest first.
    Sent(Vec<Utf8Bytes>),
    /// Reading it failed: the stream tries again.
    Unread,
}

impl Initiation {
    /// The prepared data, to be sent now: what follows is kept as `Sent`. `None` (and
    /// nothing changed) when there is none.
    fn take_prepared(&mut self) -> Option<String> {
        match std::mem::replace(self, Initiation::Sent(Vec::new())) {
            Initiation::Prepared(json) => Some(json),
            other => {
                *self = other;
                None
            }
        }
    }
}

/// The early connections of this node (see the module docs).
#[derive(Default)]
pub struct EarlyAgents {
    state: Mutex<State>,
    /// Streams that found their agent connection waiting.
    claimed: AtomicU64,
    /// Conversations started at their stream's handshake.
    primed: AtomicU64,
}

/// One waiting connection, as the list holds it.
struct Waiting {
    number: u64,
    /// Where to send a claim; dropping it tells the connection's task to close it.
    claims: oneshot::Sender<Claim>,
    /// Where to say that the stream's handshake has come (taken when it is said).
    prime: Option<oneshot::Sender<()>>,
}

/// The ends a connection's task listens on.
struct Signals {
    claims: oneshot::Receiver<Claim>,
    prime: oneshot::Receiver<()>,
}

#[derive(Default)]
struct State {
    next: u64,
    stopping: bool,
    /// Signed URLs fetched when calls were placed, with when.
    urls: HashMap<i64, (String, Instant)>,
    /// Each call's waiting connection.
    waiting: HashMap<i64, Waiting>,
}

impl EarlyAgents {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections waiting for their stream.
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }

    /// Media streams on this node that found their agent connection opened ahead.
    pub fn claimed(&self) -> u64 {
        self.claimed.load(Ordering::Relaxed)
    }

    /// Agent conversations started at their media stream's handshake.
    pub fn primed(&self) -> u64 {
        self.primed.load(Ordering::Relaxed)
    }

    /// The media stream of `call_id` is connecting to this node, its handshake signed by
    /// Twilio: the waiting connection sends the initiation now (once open). Whether one
    /// was waiting.
    pub(crate) fn prime(&self, call_id: i64) -> bool {
        let sender = self
            .lock()
            .waiting
            .get_mut(&call_id)
            .and_then(|waiting| waiting.prime.take());
        let primed = sender.is_some_and(|sender| sender.send(()).is_ok());
        if primed {
            self.primed.fetch_add(1, Ordering::Relaxed);
        }
        primed
    }

    /// Closes every waiting connection and opens no more (the node is going away).
    pub fn shut_down(&self) {
        let mut state = self.lock();
        state.stopping = true;
        state.waiting.clear();
        state.urls.clear();
    }

    fn keep_url(&self, call_id: i64, url: String) {
        let mut state = self.lock();
        let now = Instant::now();
        state
            .urls
            .retain(|_, (_, at)| now.duration_since(*at) < SIGNED_URL_FRESH);
        if !state.stopping {
            state.urls.insert(call_id, (url, now));
        }
    }

    fn take_url(&self, call_id: i64) -> Option<String> {
        let (url, at) = self.lock().urls.remove(&call_id)?;
        (at.elapsed() < SIGNED_URL_FRESH).then_some(url)
    }

    /// Registers a new waiting connection for `call_id` (replacing, and so closing, any
    /// earlier one); `None` once the node is shutting down.
    fn register(&self, call_id: i64) -> Option<(u64, Signals)> {
        let mut state = self.lock();
        if state.stopping {
            return None;
        }
        let (claims, claims_rx) = oneshot::channel();
        let (prime, prime_rx) = oneshot::channel();
        let number = state.next;
        state.next += 1;
        let waiting = Waiting {
            number,
            claims,
            prime: Some(prime),
        };
        state.waiting.insert(call_id, waiting);
        let signals = Signals {
            claims: claims_rx,
            prime: prime_rx,
        };
        Some((number, signals))
    }

    /// Takes connection `number` of `call_id` off the list, if it is still there.
    fn forget(&self, call_id: i64, number: u64) {
        let mut state = self.lock();
        if state
            .waiting
            .get(&call_id)
            .is_some_and(|waiting| waiting.number == number)
        {
            state.waiting.remove(&call_id);
        }
    }

    /// Closes what waits for `call_id`: its connection and its signed URL.
    pub(crate) fn release(&self, call_id: i64) {
        let mut state = self.lock();
        state.urls.remove(&call_id);
        state.waiting.remove(&call_id);
    }

    /// The socket waiting for `call_id` (once it is open); `None` when there is none or
    /// it failed to open.
    pub(super) async fn claim(&self, call_id: i64) -> Option<Ready> {
        let waiting = self.lock().waiting.remove(&call_id)?;
        let (claim, socket) = oneshot::channel();
        waiting.claims.send(claim).ok()?;
        let socket = socket.await.ok()?;
        self.claimed.fetch_add(1, Ordering::Relaxed);
        Some(socket)
    }
}

impl Engine {
    fn early_wait(&self) -> Option<Duration> {
        let secs = self.settings.calls.agent_early_connect_secs;
        (secs > 0).then(|| Duration::from_secs(secs.into()))
    }

    /// Fetches a signed URL for a call just placed, for its agent connection to use.
    pub(crate) fn prefetch_signed_url(&self, call: &Call) {
        if self.early_wait().is_none() {
            return;
        }
        let Some(agent_id) = self.agent_of(call) else {
            return;
        };
        let engine = self.clone();
        let call_id = call.id;
        tokio::spawn(async move {
            match engine.signed_url(&agent_id).await {
                Ok(url) => engine.bridges.early.keep_url(call_id, url),
                Err(e) => tracing::debug!(call_id, error = %e, "signed URL prefetch failed"),
            }
        });
    }

    /// Opens the agent connection for a call whose TwiML Twilio is fetching.
    pub(crate) fn connect_agent_early(&self, call: &Call) {
        let Some(wait) = self.early_wait() else {
            return;
        };
        let Some(agent_id) = self.agent_of(call) else {
            return;
        };
        let Some((number, signals)) = self.bridges.early.register(call.id) else {
            return;
        };
        let url = self.bridges.early.take_url(call.id);
        let engine = self.clone();
        let call_id = call.id;
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + wait;
            engine
                .hold_agent(call_id, (number, signals), deadline, (&agent_id, url))
                .await;
            engine.bridges.early.forget(call_id, number);
        });
    }

    /// The task of one early connection: open it, then hand it to the stream that
    /// claims it, or close it when released or out of time.
    async fn hold_agent(
        &self,
        call_id: i64,
        (number, signals): (u64, Signals),
        deadline: tokio::time::Instant,
        (agent_id, url): (&str, Option<String>),
    ) {
        let Signals { mut claims, prime } = signals;
        let mut handshake = Handshake::new(prime);
        let mut deadline = deadline;
        // Opening is bounded (AGENT_CONNECT_TIMEOUT); a release meanwhile is remembered,
        // so that the socket, once open, is closed properly rather than dropped.
        let open = self.open_agent_socket(agent_id, url);
        tokio::pin!(open);
        let (mut claimed, mut released) = (None, false);
        let opened = loop {
            tokio::select! {
                opened = &mut open => break opened,
                claim = &mut claims, if claimed.is_none() && !released => match claim {
                    Ok(claim) => claimed = Some(claim),
                    Err(_) => released = true,
                },
                signal = handshake.signal(), if handshake.listening() => {
                    self.on_handshake(&mut handshake, signal, &mut deadline);
                }
            }
        };
        let mut agent = match opened {
            Ok(agent) => agent,
            Err(e) => {
                // A claim waiting is answered by its sender going: the stream connects.
                tracing::warn!(call_id, error = %e, "early agent connection failed");
                return;
            }
        };
        if released {
            return close_agent(agent, Some(CloseFrame::CALL_ENDED)).await;
        }
        let mut initiation = match self.initiation_data(call_id).await {
            Ok(data) => Initiation::Prepared(ClientEvent::initiation(data).to_json()),
            Err(e) => {
                tracing::warn!(call_id, error = %e, "reading the initiation data failed");
                Initiation::Unread
            }
        };
        tracing::debug!(call_id, number, "agent connected ahead of the media stream");
        let mut kept_bytes = 0;
        let claim = match claimed {
            Some(claim) => claim,
            None => loop {
                if let Some(json) = handshake.came.then(|| initiation.take_prepared()).flatten() {
                    if let Err(e) = agent.send(AgentMessage::text(json)).await {
                        // A claim waiting is answered by its sender going: the stream connects.
                        tracing::warn!(call_id, error = %e, "sending the initiation at the handshake failed");
                        return;
                    }
                    tracing::debug!(
                        call_id,
                        "agent conversation started at the stream's handshake"
                    );
                }
                let room = kept_bytes < PRIMED_KEPT_BYTES;
                tokio::select! {
                    claim = &mut claims => match claim {
                        Ok(claim) => break claim,
                        Err(_) => return close_agent(agent, Some(CloseFrame::CALL_ENDED)).await,
                    },
                    signal = handshake.signal(), if handshake.listening() => {
                        self.on_handshake(&mut handshake, signal, &mut deadline);
                    }
                    () = tokio::time::sleep_until(deadline) => {
                        tracing::info!(call_id, "no media stream came: early agent connection closed");
                        self.bridges.early.forget(call_id, number);
                        return close_agent(agent, Some(NO_STREAM)).await;
                    }
                    message = agent.next(), if room => match message {
                        // The agent gave up first: its close is answered.
                        Some(Ok(AgentMessage::Close(_))) => return close_agent(agent, None).await,
                        Some(Ok(AgentMessage::Text(text))) => {
                            if let Initiation::Sent(kept) = &mut initiation {
                                kept_bytes += text.len();
                                kept.push(text);
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => return,
                    },
                }
            },
        };
        let ready = Ready {
            socket: agent,
            initiation,
        };
        if let Err(ready) = claim.send(ready) {
            // The stream went away while the socket opened.
            close_agent(ready.socket, Some(CloseFrame::CALL_ENDED)).await;
        }
    }

    /// The prime signal came (the stream has the media-start timeout to start), or its
    /// sender went (the connection was claimed or released).
    fn on_handshake(
        &self,
        handshake: &mut Handshake,
        signal: Result<(), oneshot::error::RecvError>,
        deadline: &mut tokio::time::Instant,
    ) {
        handshake.prime = None;
        if signal.is_ok() {
            handshake.came = true;
            let start_by = tokio::time::Instant::now() + self.settings.http.media_start_timeout();
            *deadline = (*deadline).min(start_by);
        }
    }

    /// A media stream's handshake, signed by Twilio, names `call_id`: its waiting agent
    /// connection starts the conversation now. Whether one did.
    pub fn on_signed_stream_handshake(&self, call_id: i64) -> bool {
        self.agent_starts_at_handshake() && self.bridges.early.prime(call_id)
    }

    /// Whether a stream whose handshake names its call starts the agent then.
    pub(crate) fn agent_starts_at_handshake(&self) -> bool {
        self.early_wait().is_some() && self.settings.calls.agent_starts_at_handshake
    }

    /// A fresh signed URL for `agent_id`.
    pub(super) async fn signed_url(&self, agent_id: &str) -> Result<String, AgentConnectError> {
        tokio::time::timeout(
            super::session::AGENT_CONNECT_TIMEOUT,
            self.telephony.elevenlabs.get_signed_url(agent_id),
        )
        .await
        .map_err(|_| AgentConnectError::SignedUrlTimeout)?
        .map_err(AgentConnectError::SignedUrl)
    }

    /// The agent a call talks to.
    pub(super) fn agent_of(&self, call: &Call) -> Option<String> {
        call.agent_id
            .clone()
            .or_else(|| self.telephony.default_agent_id.clone())
    }
}

/// What a waiting connection knows of its stream's handshake.
struct Handshake {
    /// Where the signal comes; `None` once it came or its sender went.
    prime: Option<oneshot::Receiver<()>>,
    /// The handshake has come: the initiation goes out as soon as it can.
    came: bool,
}

impl Handshake {
    fn new(prime: oneshot::Receiver<()>) -> Self {
        Self {
            prime: Some(prime),
            came: false,
        }
    }

    fn listening(&self) -> bool {
        self.prime.is_some()
    }

    async fn signal(&mut self) -> Result<(), oneshot::error::RecvError> {
        match self.prime.as_mut() {
            Some(prime) => prime.await,
            None => std::future::pending().await,
        }
    }
}
