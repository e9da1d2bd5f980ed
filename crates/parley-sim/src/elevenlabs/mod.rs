//! A faithful ElevenLabs Agents simulator (reference `elevenlabs.md`, sections F–I).
//!
//! Serves signed URLs, the conversation WebSocket and the conversations REST API, and sends
//! signed post-call webhooks. The agent "hears" callees by the tone of their voice (see
//! [`crate::personas`]) and follows each persona's script: transcripts, replies spoken as
//! tones, client tool calls, interruptions, and ending the call.
//!
//! Magic agent ids make failures reachable from the outside: see [`magic`].

mod agent_voice;
mod agents;
mod config;
mod conversation;
mod error;
mod pings;
mod record;
mod rest;
mod signed_url;
mod socket;
mod speech;
mod store;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub use config::{ElevenLabsSimConfig, ServerTools, SimAgent};
pub use record::{EndedBy, SimConversation, SimToolCall, SimToolResult, WebhookDelivery};
pub use store::{SimSocket, UnstartedEnd};

use agent_voice::AgentVoice;
use error::ApiError;
use signed_url::Signer;
use store::Store;

/// Agent ids that make the simulator fail on purpose.
pub mod magic {
    /// The signed-URL endpoint answers 500.
    pub const SIGNED_URL_FAILS: &str = "agent_signed_url_fails";
    /// The WebSocket is dropped (no close frame) right after the greeting.
    pub const DROPS: &str = "agent_drops";
    /// 404, as for an agent that does not exist.
    pub const UNKNOWN: &str = "agent_unknown";
    /// Calls its tools as server (webhook) tools over HTTP, as configured in
    /// [`super::ServerTools`], instead of as client tools over the WebSocket.
    pub const SERVER_TOOLS: &str = "agent_server_tools";
}

pub(crate) const CONVERSATION_PATH: &str = "/v1/convai/conversation";

/// State shared by every request and conversation of one simulator.
#[derive(Debug)]
pub(crate) struct Inner {
    pub config: ElevenLabsSimConfig,
    pub store: Store,
    pub signer: Signer,
    pub agent_voice: AgentVoice,
    pub http: reqwest::Client,
    /// `true` once the simulator stops: live conversations close with 1001.
    pub stopping: watch::Sender<bool>,
}

/// The ElevenLabs simulator. Cheap to clone; clones share state.
#[derive(Debug, Clone)]
pub struct ElevenLabsSim {
    pub(crate) inner: Arc<Inner>,
}

impl ElevenLabsSim {
    pub fn new(config: ElevenLabsSimConfig) -> Self {
        let agent_voice = AgentVoice::new(config.output_format());
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("static reqwest configuration is valid");
        Self {
            inner: Arc::new(Inner {
                config,
                store: Store::default(),
                signer: Signer::new(),
                agent_voice,
                http,
                stopping: watch::Sender::new(false),
            }),
        }
    }

    pub fn config(&self) -> &ElevenLabsSimConfig {
        &self.inner.config
    }

    /// All routes, to serve alone or merge into another router (paths are `/v1/convai/...`).
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/v1/convai/conversation/get-signed-url",
                get(signed_url::get_signed_url),
            )
            .route(
                "/v1/convai/conversation/get_signed_url",
                get(signed_url::get_signed_url),
            )
            .route(CONVERSATION_PATH, get(socket::connect))
            .route("/v1/convai/agents", get(agents::list_agents))
            .route("/v1/convai/agents/{agent_id}", get(agents::get_agent))
            .route(
                "/v1/convai/conversations/{conversation_id}",
                get(rest::get_conversation),
            )
            .route(
                "/v1/convai/conversations/{conversation_id}/audio",
                get(rest::get_conversation_audio),
            )
            .with_state(self.clone())
    }

    /// Binds `addr` and serves the simulator in a background task.
    pub async fn spawn(
        config: ElevenLabsSimConfig,
        addr: SocketAddr,
    ) -> std::io::Result<RunningElevenLabsSim> {
        let delay = config.network_delay;
        let sim = Self::new(config);
        let (listener, addr, proxy) = crate::net_delay::bind(addr, delay).await?;
        let (stop, stopped) = oneshot::channel::<()>();
        let router = sim.router();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::error!(%error, "elevenlabs simulator stopped with an error");
            }
        });
        Ok(RunningElevenLabsSim {
            addr,
            base_url: format!("http://{addr}"),
            sim,
            stop,
            task,
            proxy,
        })
    }

    /// Snapshot of every conversation kept, oldest first.
    pub fn conversations(&self) -> Vec<SimConversation> {
        self.inner.store.snapshot()
    }

    pub fn conversation(&self, conversation_id: &str) -> Option<SimConversation> {
        self.inner
            .store
            .read(conversation_id, |r| r.summary.clone())
    }

    /// Every conversation WebSocket opened, oldest first, with how those that started no
    /// conversation ended.
    pub fn sockets(&self) -> Vec<SimSocket> {
        self.inner.store.sockets()
    }

    /// Waits until `check` finds what it looks for in the conversations, re-checking on
    /// every change; `None` after `timeout`.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&[SimConversation]) -> Option<T>,
    ) -> Option<T> {
        self.wait_until(timeout, |sim| check(&sim.conversations()))
            .await
    }

    /// [`Self::wait_for`] over the sockets.
    pub async fn wait_for_sockets<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&[SimSocket]) -> Option<T>,
    ) -> Option<T> {
        self.wait_until(timeout, |sim| check(&sim.sockets())).await
    }

    async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&Self) -> Option<T>,
    ) -> Option<T> {
        let mut changes = self.inner.store.subscribe();
        let wait = async {
            loop {
                changes.mark_unchanged();
                if let Some(found) = check(self) {
                    return found;
                }
                if changes.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.ok()
    }

    /// Closes every live conversation (1001, going away). New ones are refused.
    pub fn shut_down(&self) {
        self.inner.stopping.send_replace(true);
    }
}

/// A simulator serving on a local port. Dropping this handle leaves it serving (like a
/// detached task); call [`RunningElevenLabsSim::stop`] to stop it.
#[derive(Debug)]
pub struct RunningElevenLabsSim {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    pub sim: ElevenLabsSim,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    proxy: Option<crate::net_delay::Proxy>,
}

impl RunningElevenLabsSim {
    /// Closes live conversations (1001) and stops serving.
    pub async fn stop(self) {
        self.sim.shut_down();
        drop(self.proxy);
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Checks `xi-api-key`.
pub(crate) fn authorize(config: &ElevenLabsSimConfig, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(parley_elevenlabs::rest::API_KEY_HEADER)
        .map(|v| v.as_bytes());
    if given == Some(config.api_key.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::InvalidApiKey)
    }
}
