//! The two migration sets describe one schema: after migrating, SQLite and PostgreSQL have
//! the same tables and views, the same columns in each (by name and nullability) and the same named
//! indexes. Column types differ by design (INTEGER vs BIGINT, TEXT vs JSONB) and are not
//! compared.
use parley_store::testing::TestDatabase;
use parley_store::Store;
use std::collections::BTreeSet;

/// (table, column, nullable)
type Columns = BTreeSet<(String, String, bool)>;

/// Tables that exist for the migration tool or the backend itself, not for Parley.
fn ours(table: &str) -> bool {
    !table.starts_with("_sqlx") && !table.starts_with("sqlite_")
}

async fn sqlite_schema(url: &str) -> (Columns, BTreeSet<String>) {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut columns = Columns::new();
    for (table,) in tables.into_iter().filter(|(t,)| ours(t)) {
        let rows: Vec<(String, i64, i64)> =
            sqlx::query_as("SELECT name, \"notnull\", pk FROM pragma_table_info($1)")
                .bind(&table)
                .fetch_all(&pool)
                .await
                .unwrap();
        for (column, not_null, pk) in rows {
            // SQLite lets an INTEGER PRIMARY KEY be declared without NOT NULL.
            columns.insert((table.clone(), column, not_null == 0 && pk == 0));
        }
    }
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    let indexes = indexes
        .into_iter()
        .filter(|(_, t)| ours(t))
        .map(|(name, _)| name)
        .collect();
    (columns, indexes)
}

async fn postgres_schema(url: &str) -> (Columns, BTreeSet<String>) {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, is_nullable::text \
         FROM information_schema.columns WHERE table_schema = 'public'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let columns = rows
        .into_iter()
        .filter(|(t, _, _)| ours(t))
        .map(|(t, c, nullable)| (t, c, nullable == "YES"))
        .collect();
    // Indexes made by a statement, not those PostgreSQL makes for a primary key or a
    // UNIQUE constraint (SQLite makes those automatically too and lists them apart).
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.indexname::text, i.tablename::text FROM pg_indexes i \
         WHERE i.schemaname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_constraint c \
           WHERE c.conname = i.indexname AND c.contype IN ('p', 'u'))",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    let indexes = indexes
        .into_iter()
        .filter(|(_, t)| ours(t))
        .map(|(name, _)| name)
        .collect();
    (columns, indexes)
}

#[tokio::test]
async fn both_migration_sets_make_the_same_tables_columns_and_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", dir.path().join("p.db").display());
    Store::open(&sqlite_url).await.unwrap().close().await;
    let pg = TestDatabase::create("parley_schema").await;
    Store::open(&pg.url).await.unwrap().close().await;

    let (sqlite_columns, sqlite_indexes) = sqlite_schema(&sqlite_url).await;
    let (pg_columns, pg_indexes) = postgres_schema(&pg.url).await;
    assert!(
        sqlite_columns.len() > 50,
        "the schema was read: {sqlite_columns:?}"
    );
    let only_sqlite: Vec<_> = sqlite_columns.difference(&pg_columns).collect();
    let only_pg: Vec<_> = pg_columns.difference(&sqlite_columns).collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "columns (table, column, nullable) only on SQLite: {only_sqlite:?}; only on PostgreSQL: {only_pg:?}"
    );
    let only_sqlite: Vec<_> = sqlite_indexes.difference(&pg_indexes).collect();
    let only_pg: Vec<_> = pg_indexes.difference(&sqlite_indexes).collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "indexes only on SQLite: {only_sqlite:?}; only on PostgreSQL: {only_pg:?}"
    );
}
