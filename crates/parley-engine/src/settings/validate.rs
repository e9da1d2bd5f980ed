//! Checks on loaded settings that serde's types cannot express.

use super::{Settings, SettingsError};

impl Settings {
    /// Checks that serde's types cannot express.
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
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
        for (key, value) in [
            (
                "google.sheets_requests_per_minute",
                u64::from(self.google.sheets_requests_per_minute),
            ),
            (
                "google.sheets_write_attempts",
                u64::from(self.google.sheets_write_attempts),
            ),
            (
                "google.sheets_write_poll_ms",
                self.google.sheets_write_poll_ms,
            ),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
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
        if !(1..=10_000).contains(&self.dialer.max_concurrent_calls) {
            return Err(invalid(
                "dialer.max_concurrent_calls",
                "must be between 1 and 10000",
            ));
        }
        if !(self.sandbox.speed >= 0.1 && self.sandbox.speed <= 100.0) {
            return Err(invalid("sandbox.speed", "must be between 0.1 and 100"));
        }
        if self.sandbox.network_delay_ms > 10_000 {
            return Err(invalid("sandbox.network_delay_ms", "must be at most 10000"));
        }
        if self.calls.agent_early_connect_secs > 600 {
            return Err(invalid(
                "calls.agent_early_connect_secs",
                "must be at most 600",
            ));
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
