//! Agent connections opened before the media stream starts, so the callee does not wait
//! through them after picking up.
//!
//! A signed URL is fetched when the call is placed. When Twilio fetches the call's TwiML
//! (the callee has answered), a task opens the agent WebSocket with it and waits for the
//! call's media stream, which claims the socket on `start` and only has the initiation
//! data left to send. The initiation is not sent early: it would start the agent's
//! conversation (and its greeting, and its clock) before anyone listens, and for calls
//! whose stream never comes (a machine, a hang-up) start conversations nobody hears.
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
use futures::StreamExt;
use parley_domain::call::Call;
use parley_elevenlabs::ws::ClientEvent;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message as AgentMessage;

/// How long a prefetched signed URL is used (ElevenLabs honours one for 15 minutes).
const SIGNED_URL_FRESH: Duration = Duration::from_secs(10 * 60);

/// The waiting connection ran out of time.
const NO_STREAM: CloseFrame = CloseFrame {
    code: super::socket::close_code::NORMAL,
    reason: "no media stream came for the call",
};

/// A claim on a waiting connection: the socket comes back on it once open.
type Claim = oneshot::Sender<Ready>;

/// An open agent socket and the call's initiation data, written while it waited (the
/// call's variables and overrides are set when it is placed); `None` if reading them
/// failed, for the stream to try again.
pub(super) struct Ready {
    pub socket: AgentSocket,
    pub initiation: Option<String>,
}

/// The early connections of this node (see the module docs).
#[derive(Default)]
pub struct EarlyAgents {
    state: Mutex<State>,
    /// Streams that found their agent connection waiting.
    claimed: AtomicU64,
}

#[derive(Default)]
struct State {
    next: u64,
    stopping: bool,
    /// Signed URLs fetched when calls were placed, with when.
    urls: HashMap<i64, (String, Instant)>,
    /// Each call's waiting connection: its number and where to send a claim. Dropping
    /// the sender tells the connection's task to close it.
    waiting: HashMap<i64, (u64, oneshot::Sender<Claim>)>,
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
    fn register(&self, call_id: i64) -> Option<(u64, oneshot::Receiver<Claim>)> {
        let mut state = self.lock();
        if state.stopping {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        let number = state.next;
        state.next += 1;
        state.waiting.insert(call_id, (number, tx));
        Some((number, rx))
    }

    /// Takes connection `number` of `call_id` off the list, if it is still there.
    fn forget(&self, call_id: i64, number: u64) {
        let mut state = self.lock();
        if state
            .waiting
            .get(&call_id)
            .is_some_and(|(n, _)| *n == number)
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
        let (_, sender) = self.lock().waiting.remove(&call_id)?;
        let (claim, socket) = oneshot::channel();
        sender.send(claim).ok()?;
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
        let Some((number, claims)) = self.bridges.early.register(call.id) else {
            return;
        };
        let url = self.bridges.early.take_url(call.id);
        let engine = self.clone();
        let call_id = call.id;
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + wait;
            engine
                .hold_agent(call_id, (number, claims), deadline, (&agent_id, url))
                .await;
            engine.bridges.early.forget(call_id, number);
        });
    }

    /// The task of one early connection: open it, then hand it to the stream that
    /// claims it, or close it when released or out of time.
    async fn hold_agent(
        &self,
        call_id: i64,
        (number, mut claims): (u64, oneshot::Receiver<Claim>),
        deadline: tokio::time::Instant,
        (agent_id, url): (&str, Option<String>),
    ) {
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
        let initiation = match self.initiation_data(call_id).await {
            Ok(data) => Some(ClientEvent::initiation(data).to_json()),
            Err(e) => {
                tracing::warn!(call_id, error = %e, "reading the initiation data failed");
                None
            }
        };
        tracing::debug!(call_id, number, "agent connected ahead of the media stream");
        let claim = match claimed {
            Some(claim) => claim,
            None => loop {
                tokio::select! {
                    claim = &mut claims => match claim {
                        Ok(claim) => break claim,
                        Err(_) => return close_agent(agent, Some(CloseFrame::CALL_ENDED)).await,
                    },
                    () = tokio::time::sleep_until(deadline) => {
                        tracing::info!(call_id, "no media stream came: early agent connection closed");
                        self.bridges.early.forget(call_id, number);
                        return close_agent(agent, Some(NO_STREAM)).await;
                    }
                    message = agent.next() => match message {
                        // The agent gave up first: its close is answered.
                        Some(Ok(AgentMessage::Close(_))) => return close_agent(agent, None).await,
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
