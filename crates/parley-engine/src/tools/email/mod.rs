//! `send_email`: sends the callee one of the business's templates from the configured
//! sender, through Microsoft Graph (`sendMail`, OAuth2 client credentials) or SMTP
//! (`tools.email.transport`). It cannot be turned against people: the recipient is the
//! contact's address on file or the one address the callee gives during the call, the
//! content is a configured template (the agent fills named fields, escaped), and a call
//! sends at most `tools.email.max_per_call` emails.
mod graph;
mod smtp;
mod template;

use super::params::{optional_str, required_str};
use super::{Tool, ToolContext, ToolError, ToolResult};
use crate::calls::AfterCommit;
use crate::settings::{EmailSettings, EmailTemplate, EmailTransport};
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

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
    pub(crate) templates: Arc<BTreeMap<String, EmailTemplate>>,
    pub(crate) max_per_call: u32,
    /// Calls with an email being sent right now: one at a time per call, so that two
    /// sent at once cannot both pass the cap or the one-new-address rule.
    pub(crate) sending: Arc<Mutex<HashSet<i64>>>,
}

impl SendEmail {
    pub(crate) fn new(
        engine: std::sync::Weak<crate::Shared>,
        settings: &EmailSettings,
    ) -> SendEmail {
        SendEmail {
            engine,
            mailer: Arc::new(Mailer::new(settings)),
            templates: Arc::new(settings.templates.clone()),
            max_per_call: settings.max_per_call,
            sending: Arc::default(),
        }
    }
}

/// Where a recipient came from, as recorded on the call's `email_sent` event.
const ON_FILE: &str = "on_file";
const GIVEN_BY_CALLEE: &str = "given_by_callee";

/// Holds a call's place in [`SendEmail::sending`] until dropped.
struct Sending {
    calls: Arc<Mutex<HashSet<i64>>>,
    call_id: i64,
}

impl Sending {
    fn claim(calls: &Arc<Mutex<HashSet<i64>>>, call_id: i64) -> Option<Sending> {
        let mut set = calls.lock().unwrap_or_else(|e| e.into_inner());
        set.insert(call_id).then(|| Sending {
            calls: calls.clone(),
            call_id,
        })
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        let mut set = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        set.remove(&self.call_id);
    }
}

fn is_address(s: &str) -> bool {
    s.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace)
    })
}

impl Tool for SendEmail {
    fn name(&self) -> &'static str {
        "send_email"
    }

    fn description(&self) -> &'static str {
        "Email the callee one of the business's prepared messages (pick it by `template` and \
         fill its `fields` with short plain text). It goes to the callee's address on file; \
         only if they give another address during the call, pass it as `to` after spelling \
         it back. At most a few emails per call."
    }

    fn parameters(&self) -> Value {
        let mut fields = Map::new();
        let mut described = Vec::new();
        for (name, t) in self.templates.iter() {
            let names = template::fields(t).unwrap_or_default();
            for field in &names {
                fields.insert(
                    field.clone(),
                    json!({"type": "string", "description": format!("Plain text for {{{{{field}}}}}")}),
                );
            }
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            described.push(format!("`{name}` (fields: {})", names.join(", ")));
        }
        let mut template = json!({
            "type": "string",
            "description": if described.is_empty() {
                "The message to send (none is configured: tools.email.templates)".to_owned()
            } else {
                format!("The message to send: {}", described.join("; "))
            },
        });
        if !self.templates.is_empty() {
            template["enum"] = json!(self.templates.keys().collect::<Vec<_>>());
        }
        json!({
            "type": "object",
            "properties": {
                "template": template,
                "fields": {
                    "type": "object",
                    "description": "The chosen template's fields, each a short plain-text value",
                    "properties": fields,
                },
                "to": {
                    "type": "string",
                    "description": "Only an address the callee gave during this call; omit to use the address on file"
                }
            },
            "required": ["template", "fields"]
        })
    }

    fn call(&self, ctx: ToolContext, parameters: Value) -> BoxFuture<'static, ToolResult> {
        let engine = self.engine.clone();
        let mailer = self.mailer.clone();
        let templates = self.templates.clone();
        let max_per_call = self.max_per_call;
        let sending = self.sending.clone();
        Box::pin(async move {
            let engine = crate::Engine(engine.upgrade().ok_or("Parley is shutting down")?);
            let call_id = ctx.require_call()?;
            if templates.is_empty() {
                return Err(ToolError::Failed(
                    "No email can be sent: the business has not set up any email messages. \
                     Tell the callee someone will follow up."
                        .into(),
                ));
            }
            let name = required_str(&parameters, "template", "name the message to send")?;
            let template = templates.get(name).ok_or_else(|| {
                let known: Vec<&str> = templates.keys().map(String::as_str).collect();
                ToolError::invalid(
                    "template",
                    format!("no message is named `{name}`; known: {}", known.join(", ")),
                )
            })?;
            let values = match parameters.get("fields") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(values)) => values.clone(),
                Some(_) => return Err(ToolError::invalid("fields", "must be an object")),
            };
            let rendered = template::render(template, &values)
                .map_err(|e| ToolError::invalid("fields", e.0))?;
            let given = optional_str(&parameters, "to")?;
            if given.is_some_and(|to| !is_address(to)) {
                return Err(ToolError::invalid("to", "is not an email address"));
            }

            let _sending = Sending::claim(&sending, call_id).ok_or_else(|| {
                ToolError::Failed(
                    "Another email for this call is being sent; try again in a moment.".into(),
                )
            })?;
            let store = &engine.store;
            let err = |e: parley_store::StoreError| ToolError::Failed(e.to_string());
            let call = store.get_call(call_id).await.map_err(err)?;
            let on_file = match call.contact_id {
                Some(id) => store.get_contact(id).await.map_err(err)?.email,
                None => None,
            };
            let sent: Vec<Value> = store
                .call_events(call_id)
                .await
                .map_err(err)?
                .into_iter()
                .filter(|e| e.kind == EMAIL_EVENT)
                .map(|e| e.data)
                .collect();
            if sent.len() >= max_per_call as usize {
                return Err(ToolError::Failed(format!(
                    "No more emails can be sent from this call: {} already went out, the most \
                     allowed. Tell the callee someone will follow up.",
                    sent.len()
                )));
            }
            let (to, source) =
                match (given, on_file.as_deref()) {
                    (None, Some(on_file)) => (on_file.to_owned(), ON_FILE),
                    (None, None) => return Err(ToolError::Failed(
                        "There is no email address on file for this callee. Ask for one, spell \
                         it back, and pass it as `to`."
                            .into(),
                    )),
                    (Some(to), Some(on_file)) if to.eq_ignore_ascii_case(on_file) => {
                        (on_file.to_owned(), ON_FILE)
                    }
                    (Some(to), _) => {
                        let earlier = sent.iter().find_map(|data| {
                            (data["source"] == GIVEN_BY_CALLEE)
                                .then(|| data["to"].as_str())
                                .flatten()
                        });
                        match earlier {
                            Some(earlier) if !earlier.eq_ignore_ascii_case(to) => {
                                return Err(ToolError::Failed(format!(
                                    "Emails from this call may go only to the address on file or \
                                 the one address the callee gave earlier ({earlier}); {to} is \
                                 neither."
                                )))
                            }
                            _ => (to.to_owned(), GIVEN_BY_CALLEE),
                        }
                    }
                };
            let email = Email {
                to: &to,
                subject: &rendered.subject,
                text: &rendered.text,
                html: rendered.html.as_deref(),
            };
            if let Err(e) = mailer.send(&email).await {
                tracing::warn!(call_id, error = %e, to = %masked(&to), "sending an email failed");
                return Err(ToolError::Failed(
                    "The email could not be sent right now; tell the callee it will follow later."
                        .into(),
                ));
            }
            tracing::info!(call_id, to = %masked(&to), template = name, "email sent");
            // The recipient, and whether the callee gave it, stay on the call's record.
            let data = json!({ "to": to, "source": source, "template": name, "subject": rendered.subject });
            let answer = json!(format!("Email sent to {to}."));
            let mut tx = store.begin().await.map_err(err)?;
            tx.add_call_event(call_id, EMAIL_EVENT, None, &data)
                .await
                .map_err(err)?;
            engine
                .commit_tool(tx, AfterCommit::default(), &ctx, &answer)
                .await
                .map_err(err)?;
            Ok(answer)
        })
    }
}

/// Checks a configured template (at startup): its name and its placeholders.
pub fn check_template(name: &str, template: &EmailTemplate) -> Result<(), String> {
    let valid_name =
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return Err(format!("template name `{name}`: use letters, digits and _"));
    }
    template::fields(template)
        .map(|_| ())
        .map_err(|e| format!("template `{name}`: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks_addresses_for_logs() {
        assert_eq!(super::masked("ada@example.com"), "a***@example.com");
        assert_eq!(super::masked("nonsense"), "***");
    }
}
