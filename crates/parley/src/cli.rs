//! The command line, declared with clap's derive API.
use clap::{Args, Parser, Subcommand};
use parley_domain::call::{CallOutcome, CallStatus};
use parley_domain::call_result::ResultFilter;
use parley_domain::Role;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "parley",
    version,
    about = "Outbound AI voice-call campaigns (Twilio + ElevenLabs)",
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Accepted before or after any subcommand; they override the settings file and
/// environment.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// TOML settings file (default: ./parley.toml if it exists).
    #[arg(long, global = true, env = "PARLEY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Directory for the SQLite database and other files.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: dashboard, REST API, webhooks and dialer.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Ask the server at the listen address whether it is ready (`GET /readyz`); exits 0
    /// when it is. For container and service-manager health checks.
    Healthcheck,
    /// Check the settings against the world they will run in (database, public URL,
    /// Twilio, ElevenLabs, data directory, clock) and print each finding with its fix.
    /// Exits 1 when anything is a problem.
    Doctor {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print an example settings file with every setting and its default.
    Config,
    /// Print the REST API's OpenAPI document (JSON); the dashboard's types come from it.
    Openapi,
    /// Manage users and API keys.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Operate on campaigns directly in the database (works while nodes run).
    #[command(subcommand)]
    Campaigns(CampaignsCommand),
    /// Import contacts from a CSV or XLSX file or a Google Sheet straight into the
    /// database (works while nodes run), with the same column mapping and per-row report
    /// as the API.
    Import(ImportArgs),
    /// Export calls or contacts as CSV or XLSX straight from the database (works while
    /// nodes run), with the API's filters and columns.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Measure performance against a server started in-process on a fresh database.
    /// Ignores the settings file: runs are comparable between machines.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The agent tools.
    #[command(subcommand)]
    Tools(ToolsCommand),
    /// Run the Twilio and ElevenLabs simulators on their own, for trying Parley (or any
    /// other client) against them.
    Sim(SimArgs),
}

#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Address of the simulated Twilio REST API.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub twilio_listen: SocketAddr,
    /// Address of the simulated ElevenLabs API and agent WebSocket.
    #[arg(long, default_value = "127.0.0.1:8082")]
    pub elevenlabs_listen: SocketAddr,
    /// Where the agent simulator posts its post-call webhooks.
    #[arg(long)]
    pub webhook_url: Option<String>,
    /// How fast callees and the agent talk (1.0 = real time).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Now and then deliver a status callback twice, or two adjacent ones swapped,
    /// deterministically from this seed (off when absent).
    #[arg(long)]
    pub chaos_seed: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// Print every tool's definition (name, description, JSON schema of its parameters,
    /// URL) as ElevenLabs takes it: server (webhook) tools at <public_base_url>/tools/<name>
    /// sending the call's id from the `call_id` dynamic variable, or client tools.
    Export {
        /// Client tools (answered over the conversation WebSocket) instead of server tools.
        #[arg(long)]
        client: bool,
        /// Put each tool's configured secret in its Authorization header instead of a
        /// placeholder naming the setting.
        #[arg(long)]
        reveal_secrets: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// A CSV or XLSX file (`-` reads a CSV from standard input).
    #[arg(required_unless_present = "sheet", conflicts_with = "sheet")]
    pub file: Option<PathBuf>,
    /// A Google spreadsheet's URL or id, read with the `google.*` settings.
    #[arg(long, value_name = "URL_OR_ID")]
    pub sheet: Option<String>,
    /// With --sheet: the range in A1 notation (default: the first sheet).
    #[arg(long, requires = "sheet")]
    pub range: Option<String>,
    /// Also enrol every imported contact in this campaign.
    #[arg(long, value_name = "ID")]
    pub campaign: Option<i64>,
    /// Region for numbers written without a country code (default: import.default_region).
    #[arg(long)]
    pub region: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Calls, newest first, with a column per data-collection item and evaluation
    /// criterion found in their analyses.
    Calls(ExportCallsArgs),
    /// Contacts, newest first, with campaign progress and a column per custom field.
    Contacts(ExportContactsArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

#[derive(Debug, Args)]
pub struct ExportOutput {
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    pub format: ExportFormat,
    /// The file to write (replaced once the export is complete).
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct ExportCallsArgs {
    #[command(flatten)]
    pub output: ExportOutput,
    /// Only this campaign's calls.
    #[arg(long, value_name = "ID")]
    pub campaign: Option<i64>,
    /// Only this contact's calls.
    #[arg(long, value_name = "ID")]
    pub contact: Option<i64>,
    /// Only calls in this status (queued, ringing, completed, no-answer, ...).
    #[arg(long, value_parser = |s: &str| CallStatus::parse(s).ok_or("not a call status"))]
    pub status: Option<CallStatus>,
    /// Only calls with this outcome (success, voicemail, no_answer, ...).
    #[arg(long, value_parser = |s: &str| CallOutcome::parse(s).ok_or("not a call outcome"))]
    pub outcome: Option<CallOutcome>,
    /// Created at or after this RFC 3339 time.
    #[arg(long, value_name = "TIME", value_parser = rfc3339_millis)]
    pub from: Option<i64>,
    /// Created before this RFC 3339 time.
    #[arg(long, value_name = "TIME", value_parser = rfc3339_millis)]
    pub to: Option<i64>,
    /// Only calls with this typed result, NAME:VALUE (`interested:yes`); repeat for AND.
    #[arg(long = "result", value_name = "NAME:VALUE", value_parser = result_filter)]
    pub results: Vec<ResultFilter>,
    /// Add a column with each call's transcript.
    #[arg(long)]
    pub transcript: bool,
}

#[derive(Debug, Args)]
pub struct ExportContactsArgs {
    #[command(flatten)]
    pub output: ExportOutput,
    /// Only contacts enrolled in this campaign (progress columns are then this campaign's).
    #[arg(long, value_name = "ID")]
    pub campaign: Option<i64>,
    /// Only contacts with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Only contacts whose name, phone, email or company contains this text.
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Created at or after this RFC 3339 time.
    #[arg(long, value_name = "TIME", value_parser = rfc3339_millis)]
    pub from: Option<i64>,
    /// Created before this RFC 3339 time.
    #[arg(long, value_name = "TIME", value_parser = rfc3339_millis)]
    pub to: Option<i64>,
}

fn result_filter(s: &str) -> Result<ResultFilter, String> {
    ResultFilter::parse(s).map_err(|e| e.to_string())
}

fn rfc3339_millis(s: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| "an RFC 3339 time such as 2026-11-24T09:00:00Z".to_owned())
}

#[derive(Debug, Subcommand)]
pub enum CampaignsCommand {
    /// List campaigns with their progress.
    List,
    /// Stop every campaign that is not finished, now.
    StopAll {
        /// Recorded in the audit log and shown as each campaign's state reason.
        #[arg(long, default_value = "stopped from the command line")]
        reason: String,
    },
    /// Put back in line every contact claimed but not yet dialled (stuck leases).
    ReleaseLeases,
    /// Put a campaign's contacts in a state back in line for a fresh round.
    Requeue {
        #[arg(long)]
        campaign: i64,
        /// `failed`, `cancelled` or `scheduled` (in-progress calls are reconciled, not requeued).
        #[arg(long)]
        from: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user who can sign in to the dashboard.
    CreateUser(CreateUserArgs),
    /// Create an API key; the key is printed once, alone on the last line.
    CreateApiKey(CreateApiKeyArgs),
}

#[derive(Debug, Args)]
pub struct CreateUserArgs {
    #[arg(long)]
    pub email: String,
    /// The password (visible in the process list; prefer --password-stdin).
    #[arg(long, required_unless_present = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long, conflicts_with = "password")]
    pub password_stdin: bool,
    /// admin, operator or viewer.
    #[arg(long)]
    pub role: Role,
}

#[derive(Debug, Args)]
pub struct CreateApiKeyArgs {
    /// A label that says what the key is for.
    #[arg(long)]
    pub name: String,
    /// admin, operator or viewer.
    #[arg(long)]
    pub role: Role,
    /// Make the key expire this many days from now (default: never).
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Import generated contacts (about 5% bad rows), streamed as a CSV or read from a
    /// (local, fake) Google Sheet; report rows/s, the answer's counts and peak memory.
    Import(BenchImportArgs),
    /// Concurrent calls through a Twilio <-> ElevenLabs bridge (Parley's own, or any
    /// bridge with --target): added latency, lost frames, call setup, the bridge's CPU
    /// and memory, and the load generator's own CPU.
    Bridge(BenchBridgeArgs),
    /// A campaign dialled against the Twilio simulator with every callee busy at once:
    /// dispatch rate, claim latency and peak memory.
    Dialer(BenchDialerArgs),
    /// Write a call history (N calls over 30 days in 20 campaigns) and time the
    /// dashboard's analytics queries: latency p50/p99 of each.
    Analytics(BenchAnalyticsArgs),
    /// Write N calls with agent analyses in one campaign and export them through the
    /// API as CSV and XLSX: rows/s and the server's resident memory during each export.
    Export(BenchExportArgs),
    /// Calls placed through the simulators behind a simulated network delay: the dead
    /// air from Twilio's TwiML request to the agent's first audio at the Twilio side,
    /// p50/p99 at each delay (Parley's bridge, or any bridge with --target).
    Pickup(BenchPickupArgs),
}

#[derive(Debug, Args)]
pub struct BenchPickupArgs {
    /// Calls at each delay, one after another.
    #[arg(long, default_value_t = parley_bench::pickup::DEFAULT_CALLS as u64,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub calls: u64,
    /// One-way network delays to the agent to measure at, in milliseconds.
    #[arg(long, value_delimiter = ',', default_values_t = parley_bench::pickup::DEFAULT_DELAYS_MS,
          value_parser = clap::value_parser!(u64).range(0..=2_000))]
    pub delays: Vec<u64>,
    /// Twilio's one-way delay in milliseconds (default: the agent's, at each step).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=2_000))]
    pub twilio_delay: Option<u64>,
    /// Parley connects to the agent when the stream starts, not when the TwiML is
    /// fetched (calls.agent_early_connect_secs = 0): the behaviour before early connect.
    #[arg(long, conflicts_with = "target")]
    pub connect_on_start: bool,
    /// Parley opens the agent's socket when the TwiML is fetched but starts the
    /// conversation on `start`, not at the stream's handshake
    /// (calls.agent_starts_at_handshake = false).
    #[arg(long, conflicts_with_all = ["target", "connect_on_start"])]
    pub initiation_on_start: bool,
    /// Measure this bridge's TwiML URL (http://HOST:PORT/PATH) instead of Parley; it must
    /// reach the simulated agent at --agent-listen.
    #[arg(long, value_name = "URL", requires = "agent_listen")]
    pub target: Option<String>,
    /// Where the simulated ElevenLabs agent listens.
    #[arg(long, value_name = "ADDR")]
    pub agent_listen: Option<SocketAddr>,
    /// Where the simulated Twilio REST API listens.
    #[arg(long, value_name = "ADDR")]
    pub twilio_listen: Option<SocketAddr>,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchExportArgs {
    /// Calls in the campaign.
    #[arg(long, default_value_t = parley_bench::export::DEFAULT_CALLS,
          value_parser = clap::value_parser!(u64).range(1..=parley_bench::export::MAX_CALLS))]
    pub calls: u64,
    #[command(flatten)]
    pub backends: BenchBackendArgs,
}

#[derive(Debug, Args)]
pub struct BenchAnalyticsArgs {
    /// Calls in the generated history.
    #[arg(long, default_value_t = parley_bench::analytics::DEFAULT_CALLS,
          value_parser = clap::value_parser!(u64).range(1..=parley_bench::analytics::MAX_CALLS))]
    pub calls: u64,
    /// Timed runs of each query.
    #[arg(long, default_value_t = parley_bench::analytics::DEFAULT_REPEATS,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub repeats: u32,
    /// Keep the SQLite database, written into --data-dir (which must not hold one yet),
    /// to look at with `parley serve --data-dir DIR`. Needs --db sqlite.
    #[arg(long)]
    pub keep: bool,
    #[command(flatten)]
    pub backends: BenchBackendArgs,
}

#[derive(Debug, Args)]
pub struct BenchDialerArgs {
    /// Contacts in the campaign.
    #[arg(long, default_value_t = parley_bench::dialer::DEFAULT_CONTACTS,
          value_parser = clap::value_parser!(u64).range(1..=parley_bench::dialer::MAX_CONTACTS))]
    pub contacts: u64,
    /// The longest the dispatch is measured; the run ends sooner once every contact is
    /// dialled.
    #[arg(long, default_value_t = parley_bench::dialer::DEFAULT_SECONDS, value_parser = positive_seconds)]
    pub seconds: f64,
    #[command(flatten)]
    pub backends: BenchBackendArgs,
}

#[derive(Debug, Args)]
pub struct BenchBridgeArgs {
    /// Concurrent calls.
    #[arg(long, default_value_t = parley_bench::bridge::DEFAULT_CALLS,
          value_parser = clap::value_parser!(u64).range(1..=parley_bench::bridge::MAX_CALLS))]
    pub calls: u64,
    /// Seconds every call streams audio: the measured window.
    #[arg(long, default_value_t = parley_bench::bridge::DEFAULT_SECONDS, value_parser = positive_seconds)]
    pub seconds: f64,
    /// Seconds over which the calls are started.
    #[arg(long, default_value_t = parley_bench::bridge::DEFAULT_RAMP, value_parser = non_negative_seconds)]
    pub ramp: f64,
    /// Measure this bridge's Twilio media WebSocket (ws://HOST:PORT/PATH) instead of
    /// starting Parley; it must reach the simulated agent at --agent-listen.
    #[arg(long, value_name = "URL", requires = "agent_listen")]
    pub target: Option<String>,
    /// Where the simulated ElevenLabs agent listens (signed URLs and its WebSocket).
    #[arg(long, value_name = "ADDR")]
    pub agent_listen: Option<SocketAddr>,
    /// Process of the --target bridge whose CPU and memory to report.
    #[arg(long, value_name = "PID", requires = "target")]
    pub bridge_pid: Option<u32>,
    /// Pin the load generator to core 1 and, without --target, Parley to core 0 (taskset).
    #[arg(long)]
    pub pin: bool,
    /// Start Parley with metrics off (no recorder), to measure what the instrumentation costs.
    #[arg(long, conflicts_with = "target")]
    pub no_metrics: bool,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err("a number of seconds above 0 (at most a day)".to_owned()),
    }
}

fn non_negative_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=3_600.0).contains(&v) => Ok(v),
        _ => Err("a number of seconds from 0 to 3600".to_owned()),
    }
}

#[derive(Debug, Args)]
pub struct BenchImportArgs {
    /// Data rows in the generated file.
    #[arg(long, default_value_t = parley_bench::import::DEFAULT_ROWS,
          value_parser = clap::value_parser!(u64).range(1..=parley_bench::import::MAX_ROWS))]
    pub rows: u64,
    /// csv (a streamed upload) or sheets (Google Sheets values.get, from the local fake,
    /// which holds the whole sheet in memory: keep it to a few hundred thousand rows).
    #[arg(long, value_enum, default_value_t = BenchSource::Csv)]
    pub source: BenchSource,
    #[command(flatten)]
    pub backends: BenchBackendArgs,
}

/// Which databases a scenario runs on; shared by the scenarios.
#[derive(Debug, Args)]
pub struct BenchBackendArgs {
    /// sqlite (a temporary file), postgres (a fresh database, dropped afterwards), or
    /// both, one after the other, each in a process of its own.
    #[arg(long, value_enum, default_value_t = BenchDb::Both)]
    pub db: BenchDb,
    /// PostgreSQL server on which the fresh database is created.
    #[arg(long, value_name = "URL", env = "PARLEY_TEST_POSTGRES_URL", hide_env_values = true,
          default_value = parley_bench::DEFAULT_POSTGRES_URL)]
    pub postgres_url: String,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchSource {
    Csv,
    Sheets,
}

impl From<BenchSource> for parley_bench::import::ImportSource {
    fn from(source: BenchSource) -> Self {
        match source {
            BenchSource::Csv => Self::Csv,
            BenchSource::Sheets => Self::Sheets,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchDb {
    Sqlite,
    Postgres,
    Both,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "parley",
            "serve",
            "--listen",
            "127.0.0.1:9000",
            "--data-dir",
            "/tmp/x",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Serve));
        assert_eq!(cli.global.listen.unwrap().port(), 9000);
        assert_eq!(cli.global.data_dir.unwrap(), PathBuf::from("/tmp/x"));
    }

    #[test]
    fn create_user_needs_a_password_source() {
        let base = [
            "parley",
            "admin",
            "create-user",
            "--email",
            "a@b.co",
            "--role",
            "admin",
        ];
        assert!(Cli::try_parse_from(base).is_err());
        assert!(Cli::try_parse_from(base.iter().chain(&["--password-stdin"])).is_ok());
        assert!(Cli::try_parse_from(base.iter().chain(&["--role", "root"])).is_err());
    }

    #[test]
    fn bench_import_defaults_to_both_backends() {
        let cli = Cli::try_parse_from(["parley", "bench", "import"]).unwrap();
        let Command::Bench(BenchCommand::Import(args)) = cli.command else {
            panic!("not bench import");
        };
        assert_eq!(args.rows, parley_bench::import::DEFAULT_ROWS);
        assert_eq!(args.backends.db, BenchDb::Both);
        assert!(!args.backends.json);
        assert!(Cli::try_parse_from(["parley", "bench", "import", "--rows", "0"]).is_err());
        assert!(Cli::try_parse_from(["parley", "bench", "import", "--db", "mysql"]).is_err());
    }

    #[test]
    fn bench_analytics_defaults_and_limits() {
        let cli = Cli::try_parse_from(["parley", "bench", "analytics"]).unwrap();
        let Command::Bench(BenchCommand::Analytics(args)) = cli.command else {
            panic!("not bench analytics");
        };
        assert_eq!(args.calls, parley_bench::analytics::DEFAULT_CALLS);
        assert_eq!(args.backends.db, BenchDb::Both);
        assert!(!args.keep);
        assert!(Cli::try_parse_from(["parley", "bench", "analytics", "--calls", "0"]).is_err());
        assert!(Cli::try_parse_from(["parley", "bench", "analytics", "--repeats", "0"]).is_err());
    }

    #[test]
    fn bench_bridge_target_needs_the_agent_address() {
        let cli = Cli::try_parse_from(["parley", "bench", "bridge"]).unwrap();
        let Command::Bench(BenchCommand::Bridge(args)) = cli.command else {
            panic!("not bench bridge");
        };
        assert_eq!(args.calls, parley_bench::bridge::DEFAULT_CALLS);
        assert!(args.target.is_none() && !args.pin);
        let target = [
            "parley",
            "bench",
            "bridge",
            "--target",
            "ws://127.0.0.1:9/media",
        ];
        assert!(Cli::try_parse_from(target).is_err());
        assert!(
            Cli::try_parse_from(target.iter().chain(&["--agent-listen", "127.0.0.1:9001"])).is_ok()
        );
        assert!(Cli::try_parse_from(["parley", "bench", "bridge", "--bridge-pid", "1"]).is_err());
        assert!(Cli::try_parse_from(["parley", "bench", "bridge", "--calls", "0"]).is_err());
        assert!(Cli::try_parse_from(["parley", "bench", "bridge", "--seconds", "0"]).is_err());
    }
}
