//! Test support (the `testing` feature; never in release builds): a fresh PostgreSQL
//! database per test that is dropped when the test ends, passed or failed.
use sqlx::Connection;

/// A PostgreSQL database made for one test from `PARLEY_TEST_POSTGRES_URL` (default
/// `postgres://postgres@127.0.0.1:5432/postgres`). Dropped with the value, also when the
/// test panics, so failed runs leave no databases behind.
pub struct TestDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// The server the test databases are made on.
    pub fn admin_url() -> String {
        std::env::var("PARLEY_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
    }

    /// Creates `{prefix}_{random}`; panics when PostgreSQL cannot be reached (a test that
    /// needs it cannot run without it).
    pub async fn create(prefix: &str) -> TestDatabase {
        let admin_url = Self::admin_url();
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.expect(
            "PostgreSQL must be reachable at PARLEY_TEST_POSTGRES_URL (scripts/test starts it)",
        );
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let mut url = url::Url::parse(&admin_url).expect("PARLEY_TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        TestDatabase {
            url: url.to_string(),
            admin_url,
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs outside async (and maybe during a panic): a thread of its own with a
        // runtime of its own does the async work and is waited for.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("test database {} was not dropped", self.name);
        }
    }
}

/// Subscribes a CRM endpoint that is never called to `event_types`, so that their outbox
/// rows are written (and can be counted as deliveries of the subscription returned).
pub async fn subscribe(
    store: &crate::Store,
    event_types: Vec<parley_domain::webhook::EventType>,
) -> i64 {
    store
        .create_subscription(
            &crate::NewSubscription {
                url: "https://crm.example.com/parley".into(),
                secret: "whsec_test".into(),
                event_types,
                description: None,
                enabled: true,
            },
            "test",
        )
        .await
        .expect("a test subscription")
        .id
}
