//! The one egress policy for requests Parley makes to URLs a user supplied (webhook
//! subscriptions today). A URL is refused when it carries userinfo, is not http(s), or
//! its host is, or resolves to, an address inside a network: loopback, link-local (the
//! cloud metadata service included), private, carrier-grade NAT, unique-local, multicast,
//! unspecified, broadcast, documentation, benchmarking or reserved, IPv4 forms embedded
//! in IPv6 included. Hosts named in `egress.allowed_hosts` are exempt.
//!
//! Checking the URL once is not enough: a name can resolve to a public address when the
//! subscription is made and to 127.0.0.1 when the delivery connects (DNS rebinding). So
//! [`GuardedResolver`] is the HTTP client's resolver: the addresses it hands to the
//! connector are the ones it checked.
use crate::settings::EgressSettings;
use futures::future::BoxFuture;
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use url::{Host, Url};

/// How long the check at subscription time waits for DNS before it lets the name pass
/// (the connect-time check still applies).
const CREATE_LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// The kinds of address no request to a user's URL may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbidden {
    Loopback,
    LinkLocal,
    Private,
    SharedNat,
    UniqueLocal,
    Multicast,
    Unspecified,
    Broadcast,
    Documentation,
    Benchmarking,
    Reserved,
}

impl Forbidden {
    fn describe(self) -> &'static str {
        match self {
            Forbidden::Loopback => "a loopback address",
            Forbidden::LinkLocal => "a link-local address (such as the cloud metadata service)",
            Forbidden::Private => "a private address",
            Forbidden::SharedNat => "a carrier-grade NAT address",
            Forbidden::UniqueLocal => "a unique-local address",
            Forbidden::Multicast => "a multicast address",
            Forbidden::Unspecified => "an unspecified address",
            Forbidden::Broadcast => "the broadcast address",
            Forbidden::Documentation => "a documentation address",
            Forbidden::Benchmarking => "a benchmarking address",
            Forbidden::Reserved => "a reserved address",
        }
    }
}

/// Why a URL was refused; the text completes "refused by egress policy: ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("must be an http:// or https:// URL")]
    Scheme,
    #[error("must not contain a user name or password")]
    Userinfo,
    #[error("the host is {}", .0.describe())]
    Address(Forbidden),
    #[error("the host resolves to {}", .0.describe())]
    ResolvesTo(Forbidden),
}

/// A connection the resolver refused; found again in the HTTP error's source chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused by egress policy: {0}")]
pub struct EgressRefused(pub Refusal);

impl EgressRefused {
    /// The refusal somewhere in `error`'s chain of causes, if the policy caused it.
    pub fn find<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a EgressRefused> {
        let mut cause = Some(error);
        while let Some(e) = cause {
            if let Some(refused) = e.downcast_ref::<EgressRefused>() {
                return Some(refused);
            }
            cause = e.source();
        }
        None
    }
}

/// The kind of forbidden address `ip` is, or `None` for a public one.
pub fn forbidden(ip: IpAddr) -> Option<Forbidden> {
    match ip {
        IpAddr::V4(ip) => forbidden_v4(ip),
        IpAddr::V6(ip) => forbidden_v6(ip),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<Forbidden> {
    let [a, b, c, _] = ip.octets();
    let kind = if ip.is_unspecified() || a == 0 {
        Forbidden::Unspecified
    } else if ip.is_loopback() {
        Forbidden::Loopback
    } else if ip.is_link_local() {
        Forbidden::LinkLocal
    } else if ip.is_private() {
        Forbidden::Private
    } else if a == 100 && (b & 0xc0) == 64 {
        Forbidden::SharedNat
    } else if ip.is_broadcast() {
        Forbidden::Broadcast
    } else if ip.is_multicast() {
        Forbidden::Multicast
    } else if ip.is_documentation() {
        Forbidden::Documentation
    } else if a == 198 && (b & 0xfe) == 18 {
        Forbidden::Benchmarking
    } else if a >= 240 || (a == 192 && b == 0 && c == 0) {
        // 240/4 "future use" and 192.0.0/24 IETF protocol assignments.
        Forbidden::Reserved
    } else {
        return None;
    };
    Some(kind)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<Forbidden> {
    let s = ip.segments();
    // IPv4-mapped (::ffff:a.b.c.d) reaches the IPv4 address on dual-stack sockets;
    // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry one.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    if ip.is_unspecified() {
        return Some(Forbidden::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Forbidden::Loopback);
    }
    if s[..6] == [0; 6] {
        return forbidden_v4(embedded_v4(s[6], s[7])).or(Some(Forbidden::Reserved));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return forbidden_v4(embedded_v4(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return forbidden_v4(embedded_v4(s[1], s[2]));
    }
    let kind = if ip.is_multicast() {
        Forbidden::Multicast
    } else if ip.is_unicast_link_local() || (s[0] & 0xffc0) == 0xfec0 {
        // fe80::/10, and the deprecated site-local fec0::/10.
        Forbidden::LinkLocal
    } else if ip.is_unique_local() {
        Forbidden::UniqueLocal
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        Forbidden::Documentation
    } else if s[0] == 0x2001 && s[1] == 0x0002 && s[2] == 0 {
        Forbidden::Benchmarking
    } else if s[..4] == [0x0100, 0, 0, 0] {
        // 100::/64, the discard prefix.
        Forbidden::Reserved
    } else {
        return None;
    };
    Some(kind)
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))
}

/// Resolves host names for the policy; the system resolver, or a fixed table in tests.
pub trait HostLookup: Send + Sync {
    fn lookup(&self, host: &str) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>>;
}

/// The operating system's resolver (`getaddrinfo`, off the async workers).
pub struct SystemLookup;

impl HostLookup for SystemLookup {
    fn lookup(&self, host: &str) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// The policy: which hosts are exempt, and the checks.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    /// Normalized as the `url` crate writes hosts: lowercase names, canonical IPs.
    allowed: HashSet<String>,
}

impl EgressPolicy {
    pub fn new(settings: &EgressSettings) -> EgressPolicy {
        let allowed = settings
            .allowed_hosts
            .iter()
            .filter_map(|h| normalize_host(h))
            .collect();
        EgressPolicy { allowed }
    }

    fn allows_name(&self, host: &str) -> bool {
        self.allowed
            .contains(host.trim_end_matches('.').to_ascii_lowercase().as_str())
    }

    /// Checks what the URL itself says: scheme, userinfo and an IP-literal host.
    /// Named hosts are checked when resolved.
    pub fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refusal::Scheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::Userinfo);
        }
        let ip = match url.host() {
            None => return Err(Refusal::Scheme),
            Some(Host::Domain(_)) => return Ok(()),
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        };
        if self.allowed.contains(&ip_host(ip).to_string()) {
            return Ok(());
        }
        forbidden(ip).map_or(Ok(()), |kind| Err(Refusal::Address(kind)))
    }

    /// The check made when a subscription is created or changed: [`check_url`] and, for a
    /// named host, where it resolves now. A name that does not resolve (yet) passes; the
    /// connect-time check still applies.
    ///
    /// [`check_url`]: EgressPolicy::check_url
    pub async fn check_subscription(
        &self,
        url: &Url,
        lookup: &dyn HostLookup,
    ) -> Result<(), Refusal> {
        self.check_url(url)?;
        let Some(Host::Domain(name)) = url.host() else {
            return Ok(());
        };
        if self.allows_name(name) {
            return Ok(());
        }
        let Ok(Ok(ips)) = tokio::time::timeout(CREATE_LOOKUP_TIMEOUT, lookup.lookup(name)).await
        else {
            return Ok(());
        };
        match ips.into_iter().find_map(forbidden) {
            Some(kind) => Err(Refusal::ResolvesTo(kind)),
            None => Ok(()),
        }
    }

    /// The addresses of `host` a connection may use: forbidden ones dropped, and a
    /// refusal when none is left.
    async fn resolve(
        &self,
        host: &str,
        lookup: &dyn HostLookup,
    ) -> Result<Vec<IpAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let ips = lookup.lookup(host).await?;
        if self.allows_name(host) {
            return Ok(ips);
        }
        let mut first_refused = None;
        let allowed: Vec<IpAddr> = ips
            .into_iter()
            .filter(|ip| match forbidden(*ip) {
                Some(kind) => {
                    first_refused.get_or_insert(kind);
                    false
                }
                None => true,
            })
            .collect();
        match (allowed.is_empty(), first_refused) {
            (true, Some(kind)) => Err(Box::new(EgressRefused(Refusal::ResolvesTo(kind)))),
            _ => Ok(allowed),
        }
    }
}

fn ip_host(ip: IpAddr) -> Host<String> {
    match ip {
        IpAddr::V4(ip) => Host::Ipv4(ip),
        IpAddr::V6(ip) => Host::Ipv6(ip),
    }
}

/// An allowed-hosts entry as the `url` crate would write it (`[::1]`, `127.0.0.1`,
/// lowercase names); `None` for an entry that is no host.
fn normalize_host(entry: &str) -> Option<String> {
    let entry = entry.trim().trim_end_matches('.');
    // A bare IPv6 address is accepted without its brackets.
    if let Ok(ip) = entry.parse::<Ipv6Addr>() {
        return Some(Host::<String>::Ipv6(ip).to_string());
    }
    Host::parse(entry).ok().map(|h| h.to_string())
}

/// The HTTP client's resolver under the policy. Built with the lookup to use, so a test
/// can make a name resolve wherever it needs.
#[derive(Clone)]
pub struct GuardedResolver {
    policy: Arc<EgressPolicy>,
    lookup: Arc<dyn HostLookup>,
}

impl GuardedResolver {
    pub fn new(policy: Arc<EgressPolicy>, lookup: Arc<dyn HostLookup>) -> GuardedResolver {
        GuardedResolver { policy, lookup }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let me = self.clone();
        Box::pin(async move {
            let ips = me.policy.resolve(name.as_str(), me.lookup.as_ref()).await?;
            // The connector sets the URL's port on each address.
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// A client builder for requests to users' URLs: the guarded resolver, no proxy (a proxy
/// would resolve the name itself), no redirects (a redirect would be a new, unchecked
/// destination).
pub fn client_builder(resolver: GuardedResolver) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(resolver))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
}

#[cfg(test)]
mod tests;
