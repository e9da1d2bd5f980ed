//! Local fakes of the services Parley's agent tools call: Cal.com (API v2), Microsoft
//! Graph (OAuth2 token endpoint and `sendMail`), an SMTP server, and Google Sheets (values
//! and the service-account token endpoint), which contact import reads. Each follows its
//! service's documented wire format closely enough that Parley's real clients cannot
//! tell the difference, and keeps what it received for tests to inspect.
pub mod calcom;
pub mod graph;
pub mod sheets;
pub mod smtp;

use axum::Router;
use std::net::SocketAddr;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A fake serving HTTP in the background; `state` is what tests inspect.
pub struct RunningFake<S> {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    pub state: S,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl<S> RunningFake<S> {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Binds `addr` and serves `router` until stopped.
pub(crate) async fn serve<S>(
    name: &'static str,
    router: Router,
    state: S,
    addr: SocketAddr,
) -> std::io::Result<RunningFake<S>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, router).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(error) = serve.await {
            tracing::error!(%error, fake = name, "fake stopped with an error");
        }
    });
    Ok(RunningFake {
        addr,
        base_url: format!("http://{addr}"),
        state,
        stop,
        task,
    })
}
