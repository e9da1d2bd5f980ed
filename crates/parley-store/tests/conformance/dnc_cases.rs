//! Do-not-call lists.
use parley_store::{PageRequest, Store, StoreError};

use super::cases::{campaign, contact, phone};

pub async fn dnc_lists_are_idempotent_and_scoped(store: Store) {
    let c = store
        .create_contact(&contact("+14155550300", "D", &[]))
        .await
        .unwrap();
    let id = campaign(&store, "dnc").await;
    let p = phone("+14155550300");
    let first = store.add_dnc(&p, None, Some("asked"), "api").await.unwrap();
    let second = store.add_dnc(&p, None, Some("again"), "api").await.unwrap();
    assert_eq!(first.id, second.id, "adding twice keeps one entry");
    assert_eq!(second.reason.as_deref(), Some("asked"));
    let other = phone("+14155550301");
    store.add_dnc(&other, Some(id), None, "api").await.unwrap();
    assert!(matches!(
        store.add_dnc(&other, Some(424242), None, "api").await,
        Err(StoreError::NotFound)
    ));

    let check = store.check_dnc(&p, Some(id)).await.unwrap();
    assert!(check.global && !check.campaign && check.blocked());
    let check = store.check_dnc(&other, Some(id)).await.unwrap();
    assert!(!check.global && check.campaign);
    assert!(!store.check_dnc(&other, None).await.unwrap().blocked());
    assert!(store.get_contact(c.id).await.unwrap().do_not_call);

    assert_eq!(
        store
            .list_dnc(None, PageRequest::first(10))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        store
            .list_dnc(Some(id), PageRequest::first(10))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert!(store.remove_dnc(&p, None).await.unwrap());
    assert!(!store.remove_dnc(&p, None).await.unwrap());
    assert!(!store.get_contact(c.id).await.unwrap().do_not_call);
}
