//! The messages `send_email` may send: templates the business configures
//! (`tools.email.templates`), with `{{field}}` placeholders the agent fills. The agent
//! never writes a subject or markup: its values are plain text, HTML-escaped in the HTML
//! part and kept to one line in the subject.
use crate::settings::EmailTemplate;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Longest value the agent may put in one field.
pub const MAX_FIELD_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("`{{{{` without a closing `}}}}`")]
    Unclosed,
    #[error("`{0}` is not a field name (letters, digits and _)")]
    BadName(String),
}

/// A field the agent filled wrongly; the message is for the agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FillError(pub String);

/// The pieces of one template text: literal text and field names, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Field(&'a str),
}

fn pieces(mut text: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut out = Vec::new();
    while let Some(start) = text.find("{{") {
        out.push(Piece::Text(&text[..start]));
        let rest = &text[start + 2..];
        let end = rest.find("}}").ok_or(TemplateError::Unclosed)?;
        let name = rest[..end].trim();
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(TemplateError::BadName(name.to_owned()));
        }
        out.push(Piece::Field(name));
        text = &rest[end + 2..];
    }
    out.push(Piece::Text(text));
    Ok(out)
}

/// The field names a template uses, sorted; an error for a malformed placeholder.
pub fn fields(template: &EmailTemplate) -> Result<BTreeSet<String>, TemplateError> {
    let mut names = BTreeSet::new();
    for text in texts(template) {
        for piece in pieces(text)? {
            if let Piece::Field(name) = piece {
                names.insert(name.to_owned());
            }
        }
    }
    Ok(names)
}

fn texts(template: &EmailTemplate) -> impl Iterator<Item = &str> {
    [
        Some(&template.subject),
        Some(&template.text),
        template.html.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(String::as_str)
}

/// A filled-in message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// Fills `template` from the agent's `values` (an object of strings): every field the
/// template uses must be given, and nothing else.
pub fn render(
    template: &EmailTemplate,
    values: &Map<String, Value>,
) -> Result<Rendered, FillError> {
    let wanted = fields(template).map_err(|e| FillError(format!("the template is broken: {e}")))?;
    let mut given = std::collections::BTreeMap::new();
    for (name, value) in values {
        if !wanted.contains(name) {
            return Err(FillError(format!(
                "this template has no field `{name}`; its fields: {}",
                list(&wanted)
            )));
        }
        let Value::String(value) = value else {
            return Err(FillError(format!("field `{name}` must be a string")));
        };
        if value.chars().count() > MAX_FIELD_CHARS {
            return Err(FillError(format!(
                "field `{name}` is longer than {MAX_FIELD_CHARS} characters"
            )));
        }
        given.insert(name.as_str(), value.trim());
    }
    if let Some(missing) = wanted.iter().find(|w| !given.contains_key(w.as_str())) {
        return Err(FillError(format!(
            "fill in field `{missing}`; this template's fields: {}",
            list(&wanted)
        )));
    }
    let fill = |text: &str, escape: fn(&str) -> String| -> String {
        let mut out = String::with_capacity(text.len());
        for piece in pieces(text).unwrap_or_default() {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Field(name) => out.push_str(&escape(given.get(name).copied().unwrap_or(""))),
            }
        }
        out
    };
    Ok(Rendered {
        subject: fill(&template.subject, one_line),
        text: fill(&template.text, |v| v.to_owned()),
        html: template
            .html
            .as_deref()
            .map(|html| fill(html, |v| html_escape::encode_safe(v).into_owned())),
    })
}

/// Line breaks and other control characters become spaces: a subject is one line.
fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn list(names: &BTreeSet<String>) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan() -> EmailTemplate {
        EmailTemplate {
            subject: "Your {{ plan }} details".into(),
            text: "Hello {{name}}, here is the {{plan}}.".into(),
            html: Some("<p>Hello {{name}}, here is the <b>{{plan}}</b>.</p>".into()),
        }
    }

    fn values(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn fields_are_filled_and_escaped_in_the_html_part() {
        let rendered = render(
            &plan(),
            &values(json!({"name": "<script>alert('x')</script>", "plan": "Gold & \"Plus\"\r\nBcc: x@evil.example"})),
        )
        .unwrap();
        assert_eq!(
            rendered.html.unwrap(),
            "<p>Hello &lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2F;script&gt;, here is the \
             <b>Gold &amp; &quot;Plus&quot;\r\nBcc: x@evil.example</b>.</p>"
        );
        assert_eq!(
            rendered.subject, "Your Gold & \"Plus\"  Bcc: x@evil.example details",
            "no line break reaches the subject"
        );
        assert!(
            rendered.text.starts_with("Hello <script>"),
            "plain text stays plain"
        );
    }

    #[test]
    fn every_field_and_only_those() {
        assert_eq!(
            fields(&plan()).unwrap().into_iter().collect::<Vec<_>>(),
            ["name", "plan"]
        );
        let missing = render(&plan(), &values(json!({"name": "Ada"}))).unwrap_err();
        assert!(missing.0.contains("fill in field `plan`"), "{missing}");
        let extra = render(
            &plan(),
            &values(json!({"name": "Ada", "plan": "x", "html": "<b>"})),
        )
        .unwrap_err();
        assert!(extra.0.contains("no field `html`"), "{extra}");
        let long = "x".repeat(MAX_FIELD_CHARS + 1);
        assert!(render(&plan(), &values(json!({"name": long, "plan": "x"}))).is_err());
        assert!(render(&plan(), &values(json!({"name": 1, "plan": "x"}))).is_err());
    }

    #[test]
    fn malformed_placeholders_are_reported() {
        let broken = |text: &str| {
            fields(&EmailTemplate {
                subject: "s".into(),
                text: text.into(),
                html: None,
            })
        };
        assert_eq!(broken("Hi {{name"), Err(TemplateError::Unclosed));
        assert_eq!(
            broken("Hi {{first name}}"),
            Err(TemplateError::BadName("first name".into()))
        );
        assert_eq!(
            broken("Hi {{}}"),
            Err(TemplateError::BadName(String::new()))
        );
        assert!(broken("Hi }} there").unwrap().is_empty());
    }
}
