//! Parley's one typed configuration.
//!
//! Layers, later wins: built-in defaults, then a TOML file, then `PARLEY_*` environment
//! variables (`__` separates sections: `PARLEY_TWILIO__ACCOUNT_SID` is `twilio.account_sid`).
//! Unknown keys are not errors (an old config file must not stop a newer binary) but come
//! back as warnings, so a typo never passes silently.

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use secrecy::SecretString;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use url::Url;

mod egress;
mod http;
mod import;
mod tools;
pub use egress::EgressSettings;
pub use http::HttpSettings;
pub use import::XlsxLimits;
pub use tools::{
    CalcomSettings, EmailSettings, EmailTemplate, EmailTransport, ToolSecrets, ToolSettings,
    TransferSettings,
};

/// Prefix of every environment variable Parley reads.
const ENV_PREFIX: &str = "PARLEY_";
/// Names the config file; read before the other variables, so it is not a setting itself.
const CONFIG_ENV: &str = "PARLEY_CONFIG";
/// Reserved for test harnesses (e.g. `PARLEY_TEST_POSTGRES_URL`); never a setting.
const TEST_ENV_PREFIX: &str = "PARLEY_TEST_";
/// Read when no file is named and it exists in the working directory.
const DEFAULT_CONFIG_FILE: &str = "parley.toml";

/// Every settable key, as a dotted path. Keep in step with the structs below; a test
/// checks both directions.
const KNOWN_KEYS: &[&str] = &[
    "listen",
    "public_base_url",
    "data_dir",
    "database_url",
    "bootstrap_admin_email",
    "bootstrap_admin_password",
    "log.format",
    "log.level",
    "twilio.account_sid",
    "twilio.auth_token",
    "twilio.api_base_url",
    "twilio.caller_id",
    "elevenlabs.api_key",
    "elevenlabs.api_base_url",
    "elevenlabs.webhook_secret",
    "elevenlabs.agent_id",
    "http.trusted_proxies",
    "auth.session_ttl_hours",
    "auth.sign_in_attempts_per_minute",
    "import.default_region",
    "import.max_upload_mb",
    "import.max_line_kb",
    "import.max_field_kb",
    "import.xlsx.max_entries",
    "import.xlsx.max_entry_mb",
    "import.xlsx.max_uncompressed_mb",
    "import.xlsx.max_compression_ratio",
    "import.xlsx.max_rows",
    "import.xlsx.max_columns",
    "import.xlsx.max_cells",
    "calls.ring_timeout_secs",
    "calls.post_call_wait_secs",
    "calls.recording_retention_days",
    "calls.transcript_retention_days",
    "calls.record_retention_days",
    "sandbox.speed",
    "dialer.account_calls_per_second",
    "dialer.enabled",
    "dialer.opt_out_phrases",
    "analytics.cost_per_minute_usd",
    "tools.public_base_url",
    "tools.secrets.get_current_time",
    "tools.secrets.schedule_consultation",
    "tools.secrets.send_email",
    "tools.secrets.opt_out",
    "tools.secrets.schedule_callback",
    "tools.secrets.transfer_to_human",
    "tools.calcom.api_key",
    "tools.calcom.api_base_url",
    "tools.calcom.event_type_id",
    "tools.email.transport",
    "tools.email.graph_login_base_url",
    "tools.email.graph_api_base_url",
    "tools.email.graph_tenant_id",
    "tools.email.graph_client_id",
    "tools.email.graph_client_secret",
    "tools.email.graph_sender",
    "tools.email.smtp_host",
    "tools.email.smtp_port",
    "tools.email.smtp_tls",
    "tools.email.smtp_user",
    "tools.email.smtp_password",
    "tools.email.smtp_from",
    "tools.email.templates",
    "tools.email.max_per_call",
    "tools.transfer.number",
    "webhooks.timeout_secs",
    "webhooks.retry_schedule_secs",
    "webhooks.jitter",
    "webhooks.poll_interval_ms",
    "webhooks.retention_days",
    "egress.allowed_hosts",
    "google.api_key",
    "google.service_account_key_file",
    "google.sheets_api_base_url",
    "http.header_read_timeout_secs",
    "http.request_body_timeout_secs",
    "http.keep_alive_timeout_secs",
    "http.max_connections",
    "http.media_max_unauthenticated",
    "http.media_start_timeout_secs",
    "http.events_max_sockets",
    "http.events_max_sockets_per_credential",
    "http.events_recheck_secs",
];

/// Keys whose values must never appear in messages, not even inside an error.
const SECRET_KEYS: &[&str] = &[
    "database_url",
    "bootstrap_admin_password",
    "twilio.auth_token",
    "elevenlabs.api_key",
    "elevenlabs.webhook_secret",
    "tools.secrets.get_current_time",
    "tools.secrets.schedule_consultation",
    "tools.secrets.send_email",
    "tools.secrets.opt_out",
    "tools.secrets.schedule_callback",
    "tools.secrets.transfer_to_human",
    "tools.calcom.api_key",
    "tools.email.graph_client_secret",
    "tools.email.smtp_password",
    "google.api_key",
];

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read config file {path}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid setting `{key}` (from {origin}): {message}")]
    Invalid {
        key: String,
        origin: String,
        message: String,
    },
    #[error("invalid configuration (from {origin}): {message}")]
    Malformed { origin: String, message: String },
}

#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub listen: SocketAddr,
    pub public_base_url: Option<Url>,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub bootstrap_admin_email: Option<String>,
    pub bootstrap_admin_password: Option<SecretString>,
    pub log: LogSettings,
    pub http: HttpSettings,
    pub twilio: TwilioSettings,
    pub elevenlabs: ElevenLabsSettings,
    pub auth: AuthSettings,
    pub import: ImportSettings,
    pub calls: CallSettings,
    pub sandbox: SandboxSettings,
    pub dialer: DialerSettings,
    pub analytics: AnalyticsSettings,
    pub tools: ToolSettings,
    pub webhooks: WebhookSettings,
    pub egress: EgressSettings,
    pub google: GoogleSettings,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `tracing` filter directive, e.g. `info` or `parley_engine=debug,info`.
    pub level: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct TwilioSettings {
    pub account_sid: Option<String>,
    pub auth_token: Option<SecretString>,
    pub api_base_url: Url,
    /// Number calls are placed from when a request names none (E.164).
    pub caller_id: Option<String>,
}

#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct ElevenLabsSettings {
    pub api_key: Option<SecretString>,
    pub api_base_url: Url,
    pub webhook_secret: Option<SecretString>,
    /// Agent used when a call or campaign names none.
    pub agent_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CallSettings {
    /// How long a call may ring before it counts as unanswered.
    pub ring_timeout_secs: u32,
    /// How long to wait for the agent's post-call webhook before fetching the
    /// conversation from the ElevenLabs API instead.
    pub post_call_wait_secs: u64,
    /// Recordings older than this are deleted.
    pub recording_retention_days: u32,
    /// Transcripts of calls that ended longer ago than this are deleted (the call, its
    /// outcome and analysis stay); 0 keeps them.
    pub transcript_retention_days: u32,
    /// Calls that ended longer ago than this are deleted with everything about them;
    /// 0 keeps them. At least `recording_retention_days`, so the files go first.
    pub record_retention_days: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct DialerSettings {
    /// Calls per second across every campaign and every node: the carrier account's
    /// limit (Twilio's default is 1).
    pub account_calls_per_second: f64,
    /// Whether this node dials campaigns (a node may serve only the API and webhooks).
    pub enabled: bool,
    /// A callee who says any of these (case-insensitive) is put on the do-not-call list.
    pub opt_out_phrases: Vec<String>,
}

/// Outbound webhooks to CRMs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct WebhookSettings {
    /// How long one delivery attempt may take before it counts as failed.
    pub timeout_secs: u64,
    /// The wait before each retry after a failed attempt; when it runs out the delivery
    /// is dead. The default makes 7 attempts over about 8.5 hours.
    pub retry_schedule_secs: Vec<f64>,
    /// Each wait is stretched by up to this fraction, at random, so that receivers
    /// coming back are not hit by every retry at once.
    pub jitter: f64,
    /// How often to look for due deliveries when no event wakes the worker.
    pub poll_interval_ms: u64,
    /// Events older than this whose deliveries are finished (delivered or dead) are
    /// deleted, with their delivery log.
    pub retention_days: u32,
}

/// Google APIs (contact import from Google Sheets).
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct GoogleSettings {
    /// An API key: reads spreadsheets shared as "anyone with the link".
    pub api_key: Option<SecretString>,
    /// A service account's JSON key file: reads spreadsheets shared with its email.
    pub service_account_key_file: Option<PathBuf>,
    pub sheets_api_base_url: Url,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct SandboxSettings {
    /// How fast the simulated callees and agent talk (1.0 = real time).
    pub speed: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    pub session_ttl_hours: u32,
    pub sign_in_attempts_per_minute: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ImportSettings {
    /// ISO 3166 region used to read phone numbers written without a `+` country code.
    pub default_region: String,
    pub max_upload_mb: u64,
    /// Longest CSV line (a whole record, quoted line breaks included), in KiB.
    pub max_line_kb: u64,
    /// Longest CSV field or spreadsheet cell, in KiB.
    pub max_field_kb: u64,
    pub xlsx: XlsxLimits,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct AnalyticsSettings {
    /// What a billed call minute costs, in USD: analytics estimate call cost as billed
    /// minutes (each call's duration rounded up) times this.
    pub cost_per_minute_usd: f64,
}

impl Default for AnalyticsSettings {
    fn default() -> Self {
        AnalyticsSettings {
            cost_per_minute_usd: 0.014,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_base_url: None,
            data_dir: PathBuf::from("./parley-data"),
            database_url: None,
            bootstrap_admin_email: None,
            bootstrap_admin_password: None,
            log: LogSettings::default(),
            http: HttpSettings::default(),
            twilio: TwilioSettings::default(),
            elevenlabs: ElevenLabsSettings::default(),
            auth: AuthSettings::default(),
            import: ImportSettings::default(),
            calls: CallSettings::default(),
            sandbox: SandboxSettings::default(),
            dialer: DialerSettings::default(),
            analytics: AnalyticsSettings::default(),
            tools: ToolSettings::default(),
            webhooks: WebhookSettings::default(),
            egress: EgressSettings::default(),
            google: GoogleSettings::default(),
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

impl Default for TwilioSettings {
    fn default() -> Self {
        TwilioSettings {
            account_sid: None,
            auth_token: None,
            api_base_url: Url::parse("https://api.twilio.com").expect("valid default url"),
            caller_id: None,
        }
    }
}

impl Default for ElevenLabsSettings {
    fn default() -> Self {
        ElevenLabsSettings {
            api_key: None,
            api_base_url: Url::parse("https://api.elevenlabs.io").expect("valid default url"),
            webhook_secret: None,
            agent_id: None,
        }
    }
}

impl Default for CallSettings {
    fn default() -> Self {
        CallSettings {
            ring_timeout_secs: 30,
            post_call_wait_secs: 120,
            recording_retention_days: 90,
            transcript_retention_days: 0,
            record_retention_days: 0,
        }
    }
}

impl Default for DialerSettings {
    fn default() -> Self {
        DialerSettings {
            account_calls_per_second: 1.0,
            enabled: true,
            opt_out_phrases: [
                "stop calling",
                "don't call me",
                "do not call me",
                "take me off your list",
                "remove me from your list",
                "put me on your do not call list",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            timeout_secs: 10,
            retry_schedule_secs: vec![30.0, 120.0, 480.0, 1800.0, 7200.0, 21600.0],
            jitter: 0.1,
            poll_interval_ms: 1000,
            retention_days: 30,
        }
    }
}

impl WebhookSettings {
    pub fn retry_schedule(&self) -> Vec<std::time::Duration> {
        self.retry_schedule_secs
            .iter()
            .map(|s| std::time::Duration::from_secs_f64(*s))
            .collect()
    }
}

impl Default for GoogleSettings {
    fn default() -> Self {
        GoogleSettings {
            api_key: None,
            service_account_key_file: None,
            sheets_api_base_url: Url::parse("https://sheets.googleapis.com")
                .expect("valid default url"),
        }
    }
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings { speed: 1.0 }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            session_ttl_hours: 12,
            sign_in_attempts_per_minute: 10,
        }
    }
}

impl Default for ImportSettings {
    fn default() -> Self {
        ImportSettings {
            default_region: "US".to_owned(),
            max_upload_mb: 100,
            max_line_kb: 64,
            max_field_kb: 16,
            xlsx: XlsxLimits::default(),
        }
    }
}

impl Settings {
    /// Defaults, then the TOML file (`config_file`, else `$PARLEY_CONFIG`, else
    /// `./parley.toml` if it exists), then `PARLEY_*` environment variables. Returns the
    /// settings and warnings about unknown keys.
    pub fn load(config_file: Option<&Path>) -> Result<(Settings, Vec<String>), SettingsError> {
        // Non-UTF-8 variables cannot be Parley settings; skipping them is safe.
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Settings::load_from(config_file, &env)
    }

    /// Like [`Settings::load`], with the environment given explicitly (for tests).
    pub fn load_from(
        config_file: Option<&Path>,
        env: &[(String, String)],
    ) -> Result<(Settings, Vec<String>), SettingsError> {
        let mut warnings = Vec::new();
        let mut figment = Figment::new();

        if let Some(path) = choose_config_file(config_file, env) {
            // Read it ourselves: figment silently treats a missing file as empty.
            std::fs::metadata(&path).map_err(|source| SettingsError::ReadFile {
                path: path.clone(),
                source,
            })?;
            let file = Toml::file_exact(&path);
            let origin = path.display().to_string();
            let data = file.data().map_err(|e| convert_error(e, &origin, None))?;
            if let Some(dict) = data.get(&Profile::Default) {
                for key in unknown_keys(dict) {
                    warnings.push(format!(
                        "unknown setting `{key}` in {origin} (ignored){}",
                        hint(&key)
                    ));
                }
            }
            figment = figment.merge(file);
        }

        for (name, value) in env {
            let Some(path) = env_key_path(name) else {
                continue;
            };
            if !KNOWN_KEYS.contains(&path.as_str()) {
                warnings.push(format!(
                    "unknown environment variable {name} (ignored){}",
                    hint(&path)
                ));
                continue;
            }
            // `VAR=` (as compose files often produce) means "not set", not "empty string".
            if value.is_empty() {
                continue;
            }
            figment = figment.merge(EnvVar {
                name: name.clone(),
                path,
                value: value.clone(),
            });
        }

        // Lossy: environment values are strings, and `"8080"` must still read as a number.
        let settings: Settings = figment
            .extract_lossy()
            .map_err(|e| convert_error(e, "defaults", Some(&figment)))?;
        settings.validate()?;
        Ok((settings, warnings))
    }

    /// The configured database URL, else a SQLite file `parley.db` inside `data_dir`.
    pub fn database_url(&self) -> String {
        if let Some(url) = &self.database_url {
            return url.clone();
        }
        let path = self.data_dir.join("parley.db");
        // sqlx percent-decodes the path and splits off `?` parameters.
        let mut encoded = String::new();
        for c in path.to_string_lossy().chars() {
            match c {
                '%' => encoded.push_str("%25"),
                '?' => encoded.push_str("%3F"),
                '#' => encoded.push_str("%23"),
                c => encoded.push(c),
            }
        }
        format!("sqlite://{encoded}")
    }

    /// The configured public URL, else `http://<listen>` (with an unspecified listen
    /// address such as `0.0.0.0` replaced by loopback, which at least works locally).
    pub fn public_base_url(&self) -> Url {
        if let Some(url) = &self.public_base_url {
            return url.clone();
        }
        let mut addr = self.listen;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        Url::parse(&format!("http://{addr}")).expect("a socket address makes a valid url")
    }

    /// True when the built-in simulators stand in for Twilio or ElevenLabs, because the
    /// credentials for the real service are missing.
    pub fn sandbox(&self) -> bool {
        let twilio = self.twilio.account_sid.is_some() && self.twilio.auth_token.is_some();
        let elevenlabs = self.elevenlabs.api_key.is_some();
        !(twilio && elevenlabs)
    }

    /// A commented example configuration with every setting at its default (what
    /// `parley config` prints). Settings without a default are shown commented out.
    pub fn example_toml() -> String {
        EXAMPLE_TOML.to_owned()
    }

    /// Checks that serde's types cannot express.
    fn validate(&self) -> Result<(), SettingsError> {
        let invalid = |key: &str, message: &str| SettingsError::Invalid {
            key: key.to_owned(),
            origin: "configuration".to_owned(),
            message: message.to_owned(),
        };
        let urls = [
            ("public_base_url", self.public_base_url.as_ref()),
            ("tools.public_base_url", self.tools.public_base_url.as_ref()),
            (
                "tools.calcom.api_base_url",
                Some(&self.tools.calcom.api_base_url),
            ),
            (
                "tools.email.graph_login_base_url",
                Some(&self.tools.email.graph_login_base_url),
            ),
            (
                "tools.email.graph_api_base_url",
                Some(&self.tools.email.graph_api_base_url),
            ),
            (
                "google.sheets_api_base_url",
                Some(&self.google.sheets_api_base_url),
            ),
            ("twilio.api_base_url", Some(&self.twilio.api_base_url)),
            (
                "elevenlabs.api_base_url",
                Some(&self.elevenlabs.api_base_url),
            ),
        ];
        for (key, url) in urls {
            if let Some(url) = url {
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(invalid(key, "must be an http:// or https:// URL"));
                }
            }
        }
        if let Some(url) = &self.database_url {
            let known = ["sqlite:", "postgres:", "postgresql:"];
            if !known.iter().any(|scheme| url.starts_with(scheme)) {
                return Err(invalid(
                    "database_url",
                    "must start with sqlite:, postgres: or postgresql:",
                ));
            }
        }
        if let Some(path) = &self.google.service_account_key_file {
            crate::sheets::Sheets::check_key_file(path)
                .map_err(|e| invalid("google.service_account_key_file", &e.to_string()))?;
        }
        if self.log.level.trim().is_empty() {
            return Err(invalid("log.level", "must not be empty"));
        }
        if let Err(message) = self.http.trusted_proxy_networks() {
            return Err(invalid("http.trusted_proxies", &message));
        }
        if self.auth.session_ttl_hours == 0 {
            return Err(invalid("auth.session_ttl_hours", "must be at least 1"));
        }
        if self.auth.sign_in_attempts_per_minute == 0 {
            return Err(invalid(
                "auth.sign_in_attempts_per_minute",
                "must be at least 1",
            ));
        }
        let region = &self.import.default_region;
        if region.len() != 2 || !region.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(invalid(
                "import.default_region",
                "must be a two-letter uppercase region code such as US or GB",
            ));
        }
        if self.import.max_upload_mb == 0 {
            return Err(invalid("import.max_upload_mb", "must be at least 1"));
        }
        for (name, template) in &self.tools.email.templates {
            crate::tools::check_email_template(name, template)
                .map_err(|e| invalid("tools.email.templates", &e))?;
        }
        if self.import.max_line_kb == 0 {
            return Err(invalid("import.max_line_kb", "must be at least 1"));
        }
        if self.import.max_field_kb == 0 || self.import.max_field_kb > self.import.max_line_kb {
            return Err(invalid(
                "import.max_field_kb",
                "must be at least 1 and at most import.max_line_kb",
            ));
        }
        if let Some((key, message)) = self.import.xlsx.invalid() {
            return Err(invalid(key, message));
        }
        if !(5..=600).contains(&self.calls.ring_timeout_secs) {
            return Err(invalid(
                "calls.ring_timeout_secs",
                "must be between 5 and 600",
            ));
        }
        if self.calls.recording_retention_days == 0 {
            return Err(invalid(
                "calls.recording_retention_days",
                "must be at least 1",
            ));
        }
        let records = self.calls.record_retention_days;
        if records != 0 && records < self.calls.recording_retention_days {
            return Err(invalid(
                "calls.record_retention_days",
                "must be 0 (keep) or at least calls.recording_retention_days",
            ));
        }
        if !(self.dialer.account_calls_per_second > 0.0
            && self.dialer.account_calls_per_second <= 1000.0)
        {
            return Err(invalid(
                "dialer.account_calls_per_second",
                "must be above 0 and at most 1000",
            ));
        }
        if !(self.sandbox.speed >= 0.1 && self.sandbox.speed <= 100.0) {
            return Err(invalid("sandbox.speed", "must be between 0.1 and 100"));
        }
        let cost = self.analytics.cost_per_minute_usd;
        if !(cost.is_finite() && (0.0..=100.0).contains(&cost)) {
            return Err(invalid(
                "analytics.cost_per_minute_usd",
                "must be between 0 and 100",
            ));
        }
        if !(1..=300).contains(&self.webhooks.timeout_secs) {
            return Err(invalid(
                "webhooks.timeout_secs",
                "must be between 1 and 300",
            ));
        }
        let schedule = &self.webhooks.retry_schedule_secs;
        if schedule.is_empty() || schedule.iter().any(|s| !(*s > 0.0 && *s <= 30.0 * 86400.0)) {
            return Err(invalid(
                "webhooks.retry_schedule_secs",
                "must list at least one wait, each above 0 and at most 30 days",
            ));
        }
        if !(0.0..=1.0).contains(&self.webhooks.jitter) {
            return Err(invalid("webhooks.jitter", "must be between 0 and 1"));
        }
        if self.webhooks.retention_days == 0 {
            return Err(invalid("webhooks.retention_days", "must be at least 1"));
        }
        if !(10..=60_000).contains(&self.webhooks.poll_interval_ms) {
            return Err(invalid(
                "webhooks.poll_interval_ms",
                "must be between 10 and 60000",
            ));
        }
        if let Some(id) = &self.twilio.caller_id {
            if parley_domain::Phone::from_e164(id).is_err() {
                return Err(invalid(
                    "twilio.caller_id",
                    "must be an E.164 number such as +15005550006",
                ));
            }
        }
        if let Some(number) = &self.tools.transfer.number {
            if parley_domain::Phone::from_e164(number).is_err() {
                return Err(invalid(
                    "tools.transfer.number",
                    "must be an E.164 number such as +15005550006",
                ));
            }
        }
        if self.tools.email.smtp_port == 0 {
            return Err(invalid("tools.email.smtp_port", "must be a port number"));
        }
        self.http
            .check()
            .map_err(|(key, message)| invalid(key, message))?;
        Ok(())
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field(
                "public_base_url",
                &self.public_base_url.as_ref().map(|u| Redacted(u.as_str())),
            )
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(Redacted))
            .field("bootstrap_admin_email", &self.bootstrap_admin_email)
            .field("bootstrap_admin_password", &self.bootstrap_admin_password)
            .field("log", &self.log)
            .field("http", &self.http)
            .field("twilio", &self.twilio)
            .field("elevenlabs", &self.elevenlabs)
            .field("auth", &self.auth)
            .field("import", &self.import)
            .field("calls", &self.calls)
            .field("sandbox", &self.sandbox)
            .field("dialer", &self.dialer)
            .field("analytics", &self.analytics)
            .field("tools", &self.tools)
            .field("webhooks", &self.webhooks)
            .field("egress", &self.egress)
            .field("google", &self.google)
            .field("http", &self.http)
            .finish()
    }
}

impl fmt::Debug for TwilioSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioSettings")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &self.auth_token)
            .field("api_base_url", &Redacted(self.api_base_url.as_str()))
            .field(
                "caller_id",
                &self
                    .caller_id
                    .as_deref()
                    .map(|c| parley_domain::MaskedPhone(c).to_string()),
            )
            .finish()
    }
}

impl fmt::Debug for ElevenLabsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ElevenLabsSettings")
            .field("api_key", &self.api_key)
            .field("api_base_url", &Redacted(self.api_base_url.as_str()))
            .field("webhook_secret", &self.webhook_secret)
            .field("agent_id", &self.agent_id)
            .finish()
    }
}

impl fmt::Debug for GoogleSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleSettings")
            .field("api_key", &self.api_key)
            .field("service_account_key_file", &self.service_account_key_file)
            .field(
                "sheets_api_base_url",
                &Redacted(self.sheets_api_base_url.as_str()),
            )
            .finish()
    }
}

/// Shows a URL with its password (if any) replaced by `***`.
struct Redacted<'a>(&'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Url::parse(self.0) {
            Ok(mut url) => {
                if url.password().is_some() {
                    // Cannot fail: a URL that has a password can hold one.
                    let _ = url.set_password(Some("***"));
                }
                fmt::Debug::fmt(url.as_str(), f)
            }
            // Unparsable: we cannot tell where a password would be, so show nothing.
            Err(_) => f.write_str("\"<hidden>\""),
        }
    }
}

/// One `PARLEY_*` variable as a figment provider, named so errors point at it.
struct EnvVar {
    name: String,
    path: String,
    value: String,
}

impl Provider for EnvVar {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("environment variable {}", self.name))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let nested = figment::util::nest(&self.path, Value::from(self.value.clone()));
        let dict = nested
            .into_dict()
            .expect("a non-empty path nests into a dict");
        Ok(Map::from([(Profile::Default, dict)]))
    }
}

/// The file to read: the one given, else `$PARLEY_CONFIG`, else `./parley.toml` if present.
fn choose_config_file(given: Option<&Path>, env: &[(String, String)]) -> Option<PathBuf> {
    if let Some(path) = given {
        return Some(path.to_path_buf());
    }
    let from_env = env
        .iter()
        .find(|(name, value)| name == CONFIG_ENV && !value.is_empty());
    if let Some((_, value)) = from_env {
        return Some(PathBuf::from(value));
    }
    let default = PathBuf::from(DEFAULT_CONFIG_FILE);
    default.is_file().then_some(default)
}

/// `PARLEY_TWILIO__ACCOUNT_SID` -> `twilio.account_sid`; `None` for variables that are
/// not settings (other prefixes, `PARLEY_CONFIG`, `PARLEY_TEST_*`).
fn env_key_path(name: &str) -> Option<String> {
    let rest = name.strip_prefix(ENV_PREFIX)?;
    if name == CONFIG_ENV || name.starts_with(TEST_ENV_PREFIX) || rest.is_empty() {
        return None;
    }
    Some(rest.to_ascii_lowercase().replace("__", "."))
}

/// Dotted paths in `dict` that are not settings. Known sections are descended into;
/// a known leaf given the wrong shape is left for deserialization to report.
fn unknown_keys(dict: &Dict) -> Vec<String> {
    fn walk(prefix: &str, dict: &Dict, out: &mut Vec<String>) {
        for (key, value) in dict {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            if KNOWN_KEYS.contains(&path.as_str()) {
                continue;
            }
            let is_section = KNOWN_KEYS
                .iter()
                .any(|known| known.starts_with(&format!("{path}.")));
            match value.as_dict() {
                Some(inner) if is_section => walk(&path, inner, out),
                _ => out.push(path),
            }
        }
    }
    let mut out = Vec::new();
    walk("", dict, &mut out);
    out
}

/// " (did you mean `twilio.account_sid`?)" when a known key ends the same way.
fn hint(unknown: &str) -> String {
    let leaf = unknown.rsplit('.').next().unwrap_or(unknown);
    KNOWN_KEYS
        .iter()
        .find(|known| known.rsplit('.').next() == Some(leaf))
        .map(|known| format!(" (did you mean `{known}`?)"))
        .unwrap_or_default()
}

/// Turns figment's error into ours, naming the key and where its value came from, and
/// quoting the bad value unless it is a secret.
fn convert_error(
    error: figment::Error,
    fallback_origin: &str,
    figment: Option<&Figment>,
) -> SettingsError {
    let origin = error
        .metadata
        .as_ref()
        .map(|md| match &md.source {
            Some(source) => source.to_string(),
            None => md.name.to_string(),
        })
        .unwrap_or_else(|| fallback_origin.to_owned());
    if error.path.is_empty() {
        return SettingsError::Malformed {
            origin,
            message: error.kind.to_string(),
        };
    }
    let key = error.path.join(".");
    let message = if SECRET_KEYS.contains(&key.as_str()) {
        "invalid value (not shown: it is a secret)".to_owned()
    } else {
        // Some parsers (e.g. socket addresses) do not quote the value they rejected.
        let kind = error.kind.to_string();
        let value = figment.and_then(|f| f.find_value(&key).ok());
        let quoted = value.as_ref().and_then(|v| serde_json::to_string(v).ok());
        let raw = value.as_ref().and_then(|v| v.as_str().map(str::to_owned));
        match quoted {
            Some(quoted) if !raw.is_some_and(|raw| kind.contains(&raw)) => {
                format!("{kind} (got {quoted})")
            }
            _ => kind,
        }
    };
    SettingsError::Invalid {
        key,
        origin,
        message,
    }
}

const EXAMPLE_TOML: &str = r#"# Parley configuration.
#
# Precedence, later wins: built-in defaults, this file, then PARLEY_* environment
# variables, where `__` separates a section from its key: `[twilio] account_sid`
# is PARLEY_TWILIO__ACCOUNT_SID. The file is the one passed with --config, else
# $PARLEY_CONFIG, else ./parley.toml if it exists.
#
# Every setting is shown with its default. Lines starting with `# key =` have no
# default; uncomment them to set a value.

# Address the HTTP server (dashboard, API, webhooks, media streams) listens on.
listen = "127.0.0.1:8080"

# Public URL Twilio and ElevenLabs use to reach this server (webhooks, TwiML, media
# WebSocket). Default: http://<listen>.
# public_base_url = "https://parley.example.com"

# Directory for the SQLite database, recordings and other files.
data_dir = "./parley-data"

# Database URL: sqlite://path/to/file.db or postgres://user:password@host/db.
# Default: a SQLite file parley.db inside data_dir.
# database_url = "postgres://parley:secret@127.0.0.1:5432/parley"

# First administrator, created at start-up if no user exists yet.
# bootstrap_admin_email = "admin@example.com"
# bootstrap_admin_password = "change-me-please"

[log]
# "text" for people, "json" for log collectors.
format = "text"
# tracing filter directive, e.g. "debug" or "parley_engine=debug,info".
# RUST_LOG, when set, takes precedence.
level = "info"

[twilio]
# Without account_sid and auth_token, Parley runs in sandbox mode with a simulated
# Twilio.
# account_sid = "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
# auth_token = "your-twilio-auth-token"
api_base_url = "https://api.twilio.com/"
# Number calls are placed from when a call or campaign names none.
# caller_id = "+15005550006"

[elevenlabs]
# Without api_key, Parley runs in sandbox mode with a simulated ElevenLabs.
# api_key = "your-elevenlabs-api-key"
api_base_url = "https://api.elevenlabs.io/"
# Secret used to verify ElevenLabs post-call webhooks.
# webhook_secret = "your-webhook-secret"
# Agent used when a call or campaign names none.
# agent_id = "your-agent-id"

[auth]
# How long a dashboard sign-in lasts.
session_ttl_hours = 12
# Sign-in attempts allowed per minute before further attempts are refused.
sign_in_attempts_per_minute = 10

[import]
# Region for phone numbers written without a +country code (ISO 3166 alpha-2).
default_region = "US"
# Largest contact file accepted for upload, in MiB (an XLSX file is held whole while
# it is read).
max_upload_mb = 100
# Longest CSV line, in KiB: a whole record, line breaks inside quotes included.
max_line_kb = 64
# Longest CSV field or spreadsheet cell, in KiB.
max_field_kb = 16

[import.xlsx]
# Bounds on an XLSX workbook, checked in its ZIP directory before anything is unpacked
# and while its first sheet is read; a workbook past one is refused whole.
# Files in the archive.
max_entries = 1000
# Unpacked size of any one file, in MiB.
max_entry_mb = 64
# Unpacked size of the whole archive, and of the text read from its cells, in MiB.
max_uncompressed_mb = 100
# Unpacked over packed size, for files of more than 1 MiB unpacked.
max_compression_ratio = 100
# Highest row number a cell may have.
max_rows = 500000
# Columns a cell may be in (200 is column GR).
max_columns = 200
# Cells read, counting the blank cells left of each row's last value.
max_cells = 5000000

[calls]
# Seconds a call may ring before it counts as unanswered.
ring_timeout_secs = 30
# Seconds to wait for the agent's post-call webhook before fetching the conversation
# from the ElevenLabs API instead.
post_call_wait_secs = 120
# Recordings older than this many days are deleted.
recording_retention_days = 90
# Transcripts of calls that ended more than this many days ago are deleted; the call,
# its outcome and the agent's analysis stay. 0 keeps them.
transcript_retention_days = 0
# Calls that ended more than this many days ago are deleted with their events,
# transcript and tool calls (analytics drop them too). 0 keeps them; otherwise at least
# recording_retention_days.
record_retention_days = 0

[dialer]
# Calls per second across every campaign and every node: your carrier account's limit
# (Twilio's default is 1 per second; ask Twilio to raise it before raising this).
account_calls_per_second = 1.0
# Whether this node dials campaigns; nodes that only serve the API and webhooks can say
# false.
enabled = true
# A callee who says any of these (case-insensitive) goes on the do-not-call list.
opt_out_phrases = ["stop calling", "don't call me", "do not call me", "take me off your list", "remove me from your list", "put me on your do not call list"]

[webhooks]
# Seconds one delivery attempt to a subscriber may take before it counts as failed.
timeout_secs = 10
# Seconds to wait before each retry of a failed delivery; after the last one the
# delivery is dead (it can still be replayed from the API).
retry_schedule_secs = [30.0, 120.0, 480.0, 1800.0, 7200.0, 21600.0]
# Each wait is stretched by up to this fraction at random.
jitter = 0.1
# Milliseconds between looks for due deliveries when no event wakes the worker.
poll_interval_ms = 1000
# Days an event and its delivery log are kept once every delivery of it is finished
# (delivered or dead); deliveries still being retried are kept until they finish.
retention_days = 30

[egress]
# Requests to URLs users supply (webhook subscriptions) never reach loopback, link-local
# (cloud metadata), private, carrier-grade NAT, unique-local, multicast or other
# non-public addresses, checked when each connection is made. Hosts listed here (names
# or IP addresses, matched exactly) are exempt, e.g. a CRM inside your network.
# Environment: PARLEY_EGRESS__ALLOWED_HOSTS=crm.internal,10.0.0.5
allowed_hosts = []

[google]
# For contact import from Google Sheets: an API key (spreadsheets shared as "anyone
# with the link")...
# api_key = "your-google-api-key"
# ...or a service account's JSON key file (spreadsheets shared with its email).
# service_account_key_file = "/etc/parley/google-service-account.json"
sheets_api_base_url = "https://sheets.googleapis.com/"

[sandbox]
# How fast the simulated callees and agent talk in sandbox mode; 1.0 is real time.
speed = 1.0

[analytics]
# USD per billed call minute, for the dashboard's cost estimate (each call's duration is
# rounded up to whole minutes, as carriers bill).
cost_per_minute_usd = 0.014

[tools]
# Base of the tool URLs `parley tools export` prints. Default: public_base_url.
# public_base_url = "https://parley.example.com"

[tools.secrets]
# Bearer secret ElevenLabs sends to each server tool (POST /tools/<name>), as the
# `Authorization: Bearer <secret>` header. A tool without a secret refuses server calls;
# in sandbox mode missing secrets are generated. Client tools need none.
# get_current_time = "a-long-random-secret"
# schedule_consultation = "a-long-random-secret"
# send_email = "a-long-random-secret"
# opt_out = "a-long-random-secret"
# schedule_callback = "a-long-random-secret"
# transfer_to_human = "a-long-random-secret"

[tools.calcom]
# Cal.com API v2 key; without it, sandbox mode books in a built-in fake Cal.com.
# api_key = "cal_live_xxxxxxxx"
api_base_url = "https://api.cal.com/"
# The event type consultations are booked as.
# event_type_id = 123456

[tools.email]
# "graph" (Microsoft Graph sendMail) or "smtp". Without credentials, sandbox mode sends
# to a built-in fake of the chosen transport.
transport = "graph"
graph_login_base_url = "https://login.microsoftonline.com/"
graph_api_base_url = "https://graph.microsoft.com/"
# graph_tenant_id = "00000000-0000-0000-0000-000000000000"
# graph_client_id = "00000000-0000-0000-0000-000000000000"
# graph_client_secret = "your-client-secret"
# Mailbox the mail is sent from.
# graph_sender = "calls@example.com"
# smtp_host = "smtp.example.com"
smtp_port = 587
# Require STARTTLS; false only for a local relay.
smtp_tls = true
# smtp_user = "calls@example.com"
# smtp_password = "your-smtp-password"
# smtp_from = "Parley <calls@example.com>"
# Emails one call may send at most.
max_per_call = 2
# The messages send_email may send, by name: the agent picks one and fills its {{field}}
# placeholders (HTML-escaped in html, one line in subject); it never writes the subject
# or markup. Without a template, send_email refuses. For example:
# templates = { plan_details = { subject = "Your {{plan}} details", text = "Hello {{name}}, ...", html = "<p>Hello {{name}}, ...</p>" } }

[tools.transfer]
# Number transfer_to_human connects the callee to (E.164).
# number = "+15005550006"

[http]
# Seconds a client has to send a request's head (request line and headers), counted
# from connecting, or from the first byte of a later request on a kept-alive connection.
header_read_timeout_secs = 10.0
# Longest wait, in seconds, for the next piece of a request body.
request_body_timeout_secs = 30.0
# Seconds a kept-alive connection may sit idle between requests. Keep it above your
# load balancer's idle timeout (AWS ALB: 60), or it may reuse a connection being closed.
keep_alive_timeout_secs = 75.0
# Open HTTP connections; new ones beyond it are refused at once. WebSockets stop
# counting once upgraded (the limits below bound them).
max_connections = 1024
# Media-stream WebSockets that have not yet sent a valid `start`; beyond it Twilio's
# handshake gets 503.
media_max_unauthenticated = 64
# Seconds a new media stream has to send its `start` message (Twilio sends it at once).
media_start_timeout_secs = 10.0
# Live-events WebSockets (the dashboard's) open at once: in total, and per session or
# API key.
events_max_sockets = 512
events_max_sockets_per_credential = 16
# Seconds between checks that a live-events socket's credential still holds (revoked
# key, disabled user, signed-out session: the socket closes). At most 10.
events_recheck_secs = 10.0
# Proxies and load balancers (IP addresses or CIDR ranges) trusted to name the client in
# X-Forwarded-For; the rightmost address not in this list is the client, for sign-in
# limits. Empty: the TCP peer is the client (set this behind a load balancer, or every
# user shares the balancer's limit).
trusted_proxies = []
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::io::Write;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn config_file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    /// Loads with no file at all (an explicit empty one, so a stray ./parley.toml in the
    /// test's working directory cannot interfere).
    fn load_env(pairs: &[(&str, &str)]) -> Result<(Settings, Vec<String>), SettingsError> {
        let empty = config_file("");
        Settings::load_from(Some(empty.path()), &env(pairs))
    }

    fn secret(value: &Option<SecretString>) -> Option<&str> {
        value.as_ref().map(|s| s.expose_secret())
    }

    /// Field-by-field equality; `SecretString` deliberately has no `PartialEq`.
    fn assert_same(a: &Settings, b: &Settings) {
        assert_eq!(a.listen, b.listen);
        assert_eq!(a.public_base_url, b.public_base_url);
        assert_eq!(a.data_dir, b.data_dir);
        assert_eq!(a.database_url, b.database_url);
        assert_eq!(a.bootstrap_admin_email, b.bootstrap_admin_email);
        assert_eq!(
            secret(&a.bootstrap_admin_password),
            secret(&b.bootstrap_admin_password)
        );
        assert_eq!(a.log, b.log);
        assert_eq!(a.http, b.http);
        assert_eq!(a.twilio.account_sid, b.twilio.account_sid);
        assert_eq!(secret(&a.twilio.auth_token), secret(&b.twilio.auth_token));
        assert_eq!(a.twilio.api_base_url, b.twilio.api_base_url);
        assert_eq!(secret(&a.elevenlabs.api_key), secret(&b.elevenlabs.api_key));
        assert_eq!(a.elevenlabs.api_base_url, b.elevenlabs.api_base_url);
        assert_eq!(
            secret(&a.elevenlabs.webhook_secret),
            secret(&b.elevenlabs.webhook_secret)
        );
        assert_eq!(a.auth, b.auth);
        assert_eq!(a.import, b.import);
        assert_eq!(a.twilio.caller_id, b.twilio.caller_id);
        assert_eq!(a.elevenlabs.agent_id, b.elevenlabs.agent_id);
        assert_eq!(a.calls, b.calls);
        assert_eq!(a.sandbox, b.sandbox);
        assert_eq!(a.dialer, b.dialer);
        assert_eq!(a.analytics, b.analytics);
        assert_eq!(a.tools.public_base_url, b.tools.public_base_url);
        for tool in crate::tools::NAMES {
            assert_eq!(
                a.tools.secrets.get(tool).map(|s| s.expose_secret()),
                b.tools.secrets.get(tool).map(|s| s.expose_secret())
            );
        }
        let (ca, cb) = (&a.tools.calcom, &b.tools.calcom);
        assert_eq!(secret(&ca.api_key), secret(&cb.api_key));
        assert_eq!(ca.api_base_url, cb.api_base_url);
        assert_eq!(ca.event_type_id, cb.event_type_id);
        let (ea, eb) = (&a.tools.email, &b.tools.email);
        assert_eq!(ea.transport, eb.transport);
        assert_eq!(ea.graph_login_base_url, eb.graph_login_base_url);
        assert_eq!(ea.graph_api_base_url, eb.graph_api_base_url);
        assert_eq!(ea.graph_tenant_id, eb.graph_tenant_id);
        assert_eq!(ea.graph_client_id, eb.graph_client_id);
        assert_eq!(
            secret(&ea.graph_client_secret),
            secret(&eb.graph_client_secret)
        );
        assert_eq!(ea.graph_sender, eb.graph_sender);
        assert_eq!(ea.smtp_host, eb.smtp_host);
        assert_eq!(ea.smtp_port, eb.smtp_port);
        assert_eq!(ea.smtp_tls, eb.smtp_tls);
        assert_eq!(ea.smtp_user, eb.smtp_user);
        assert_eq!(secret(&ea.smtp_password), secret(&eb.smtp_password));
        assert_eq!(ea.smtp_from, eb.smtp_from);
        assert_eq!(a.tools.transfer, b.tools.transfer);
        assert_eq!(a.webhooks, b.webhooks);
        assert_eq!(secret(&a.google.api_key), secret(&b.google.api_key));
        assert_eq!(
            a.google.service_account_key_file,
            b.google.service_account_key_file
        );
        assert_eq!(a.google.sheets_api_base_url, b.google.sheets_api_base_url);
        assert_eq!(a.http, b.http);
    }

    #[test]
    fn defaults() {
        let (s, warnings) = load_env(&[]).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_same(&s, &Settings::default());
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("./parley-data"));
        assert_eq!(s.database_url(), "sqlite://./parley-data/parley.db");
        assert_eq!(s.public_base_url().as_str(), "http://127.0.0.1:8080/");
        assert_eq!(s.log.format, LogFormat::Text);
        assert_eq!(s.log.level, "info");
        assert_eq!(s.twilio.api_base_url.as_str(), "https://api.twilio.com/");
        assert_eq!(
            s.elevenlabs.api_base_url.as_str(),
            "https://api.elevenlabs.io/"
        );
        assert_eq!(s.auth.session_ttl_hours, 12);
        assert_eq!(s.auth.sign_in_attempts_per_minute, 10);
        assert_eq!(s.import.default_region, "US");
        assert_eq!(s.import.max_upload_mb, 100);
        assert!(s.sandbox());
    }

    #[test]
    fn file_overrides_defaults() {
        let file = config_file(
            r#"
            listen = "0.0.0.0:9000"
            data_dir = "/var/lib/parley"
            [log]
            format = "json"
            [twilio]
            account_sid = "AC123"
            auth_token = "tok"
            [elevenlabs]
            api_key = "key"
            [auth]
            session_ttl_hours = 2
            "#,
        );
        let (s, warnings) = Settings::load_from(Some(file.path()), &[]).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(s.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(s.database_url(), "sqlite:///var/lib/parley/parley.db");
        assert_eq!(s.public_base_url().as_str(), "http://127.0.0.1:9000/");
        assert_eq!(s.log.format, LogFormat::Json);
        assert_eq!(s.log.level, "info", "untouched keys keep their defaults");
        assert_eq!(s.twilio.account_sid.as_deref(), Some("AC123"));
        assert_eq!(s.auth.session_ttl_hours, 2);
        assert_eq!(s.auth.sign_in_attempts_per_minute, 10);
        assert!(!s.sandbox());
    }

    #[test]
    fn env_overrides_file() {
        let file = config_file("listen = \"127.0.0.1:9000\"\n[auth]\nsession_ttl_hours = 2\n");
        let vars = env(&[
            ("PARLEY_LISTEN", "127.0.0.1:9100"),
            ("PARLEY_AUTH__SESSION_TTL_HOURS", "5"),
            ("PARLEY_DATABASE_URL", "postgres://u:p@db/parley"),
            ("PARLEY_PUBLIC_BASE_URL", "https://calls.example.com"),
        ]);
        let (s, _) = Settings::load_from(Some(file.path()), &vars).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(s.auth.session_ttl_hours, 5);
        assert_eq!(s.database_url(), "postgres://u:p@db/parley");
        assert_eq!(s.public_base_url().as_str(), "https://calls.example.com/");
    }

    #[test]
    fn double_underscore_nests() {
        let (s, warnings) = load_env(&[
            ("PARLEY_TWILIO__ACCOUNT_SID", "AC999"),
            ("PARLEY_TWILIO__AUTH_TOKEN", "12345"),
            ("PARLEY_ELEVENLABS__API_KEY", "el-key"),
            ("PARLEY_LOG__FORMAT", "json"),
            ("PARLEY_IMPORT__MAX_UPLOAD_MB", "7"),
            ("PARLEY_BOOTSTRAP_ADMIN_EMAIL", "a@example.com"),
        ])
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(s.twilio.account_sid.as_deref(), Some("AC999"));
        // A numeric-looking secret stays a string.
        assert_eq!(secret(&s.twilio.auth_token), Some("12345"));
        assert_eq!(secret(&s.elevenlabs.api_key), Some("el-key"));
        assert_eq!(s.log.format, LogFormat::Json);
        assert_eq!(s.import.max_upload_mb, 7);
        assert_eq!(s.bootstrap_admin_email.as_deref(), Some("a@example.com"));
        assert!(!s.sandbox());
    }

    #[test]
    fn config_file_from_env_and_empty_values() {
        let file = config_file("listen = \"127.0.0.1:9000\"\n");
        let path = file.path().to_str().unwrap();
        let (s, warnings) = Settings::load_from(
            None,
            &env(&[("PARLEY_CONFIG", path), ("PARLEY_DATABASE_URL", "")]),
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(s.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(s.database_url, None, "an empty variable counts as unset");
    }

    #[test]
    fn unknown_keys_warn() {
        let file = config_file(
            "listn = \"x\"\n[twilio]\nsid = \"AC1\"\naccount_sid = \"AC2\"\n[extra]\na = 1\n",
        );
        let vars = env(&[
            ("PARLEY_TWILIO__ACOUNT_SID", "x"),
            ("PARLEY_LOG", "debug"),
            ("PARLEY_ACCOUNT_SID", "x"),
            ("PARLEY_TEST_POSTGRES_URL", "postgres://ignored"),
            ("HOME", "/root"),
        ]);
        let (s, warnings) = Settings::load_from(Some(file.path()), &vars).unwrap();
        assert_eq!(s.twilio.account_sid.as_deref(), Some("AC2"));
        assert_eq!(warnings.len(), 6, "{warnings:#?}");
        let all = warnings.join("\n");
        for needle in [
            "`listn`",
            "`twilio.sid`",
            "`extra`",
            "PARLEY_TWILIO__ACOUNT_SID",
            "PARLEY_LOG ",
            "PARLEY_ACCOUNT_SID (ignored) (did you mean `twilio.account_sid`?)",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in {all}");
        }
    }

    #[test]
    fn bad_values_give_clear_errors() {
        let file = config_file("listen = \"nope\"\n");
        let err = Settings::load_from(Some(file.path()), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`listen`"), "{err}");
        assert!(err.contains("nope"), "{err}");
        assert!(err.contains(&file.path().display().to_string()), "{err}");

        let err = load_env(&[("PARLEY_AUTH__SESSION_TTL_HOURS", "soon")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`auth.session_ttl_hours`"), "{err}");
        assert!(err.contains("PARLEY_AUTH__SESSION_TTL_HOURS"), "{err}");

        let err = load_env(&[("PARLEY_LOG__FORMAT", "xml")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`log.format`") && err.contains("xml"), "{err}");
        assert_eq!(err.matches("xml").count(), 1, "value quoted once: {err}");

        let err = load_env(&[("PARLEY_DATABASE_URL", "mysql://u:hunter2@db/x")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`database_url`"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");

        let err = load_env(&[("PARLEY_IMPORT__DEFAULT_REGION", "usa")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`import.default_region`"), "{err}");

        let err = load_env(&[("PARLEY_ANALYTICS__COST_PER_MINUTE_USD", "-1")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`analytics.cost_per_minute_usd`"), "{err}");

        let err = load_env(&[("PARLEY_CALLS__RECORD_RETENTION_DAYS", "30")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`calls.record_retention_days`"),
            "call records may not outlive the recording retention's deletion of their files: {err}"
        );
        assert!(load_env(&[("PARLEY_CALLS__RECORD_RETENTION_DAYS", "90")]).is_ok());

        let file = config_file("[twilio]\nauth_token = 12345\n");
        let err = Settings::load_from(Some(file.path()), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`twilio.auth_token`"), "{err}");
        assert!(!err.contains("12345"), "secret leaked: {err}");

        let file = config_file("listen = [\n");
        let err = Settings::load_from(Some(file.path()), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains(&file.path().display().to_string()), "{err}");

        let missing = Path::new("/nonexistent/parley.toml");
        let err = Settings::load_from(Some(missing), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/parley.toml"), "{err}");
    }

    #[test]
    fn example_toml_parses_back_to_the_defaults() {
        let file = config_file(&Settings::example_toml());
        let (s, warnings) = Settings::load_from(Some(file.path()), &[]).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_same(&s, &Settings::default());
    }

    /// Uncommenting the `# key = value` lines must give valid settings with every key set:
    /// A service account's JSON key file with a fresh RSA key, as settings read it.
    fn service_account_key(client_email: &str, token_uri: &str) -> String {
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        let pem = private.to_pkcs8_pem(LineEnding::LF).unwrap();
        serde_json::json!({
            "type": "service_account",
            "private_key": pem.as_str(),
            "client_email": client_email,
            "token_uri": token_uri,
        })
        .to_string()
    }

    /// the example shows all settings, and only real ones.
    #[test]
    fn example_toml_lists_every_setting() {
        let uncommented: String = Settings::example_toml()
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") => rest,
                _ => line,
            })
            .collect::<Vec<_>>()
            .join("\n");
        // The key file is read when settings load, so the example's path must hold one.
        let key_file = tempfile::NamedTempFile::new().unwrap();
        let key = service_account_key(
            "parley@example.iam.gserviceaccount.com",
            "http://127.0.0.1:9/token",
        );
        std::fs::write(key_file.path(), key).unwrap();
        let uncommented = uncommented.replace(
            "/etc/parley/google-service-account.json",
            &key_file.path().display().to_string(),
        );
        let file = config_file(&uncommented);
        let (s, warnings) = Settings::load_from(Some(file.path()), &[]).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(s.public_base_url.is_some());
        assert!(s.database_url.is_some());
        assert!(s.bootstrap_admin_email.is_some());
        assert!(s.bootstrap_admin_password.is_some());
        assert!(!s.sandbox());
        assert!(s.elevenlabs.webhook_secret.is_some());
        assert!(s.google.api_key.is_some());
        assert!(s.google.service_account_key_file.is_some());

        let text = Settings::example_toml();
        for key in KNOWN_KEYS {
            let leaf = key.rsplit('.').next().unwrap();
            assert!(text.contains(&format!("{leaf} = ")), "{key} missing");
        }
    }

    /// `KNOWN_KEYS` and the structs' fields must agree, or real settings would warn as
    /// unknown (or unknown ones would pass silently).
    #[test]
    fn known_keys_match_the_struct_fields() {
        let sections: &[(&str, &[&str])] = &[
            ("log", fields::<LogSettings>()),
            ("http", fields::<HttpSettings>()),
            ("twilio", fields::<TwilioSettings>()),
            ("elevenlabs", fields::<ElevenLabsSettings>()),
            ("auth", fields::<AuthSettings>()),
            ("import", fields::<ImportSettings>()),
            ("import.xlsx", fields::<XlsxLimits>()),
            ("calls", fields::<CallSettings>()),
            ("sandbox", fields::<SandboxSettings>()),
            ("dialer", fields::<DialerSettings>()),
            ("analytics", fields::<AnalyticsSettings>()),
            ("tools", fields::<ToolSettings>()),
            ("tools.secrets", fields::<ToolSecrets>()),
            ("tools.calcom", fields::<CalcomSettings>()),
            ("tools.email", fields::<EmailSettings>()),
            ("tools.transfer", fields::<TransferSettings>()),
            ("webhooks", fields::<WebhookSettings>()),
            ("egress", fields::<EgressSettings>()),
            ("google", fields::<GoogleSettings>()),
            ("http", fields::<HttpSettings>()),
        ];
        fn expand(path: String, sections: &[(&str, &[&str])], out: &mut Vec<String>) {
            match sections.iter().find(|(name, _)| *name == path) {
                Some((_, inner)) => {
                    for leaf in *inner {
                        expand(format!("{path}.{leaf}"), sections, out);
                    }
                }
                None => out.push(path),
            }
        }
        let mut expected = Vec::new();
        for field in fields::<Settings>() {
            expand(field.to_string(), sections, &mut expected);
        }
        let mut known: Vec<String> = KNOWN_KEYS.iter().map(|k| k.to_string()).collect();
        expected.sort();
        known.sort();
        assert_eq!(known, expected);
        for key in SECRET_KEYS {
            assert!(KNOWN_KEYS.contains(key), "{key}");
        }
    }

    /// The field names serde's derive hands to `deserialize_struct`.
    fn fields<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
        struct Capture(std::cell::Cell<&'static [&'static str]>);
        #[derive(Debug)]
        struct Stop;
        impl fmt::Display for Stop {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("stop")
            }
        }
        impl std::error::Error for Stop {}
        impl serde::de::Error for Stop {
            fn custom<M: fmt::Display>(_: M) -> Self {
                Stop
            }
        }
        impl<'de> serde::Deserializer<'de> for &Capture {
            type Error = Stop;
            fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
                Err(Stop)
            }
            fn deserialize_struct<V: serde::de::Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Stop> {
                self.0.set(fields);
                Err(Stop)
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
                bytes byte_buf option unit unit_struct newtype_struct seq tuple
                tuple_struct map enum identifier ignored_any
            }
        }
        let capture = Capture(std::cell::Cell::new(&[]));
        let _ = T::deserialize(&capture);
        capture.0.get()
    }

    #[test]
    fn debug_hides_secrets() {
        let (s, _) = load_env(&[
            (
                "PARLEY_DATABASE_URL",
                "postgres://parley:db-pass-123@db:5432/parley",
            ),
            ("PARLEY_BOOTSTRAP_ADMIN_PASSWORD", "admin-pass-123"),
            ("PARLEY_TWILIO__AUTH_TOKEN", "twilio-token-123"),
            ("PARLEY_ELEVENLABS__API_KEY", "el-key-123"),
            ("PARLEY_ELEVENLABS__WEBHOOK_SECRET", "whsec-123"),
            ("PARLEY_GOOGLE__API_KEY", "google-key-123"),
            (
                "PARLEY_PUBLIC_BASE_URL",
                "https://user:url-pass-123@example.com",
            ),
        ])
        .unwrap();
        let debug = format!("{s:?} {s:#?}");
        for secret in [
            "db-pass-123",
            "admin-pass-123",
            "twilio-token-123",
            "el-key-123",
            "whsec-123",
            "google-key-123",
            "url-pass-123",
        ] {
            assert!(!debug.contains(secret), "{secret} leaked in {debug}");
        }
        assert!(
            debug.contains("postgres://parley:***@db:5432/parley"),
            "{debug}"
        );
    }

    #[test]
    fn database_url_escapes_path_characters() {
        let s = Settings {
            data_dir: PathBuf::from("/tmp/a?b#c%d"),
            ..Settings::default()
        };
        assert_eq!(s.database_url(), "sqlite:///tmp/a%3Fb%23c%25d/parley.db");
    }
}
