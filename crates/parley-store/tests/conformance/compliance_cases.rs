//! Blocked dials kept as evidence (once per episode, with the hold) and the compliance
//! report read from them and from the campaign's calls, contacts and opt-outs.
use parley_domain::compliance::BlockReason;
use parley_domain::consent::ConsentType;
use parley_domain::contact::{ContactFields, NewContact};
use parley_domain::jurisdiction::RuleBook;
use parley_store::{NewBlockedDial, ReportRange, Store, OPT_OUT_EVENT_KIND, OPT_OUT_SOURCE};

use super::cases::{phone, running_campaign};
use super::consent_cases::{grant, new_contact, started_campaign};
use super::dialing_cases::attempt_call;
use super::frequency_cases::claim;

const MIAMI: &str = "+13055550160";
const NEW_YORK: &str = "+12125550160";
const LONDON: &str = "+442079460160";
const DAY: i64 = 86_400_000;

fn range(campaign_id: i64, required: ConsentType, from: i64, to: i64) -> ReportRange {
    ReportRange {
        campaign_id,
        required,
        from,
        to,
        quality_since: from,
    }
}

fn blocked<'a>(
    campaign_id: i64,
    contact_id: i64,
    reason: BlockReason,
    at: i64,
) -> NewBlockedDial<'a> {
    NewBlockedDial {
        campaign_id,
        contact_id,
        phone: MIAMI,
        jurisdiction: Some("US-FL".into()),
        reason,
        rule: "Fla. Stat. 501.616(6)(a) (Florida)",
        blocked_at: at,
        held_until: Some(at + 3_600_000),
    }
}

pub async fn a_blocked_dial_is_kept_once_per_episode_and_again_after_an_attempt(store: Store) {
    let fl = new_contact(&store, MIAMI).await;
    let id = running_campaign(&store, "evening", &[fl]).await;
    let now = parley_domain::time::now_millis();
    let b = blocked(id, fl, BlockReason::StateHours, now);
    assert!(
        store.record_blocked_dial(&b).await.unwrap(),
        "the first hold"
    );
    // Every later tick that finds it held again for the same reason is the same episode.
    for tick in 1..4 {
        let again = blocked(id, fl, BlockReason::StateHours, now + tick * 250);
        assert!(!store.record_blocked_dial(&again).await.unwrap());
    }
    // Another reason is another episode; then the first reason again is one more.
    assert!(store
        .record_blocked_dial(&blocked(id, fl, BlockReason::FrequencyCap, now + 2000))
        .await
        .unwrap());
    assert!(store
        .record_blocked_dial(&blocked(id, fl, BlockReason::StateHours, now + 3000))
        .await
        .unwrap());
    // An attempt ends the episode: the same reason after it is kept again.
    let claims = claim(&store, id, now).await;
    let mut call = attempt_call(MIAMI);
    call.campaign_id = Some(id);
    call.contact_id = Some(fl);
    store
        .start_attempt(&claims[0], "n", "2026-06-15", &call)
        .await
        .unwrap()
        .unwrap();
    assert!(store
        .record_blocked_dial(&blocked(id, fl, BlockReason::StateHours, now + 4000))
        .await
        .unwrap());

    let page = store
        .blocked_dials_page(id, (now, now + DAY), None, 10)
        .await
        .unwrap();
    let reasons: Vec<BlockReason> = page.iter().map(|b| b.reason).collect();
    assert_eq!(
        reasons,
        [
            BlockReason::StateHours,
            BlockReason::StateHours,
            BlockReason::FrequencyCap,
            BlockReason::StateHours
        ],
        "newest first"
    );
    assert_eq!(page[3].rules_version, RuleBook::shipped().version);
    assert_eq!(page[3].jurisdiction.as_deref(), Some("US-FL"));
    assert_eq!(page[3].blocked_at.timestamp_millis(), now);
    let older = store
        .blocked_dials_page(id, (now, now + DAY), Some(page[1].id), 10)
        .await
        .unwrap();
    assert_eq!(older.len(), 2, "the page below an id");

    let report = store
        .compliance_report(range(id, ConsentType::None, now, now + DAY))
        .await
        .unwrap();
    let counts: Vec<(BlockReason, i64, i64)> = report
        .blocked
        .iter()
        .map(|b| (b.reason, b.blocked, b.contacts))
        .collect();
    assert_eq!(
        counts,
        [
            (BlockReason::FrequencyCap, 1, 1),
            (BlockReason::StateHours, 3, 1)
        ]
    );
    assert_eq!(report.recent_blocked.len(), 4);
    assert_eq!(
        report.rules_versions_recorded,
        [RuleBook::shipped().version.clone()]
    );
    // Outside the range: nothing.
    let before = store
        .compliance_report(range(id, ConsentType::None, now - DAY, now))
        .await
        .unwrap();
    assert!(before.blocked.is_empty() && before.recent_blocked.is_empty());

    // Past retention: deleted in batches.
    assert_eq!(
        store
            .delete_blocked_dials_before(now + 2500, 1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .delete_blocked_dials_before(now + 2500, 10)
            .await
            .unwrap(),
        1
    );
    let left = store
        .blocked_dials_page(id, (now, now + DAY), None, 10)
        .await
        .unwrap();
    assert_eq!(left.len(), 2);
}

pub async fn consent_and_frequency_cap_holds_are_kept_by_the_claim_that_holds_them(store: Store) {
    let fl = new_contact(&store, MIAMI).await;
    let ny = new_contact(&store, NEW_YORK).await;
    // Written consent required (the default), which neither has.
    let strict = started_campaign(&store, "marketing", vec![fl, ny]).await;
    let now = parley_domain::time::now_millis();
    assert!(claim(&store, strict, now).await.is_empty());
    assert!(
        claim(&store, strict, now + 1).await.is_empty(),
        "still held"
    );
    let held = store
        .blocked_dials_page(strict, (now, now + DAY), None, 10)
        .await
        .unwrap();
    let mut got: Vec<(i64, BlockReason, Option<String>)> = held
        .iter()
        .map(|b| (b.contact_id, b.reason, b.jurisdiction.clone()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (fl, BlockReason::NoConsent, Some("US-FL".into())),
            (ny, BlockReason::NoConsent, Some("US-NY".into()))
        ],
        "one each, whatever the ticks"
    );
    assert_eq!(
        held[0].rule,
        "the campaign requires express_written consent"
    );
    assert_eq!(held[0].held_until, None);

    // Florida: three calls in 24 hours, then the claim holds the number back.
    let open = running_campaign(&store, "open", &[fl]).await;
    for _ in 0..3 {
        store.create_call(&attempt_call(MIAMI)).await.unwrap();
    }
    assert!(claim(&store, open, now).await.is_empty());
    let capped = store
        .blocked_dials_page(open, (now, now + DAY), None, 10)
        .await
        .unwrap();
    assert_eq!(capped.len(), 1);
    assert_eq!(capped[0].reason, BlockReason::FrequencyCap);
    assert_eq!(
        capped[0].rule,
        "Fla. Stat. 501.616(6)(b) (Florida: 3 calls in 24 hours)"
    );
    assert!(capped[0]
        .held_until
        .is_some_and(|t| t.timestamp_millis() > now));
}

pub async fn the_report_counts_calls_by_jurisdiction_consent_and_opt_outs(store: Store) {
    let fl = new_contact(&store, MIAMI).await;
    // A Miami number whose address says New York: the address wins.
    let moved = store
        .create_contact(&NewContact {
            phone: phone("+13055550161"),
            fields: ContactFields {
                custom_fields: [("State".to_string(), "new york".to_string())].into(),
                ..Default::default()
            },
        })
        .await
        .unwrap()
        .id;
    let uk = new_contact(&store, LONDON).await;
    let id = running_campaign(&store, "mixed", &[fl, moved, uk]).await;
    store
        .append_consent(fl, &grant(ConsentType::ExpressWritten, 1), "test")
        .await
        .unwrap();
    let mut calls = Vec::new();
    for (to, contact_id) in [
        (MIAMI, fl),
        (MIAMI, fl),
        ("+13055550161", moved),
        (LONDON, uk),
    ] {
        let mut call = attempt_call(to);
        call.campaign_id = Some(id);
        call.contact_id = Some(contact_id);
        calls.push(store.create_call(&call).await.unwrap().id);
    }
    // Flo opts out on her second call.
    let mut tx = store.begin().await.unwrap();
    tx.add_call_event(
        calls[1],
        OPT_OUT_EVENT_KIND,
        Some(OPT_OUT_EVENT_KIND),
        &serde_json::json!({}),
    )
    .await
    .unwrap();
    tx.add_dnc(&phone(MIAMI), None, Some("stop"), OPT_OUT_SOURCE)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let now = parley_domain::time::now_millis();
    let report = store
        .compliance_report(range(id, ConsentType::ExpressWritten, now - DAY, now + DAY))
        .await
        .unwrap();
    let by_place: Vec<(Option<&str>, &str, i64)> = report
        .calls_by_jurisdiction
        .iter()
        .map(|j| (j.jurisdiction.as_deref(), j.name.as_str(), j.calls))
        .collect();
    assert_eq!(
        by_place,
        [
            (None, "Outside the US states", 1),
            (Some("US-FL"), "Florida", 2),
            (Some("US-NY"), "New York", 1)
        ]
    );
    let florida = &report.calls_by_jurisdiction[1];
    assert!(florida
        .rules
        .contains(&"Fla. Stat. 501.616(6)(a)".to_string()));
    assert_eq!(report.rules_version, RuleBook::shipped().version);

    // Flo's consent was revoked by her opt-out: no one has written consent now.
    assert_eq!(report.consent.contacts, 3);
    assert_eq!(report.consent.satisfying, 0);
    assert_eq!(report.consent.required, ConsentType::ExpressWritten);

    assert_eq!(report.opt_outs.count, 1);
    let o = &report.opt_outs.items[0];
    assert_eq!(
        (o.call_id, o.contact_id, o.phone.as_str()),
        (calls[1], Some(fl), MIAMI)
    );
    let lag = o.lag_ms.expect("on the do-not-call list");
    assert!((0..60_000).contains(&lag), "took effect at once: {lag} ms");
    assert_eq!(report.opt_outs.max_lag_ms, Some(lag));
    assert_eq!(o.calls_after, 0);
    // A call placed after it (as if taken off the list by hand) shows.
    let later = store.create_call(&attempt_call(MIAMI)).await.unwrap();
    assert!(later.id > calls[3]);
    let report = store
        .compliance_report(range(id, ConsentType::None, now - DAY, now + DAY))
        .await
        .unwrap();
    assert_eq!(report.opt_outs.items[0].calls_after, 1);
    assert_eq!(report.consent.satisfying, 3, "none required: everyone");
}

pub async fn a_call_counts_where_it_was_judged_to_be_when_it_was_placed(store: Store) {
    // A Miami number whose address said nothing when it was called from Florida, and
    // which has since been given a New York address.
    let contact = store
        .create_contact(&NewContact {
            phone: phone(MIAMI),
            fields: ContactFields {
                custom_fields: [("state".to_string(), "NY".to_string())].into(),
                ..Default::default()
            },
        })
        .await
        .unwrap()
        .id;
    let id = running_campaign(&store, "moved", &[contact]).await;
    for judged in [Some("US-FL"), Some(""), None] {
        let mut call = attempt_call(MIAMI);
        call.campaign_id = Some(id);
        call.contact_id = Some(contact);
        call.jurisdiction = judged.map(str::to_owned);
        store.create_call(&call).await.unwrap();
    }
    let now = parley_domain::time::now_millis();
    let report = store
        .compliance_report(range(id, ConsentType::None, now - DAY, now + DAY))
        .await
        .unwrap();
    let by_place: Vec<(Option<&str>, i64)> = report
        .calls_by_jurisdiction
        .iter()
        .map(|j| (j.jurisdiction.as_deref(), j.calls))
        .collect();
    // As placed: Florida, and no state; a call from before calls kept it: its contact now.
    assert_eq!(
        by_place,
        [(None, 1), (Some("US-FL"), 1), (Some("US-NY"), 1)]
    );
}
