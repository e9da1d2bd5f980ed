//! Calls-per-second limits kept in the database, so that they hold across every node
//! running the same campaigns: token buckets refilled by elapsed time.
use crate::{on_writer, Pools, Result, Store, StoreError};

/// One limit to respect: `rate` calls per second, bursting to `burst`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub key: String,
    pub rate: f64,
    pub burst: f64,
}

impl Store {
    /// Takes up to `want` tokens from every bucket at once: the grant is the smallest
    /// number all of them can give (so a campaign's limit and the account's both hold).
    pub async fn take_tokens(&self, buckets: &[Bucket], want: u32, now: i64) -> Result<u32> {
        if buckets.is_empty() || want == 0 {
            return Ok(want);
        }
        // PostgreSQL locks the bucket rows for the transaction; SQLite has one writer.
        let lock = match self.pools {
            Pools::Postgres(_) => " FOR UPDATE",
            Pools::Sqlite { .. } => "",
        };
        on_writer!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut levels = Vec::with_capacity(buckets.len());
            for b in buckets {
                sqlx::query(
                    "INSERT INTO rate_buckets (key, tokens, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (key) DO NOTHING",
                )
                .bind(&b.key)
                .bind(b.burst)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let (tokens, updated_at): (f64, i64) = sqlx::query_as(&format!(
                    "SELECT tokens, updated_at FROM rate_buckets WHERE key = $1{lock}"
                ))
                .bind(&b.key)
                .fetch_one(&mut *tx)
                .await?;
                let elapsed = (now - updated_at).max(0) as f64 / 1000.0;
                levels.push((tokens + elapsed * b.rate).min(b.burst));
            }
            let granted = levels
                .iter()
                .map(|l| l.floor().max(0.0) as u32)
                .min()
                .unwrap_or(0)
                .min(want);
            for (b, level) in buckets.iter().zip(&levels) {
                sqlx::query("UPDATE rate_buckets SET tokens = $2, updated_at = $3 WHERE key = $1")
                    .bind(&b.key)
                    .bind(level - f64::from(granted))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(granted)
        })
    }
}
