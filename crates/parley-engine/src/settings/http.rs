//! The HTTP edge: which proxies in front of Parley are trusted to say who the client is.
use ipnet::IpNet;
use serde::Deserialize;
use std::net::IpAddr;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    /// Load balancers and reverse proxies (IP addresses or CIDR ranges) whose
    /// `X-Forwarded-For` is believed. Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
}

impl HttpSettings {
    /// The trusted proxies as networks (a single address is a /32 or /128).
    pub fn trusted_proxy_networks(&self) -> Result<Vec<IpNet>, String> {
        self.trusted_proxies
            .iter()
            .map(|entry| parse_network(entry))
            .collect()
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
        };
        let err = settings.trusted_proxy_networks().unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
        let settings = HttpSettings {
            trusted_proxies: vec!["lb.internal".into()],
        };
        assert!(settings.trusted_proxy_networks().is_err());
    }
}
