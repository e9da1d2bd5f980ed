//! The signature on every delivery: `Parley-Signature: t=<unix seconds>,v1=<hex>` where
//! the hex is HMAC-SHA256 of `"<t>.<body>"` under the subscription's secret. Signing the
//! timestamp with the body lets receivers refuse replays of old requests.
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "Parley-Signature";

/// The header value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body))
    )
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Checks a header value the way a receiver should: the right MAC (compared in constant
/// time) and a timestamp within `tolerance_secs` of `now`.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance_secs: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(t) = timestamp else {
        return false;
    };
    if (now - t).abs() > tolerance_secs {
        return false;
    }
    let expected = mac(secret, t, body);
    signatures.iter().any(|s| {
        use subtle::ConstantTimeEq;
        s.len() == expected.len() && bool::from(s.ct_eq(&expected))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let header = sign("whsec_test", 1_700_000_000, b"{\"a\":1}");
        assert!(header.starts_with("t=1700000000,v1="));
        assert!(verify(
            "whsec_test",
            &header,
            b"{\"a\":1}",
            1_700_000_010,
            300
        ));
        assert!(!verify(
            "whsec_test",
            &header,
            b"{\"a\":2}",
            1_700_000_010,
            300
        ));
        assert!(!verify("other", &header, b"{\"a\":1}", 1_700_000_010, 300));
        assert!(!verify(
            "whsec_test",
            &header,
            b"{\"a\":1}",
            1_700_001_000,
            300
        ));
        assert!(!verify(
            "whsec_test",
            "v1=00",
            b"{\"a\":1}",
            1_700_000_000,
            300
        ));
    }

    /// A fixed vector (also in the README) so receivers in other languages can check
    /// their implementation.
    #[test]
    fn known_vector() {
        assert_eq!(
            sign(
                "whsec_example",
                1_700_000_000,
                br#"{"type":"call.completed"}"#
            ),
            "t=1700000000,v1=029765fa6f4894eeda6d19c5b9cc0bc03c0a51410963f89eb5864247bf511e0f"
        );
    }
}
