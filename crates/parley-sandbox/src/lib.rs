//! Sandbox mode: with no Twilio or ElevenLabs credentials, Parley starts the built-in
//! simulators on loopback ports and talks to them exactly as it would to the real
//! services; only the base URLs and credentials differ. This crate joins `parley-sim` and
//! `parley-engine` for the binary and the tests, so that the engine never depends on the
//! simulators: [`telephony`] gives a node what it talks to, simulated or real.
#![forbid(unsafe_code)]
use parley_engine::sandbox_secrets::SandboxCredentials;
use parley_engine::settings::{EmailTemplate, GoogleSettings, Settings, ToolSettings};
use parley_engine::telephony::{SimulatorUrls, Telephony, TelephonyError};
use parley_sim::elevenlabs::{
    ElevenLabsSim, ElevenLabsSimConfig, RunningElevenLabsSim, ServerTools,
};
use parley_sim::fakes::calcom::{FakeCalcom, FakeCalcomConfig};
use parley_sim::fakes::graph::{FakeGraph, FakeGraphConfig};
use parley_sim::fakes::sheets::{
    sandbox_spreadsheet, FakeSheets, FakeSheetsConfig, SANDBOX_SERVICE_ACCOUNT,
};
use parley_sim::fakes::smtp::{FakeSmtp, FakeSmtpConfig, RunningSmtp};
use parley_sim::fakes::RunningFake;
use parley_sim::twilio::{RunningTwilioSim, TwilioSim, TwilioSimConfig};
use secrecy::ExposeSecret;
use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("telephony is misconfigured: {0}")]
    Telephony(#[from] TelephonyError),
    #[error("starting the sandbox simulators failed: {0}")]
    Start(std::io::Error),
}

/// What a node talks to: Twilio and ElevenLabs (real or simulated) and, in sandbox mode,
/// the simulators behind them, which the caller stops with [`Sandbox::stop`] after the
/// node.
pub struct Services {
    pub telephony: Telephony,
    pub sandbox: Option<Sandbox>,
}

/// The services for a node whose server listens at `bound`. An unset
/// `settings.public_base_url` becomes that address (callbacks must reach the port actually
/// bound, which may have been 0). In sandbox mode ([`Settings::sandbox`]) the simulators
/// are started and `settings` pointed at them; else the configured services are used.
pub async fn telephony(
    settings: &mut Settings,
    bound: SocketAddr,
) -> Result<Services, SandboxError> {
    if settings.public_base_url.is_none() {
        let host = if bound.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], bound.port()))
        } else {
            bound
        };
        settings.public_base_url = url::Url::parse(&format!("http://{host}")).ok();
    }
    if !settings.sandbox() {
        let telephony = Telephony::production(settings)?;
        return Ok(Services {
            telephony,
            sandbox: None,
        });
    }
    let sandbox = Sandbox::start(settings)
        .await
        .map_err(SandboxError::Start)?;
    let urls = sandbox.urls();
    tracing::info!(twilio = %urls.twilio, elevenlabs = %urls.elevenlabs, "sandbox mode: using the built-in simulators");
    match Telephony::sandbox_with(settings, &urls, &sandbox.credentials) {
        Ok(telephony) => Ok(Services {
            telephony,
            sandbox: Some(sandbox),
        }),
        Err(e) => {
            sandbox.stop().await;
            Err(e.into())
        }
    }
}

/// The running simulators; [`Sandbox::stop`] stops them.
pub struct Sandbox {
    pub twilio: RunningTwilioSim,
    pub elevenlabs: RunningElevenLabsSim,
    pub tools: ToolFakes,
    /// Google Sheets, when no Google credentials are configured: it serves
    /// [`parley_sim::fakes::sheets::SANDBOX_SPREADSHEET_ID`] for contact import.
    pub sheets: Option<RunningFake<FakeSheets>>,
    /// What Parley and the simulators sign and authenticate with: well-known on
    /// loopback, else random per data directory.
    pub credentials: SandboxCredentials,
}

/// The email template sandbox mode offers when none is configured; the simulated callee
/// who asks for details by email (+15550100012) gets it.
pub const SANDBOX_EMAIL_TEMPLATE: &str = "plan_details";

fn sandbox_email_template() -> EmailTemplate {
    EmailTemplate {
        subject: "Your {{plan}} details".into(),
        text: "Hello {{name}}, here are the details of the {{plan}}.".into(),
        html: Some("<p>Hello {{name}}, here are the details of the <b>{{plan}}</b>.</p>".into()),
    }
}

/// Where `transfer_to_human` sends sandbox calls unless a number is configured.
pub const SANDBOX_TRANSFER_NUMBER: &str = "+15550109999";

/// Fakes of the services the agent tools call, each started only when that service has
/// no credentials configured.
#[derive(Default)]
pub struct ToolFakes {
    pub calcom: Option<RunningFake<FakeCalcom>>,
    pub graph: Option<RunningFake<FakeGraph>>,
    pub smtp: Option<RunningSmtp>,
}

impl ToolFakes {
    /// Starts the fakes the settings lack credentials for and points the settings at them.
    async fn start(settings: &mut ToolSettings, addr: SocketAddr) -> std::io::Result<ToolFakes> {
        let mut fakes = ToolFakes::default();
        // The simulated carrier "connects" any number; this one names the sandbox person.
        settings
            .transfer
            .number
            .get_or_insert_with(|| SANDBOX_TRANSFER_NUMBER.to_owned());
        if settings.calcom.api_key.is_none() {
            let fake = FakeCalcom::spawn(FakeCalcomConfig::default(), addr).await?;
            let config = fake.state.config();
            settings.calcom.api_key = Some(config.api_key.clone().into());
            settings.calcom.event_type_id = Some(config.event_type_id);
            settings.calcom.api_base_url = url(&fake.base_url)?;
            fakes.calcom = Some(fake);
        }
        let email = &mut settings.email;
        if email.templates.is_empty() {
            email
                .templates
                .insert(SANDBOX_EMAIL_TEMPLATE.into(), sandbox_email_template());
        }
        if email.graph_client_secret.is_none() {
            let fake = FakeGraph::spawn(FakeGraphConfig::default(), addr).await?;
            let config = fake.state.config();
            email.graph_login_base_url = url(&fake.base_url)?;
            email.graph_api_base_url = url(&fake.base_url)?;
            email.graph_tenant_id = Some(config.tenant_id.clone());
            email.graph_client_id = Some(config.client_id.clone());
            email.graph_client_secret = Some(config.client_secret.clone().into());
            email.graph_sender = Some(config.sender.clone());
            fakes.graph = Some(fake);
        }
        if email.smtp_host.is_none() {
            let (user, password) = ("parley", "sandbox-smtp-password");
            let config = FakeSmtpConfig {
                credentials: Some((user.into(), password.into())),
            };
            let fake = FakeSmtp::spawn(config, addr).await?;
            email.smtp_host = Some(fake.addr.ip().to_string());
            email.smtp_port = fake.addr.port();
            email.smtp_tls = false;
            email.smtp_user = Some(user.into());
            email.smtp_password = Some(password.into());
            email.smtp_from = Some("Parley Sandbox <parley@sandbox.example>".into());
            fakes.smtp = Some(fake);
        }
        Ok(fakes)
    }

    async fn stop(self) {
        if let Some(fake) = self.calcom {
            fake.stop().await;
        }
        if let Some(fake) = self.graph {
            fake.stop().await;
        }
        if let Some(fake) = self.smtp {
            fake.stop().await;
        }
    }
}

/// The sandbox service account's key file, in the data directory (a new key each start).
const SANDBOX_KEY_FILE: &str = "sandbox-google-service-account.json";

/// Starts the Sheets fake unless Google credentials are configured. Parley reads and
/// writes it as a service account the sandbox spreadsheet is shared with as an editor,
/// so a sandbox campaign can write its results back.
async fn start_sheets(
    settings: &mut GoogleSettings,
    data_dir: &std::path::Path,
    addr: SocketAddr,
) -> std::io::Result<Option<RunningFake<FakeSheets>>> {
    if settings.api_key.is_some() || settings.service_account_key_file.is_some() {
        return Ok(None);
    }
    let fake = FakeSheets::spawn(FakeSheetsConfig::default(), addr).await?;
    fake.state.add_spreadsheet(sandbox_spreadsheet());
    let key = fake
        .state
        .create_service_account(SANDBOX_SERVICE_ACCOUNT, &format!("{}/token", fake.base_url));
    // A small file once at start: written in place.
    std::fs::create_dir_all(data_dir)?;
    let key_file = data_dir.join(SANDBOX_KEY_FILE);
    match std::fs::remove_file(&key_file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    parley_engine::private_files::create_private_file(&key_file, key.as_bytes())?;
    settings.service_account_key_file = Some(key_file);
    settings.sheets_api_base_url = url(&fake.base_url)?;
    Ok(Some(fake))
}

fn url(base: &str) -> std::io::Result<url::Url> {
    url::Url::parse(base).map_err(std::io::Error::other)
}

impl Sandbox {
    /// Starts both simulators. `settings.public_base_url` must already be the URL at
    /// which this Parley is reachable: the agent simulator posts its webhooks and calls
    /// its server tools there. Tools without a secret get a random one, which the agent
    /// simulator is given.
    pub async fn start(settings: &mut Settings) -> std::io::Result<Sandbox> {
        let credentials = SandboxCredentials::for_settings(settings)?;
        settings
            .tools
            .secrets
            .fill_missing(|| parley_engine::secrets::random_token().into());
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let tools = ToolFakes::start(&mut settings.tools, loopback).await?;
        let sheets =
            start_sheets(&mut settings.google, &settings.data_dir.clone(), loopback).await?;
        let speed = settings.sandbox.speed;
        let network_delay = parley_sim::net_delay::NetworkDelay::one_way(
            std::time::Duration::from_millis(settings.sandbox.network_delay_ms.into()),
        );
        let twilio = TwilioSim::spawn(
            TwilioSimConfig {
                account_sid: credentials.twilio_account_sid.clone(),
                auth_token: credentials.twilio_auth_token.expose_secret().to_owned(),
                speed,
                network_delay,
                ..TwilioSimConfig::default()
            },
            loopback,
        )
        .await?;
        let base = settings.public_base_url();
        let base = base.as_str().trim_end_matches('/');
        let webhook = format!("{base}/elevenlabs/webhook");
        let server_tools = ServerTools {
            base_url: format!("{base}/tools"),
            secrets: parley_engine::tools::NAMES
                .iter()
                .filter_map(|&name| {
                    let secret = settings.tools.secrets.get(name)?;
                    Some((name.to_owned(), secret.expose_secret().to_owned()))
                })
                .collect(),
        };
        let elevenlabs = ElevenLabsSim::spawn(
            ElevenLabsSimConfig {
                api_key: credentials.elevenlabs_api_key.expose_secret().to_owned(),
                webhook_url: Some(webhook),
                webhook_secret: credentials
                    .elevenlabs_webhook_secret
                    .expose_secret()
                    .to_owned(),
                server_tools: Some(server_tools),
                network_delay,
                ..ElevenLabsSimConfig::default()
            }
            .with_speed(speed),
            loopback,
        )
        .await?;
        Ok(Sandbox {
            twilio,
            elevenlabs,
            tools,
            sheets,
            credentials,
        })
    }

    pub async fn stop(self) {
        self.twilio.stop().await;
        self.elevenlabs.stop().await;
        self.tools.stop().await;
        if let Some(fake) = self.sheets {
            fake.stop().await;
        }
    }

    pub fn urls(&self) -> SimulatorUrls {
        SimulatorUrls {
            twilio: self.twilio.base_url.clone(),
            elevenlabs: self.elevenlabs.base_url.clone(),
        }
    }
}
