//! Parley's one typed configuration.
//!
//! Layers, later wins: built-in defaults, then a TOML file, then `PARLEY_*` environment
//! variables (`__` separates sections: `PARLEY_TWILIO__ACCOUNT_SID` is `twilio.account_sid`).
//! Unknown keys are not errors (an old config file must not stop a newer binary) but come
//! back as warnings, so a typo never passes silently.

use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use url::Url;

mod egress;
mod http;
mod import;
mod keys;
mod load;
mod metrics;
mod redact;
#[cfg(test)]
mod tests;
mod tools;
mod validate;
pub use egress::EgressSettings;
pub use http::HttpSettings;
pub use import::XlsxLimits;
pub use metrics::MetricsSettings;
pub use tools::{
    CalcomSettings, EmailSettings, EmailTemplate, EmailTransport, ToolSecrets, ToolSettings,
    TransferSettings,
};

/// The commented example configuration (`parley config`); a test parses it back to the
/// defaults and checks it lists every setting.
const EXAMPLE_TOML: &str = include_str!("settings/example.toml");

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
    pub metrics: MetricsSettings,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `tracing` filter directive, e.g. `info` or `parley_engine=debug,info`.
    pub level: String,
    /// An OTLP/HTTP traces endpoint (e.g. `http://127.0.0.1:4318/v1/traces`): spans are
    /// exported there as well as logged. Unset, nothing is exported.
    pub otlp_endpoint: Option<Url>,
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
    /// Blocked dials (the compliance evidence of every dial held back) older than this are
    /// deleted; 0 keeps them.
    pub blocked_dial_retention_days: u32,
    /// When Twilio fetches a call's TwiML, Parley opens its agent connection right away
    /// (with a signed URL fetched when the call was placed), so that the media stream finds
    /// it ready; this long, at most, it waits for that stream before it is closed. 0
    /// connects only when the stream starts.
    pub agent_early_connect_secs: u32,
    /// With early connect on, the stream URL names its call, and a stream whose handshake
    /// carries a valid Twilio signature has the agent's initiation data sent at once: the
    /// greeting comes back while Twilio's `start` is on its way. `false` sends it on
    /// `start` over the socket waiting since the TwiML fetch (and keeps the stream URL
    /// `/twilio/media`, for nodes of earlier versions during a rolling upgrade).
    pub agent_starts_at_handshake: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct DialerSettings {
    /// Calls per second across every campaign and every node: the carrier account's
    /// limit (Twilio's default is 1).
    pub account_calls_per_second: f64,
    /// Calls in progress across every campaign and every node, at most: the agent plan's
    /// concurrent-conversation limit (calls beyond it would fail). Campaigns share it
    /// fairly; each campaign's own limit still applies.
    pub max_concurrent_calls: u32,
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
    /// Requests Parley makes to write results back, per minute, across every node:
    /// Google's default quota is 60 write (and 60 read) requests per minute per user per
    /// project (https://developers.google.com/sheets/api/limits).
    pub sheets_requests_per_minute: u32,
    /// Attempts at writing a row back before it is given up (its error kept and shown).
    pub sheets_write_attempts: u32,
    /// How often to look for rows to write back when no settled call wakes the writer.
    pub sheets_write_poll_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct SandboxSettings {
    /// How fast the simulated callees and agent talk (1.0 = real time).
    pub speed: f64,
    /// One-way delay of the simulated network to each simulator (REST and WebSocket),
    /// in milliseconds; 0 is loopback as it is.
    pub network_delay_ms: u32,
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
            metrics: MetricsSettings::default(),
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Text,
            level: "info".to_owned(),
            otlp_endpoint: None,
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
            blocked_dial_retention_days: 1461,
            agent_early_connect_secs: 15,
            agent_starts_at_handshake: true,
        }
    }
}

impl Default for DialerSettings {
    fn default() -> Self {
        DialerSettings {
            account_calls_per_second: 1.0,
            max_concurrent_calls: 4,
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
            sheets_requests_per_minute: 60,
            sheets_write_attempts: 8,
            sheets_write_poll_ms: 2000,
        }
    }
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            speed: 1.0,
            network_delay_ms: 0,
        }
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
}
