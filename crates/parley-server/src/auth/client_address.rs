//! Who the client is, for rate limits: the TCP peer, or behind trusted proxies the
//! rightmost `X-Forwarded-For` hop that is not one of them.
use axum::http::HeaderMap;
use ipnet::{IpNet, Ipv6Net};
use std::net::IpAddr;

const FORWARDED_FOR: &str = "x-forwarded-for";
/// Hops looked at, from the right; a chain of proxies longer than this is not plausible,
/// and the header is attacker-controlled to the left of the first untrusted hop.
const MAX_HOPS: usize = 32;

#[derive(Debug, Clone, Default)]
pub struct ClientAddresses {
    trusted: Vec<IpNet>,
}

impl ClientAddresses {
    pub fn new(trusted: Vec<IpNet>) -> Self {
        ClientAddresses { trusted }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client's address. Each trusted proxy appends the address it was reached from,
    /// so reading from the right, the first address that is not a trusted proxy is the
    /// client; anything further left was written by the client itself.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.is_trusted(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev().take(MAX_HOPS) {
            // Garbage can only come from the client's side of the chain: stop at the
            // last address a trusted proxy vouched for.
            let Some(ip) = parse_hop(hop) else {
                break;
            };
            client = ip;
            if !self.is_trusted(ip) {
                break;
            }
        }
        client
    }
}

/// `203.0.113.7`, `2001:db8::1`, and the forms with a port some proxies write
/// (`203.0.113.7:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|addr| addr.ip().to_canonical())
}

/// The key an address is limited under. One IPv6 subscriber usually holds a whole /64
/// and can pick any address in it, so IPv6 addresses count per /64.
pub fn limiter_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => Ipv6Net::new(v6, 64)
            .map(|net| net.trunc().to_string())
            .unwrap_or_else(|_| v6.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(FORWARDED_FOR, v.parse().unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn behind(trusted: &[&str]) -> ClientAddresses {
        ClientAddresses::new(trusted.iter().map(|t| t.parse().unwrap()).collect())
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = ClientAddresses::default();
        let forged = headers(&["198.51.100.1"]);
        assert_eq!(
            none.client_ip(ip("203.0.113.9"), &forged),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_name_another_client() {
        let lb = behind(&["10.0.0.0/8"]);
        let forged = headers(&["198.51.100.1"]);
        assert_eq!(lb.client_ip(ip("203.0.113.9"), &forged), ip("203.0.113.9"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let lb = behind(&["10.0.0.0/8", "192.0.2.10/32"]);
        // The client forged the first entry; the balancer appended the real address,
        // then an inner proxy appended the balancer's.
        let chain = headers(&["198.51.100.1, 203.0.113.7", "192.0.2.10"]);
        assert_eq!(lb.client_ip(ip("10.1.2.3"), &chain), ip("203.0.113.7"));
        let with_ports = headers(&["203.0.113.7:4711, [2001:db8::5]:443"]);
        assert_eq!(lb.client_ip(ip("10.1.2.3"), &with_ports), ip("2001:db8::5"));
    }

    #[test]
    fn garbage_or_missing_hops_stop_at_the_last_vouched_address() {
        let lb = behind(&["10.0.0.0/8"]);
        assert_eq!(
            lb.client_ip(ip("10.1.2.3"), &HeaderMap::new()),
            ip("10.1.2.3")
        );
        let garbage = headers(&["203.0.113.7, not-an-ip, 10.9.9.9"]);
        assert_eq!(lb.client_ip(ip("10.1.2.3"), &garbage), ip("10.9.9.9"));
        let mapped = headers(&["::ffff:203.0.113.7"]);
        assert_eq!(
            lb.client_ip(ip("::ffff:10.1.2.3"), &mapped),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn ipv6_clients_share_a_key_per_64() {
        assert_eq!(limiter_key(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(
            limiter_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            limiter_key(ip("2001:db8:1:2::9"))
        );
        assert_ne!(
            limiter_key(ip("2001:db8:1:3::1")),
            limiter_key(ip("2001:db8:1:2::1"))
        );
        assert_eq!(limiter_key(ip("203.0.113.7")), "203.0.113.7");
        assert_eq!(limiter_key(ip("::ffff:203.0.113.7")), "203.0.113.7");
    }
}
