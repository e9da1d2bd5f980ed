//! `X-Twilio-Signature` computation and validation (reference C).
//!
//! Signed string: the full URL exactly as Twilio requested it, followed by every POST
//! parameter as `name` + `value`, names sorted byte-wise, and for repeated names the values
//! sorted and de-duplicated. Signature: base64(HMAC-SHA1(auth token, signed string)).
//!
//! Twilio is inconsistent about explicit default ports, so validation accepts the URL as
//! given, with the default port added (if absent) and with the port removed (if present),
//! as the official SDKs do.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Header Twilio puts the signature in (HTTP header names are case-insensitive).
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";
/// Query parameter carrying the hex SHA-256 of a JSON body.
pub const BODY_SHA256_PARAM: &str = "bodySHA256";

/// Builds the exact string Twilio signs for `url` and form `params`.
pub fn string_to_sign<K: AsRef<str>, V: AsRef<str>>(url: &str, params: &[(K, V)]) -> String {
    let mut grouped: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in params {
        grouped
            .entry(name.as_ref())
            .or_default()
            .insert(value.as_ref());
    }
    let mut data = String::with_capacity(
        url.len()
            + params
                .iter()
                .map(|(k, v)| k.as_ref().len() + v.as_ref().len())
                .sum::<usize>(),
    );
    data.push_str(url);
    for (name, values) in grouped {
        for value in values {
            data.push_str(name);
            data.push_str(value);
        }
    }
    data
}

/// Computes the `X-Twilio-Signature` value for a request to `url` with form `params`.
///
/// Use an empty `params` slice for GET requests, JSON bodies and WebSocket handshakes.
pub fn sign<K: AsRef<str>, V: AsRef<str>>(
    auth_token: &str,
    url: &str,
    params: &[(K, V)],
) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(string_to_sign(url, params).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Validates the signature of a form-encoded (or GET, with no params) webhook request.
///
/// `url` must be the public URL Twilio called, query string included and not re-encoded;
/// `params` the decoded POST parameters in any order.
pub fn validate_form<K: AsRef<str>, V: AsRef<str>>(
    auth_token: &str,
    url: &str,
    params: &[(K, V)],
    signature: &str,
) -> bool {
    // Evaluate every variant so the time taken does not depend on which one matched.
    url_variants(url)
        .iter()
        .map(|candidate| constant_time_eq(&sign(auth_token, candidate, params), signature))
        .fold(false, |any, matched| any | matched)
}

/// Validates a webhook with a JSON body: the URL carries `bodySHA256=<hex sha256 of body>`
/// and only the URL is signed (reference C.2).
pub fn validate_json_body(auth_token: &str, url: &str, body: &[u8], signature: &str) -> bool {
    let Some(expected_hash) = query_param(url, BODY_SHA256_PARAM) else {
        return false;
    };
    let actual_hash = hex::encode(Sha256::digest(body));
    let body_matches = constant_time_eq(&actual_hash, &expected_hash.to_ascii_lowercase());
    let url_matches = validate_form::<&str, &str>(auth_token, url, &[], signature);
    body_matches & url_matches
}

/// Validates the signature of a Media Streams WebSocket handshake.
///
/// Twilio signs the `wss://` URL from the TwiML with no params, while a server behind TLS
/// termination sees `https://` or `http://`; pass the URL as reconstructed and the scheme is
/// rewritten to `wss` (or `ws` for plain `http`) before checking.
pub fn validate_websocket(auth_token: &str, url: &str, signature: &str) -> bool {
    let rewritten = if let Some(rest) = url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        url.to_owned()
    };
    validate_form::<&str, &str>(auth_token, &rewritten, &[], signature)
}

/// The URL as given, plus the variant with the default port added (when absent) or the port
/// removed (when present). Only string surgery on the authority: the rest is never re-encoded.
pub fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_owned()];
    let Some(scheme_end) = url.find("://") else {
        return variants;
    };
    let scheme = &url[..scheme_end];
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    // Userinfo (rare) precedes the host; an IPv6 host is bracketed and contains colons.
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let host_and_port = &authority[host_start..];
    let port_sep = match host_and_port.rfind(']') {
        Some(bracket) => host_and_port[bracket..].find(':').map(|i| bracket + i),
        None => host_and_port.rfind(':'),
    };
    let prefix = &url[..authority_start + host_start];
    let suffix = &url[authority_end..];
    match port_sep {
        Some(sep) if host_and_port[sep + 1..].bytes().all(|b| b.is_ascii_digit()) => {
            variants.push(format!("{prefix}{}{suffix}", &host_and_port[..sep]));
        }
        Some(_) => {}
        None => {
            if let Some(port) = default_port(scheme) {
                variants.push(format!("{prefix}{host_and_port}:{port}{suffix}"));
            }
        }
    }
    variants
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme.to_ascii_lowercase().as_str() {
        "https" | "wss" => Some(443),
        "http" | "ws" => Some(80),
        _ => None,
    }
}

/// First value of query parameter `name` (raw, not percent-decoded: a hex hash needs none).
fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const URL_443: &str = "https://mycompany.com:443/myapp.php?foo=1&bar=2";

    fn voice_params() -> Vec<(&'static str, &'static str)> {
        vec![
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]
    }

    #[test]
    fn c4_string_to_sign() {
        assert_eq!(
            string_to_sign(URL, &voice_params()),
            "https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212"
        );
    }

    #[test]
    fn c4_signature_is_independent_of_param_order() {
        let mut params = voice_params();
        assert_eq!(sign(TOKEN, URL, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        params.reverse();
        assert_eq!(sign(TOKEN, URL, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    }

    #[test]
    fn c4_port_variants() {
        let params = voice_params();
        assert_eq!(
            sign(TOKEN, URL_443, &params),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        );
        // Request seen without a port, signed with one, and vice versa.
        assert!(validate_form(
            TOKEN,
            URL,
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(validate_form(
            TOKEN,
            URL,
            &params,
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        ));
        assert!(validate_form(
            TOKEN,
            URL_443,
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(validate_form(
            TOKEN,
            URL_443,
            &params,
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        ));
    }

    #[test]
    fn c4_multi_valued_params_are_sorted_and_deduplicated() {
        let params = [
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ];
        assert_eq!(sign(TOKEN, URL, &params), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
        assert!(validate_form(
            TOKEN,
            URL,
            &params,
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        ));
    }

    #[test]
    fn c4_json_body() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
        assert_eq!(hex::encode(Sha256::digest(body)), hash);
        let url = format!("{URL}&bodySHA256={hash}");
        assert_eq!(
            sign::<&str, &str>(TOKEN, &url, &[]),
            "a9nBmqA0ju/hNViExpshrM61xv4="
        );
        assert!(validate_json_body(
            TOKEN,
            &url,
            body,
            "a9nBmqA0ju/hNViExpshrM61xv4="
        ));
    }

    #[test]
    fn c4_websocket_handshake() {
        let url = "wss://example.com/media";
        assert_eq!(
            sign::<&str, &str>(TOKEN, url, &[]),
            "7PR3qMkpDyEJtMrVOY/LDyNq8J8="
        );
        assert!(validate_websocket(
            TOKEN,
            url,
            "7PR3qMkpDyEJtMrVOY/LDyNq8J8="
        ));
        // The server behind TLS termination sees https.
        assert!(validate_websocket(
            TOKEN,
            "https://example.com/media",
            "7PR3qMkpDyEJtMrVOY/LDyNq8J8="
        ));
        assert!(validate_websocket(
            TOKEN,
            "https://example.com:443/media",
            "7PR3qMkpDyEJtMrVOY/LDyNq8J8="
        ));
        assert!(!validate_websocket(
            TOKEN,
            "https://example.com/other",
            "7PR3qMkpDyEJtMrVOY/LDyNq8J8="
        ));
    }

    #[test]
    fn rejects_tampering() {
        let good = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
        let params = voice_params();
        assert!(!validate_form("54321", URL, &params, good), "wrong token");
        assert!(!validate_form(
            TOKEN,
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &params,
            good
        ));
        assert!(!validate_form(
            TOKEN,
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &params,
            good
        ));
        assert!(!validate_form(
            TOKEN,
            "https://mycompany.com/myapp.php/?foo=1&bar=2",
            &params,
            good
        ));
        // Only the default port is ever added: a signature over a non-default port does not
        // validate a port-less request.
        let signed_8443 = sign(
            TOKEN,
            "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
            &params,
        );
        assert!(!validate_form(TOKEN, URL, &params, &signed_8443));
        let mut changed = params.clone();
        changed[2].1 = "1235";
        assert!(!validate_form(TOKEN, URL, &changed, good), "changed value");
        assert!(
            !validate_form(TOKEN, URL, &params[1..], good),
            "missing param"
        );
        let mut extra = params.clone();
        extra.push(("Extra", "1"));
        assert!(!validate_form(TOKEN, URL, &extra, good), "extra param");
        assert!(!validate_form(TOKEN, URL, &params, ""), "empty signature");
        assert!(
            !validate_form(TOKEN, URL, &params, "RSOYDt4T1cUTdK1PDd93/VVr8B8"),
            "truncated"
        );
    }

    #[test]
    fn json_body_rejects_mismatched_or_missing_hash() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
        let url = format!("{URL}&bodySHA256={hash}");
        let signature = "a9nBmqA0ju/hNViExpshrM61xv4=";
        assert!(!validate_json_body(
            TOKEN,
            &url,
            br#"{"property": "other"}"#,
            signature
        ));
        assert!(!validate_json_body(
            TOKEN,
            URL,
            body,
            &sign::<&str, &str>(TOKEN, URL, &[])
        ));
        assert!(!validate_json_body("54321", &url, body, signature));
    }

    #[test]
    fn url_variants_add_or_remove_the_port() {
        // Like the SDKs, an explicit port (default or not) is also tried without it.
        assert_eq!(
            url_variants("https://a.example/x?y=1"),
            ["https://a.example/x?y=1", "https://a.example:443/x?y=1"]
        );
        assert_eq!(
            url_variants("http://a.example"),
            ["http://a.example", "http://a.example:80"]
        );
        assert_eq!(
            url_variants("https://a.example:8443/x"),
            ["https://a.example:8443/x", "https://a.example/x"]
        );
        assert_eq!(
            url_variants("wss://[::1]:443/media"),
            ["wss://[::1]:443/media", "wss://[::1]/media"]
        );
        assert_eq!(
            url_variants("https://user:pw@h.example/p"),
            [
                "https://user:pw@h.example/p",
                "https://user:pw@h.example:443/p"
            ]
        );
        assert_eq!(url_variants("not a url"), ["not a url"]);
    }

    #[test]
    fn get_requests_sign_the_url_only() {
        let url = "https://example.com/twiml?call_id=c_1";
        let signature = sign::<&str, &str>(TOKEN, url, &[]);
        assert!(validate_form::<&str, &str>(TOKEN, url, &[], &signature));
        assert!(!validate_form::<&str, &str>(
            TOKEN,
            "https://example.com/twiml?call_id=c_2",
            &[],
            &signature
        ));
    }
}
