//! SMTP with `lettre`: a multipart/alternative message (text and, when given, HTML).
use super::{Email, EmailError};
use crate::settings::EmailSettings;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Smtp {
    /// `None` when the SMTP settings are incomplete or unusable.
    pub fn new(settings: &EmailSettings) -> Option<Smtp> {
        let host = settings.smtp_host.as_deref()?;
        let from = settings.smtp_from.as_deref()?.parse().ok()?;
        let mut builder = if settings.smtp_tls {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).ok()?
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        }
        .port(settings.smtp_port)
        .timeout(Some(TIMEOUT));
        if let (Some(user), Some(password)) = (&settings.smtp_user, &settings.smtp_password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Some(Smtp {
            transport: builder.build(),
            from,
        })
    }

    pub async fn send(&self, email: &Email<'_>) -> Result<(), EmailError> {
        let to: Mailbox = email.to.parse().map_err(|_| EmailError::BadAddress)?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject);
        let message = match email.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                email.text.to_owned(),
                html.to_owned(),
            )),
            None => builder.singlepart(SinglePart::plain(email.text.to_owned())),
        }
        .map_err(|e| EmailError::Refused(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map_err(|e| EmailError::Refused(e.to_string()))?;
        Ok(())
    }
}
