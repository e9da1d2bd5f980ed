//! Users and API keys made on someone's behalf are written with their audit row in one
//! transaction: failing either write leaves neither. (SQLite; the write points are the
//! same on PostgreSQL, where the store's conformance suite covers the statements.)
use parley_domain::Role;
use parley_engine::accounts::{self, AccountError, ApiKeySpec};
use parley_store::{PageRequest, Store};

async fn store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    Store::open(&url).await.unwrap()
}

async fn audit_rows(store: &Store, target_type: &str) -> usize {
    let page = store
        .list_audit(
            &parley_store::AuditFilter::target(target_type, None),
            PageRequest::first(100),
        )
        .await
        .unwrap();
    page.items.len()
}

#[tokio::test]
async fn a_user_and_its_audit_row_are_written_together_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let create = |email: &'static str| {
        let store = store.clone();
        async move {
            accounts::create_user(
                &store,
                email,
                "correct horse battery",
                Role::Operator,
                Some("user:1"),
            )
            .await
        }
    };
    // Points: the user row, its audit row, the commit.
    for nth in 1..=3 {
        store.faults().fail_at(nth);
        let failed = create("ann@example.com").await;
        assert!(matches!(failed, Err(AccountError::Store(_))), "{failed:?}");
        assert_eq!(store.count_users().await.unwrap(), 0, "point {nth}");
        assert_eq!(audit_rows(&store, "user").await, 0, "point {nth}");
    }
    store.faults().reset();
    let user = create("ann@example.com").await.unwrap();
    assert_eq!(store.count_users().await.unwrap(), 1);
    let audit = store
        .list_audit(
            &parley_store::AuditFilter::target("user", Some(user.id.to_string().as_str())),
            PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(audit.items.len(), 1);
    assert_eq!(audit.items[0].action, "user.created");
    assert_eq!(audit.items[0].actor, "user:1");
    // Without an actor (the CLI, the bootstrap admin) nothing is audited.
    accounts::create_user(
        &store,
        "bob@example.com",
        "another password",
        Role::Viewer,
        None,
    )
    .await
    .unwrap();
    assert_eq!(audit_rows(&store, "user").await, 1);
    store.close().await;
}

#[tokio::test]
async fn an_api_key_and_its_audit_row_are_written_together_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let spec = || ApiKeySpec {
        name: "ci",
        role: Role::Viewer,
        expires_at_millis: None,
        created_by: None,
    };
    for nth in 1..=3 {
        store.faults().fail_at(nth);
        let failed = accounts::create_api_key(&store, spec(), Some("user:1")).await;
        assert!(matches!(failed, Err(AccountError::Store(_))), "{failed:?}");
        assert!(
            store.list_api_keys().await.unwrap().is_empty(),
            "point {nth}"
        );
        assert_eq!(audit_rows(&store, "api_key").await, 0, "point {nth}");
    }
    store.faults().reset();
    let (record, key) = accounts::create_api_key(&store, spec(), Some("user:1"))
        .await
        .unwrap();
    assert!(key.starts_with(&record.prefix));
    assert_eq!(store.list_api_keys().await.unwrap().len(), 1);
    assert_eq!(audit_rows(&store, "api_key").await, 1);
    store.close().await;
}
