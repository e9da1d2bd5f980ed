use super::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

fn policy(allowed: &[&str]) -> EgressPolicy {
    EgressPolicy::new(&EgressSettings {
        allowed_hosts: allowed.iter().map(|h| h.to_string()).collect(),
    })
}

fn check(url: &str) -> Result<(), Refusal> {
    policy(&[]).check_url(&Url::parse(url).expect("parses"))
}

/// Every encoding of an internal address that the `url` crate accepts is refused, with
/// the kind of address named.
#[test]
fn internal_ip_literals_are_refused_in_every_encoding() {
    use Forbidden::*;
    let cases = [
        ("http://127.0.0.1/", Loopback),
        ("http://127.1/", Loopback),
        ("http://2130706433/", Loopback),
        ("http://0x7f000001/", Loopback),
        ("http://0x7f.1/", Loopback),
        ("http://017700000001/", Loopback),
        ("http://0177.0.0.1/", Loopback),
        ("http://[::1]/", Loopback),
        ("http://[0:0:0:0:0:0:0:1]/", Loopback),
        ("http://[::ffff:127.0.0.1]/", Loopback),
        ("http://[::ffff:7f00:1]/", Loopback),
        ("http://[::127.0.0.1]/", Loopback),
        ("http://0.0.0.0/", Unspecified),
        ("http://0/", Unspecified),
        ("http://[::]/", Unspecified),
        ("http://169.254.169.254/latest/meta-data/", LinkLocal),
        ("http://2852039166/", LinkLocal),
        ("http://[::ffff:169.254.169.254]/", LinkLocal),
        ("http://[fe80::1]/", LinkLocal),
        ("http://10.0.0.1/", Private),
        ("http://172.16.5.4/", Private),
        ("http://172.31.255.255/", Private),
        ("http://192.168.1.1/", Private),
        ("http://0xc0a80101/", Private),
        ("http://[::ffff:10.1.2.3]/", Private),
        ("http://[64:ff9b::10.1.2.3]/", Private),
        ("http://[2002:c0a8:101::1]/", Private),
        ("http://100.64.0.1/", SharedNat),
        ("http://100.127.255.254/", SharedNat),
        ("http://[fc00::1]/", UniqueLocal),
        ("http://[fd12:3456::1]/", UniqueLocal),
        ("http://224.0.0.1/", Multicast),
        ("http://239.255.255.250/", Multicast),
        ("http://[ff02::1]/", Multicast),
        ("http://255.255.255.255/", Broadcast),
        ("http://192.0.2.10/", Documentation),
        ("http://198.51.100.1/", Documentation),
        ("http://203.0.113.9/", Documentation),
        ("http://[2001:db8::1]/", Documentation),
        ("http://198.18.0.1/", Benchmarking),
        ("http://198.19.255.1/", Benchmarking),
        ("http://[2001:2::1]/", Benchmarking),
        ("http://240.0.0.1/", Reserved),
        ("http://192.0.0.8/", Reserved),
        ("http://[100::1]/", Reserved),
    ];
    for (url, kind) in cases {
        assert_eq!(check(url), Err(Refusal::Address(kind)), "{url}");
    }
}

#[test]
fn public_addresses_and_names_pass_the_url_check() {
    for url in [
        "https://crm.example.com/hook",
        "http://93.184.215.14:8080/x",
        "http://1.1.1.1/",
        "http://100.63.255.255/",
        "http://100.128.0.1/",
        "http://172.32.0.1/",
        "http://[2606:4700::1111]/",
        "http://[::ffff:1.1.1.1]/",
    ] {
        assert_eq!(check(url), Ok(()), "{url}");
    }
}

#[test]
fn userinfo_and_other_schemes_are_refused() {
    assert_eq!(
        check("https://user:pass@crm.example.com/"),
        Err(Refusal::Userinfo)
    );
    assert_eq!(
        check("https://token@crm.example.com/"),
        Err(Refusal::Userinfo)
    );
    for url in [
        "ftp://crm.example.com/",
        "file:///etc/passwd",
        "gopher://x/",
        "data:text/plain,x",
    ] {
        assert_eq!(check(url), Err(Refusal::Scheme), "{url}");
    }
}

#[test]
fn allowed_hosts_are_exempt_by_name_only() {
    let p = policy(&["127.0.0.1", "::1", "CRM.Internal", "10.0.0.5"]);
    let ok = |u: &str| p.check_url(&Url::parse(u).unwrap());
    assert_eq!(ok("http://127.0.0.1:9000/hook"), Ok(()));
    assert_eq!(
        ok("http://2130706433/"),
        Ok(()),
        "the same address, encoded"
    );
    assert_eq!(ok("http://[::1]/"), Ok(()));
    assert_eq!(ok("http://10.0.0.5/"), Ok(()));
    assert_eq!(
        ok("http://127.0.0.2/"),
        Err(Refusal::Address(Forbidden::Loopback))
    );
    assert_eq!(
        ok("http://10.0.0.6/"),
        Err(Refusal::Address(Forbidden::Private))
    );
    assert!(p.allows_name("crm.internal"));
    assert!(p.allows_name("crm.internal."));
    assert!(!p.allows_name("other.internal"));
    assert_eq!(
        ok("http://u:p@127.0.0.1/"),
        Err(Refusal::Userinfo),
        "never userinfo"
    );
}

/// A fixed table of names, counting lookups.
#[derive(Default)]
struct Table {
    names: HashMap<&'static str, Vec<IpAddr>>,
    lookups: AtomicUsize,
}

impl HostLookup for Table {
    fn lookup(&self, host: &str) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let found = self.names.get(host).cloned();
        Box::pin(async move {
            found.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such host"))
        })
    }
}

fn table(names: &[(&'static str, &[&str])]) -> Arc<Table> {
    Arc::new(Table {
        names: names
            .iter()
            .map(|(n, ips)| (*n, ips.iter().map(|ip| ip.parse().unwrap()).collect()))
            .collect(),
        lookups: AtomicUsize::new(0),
    })
}

#[tokio::test]
async fn a_subscription_is_refused_when_its_name_resolves_inside() {
    let lookup = table(&[
        ("inside.example", &["10.1.2.3"]),
        ("mixed.example", &["1.1.1.1", "127.0.0.1"]),
        ("outside.example", &["1.1.1.1"]),
        ("crm.internal", &["10.9.9.9"]),
    ]);
    let p = policy(&["crm.internal"]);
    let check = |u: &'static str| {
        let p = p.clone();
        let lookup = lookup.clone();
        async move {
            p.check_subscription(&Url::parse(u).unwrap(), lookup.as_ref())
                .await
        }
    };
    assert_eq!(
        check("https://inside.example/").await,
        Err(Refusal::ResolvesTo(Forbidden::Private))
    );
    assert_eq!(
        check("https://mixed.example/").await,
        Err(Refusal::ResolvesTo(Forbidden::Loopback))
    );
    assert_eq!(check("https://outside.example/").await, Ok(()));
    assert_eq!(
        check("https://crm.internal/").await,
        Ok(()),
        "allowed by name"
    );
    assert_eq!(
        check("https://unknown.example/").await,
        Ok(()),
        "a name that does not resolve yet is left to the connect-time check"
    );
    assert_eq!(
        Refusal::ResolvesTo(Forbidden::Private).to_string(),
        "the host resolves to a private address"
    );
}

#[tokio::test]
async fn the_resolver_drops_forbidden_addresses_and_refuses_when_none_is_left() {
    let lookup = table(&[
        ("rebind.example", &["127.0.0.1"]),
        ("mixed.example", &["169.254.169.254", "1.1.1.1"]),
        ("crm.internal", &["10.9.9.9"]),
    ]);
    let p = policy(&["crm.internal"]);
    let err = p
        .resolve("rebind.example", lookup.as_ref())
        .await
        .unwrap_err();
    assert_eq!(
        EgressRefused::find(err.as_ref()),
        Some(&EgressRefused(Refusal::ResolvesTo(Forbidden::Loopback)))
    );
    assert_eq!(
        p.resolve("mixed.example", lookup.as_ref()).await.unwrap(),
        vec!["1.1.1.1".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(
        p.resolve("crm.internal", lookup.as_ref()).await.unwrap(),
        vec!["10.9.9.9".parse::<IpAddr>().unwrap()]
    );
    let err = p
        .resolve("nowhere.example", lookup.as_ref())
        .await
        .unwrap_err();
    assert!(
        EgressRefused::find(err.as_ref()).is_none(),
        "a lookup failure is not a refusal"
    );
}

/// The whole path through a real HTTP client: a name that resolves to 127.0.0.1, where a
/// server listens, is refused at connect time, and the server sees no connection. With
/// the name allowed, the same request arrives.
#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_at_connect_time() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                    .await;
            });
        }
    });
    let lookup = table(&[("rebind.example", &["127.0.0.1"])]);
    let url = format!("http://rebind.example:{port}/hook");

    let guarded = client_builder(GuardedResolver::new(Arc::new(policy(&[])), lookup.clone()))
        .build()
        .unwrap();
    let err = guarded.post(&url).send().await.unwrap_err();
    assert_eq!(
        EgressRefused::find(&err),
        Some(&EgressRefused(Refusal::ResolvesTo(Forbidden::Loopback))),
        "{err:?}"
    );
    assert_eq!(
        lookup.lookups.load(Ordering::SeqCst),
        1,
        "resolved by the guard"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection was made");

    let allowed = client_builder(GuardedResolver::new(
        Arc::new(policy(&["rebind.example"])),
        lookup.clone(),
    ))
    .build()
    .unwrap();
    let response = allowed.post(&url).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
