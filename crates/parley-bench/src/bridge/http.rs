//! The HTTP/1.1 the load generator speaks: WebSocket upgrades both ways and the simulated
//! agent's signed-URL requests. Only what those exchanges need is read.
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// A request or response head larger than this is not one of ours.
pub const MAX_HEAD: usize = 16 * 1024;

/// The length of the head at the start of `buf`, blank line included, once it is whole.
pub fn head_len(buf: &[u8]) -> Option<usize> {
    buf.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// A client's upgrade request; `seed` makes its key distinct per connection.
pub fn upgrade_request(host: &str, path: &str, seed: &str) -> String {
    let mut key = [0u8; 16];
    for (k, b) in key.iter_mut().zip(seed.bytes().rev()) {
        *k = b;
    }
    let key = STANDARD.encode(key);
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

pub fn is_switching_protocols(head: &str) -> bool {
    head.split(' ').nth(1) == Some("101")
}

/// The parts of a request head the simulated agent looks at.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Head<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub host: Option<&'a str>,
    pub websocket_key: Option<&'a str>,
    pub api_key: Option<&'a str>,
}

impl<'a> Head<'a> {
    pub fn parse(head: &'a str) -> Option<Head<'a>> {
        let mut lines = head.split("\r\n");
        let mut request = lines.next()?.split(' ');
        let method = request.next()?;
        let target = request.next()?;
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut parsed = Head {
            method,
            path,
            query,
            ..Head::default()
        };
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("host") {
                parsed.host = Some(value);
            } else if name.eq_ignore_ascii_case("sec-websocket-key") {
                parsed.websocket_key = Some(value);
            } else if name.eq_ignore_ascii_case("xi-api-key") {
                parsed.api_key = Some(value);
            }
        }
        Some(parsed)
    }

    pub fn query_param(&self, name: &str) -> Option<&'a str> {
        self.query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    }
}

/// A complete response; `close` ends the connection after it.
pub fn response(status: &str, content_type: &str, body: &str, close: bool) -> String {
    let connection = if close { "connection: close\r\n" } else { "" };
    format!(
        "HTTP/1.1 {status}\r\n{connection}content-type: {content_type}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heads_are_read() {
        let text = "GET /v1/convai/conversation/get-signed-url?agent_id=a1&x=2 HTTP/1.1\r\nHost: 127.0.0.1:9\r\nXI-API-KEY: k\r\n\r\n";
        assert_eq!(head_len(text.as_bytes()), Some(text.len()));
        assert_eq!(head_len(&text.as_bytes()[..text.len() - 1]), None);
        let head = Head::parse(text).unwrap();
        assert_eq!(head.method, "GET");
        assert_eq!(head.path, "/v1/convai/conversation/get-signed-url");
        assert_eq!(head.query_param("agent_id"), Some("a1"));
        assert_eq!(head.query_param("x"), Some("2"));
        assert_eq!(head.query_param("agent"), None);
        assert_eq!(head.host, Some("127.0.0.1:9"));
        assert_eq!(head.api_key, Some("k"));
        assert_eq!(head.websocket_key, None);
    }

    #[test]
    fn upgrades_are_recognised() {
        let request = upgrade_request("h:1", "/twilio/media", "MZ01");
        let head = Head::parse(&request).unwrap();
        assert_eq!(head.path, "/twilio/media");
        assert_eq!(
            STANDARD.decode(head.websocket_key.unwrap()).unwrap().len(),
            16
        );
        assert!(is_switching_protocols(
            "HTTP/1.1 101 Switching Protocols\r\n\r\n"
        ));
        assert!(!is_switching_protocols("HTTP/1.1 401 Unauthorized\r\n\r\n"));
    }
}
