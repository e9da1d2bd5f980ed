//! `parley bench …`: runs a scenario of `parley-bench` and prints its report.
//!
//! With `--db both` each backend runs in a child process of this same binary (with
//! `--db <one> --json`), so each peak-memory figure belongs to one run alone.
use crate::cli::{
    BenchAnalyticsArgs, BenchBackendArgs, BenchBridgeArgs, BenchCommand, BenchDb, BenchDialerArgs,
    BenchExportArgs, BenchImportArgs, BenchPickupArgs,
};
use crate::{app, telemetry};
use anyhow::Context;
use parley_bench::analytics::{self, AnalyticsOptions, AnalyticsReport};
use parley_bench::bridge::{self, BridgeOptions, BridgeResult};
use parley_bench::dialer::{self, DialerOptions};
use parley_bench::export::{self, ExportOptions, ExportResult};
use parley_bench::import::{self, ImportOptions};
use parley_bench::pickup::{self, AgentStart, PickupOptions};
use parley_bench::report::{Report, Row};
use parley_bench::server::{BoxError, BoxFuture, Launched, Node};
use parley_bench::Db;
use parley_engine::settings::{LogFormat, LogSettings, Settings};
use parley_store::Store;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `data_dir` is the global `--data-dir`, used only where a scenario keeps its database.
pub fn run(command: BenchCommand, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    // The server under test logs a line per import and request; warnings and errors are
    // all a reader of the report needs (RUST_LOG still wins).
    let _tracing = telemetry::init(&LogSettings {
        format: LogFormat::Text,
        level: "warn".to_owned(),
        otlp_endpoint: None,
    })?;
    let runtime = || tokio::runtime::Runtime::new().context("cannot start the async runtime");
    match command {
        // Runs its own single-threaded runtime: the load generator is one thread.
        BenchCommand::Bridge(args) => bench_bridge(args),
        BenchCommand::Import(args) => runtime()?.block_on(bench_import(args)),
        BenchCommand::Dialer(args) => runtime()?.block_on(bench_dialer(args)),
        BenchCommand::Analytics(args) => runtime()?.block_on(bench_analytics(args, data_dir)),
        BenchCommand::Export(args) => runtime()?.block_on(bench_export(args)),
        BenchCommand::Pickup(args) => runtime()?.block_on(bench_pickup(args)),
    }
}

/// Starts the node under test in this process, wired as `parley serve` wires it.
fn launch(settings: Settings, store: Store) -> Launched {
    Box::pin(async move {
        let app = app::start(settings, store).await?;
        Ok(Box::new(app) as Box<dyn Node>)
    })
}

impl Node for app::App {
    fn addr(&self) -> std::net::SocketAddr {
        self.server.addr
    }

    fn engine(&self) -> &parley_engine::Engine {
        &self.server.engine
    }

    fn stop(self: Box<Self>) -> BoxFuture<'static, Result<(), BoxError>> {
        Box::pin(async move { Ok(app::App::stop(*self).await?) })
    }
}

fn bench_bridge(args: BenchBridgeArgs) -> anyhow::Result<()> {
    let options = BridgeOptions {
        calls: usize::try_from(args.calls).context("--calls")?,
        seconds: args.seconds,
        ramp: args.ramp,
        target: args.target,
        agent_listen: args
            .agent_listen
            .unwrap_or_else(|| "127.0.0.1:0".parse().expect("a valid address")),
        bridge_pid: args.bridge_pid,
        pin: args.pin,
        no_metrics: args.no_metrics,
        parley_exe: std::env::current_exe().context("cannot find this program to run it")?,
    };
    let what = options.target.as_deref().unwrap_or("parley serve");
    eprintln!(
        "bench bridge: {} calls through {what}, {} s streaming",
        options.calls, options.seconds
    );
    let result = bridge::run(&options).context("the bridge benchmark failed")?;
    if args.json {
        println!("{}", result.to_json());
    } else {
        print_bridge(&result);
    }
    Ok(())
}

fn print_bridge(result: &BridgeResult) {
    let title = format!(
        "{} calls through {} for {:.1} s",
        result.calls, result.target, result.seconds
    );
    let report = Report::new(bridge::SCENARIO, vec![result.clone()]);
    print(&report, false, &title);
    println!(
        "pongs {}/{}, interruptions {} -> clears {}, greetings {}",
        result.pongs_ok,
        result.pings_sent,
        result.interruptions_sent,
        result.clears_received,
        result.greetings_received
    );
}

async fn bench_pickup(args: BenchPickupArgs) -> anyhow::Result<()> {
    let agent_start = if args.connect_on_start {
        AgentStart::ConnectOnStart
    } else if args.initiation_on_start {
        AgentStart::OnStart
    } else {
        AgentStart::AtHandshake
    };
    let any_port = || "127.0.0.1:0".parse().expect("a valid address");
    let options = PickupOptions {
        launch,
        calls: usize::try_from(args.calls).context("--calls")?,
        delays_ms: args.delays,
        twilio_delay_ms: args.twilio_delay,
        agent_start,
        target: args.target,
        agent_listen: args.agent_listen.unwrap_or_else(any_port),
        twilio_listen: args.twilio_listen.unwrap_or_else(any_port),
    };
    let what = options.target.as_deref().unwrap_or("parley");
    eprintln!(
        "bench pickup: {} calls through {what} at each of {:?} ms one-way",
        options.calls, options.delays_ms
    );
    // Parley at several delays: each in a child process, so no run shares a process
    // (its background work, its memory) with the one before.
    let results = if options.target.is_none() && options.delays_ms.len() > 1 {
        let mut results = Vec::new();
        for delay in &options.delays_ms {
            let mut child_args = vec![
                pickup::SCENARIO.to_owned(),
                "--calls".to_owned(),
                args.calls.to_string(),
                "--delays".to_owned(),
                delay.to_string(),
                "--json".to_owned(),
            ];
            if let Some(twilio) = options.twilio_delay_ms {
                child_args.extend(["--twilio-delay".to_owned(), twilio.to_string()]);
            }
            match agent_start {
                AgentStart::AtHandshake => {}
                AgentStart::OnStart => child_args.push("--initiation-on-start".to_owned()),
                AgentStart::ConnectOnStart => child_args.push("--connect-on-start".to_owned()),
            }
            let exe =
                std::env::current_exe().context("cannot find this program to run it again")?;
            let mut command = tokio::process::Command::new(exe);
            command.arg("bench").args(&child_args);
            let report: Report<pickup::PickupResult> = parley_bench::child::run_json(command)
                .await
                .with_context(|| format!("the pickup benchmark at {delay} ms failed"))?;
            results.extend(report.results);
        }
        results
    } else {
        pickup::run(&options)
            .await
            .context("the pickup benchmark failed")?
    };
    let report = Report::new(pickup::SCENARIO, results);
    let title = format!("{} calls per delay, one at a time", options.calls);
    print(&report, args.json, &title);
    Ok(())
}

async fn bench_import(args: BenchImportArgs) -> anyhow::Result<()> {
    let source = import::ImportSource::from(args.source);
    let mut results = Vec::new();
    for db in backends(args.backends.db) {
        let result = if args.backends.db == BenchDb::Both {
            in_child(
                &args.backends,
                db,
                &[
                    import::SCENARIO,
                    "--rows",
                    &args.rows.to_string(),
                    "--source",
                    source.as_str(),
                ],
            )
            .await?
        } else {
            eprintln!(
                "bench import: {} rows from {} on {db}",
                args.rows,
                source.as_str()
            );
            let options = ImportOptions {
                launch,
                rows: args.rows,
                source,
                db,
                postgres_url: args.backends.postgres_url.clone(),
            };
            import::run(&options)
                .await
                .with_context(|| format!("the import benchmark on {db} failed"))?
        };
        results.push(result);
    }
    let report = Report::new(import::SCENARIO, results);
    print(
        &report,
        args.backends.json,
        &format!("{} rows, about 5% bad", args.rows),
    );
    Ok(())
}

async fn bench_dialer(args: BenchDialerArgs) -> anyhow::Result<()> {
    let mut results = Vec::new();
    for db in backends(args.backends.db) {
        let result = if args.backends.db == BenchDb::Both {
            in_child(
                &args.backends,
                db,
                &[
                    dialer::SCENARIO,
                    "--contacts",
                    &args.contacts.to_string(),
                    "--seconds",
                    &args.seconds.to_string(),
                ],
            )
            .await?
        } else {
            eprintln!("bench dialer: {} contacts on {db}", args.contacts);
            let options = DialerOptions {
                launch,
                contacts: args.contacts,
                seconds: args.seconds,
                db,
                postgres_url: args.backends.postgres_url.clone(),
            };
            dialer::run(&options)
                .await
                .with_context(|| format!("the dialer benchmark on {db} failed"))?
        };
        results.push(result);
    }
    let report = Report::new(dialer::SCENARIO, results);
    print(
        &report,
        args.backends.json,
        &format!("{} contacts, every callee busy", args.contacts),
    );
    Ok(())
}

async fn bench_analytics(
    args: BenchAnalyticsArgs,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let keep_in = if args.keep {
        anyhow::ensure!(
            args.backends.db == BenchDb::Sqlite,
            "--keep needs --db sqlite"
        );
        Some(data_dir.context("--keep needs --data-dir DIR to write the database into")?)
    } else {
        None
    };
    let mut results = Vec::new();
    let mut seed_seconds = BTreeMap::new();
    for db in backends(args.backends.db) {
        if args.backends.db == BenchDb::Both {
            // A process per backend, so the first server's leftovers cannot disturb the
            // second's figures.
            let (calls, repeats) = (args.calls.to_string(), args.repeats.to_string());
            let scenario_args = [
                analytics::SCENARIO,
                "--calls",
                &calls,
                "--repeats",
                &repeats,
            ];
            let child: AnalyticsReport = child_report(&args.backends, db, &scenario_args).await?;
            seed_seconds.extend(child.seed_seconds);
            results.extend(child.results);
            continue;
        }
        eprintln!("bench analytics: {} calls on {db}", args.calls);
        let options = AnalyticsOptions {
            launch,
            calls: args.calls,
            repeats: args.repeats,
            db,
            postgres_url: args.backends.postgres_url.clone(),
            data_dir: keep_in.clone(),
        };
        let run = analytics::run(&options)
            .await
            .with_context(|| format!("the analytics benchmark on {db} failed"))?;
        seed_seconds.insert(db.to_string(), run.seed_seconds);
        results.extend(run.results);
    }
    if args.backends.json {
        let report = AnalyticsReport {
            scenario: analytics::SCENARIO.to_owned(),
            calls: args.calls,
            results,
            seed_seconds,
        };
        println!("{}", report.to_json());
        return Ok(());
    }
    let title = format!(
        "{} calls over {} days in {} campaigns, {} timed runs per query",
        args.calls,
        analytics::DAYS,
        analytics::CAMPAIGNS,
        args.repeats
    );
    print(&Report::new(analytics::SCENARIO, results), false, &title);
    for (db, seconds) in &seed_seconds {
        println!(
            "{db}: history written in {:.1} s ({:.0} calls/s)",
            seconds,
            args.calls as f64 / seconds
        );
    }
    if let Some(dir) = keep_in {
        let dir = dir.display();
        println!(
            "kept in {dir}: add a user with `parley admin create-user --data-dir {dir} ...`, \
             then `parley serve --data-dir {dir}`"
        );
    }
    Ok(())
}

async fn bench_export(args: BenchExportArgs) -> anyhow::Result<()> {
    let mut results: Vec<ExportResult> = Vec::new();
    for db in backends(args.backends.db) {
        if args.backends.db == BenchDb::Both {
            // A process per backend, so each memory figure is one server's alone.
            let calls = args.calls.to_string();
            let child: Report<ExportResult> =
                child_report(&args.backends, db, &[export::SCENARIO, "--calls", &calls]).await?;
            results.extend(child.results);
            continue;
        }
        eprintln!("bench export: {} calls on {db}", args.calls);
        let options = ExportOptions {
            launch,
            calls: args.calls,
            db,
            postgres_url: args.backends.postgres_url.clone(),
        };
        results.extend(
            export::run(&options)
                .await
                .with_context(|| format!("the export benchmark on {db} failed"))?,
        );
    }
    let report = Report::new(export::SCENARIO, results);
    print(
        &report,
        args.backends.json,
        &format!(
            "{} calls with analyses, exported through the API",
            args.calls
        ),
    );
    Ok(())
}

fn backends(choice: BenchDb) -> Vec<Db> {
    match choice {
        BenchDb::Sqlite => vec![Db::Sqlite],
        BenchDb::Postgres => vec![Db::Postgres],
        BenchDb::Both => Db::ALL.to_vec(),
    }
}

/// Runs `parley bench <scenario_args> --db <db> --json` and returns its one result.
async fn in_child<R: DeserializeOwned>(
    backends: &BenchBackendArgs,
    db: Db,
    scenario_args: &[&str],
) -> anyhow::Result<R> {
    let report: Report<R> = child_report(backends, db, scenario_args).await?;
    report
        .results
        .into_iter()
        .next()
        .with_context(|| format!("the benchmark on {db} reported no result"))
}

/// Runs `parley bench <scenario_args> --db <db> --json` and returns its report.
async fn child_report<T: DeserializeOwned>(
    backends: &BenchBackendArgs,
    db: Db,
    scenario_args: &[&str],
) -> anyhow::Result<T> {
    let exe = std::env::current_exe().context("cannot find this program to run it again")?;
    let mut command = tokio::process::Command::new(exe);
    command
        .arg("bench")
        .args(scenario_args)
        .args(["--db", db.as_str(), "--json"])
        // Through the environment, so a password in the URL stays out of the process list.
        .env("PARLEY_TEST_POSTGRES_URL", &backends.postgres_url);
    parley_bench::child::run_json(command)
        .await
        .with_context(|| format!("the benchmark on {db} failed"))
}

fn print<R: Row + Serialize>(report: &Report<R>, json: bool, title: &str) {
    if json {
        println!("{}", report.to_json());
    } else {
        println!("{}: {title}", report.scenario);
        print!("{}", report.to_table());
    }
}
