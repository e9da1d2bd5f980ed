//! `parley healthcheck`: asks the server on this machine whether it is ready, for
//! container and service-manager health checks (the runtime image has no curl).
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, Context};
use parley_engine::settings::Settings;

const TIMEOUT: Duration = Duration::from_secs(5);

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let url = format!("http://{}/readyz", local_address(settings.listen));
    let response = reqwest::Client::new()
        .get(&url)
        .timeout(TIMEOUT)
        .send()
        .await
        .with_context(|| format!("no answer from {url}"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        bail!("{url} answered {status}: {}", body.trim());
    }
    println!("ready");
    Ok(())
}

/// The listen address as a client on the same machine reaches it: a wildcard address
/// (0.0.0.0, ::) becomes loopback.
fn local_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_listen_address_is_checked_on_loopback() {
        let wildcard: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(local_address(wildcard), "127.0.0.1:8080".parse().unwrap());
        let v6: SocketAddr = "[::]:9000".parse().unwrap();
        assert_eq!(local_address(v6), "[::1]:9000".parse().unwrap());
        let exact: SocketAddr = "10.1.2.3:8080".parse().unwrap();
        assert_eq!(local_address(exact), exact);
    }
}
