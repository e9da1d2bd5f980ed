//! The `[tools]` section: the agent tools' secrets and the services they call.
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;
use url::Url;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ToolSettings {
    /// Base of the tool URLs `parley tools export` prints; default: `public_base_url`.
    pub public_base_url: Option<Url>,
    pub secrets: ToolSecrets,
    pub calcom: CalcomSettings,
    pub email: EmailSettings,
    pub transfer: TransferSettings,
}

/// The bearer secret each server tool (`POST /tools/{name}`) expects. A tool without
/// one refuses every server call (its client-tool path still works).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ToolSecrets {
    pub get_current_time: Option<SecretString>,
    pub schedule_consultation: Option<SecretString>,
    pub send_email: Option<SecretString>,
    pub opt_out: Option<SecretString>,
    pub schedule_callback: Option<SecretString>,
    pub transfer_to_human: Option<SecretString>,
}

impl ToolSecrets {
    /// The secret of `tool`, if it has one.
    pub fn get(&self, tool: &str) -> Option<&SecretString> {
        let (_, secret) = self.entries().into_iter().find(|(name, _)| *name == tool)?;
        secret.as_ref()
    }

    /// Gives every tool without a secret one made by `make` (sandbox mode).
    pub fn fill_missing(&mut self, mut make: impl FnMut() -> SecretString) {
        for secret in [
            &mut self.get_current_time,
            &mut self.schedule_consultation,
            &mut self.send_email,
            &mut self.opt_out,
            &mut self.schedule_callback,
            &mut self.transfer_to_human,
        ] {
            secret.get_or_insert_with(&mut make);
        }
    }

    fn entries(&self) -> [(&'static str, &Option<SecretString>); 6] {
        [
            ("get_current_time", &self.get_current_time),
            ("schedule_consultation", &self.schedule_consultation),
            ("send_email", &self.send_email),
            ("opt_out", &self.opt_out),
            ("schedule_callback", &self.schedule_callback),
            ("transfer_to_human", &self.transfer_to_human),
        ]
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct CalcomSettings {
    /// Cal.com API key (`cal_live_...`); without it, sandbox mode uses the built-in fake.
    pub api_key: Option<SecretString>,
    pub api_base_url: Url,
    /// The event type consultations are booked as.
    pub event_type_id: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailTransport {
    /// Microsoft Graph `sendMail`, OAuth2 client credentials.
    #[default]
    Graph,
    Smtp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct EmailSettings {
    pub transport: EmailTransport,
    /// Where OAuth2 tokens come from (`/{tenant}/oauth2/v2.0/token` below it).
    pub graph_login_base_url: Url,
    pub graph_api_base_url: Url,
    pub graph_tenant_id: Option<String>,
    pub graph_client_id: Option<String>,
    pub graph_client_secret: Option<SecretString>,
    /// Mailbox (user id or address) the mail is sent from.
    pub graph_sender: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    /// STARTTLS is required when true; plain SMTP (local relays, the sandbox) when false.
    pub smtp_tls: bool,
    pub smtp_user: Option<String>,
    pub smtp_password: Option<SecretString>,
    /// The From address, e.g. `Parley <calls@example.com>`.
    pub smtp_from: Option<String>,
    /// The messages `send_email` may send, by name. The agent picks one and fills its
    /// `{{field}}` placeholders; it never writes the subject or HTML itself.
    pub templates: BTreeMap<String, EmailTemplate>,
    /// Emails one call may send at most.
    pub max_per_call: u32,
}

/// One message the business wrote. `{{name}}` placeholders are filled by the agent:
/// verbatim in `text`, on one line in `subject`, HTML-escaped in `html`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailTemplate {
    pub subject: String,
    pub text: String,
    /// An HTML version, sent alongside the text when given.
    #[serde(default)]
    pub html: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct TransferSettings {
    /// Where `transfer_to_human` sends the call (E.164).
    pub number: Option<String>,
}

impl Default for CalcomSettings {
    fn default() -> Self {
        CalcomSettings {
            api_key: None,
            api_base_url: Url::parse("https://api.cal.com").expect("valid default url"),
            event_type_id: None,
        }
    }
}

impl Default for EmailSettings {
    fn default() -> Self {
        EmailSettings {
            transport: EmailTransport::Graph,
            graph_login_base_url: Url::parse("https://login.microsoftonline.com")
                .expect("valid default url"),
            graph_api_base_url: Url::parse("https://graph.microsoft.com")
                .expect("valid default url"),
            graph_tenant_id: None,
            graph_client_id: None,
            graph_client_secret: None,
            graph_sender: None,
            smtp_host: None,
            smtp_port: 587,
            smtp_tls: true,
            smtp_user: None,
            smtp_password: None,
            smtp_from: None,
            templates: BTreeMap::new(),
            max_per_call: 2,
        }
    }
}
