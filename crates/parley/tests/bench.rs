//! `parley bench` as CI runs it: tiny, on both backends, checking only that the report is
//! complete and sane. Speed is never asserted; `parley bench` reports it.
use serde_json::Value;
use std::process::{Command, Stdio};

fn bench(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_parley"))
        .current_dir(dir.path())
        .arg("bench")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("parley runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "parley bench failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "one JSON object: {stdout}");
    serde_json::from_str(&stdout).expect("JSON on stdout")
}

#[test]
fn import_reports_every_backend() {
    let report = bench(&["import", "--rows", "500", "--db", "both", "--json"]);
    assert_eq!(report["scenario"], "import");
    let results = report["results"].as_array().unwrap();
    let dbs: Vec<&str> = results.iter().map(|r| r["db"].as_str().unwrap()).collect();
    assert_eq!(dbs, ["sqlite", "postgres"]);
    for r in results {
        let count = |key: &str| r[key].as_u64().unwrap_or_else(|| panic!("{key} in {r}"));
        let figure = |key: &str| r[key].as_f64().unwrap_or_else(|| panic!("{key} in {r}"));
        assert_eq!(count("rows"), 500);
        assert_eq!(
            count("created") + count("rejected") + count("duplicates"),
            500
        );
        assert!(count("rejected") > 0 && count("duplicates") > 0, "{r}");
        assert!(figure("seconds") > 0.0, "{r}");
        assert!(figure("rows_per_sec") > 0.0, "{r}");
        assert!(figure("peak_rss_mb") > 0.0, "{r}");
        assert!(figure("cpu_seconds") >= 0.0, "{r}");
    }
}

#[test]
fn import_prints_a_table_without_json() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_parley"))
        .current_dir(dir.path())
        .args(["bench", "import", "--rows", "100", "--db", "sqlite"])
        .stdin(Stdio::null())
        .output()
        .expect("parley runs");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("import: 100 rows"), "{text}");
    assert!(
        text.contains("rows/s") && text.contains("peak RSS MB"),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("sqlite")), "{text}");
}

#[test]
fn bridge_reports_every_figure() {
    let r = bench(&[
        "bridge",
        "--calls",
        "5",
        "--seconds",
        "3",
        "--ramp",
        "0.5",
        "--json",
    ]);
    let count = |key: &str| r[key].as_u64().unwrap_or_else(|| panic!("{key} in {r}"));
    let figure = |key: &str| r[key].as_f64().unwrap_or_else(|| panic!("{key} in {r}"));
    assert_eq!(r["scenario"], "bridge");
    assert_eq!(count("calls"), 5);
    assert_eq!(count("established"), 5, "{r}");
    assert!(figure("seconds") > 0.0, "{r}");
    let sent = count("frames_sent");
    assert!(sent > 0, "{r}");
    // Lost frames are reported, not judged; a few may still be in flight at the end.
    assert!(count("frames_lost") <= sent / 10, "{r}");
    assert_eq!(count("frames_out_of_order"), 0, "{r}");
    for key in ["p50", "p99", "max"] {
        assert!(r["latency_ms"][key].as_f64().unwrap() > 0.0, "{r}");
    }
    for key in ["p50", "p99"] {
        assert!(r["setup_ms"][key].as_f64().unwrap() > 0.0, "{r}");
    }
    // Every call was interrupted once, and each interruption cleared Twilio's buffer.
    assert_eq!(count("interruptions_sent"), 5, "{r}");
    assert_eq!(count("clears_received"), 5, "{r}");
    assert!(count("pings_sent") >= 5, "{r}");
    assert_eq!(count("pongs_missed"), 0, "{r}");
    assert!(figure("bridge_cpu_pct") >= 0.0, "{r}");
    assert!(figure("bridge_rss_mb") > 0.0, "{r}");
    assert!(figure("loadgen_cpu_pct") >= 0.0, "{r}");
}

#[test]
fn dialer_reports_every_backend() {
    let report = bench(&[
        "dialer",
        "--contacts",
        "60",
        "--seconds",
        "30",
        "--db",
        "both",
        "--json",
    ]);
    assert_eq!(report["scenario"], "dialer");
    let results = report["results"].as_array().unwrap();
    let dbs: Vec<&str> = results.iter().map(|r| r["db"].as_str().unwrap()).collect();
    assert_eq!(dbs, ["sqlite", "postgres"]);
    for r in results {
        let count = |key: &str| r[key].as_u64().unwrap_or_else(|| panic!("{key} in {r}"));
        let figure = |key: &str| r[key].as_f64().unwrap_or_else(|| panic!("{key} in {r}"));
        assert_eq!(count("contacts"), 60);
        // Every contact is dialled once: busy callees are not retried.
        assert_eq!(count("dispatched"), 60, "{r}");
        assert!(count("claims") > 0, "{r}");
        assert!(figure("seconds") > 0.0, "{r}");
        assert!(figure("calls_per_sec") > 0.0, "{r}");
        assert!(figure("cps_limit") > 0.0, "{r}");
        assert!(figure("seed_seconds") >= 0.0, "{r}");
        for key in ["p50", "p99"] {
            assert!(r["claim_ms"][key].as_f64().unwrap() > 0.0, "{r}");
        }
        assert!(figure("peak_rss_mb") > 0.0, "{r}");
    }
}

#[test]
fn analytics_times_every_query_on_every_backend() {
    let report = bench(&["analytics", "--calls", "300", "--repeats", "3", "--json"]);
    assert_eq!(report["scenario"], "analytics");
    assert_eq!(report["calls"], 300);
    let results = report["results"].as_array().unwrap();
    for db in ["sqlite", "postgres"] {
        let queries: Vec<&str> = results
            .iter()
            .filter(|r| r["db"] == db)
            .map(|r| r["query"].as_str().unwrap())
            .collect();
        assert_eq!(
            queries,
            [
                "summary",
                "summary_campaign",
                "timeline",
                "hour_of_day_30d",
                "campaigns",
                "summary_http"
            ],
            "{report}"
        );
        assert!(
            report["seed_seconds"][db].as_f64().unwrap() > 0.0,
            "{report}"
        );
    }
    for r in results {
        let (p50, p99) = (r["p50_ms"].as_f64().unwrap(), r["p99_ms"].as_f64().unwrap());
        assert!(p50 > 0.0 && p50 <= p99, "{r}");
    }
}

#[test]
fn analytics_keeps_its_history_for_serve_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data_dir = data_dir.to_str().unwrap();
    let args = [
        "analytics",
        "--calls",
        "100",
        "--repeats",
        "1",
        "--db",
        "sqlite",
        "--keep",
        "--data-dir",
        data_dir,
        "--json",
    ];
    bench(&args);
    assert!(dir.path().join("data/parley.db").is_file());
    let again = Command::new(env!("CARGO_BIN_EXE_parley"))
        .arg("bench")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        !again.status.success(),
        "a second history is not added to the first"
    );
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds a database"),
        "{again:?}"
    );
    let no_dir = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["bench", "analytics", "--db", "sqlite", "--keep"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!no_dir.status.success());
}

#[test]
fn export_reports_both_formats_on_every_backend() {
    let report = bench(&["export", "--calls", "300", "--json"]);
    assert_eq!(report["scenario"], "export");
    let results = report["results"].as_array().unwrap();
    let runs: Vec<(&str, &str)> = results
        .iter()
        .map(|r| (r["db"].as_str().unwrap(), r["format"].as_str().unwrap()))
        .collect();
    assert_eq!(
        runs,
        [
            ("sqlite", "csv"),
            ("sqlite", "xlsx"),
            ("postgres", "csv"),
            ("postgres", "xlsx")
        ]
    );
    for r in results {
        let figure = |key: &str| r[key].as_f64().unwrap_or_else(|| panic!("{key} in {r}"));
        assert_eq!(r["rows"], 300, "{r}");
        assert!(figure("rows_per_sec") > 0.0, "{r}");
        assert!(figure("megabytes") > 0.0, "{r}");
        assert!(figure("peak_rss_mb") >= figure("rss_before_mb"), "{r}");
    }
}

#[test]
fn pickup_reports_the_dead_air_at_each_delay() {
    let report = bench(&["pickup", "--calls", "2", "--delays", "0,20", "--json"]);
    assert_eq!(report["scenario"], "pickup");
    let results = report["results"].as_array().unwrap();
    let delays: Vec<u64> = results
        .iter()
        .map(|r| r["one_way_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(delays, [0, 20], "{report}");
    for r in results {
        assert_eq!(r["target"], "parley", "{r}");
        assert_eq!(r["calls"], 2, "{r}");
        assert_eq!(r["heard"], 2, "every call heard the agent: {r}");
        for key in ["dead_air_ms", "floor_ms", "added_ms"] {
            let (p50, p99) = (
                r[key]["p50"].as_f64().unwrap(),
                r[key]["p99"].as_f64().unwrap(),
            );
            assert!(p50 >= 0.0 && p50 <= p99, "{key} in {r}");
        }
        assert!(r["dead_air_ms"]["p50"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["agent_first_audio_ms"].as_f64().unwrap() >= 0.0, "{r}");
    }
    assert!(results[0]["added_round_trips_p50"].is_null(), "{report}");
    // Twilio's own share grows with its delay: two round trips at least.
    assert!(
        results[1]["floor_ms"]["p50"].as_f64().unwrap() >= 80.0,
        "{report}"
    );
}
