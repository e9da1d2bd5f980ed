//! Runs the built `parley` binary as a user would.
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `parley` with a clean environment: no inherited `PARLEY_*` settings, and run in a
/// directory of its own so no stray `./parley.toml` is read.
fn parley(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_parley"));
    command.current_dir(dir).env_remove("RUST_LOG");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PARLEY_") {
            command.env_remove(name);
        }
    }
    // Tests run several servers at once: each gets a free metrics port.
    command.env("PARLEY_METRICS__LISTEN", "127.0.0.1:0");
    command
}

fn run(command: &mut Command) -> Output {
    let output = command.stdin(Stdio::null()).output().expect("parley runs");
    assert!(
        output.status.success(),
        "parley failed: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn no_arguments_prints_help() {
    let dir = tempfile::tempdir().unwrap();
    let output = parley(dir.path()).output().unwrap();
    assert!(!output.status.success());
    let text = stderr(&output) + &stdout(&output);
    assert!(text.contains("Usage"), "{text}");
    assert!(text.contains("serve"), "{text}");
}

#[test]
fn config_prints_valid_toml() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(parley(dir.path()).arg("config"));
    let table: toml::Table = toml::from_str(&stdout(&output)).expect("valid TOML");
    assert_eq!(table["listen"].as_str(), Some("127.0.0.1:8080"));
    assert!(table["twilio"].is_table());
}

#[test]
fn migrate_creates_the_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let output = run(parley(dir.path())
        .arg("migrate")
        .arg("--data-dir")
        .arg(&data));
    assert!(data.join("parley.db").is_file());
    assert!(stdout(&output).contains("sqlite"), "{}", stdout(&output));
    // Migrating again is a no-op, not an error.
    run(parley(dir.path())
        .arg("migrate")
        .arg("--data-dir")
        .arg(&data));
}

#[test]
fn unknown_settings_warn_and_bad_ones_fail() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let output = run(parley(dir.path())
        .args(["migrate", "--data-dir"])
        .arg(&data)
        .env("PARLEY_LISTN", "127.0.0.1:1"));
    assert!(
        stderr(&output).contains("PARLEY_LISTN"),
        "{}",
        stderr(&output)
    );

    std::fs::write(dir.path().join("parley.toml"), "listen = \"nope\"\n").unwrap();
    let output = parley(dir.path()).arg("migrate").output().unwrap();
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("`listen`") && text.contains("nope"), "{text}");
}

#[test]
fn admin_creates_a_user_and_an_api_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let output = run(parley(dir.path())
        .args(["admin", "create-user", "--email", "ops@example.com"])
        .args(["--password", "correct horse battery", "--role", "admin"])
        .arg("--data-dir")
        .arg(&data));
    assert!(
        stdout(&output).contains("ops@example.com"),
        "{}",
        stdout(&output)
    );

    let output = run(parley(dir.path())
        .args([
            "admin",
            "create-api-key",
            "--name",
            "ci",
            "--role",
            "operator",
        ])
        .args(["--expires-in-days", "30", "--data-dir"])
        .arg(&data));
    let text = stdout(&output);
    let key = text.lines().last().expect("a last line");
    assert!(key.len() >= 20, "key too short: {key:?}");
    assert!(
        !key.contains(char::is_whitespace),
        "key line has more: {key:?}"
    );

    // Validation errors are reported, not panics.
    let output = parley(dir.path())
        .args(["admin", "create-user", "--email", "not-an-email"])
        .args(["--password", "long enough password", "--role", "viewer"])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(stderr(&output).contains("email"), "{}", stderr(&output));
}

/// Kills the server if the test fails before stopping it.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// An OpenTelemetry collector's OTLP/HTTP traces endpoint: sends on `spans` each request
/// body (protobuf) it accepts.
async fn otlp_collector() -> (String, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let tx = tx.clone();
                async move {
                    assert_eq!(headers["content-type"], "application/x-protobuf");
                    let _ = tx.send(body.to_vec());
                    axum::http::StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1/traces"), rx)
}

// Multi-threaded: the collector must answer while this thread blocks on the child.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_healthz_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // Spans go to a collector too; the last are flushed at exit.
    let (collector, mut spans) = otlp_collector().await;
    let child = parley(dir.path())
        .env("PARLEY_LOG__OTLP_ENDPOINT", &collector)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("parley serve starts");
    let mut server = ChildGuard(child);
    // The server's log lines, as they come: the signal that it is up.
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stderr = server.0.stderr.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !log.iter().any(|l: &String| l.contains("listening")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => log.push(line),
            Err(_) => panic!("parley serve did not start listening:\n{}", log.join("\n")),
        }
    }
    let health = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), reqwest::StatusCode::OK);
    assert!(
        log.iter().any(|l| l.contains("sandbox mode")),
        "{}",
        log.join("\n")
    );

    #[cfg(unix)]
    {
        let pid = server.0.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        // Exit closes the log pipe: the reader thread ends and the channel disconnects.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => log.push(line),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    panic!("no exit after SIGTERM:\n{}", log.join("\n"))
                }
            }
        }
        let status = server.0.wait().unwrap();
        assert!(
            status.success(),
            "exit {status} after SIGTERM:\n{}",
            log.join("\n")
        );
        // The request's span, with its route and request id, reached the collector.
        let mut exported = Vec::new();
        while let Ok(batch) = spans.try_recv() {
            exported.extend(batch);
        }
        let has = |needle: &[u8]| exported.windows(needle.len()).any(|w| w == needle);
        assert!(
            has(b"/healthz") && has(b"request_id"),
            "no http span exported ({} bytes):\n{}",
            exported.len(),
            log.join("\n")
        );
        assert!(has(b"parley"), "the service is named");
    }
}

#[test]
fn campaign_operations_list_stop_and_requeue() {
    let dir = tempfile::tempdir().unwrap();
    run(parley(dir.path()).arg("migrate"));
    let url = format!(
        "sqlite://{}",
        dir.path().join("parley-data/parley.db").display()
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = parley_store::Store::open(&url).await.unwrap();
        for name in ["Spring renewals", "Winter promo"] {
            let c = store
                .create_campaign(
                    &parley_store::NewCampaign {
                        name: name.into(),
                        description: None,
                        settings: Default::default(),
                    },
                    "test",
                )
                .await
                .unwrap();
            if name == "Winter promo" {
                let contact = store
                    .create_contact(&parley_domain::contact::NewContact {
                        phone: parley_domain::Phone::from_e164("+14155550123").unwrap(),
                        fields: Default::default(),
                    })
                    .await
                    .unwrap();
                store
                    .add_campaign_contacts(
                        c.id,
                        &parley_store::ContactSelector::Ids(vec![contact.id]),
                    )
                    .await
                    .unwrap();
                store
                    .transition_campaign(
                        c.id,
                        parley_domain::campaign::CampaignAction::Start,
                        "test",
                        None,
                    )
                    .await
                    .unwrap();
            }
        }
        store.close().await;
    });
    let list = stdout(&run(parley(dir.path()).args(["campaigns", "list"])));
    assert!(
        list.contains("Spring renewals") && list.contains("draft"),
        "{list}"
    );
    assert!(
        list.contains("Winter promo") && list.contains("running"),
        "{list}"
    );
    let stopped = stdout(&run(parley(dir.path()).args([
        "campaigns",
        "stop-all",
        "--reason",
        "incident",
    ])));
    assert!(stopped.contains("2 campaigns stopped"), "{stopped}");
    let list = stdout(&run(parley(dir.path()).args(["campaigns", "list"])));
    assert_eq!(list.matches("stopped").count(), 2, "{list}");
    let released = stdout(&run(
        parley(dir.path()).args(["campaigns", "release-leases"])
    ));
    assert!(released.contains("released 0"), "{released}");
    let bad = parley(dir.path())
        .args([
            "campaigns",
            "requeue",
            "--campaign",
            "1",
            "--from",
            "sideways",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("unknown state"), "{}", stderr(&bad));
}

#[test]
fn import_names_a_file_that_is_no_table_and_imports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("leads.csv"),
        b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n",
    )
    .unwrap();
    let bad = parley(dir.path())
        .args(["import", "leads.csv"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("leads.csv is a PDF document, not a CSV or XLSX file"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn import_writes_a_csv_or_xlsx_file_with_its_row_report() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("leads.csv");
    std::fs::write(
        &csv,
        "phone,first_name,tags\n+14155550101,Ann,cli\nnot a phone,Bob,cli\n(415) 555-0102,Cy,cli\n",
    )
    .unwrap();
    let out = stdout(&run(parley(dir.path()).args(["import", "leads.csv"])));
    assert!(
        out.contains("import 1 completed: 3 rows read, 2 new contacts, 0 updated"),
        "{out}"
    );
    assert!(out.contains("1 rejected"), "{out}");
    assert!(out.contains("line 3: invalid_phone"), "{out}");

    // The same contacts from a workbook (told by its contents, whatever its name) update.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in [["phone", "company"], ["+14155550101", "Acme"]]
        .iter()
        .enumerate()
    {
        for (c, cell) in row.iter().enumerate() {
            sheet.write_string(r as u32, c as u16, *cell).unwrap();
        }
    }
    std::fs::write(dir.path().join("book"), book.save_to_buffer().unwrap()).unwrap();
    let out = stdout(&run(parley(dir.path()).args(["import", "book"])));
    assert!(
        out.contains("import 2 completed: 1 rows read, 0 new contacts, 1 updated"),
        "{out}"
    );

    // A campaign that does not exist: refused before anything is read into the database.
    let refused = parley(dir.path())
        .args(["import", "leads.csv", "--campaign", "7"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("campaign 7"),
        "{}",
        stderr(&refused)
    );
    let headless = dir.path().join("headless.csv");
    std::fs::write(&headless, "name,company\nAnn,Acme\n").unwrap();
    let refused = parley(dir.path())
        .args(["import", "headless.csv"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("not a usable header"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn export_writes_contacts_and_calls_files_with_the_filters() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("leads.csv"),
        "phone,first_name,tags,plan\n+14155550101,Ann,cli,=cmd\n+14155550102,Bob,other,basic\n",
    )
    .unwrap();
    run(parley(dir.path()).args(["import", "leads.csv"]));
    let done =
        run(parley(dir.path()).args(["export", "contacts", "--tag", "cli", "--output", "ann.csv"]));
    assert!(
        stderr(&done).contains("exported 1 rows"),
        "{}",
        stderr(&done)
    );
    let text = std::fs::read_to_string(dir.path().join("ann.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("contact_id,phone,first_name,"), "{text}");
    assert!(header.ends_with(",plan"), "{text}");
    let ann = lines.next().unwrap();
    assert!(
        ann.contains(",'+14155550101,Ann,") && ann.ends_with(",'=cmd"),
        "{text}"
    );
    assert_eq!(lines.next(), None, "only the tagged contact: {text}");
    assert!(!dir.path().join("ann.csv.partial").exists());

    run(parley(dir.path()).args([
        "export",
        "calls",
        "--format",
        "xlsx",
        "--campaign",
        "1",
        "--output",
        "calls.xlsx",
    ]));
    let book = std::fs::read(dir.path().join("calls.xlsx")).unwrap();
    assert!(book.starts_with(b"PK"), "a workbook (a ZIP file)");

    let refused = parley(dir.path())
        .args([
            "export", "calls", "--status", "sideways", "--output", "x.csv",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(!dir.path().join("x.csv").exists());
}

#[test]
fn import_reads_a_google_sheet_with_the_configured_key() {
    use parley_sim::fakes::sheets::{FakeSheets, FakeSheetsConfig, Spreadsheet};
    use serde_json::json;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fake = runtime.block_on(async {
        let fake = FakeSheets::spawn(FakeSheetsConfig::default(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let rows = vec![
            vec![json!("phone"), json!("first_name")],
            vec![json!("+14155550111"), json!("Dee")],
            vec![json!("555"), json!("Eve")],
        ];
        fake.state
            .add_spreadsheet(Spreadsheet::public("1CliSheet", rows));
        fake
    });
    let dir = tempfile::tempdir().unwrap();
    let out = stdout(&run(parley(dir.path())
        .args([
            "import",
            "--sheet",
            "https://docs.google.com/spreadsheets/d/1CliSheet/edit",
        ])
        .env("PARLEY_GOOGLE__API_KEY", &fake.state.config().api_key)
        .env("PARLEY_GOOGLE__SHEETS_API_BASE_URL", &fake.base_url)));
    assert!(out.contains("2 rows read, 1 new contacts"), "{out}");
    assert!(out.contains("line 3: invalid_phone"), "{out}");
    let refused = parley(dir.path())
        .args(["import", "--sheet", "1CliSheet", "--range", "Nope!A1:B"])
        .env("PARLEY_GOOGLE__API_KEY", &fake.state.config().api_key)
        .env("PARLEY_GOOGLE__SHEETS_API_BASE_URL", &fake.base_url)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("Unable to parse range"),
        "{}",
        stderr(&refused)
    );
    runtime.block_on(fake.stop());
}
