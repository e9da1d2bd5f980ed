//! Events between nodes: PostgreSQL LISTEN/NOTIFY. On SQLite (one node) there is no one
//! else to tell.
use crate::{Pools, Result, Store};
use futures::stream::BoxStream;
use futures::StreamExt;

/// The channel every node listens on.
pub const EVENT_CHANNEL: &str = "parley_events";
/// NOTIFY payloads must stay under 8000 bytes.
pub const MAX_PAYLOAD: usize = 7900;

impl Store {
    /// Sends `payload` to every node listening (PostgreSQL only; a no-op on SQLite).
    pub async fn notify_nodes(&self, payload: &str) -> Result<()> {
        if let Pools::Postgres(pool) = &self.pools {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(EVENT_CHANNEL)
                .bind(payload)
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// The payloads other nodes send, or `None` on SQLite. The stream reconnects by
    /// itself; messages sent while it was disconnected are lost (live events are
    /// best-effort; clients resynchronise from the API).
    pub async fn node_events(&self) -> Result<Option<BoxStream<'static, String>>> {
        let Pools::Postgres(pool) = &self.pools else {
            return Ok(None);
        };
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(EVENT_CHANNEL).await?;
        let stream = listener
            .into_stream()
            .filter_map(|n| async move { n.ok().map(|n| n.payload().to_string()) });
        Ok(Some(stream.boxed()))
    }
}
