//! Parley's persistence: one `Store` API over SQLite (embedded default) and PostgreSQL
//! (production). The same query code serves both backends through the `on_reader!`/`on_writer!`
//! macros, which expand a body once per backend; SQL differs per backend only where the
//! databases' semantics do (claims, JSON merging), and those places say so.
#![forbid(unsafe_code)]

mod analytics;
mod attempts;
mod audit;
mod blocked_dials;
mod call_history;
mod call_lifecycle;
mod call_results;
mod calls;
mod campaigns;
mod capacity;
mod compliance;
mod consent;
mod contact_history;
mod contacts;
mod dialing;
mod dnc;
mod enrolment;
mod error;
mod exports;
mod faults;
mod frequency;
mod import_merge;
mod import_turns;
mod imports;
mod imports_pg;
mod notify;
mod outbox;
mod pagination;
mod quality;
mod rate;
mod retention;
mod sheet_writes;
mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
mod tool_calls;
mod transfers;
mod tx;
mod users;
mod variant_stats;
mod waiting;
mod webhooks;

pub use analytics::{CallCounts, CampaignCounts, HourCounts, StatsRange};
pub use attempts::{AttemptRefused, Settle, CALLBACK_PRIORITY};
pub use audit::{AuditEntry, AuditFilter};
pub use blocked_dials::NewBlockedDial;
pub use call_history::PastCall;
pub use call_lifecycle::{PostCall, RecordingUpdate, StatusChange};
pub use calls::{CallFilter, NewCall};
pub use campaigns::{CampaignUpdate, ContactSelector, NewCampaign};
pub use capacity::{AccountLoad, ClaimLimits};
pub use compliance::{ReportRange, OPT_OUT_EVENT_KIND};
pub use contact_history::{MemoryRead, ShownInputs, MAX_HISTORY_PAGE};
pub use contacts::{ContactFilter, ContactUpdate};
pub use dialing::ClaimedContact;
pub use dnc::{DncCheck, DncEntry, OPT_OUT_SOURCE};
pub use error::StoreError;
pub use exports::{AnalysisKeys, CallExportRow, ContactExportRow, MAX_KEY_COLUMNS};
#[cfg(feature = "testing")]
pub use faults::FaultPlan;
pub use import_turns::{BatchTurn, BatchTurns};
pub use imports::{
    ImportBatchOutcome, ImportError, ImportRecord, ImportRow, ImportTotals, FIELD_LEFT_OUT,
    INVALID_CONSENT,
};
pub use notify::{EVENT_CHANNEL, MAX_PAYLOAD as MAX_EVENT_PAYLOAD};
pub use pagination::{Page, PageRequest};
pub use rate::Bucket;
pub use sheet_writes::{ClaimedSheetWrite, SheetOrigin, SheetWriteCounts, SheetWriteVerdict};
pub use telemetry::{PoolStats, WorkInFlight};
pub use tool_calls::NewToolCall;
pub use transfers::TransferCounts;
pub use tx::{Db, Reader, Tx};
pub use users::{ApiKey, Session, User};
pub use variant_stats::VariantCounts;
pub use waiting::{FirstWaiting, Waiting};
pub use webhooks::{
    AttemptRecord, AttemptVerdict, ClaimedDelivery, Delivery, DeliveryAttempt, DeliveryState,
    NewSubscription, Subscription, SubscriptionUpdate,
};

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::str::FromStr;
use std::time::Duration;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
enum Pools {
    /// SQLite allows one writer at a time; a dedicated one-connection writer pool queues
    /// writers in Rust instead of failing them with SQLITE_BUSY, while readers run in
    /// parallel under WAL.
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
    Postgres(PgPool),
}

/// Handle to the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pools: Pools,
    faults: faults::Faults,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({:?})", self.backend())
    }
}

/// Runs `$body` with `$pool` bound to a pool suited for reading, on whichever backend.
macro_rules! on_reader {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pools {
            $crate::Pools::Sqlite { read: $pool, .. } => $body,
            $crate::Pools::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$pool` bound to the pool that may write, on whichever backend.
macro_rules! on_writer {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pools {
            $crate::Pools::Sqlite { write: $pool, .. } => $body,
            $crate::Pools::Postgres($pool) => $body,
        }
    };
}
pub(crate) use {on_reader, on_writer};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connects to `url` (`sqlite://path` or `postgres://…`). SQLite files are created if
    /// missing. Does not migrate: call [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Store> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await?;
            let read = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options.read_only(true))
                .await?;
            Ok(Store {
                pools: Pools::Sqlite { read, write },
                faults: Default::default(),
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?;
            Ok(Store {
                pools: Pools::Postgres(pool),
                faults: Default::default(),
            })
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    /// Applies the embedded migrations of this backend; safe to run on every start.
    pub async fn migrate(&self) -> Result<()> {
        match &self.pools {
            Pools::Sqlite { write, .. } => SQLITE_MIGRATIONS.run(write).await?,
            Pools::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// How many of this build's migrations the database has not applied (all of them when
    /// it was never migrated).
    pub async fn pending_migrations(&self) -> Result<usize> {
        const APPLIED: &str = "SELECT version FROM _sqlx_migrations WHERE success";
        let (migrator, applied) = match &self.pools {
            Pools::Sqlite { read, .. } => (
                &SQLITE_MIGRATIONS,
                sqlx::query_scalar::<_, i64>(APPLIED).fetch_all(read).await,
            ),
            Pools::Postgres(pool) => (
                &POSTGRES_MIGRATIONS,
                sqlx::query_scalar::<_, i64>(APPLIED).fetch_all(pool).await,
            ),
        };
        let applied = match applied {
            Ok(applied) => applied,
            // A database that was never migrated has no migrations table.
            Err(sqlx::Error::Database(_)) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        Ok(migrator
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count())
    }

    /// Connects and migrates.
    pub async fn open(url: &str) -> Result<Store> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        on_reader!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Pools::Postgres(pool) => pool.close().await,
        }
    }
}

/// Escapes `%`, `_` and `\` so user text matches literally inside a LIKE pattern
/// (used with `ESCAPE '\'`).
pub(crate) fn like_contains(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}
