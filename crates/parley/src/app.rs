//! A whole node, wired: the listener, the services it talks to (the simulators in
//! sandbox mode) and the server on top. What `parley serve` runs and `parley bench`
//! measures.
use parley_engine::settings::Settings;
use parley_sandbox::{Sandbox, SandboxError, Services};
use parley_server::{RunningServer, ServerError};
use parley_store::Store;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("securing the data directory failed: {0}")]
    DataDir(std::io::Error),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// A node started in the background.
pub struct App {
    pub server: RunningServer,
    /// The simulators, in sandbox mode; they stop after the server.
    pub sandbox: Option<Sandbox>,
}

impl App {
    pub async fn stop(self) -> Result<(), AppError> {
        let stopped = self.server.stop().await;
        if let Some(sandbox) = self.sandbox {
            sandbox.stop().await;
        }
        Ok(stopped?)
    }
}

/// Binds `settings.listen`, secures the data directory and starts the services.
async fn prepare(settings: &mut Settings) -> Result<(TcpListener, Services), AppError> {
    let addr = settings.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| AppError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| AppError::Bind { addr, source })?;
    // Before anything is written there (sandbox secrets, recordings).
    parley_engine::private_files::secure_data_dir_logged(&settings.data_dir)
        .map_err(AppError::DataDir)?;
    let services = parley_sandbox::telephony(settings, bound).await?;
    Ok((listener, services))
}

/// Starts a node in the background (`listen = 127.0.0.1:0` for a free port).
pub async fn start(mut settings: Settings, store: Store) -> Result<App, AppError> {
    let (listener, services) = prepare(&mut settings).await?;
    let spawned = parley_server::spawn(settings, store, listener, services.telephony).await;
    match spawned {
        Ok(server) => Ok(App {
            server,
            sandbox: services.sandbox,
        }),
        Err(e) => {
            if let Some(sandbox) = services.sandbox {
                sandbox.stop().await;
            }
            Err(e.into())
        }
    }
}

/// Runs a node until `shutdown` completes.
pub async fn run(
    mut settings: Settings,
    store: Store,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let (listener, services) = prepare(&mut settings).await?;
    let result = parley_server::run(settings, store, listener, services.telephony, shutdown).await;
    if let Some(sandbox) = services.sandbox {
        sandbox.stop().await;
    }
    Ok(result?)
}
