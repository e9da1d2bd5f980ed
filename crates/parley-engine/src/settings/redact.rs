//! `Debug` for the settings that hold secrets: secret values and URL passwords never
//! show.

use super::{ElevenLabsSettings, GoogleSettings, Settings, TwilioSettings};
use std::fmt;
use url::Url;

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
            .field("metrics", &self.metrics)
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
            .field(
                "sheets_requests_per_minute",
                &self.sheets_requests_per_minute,
            )
            .field("sheets_write_attempts", &self.sheets_write_attempts)
            .field("sheets_write_poll_ms", &self.sheets_write_poll_ms)
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
