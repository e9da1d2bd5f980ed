//! Users, sessions and API keys; the last enabled admin.
use parley_domain::Role;
use parley_store::{Store, StoreError};

pub async fn users_sessions_and_api_keys(store: Store) {
    let user = store
        .create_user("Ann@Example.com", "hash", Role::Operator)
        .await
        .unwrap();
    assert_eq!(user.email, "ann@example.com");
    assert_eq!(store.count_users().await.unwrap(), 1);
    let dup = store
        .create_user("ann@example.com", "h2", Role::Admin)
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let found = store
        .user_by_email("ANN@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, found.role), (user.id, Role::Operator));

    let far = parley_domain::time::now_millis() + 3_600_000;
    store
        .create_session("live", user.id, "csrf", far)
        .await
        .unwrap();
    store
        .create_session("stale", user.id, "csrf2", 1)
        .await
        .unwrap();
    let s = store.session("live").await.unwrap().unwrap();
    assert_eq!((s.user.id, s.csrf_token.as_str()), (user.id, "csrf"));
    assert!(
        store.session("stale").await.unwrap().is_none(),
        "expired sessions are dead"
    );
    assert_eq!(store.purge_expired_sessions().await.unwrap(), 1);
    store.delete_session("live").await.unwrap();
    assert!(store.session("live").await.unwrap().is_none());

    let key = store
        .create_api_key("ci", "pk_abc", "keyhash", Role::Viewer, Some(user.id), None)
        .await
        .unwrap();
    let now = parley_domain::time::now_millis();
    let by_hash = store.api_key_by_hash("keyhash").await.unwrap().unwrap();
    assert!(by_hash.is_usable_at(now));
    assert_eq!(by_hash.role, Role::Viewer);
    let revoked = store.revoke_api_key(key.id).await.unwrap();
    assert!(!revoked.is_usable_at(now));
    assert!(matches!(
        store.revoke_api_key(9999).await,
        Err(StoreError::NotFound)
    ));
    let expired = store
        .create_api_key("old", "pk_old", "oldhash", Role::Admin, None, Some(now - 1))
        .await
        .unwrap();
    assert!(!expired.is_usable_at(now));
    assert_eq!(store.list_api_keys().await.unwrap().len(), 2);
}

pub async fn the_last_enabled_admin_stays(store: Store) {
    let ann = store
        .create_user("ann@example.com", "h", Role::Admin)
        .await
        .unwrap();
    let bob = store
        .create_user("bob@example.com", "h", Role::Operator)
        .await
        .unwrap();
    let refused = store.update_user(ann.id, Some(Role::Viewer), None).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let refused = store.update_user(ann.id, None, Some(true)).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );

    let bob = store
        .update_user(bob.id, Some(Role::Admin), None)
        .await
        .unwrap();
    assert_eq!(bob.role, Role::Admin);
    let ann = store.update_user(ann.id, None, Some(true)).await.unwrap();
    assert!(ann.disabled && ann.role == Role::Admin);
    // Bob is now the only enabled admin.
    let refused = store.update_user(bob.id, Some(Role::Operator), None).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let missing = store.update_user(9_999, Some(Role::Viewer), None).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");

    // Two admins demoting each other at the same moment: one of them stays.
    let ann = store.update_user(ann.id, None, Some(false)).await.unwrap();
    for round in 0..20 {
        let (a, b) = tokio::join!(
            store.update_user(ann.id, Some(Role::Operator), None),
            store.update_user(bob.id, Some(Role::Operator), None),
        );
        assert!(a.is_ok() != b.is_ok(), "round {round}: {a:?} {b:?}");
        let (stayed, demoted) = if a.is_ok() {
            (bob.id, ann.id)
        } else {
            (ann.id, bob.id)
        };
        let admins: Vec<i64> = store
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .filter(|u| u.role == Role::Admin && !u.disabled)
            .map(|u| u.id)
            .collect();
        assert_eq!(admins, vec![stayed], "round {round}");
        store
            .update_user(demoted, Some(Role::Admin), None)
            .await
            .unwrap();
    }
}
pub use crate::analytics::{analytics_count_each_call_once, past_calls_are_counted_like_live_ones};
