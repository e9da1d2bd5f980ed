//! The `[metrics]` section: where Prometheus scrapes `/metrics`.
use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;

/// `/metrics` is served on a listener of its own by default: the main listener faces the
/// internet (Twilio must reach it), and call volumes, error rates and queue depths are
/// nobody else's business. A private address needs no secret in Prometheus' config. Where
/// only one port can be exposed, `token` also serves it on the main listener, behind
/// `Authorization: Bearer <token>`.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct MetricsSettings {
    /// Whether the metrics listener runs.
    pub enabled: bool,
    /// Address of the metrics listener.
    pub listen: SocketAddr,
    /// When set, the main listener also serves `/metrics` to requests bearing it.
    pub token: Option<SecretString>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            token: None,
        }
    }
}

impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("enabled", &self.enabled)
            .field("listen", &self.listen)
            .field("token", &self.token)
            .finish()
    }
}
