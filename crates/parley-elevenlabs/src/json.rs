//! JSON helpers for the per-frame hot path.

use std::borrow::Cow;

use serde::Deserialize;

/// A JSON string borrowed from the input when it has no escapes. Needed inside `Option`:
/// `#[serde(borrow)]` only makes a bare `Cow<str>` field borrow.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(crate) struct CowStr<'a>(#[serde(borrow)] pub(crate) Cow<'a, str>);

/// Appends `text` as a quoted JSON string, copying runs without special characters (all of a
/// base64 payload) in one `push_str`.
pub(crate) fn push_string(out: &mut String, text: &str) {
    out.push('"');
    // Base64 payloads never need escaping: a branch-free scan (which the compiler
    // vectorizes) proves it, and the text is copied at once.
    if !text.bytes().fold(false, |special, b| {
        special | (b < 0x20) | (b == b'"') | (b == b'\\')
    }) {
        out.push_str(text);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, &byte) in text.as_bytes().iter().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1F => "",
            _ => continue,
        };
        // Splitting at an ASCII byte always lands on a char boundary.
        out.push_str(&text[start..i]);
        if escape.is_empty() {
            out.push_str(&format!("\\u{byte:04x}"));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_parses_back_to_the_input() {
        for text in ["", "//7+/f==", "q\"uote\\back\nline\u{1f}é"] {
            let mut out = String::new();
            push_string(&mut out, text);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), text);
        }
    }
}
