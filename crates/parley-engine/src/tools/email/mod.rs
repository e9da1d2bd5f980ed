//! `send_email`: sends the callee an email from the configured sender, through Microsoft
//! Graph (`sendMail`, OAuth2 client credentials) or SMTP (`tools.email.transport`).
mod graph;
mod smtp;

use super::params::{optional_str, required_str};
use super::{Tool, ToolContext, ToolError, ToolResult};
use crate::settings::{EmailSettings, EmailTransport};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use std::sync::Arc;

/// Call event recording a sent email.
pub const EMAIL_EVENT: &str = "email_sent";

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("email is not configured for the {0:?} transport")]
    NotConfigured(EmailTransport),
    #[error("the recipient is not an email address")]
    BadAddress,
    #[error("the mail service could not be reached: {0}")]
    Unreachable(#[from] reqwest::Error),
    #[error("the mail service refused: {0}")]
    Refused(String),
}

/// One message to send.
pub struct Email<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: Option<&'a str>,
}

pub enum Mailer {
    Graph(graph::Graph),
    Smtp(smtp::Smtp),
    Unconfigured(EmailTransport),
}

impl Mailer {
    pub fn new(settings: &EmailSettings) -> Mailer {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        let mailer = match settings.transport {
            EmailTransport::Graph => graph::Graph::new(settings, http).map(Mailer::Graph),
            EmailTransport::Smtp => smtp::Smtp::new(settings).map(Mailer::Smtp),
        };
        mailer.unwrap_or(Mailer::Unconfigured(settings.transport))
    }

    pub async fn send(&self, email: &Email<'_>) -> Result<(), EmailError> {
        match self {
            Mailer::Graph(graph) => graph.send(email).await,
            Mailer::Smtp(smtp) => smtp.send(email).await,
            Mailer::Unconfigured(transport) => Err(EmailError::NotConfigured(*transport)),
        }
    }
}

/// `a***@example.com`, for logs.
pub(crate) fn masked(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            format!("{}***@{domain}", local.chars().next().unwrap_or('*'))
        }
        None => "***".to_owned(),
    }
}

pub struct SendEmail {
    pub(crate) engine: std::sync::Weak<crate::Shared>,
    pub(crate) mailer: Arc<Mailer>,
}

impl Tool for SendEmail {
    fn name(&self) -> &'static str {
        "send_email"
    }

    fn description(&self) -> &'static str {
        "Email the callee, e.g. the details they asked for. Confirm the address with them \
         first (spell it back)."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "to": {"type": "string", "description": "The callee's email address"},
                "subject": {"type": "string", "description": "Subject line"},
                "text": {"type": "string", "description": "The message as plain text"},
                "html": {"type": "string", "description": "The same message as HTML, if formatting helps"}
            },
            "required": ["to", "subject", "text"]
        })
    }

    fn call(&self, ctx: ToolContext, parameters: Value) -> BoxFuture<'static, ToolResult> {
        let engine = self.engine.clone();
        let mailer = self.mailer.clone();
        Box::pin(async move {
            let engine = crate::Engine(engine.upgrade().ok_or("Parley is shutting down")?);
            let to = required_str(&parameters, "to", "an email address is needed")?;
            let valid = to.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !to.contains(char::is_whitespace)
            });
            if !valid {
                return Err(ToolError::invalid("to", "is not an email address"));
            }
            let email = Email {
                to,
                subject: required_str(&parameters, "subject", "a subject is needed")?,
                text: required_str(&parameters, "text", "the message text is needed")?,
                html: optional_str(&parameters, "html")?,
            };
            if let Err(e) = mailer.send(&email).await {
                tracing::warn!(error = %e, to = %masked(to), "sending an email failed");
                return Err(ToolError::Failed(
                    "The email could not be sent right now; tell the callee it will follow later."
                        .into(),
                ));
            }
            tracing::info!(call_id = ctx.call_id, to = %masked(to), "email sent");
            if let Some(call_id) = ctx.call_id {
                let data = json!({ "to": to, "subject": email.subject });
                engine
                    .store
                    .add_call_event(call_id, EMAIL_EVENT, None, &data)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(json!(format!("Email sent to {to}.")))
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks_addresses_for_logs() {
        assert_eq!(super::masked("ada@example.com"), "a***@example.com");
        assert_eq!(super::masked("nonsense"), "***");
    }
}
