//! A real Parley server started in-process on 127.0.0.1:0 with a fresh database and an
//! operator API key: what every scenario measures against.
use crate::{redact_url, BenchError, Db};
pub use futures::future::BoxFuture;
use parley_domain::Role;
use parley_engine::accounts::{self, ApiKeySpec};
use parley_engine::settings::Settings;
use parley_store::Store;
use sqlx::{ConnectOptions, Connection};
use std::net::SocketAddr;
use std::path::Path;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A Parley node started by a [`Launch`].
pub trait Node: Send {
    /// Where its HTTP server listens.
    fn addr(&self) -> SocketAddr;
    fn engine(&self) -> &parley_engine::Engine;
    /// Stops the server, then whatever it was started with (the simulators).
    fn stop(self: Box<Self>) -> BoxFuture<'static, Result<(), BoxError>>;
}

/// What a [`Launch`] returns.
pub type Launched = BoxFuture<'static, Result<Box<dyn Node>, BoxError>>;

/// Starts a node with these settings (a free port in `listen`) on this store. The binary
/// supplies it: the bench measures a whole node without depending on the server crate.
pub type Launch = fn(Settings, Store) -> Launched;

pub struct BenchServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The database's URL.
    pub database_url: String,
    /// Bearer key of an operator.
    pub api_key: String,
    pub store: Store,
    server: Box<dyn Node>,
    /// The PostgreSQL admin URL and the database to drop when done.
    postgres: Option<(String, String)>,
    /// The data directory, when it is a temporary one (deleted on drop).
    _dir: Option<tempfile::TempDir>,
}

impl BenchServer {
    /// Starts a server on a fresh database of `db`; for PostgreSQL a new database is
    /// created through `postgres_admin_url` and dropped by [`BenchServer::stop`].
    pub async fn start(
        launch: Launch,
        db: Db,
        postgres_admin_url: &str,
    ) -> Result<BenchServer, BenchError> {
        Self::start_with(launch, db, postgres_admin_url, |_| {}).await
    }

    /// [`BenchServer::start`] with settings changed by `configure` (which sees the
    /// defaults with a free port and the fresh database).
    pub async fn start_with(
        launch: Launch,
        db: Db,
        postgres_admin_url: &str,
        configure: impl FnOnce(&mut Settings),
    ) -> Result<BenchServer, BenchError> {
        Self::start_in(launch, db, postgres_admin_url, None, configure).await
    }

    /// [`BenchServer::start_with`] in the data directory `data_dir` (kept afterwards,
    /// SQLite database included) instead of a temporary one.
    pub async fn start_in(
        launch: Launch,
        db: Db,
        postgres_admin_url: &str,
        data_dir: Option<&Path>,
        configure: impl FnOnce(&mut Settings),
    ) -> Result<BenchServer, BenchError> {
        let (dir, temporary) = match data_dir {
            Some(dir) => (dir.to_path_buf(), None),
            None => {
                let temporary = tempfile::Builder::new().prefix("parley-bench-").tempdir()?;
                (temporary.path().to_path_buf(), Some(temporary))
            }
        };
        // The URL `parley serve --data-dir` would use.
        let sqlite_url = Settings {
            data_dir: dir.clone(),
            ..Settings::default()
        }
        .database_url();
        let (url, postgres) = match db {
            Db::Sqlite => (sqlite_url, None),
            Db::Postgres => {
                let (url, name) = create_database(postgres_admin_url).await?;
                (url, Some((postgres_admin_url.to_owned(), name)))
            }
        };
        let started = Self::start_on(launch, &url, &dir, configure).await;
        match started {
            Ok((store, api_key, server)) => Ok(BenchServer {
                base: format!("http://{}", server.addr()),
                database_url: url,
                api_key,
                store,
                server,
                postgres,
                _dir: temporary,
            }),
            Err(e) => {
                if let Some((admin, name)) = postgres {
                    // Best effort: the start-up error is the one worth reporting.
                    let _ = drop_database(&admin, &name).await;
                }
                Err(e)
            }
        }
    }

    async fn start_on(
        launch: Launch,
        url: &str,
        dir: &Path,
        configure: impl FnOnce(&mut Settings),
    ) -> Result<(Store, String, Box<dyn Node>), BenchError> {
        let store = Store::open(url).await?;
        let mut settings = Settings {
            listen: "127.0.0.1:0".parse().expect("a valid address"),
            data_dir: dir.to_path_buf(),
            database_url: Some(url.to_owned()),
            // Each node its own free port: several run at once.
            metrics: parley_engine::settings::MetricsSettings {
                listen: "127.0.0.1:0".parse().unwrap(),
                ..Default::default()
            },
            ..Settings::default()
        };
        configure(&mut settings);
        let spec = ApiKeySpec {
            name: "bench",
            role: Role::Operator,
            expires_at_millis: None,
            created_by: None,
        };
        let (_, api_key) = accounts::create_api_key(&store, spec, None).await?;
        let server = launch(settings, store.clone())
            .await
            .map_err(BenchError::Launch)?;
        Ok((store, api_key, server))
    }

    pub fn engine(&self) -> &parley_engine::Engine {
        self.server.engine()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server, closes the store and drops the PostgreSQL database.
    pub async fn stop(self) -> Result<(), BenchError> {
        let stopped = self.server.stop().await.map_err(BenchError::Launch);
        self.store.close().await;
        if let Some((admin, name)) = &self.postgres {
            drop_database(admin, name).await?;
        }
        stopped?;
        Ok(())
    }
}

/// Creates `parley_bench_<uuid>` and returns its URL and name.
async fn create_database(admin_url: &str) -> Result<(String, String), BenchError> {
    let mut url = url::Url::parse(admin_url).map_err(|e| BenchError::PostgresUrl(e.to_string()))?;
    let name = format!("parley_bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = admin_connection(admin_url).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .map_err(|source| postgres_error(admin_url, source))?;
    let _ = conn.close().await;
    url.set_path(&name);
    Ok((url.to_string(), name))
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), BenchError> {
    let mut conn = admin_connection(admin_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .map_err(|source| postgres_error(admin_url, source))?;
    let _ = conn.close().await;
    Ok(())
}

async fn admin_connection(admin_url: &str) -> Result<sqlx::PgConnection, BenchError> {
    let options: sqlx::postgres::PgConnectOptions = admin_url
        .parse()
        .map_err(|source| postgres_error(admin_url, source))?;
    // DROP DATABASE of a large database takes over a second, which sqlx would log as a
    // slow-statement warning in the middle of the report.
    options
        .disable_statement_logging()
        .connect()
        .await
        .map_err(|source| postgres_error(admin_url, source))
}

fn postgres_error(url: &str, source: sqlx::Error) -> BenchError {
    BenchError::Postgres {
        url: redact_url(url),
        source,
    }
}
