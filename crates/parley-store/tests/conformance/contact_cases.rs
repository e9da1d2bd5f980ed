//! Contacts: CRUD, tags, conflicts, filters and pages.
use parley_store::{ContactFilter, ContactUpdate, PageRequest, Store, StoreError};

use super::cases::{contact, phone};

pub async fn contacts_crud_tags_and_conflicts(store: Store) {
    let c = store
        .create_contact(&contact("+14155550100", "Ann", &["vip", "q4"]))
        .await
        .unwrap();
    assert_eq!(c.phone, "+14155550100");
    assert_eq!(c.tags, vec!["q4", "vip"]);
    assert!(!c.do_not_call);
    let dup = store
        .create_contact(&contact("+14155550100", "Bob", &[]))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))));

    let updated = store
        .update_contact(
            c.id,
            ContactUpdate {
                last_name: Some(Some("Lee".into())),
                first_name: Some(None),
                tags: Some(vec!["gold".into()]),
                custom_fields: Some([("plan".to_string(), "pro".to_string())].into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.first_name, None);
    assert_eq!(updated.last_name.as_deref(), Some("Lee"));
    assert_eq!(updated.tags, vec!["gold"]);
    assert_eq!(
        updated.custom_fields.get("plan").map(String::as_str),
        Some("pro")
    );

    let other = store
        .create_contact(&contact("+14155550101", "Cy", &[]))
        .await
        .unwrap();
    let clash = store
        .update_contact(
            other.id,
            ContactUpdate {
                phone: Some(phone("+14155550100")),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))));
    assert_eq!(
        store.get_contact(other.id).await.unwrap().phone,
        "+14155550101"
    );

    store.delete_contact(c.id).await.unwrap();
    assert!(matches!(
        store.get_contact(c.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_contact(c.id).await,
        Err(StoreError::NotFound)
    ));
    let tags = store.list_tags().await.unwrap();
    assert!(tags.iter().all(|(_, n)| *n == 0), "{tags:?}");
}

pub async fn contacts_filters_and_pagination(store: Store) {
    for i in 0..25 {
        let tags: &[&str] = if i % 5 == 0 { &["gold"] } else { &[] };
        let mut c = contact(
            &format!("+1415555{:04}", 1000 + i),
            &format!("Name{i}"),
            tags,
        );
        c.fields.email = Some(format!("p{i}@example.com"));
        store.create_contact(&c).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut req = PageRequest::first(10);
    loop {
        let page = store
            .list_contacts(&ContactFilter::default(), req)
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|c| c.id));
        match page.next_before_id {
            Some(id) => req.before_id = Some(id),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );

    let gold = store
        .list_contacts(
            &ContactFilter {
                tag: Some("GOLD".into()),
                ..Default::default()
            },
            PageRequest::first(100),
        )
        .await
        .unwrap();
    assert_eq!(gold.items.len(), 5);
    let by_text = store
        .list_contacts(
            &ContactFilter {
                q: Some("P13@EXAMPLE".into()),
                ..Default::default()
            },
            PageRequest::first(100),
        )
        .await
        .unwrap();
    assert_eq!(by_text.items.len(), 1);
    assert_eq!(by_text.items[0].first_name.as_deref(), Some("Name13"));
    let literal = store
        .list_contacts(
            &ContactFilter {
                q: Some("%".into()),
                ..Default::default()
            },
            PageRequest::first(100),
        )
        .await
        .unwrap();
    assert!(
        literal.items.is_empty(),
        "LIKE wildcards in search text match literally"
    );
    let future = store
        .list_contacts(
            &ContactFilter {
                created_from: Some(parley_domain::time::now_millis() + 60_000),
                ..Default::default()
            },
            PageRequest::first(100),
        )
        .await
        .unwrap();
    assert!(future.items.is_empty());
}

/// Lists of calls show whom they were to: first and last name as one, a contact with no
/// name left out, ids that are no contact ignored.
pub async fn contact_names_are_read_in_one_go(store: Store) {
    let ann = store
        .create_contact(&contact("+14155550200", "Ann", &[]))
        .await
        .unwrap();
    let mut lee = contact("+14155550201", "Bo", &[]);
    lee.fields.last_name = Some("Lee".into());
    let lee = store.create_contact(&lee).await.unwrap();
    let mut nameless = contact("+14155550202", "x", &[]);
    nameless.fields.first_name = None;
    let nameless = store.create_contact(&nameless).await.unwrap();
    let names = store
        .contact_names(&[ann.id, lee.id, nameless.id, 9_999])
        .await
        .unwrap();
    assert_eq!(names.len(), 2);
    assert_eq!(names[&ann.id], "Ann");
    assert_eq!(names[&lee.id], "Bo Lee");
    assert!(store.contact_names(&[]).await.unwrap().is_empty());
}
