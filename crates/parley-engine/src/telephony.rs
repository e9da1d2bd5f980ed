//! The carrier and agent services Parley talks to: real Twilio and ElevenLabs, or the
//! built-in simulators in sandbox mode. Everything else is unaware of the difference.
use crate::settings::Settings;
use parley_elevenlabs::ElevenLabsClient;
use parley_twilio::TwilioClient;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::sandbox_secrets::SandboxCredentials;

/// Credentials used with the built-in simulators.
pub mod sandbox_credentials {
    pub const TWILIO_ACCOUNT_SID: &str = "AC00000000000000000000000000000000";
    pub const TWILIO_AUTH_TOKEN: &str = "sandbox-auth-token";
    pub const ELEVENLABS_API_KEY: &str = "sandbox-xi-api-key";
    pub const ELEVENLABS_WEBHOOK_SECRET: &str = "sandbox-webhook-secret";
    pub const CALLER_ID: &str = "+15005550006";
    pub const AGENT_ID: &str = "sandbox-agent";
}

#[derive(Debug, thiserror::Error)]
pub enum TelephonyError {
    #[error("Twilio is not configured: set twilio.account_sid and twilio.auth_token")]
    TwilioMissing,
    #[error("ElevenLabs is not configured: set elevenlabs.api_key")]
    ElevenLabsMissing,
    #[error("invalid ElevenLabs base URL: {0}")]
    ElevenLabsUrl(String),
}

/// Where the services are and how to authenticate with them.
#[derive(Clone)]
pub struct Telephony {
    pub twilio: TwilioClient,
    /// Also the key Twilio signs its webhooks with.
    pub twilio_auth_token: SecretString,
    pub elevenlabs: ElevenLabsClient,
    pub elevenlabs_webhook_secret: Option<SecretString>,
    /// Base for the URLs Twilio and ElevenLabs call back (TwiML, callbacks, media).
    pub public_base: Url,
    pub default_caller_id: Option<String>,
    pub default_agent_id: Option<String>,
    pub sandbox: bool,
}

/// Base URLs of the running simulators (sandbox mode).
#[derive(Debug, Clone)]
pub struct SimulatorUrls {
    pub twilio: String,
    pub elevenlabs: String,
}

impl SimulatorUrls {
    /// Services that are not there (a closed local port): every request fails to connect.
    /// For tests of what must happen without them.
    pub fn unreachable() -> SimulatorUrls {
        SimulatorUrls {
            twilio: "http://127.0.0.1:9".into(),
            elevenlabs: "http://127.0.0.1:9".into(),
        }
    }
}

impl Telephony {
    /// The real services, as configured.
    pub fn production(settings: &Settings) -> Result<Telephony, TelephonyError> {
        let t = &settings.twilio;
        let (Some(sid), Some(token)) = (&t.account_sid, &t.auth_token) else {
            return Err(TelephonyError::TwilioMissing);
        };
        let key = settings
            .elevenlabs
            .api_key
            .clone()
            .ok_or(TelephonyError::ElevenLabsMissing)?;
        Self::build(
            settings,
            sid,
            token.clone(),
            t.api_base_url.as_str(),
            key,
            settings.elevenlabs.api_base_url.as_str(),
            settings.elevenlabs.webhook_secret.clone(),
            false,
        )
    }

    /// The simulators at `urls`, with the well-known sandbox credentials.
    pub fn sandbox(settings: &Settings, urls: &SimulatorUrls) -> Result<Telephony, TelephonyError> {
        Self::sandbox_with(settings, urls, &SandboxCredentials::well_known())
    }

    /// The simulators at `urls`, with the credentials they were started with.
    pub fn sandbox_with(
        settings: &Settings,
        urls: &SimulatorUrls,
        credentials: &SandboxCredentials,
    ) -> Result<Telephony, TelephonyError> {
        use sandbox_credentials as c;
        let mut t = Self::build(
            settings,
            &credentials.twilio_account_sid,
            credentials.twilio_auth_token.clone(),
            &urls.twilio,
            credentials.elevenlabs_api_key.clone(),
            &urls.elevenlabs,
            Some(credentials.elevenlabs_webhook_secret.clone()),
            true,
        )?;
        t.default_caller_id
            .get_or_insert_with(|| c::CALLER_ID.to_string());
        t.default_agent_id
            .get_or_insert_with(|| c::AGENT_ID.to_string());
        Ok(t)
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        settings: &Settings,
        sid: &str,
        token: SecretString,
        twilio_base: &str,
        key: SecretString,
        elevenlabs_base: &str,
        webhook_secret: Option<SecretString>,
        sandbox: bool,
    ) -> Result<Telephony, TelephonyError> {
        let http = reqwest::Client::builder()
            .pool_idle_timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        let twilio = TwilioClient::new(sid, token.clone())
            .with_base_url(twilio_base.trim_end_matches('/'))
            .with_http_client(http.clone());
        let elevenlabs = ElevenLabsClient::new(key)
            .with_base_url(elevenlabs_base)
            .map_err(|e| TelephonyError::ElevenLabsUrl(e.to_string()))?
            .with_http_client(http);
        Ok(Telephony {
            twilio,
            twilio_auth_token: token,
            elevenlabs,
            elevenlabs_webhook_secret: webhook_secret,
            public_base: settings.public_base_url(),
            default_caller_id: settings.twilio.caller_id.clone(),
            default_agent_id: settings.elevenlabs.agent_id.clone(),
            sandbox,
        })
    }

    /// An absolute URL on this server, for Twilio and ElevenLabs to call.
    pub fn public_url(&self, path: &str) -> String {
        let base = self.public_base.as_str().trim_end_matches('/');
        format!("{base}{path}")
    }

    /// The media-stream WebSocket URL (ws/wss following the public base's scheme).
    pub fn media_url(&self) -> String {
        let http = self.public_url("/twilio/media");
        match http.strip_prefix("https://") {
            Some(rest) => format!("wss://{rest}"),
            None => format!("ws://{}", http.trim_start_matches("http://")),
        }
    }

    /// The media-stream URL naming its call (`/twilio/media/{call_id}`), so the stream's
    /// handshake says which call it is for before its `start` does.
    pub fn call_media_url(&self, call_id: i64) -> String {
        format!("{}/{call_id}", self.media_url())
    }

    pub fn twilio_token(&self) -> &str {
        self.twilio_auth_token.expose_secret()
    }
}
