//! The dialer running a sandbox campaign end to end.
use crate::calls_e2e::sandbox;
use crate::harness::TestApp;
use parley_domain::campaign::CampaignState;
use parley_engine::events::LiveEvent;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

const CAMPAIGN_TIMEOUT: Duration = Duration::from_secs(120);

/// Settings that allow calls at any hour (tests run at any hour) and retry at once, and
/// call contacts without consent (consent is tested in `consent`).
fn settings(max_concurrent: u32) -> Value {
    let retry = |max: u32| json!({"max_attempts": max, "delay_minutes": 0});
    any_hour_settings(json!({
        "max_concurrent_calls": max_concurrent,
        "retry": {"no_answer": retry(2), "busy": retry(2), "failed": retry(2), "voicemail": retry(1),
                  "short_call": retry(1), "short_call_seconds": 1, "unsuccessful": retry(1),
                  "max_attempts_per_day": 5},
    }))
}

pub async fn campaign_with(app: &TestApp, phones: &[&str], max_concurrent: u32) -> i64 {
    let mut csv = String::from("phone,first_name,tags\n");
    for (i, p) in phones.iter().enumerate() {
        csv.push_str(&format!("{p},Person{i},dialer\n"));
    }
    let id = create_campaign(app, "dialer", settings(max_concurrent)).await;
    import_csv(app, id, csv).await;
    id
}

/// Settings that call at any hour of any day (the law's hours aside: Florida's still
/// bind), without consent, one call each at once, with `extra` on top.
pub fn any_hour_settings(extra: Value) -> Value {
    let mut settings = json!({
        "caller_ids": ["+15005550006"],
        "calls_per_second": 10,
        "calling_window": {"start": "00:00", "end": "23:59",
                           "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
        "allow_outside_legal_hours": true,
        "required_consent": "none",
        "dynamic_variables": {"customer_name": "first_name"}
    });
    for (k, v) in extra.as_object().expect("an object of settings") {
        settings[k] = v.clone();
    }
    settings
}

/// Creates a campaign with these settings; returns its id.
pub async fn create_campaign(app: &TestApp, name: &str, settings: Value) -> i64 {
    let (status, campaign) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": name, "settings": settings})),
        )
        .await;
    assert_eq!(status, 201, "{campaign}");
    campaign["id"].as_i64().unwrap()
}

/// Imports a CSV's contacts into campaign `id`.
pub async fn import_csv(app: &TestApp, id: i64, csv: String) {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::text(csv).file_name("c.csv"),
    );
    let resp = app
        .req(
            Method::POST,
            &format!("/api/v1/contacts/import?campaign_id={id}"),
            &app.operator_key,
        )
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

pub async fn wait_until_completed(app: &TestApp, id: i64) {
    let mut events = app.engine.events.subscribe();
    let (_, c) = app
        .call(Method::GET, &format!("/api/v1/campaigns/{id}"), None)
        .await;
    if c["state"] == "completed" {
        return;
    }
    tokio::time::timeout(CAMPAIGN_TIMEOUT, async {
        loop {
            if let Ok(LiveEvent::CampaignChanged {
                campaign_id,
                state: CampaignState::Completed,
            }) = events.recv().await
            {
                if campaign_id == id {
                    return;
                }
            }
        }
    })
    .await
    .expect("the campaign completes");
}

/// Each contact's row in the campaign, by phone.
async fn contacts_by_phone(app: &TestApp, id: i64) -> HashMap<String, Value> {
    let (_, list) = app
        .call(
            Method::GET,
            &format!("/api/v1/campaigns/{id}/contacts?limit=500"),
            None,
        )
        .await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["phone"].as_str().unwrap().to_string(), c.clone()))
        .collect()
}

#[tokio::test]
async fn a_campaign_dials_retries_and_completes_with_every_outcome_accounted_for() {
    let app = sandbox().await;
    let converse = [
        "+15550199001",
        "+15550199002",
        "+15550199003",
        "+15550199004",
        "+15550199005",
    ];
    let others = [
        "+15550100002",
        "+15550100003",
        "+15550100004",
        "+15550100007",
        "+15550100008",
        "+15550100009",
    ];
    let blocked = "+15550199009";
    let mut phones: Vec<&str> = converse.to_vec();
    phones.extend(others);
    phones.push(blocked);
    let id = campaign_with(&app, &phones, 3).await;
    let (status, _) = app
        .call(Method::POST, "/api/v1/dnc", Some(json!({"phone": blocked})))
        .await;
    assert_eq!(status, 201);
    let (_, started) = app
        .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    assert_eq!(started["state"], "running");
    wait_until_completed(&app, id).await;

    let (_, campaign) = app
        .call(Method::GET, &format!("/api/v1/campaigns/{id}"), None)
        .await;
    let p = &campaign["progress"];
    assert_eq!(campaign["state"], "completed", "{campaign}");
    assert_eq!(
        (
            p["total"].as_i64(),
            p["completed"].as_i64(),
            p["failed"].as_i64(),
            p["cancelled"].as_i64()
        ),
        (Some(12), Some(5), Some(5), Some(2)),
        "{p}"
    );
    assert_eq!(
        p["attempts"], 14,
        "5 + voicemail 1 + no answer 2 + busy 2 + opt-out 1 + invalid 1 + carrier 2"
    );

    let rows = contacts_by_phone(&app, id).await;
    let expect = |phone: &str, state: &str, attempts: i64| {
        let row = &rows[phone];
        assert_eq!(
            (row["state"].as_str(), row["attempts"].as_i64()),
            (Some(state), Some(attempts)),
            "{phone}: {row}"
        );
    };
    for p in converse {
        expect(p, "completed", 1);
    }
    expect("+15550100002", "failed", 1);
    expect("+15550100003", "failed", 2);
    expect("+15550100004", "failed", 2);
    expect("+15550100007", "cancelled", 1);
    expect("+15550100008", "failed", 1);
    expect("+15550100009", "failed", 2);
    expect(blocked, "cancelled", 0);
    assert!(rows["+15550100003"]["reason"]
        .as_str()
        .unwrap()
        .contains("no answer after 2 attempts"));
    assert_eq!(rows["+15550100007"]["reason"], "opted out");

    // Exactly one call per attempt, never to the blocked number, the opt-out honoured.
    let (_, calls) = app
        .call(
            Method::GET,
            &format!("/api/v1/calls?campaign_id={id}&limit=500"),
            None,
        )
        .await;
    let calls = calls["items"].as_array().unwrap();
    assert_eq!(calls.len(), 14);
    let mut per_contact: HashMap<i64, Vec<i64>> = HashMap::new();
    for c in calls {
        per_contact
            .entry(c["contact_id"].as_i64().unwrap())
            .or_default()
            .push(c["attempt"].as_i64().unwrap());
    }
    for attempts in per_contact.values_mut() {
        attempts.sort();
        assert_eq!(
            *attempts,
            (1..=attempts.len() as i64).collect::<Vec<_>>(),
            "one call per attempt number"
        );
    }
    assert!(calls.iter().all(|c| c["to"] != blocked));
    let callee = |c: &Value| phones.iter().position(|p| c["to"] == *p).unwrap();
    assert!(
        calls
            .iter()
            .all(|c| c["contact_name"] == format!("Person{}", callee(c))),
        "each call is listed with its contact's name"
    );
    let (_, dnc) = app
        .call(Method::GET, "/api/v1/dnc/check?phone=%2B15550100007", None)
        .await;
    assert_eq!(
        dnc["global"], true,
        "the opt-out put the number on the do-not-call list"
    );
    let (_, first) = app
        .call(
            Method::GET,
            &format!(
                "/api/v1/calls/{}",
                calls.iter().find(|c| c["to"] == converse[0]).unwrap()["id"]
            ),
            None,
        )
        .await;
    assert_eq!(first["outcome"], "success");

    // The concurrency limit held at the carrier.
    let peak = peak_concurrency(&app.sandbox().twilio.sim.calls());
    assert!(peak <= 3, "{peak} calls at once with a limit of 3");
    app.stop().await;
}

#[tokio::test]
async fn a_callback_request_becomes_the_contacts_next_attempt() {
    let app = sandbox().await;
    let id = campaign_with(&app, &["+15550100006"], 1).await;
    let mut events = app.engine.events.subscribe();
    app.call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    tokio::time::timeout(CAMPAIGN_TIMEOUT, async {
        loop {
            if let Ok(LiveEvent::ProgressChanged { campaign_id }) = events.recv().await {
                if campaign_id == id {
                    return;
                }
            }
        }
    })
    .await
    .expect("the attempt settles");
    let rows = contacts_by_phone(&app, id).await;
    let row = &rows["+15550100006"];
    assert_eq!(row["state"], "scheduled", "{row}");
    let at =
        chrono::DateTime::parse_from_rfc3339(row["next_attempt_at"].as_str().unwrap()).unwrap();
    let local = at.with_timezone(&chrono_tz::America::New_York);
    let tomorrow = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive()
        .succ_opt()
        .unwrap();
    assert_eq!(
        (local.date_naive(), local.format("%H:%M").to_string()),
        (tomorrow, "15:00".to_string()),
        "tomorrow 15:00 in the contact's zone"
    );
    let (_, campaign) = app
        .call(Method::GET, &format!("/api/v1/campaigns/{id}"), None)
        .await;
    assert_eq!(
        campaign["state"], "running",
        "a scheduled callback keeps the campaign open"
    );
    app.stop().await;
}

/// Peak number of calls up at once across simulators.
pub fn peak_concurrency(calls: &[parley_sim::twilio::SimCall]) -> i32 {
    let mut edges: Vec<(chrono::DateTime<chrono::Utc>, i32)> = Vec::new();
    for c in calls.iter().filter(|c| c.started.is_some()) {
        edges.push((c.started.unwrap(), 1));
        edges.push((c.ended.unwrap_or_else(chrono::Utc::now), -1));
    }
    edges.sort_by_key(|(t, d)| (*t, *d));
    let (mut live, mut peak) = (0, 0);
    for (_, d) in edges {
        live += d;
        peak = peak.max(live);
    }
    peak
}

/// CI size: 30 contacts, limit 4. The full size is one variable away:
/// `PARLEY_TWO_NODE_CONTACTS=2000 PARLEY_TWO_NODE_LIMIT=20 cargo test -p parley-server --test api two_nodes`.
#[tokio::test]
async fn two_nodes_on_postgresql_share_a_campaign_without_double_dials() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (contacts, limit) = (
        env("PARLEY_TWO_NODE_CONTACTS", 30),
        env("PARLEY_TWO_NODE_LIMIT", 4) as u32,
    );
    let fast = |s: &mut parley_engine::settings::Settings| {
        s.sandbox.speed = 20.0;
        s.dialer.account_calls_per_second = 20.0;
        // The campaign's own limit is under test here, not the account's.
        s.dialer.max_concurrent_calls = 10_000;
    };
    let a = TestApp::start_on(crate::harness::Db::Postgres, fast).await;
    // A second node: its own process state, dialer and simulators; the same database.
    let b_dir = tempfile::tempdir().unwrap();
    let mut settings = crate::harness::node_settings(b_dir.path(), a.database_url.clone());
    fast(&mut settings);
    let b_store = parley_store::Store::open(&a.database_url).await.unwrap();
    let b = crate::harness::Node::start(settings, b_store.clone()).await;

    let phones: Vec<String> = (0..contacts).map(|i| format!("+155502{i:05}")).collect();
    let refs: Vec<&str> = phones.iter().map(String::as_str).collect();
    let id = campaign_with(&a, &refs, limit).await;
    let (mut events_a, mut events_b) = (a.engine.events.subscribe(), b.engine().events.subscribe());
    a.call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    // Node B hears every call end, its own and (through PostgreSQL) node A's.
    let mut ended_seen_by_b = std::collections::HashSet::new();
    let mut done = false;
    let timeout = CAMPAIGN_TIMEOUT * (contacts as u32 / 30).max(1);
    tokio::time::timeout(timeout, async {
        while !(done && ended_seen_by_b.len() >= contacts) {
            tokio::select! {
                e = events_a.recv() => if let Ok(LiveEvent::CampaignChanged { campaign_id, state: CampaignState::Completed }) = e {
                    done |= campaign_id == id;
                },
                e = events_b.recv() => match e {
                    Ok(LiveEvent::CallEnded { call_id, .. }) => { ended_seen_by_b.insert(call_id); }
                    Ok(LiveEvent::CampaignChanged { campaign_id, state: CampaignState::Completed }) => done |= campaign_id == id,
                    _ => {}
                },
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("completion and every call's end seen on node B ({} of {contacts})", ended_seen_by_b.len()));

    let mut dialled: Vec<String> = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/api/v1/calls?campaign_id={id}&limit=500{cursor}");
        let (_, page) = a.call(Method::GET, &path, None).await;
        dialled.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["to"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    dialled.sort();
    let mut expected: Vec<String> = phones.clone();
    expected.sort();
    assert_eq!(dialled, expected, "every contact dialled exactly once");

    let mut at_carrier = a.sandbox().twilio.sim.calls();
    let b_calls = b.sandbox.as_ref().unwrap().twilio.sim.calls();
    assert!(
        !at_carrier.is_empty() && !b_calls.is_empty(),
        "both nodes dialled: {} and {}",
        at_carrier.len(),
        b_calls.len()
    );
    assert_eq!(
        at_carrier.len() + b_calls.len(),
        contacts,
        "one carrier call per contact"
    );
    at_carrier.extend(b_calls);
    let peak = peak_concurrency(&at_carrier);
    assert!(
        peak <= limit as i32,
        "{peak} calls at once across both nodes, limit {limit}"
    );
    let (_, campaign) = a
        .call(Method::GET, &format!("/api/v1/campaigns/{id}"), None)
        .await;
    assert_eq!(
        (
            campaign["progress"]["completed"].as_i64(),
            campaign["progress"]["attempts"].as_i64()
        ),
        (Some(contacts as i64), Some(contacts as i64))
    );
    b.stop().await;
    b_store.close().await;
    a.stop().await;
}

#[tokio::test]
async fn a_campaign_past_its_end_date_pauses_itself_and_says_why() {
    let app = sandbox().await;
    let id = campaign_with(&app, &["+15550199101"], 1).await;
    let mut s = settings(1);
    s["end_date"] = json!((chrono::Utc::now() - chrono::TimeDelta::days(3))
        .date_naive()
        .to_string());
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/campaigns/{id}"),
            Some(json!({"settings": s})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut events = app.engine.events.subscribe();
    app.call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    tokio::time::timeout(CAMPAIGN_TIMEOUT, async {
        loop {
            if let Ok(LiveEvent::CampaignChanged {
                campaign_id,
                state: CampaignState::Paused,
            }) = events.recv().await
            {
                if campaign_id == id {
                    return;
                }
            }
        }
    })
    .await
    .expect("the campaign pauses");
    let (_, campaign) = app
        .call(Method::GET, &format!("/api/v1/campaigns/{id}"), None)
        .await;
    assert_eq!(campaign["state"], "paused");
    assert_eq!(
        campaign["state_reason"],
        "the campaign's end date has passed"
    );
    assert_eq!(campaign["progress"]["attempts"], 0, "nobody was called");
    app.stop().await;
}

#[tokio::test]
async fn a_carrier_account_error_pauses_the_campaign_with_the_reason() {
    use parley_engine::telephony::sandbox_credentials as creds;
    use parley_sim::elevenlabs::{ElevenLabsSim, ElevenLabsSimConfig};
    use parley_sim::twilio::{TwilioSim, TwilioSimConfig};
    let loopback: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let twilio = TwilioSim::spawn(TwilioSimConfig::default(), loopback)
        .await
        .unwrap();
    let agent = ElevenLabsSim::spawn(ElevenLabsSimConfig::default(), loopback)
        .await
        .unwrap();
    let (twilio_url, agent_url) = (twilio.base_url.clone(), agent.base_url.clone());
    // The carrier refuses this account's credentials: Twilio's 20003.
    let app = TestApp::start_on(crate::harness::Db::Sqlite, move |s| {
        s.twilio.account_sid = Some(creds::TWILIO_ACCOUNT_SID.into());
        s.twilio.auth_token = Some("a-revoked-token".into());
        s.twilio.api_base_url = twilio_url.parse().unwrap();
        s.elevenlabs.api_key = Some(creds::ELEVENLABS_API_KEY.into());
        s.elevenlabs.api_base_url = agent_url.parse().unwrap();
        s.elevenlabs.agent_id = Some(creds::AGENT_ID.into());
        s.dialer.account_calls_per_second = 10.0;
    })
    .await;
    let id = campaign_with(&app, &["+15550199201", "+15550199202"], 1).await;
    let mut events = app.engine.events.subscribe();
    app.call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    // The pause is announced, then the attempt settles: wait for both.
    let (mut paused, mut settled) = (false, false);
    tokio::time::timeout(CAMPAIGN_TIMEOUT, async {
        while !(paused && settled) {
            match events.recv().await {
                Ok(LiveEvent::CampaignChanged {
                    campaign_id,
                    state: CampaignState::Paused,
                }) if campaign_id == id => paused = true,
                Ok(LiveEvent::ProgressChanged { campaign_id }) if campaign_id == id => {
                    settled = true
                }
                _ => {}
            }
        }
    })
    .await
    .expect("the campaign pauses and the attempt settles");
    let (_, campaign) = app
        .call(Method::GET, &format!("/api/v1/campaigns/{id}"), None)
        .await;
    assert_eq!(campaign["state"], "paused");
    let reason = campaign["state_reason"].as_str().unwrap();
    assert!(reason.starts_with("carrier account problem"), "{reason}");
    let p = &campaign["progress"];
    assert_eq!(
        (p["failed"].as_i64(), p["attempts"].as_i64()),
        (Some(0), Some(1)),
        "nobody is failed for the account's problem: {p}"
    );
    assert_eq!(
        p["scheduled"].as_i64().unwrap() + p["pending"].as_i64().unwrap(),
        2,
        "both wait for the resume"
    );
    app.stop().await;
    twilio.stop().await;
    agent.stop().await;
}
