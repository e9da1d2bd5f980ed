//! The `[http]` section: how long and how many connections and WebSockets may hold a
//! node's resources before they have proved they are worth it, and which proxies in
//! front of Parley are trusted to say who the client is.
use ipnet::IpNet;
use serde::Deserialize;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    /// A client must have sent a request's whole head (request line and headers) this long
    /// after connecting, or after the first byte of a later request on the connection.
    pub header_read_timeout_secs: f64,
    /// The longest wait for the next piece of a request body.
    pub request_body_timeout_secs: f64,
    /// How long a kept-alive connection may sit idle between requests.
    pub keep_alive_timeout_secs: f64,
    /// Open HTTP connections; beyond it new ones are refused. WebSockets stop counting
    /// once upgraded (their own limits below bound them).
    pub max_connections: usize,
    /// Media-stream WebSockets (`/twilio/media`) that have not yet presented a valid
    /// `start` message; beyond it new ones are refused with 503.
    pub media_max_unauthenticated: usize,
    /// How long a new media stream has to send its `start` message.
    pub media_start_timeout_secs: f64,
    /// Live-events WebSockets (`/api/v1/events`) open at once, in total.
    pub events_max_sockets: usize,
    /// Live-events WebSockets open at once per credential (one session or API key).
    pub events_max_sockets_per_credential: usize,
    /// How often a live-events socket checks that its credential still holds.
    pub events_recheck_secs: f64,
    /// Load balancers and reverse proxies (IP addresses or CIDR ranges) whose
    /// `X-Forwarded-For` is believed. Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            header_read_timeout_secs: 10.0,
            request_body_timeout_secs: 30.0,
            keep_alive_timeout_secs: 75.0,
            max_connections: 1024,
            media_max_unauthenticated: 64,
            media_start_timeout_secs: 10.0,
            events_max_sockets: 512,
            events_max_sockets_per_credential: 16,
            events_recheck_secs: 10.0,
            trusted_proxies: Vec::new(),
        }
    }
}

fn secs(value: f64) -> Duration {
    Duration::from_secs_f64(value)
}

impl HttpSettings {
    /// The trusted proxies as networks (a single address is a /32 or /128).
    pub fn trusted_proxy_networks(&self) -> Result<Vec<IpNet>, String> {
        self.trusted_proxies
            .iter()
            .map(|entry| parse_network(entry))
            .collect()
    }

    pub fn header_read_timeout(&self) -> Duration {
        secs(self.header_read_timeout_secs)
    }

    pub fn request_body_timeout(&self) -> Duration {
        secs(self.request_body_timeout_secs)
    }

    pub fn keep_alive_timeout(&self) -> Duration {
        secs(self.keep_alive_timeout_secs)
    }

    pub fn media_start_timeout(&self) -> Duration {
        secs(self.media_start_timeout_secs)
    }

    pub fn events_recheck(&self) -> Duration {
        secs(self.events_recheck_secs)
    }

    /// Checks serde cannot express: `(key, message)` of the first bad value.
    pub(super) fn check(&self) -> Result<(), (&'static str, &'static str)> {
        let durations = [
            (
                "http.header_read_timeout_secs",
                self.header_read_timeout_secs,
            ),
            (
                "http.request_body_timeout_secs",
                self.request_body_timeout_secs,
            ),
            ("http.keep_alive_timeout_secs", self.keep_alive_timeout_secs),
            (
                "http.media_start_timeout_secs",
                self.media_start_timeout_secs,
            ),
        ];
        for (key, value) in durations {
            if !(value.is_finite() && (0.01..=3600.0).contains(&value)) {
                return Err((key, "must be between 0.01 and 3600 seconds"));
            }
        }
        // The issue this closes: a revoked credential must stop within 10 seconds.
        let recheck = self.events_recheck_secs;
        if !(recheck.is_finite() && (0.01..=10.0).contains(&recheck)) {
            return Err((
                "http.events_recheck_secs",
                "must be between 0.01 and 10 seconds",
            ));
        }
        let counts = [
            ("http.max_connections", self.max_connections),
            (
                "http.media_max_unauthenticated",
                self.media_max_unauthenticated,
            ),
            ("http.events_max_sockets", self.events_max_sockets),
            (
                "http.events_max_sockets_per_credential",
                self.events_max_sockets_per_credential,
            ),
        ];
        for (key, value) in counts {
            if !(1..=1_000_000).contains(&value) {
                return Err((key, "must be between 1 and 1000000"));
            }
        }
        Ok(())
    }
}

fn parse_network(entry: &str) -> Result<IpNet, String> {
    let entry = entry.trim();
    if let Ok(net) = entry.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    entry
        .parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("`{entry}` is neither an IP address nor a CIDR range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_ranges_parse() {
        let settings = HttpSettings {
            trusted_proxies: vec![
                "10.0.0.0/8".into(),
                " 192.168.1.7 ".into(),
                "fd00::/8".into(),
                "::1".into(),
                "172.16.5.9/12".into(),
            ],
            ..HttpSettings::default()
        };
        let nets = settings.trusted_proxy_networks().unwrap();
        let shown: Vec<String> = nets.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "10.0.0.0/8",
                "192.168.1.7/32",
                "fd00::/8",
                "::1/128",
                "172.16.0.0/12"
            ]
        );
    }

    #[test]
    fn garbage_is_refused_with_the_entry() {
        let settings = HttpSettings {
            trusted_proxies: vec!["10.0.0.0/33".into()],
            ..HttpSettings::default()
        };
        let err = settings.trusted_proxy_networks().unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
        let settings = HttpSettings {
            trusted_proxies: vec!["lb.internal".into()],
            ..HttpSettings::default()
        };
        assert!(settings.trusted_proxy_networks().is_err());
    }
}
