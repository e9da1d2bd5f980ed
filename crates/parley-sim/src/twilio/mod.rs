//! A faithful Twilio Programmable Voice simulator (reference `shared/reference/twilio.md`,
//! sections A-E), over real HTTP and WebSockets: the Calls REST API with Basic auth and
//! Twilio's error codes, CPS queueing, each call's lifecycle played by the persona the
//! number reaches, signed status / AMD / recording callbacks, TwiML execution, the Media
//! Streams WebSocket client with real-time playback, marks and clear, and dual-channel WAV
//! recordings.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use parley_sim::twilio::{TwilioSim, TwilioSimConfig};
//! let running = TwilioSim::spawn(TwilioSimConfig::default(), "127.0.0.1:0".parse().unwrap()).await?;
//! // Point parley_twilio::TwilioClient at running.base_url.
//! # Ok(()) }
//! ```

mod callbacks;
mod callee;
mod config;
mod lifecycle;
mod media_client;
mod numbers;
mod params;
mod recording;
mod rest;
mod store;
mod twiml;
mod twiml_exec;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::TwilioSimConfig;
pub use store::{EndReason, SimCall};

use store::{Pacer, Store};

/// State shared by the REST handlers and every call task.
pub(crate) struct Shared {
    pub config: TwilioSimConfig,
    pub store: Mutex<Store>,
    pub pacer: Mutex<Pacer>,
    /// Webhooks and TwiML requests.
    pub http: reqwest::Client,
    /// Set by [`TwilioSim::spawn`]; otherwise URLs are derived from the request's `Host`.
    pub base_url: OnceLock<String>,
    /// Numbers calls, to derive each call's chaos seed.
    pub call_counter: AtomicU64,
}

/// The simulator. Cheap to clone; all clones share the same calls.
#[derive(Clone)]
pub struct TwilioSim {
    shared: Arc<Shared>,
}

impl TwilioSim {
    pub fn new(config: TwilioSimConfig) -> TwilioSim {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .expect("static reqwest configuration is valid");
        TwilioSim {
            shared: Arc::new(Shared {
                config,
                store: Mutex::new(Store::default()),
                pacer: Mutex::new(Pacer::new()),
                http,
                base_url: OnceLock::new(),
                call_counter: AtomicU64::new(0),
            }),
        }
    }

    /// The REST API, with Twilio's paths (`/2010-04-01/Accounts/{AccountSid}/Calls.json`...).
    pub fn router(&self) -> axum::Router {
        rest::router(self.shared.clone())
    }

    /// Binds `addr` (use `127.0.0.1:0` in tests) and serves the REST API in a task.
    pub async fn spawn(
        config: TwilioSimConfig,
        addr: SocketAddr,
    ) -> std::io::Result<RunningTwilioSim> {
        let delay = config.network_delay;
        let sim = TwilioSim::new(config);
        let (listener, addr, proxy) = crate::net_delay::bind(addr, delay).await?;
        let base_url = format!("http://{addr}");
        let _ = sim.shared.base_url.set(base_url.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let app = sim.router();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "twilio sim: server stopped");
            }
        });
        Ok(RunningTwilioSim {
            addr,
            base_url,
            sim,
            shutdown: Some(shutdown),
            task: Some(task),
            proxy,
        })
    }

    /// A snapshot of every remembered call (the most recent 10,000), oldest first.
    pub fn calls(&self) -> Vec<SimCall> {
        self.shared.store.lock().expect("store lock").snapshot()
    }

    /// One call by SID.
    pub fn call(&self, sid: &str) -> Option<SimCall> {
        let store = self.shared.store.lock().expect("store lock");
        store.get(sid).map(|entry| entry.summary.clone())
    }

    pub fn config(&self) -> &TwilioSimConfig {
        &self.shared.config
    }
}

/// A simulator serving on a local port. Dropping it stops the server (calls in progress
/// run to their end).
pub struct RunningTwilioSim {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`: the `TwilioClient` base URL.
    pub base_url: String,
    pub sim: TwilioSim,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    proxy: Option<crate::net_delay::Proxy>,
}

impl RunningTwilioSim {
    /// Stops accepting requests and waits for the server task to finish.
    pub async fn stop(mut self) {
        self.proxy.take();
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningTwilioSim {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
