//! `GET /api/v1/events`: live events for dashboards over a WebSocket. Authenticated like
//! every `/api/v1` route; a browser's cookie-authenticated handshake must come from this
//! server's own origin, since browsers send cookies on cross-site WebSocket handshakes.
//!
//! Each socket reads the in-process event bus (which PostgreSQL NOTIFY fills with the
//! other nodes' events). A client too slow to keep up loses events and gets `resync`,
//! and one that stops reading is disconnected: neither ever slows calls down.
//!
//! Sockets are capped per credential and per node, accept only small messages (the
//! client has nothing to say but pongs), and re-check their credential every
//! `http.events_recheck_secs`: a revoked key, a disabled user or a signed-out session
//! closes the socket with 1008 and the reason.
use super::analytics::{self, Totals};
use crate::auth::{self, Credential, Principal};
use crate::error::extract::{Query, WebSocketUpgrade};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::AppState;
use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::Extension;
use chrono::{DateTime, Utc};
use parley_engine::events::LiveEvent;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{interval, interval_at, timeout, Instant, MissedTickBehavior};
use utoipa::{IntoParams, ToSchema};

const METRICS_EVERY: Duration = Duration::from_secs(5);
const PING_EVERY: Duration = Duration::from_secs(20);
/// A socket silent (not even a pong) for this long is gone.
const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// A send that takes longer means the client stopped reading: disconnect it.
const SEND_LIMIT: Duration = Duration::from_secs(10);
/// Calls whose campaign a `campaign_id` filter remembers.
const KNOWN_CALLS: usize = 4096;
/// The client only answers pings (and closes): nothing it sends needs more.
const MAX_INCOMING_MESSAGE: usize = 1024;
/// Per-socket buffers; the library's default is 128 KiB each way.
const READ_BUFFER: usize = 4 * 1024;
const WRITE_BUFFER: usize = 8 * 1024;

/// Open live-events sockets, per credential and in total.
pub struct LiveSockets {
    max_total: usize,
    max_per_credential: usize,
    open: Mutex<OpenSockets>,
}

#[derive(Default)]
struct OpenSockets {
    total: usize,
    per_credential: HashMap<String, usize>,
}

impl LiveSockets {
    pub fn new(max_total: usize, max_per_credential: usize) -> LiveSockets {
        LiveSockets {
            max_total,
            max_per_credential,
            open: Mutex::new(OpenSockets::default()),
        }
    }

    /// A place for one more socket of `credential`, or the error that refuses it.
    fn admit(self: &Arc<Self>, credential: &Credential) -> ApiResult<LiveSocketSlot> {
        let key = match credential {
            Credential::Session { token_hash, .. } => format!("session:{token_hash}"),
            Credential::ApiKey { id, .. } => format!("api_key:{id}"),
        };
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.total >= self.max_total {
            return Err(ApiError::new(
                ErrorCode::ServiceUnavailable,
                "this server has as many live-event sockets open as it allows; try again later",
            ));
        }
        let mine = open.per_credential.entry(key.clone()).or_default();
        if *mine >= self.max_per_credential {
            return Err(ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "at most {} live-event sockets may be open per session or API key; close one",
                    self.max_per_credential
                ),
            ));
        }
        *mine += 1;
        open.total += 1;
        Ok(LiveSocketSlot {
            sockets: self.clone(),
            key,
        })
    }
}

/// One open socket's place; given back when dropped.
struct LiveSocketSlot {
    sockets: Arc<LiveSockets>,
    key: String,
}

impl Drop for LiveSocketSlot {
    fn drop(&mut self) {
        let mut open = self.sockets.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(mine) = open.per_credential.get_mut(&self.key) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                open.per_credential.remove(&self.key);
            }
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only events about this call.
    pub call_id: Option<i64>,
    /// Only events about this campaign and its calls (metrics too).
    pub campaign_id: Option<i64>,
}

/// What the server says on the socket besides live events.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControlMessage {
    /// First message on every socket.
    Hello { server_time: DateTime<Utc> },
    /// Events were lost (the client fell behind): refetch what is shown from the REST API.
    Resync,
    /// Every 5 seconds (and right after `hello`).
    Metrics {
        /// Calls not over right now.
        calls_in_progress: i64,
        /// Calls created since 00:00 UTC.
        today: Totals,
    },
}

/// One server-to-client text message on `GET /api/v1/events`, JSON with a `type` tag:
/// `hello`, `resync`, `metrics`, or a live event (`call_started`, `call_updated`,
/// `transcript`, `call_ended`, `call_analyzed`, `recording_ready`, `campaign_changed`,
/// `progress_changed`, `contact_opted_out`, `stream_ended`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LiveMessage {
    Control(ControlMessage),
    Event(LiveEvent),
}

/// Upgrades to a WebSocket of [`LiveMessage`]s (server to client only; ping/pong keep it
/// alive).
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventsQuery),
    responses((status = 101, description = "WebSocket of LiveMessage JSON texts", body = LiveMessage),
              (status = 400, description = "not a WebSocket handshake, or a query that cannot be read", body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, description = "cookie-authenticated from another origin", body = crate::error::ErrorBody),
              (status = 429, description = "this session or API key has `http.events_max_sockets_per_credential` sockets open", body = crate::error::ErrorBody),
              (status = 503, description = "the node has `http.events_max_sockets` sockets open", body = crate::error::ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
    WebSocketUpgrade(upgrade): WebSocketUpgrade,
) -> ApiResult<Response> {
    if matches!(principal.credential, Credential::Session { .. }) {
        check_origin(&state, &headers)?;
    }
    let slot = state.live_sockets.admit(&principal.credential)?;
    let filter = Filter::new(&q);
    let credential = principal.credential;
    let upgrade = upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(MAX_INCOMING_MESSAGE)
        .max_frame_size(MAX_INCOMING_MESSAGE);
    Ok(upgrade.on_upgrade(move |socket| async move {
        let _slot = slot;
        if let Err(e) = stream(state, socket, filter, credential).await {
            tracing::debug!(error = %e, "live events socket closed");
        }
    }))
}

/// Accepts a missing `Origin` (not a browser) or one naming this server: the host the
/// request was sent to, or the configured public URL.
fn check_origin(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin
        .to_str()
        .ok()
        .and_then(|o| url::Url::parse(o).ok())
        .map(|u| u.origin());
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let same_host = origin.as_ref().is_some_and(|o| match o {
        url::Origin::Tuple(_, h, port) => {
            host.is_some_and(|host| host == format!("{h}:{port}") || host == h.to_string())
        }
        url::Origin::Opaque(_) => false,
    });
    let public = state.settings.public_base_url.as_ref().map(|u| u.origin());
    if same_host || (origin.is_some() && origin == public) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "live events with a session cookie must come from this server's own pages",
        ))
    }
}

/// Which events a socket wants.
struct Filter {
    call_id: Option<i64>,
    campaign_id: Option<i64>,
    /// For a campaign filter: whether each recently seen call belongs to the campaign.
    known: HashMap<i64, bool>,
    order: VecDeque<i64>,
}

impl Filter {
    fn new(q: &EventsQuery) -> Filter {
        Filter {
            call_id: q.call_id,
            campaign_id: q.campaign_id,
            known: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    async fn wants(&mut self, state: &AppState, event: &LiveEvent) -> bool {
        if let Some(id) = self.call_id {
            if event.call_id() != Some(id) {
                return false;
            }
        }
        let Some(campaign_id) = self.campaign_id else {
            return true;
        };
        match event {
            LiveEvent::CampaignChanged { campaign_id: c, .. }
            | LiveEvent::ProgressChanged { campaign_id: c }
            | LiveEvent::SheetWritesChanged { campaign_id: c } => *c == campaign_id,
            LiveEvent::CallStarted {
                call_id,
                campaign_id: c,
            } => self.remember(*call_id, *c == Some(campaign_id)),
            other => match other.call_id() {
                Some(call_id) => match self.known.get(&call_id) {
                    Some(ours) => *ours,
                    None => {
                        // A call that started before this socket: ask the database once.
                        let ours = state
                            .store
                            .get_call(call_id)
                            .await
                            .is_ok_and(|c| c.campaign_id == Some(campaign_id));
                        self.remember(call_id, ours)
                    }
                },
                None => false,
            },
        }
    }

    fn remember(&mut self, call_id: i64, ours: bool) -> bool {
        if self.known.insert(call_id, ours).is_none() {
            self.order.push_back(call_id);
            if self.order.len() > KNOWN_CALLS {
                if let Some(old) = self.order.pop_front() {
                    self.known.remove(&old);
                }
            }
        }
        ours
    }
}

#[derive(Debug, thiserror::Error)]
enum StreamError {
    #[error("socket: {0}")]
    Socket(#[from] axum::Error),
    #[error("the client stopped reading")]
    SendTimeout,
    #[error("the client went silent")]
    Idle,
    #[error("cannot encode a message: {0}")]
    Encode(#[from] serde_json::Error),
}

async fn send(socket: &mut WebSocket, message: &LiveMessage) -> Result<(), StreamError> {
    let text = serde_json::to_string(message)?;
    timeout(SEND_LIMIT, socket.send(Message::Text(text.into())))
        .await
        .map_err(|_| StreamError::SendTimeout)??;
    Ok(())
}

async fn metrics(state: &AppState, campaign_id: Option<i64>) -> ApiResult<LiveMessage> {
    let (calls_in_progress, today) = tokio::try_join!(
        async { Ok(state.store.calls_in_progress(campaign_id).await?) },
        analytics::today(state, campaign_id),
    )?;
    Ok(LiveMessage::Control(ControlMessage::Metrics {
        calls_in_progress,
        today,
    }))
}

async fn stream(
    state: AppState,
    mut socket: WebSocket,
    mut filter: Filter,
    credential: Credential,
) -> Result<(), StreamError> {
    // Subscribe before saying hello, so nothing published after the hello is missed.
    let mut events = state.engine.events.subscribe();
    send(
        &mut socket,
        &LiveMessage::Control(ControlMessage::Hello {
            server_time: Utc::now(),
        }),
    )
    .await?;
    let mut metrics_tick = interval(METRICS_EVERY);
    metrics_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut ping_tick = interval(PING_EVERY);
    ping_tick.tick().await;
    let every = state.settings.http.events_recheck();
    let mut recheck = interval_at(Instant::now() + every, every);
    recheck.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut heard = Instant::now();
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    if filter.wants(&state, &event).await {
                        send(&mut socket, &LiveMessage::Event(event)).await?;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    send(&mut socket, &LiveMessage::Control(ControlMessage::Resync)).await?;
                }
                Err(RecvError::Closed) => return Ok(()),
            },
            _ = metrics_tick.tick() => match metrics(&state, filter.campaign_id).await {
                Ok(message) => send(&mut socket, &message).await?,
                Err(e) => tracing::warn!(error = %e.message, "live metrics unavailable"),
            },
            _ = recheck.tick() => match auth::revoked(&state, &credential).await {
                Ok(None) => {}
                Ok(Some(reason)) => {
                    let close = Message::Close(Some(CloseFrame {
                        code: close_code::POLICY,
                        reason: reason.into(),
                    }));
                    let _ = timeout(SEND_LIMIT, socket.send(close)).await;
                    return Ok(());
                }
                // A database hiccup is no reason to drop dashboards; the next check decides.
                Err(e) => tracing::warn!(error = %e.message, "cannot re-check a live-events credential"),
            },
            _ = ping_tick.tick() => {
                if heard.elapsed() > IDLE_LIMIT {
                    return Err(StreamError::Idle);
                }
                timeout(SEND_LIMIT, socket.send(Message::Ping(Default::default())))
                    .await
                    .map_err(|_| StreamError::SendTimeout)??;
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None => return Ok(()),
                Some(Ok(_)) => heard = Instant::now(),
                Some(Err(e)) => {
                    // Over `MAX_INCOMING_MESSAGE`: close 1009, so the client learns why
                    // (as media streams do).
                    if crate::webhooks::media_socket::is_too_big(&e) {
                        let close = Message::Close(Some(CloseFrame {
                            code: close_code::SIZE,
                            reason: "message too big".into(),
                        }));
                        let _ = timeout(SEND_LIMIT, socket.send(close)).await;
                    }
                    return Err(e.into());
                }
            },
        }
    }
}
