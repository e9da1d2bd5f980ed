//! Exports of calls and contacts: read back as CSV and XLSX, with their filters.
use crate::harness::{error_code, read, Db, TestApp};
use calamine::{Data, Reader, Xlsx};
use parley_domain::call::{CallOutcome, CallStatus};
use parley_domain::campaign::CampaignSettings;
use parley_domain::contact::{ContactFields, NewContact};
use parley_domain::Phone;
use parley_store::{NewCampaign, PastCall};
use reqwest::Method;
use serde_json::json;
use std::collections::HashMap;

const T0: i64 = 1_790_000_000_000;

/// A campaign "Spring" with two calls to Ann (one with an analysis full of traps), and a
/// one-off call outside it. Returns the campaign's id.
async fn seed_calls(app: &TestApp) -> i64 {
    let store = &app.store;
    let campaign = store
        .create_campaign(
            &NewCampaign {
                name: "Spring".into(),
                description: None,
                settings: CampaignSettings {
                    // Consent is not what this tests.
                    required_consent: parley_domain::consent::ConsentType::None,
                    ..Default::default()
                },
            },
            "test",
        )
        .await
        .unwrap();
    let ann = store
        .create_contact(&NewContact {
            phone: Phone::from_e164("+14155550101").unwrap(),
            fields: ContactFields {
                first_name: Some("Ann".into()),
                last_name: Some("Lee".into()),
                ..Default::default()
            },
        })
        .await
        .unwrap();
    let call = |n: i64, campaign_id, analysis, summary: Option<&str>| PastCall {
        campaign_id,
        contact_id: Some(ann.id),
        to: "+14155550101".into(),
        from: "+15005550006".into(),
        status: CallStatus::Completed,
        answered_by: Some("human".into()),
        outcome: Some(CallOutcome::Success),
        duration_seconds: Some(60 + n),
        created_at: T0 + n * 60_000,
        answered_at: Some(T0 + n * 60_000 + 5_000),
        ended_at: Some(T0 + n * 60_000 + 65_000),
        summary: summary.map(String::from),
        analysis,
    };
    let analysis = json!({
        "call_successful": "success",
        "termination_reason": "end_call tool",
        "data_collection_results": {
            "callback_time": {"data_collection_id": "callback_time", "value": "=HYPERLINK(\"http://x\")"},
            "seats": {"data_collection_id": "seats", "value": 12}
        },
        "evaluation_criteria_results": {
            "goal_met": {"criteria_id": "goal_met", "result": "success", "rationale": "-"}
        }
    });
    store
        .insert_past_calls(&[
            call(
                1,
                Some(campaign.id),
                Some(analysis),
                Some("+ booked a demo"),
            ),
            call(2, Some(campaign.id), None, None),
            call(
                3,
                None,
                Some(json!({"data_collection_results": {"other": {"value": "x"}}})),
                None,
            ),
        ])
        .await
        .unwrap();
    campaign.id
}

pub async fn download(app: &TestApp, path: &str) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let response = app
        .req(Method::GET, path, &app.viewer_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    let headers = response.headers().clone();
    (headers, response.bytes().await.unwrap().to_vec())
}

/// Rows as header -> cell text maps.
pub fn csv_rows(body: &[u8]) -> (Vec<String>, Vec<HashMap<String, String>>) {
    let mut reader = csv::Reader::from_reader(body);
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

#[tokio::test]
async fn a_campaigns_calls_export_as_csv_with_analysis_columns_and_no_formulas() {
    calls_csv(Db::Sqlite).await;
}

#[tokio::test]
async fn a_campaigns_calls_export_as_csv_on_postgres() {
    calls_csv(Db::Postgres).await;
}

async fn calls_csv(db: Db) {
    let app = TestApp::start_on(db, |s| s.dialer.enabled = false).await;
    let campaign = seed_calls(&app).await;
    let (headers, body) = download(
        &app,
        &format!("/api/v1/calls/export?campaign_id={campaign}&format=csv&transcript=true"),
    )
    .await;
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"calls-") && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let (header, rows) = csv_rows(&body);
    for column in [
        "data_collection.callback_time",
        "data_collection.seats",
        "evaluation.goal_met",
        "transcript",
    ] {
        assert!(header.iter().any(|h| h == column), "{column} in {header:?}");
    }
    assert!(
        !header.iter().any(|h| h == "data_collection.other"),
        "keys come from the selected calls only: {header:?}"
    );
    assert_eq!(rows.len(), 2, "only the campaign's calls");
    let newest = &rows[0];
    assert_eq!(newest["duration_seconds"], "62");
    assert_eq!(newest["data_collection.seats"], "");
    let first = &rows[1];
    assert_eq!(first["campaign"], "Spring");
    assert_eq!(first["contact_name"], "Ann Lee");
    assert_eq!(first["contact_number"], "'+14155550101");
    assert_eq!(first["status"], "completed");
    assert_eq!(first["outcome"], "success");
    assert_eq!(first["answered_by"], "human");
    assert_eq!(first["duration_seconds"], "61");
    assert_eq!(first["termination_reason"], "end_call tool");
    assert_eq!(first["summary"], "'+ booked a demo");
    assert_eq!(
        first["data_collection.callback_time"],
        "'=HYPERLINK(\"http://x\")"
    );
    assert_eq!(first["data_collection.seats"], "12");
    assert_eq!(first["evaluation.goal_met"], "success");
    assert_eq!(first["created_at"], "2026-09-21T14:14:20Z");

    let audit = app
        .store
        .list_audit(
            &parley_store::AuditFilter::target("calls", None),
            parley_store::PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(audit.items.len(), 1, "{audit:?}");
    assert_eq!(audit.items[0].action, "calls.exported");
    assert!(audit.items[0].actor.starts_with("api_key:"), "{audit:?}");
    let details: serde_json::Value = serde_json::from_str(&audit.items[0].details).unwrap();
    assert_eq!(details["campaign_id"], campaign);
    assert_eq!(details["format"], "csv");
    app.stop().await;
}

#[tokio::test]
async fn a_campaigns_calls_export_as_xlsx_with_strings_and_real_numbers() {
    let app = TestApp::start().await;
    let campaign = seed_calls(&app).await;
    let (headers, body) = download(
        &app,
        &format!("/api/v1/calls/export?campaign_id={campaign}&format=xlsx"),
    )
    .await;
    assert_eq!(
        headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(headers["content-length"], body.len().to_string().as_str());
    let mut book = Xlsx::new(std::io::Cursor::new(body)).unwrap();
    let sheet = book.worksheet_range("calls").unwrap();
    let rows: Vec<&[Data]> = sheet.rows().collect();
    assert_eq!(rows.len(), 3, "header and two calls");
    let col = |name: &str| {
        rows[0]
            .iter()
            .position(|c| c == &Data::String(name.into()))
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let first = rows[2];
    assert_eq!(first[col("duration_seconds")], Data::Float(61.0));
    assert_eq!(first[col("data_collection.seats")], Data::Float(12.0));
    assert_eq!(
        first[col("data_collection.callback_time")],
        Data::String("'=HYPERLINK(\"http://x\")".into())
    );
    assert_eq!(
        first[col("summary")],
        Data::String("'+ booked a demo".into())
    );
    assert_eq!(first[col("campaign")], Data::String("Spring".into()));
    assert_eq!(
        first[col("evaluation.goal_met")],
        Data::String("success".into())
    );
    assert!(
        !rows[0]
            .iter()
            .any(|c| c == &Data::String("transcript".into())),
        "no transcript unless asked for"
    );
    // No cell is a formula.
    let formulas = book.worksheet_formula("calls").unwrap();
    assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()));
    app.stop().await;
}

#[tokio::test]
async fn contacts_export_follows_the_filters_with_progress_and_custom_fields() {
    contacts_export(Db::Sqlite).await;
}

#[tokio::test]
async fn contacts_export_on_postgres() {
    contacts_export(Db::Postgres).await;
}

async fn contacts_export(db: Db) {
    let app = TestApp::start_on(db, |s| s.dialer.enabled = false).await;
    let mut ids = Vec::new();
    for (phone, name, tags, plan) in [
        ("+14155550111", "Ann", vec!["vip"], "gold"),
        ("+14155550112", "Bob", vec!["vip", "west"], "@risk"),
        ("+14155550113", "Cy", vec![], "basic"),
    ] {
        let (status, c) = app
            .call(
                Method::POST,
                "/api/v1/contacts",
                Some(json!({"phone": phone, "first_name": name, "tags": tags,
                            "custom_fields": {"plan": plan}})),
            )
            .await;
        assert_eq!(status, 201, "{c}");
        ids.push(c["id"].as_i64().unwrap());
    }
    let (status, campaign) = app
        .call(
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "Fall"})),
        )
        .await;
    assert_eq!(status, 201, "{campaign}");
    let campaign = campaign["id"].as_i64().unwrap();
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/campaigns/{campaign}/contacts"),
            Some(json!({"contact_ids": [ids[1], ids[2]]})),
        )
        .await;
    assert_eq!(status, 200);
    // Bob has been tried twice, as the dialer would have recorded it.
    let progress = "UPDATE campaign_contacts SET attempts = 2, last_outcome = 'no_answer', \
         state = 'scheduled', next_attempt_at = $1 WHERE contact_id = $2";
    match db {
        Db::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
            let q = sqlx::query(progress).bind(T0).bind(ids[1]);
            q.execute(&pool).await.unwrap();
            pool.close().await;
        }
        Db::Postgres => {
            let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
            let q = sqlx::query(progress).bind(T0).bind(ids[1]);
            q.execute(&pool).await.unwrap();
            pool.close().await;
        }
    }

    let (_, body) = download(&app, "/api/v1/contacts/export?tag=vip").await;
    let (header, rows) = csv_rows(&body);
    assert!(header.iter().any(|h| h == "plan"), "{header:?}");
    let names: Vec<&str> = rows.iter().map(|r| r["first_name"].as_str()).collect();
    assert_eq!(names, vec!["Bob", "Ann"], "the tag filter, newest first");
    let bob = &rows[0];
    assert_eq!(bob["tags"], "vip, west");
    assert_eq!(bob["plan"], "'@risk");
    assert_eq!(bob["attempts"], "2");
    assert_eq!(bob["last_outcome"], "no_answer");
    assert_eq!(bob["next_attempt_at"], "2026-09-21T14:13:20Z");
    assert_eq!(bob["do_not_call"], "false");
    assert_eq!(rows[1]["attempts"], "0");

    let (_, body) = download(
        &app,
        &format!("/api/v1/contacts/export?campaign_id={campaign}&format=xlsx"),
    )
    .await;
    let mut book = Xlsx::new(std::io::Cursor::new(body)).unwrap();
    let sheet = book.worksheet_range("contacts").unwrap();
    let names: Vec<String> = sheet.rows().skip(1).map(|r| r[2].to_string()).collect();
    assert_eq!(names, vec!["Cy", "Bob"], "the campaign's contacts only");
    app.stop().await;
}

#[tokio::test]
async fn bad_exports_get_the_standard_error() {
    let app = TestApp::start().await;
    for path in [
        "/api/v1/calls/export?format=pdf",
        "/api/v1/calls/export?from=yesterday",
        "/api/v1/calls/export?campaign_id=abc",
        "/api/v1/contacts/export?format=json",
        "/api/v1/contacts/export?created_to=soon",
    ] {
        let (status, body) = read(
            app.req(Method::GET, path, &app.viewer_key)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((status, error_code(&body)), (400, "bad_request"), "{path}");
    }
    let unauthenticated = app
        .http
        .get(app.url("/api/v1/calls/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn exports_beyond_the_nodes_places_are_refused_until_one_finishes() {
    let app = TestApp::start().await;
    let taken: Vec<_> = (0..parley_engine::exports::EXPORTS_AT_ONCE)
        .map(|_| app.engine.exports.take().unwrap())
        .collect();
    let path = "/api/v1/contacts/export?format=csv";
    let (status, body) = read(
        app.req(Method::GET, path, &app.viewer_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (503, "service_unavailable"),
        "{body}"
    );
    let audit = app
        .store
        .list_audit(
            &parley_store::AuditFilter::target("contacts", None),
            parley_store::PageRequest::first(10),
        )
        .await
        .unwrap();
    assert!(audit.items.is_empty(), "a refused export is not recorded");
    drop(taken);
    let (headers, _) = download(&app, path).await;
    assert!(headers[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    app.stop().await;
}
