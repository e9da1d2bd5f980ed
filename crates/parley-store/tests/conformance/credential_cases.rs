//! Credentials that must not outlive what they were given for.
use parley_domain::Role;
use parley_store::{Store, StoreError};

fn hour_from_now() -> i64 {
    parley_domain::time::now_millis() + 3_600_000
}

pub async fn disabling_a_user_revokes_their_keys_and_sessions(store: Store) {
    let admin = store
        .create_user("admin@example.com", "h", Role::Admin)
        .await
        .unwrap();
    let ann = store
        .create_user("ann@example.com", "h", Role::Operator)
        .await
        .unwrap();
    let mine = store
        .create_api_key(
            "ann's",
            "pk_a",
            "ann-key",
            Role::Operator,
            Some(ann.id),
            None,
        )
        .await
        .unwrap();
    let theirs = store
        .create_api_key(
            "admin's",
            "pk_b",
            "admin-key",
            Role::Operator,
            Some(admin.id),
            None,
        )
        .await
        .unwrap();
    let nobody = store
        .create_api_key("cli", "pk_c", "cli-key", Role::Operator, None, None)
        .await
        .unwrap();
    let revoked_before = store.revoke_api_key(mine.id).await.unwrap().revoked_at;
    let second = store
        .create_api_key(
            "ann's 2",
            "pk_d",
            "ann-key-2",
            Role::Viewer,
            Some(ann.id),
            None,
        )
        .await
        .unwrap();
    for (token, user) in [("ann-session", ann.id), ("admin-session", admin.id)] {
        store
            .create_session(token, user, "csrf", hour_from_now())
            .await
            .unwrap();
    }

    // Disabling the last admin is refused, and the refusal changes nothing.
    let refused = store.update_user(admin.id, None, Some(true)).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let still = store.api_key_by_hash("admin-key").await.unwrap().unwrap();
    assert!(still.revoked_at.is_none(), "refused: nothing revoked");
    assert!(store.session("admin-session").await.unwrap().is_some());

    // Role changes leave keys alone.
    store
        .update_user(ann.id, Some(Role::Viewer), None)
        .await
        .unwrap();
    let still = store.api_key_by_hash("ann-key-2").await.unwrap().unwrap();
    assert!(still.revoked_at.is_none());

    store.update_user(ann.id, None, Some(true)).await.unwrap();
    let now = parley_domain::time::now_millis();
    let key = |hash: &'static str| {
        let store = store.clone();
        async move { store.api_key_by_hash(hash).await.unwrap().unwrap() }
    };
    assert!(!key("ann-key-2").await.is_usable_at(now), "{second:?}");
    assert_eq!(
        key("ann-key").await.revoked_at,
        revoked_before,
        "an earlier revocation keeps its time"
    );
    assert!(key("admin-key").await.is_usable_at(now), "{theirs:?}");
    assert!(store.session("admin-session").await.unwrap().is_some());
    assert!(key("cli-key").await.is_usable_at(now), "{nobody:?}");
    // Re-enabling the user does not bring back what was revoked or signed out.
    store.update_user(ann.id, None, Some(false)).await.unwrap();
    assert!(!key("ann-key-2").await.is_usable_at(now));
    assert!(store.session("ann-session").await.unwrap().is_none());
}

pub async fn a_new_password_ends_the_other_sessions(store: Store) {
    let ann = store
        .create_user("ann@example.com", "old-hash", Role::Operator)
        .await
        .unwrap();
    let bob = store
        .create_user("bob@example.com", "bob-hash", Role::Operator)
        .await
        .unwrap();
    for (token, user) in [
        ("here", ann.id),
        ("laptop", ann.id),
        ("phone", ann.id),
        ("bob", bob.id),
    ] {
        store
            .create_session(token, user, "csrf", hour_from_now())
            .await
            .unwrap();
    }
    let ended = store
        .set_password(ann.id, "new-hash", Some("here"))
        .await
        .unwrap();
    assert_eq!(ended, 2);
    let kept = store.session("here").await.unwrap().unwrap();
    assert_eq!(kept.user.password_hash, "new-hash");
    assert!(store.session("laptop").await.unwrap().is_none());
    assert!(store.session("phone").await.unwrap().is_none());
    assert!(
        store.session("bob").await.unwrap().is_some(),
        "other users keep theirs"
    );
    // Without a session to keep (an admin resetting it), every session ends.
    assert_eq!(store.set_password(ann.id, "newer", None).await.unwrap(), 1);
    assert!(matches!(
        store.set_password(9_999, "x", None).await,
        Err(StoreError::NotFound)
    ));
}
