//! The Google Sheets client against the local fake: both ways of authenticating, the
//! token cache, and the errors a user has to act on.
use parley_engine::import::Table;
use parley_engine::settings::GoogleSettings;
use parley_engine::sheets::{SheetValues, Sheets, SheetsError};
use parley_sim::fakes::sheets::{FakeSheets, FakeSheetsConfig, Sheet, Spreadsheet};
use parley_sim::fakes::RunningFake;
use serde_json::json;
use std::time::Duration;

const ACCOUNT: &str = "importer@parley-test.iam.gserviceaccount.com";
const MIB: u64 = 1024 * 1024;

async fn fake(token_ttl: Duration) -> RunningFake<FakeSheets> {
    let config = FakeSheetsConfig {
        token_ttl,
        ..FakeSheetsConfig::default()
    };
    let fake = FakeSheets::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    fake.state.add_spreadsheet(Spreadsheet {
        id: "private-leads".into(),
        sheets: vec![Sheet {
            title: "Q3 leads".into(),
            rows: vec![
                vec![json!("Leads for Q3")],
                vec![],
                vec![json!("phone"), json!("first_name")],
                vec![json!(14155550101u64), json!("Ann")],
            ],
        }],
        anyone_with_link: false,
        shared_with: vec![ACCOUNT.into()],
        editors: vec![],
    });
    fake
}

/// Settings with a service account whose key file is in `dir`.
fn service_account(fake: &RunningFake<FakeSheets>, dir: &tempfile::TempDir) -> GoogleSettings {
    let key = fake
        .state
        .create_service_account(ACCOUNT, &format!("{}/token", fake.base_url));
    let path = dir.path().join("key.json");
    std::fs::write(&path, key).unwrap();
    GoogleSettings {
        service_account_key_file: Some(path),
        sheets_api_base_url: fake.base_url.parse().unwrap(),
        ..GoogleSettings::default()
    }
}

#[tokio::test]
async fn a_service_account_reads_a_shared_range_and_reuses_its_token() {
    let fake = fake(Duration::from_secs(3599)).await;
    let dir = tempfile::tempdir().unwrap();
    let sheets = Sheets::from_settings(&service_account(&fake, &dir));
    let client = sheets.client().unwrap();
    assert_eq!(client.service_account(), Some(ACCOUNT));

    let values = client
        .values("private-leads", "'Q3 leads'!A3:B", MIB)
        .await
        .unwrap();
    assert_eq!(
        values,
        SheetValues {
            sheet: "Q3 leads".into(),
            table: Table {
                first_line: 3,
                rows: vec![
                    vec!["phone".to_owned(), "first_name".to_owned()],
                    vec!["14155550101".to_owned(), "Ann".to_owned()],
                ],
            },
        }
    );
    client.values("private-leads", "A:B", MIB).await.unwrap();
    assert_eq!(fake.state.token_requests(), 1, "the token is cached");

    // A token revoked before it expires is replaced on the spot, once.
    fake.state.revoke_tokens();
    let again = client.values("private-leads", "A3:B4", MIB).await.unwrap();
    assert_eq!(again.table.rows.len(), 2);
    assert_eq!(fake.state.token_requests(), 2);
    fake.stop().await;
}

#[tokio::test]
async fn a_token_near_its_expiry_is_renewed_before_use() {
    // Tokens that live 60 s are inside the renewal margin from the start.
    let fake = fake(Duration::from_secs(60)).await;
    let dir = tempfile::tempdir().unwrap();
    let sheets = Sheets::from_settings(&service_account(&fake, &dir));
    let client = sheets.client().unwrap();
    for _ in 0..2 {
        client.values("private-leads", "A3:B", MIB).await.unwrap();
    }
    assert_eq!(fake.state.token_requests(), 2);
    assert_eq!(fake.state.value_requests(), 2, "no request was refused");
    fake.stop().await;
}

/// The error reading `range` of `id` with `settings`.
async fn error(settings: &GoogleSettings, id: &str, range: &str, max_bytes: u64) -> SheetsError {
    let sheets = Sheets::from_settings(settings);
    let client = sheets.client().unwrap();
    client.values(id, range, max_bytes).await.unwrap_err()
}

#[tokio::test]
async fn errors_say_what_the_user_must_change() {
    let fake = fake(Duration::from_secs(3599)).await;
    let dir = tempfile::tempdir().unwrap();
    let settings = service_account(&fake, &dir);

    let err = error(&settings, "no-such-sheet", "A:B", MIB).await;
    assert!(matches!(err, SheetsError::NotFound), "{err}");
    let err = error(&settings, "private-leads", "Missing!A1", MIB).await;
    assert!(matches!(err, SheetsError::BadRange(_)), "{err}");
    let err = error(&settings, "private-leads", "A:B", 10).await;
    assert!(matches!(err, SheetsError::TooLarge(_)), "{err}");

    // An API key reads only spreadsheets shared with anyone who has the link.
    let api_key = GoogleSettings {
        api_key: Some(fake.state.config().api_key.clone().into()),
        sheets_api_base_url: settings.sheets_api_base_url.clone(),
        ..GoogleSettings::default()
    };
    let err = error(&api_key, "private-leads", "A:B", MIB).await;
    let not_public = matches!(
        err,
        SheetsError::NotShared {
            service_account: None
        }
    );
    assert!(not_public, "{err}");
    let wrong_key = GoogleSettings {
        api_key: Some("AIza-wrong".to_owned().into()),
        ..api_key.clone()
    };
    let err = error(&wrong_key, "private-leads", "A:B", MIB).await;
    assert!(matches!(err, SheetsError::Credentials(_)), "{err}");

    // A key file whose key Google does not know: the assertion's signature fails.
    let other = FakeSheets::new(FakeSheetsConfig::default())
        .create_service_account(ACCOUNT, &format!("{}/token", fake.base_url));
    let forged = dir.path().join("forged.json");
    std::fs::write(&forged, other).unwrap();
    let forged = GoogleSettings {
        service_account_key_file: Some(forged),
        ..settings.clone()
    };
    let err = error(&forged, "private-leads", "A:B", MIB).await;
    assert!(
        matches!(&err, SheetsError::Credentials(m) if m.contains("Invalid JWT Signature")),
        "{err}"
    );
    fake.stop().await;
}

#[test]
fn a_key_file_that_is_not_one_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.json");
    std::fs::write(&path, r#"{"type": "authorized_user"}"#).unwrap();
    let err = Sheets::check_key_file(&path).unwrap_err().to_string();
    assert!(
        err.contains("key.json") && err.contains("not a service account key"),
        "{err}"
    );
    let none = Sheets::from_settings(&GoogleSettings::default());
    assert!(none
        .client()
        .unwrap_err()
        .to_string()
        .contains("not configured"));
}
