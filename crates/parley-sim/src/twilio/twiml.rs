//! A TwiML parser for the verbs the simulator executes (reference D): `Response`,
//! `Connect`/`Stream`/`Parameter`, `Start`/`Stream`, `Say`, `Play`, `Pause`, `Hangup`,
//! `Dial`/`Number`, `Redirect`, `Reject`. Unknown elements are skipped with a warning, as
//! Twilio only warns (12200) about them; malformed XML is a parse failure (12100).

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Twilio refuses TwiML documents larger than this (error 11750).
pub(crate) const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// `loop="0"` means "until the call ends"; this keeps it finite.
const MAX_LOOPS: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TwimlParseError {
    #[error("twiml document is larger than {MAX_DOCUMENT_BYTES} bytes (11750)")]
    TooLarge,
    #[error("twiml is not well-formed XML (12100): {0}")]
    Xml(String),
    #[error("twiml root element must be <Response> (12100), got <{0}>")]
    NotResponse(String),
    #[error("twiml document is empty (12100)")]
    Empty,
    /// A verb Twilio cannot execute as written (its 13xxx errors, e.g. 13223 for a
    /// number it cannot dial); the call ends with an application error.
    #[error("invalid twiml: {0}")]
    Invalid(String),
}

/// `<Dial timeout>` when none is given, and the bounds Twilio accepts.
const DEFAULT_DIAL_TIMEOUT: u32 = 30;
const DIAL_TIMEOUTS: std::ops::RangeInclusive<u32> = 5..=600;
/// `<Dial>` rings at most ten `<Number>`s at once.
const MAX_DIAL_NUMBERS: usize = 10;

/// A `<Dial>` of phone numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DialSpec {
    /// Rung at the same time; the first to answer is connected.
    pub numbers: Vec<NumberSpec>,
    pub timeout_secs: u32,
    pub action: Option<String>,
    pub method_get: bool,
    pub caller_id: Option<String>,
}

/// A `<Number>` (or the bare number text of `<Dial>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NumberSpec {
    pub number: String,
    /// TwiML run for the called party once they answer, before the parties are bridged.
    pub url: Option<String>,
    pub method_get: bool,
}

/// A `<Stream>` noun.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamSpec {
    pub url: String,
    pub name: Option<String>,
    /// `<Parameter>`s in document order; they become `start.customParameters`.
    pub parameters: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verb {
    /// `<Connect><Stream>`: bidirectional stream; TwiML waits until it ends.
    Connect {
        stream: Option<StreamSpec>,
        action: Option<String>,
    },
    /// `<Start><Stream>`: a listen-only fork; TwiML continues at once.
    Start(Option<StreamSpec>),
    Say {
        text: String,
        loops: u32,
    },
    Play {
        url: String,
        loops: u32,
    },
    Pause {
        secs: u32,
    },
    Hangup,
    /// `<Reject>`: only meaningful on inbound calls; ends an outbound one like `<Hangup>`.
    Reject,
    Dial(DialSpec),
    Redirect {
        url: String,
        method_get: bool,
    },
}

/// A generic element tree; TwiML documents are tiny, so building it first keeps the verb
/// mapping simple.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn attr_u32(&self, name: &str) -> Option<u32> {
        self.attr(name)?.trim().parse().ok()
    }
}

/// Parses a TwiML document into the verbs of its `<Response>`.
pub(crate) fn parse(document: &str) -> Result<Vec<Verb>, TwimlParseError> {
    if document.len() > MAX_DOCUMENT_BYTES {
        return Err(TwimlParseError::TooLarge);
    }
    let root = parse_tree(document)?;
    if root.name != "Response" {
        return Err(TwimlParseError::NotResponse(root.name));
    }
    root.children
        .iter()
        .filter_map(|e| verb(e).transpose())
        .collect()
}

fn parse_tree(document: &str) -> Result<Element, TwimlParseError> {
    let mut reader = Reader::from_str(document);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| TwimlParseError::Xml(e.to_string()))?;
        match event {
            Event::Start(start) => stack.push(element(&start)?),
            Event::Empty(start) => {
                let done = element(&start)?;
                attach(&mut stack, &mut root, done)?;
            }
            Event::End(_) => {
                let done = stack
                    .pop()
                    .ok_or_else(|| TwimlParseError::Xml("unbalanced end tag".into()))?;
                attach(&mut stack, &mut root, done)?;
            }
            Event::Text(text) => {
                let text = text
                    .unescape()
                    .map_err(|e| TwimlParseError::Xml(e.to_string()))?;
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&text);
                }
            }
            Event::CData(data) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(TwimlParseError::Xml("unclosed element".into()));
    }
    root.ok_or(TwimlParseError::Empty)
}

fn element(start: &BytesStart<'_>) -> Result<Element, TwimlParseError> {
    let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| TwimlParseError::Xml(e.to_string()))?;
        let key = String::from_utf8_lossy(attribute.key.as_ref()).into_owned();
        let value = attribute
            .unescape_value()
            .map_err(|e| TwimlParseError::Xml(e.to_string()))?
            .into_owned();
        attributes.push((key, value));
    }
    Ok(Element {
        name,
        attributes,
        ..Element::default()
    })
}

fn attach(
    stack: &mut [Element],
    root: &mut Option<Element>,
    done: Element,
) -> Result<(), TwimlParseError> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(done),
        None if root.is_none() => *root = Some(done),
        None => return Err(TwimlParseError::Xml("more than one root element".into())),
    }
    Ok(())
}

fn loops(element: &Element) -> u32 {
    match element.attr_u32("loop") {
        Some(0) => MAX_LOOPS,
        Some(n) => n.min(MAX_LOOPS),
        None => 1,
    }
}

fn stream(parent: &Element) -> Option<StreamSpec> {
    let stream = parent.children.iter().find(|c| c.name == "Stream")?;
    let parameters = stream
        .children
        .iter()
        .filter(|c| c.name == "Parameter")
        .filter_map(|p| Some((p.attr("name")?.to_owned(), p.attr("value")?.to_owned())))
        .collect();
    Some(StreamSpec {
        url: stream.attr("url").unwrap_or_default().to_owned(),
        name: stream.attr("name").map(str::to_owned),
        parameters,
    })
}

fn verb(element: &Element) -> Result<Option<Verb>, TwimlParseError> {
    let verb = match element.name.as_str() {
        "Connect" => Verb::Connect {
            stream: stream(element),
            action: element.attr("action").map(str::to_owned),
        },
        "Start" => Verb::Start(stream(element)),
        "Say" => Verb::Say {
            text: element.text.trim().to_owned(),
            loops: loops(element),
        },
        "Play" => Verb::Play {
            url: element.text.trim().to_owned(),
            loops: loops(element),
        },
        "Pause" => Verb::Pause {
            secs: element.attr_u32("length").unwrap_or(1),
        },
        "Hangup" => Verb::Hangup,
        "Reject" => Verb::Reject,
        "Dial" => Verb::Dial(dial(element)?),
        "Redirect" => Verb::Redirect {
            url: element.text.trim().to_owned(),
            method_get: element
                .attr("method")
                .is_some_and(|m| m.eq_ignore_ascii_case("GET")),
        },
        other => {
            tracing::warn!(
                element = other,
                "twilio sim: skipping unsupported twiml verb"
            );
            return Ok(None);
        }
    };
    Ok(Some(verb))
}

fn invalid(message: impl Into<String>) -> TwimlParseError {
    TwimlParseError::Invalid(message.into())
}

/// `method`: absent is POST; anything but GET or POST is refused.
fn method_get(element: &Element) -> Result<bool, TwimlParseError> {
    match element.attr("method") {
        None => Ok(false),
        Some(m) if m.eq_ignore_ascii_case("GET") => Ok(true),
        Some(m) if m.eq_ignore_ascii_case("POST") => Ok(false),
        Some(m) => Err(invalid(format!("<{}> method {m:?}", element.name))),
    }
}

/// A dialable number: E.164, or the digits (7-15) with the punctuation Twilio tolerates
/// in unformatted US numbers, e.g. `(415) 555-1212`.
fn dialable(number: &str) -> bool {
    let rest = number.strip_prefix('+').unwrap_or(number);
    let digits = rest.chars().filter(char::is_ascii_digit).count();
    rest.chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.'))
        && (7..=15).contains(&digits)
}

/// `<Dial>+1555...</Dial>` or `<Dial><Number url="...">+1555...</Number></Dial>`, checked
/// as Twilio checks it.
fn dial(element: &Element) -> Result<DialSpec, TwimlParseError> {
    let mut numbers: Vec<NumberSpec> = Vec::new();
    for child in &element.children {
        match child.name.as_str() {
            "Number" => numbers.push(NumberSpec {
                number: child.text.trim().to_owned(),
                url: child.attr("url").map(str::to_owned),
                method_get: method_get(child)?,
            }),
            // Conference, Queue, Sip, Client...: not simulated.
            other => return Err(invalid(format!("<Dial><{other}> is not simulated"))),
        }
    }
    if numbers.is_empty() {
        numbers.push(NumberSpec {
            number: element.text.trim().to_owned(),
            url: None,
            method_get: false,
        });
    }
    if numbers.len() > MAX_DIAL_NUMBERS {
        return Err(invalid(format!(
            "<Dial> has more than {MAX_DIAL_NUMBERS} <Number>s"
        )));
    }
    if let Some(bad) = numbers.iter().find(|n| !dialable(&n.number)) {
        let digits = bad.number.chars().filter(char::is_ascii_digit).count();
        return Err(invalid(format!(
            "<Dial> number with {digits} digits is not dialable (13223)"
        )));
    }
    let timeout_secs = match element.attr("timeout") {
        None => DEFAULT_DIAL_TIMEOUT,
        Some(t) => t
            .trim()
            .parse()
            .ok()
            .filter(|t| DIAL_TIMEOUTS.contains(t))
            .ok_or_else(|| invalid(format!("<Dial timeout> {t:?}")))?,
    };
    let caller_id = element.attr("callerId").map(str::to_owned);
    if caller_id.as_deref().is_some_and(|c| !dialable(c)) {
        return Err(invalid("<Dial callerId> is not a phone number (13214)"));
    }
    Ok(DialSpec {
        numbers,
        timeout_secs,
        action: element.attr("action").map(str::to_owned),
        method_get: method_get(element)?,
        caller_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_twilio::twiml::{Dial, Response, Say, Stream};

    #[test]
    fn parses_what_the_parley_builder_writes() {
        let xml = Response::new()
            .say(Say::new("Hi & welcome"))
            .connect(
                Stream::new("wss://bridge.example.com/twilio/media")
                    .parameter("call_id", "c_1")
                    .parameter("token", "a\"b"),
            )
            .pause(2)
            .dial(Dial::number("+15550001111").timeout_secs(20))
            .hangup()
            .to_xml();
        let verbs = parse(&xml).unwrap();
        assert_eq!(
            verbs,
            vec![
                Verb::Say {
                    text: "Hi & welcome".into(),
                    loops: 1
                },
                Verb::Connect {
                    stream: Some(StreamSpec {
                        url: "wss://bridge.example.com/twilio/media".into(),
                        name: None,
                        parameters: vec![
                            ("call_id".into(), "c_1".into()),
                            ("token".into(), "a\"b".into())
                        ],
                    }),
                    action: None,
                },
                Verb::Pause { secs: 2 },
                Verb::Dial(DialSpec {
                    numbers: vec![NumberSpec {
                        number: "+15550001111".into(),
                        url: None,
                        method_get: false
                    }],
                    timeout_secs: 20,
                    action: None,
                    method_get: false,
                    caller_id: None,
                }),
                Verb::Hangup,
            ]
        );
    }

    #[test]
    fn hand_written_documents() {
        let verbs = parse(
            r#"<?xml version="1.0"?>
            <Response>
              <Start><Stream name="fork" url="wss://f.example/x"/></Start>
              <Play loop="0">https://a.example/a.wav</Play>
              <Pause/>
              <Gather/>
              <Redirect method="GET">/next</Redirect>
            </Response>"#,
        )
        .unwrap();
        assert_eq!(verbs.len(), 4, "unknown <Gather> is skipped");
        assert!(matches!(&verbs[0], Verb::Start(Some(s)) if s.name.as_deref() == Some("fork")));
        assert_eq!(
            verbs[1],
            Verb::Play {
                url: "https://a.example/a.wav".into(),
                loops: MAX_LOOPS
            }
        );
        assert_eq!(verbs[2], Verb::Pause { secs: 1 });
        assert_eq!(
            verbs[3],
            Verb::Redirect {
                url: "/next".into(),
                method_get: true
            }
        );
        assert_eq!(parse("<Response/>").unwrap(), vec![]);
    }

    #[test]
    fn rejects_what_twilio_rejects() {
        assert!(matches!(
            parse("<Response><Say>"),
            Err(TwimlParseError::Xml(_))
        ));
        assert!(matches!(
            parse("<Document/>"),
            Err(TwimlParseError::NotResponse(_))
        ));
        assert_eq!(parse(""), Err(TwimlParseError::Empty));
        let huge = format!("<Response><Say>{}</Say></Response>", "a".repeat(70_000));
        assert_eq!(parse(&huge), Err(TwimlParseError::TooLarge));
        for bad in [
            "<Response><Dial></Dial></Response>",
            "<Response><Dial>call me</Dial></Response>",
            "<Response><Dial timeout=\"2\">+15550109999</Dial></Response>",
            "<Response><Dial timeout=\"soon\">+15550109999</Dial></Response>",
            "<Response><Dial method=\"PUT\" action=\"/a\">+15550109999</Dial></Response>",
            "<Response><Dial><Number method=\"DELETE\" url=\"/w\">+15550109999</Number></Dial></Response>",
            "<Response><Dial callerId=\"me\">+15550109999</Dial></Response>",
            "<Response><Dial><Conference>room</Conference></Dial></Response>",
        ] {
            assert!(
                matches!(parse(bad), Err(TwimlParseError::Invalid(_))),
                "{bad} must be refused"
            );
        }
    }

    #[test]
    fn dial_with_a_whisper_url_and_an_action() {
        let xml = Response::new()
            .dial(
                Dial::number("+15550109999")
                    .caller_id("+15005550006")
                    .timeout_secs(15)
                    .action("https://app.example/twilio/dial/1?target=0")
                    .whisper_url("https://app.example/twilio/whisper/1?target=0"),
            )
            .to_xml();
        let verbs = parse(&xml).unwrap();
        let Verb::Dial(spec) = &verbs[0] else {
            panic!("{verbs:?}")
        };
        assert_eq!(spec.timeout_secs, 15);
        assert_eq!(spec.caller_id.as_deref(), Some("+15005550006"));
        assert_eq!(
            spec.action.as_deref(),
            Some("https://app.example/twilio/dial/1?target=0")
        );
        assert_eq!(
            spec.numbers,
            vec![NumberSpec {
                number: "+15550109999".into(),
                url: Some("https://app.example/twilio/whisper/1?target=0".into()),
                method_get: false,
            }]
        );
        let bare = parse("<Response><Dial>(415) 555-1212</Dial></Response>").unwrap();
        assert!(matches!(&bare[0], Verb::Dial(d) if d.timeout_secs == 30 && d.action.is_none()));
    }
}
