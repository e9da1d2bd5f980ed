//! A small TwiML builder (reference D). Every attribute value and text node is XML-escaped.
//!
//! ```
//! use parley_twilio::twiml::{Response, Stream};
//! let xml = Response::new()
//!     .connect(Stream::new("wss://bridge.example.com/twilio/media").parameter("call_id", "c_1"))
//!     .to_xml();
//! assert!(xml.contains(r#"<Parameter name="call_id" value="c_1"/>"#));
//! ```

use std::fmt::Write as _;

/// Maximum length of inline TwiML accepted by the Calls API (`Twiml` parameter).
pub const MAX_INLINE_TWIML_LEN: usize = 4000;
/// `<Parameter>` name + value must stay under this many characters.
pub const MAX_STREAM_PARAMETER_LEN: usize = 500;

/// A problem Twilio would reject the TwiML for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TwimlError {
    #[error("stream url must use wss:// (or ws://), got {0:?}")]
    StreamScheme(String),
    #[error("stream url must not contain a query string: {0:?}")]
    StreamQuery(String),
    #[error("stream parameter {name:?}: name + value must be under {MAX_STREAM_PARAMETER_LEN} characters")]
    ParameterTooLong { name: String },
    #[error("a response may contain only one bidirectional <Connect><Stream>")]
    MultipleConnectStreams,
    #[error(
        "<Dial timeout> must be between {MIN_DIAL_TIMEOUT} and {MAX_DIAL_TIMEOUT} seconds, got {0}"
    )]
    DialTimeout(u32),
}

/// `<Dial timeout>` bounds Twilio accepts.
pub const MIN_DIAL_TIMEOUT: u32 = 5;
pub const MAX_DIAL_TIMEOUT: u32 = 600;

/// Which tracks a unidirectional `<Start><Stream>` forks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamTrack {
    Inbound,
    Outbound,
    Both,
}

impl StreamTrack {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound_track",
            Self::Outbound => "outbound_track",
            Self::Both => "both_tracks",
        }
    }
}

/// `<Stream>`: used inside `<Connect>` (bidirectional) or `<Start>` (fork).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    url: String,
    name: Option<String>,
    track: Option<StreamTrack>,
    status_callback: Option<String>,
    parameters: Vec<(String, String)>,
}

impl Stream {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            name: None,
            track: None,
            status_callback: None,
            parameters: Vec::new(),
        }
    }

    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Only meaningful for `<Start><Stream>`; bidirectional streams carry the inbound track.
    pub fn track(mut self, track: StreamTrack) -> Self {
        self.track = Some(track);
        self
    }

    pub fn status_callback(mut self, url: impl Into<String>) -> Self {
        self.status_callback = Some(url.into());
        self
    }

    /// Adds a `<Parameter>`; it arrives in the `start` message's `customParameters`.
    pub fn parameter(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parameters.push((name.into(), value.into()));
        self
    }

    fn validate(&self) -> Result<(), TwimlError> {
        let lower = self.url.to_ascii_lowercase();
        if !(lower.starts_with("wss://") || lower.starts_with("ws://")) {
            return Err(TwimlError::StreamScheme(self.url.clone()));
        }
        if self.url.contains('?') {
            return Err(TwimlError::StreamQuery(self.url.clone()));
        }
        for (name, value) in &self.parameters {
            if name.chars().count() + value.chars().count() >= MAX_STREAM_PARAMETER_LEN {
                return Err(TwimlError::ParameterTooLong { name: name.clone() });
            }
        }
        Ok(())
    }

    fn write(&self, out: &mut String) {
        out.push_str("<Stream");
        attr(out, "url", Some(&self.url));
        attr(out, "name", self.name.as_deref());
        attr(out, "track", self.track.map(StreamTrack::as_str));
        attr(out, "statusCallback", self.status_callback.as_deref());
        if self.status_callback.is_some() {
            attr(out, "statusCallbackMethod", Some("POST"));
        }
        if self.parameters.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for (name, value) in &self.parameters {
            out.push_str("<Parameter");
            attr(out, "name", Some(name));
            attr(out, "value", Some(value));
            out.push_str("/>");
        }
        out.push_str("</Stream>");
    }
}

/// `<Say>` text-to-speech.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Say {
    text: String,
    voice: Option<String>,
    language: Option<String>,
}

impl Say {
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            voice: None,
            language: None,
        }
    }

    pub fn voice(mut self, voice: impl Into<String>) -> Self {
        self.voice = Some(voice.into());
        self
    }

    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }
}

/// `<Dial>` a phone number, e.g. to transfer the call to a human.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dial {
    number: String,
    caller_id: Option<String>,
    timeout_secs: Option<u32>,
    time_limit_secs: Option<u32>,
    action: Option<String>,
    /// `<Number url>`: TwiML played to the called party once they answer, before the
    /// two parties are connected (a whisper).
    number_url: Option<String>,
}

impl Dial {
    pub fn number(number: impl Into<String>) -> Self {
        Self {
            number: number.into(),
            caller_id: None,
            timeout_secs: None,
            time_limit_secs: None,
            action: None,
            number_url: None,
        }
    }

    /// TwiML (fetched with POST) the called party hears before being connected.
    pub fn whisper_url(mut self, url: impl Into<String>) -> Self {
        self.number_url = Some(url.into());
        self
    }

    pub fn caller_id(mut self, caller_id: impl Into<String>) -> Self {
        self.caller_id = Some(caller_id.into());
        self
    }

    pub fn timeout_secs(mut self, secs: u32) -> Self {
        self.timeout_secs = Some(secs);
        self
    }

    pub fn time_limit_secs(mut self, secs: u32) -> Self {
        self.time_limit_secs = Some(secs);
        self
    }

    /// URL Twilio requests when the dialed leg ends.
    pub fn action(mut self, url: impl Into<String>) -> Self {
        self.action = Some(url.into());
        self
    }
}

/// One TwiML verb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    /// `<Connect><Stream>`: bidirectional media stream; optional `<Connect action>`.
    Connect {
        stream: Stream,
        action: Option<String>,
    },
    /// `<Start><Stream>`: unidirectional fork; TwiML continues immediately.
    Start(Stream),
    Say(Say),
    /// `<Play>` an audio URL, `loop_count` times (0 = until the call ends).
    Play {
        url: String,
        loop_count: Option<u32>,
    },
    Pause {
        length_secs: u32,
    },
    Dial(Dial),
    Hangup,
}

/// A `<Response>` document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    verbs: Vec<Verb>,
}

impl Response {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn verb(mut self, verb: Verb) -> Self {
        self.verbs.push(verb);
        self
    }

    pub fn connect(self, stream: Stream) -> Self {
        self.verb(Verb::Connect {
            stream,
            action: None,
        })
    }

    pub fn connect_with_action(self, stream: Stream, action: impl Into<String>) -> Self {
        self.verb(Verb::Connect {
            stream,
            action: Some(action.into()),
        })
    }

    pub fn start(self, stream: Stream) -> Self {
        self.verb(Verb::Start(stream))
    }

    pub fn say(self, say: Say) -> Self {
        self.verb(Verb::Say(say))
    }

    pub fn play(self, url: impl Into<String>) -> Self {
        self.verb(Verb::Play {
            url: url.into(),
            loop_count: None,
        })
    }

    pub fn pause(self, length_secs: u32) -> Self {
        self.verb(Verb::Pause { length_secs })
    }

    pub fn dial(self, dial: Dial) -> Self {
        self.verb(Verb::Dial(dial))
    }

    pub fn hangup(self) -> Self {
        self.verb(Verb::Hangup)
    }

    pub fn verbs(&self) -> &[Verb] {
        &self.verbs
    }

    /// Checks the rules Twilio enforces at call time (stream URL scheme and query string,
    /// parameter length, one bidirectional stream).
    pub fn validate(&self) -> Result<(), TwimlError> {
        let mut connects = 0;
        for verb in &self.verbs {
            match verb {
                Verb::Connect { stream, .. } => {
                    connects += 1;
                    stream.validate()?;
                }
                Verb::Start(stream) => stream.validate()?,
                Verb::Dial(Dial {
                    timeout_secs: Some(secs),
                    ..
                }) if !(MIN_DIAL_TIMEOUT..=MAX_DIAL_TIMEOUT).contains(secs) => {
                    return Err(TwimlError::DialTimeout(*secs));
                }
                _ => {}
            }
        }
        if connects > 1 {
            return Err(TwimlError::MultipleConnectStreams);
        }
        Ok(())
    }

    /// Renders the document, XML declaration included.
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#);
        for verb in &self.verbs {
            write_verb(verb, &mut out);
        }
        out.push_str("</Response>");
        out
    }
}

impl std::fmt::Display for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_xml())
    }
}

fn write_verb(verb: &Verb, out: &mut String) {
    match verb {
        Verb::Connect { stream, action } => {
            out.push_str("<Connect");
            attr(out, "action", action.as_deref());
            out.push('>');
            stream.write(out);
            out.push_str("</Connect>");
        }
        Verb::Start(stream) => {
            out.push_str("<Start>");
            stream.write(out);
            out.push_str("</Start>");
        }
        Verb::Say(say) => {
            out.push_str("<Say");
            attr(out, "voice", say.voice.as_deref());
            attr(out, "language", say.language.as_deref());
            out.push('>');
            escape_into(&say.text, out);
            out.push_str("</Say>");
        }
        Verb::Play { url, loop_count } => {
            out.push_str("<Play");
            if let Some(count) = loop_count {
                attr(out, "loop", Some(&count.to_string()));
            }
            out.push('>');
            escape_into(url, out);
            out.push_str("</Play>");
        }
        Verb::Pause { length_secs } => {
            let _ = write!(out, r#"<Pause length="{length_secs}"/>"#);
        }
        Verb::Dial(dial) => {
            out.push_str("<Dial");
            attr(out, "callerId", dial.caller_id.as_deref());
            if let Some(timeout) = dial.timeout_secs {
                attr(out, "timeout", Some(&timeout.to_string()));
            }
            if let Some(limit) = dial.time_limit_secs {
                attr(out, "timeLimit", Some(&limit.to_string()));
            }
            attr(out, "action", dial.action.as_deref());
            out.push_str("><Number");
            attr(out, "url", dial.number_url.as_deref());
            out.push('>');
            escape_into(&dial.number, out);
            out.push_str("</Number></Dial>");
        }
        Verb::Hangup => out.push_str("<Hangup/>"),
    }
}

fn attr(out: &mut String, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        escape_into(value, out);
        out.push('"');
    }
}

/// Escapes the five XML special characters; safe for both text and attribute values.
pub fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

    #[test]
    fn connect_stream_with_parameters() {
        let xml = Response::new()
            .connect(
                Stream::new("wss://bridge.example.com/twilio/media")
                    .parameter("call_id", "c_01HXYZ")
                    .parameter("token", "f3a9"),
            )
            .to_xml();
        assert_eq!(
            xml,
            format!(
                "{DECL}<Response><Connect><Stream url=\"wss://bridge.example.com/twilio/media\">\
                 <Parameter name=\"call_id\" value=\"c_01HXYZ\"/>\
                 <Parameter name=\"token\" value=\"f3a9\"/>\
                 </Stream></Connect></Response>"
            )
        );
    }

    #[test]
    fn start_stream_with_attributes() {
        let xml = Response::new()
            .start(
                Stream::new("wss://bridge.example.com/fork")
                    .name("fork1")
                    .track(StreamTrack::Both)
                    .status_callback("https://app.example.com/stream-status"),
            )
            .say(Say::new("Hello"))
            .to_xml();
        assert_eq!(
            xml,
            format!(
                "{DECL}<Response><Start><Stream url=\"wss://bridge.example.com/fork\" name=\"fork1\" \
                 track=\"both_tracks\" statusCallback=\"https://app.example.com/stream-status\" \
                 statusCallbackMethod=\"POST\"/></Start><Say>Hello</Say></Response>"
            )
        );
    }

    #[test]
    fn simple_verbs() {
        let xml = Response::new()
            .say(Say::new("Goodbye").voice("alice").language("en-US"))
            .play("https://cdn.example.com/beep.wav")
            .verb(Verb::Play {
                url: "https://cdn.example.com/hold.mp3".into(),
                loop_count: Some(0),
            })
            .pause(2)
            .hangup()
            .to_xml();
        assert_eq!(
            xml,
            format!(
                "{DECL}<Response><Say voice=\"alice\" language=\"en-US\">Goodbye</Say>\
                 <Play>https://cdn.example.com/beep.wav</Play>\
                 <Play loop=\"0\">https://cdn.example.com/hold.mp3</Play>\
                 <Pause length=\"2\"/><Hangup/></Response>"
            )
        );
    }

    #[test]
    fn dial_number_for_transfers() {
        let xml = Response::new()
            .say(Say::new("Transferring you now."))
            .dial(
                Dial::number("+15558675310")
                    .caller_id("+15017122661")
                    .timeout_secs(20)
                    .time_limit_secs(600)
                    .action("https://app.example.com/dial-done"),
            )
            .to_xml();
        assert!(xml.ends_with(
            "<Dial callerId=\"+15017122661\" timeout=\"20\" timeLimit=\"600\" \
             action=\"https://app.example.com/dial-done\"><Number>+15558675310</Number></Dial></Response>"
        ));
    }

    #[test]
    fn dial_with_a_whisper_and_its_bounds() {
        let doc = Response::new().dial(
            Dial::number("+15550109999")
                .timeout_secs(20)
                .action("https://app.example.com/twilio/dial/7?target=0")
                .whisper_url("https://app.example.com/twilio/whisper/7?target=0&x=1"),
        );
        assert_eq!(doc.validate(), Ok(()));
        assert!(doc.to_xml().ends_with(
            "<Dial timeout=\"20\" action=\"https://app.example.com/twilio/dial/7?target=0\">\
             <Number url=\"https://app.example.com/twilio/whisper/7?target=0&amp;x=1\">+15550109999</Number>\
             </Dial></Response>"
        ));
        for secs in [4, 601] {
            let doc = Response::new().dial(Dial::number("+15550109999").timeout_secs(secs));
            assert_eq!(doc.validate(), Err(TwimlError::DialTimeout(secs)));
        }
    }

    #[test]
    fn connect_with_action() {
        let xml = Response::new()
            .connect_with_action(
                Stream::new("wss://b.example/m"),
                "https://a.example/after?x=1&y=2",
            )
            .to_xml();
        assert!(xml.contains(
            "<Connect action=\"https://a.example/after?x=1&amp;y=2\"><Stream url=\"wss://b.example/m\"/></Connect>"
        ));
    }

    #[test]
    fn escapes_text_and_attributes() {
        let nasty = r#"<b>"Tom" & 'Jerry'</b>"#;
        let escaped = "&lt;b&gt;&quot;Tom&quot; &amp; &apos;Jerry&apos;&lt;/b&gt;";
        let xml = Response::new()
            .say(Say::new(nasty).voice(nasty))
            .connect(Stream::new("wss://b.example/m").parameter(nasty, nasty))
            .dial(Dial::number(nasty))
            .to_xml();
        assert_eq!(xml.matches(escaped).count(), 5);
        assert!(!xml.contains(nasty));
        assert!(!xml.contains("'"));
        // Only the markup we generated contains raw angle brackets.
        let without_markup = xml.replace(escaped, "");
        assert!(!without_markup.contains("Tom"));
    }

    #[test]
    fn validate_accepts_a_well_formed_bridge_response() {
        let response = Response::new().connect(
            Stream::new("wss://b.example/twilio/media").parameter("token", "x".repeat(400)),
        );
        assert_eq!(response.validate(), Ok(()));
        assert_eq!(format!("{response}"), response.to_xml());
    }

    #[test]
    fn validate_rejects_what_twilio_rejects() {
        let query = Response::new().connect(Stream::new("wss://b.example/m?call=1"));
        assert!(matches!(query.validate(), Err(TwimlError::StreamQuery(_))));
        let https = Response::new().start(Stream::new("https://b.example/m"));
        assert!(matches!(https.validate(), Err(TwimlError::StreamScheme(_))));
        let long = Response::new()
            .connect(Stream::new("wss://b.example/m").parameter("token", "x".repeat(495)));
        assert_eq!(
            long.validate(),
            Err(TwimlError::ParameterTooLong {
                name: "token".into()
            })
        );
        let two = Response::new()
            .connect(Stream::new("wss://b.example/a"))
            .connect(Stream::new("wss://b.example/b"));
        assert_eq!(two.validate(), Err(TwimlError::MultipleConnectStreams));
    }
}
