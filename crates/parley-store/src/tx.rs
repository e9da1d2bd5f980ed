//! Units of work. A [`Tx`] is one database transaction on either backend: the engine
//! applies a whole event on it (its dedupe key, the state it changes, counters, outbox
//! rows, audit) and commits once, so a crash or a database error at any point leaves
//! either all of it or none. A [`Reader`] is a pooled connection for reads outside a
//! transaction. Both are a [`Db`], on which each read is written once; writes are
//! written once on `Tx`. The per-backend dispatch is here and nowhere else: an operation's
//! body is expanded once per backend by [`on_conn!`].
use crate::faults::Faults;
use crate::{Pools, Result, Store};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection, Transaction};
use std::ops::{Deref, DerefMut};
use std::time::Instant;

/// How long a transaction or a reader waited for its connection: on SQLite every writer
/// queues for the one write connection, so this is where a busy node shows first.
fn observe_acquire(purpose: &'static str, since: Instant) {
    metrics::histogram!("parley_db_acquire_duration_seconds", "purpose" => purpose)
        .record(since.elapsed().as_secs_f64());
}

/// A connection of either backend, borrowed for one operation.
pub(crate) enum Conn<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

/// Runs `$body` with `$c` bound to the session's connection, on whichever backend.
macro_rules! on_conn {
    ($session:expr, $c:ident => $body:expr) => {
        match $session.conn() {
            $crate::tx::Conn::Sqlite($c) => $body,
            $crate::tx::Conn::Postgres($c) => $body,
        }
    };
}
pub(crate) use on_conn;

enum Link {
    SqliteTx(Transaction<'static, Sqlite>),
    PostgresTx(Transaction<'static, Postgres>),
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

/// A connection to the database, inside a transaction or not. Reads live here.
pub struct Db {
    link: Link,
}

impl Db {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match &mut self.link {
            Link::SqliteTx(t) => Conn::Sqlite(t),
            Link::PostgresTx(t) => Conn::Postgres(t),
            Link::Sqlite(c) => Conn::Sqlite(c),
            Link::Postgres(c) => Conn::Postgres(c),
        }
    }
}

/// One transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    session: Db,
    faults: Faults,
}

/// A pooled connection for reads (on SQLite, a read-only one).
pub struct Reader {
    session: Db,
}

impl Store {
    /// Begins a transaction on the connection that may write.
    pub async fn begin(&self) -> Result<Tx> {
        let waiting = Instant::now();
        let link = match &self.pools {
            Pools::Sqlite { write, .. } => Link::SqliteTx(write.begin().await?),
            Pools::Postgres(pool) => Link::PostgresTx(pool.begin().await?),
        };
        observe_acquire("write", waiting);
        Ok(Tx {
            session: Db { link },
            faults: self.faults.clone(),
        })
    }

    /// A connection for reads outside a transaction.
    pub async fn reader(&self) -> Result<Reader> {
        let waiting = Instant::now();
        let link = match &self.pools {
            Pools::Sqlite { read, .. } => Link::Sqlite(read.acquire().await?),
            Pools::Postgres(pool) => Link::Postgres(pool.acquire().await?),
        };
        observe_acquire("read", waiting);
        Ok(Reader {
            session: Db { link },
        })
    }
}

impl Tx {
    /// Makes every write of this transaction durable at once.
    pub async fn commit(self) -> Result<()> {
        self.faults.point("commit")?;
        match self.session.link {
            Link::SqliteTx(t) => t.commit().await?,
            Link::PostgresTx(t) => t.commit().await?,
            Link::Sqlite(_) | Link::Postgres(_) => unreachable!("a Tx always holds a transaction"),
        }
        // The caller learns of a commit only if it returns: a failure here is a lost
        // answer (the event is applied, its sender will send it again).
        self.faults.point("after commit")
    }

    /// A write point: where fault injection may fail the transaction (a no-op unless the
    /// store was built with the `failpoints` feature and a test armed it).
    pub(crate) fn point(&self, name: &'static str) -> Result<()> {
        self.faults.point(name)
    }
}

impl Deref for Tx {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.session
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Db {
        &mut self.session
    }
}

impl Deref for Reader {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.session
    }
}

impl DerefMut for Reader {
    fn deref_mut(&mut self) -> &mut Db {
        &mut self.session
    }
}

/// Declares `Store` methods that run one [`Tx`] operation in a transaction of its own, for
/// callers whose whole event is that one write. The operation itself is written once, on
/// `Tx`, where the engine can also compose it with others.
macro_rules! own_tx {
    ($($(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty;)+) => {
        impl $crate::Store {
            $(
                $(#[$m])*
                pub async fn $name(&self, $($arg: $ty),*) -> $crate::Result<$ret> {
                    let mut tx = self.begin().await?;
                    let out = tx.$name($($arg),*).await?;
                    tx.commit().await?;
                    Ok(out)
                }
            )+
        }
    };
}
pub(crate) use own_tx;

/// Declares `Store` methods that run one [`Db`] read on a pooled connection.
macro_rules! own_reader {
    ($($(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty;)+) => {
        impl $crate::Store {
            $(
                $(#[$m])*
                pub async fn $name(&self, $($arg: $ty),*) -> $crate::Result<$ret> {
                    self.reader().await?.$name($($arg),*).await
                }
            )+
        }
    };
}
pub(crate) use own_reader;

/// Runs a statement written once for both backends; returns how many rows it changed.
macro_rules! execute {
    ($db:expr, $query:expr) => {
        $crate::tx::on_conn!($db, c => $query.execute(c).await.map(|r| r.rows_affected()))
    };
}
pub(crate) use execute;
