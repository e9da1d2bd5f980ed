//! Microsoft Graph `sendMail` with an app token from the OAuth2 client-credentials flow,
//! cached until shortly before it expires.
use super::{Email, EmailError};
use crate::oauth::{CachedToken, TokenResponse};
use crate::settings::EmailSettings;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

const SCOPE: &str = "https://graph.microsoft.com/.default";

pub struct Graph {
    http: reqwest::Client,
    login_base: String,
    api_base: String,
    tenant_id: String,
    client_id: String,
    client_secret: SecretString,
    sender: String,
    token: CachedToken,
}

impl Graph {
    /// `None` when the Graph settings are incomplete.
    pub fn new(settings: &EmailSettings, http: reqwest::Client) -> Option<Graph> {
        Some(Graph {
            http,
            login_base: base(&settings.graph_login_base_url),
            api_base: base(&settings.graph_api_base_url),
            tenant_id: settings.graph_tenant_id.clone()?,
            client_id: settings.graph_client_id.clone()?,
            client_secret: settings.graph_client_secret.clone()?,
            sender: settings.graph_sender.clone()?,
            token: CachedToken::default(),
        })
    }

    async fn token(&self) -> Result<SecretString, EmailError> {
        self.token.get_or_fetch(|| self.fetch_token()).await
    }

    async fn fetch_token(&self) -> Result<TokenResponse, EmailError> {
        let url = format!("{}/{}/oauth2/v2.0/token", self.login_base, self.tenant_id);
        let response = self
            .http
            .post(url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &self.client_id),
                ("client_secret", self.client_secret.expose_secret()),
                ("scope", SCOPE),
            ])
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(EmailError::Refused(format!(
                "token endpoint answered {status}: {text}"
            )));
        }
        Ok(response.json().await?)
    }

    pub async fn send(&self, email: &Email<'_>) -> Result<(), EmailError> {
        let token = self.token().await?;
        let (content_type, content) = match email.html {
            Some(html) => ("HTML", html),
            None => ("Text", email.text),
        };
        let body = json!({
            "message": {
                "subject": email.subject,
                "body": {"contentType": content_type, "content": content},
                "toRecipients": [{"emailAddress": {"address": email.to}}],
            },
            "saveToSentItems": true,
        });
        let url = format!("{}/v1.0/users/{}/sendMail", self.api_base, self.sender);
        let response = self
            .http
            .post(url)
            .bearer_auth(token.expose_secret())
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        if status.as_u16() == 401 {
            // Revoked or expired early: the next send fetches a new token.
            self.token.forget().await;
        }
        if status.as_u16() != 202 {
            let text = response.text().await.unwrap_or_default();
            return Err(EmailError::Refused(format!(
                "sendMail answered {status}: {text}"
            )));
        }
        Ok(())
    }
}

fn base(url: &url::Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}
