//! A/B variants and per-contact overrides, end to end in the sandbox: each contact's
//! call opens with its variant's first message (or its own, from a contact field) and
//! uses its variant's agent; analytics split the campaign's calls by variant.
use crate::campaign_dialer::{any_hour_settings, create_campaign, import_csv};
use crate::harness::{Db, TestApp};
use parley_engine::dialer::Dialer;
use parley_engine::events::LiveEvent;
use parley_sim::elevenlabs::SimConversation;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

async fn sandbox() -> TestApp {
    TestApp::start_on(Db::Sqlite, |s| {
        s.sandbox.speed = 5.0;
        s.dialer.account_calls_per_second = 20.0;
        s.dialer.enabled = false;
    })
    .await
}

/// Starts campaign `id`, dials every contact in one tick and waits for `calls` ends;
/// returns the campaign's calls in detail.
async fn run(app: &TestApp, id: i64, calls: usize) -> Vec<Value> {
    let (status, body) = app
        .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let mut events = app.engine.events.subscribe();
    let dialer = Dialer::new(app.engine.clone());
    dialer.tick().await.unwrap();
    let mut ended = 0;
    tokio::time::timeout(Duration::from_secs(120), async {
        while ended < calls {
            if let Ok(LiveEvent::CallEnded { .. }) = events.recv().await {
                ended += 1;
                // A call's end frees a slot for whoever the first tick left waiting.
                dialer.tick().await.unwrap();
            }
        }
    })
    .await
    .expect("every call ends");
    let (_, list) = app
        .call(
            Method::GET,
            &format!("/api/v1/calls?campaign_id={id}"),
            None,
        )
        .await;
    let mut out = Vec::new();
    for call in list["items"].as_array().unwrap() {
        let (_, detail) = app
            .call(Method::GET, &format!("/api/v1/calls/{}", call["id"]), None)
            .await;
        out.push(detail);
    }
    assert_eq!(out.len(), calls, "{list}");
    out
}

/// What the agent simulator was given for `call`.
fn conversation(app: &TestApp, call: &Value) -> SimConversation {
    let id = call["conversation_id"].as_str().expect("a conversation");
    app.sandbox()
        .elevenlabs
        .sim
        .conversations()
        .into_iter()
        .find(|c| c.conversation_id == id)
        .expect("the agent's conversation")
}

/// The fields a 422 names.
fn field_names(body: &Value) -> Vec<&str> {
    body["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect()
}

fn first_message(c: &SimConversation) -> Option<String> {
    c.initiation
        .conversation_config_override
        .as_ref()
        .and_then(|o| o.agent.as_ref())
        .and_then(|a| a.first_message.clone())
}

#[tokio::test]
async fn a_campaign_with_two_variants_calls_with_each_and_analytics_split_by_them() {
    let app = sandbox().await;
    let settings = any_hour_settings(json!({
        "first_message": "Hello from the campaign",
        "variants": [
            {"name": "control", "weight": 1, "first_message": "Hi {{customer_name}}, this is A"},
            {"name": "challenger", "weight": 1, "agent_id": "sandbox-agent-b",
             "first_message": "Hi {{customer_name}}, this is B"},
        ],
    }));
    let id = create_campaign(&app, "ab", settings).await;
    let csv: String = std::iter::once("phone,first_name\n".to_owned())
        .chain((1..=8).map(|i| format!("+1555019910{i},P{i}\n")))
        .collect();
    import_csv(&app, id, csv).await;
    let calls = run(&app, id, 8).await;
    let (_, campaign) = app
        .call(Method::GET, &format!("/api/v1/campaigns/{id}"), None)
        .await;
    let variants: Vec<parley_domain::variants::Variant> =
        serde_json::from_value(campaign["settings"]["variants"].clone()).unwrap();
    let mut per_variant: BTreeMap<String, i64> = BTreeMap::new();
    for call in &calls {
        let variant = call["variant"].as_str().expect("every call has a variant");
        *per_variant.entry(variant.to_owned()).or_default() += 1;
        let sent = conversation(&app, call);
        let (letter, agent) = match variant {
            "control" => ("A", "sandbox-agent"),
            "challenger" => ("B", "sandbox-agent-b"),
            other => panic!("unknown variant {other}"),
        };
        assert_eq!(
            first_message(&sent),
            Some(format!("Hi {{{{customer_name}}}}, this is {letter}")),
            "{call}"
        );
        assert_eq!(sent.agent_id, agent, "{call}");
        assert_eq!(call["agent_id"], agent, "{call}");
        assert_eq!(call["agent_overrides"]["from_contact"], json!([]));
        // The contact's variant is the domain's assignment: a retry would get it again.
        let want =
            parley_domain::variants::assign(&variants, id, call["contact_id"].as_i64().unwrap())
                .unwrap()
                .name
                .clone();
        assert_eq!(variant, want);
    }
    assert_eq!(
        per_variant.len(),
        2,
        "both variants were used: {per_variant:?}"
    );

    let (status, split) = app
        .call(
            Method::GET,
            &format!("/api/v1/analytics/variants?campaign_id={id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{split}");
    assert_eq!(split["control"], "control");
    let items = split["items"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["control", "challenger"]);
    for item in items {
        let name = item["name"].as_str().unwrap();
        assert_eq!(item["weight"], 1);
        assert_eq!(item["totals"]["dialed"], per_variant[name], "{split}");
    }
    assert!(items[0]["success_vs_control"].is_null(), "{split}");
    // The calls list and the campaign's own totals agree with the split.
    let (_, summary) = app
        .call(
            Method::GET,
            &format!("/api/v1/analytics/summary?campaign_id={id}"),
            None,
        )
        .await;
    assert_eq!(summary["totals"]["dialed"], 8);
    app.stop().await;
}

#[tokio::test]
async fn contact_fields_set_the_language_voice_and_first_message_of_their_calls() {
    let app = sandbox().await;
    let settings = any_hour_settings(json!({
        "first_message": "Hello {{customer_name}}",
        "contact_overrides": {"language_field": "Lang", "voice_field": "Voice",
                              "first_message_field": "Opening"},
    }));
    let id = create_campaign(&app, "overrides", settings).await;
    // One contact with usable values, one with none, one with a language ElevenLabs
    // does not know.
    let csv = "phone,first_name,Lang,Voice,Opening\n\
               +15550199201,Ana,pt-BR,21m00Tcm4TlvDq8ikWAM,Olá {{customer_name}}\n\
               +15550199202,Bob,,,\n\
               +15550199203,Cy,Klingon,,\n";
    import_csv(&app, id, csv.into()).await;
    let calls = run(&app, id, 3).await;
    for call in &calls {
        let sent = conversation(&app, call);
        let o = sent
            .initiation
            .conversation_config_override
            .clone()
            .unwrap();
        let agent = o.agent.clone().unwrap();
        let voice = o.tts.as_ref().and_then(|t| t.voice_id.clone());
        let shown = &call["agent_overrides"];
        match call["to"].as_str().unwrap() {
            "+15550199201" => {
                assert_eq!(agent.language.as_deref(), Some("pt-br"));
                assert_eq!(voice.as_deref(), Some("21m00Tcm4TlvDq8ikWAM"));
                assert_eq!(
                    agent.first_message.as_deref(),
                    Some("Olá {{customer_name}}")
                );
                assert_eq!(
                    shown["from_contact"],
                    json!(["language", "voice_id", "first_message"])
                );
                assert_eq!(shown["language"], "pt-br");
                assert_eq!(shown["voice_id"], "21m00Tcm4TlvDq8ikWAM");
            }
            _ => {
                assert_eq!(agent.language, None, "{call}");
                assert_eq!(voice, None);
                assert_eq!(
                    agent.first_message.as_deref(),
                    Some("Hello {{customer_name}}")
                );
                assert_eq!(shown["from_contact"], json!([]));
                assert!(shown["language"].is_null());
            }
        }
        assert_eq!(shown["first_message"], json!(agent.first_message));
        assert!(call["variant"].is_null());
    }
    app.stop().await;
}

#[tokio::test]
async fn bad_variants_and_override_mappings_are_refused_with_their_fields() {
    let app = sandbox().await;
    let settings = any_hour_settings(json!({
        "variants": [{"name": "a", "weight": 0}, {"name": "A", "weight": 1}],
        "contact_overrides": {"language_field": " ", "voice_field": "phone"},
    }));
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "bad", "settings": settings})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let mut fields = field_names(&body);
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "settings.contact_overrides.language_field",
            "settings.contact_overrides.voice_field",
            "settings.variants[0].weight",
            "settings.variants[1].name",
        ],
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_variant_whose_first_message_lacks_the_disclosures_keeps_the_campaign_from_starting() {
    let app = sandbox().await;
    let settings = any_hour_settings(json!({
        "first_message": "Hi, this is Sam, an AI assistant calling for Acme Dental.",
        "disclosures": {"required": true, "identification": "Acme Dental",
                        "ai_voice": "an AI assistant"},
        "variants": [
            {"name": "control", "weight": 1},
            {"name": "short", "weight": 1, "first_message": "Hi, it's Sam."},
        ],
    }));
    let id = create_campaign(&app, "disclosed", settings).await;
    import_csv(&app, id, "phone\n+15550199301\n".into()).await;
    let (status, body) = app
        .call(Method::POST, &format!("/api/v1/campaigns/{id}/start"), None)
        .await;
    assert_eq!(status, 422, "{body}");
    let fields = field_names(&body);
    // Both disclosures are missing from the variant's message; the control says the
    // campaign's, which has them.
    assert!(!fields.is_empty(), "{body}");
    assert!(
        fields
            .iter()
            .all(|f| f.ends_with("variants[1].first_message")),
        "{body}"
    );
    app.stop().await;
}
